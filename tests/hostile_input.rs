//! Hostile input through the real databases: emails, role names and custom fields full of
//! quotes, SQL metacharacters and emoji round-trip exactly, and never leak the hash in `Debug`.

use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use users_diesel::prelude::*;
use users_tests::backend_tests;

#[user_model]
pub struct User {
    pub display_name: Option<String>,
}

#[role_model]
pub struct Role {}

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

/// `CASES` values of `strategy`, the same on every run.
fn samples<S: Strategy>(strategy: S) -> Vec<S::Value> {
    const CASES: usize = 24;
    let mut runner = TestRunner::deterministic();
    (0..CASES)
        .map(|_| strategy.new_tree(&mut runner).expect("a value").current())
        .collect()
}

backend_tests! {
    fn nasty_emails_names_and_fields_round_trip(conn, db) {
        conn.run_pending_migrations(Migrations::new().with::<User>().with::<Role>()).unwrap();
        let users = manager();
        let mut seen_emails = std::collections::HashSet::new();
        for (local, display, role_name) in samples((nasty_local_part(), nasty_text(), nasty_text())) {
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
            assert_eq!(role.name, role_name);
            users.assign_role(conn, &user, &role).unwrap();
            assert!(users.has_role(conn, &user, &role_name).unwrap());
        }
        // Nothing was dropped or injected along the way.
        let count: i64 = users::table.count().get_result(conn).unwrap();
        assert_eq!(usize::try_from(count).unwrap(), seen_emails.len());
        assert!(seen_emails.len() > 10, "the samples should mostly differ");
    }
}
