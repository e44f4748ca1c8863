//! The examples' secret (`examples/shared/secret.rs`): without `USERS_SECRET`, the web example
//! and the admin CLI sign with a random secret made on the first run, kept in a file only its
//! owner can read, and reused by later runs; never with a constant.

#[allow(dead_code)]
#[path = "../examples/shared/secret.rs"]
mod secret;

use std::path::Path;

use secret::{default_path, secret_from_file, DEFAULT_SECRET_FILE};

fn private_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("users_secret_{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir(&dir).unwrap();
    dir
}

#[test]
fn the_first_run_makes_a_random_owner_only_secret_that_later_runs_reuse() {
    let dir = private_dir();
    let path = dir.join(DEFAULT_SECRET_FILE);
    let first = secret_from_file(&path).unwrap();
    assert_eq!(first.len(), 64, "32 random bytes, hex-encoded");
    assert!(first.iter().all(u8::is_ascii_hexdigit));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    assert_eq!(
        secret_from_file(&path).unwrap(),
        first,
        "a later run reuses the secret"
    );
    // Another installation gets another secret.
    let other = dir.join("other");
    assert_ne!(secret_from_file(&other).unwrap(), first);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_secret_file_others_can_read_or_too_short_is_refused() {
    let dir = private_dir();
    let short = dir.join("short");
    std::fs::write(&short, "too short").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
        let open = dir.join("open");
        std::fs::write(&open, "x".repeat(64)).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = secret_from_file(&open).unwrap_err().to_string();
        assert!(error.contains("readable by others"), "{error}");
    }
    let error = secret_from_file(&short).unwrap_err().to_string();
    assert!(error.contains("at least 32"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_secret_file_sits_next_to_the_sqlite_database() {
    assert_eq!(
        default_path("/srv/app/users.sqlite"),
        Path::new("/srv/app/.users-secret")
    );
    assert_eq!(default_path("users-app.sqlite"), Path::new(".users-secret"));
    assert_eq!(
        default_path("postgres://root@127.0.0.1/app"),
        Path::new(".users-secret")
    );
}
