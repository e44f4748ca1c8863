//! Hostile input through the real databases: emails, role names and custom fields full of
//! quotes, SQL metacharacters and emoji round-trip exactly, and never leak the hash in `Debug`.

use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use users_diesel::prelude::*;
use users_tests::{backend_tests, test_cases};

#[user_model]
pub struct User {
    pub display_name: Option<String>,
}

#[role_model]
pub struct Role {}

/// A unique custom column whose name starts with `email`: a violation of it is a `Conflict`
/// naming it, however its value quotes the email's key.
#[user_model(table = "backups")]
pub struct Backup {
    #[column(unique, max_length = 200)]
    pub email_backup: String,
}

const NASTY: &[&str] = &[
    "'",
    "''",
    "\"",
    "`",
    "\\",
    ";",
    "--",
    "/*",
    "*/",
    "%",
    "_",
    "' OR '1'='1",
    "'); DROP TABLE users; --",
    "😀",
    "🦀",
    "ß",
    "é",
    "\u{1F469}\u{200D}\u{1F4BB}",
];

fn manager() -> Users<User, Role> {
    let config = UsersConfig::new([3u8; 32])
        .and_then(|config| config.argon2_params(8, 1, 1))
        .unwrap();
    Users::new(config)
}

/// Text made of the nasty pieces, letters and digits.
fn nasty_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        proptest::sample::select(NASTY).prop_map(str::to_owned),
        "[a-z0-9]{1,3}",
    ];
    proptest::collection::vec(piece, 1..6).prop_map(|pieces| pieces.concat())
}

/// A local part that `normalize_email` accepts (it refuses the zero-width joiner of the
/// emoji sequence, for one).
fn nasty_local_part() -> impl Strategy<Value = String> {
    nasty_text().prop_filter("an accepted local part", |local| {
        users_diesel::normalize_email(&format!("{local}@example.com")).is_ok()
    })
}

/// A role name that `normalize_role_name` accepts (it refuses the zero-width joiner of the
/// emoji sequence, for one).
fn nasty_role_name() -> impl Strategy<Value = String> {
    nasty_text().prop_filter("an accepted role name", |name| {
        users_diesel::normalize_role_name(name).is_ok()
    })
}

/// `CASES` values of `strategy`, the same on every run.
fn samples<S: Strategy>(strategy: S) -> Vec<S::Value> {
    const CASES: usize = 24;
    let mut runner = TestRunner::deterministic();
    (0..CASES)
        .map(|_| strategy.new_tree(&mut runner).expect("a value").current())
        .collect()
}

#[test_cases(backend_tests)]
mod cases {
    fn nasty_emails_names_and_fields_round_trip(conn: _, db: _) {
        conn.run_pending_migrations(Migrations::new().with::<User>().with::<Role>())
            .unwrap();
        let users = manager();
        let mut seen_emails = std::collections::HashSet::new();
        for (local, display, role_name) in
            samples((nasty_local_part(), nasty_text(), nasty_role_name()))
        {
            let email = format!("{local}@example.com");
            let normalized = users_diesel::normalize_email(&email).unwrap();
            if !seen_emails.insert(normalized.clone()) {
                continue;
            }
            let user = users
                .register_with(conn, &email, "a long password", |u| {
                    u.display_name = Some(display.clone());
                })
                .unwrap();
            let loaded = users.find_by_email(conn, &email).unwrap().unwrap();
            assert_eq!(loaded, user);
            assert_eq!(loaded.email, normalized);
            assert_eq!(loaded.display_name.as_deref(), Some(display.as_str()));
            assert!(!format!("{loaded:?}").contains(&loaded.password_hash));
            users.authenticate(conn, &email, "a long password").unwrap();

            let role = match users.find_role(conn, &role_name).unwrap() {
                Some(role) => role,
                None => users.create_role(conn, &role_name, Some(&display)).unwrap(),
            };
            assert_eq!(users.role(conn, &role_name).unwrap(), role);
            assert_eq!(
                role.name,
                users_diesel::normalize_role_name(&role_name).unwrap()
            );
            users.assign_role(conn, &user, &role).unwrap();
            assert!(users.has_role(conn, &user, &role_name).unwrap());
        }
        // Nothing was dropped or injected along the way.
        let count: i64 = users::table.count().get_result(conn).unwrap();
        assert_eq!(usize::try_from(count).unwrap(), seen_emails.len());
        assert!(seen_emails.len() > 10, "the samples should mostly differ");
    }

    fn a_unique_column_named_like_email_is_a_conflict_not_email_taken(conn: _, db: _) {
        conn.run_pending_migrations(Migrations::new().with::<Backup>())
            .unwrap();
        let users = Users::<Backup>::new(
            UsersConfig::new([3u8; 32])
                .and_then(|config| config.argon2_params(8, 1, 1))
                .unwrap(),
        );
        // Values that quote the email's key and column the way each driver quotes a key, so
        // that reading the message by substring would take them for the email's.
        for (n, backup) in [
            "alice@backup.example",
            "x' for key 'backups_email_key",
            "x' for key 'backups.backups_email_key",
            "backups.email",
            "UNIQUE constraint failed: backups.email",
        ]
        .into_iter()
        .enumerate()
        {
            let set = |b: &mut Backup| b.email_backup = backup.to_owned();
            users
                .register_with(
                    conn,
                    &format!("first{n}@example.com"),
                    "a long password",
                    set,
                )
                .unwrap();
            let error = users
                .register_with(
                    conn,
                    &format!("second{n}@example.com"),
                    "a long password",
                    set,
                )
                .unwrap_err();
            assert!(
                matches!(
                    error,
                    UsersError::Conflict {
                        column: "email_backup"
                    }
                ),
                "{backup:?}: {error:?}"
            );
            let error = users
                .register_with(
                    conn,
                    &format!("FIRST{n}@example.com"),
                    "a long password",
                    |b| {
                        b.email_backup = format!("{backup} (another)");
                    },
                )
                .unwrap_err();
            assert!(
                matches!(error, UsersError::EmailTaken),
                "{backup:?}: {error:?}"
            );
        }
    }
}
