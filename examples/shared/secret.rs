//! The secret the web example and the admin CLI sign with: `USERS_SECRET` if it is set, else a
//! random one made on the first run and kept in a file only its owner can read, so that no two
//! installations share a secret and a restart keeps every token valid.

use std::error::Error;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use users_diesel::MIN_SECRET_BYTES;

/// The file's name when `USERS_SECRET_FILE` does not name one: next to the SQLite database,
/// or in the current directory for a database server.
pub const DEFAULT_SECRET_FILE: &str = ".users-secret";

/// The application secret: `USERS_SECRET`'s bytes, else the file's (`USERS_SECRET_FILE`, or
/// [`DEFAULT_SECRET_FILE`] next to `database`), made with 32 random bytes from the operating
/// system, hex-encoded, with permissions 0600 if it does not exist yet.
///
/// # Errors
///
/// The file cannot be read or made, is readable by others than its owner (Unix), or holds
/// less than 32 bytes.
pub fn load_secret(database: &str) -> Result<Vec<u8>, Box<dyn Error + Send + Sync>> {
    if let Ok(secret) = std::env::var("USERS_SECRET") {
        return Ok(secret.into_bytes());
    }
    let path = match std::env::var_os("USERS_SECRET_FILE") {
        Some(path) => PathBuf::from(path),
        None => default_path(database),
    };
    secret_from_file(&path)
}

/// The secret kept in the file at `path`, made first if the file does not exist.
///
/// # Errors
///
/// As [`load_secret`].
pub fn secret_from_file(path: &Path) -> Result<Vec<u8>, Box<dyn Error + Send + Sync>> {
    match create(path) {
        Ok(()) => eprintln!(
            "USERS_SECRET is not set: made a new random secret in {} (mode 0600); \
             later runs reuse it",
            path.display()
        ),
        Err(error) if error.kind() == ErrorKind::AlreadyExists => {}
        Err(error) => return Err(format!("cannot make {}: {error}", path.display()).into()),
    }
    read(path)
}

/// Where the secret is kept by default: [`DEFAULT_SECRET_FILE`] in the SQLite database's
/// directory, or in the current directory for a `postgres://` or `mysql://` URL.
pub fn default_path(database: &str) -> PathBuf {
    let is_server = database.contains("://");
    match Path::new(database).parent() {
        Some(dir) if !is_server => dir.join(DEFAULT_SECRET_FILE),
        _ => PathBuf::from(DEFAULT_SECRET_FILE),
    }
}

/// Writes a fresh secret to `path`, which must not exist: `create_new` makes two first runs
/// at once agree on one file, and the mode is set as the file is made, never after.
fn create(path: &Path) -> std::io::Result<()> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| std::io::Error::other(error.to_string()))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(hex.as_bytes())?;
    file.sync_all()
}

fn read(path: &Path) -> Result<Vec<u8>, Box<dyn Error + Send + Sync>> {
    let file =
        File::open(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} is readable by others (mode {:o}): `chmod 600` it",
                path.display(),
                mode & 0o777
            )
            .into());
        }
    }
    drop(file);
    let secret = fs::read_to_string(path)?.trim().as_bytes().to_vec();
    if secret.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "{} holds {} bytes; a secret needs at least {MIN_SECRET_BYTES}",
            path.display(),
            secret.len()
        )
        .into());
    }
    Ok(secret)
}
