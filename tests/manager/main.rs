//! The `Users` manager end to end on every enabled backend, against real databases: a
//! `#[user_model]` with custom fields, the generated stores, real transactions and real unique
//! constraints. Role calls are tested in `tests/roles*.rs`.
//!
//! Each test runs twice per backend (see `users_tests::manager_tests!`): on `Users` over a sync
//! connection, and, with the `async` feature, on `AsyncUsers` over an async one. `conn` is the
//! manager's connection, `db` a sync connection to the same database for plain Diesel.
//!
//! Every manager but the one of the rehash test uses argon2 at its cheapest (8 KiB, one
//! iteration), so that the tests spend their time in the database, not in hashing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use users_diesel::prelude::*;
use users_diesel::{PasswordProblem, UsersHooks};
use users_tests::{manager_tests, test_cases, CountRows};

#[user_model]
pub struct User {
    pub display_name: Option<String>,
    #[column(default = 0)]
    pub token_count: i32,
    #[column(default = "reader", max_length = 32)]
    pub plan: String,
}

const SECRET: &str = "the secret of the manager tests, 32+ bytes";
const OTHER_SECRET: &str = "another application's secret, also 32+ bytes";
const EMAIL: &str = "alice@example.com";
const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "tr0ub4dor&3, but longer";
const CHEAP_PARAMS: &str = "m=8,t=1,p=1";
const DEFAULT_PARAMS: &str = "m=19456,t=2,p=1";

/// The test configuration: [`SECRET`] and the cheapest argon2 parameters.
fn config() -> UsersConfig {
    UsersConfig::new(SECRET)
        .and_then(|config| config.argon2_params(8, 1, 1))
        .expect("a valid test configuration")
}

fn manager() -> Users<User> {
    Users::new(config())
}

fn migrate<C>(conn: &mut C)
where
    C: Connection + MigrationHarness<C::Backend>,
    Migrations: MigrationSource<C::Backend>,
{
    conn.run_pending_migrations(Migrations::new().with::<User>())
        .expect("migrate");
}

#[derive(QueryableByName)]
struct SecretColumn {
    #[diesel(sql_type = diesel::sql_types::Text)]
    totp_secret: String,
}

/// `token` with one character replaced, so that one of its bytes differs.
fn tampered(token: &str) -> String {
    let middle = token.len() / 2;
    let replacement = if token[middle..].starts_with('A') {
        "B"
    } else {
        "A"
    };
    let mut tampered = token.to_owned();
    tampered.replace_range(middle..=middle, replacement);
    assert_ne!(tampered, token);
    tampered
}

/// Asserts that a result is an error matching a pattern, showing what it was otherwise.
macro_rules! assert_err {
    ($result:expr, $pattern:pat $(if $guard:expr)? $(,)?) => {
        match $result {
            Err($pattern) $(if $guard)? => {}
            other => panic!(
                "expected Err({}), got {other:?}",
                stringify!($pattern $(if $guard)?)
            ),
        }
    };
}

/// The number of rows in the users table, read with plain Diesel.
macro_rules! user_count {
    ($conn:expr) => {
        users::table
            .count()
            .get_result::<i64>($conn)
            .expect("count the users")
    };
}

/// The stored password hash of a user, read with plain Diesel.
macro_rules! stored_hash {
    ($conn:expr, $id:expr) => {
        users::table
            .find($id)
            .select(users::password_hash)
            .first::<String>($conn)
            .expect("read the stored hash")
    };
}

/// Hooks that record their calls in order and fail the one named in `fail`.
#[derive(Clone, Default)]
struct Recorder {
    calls: Arc<Mutex<Vec<String>>>,
    fail: Option<&'static str>,
}

impl Recorder {
    fn failing(hook: &'static str) -> Self {
        Recorder {
            fail: Some(hook),
            ..Recorder::default()
        }
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("the log is not poisoned").clone()
    }

    fn record(&self, hook: &'static str, user: &User) -> Result<(), UsersError> {
        self.calls
            .lock()
            .expect("the log is not poisoned")
            .push(format!(
                "{hook} {} verified={}",
                user.email, user.is_verified
            ));
        if self.fail == Some(hook) {
            Err(UsersError::config("hooks", format!("{hook} refused")))
        } else {
            Ok(())
        }
    }
}

impl UsersHooks<User> for Recorder {
    fn validate_password(&self, _password: &str) -> Result<(), String> {
        self.calls
            .lock()
            .expect("the log is not poisoned")
            .push("validate_password".to_owned());
        if self.fail == Some("validate_password") {
            Err("refused by the hook".to_owned())
        } else {
            Ok(())
        }
    }

    fn after_register(&self, user: &User) -> Result<(), UsersError> {
        self.record("after_register", user)
    }

    fn after_login(&self, user: &User) -> Result<(), UsersError> {
        self.record("after_login", user)
    }

    fn after_verify(&self, user: &User) -> Result<(), UsersError> {
        self.record("after_verify", user)
    }

    fn after_reset(&self, user: &User) -> Result<(), UsersError> {
        self.record("after_reset", user)
    }

    fn after_update(&self, user: &User) -> Result<(), UsersError> {
        self.record("after_update", user)
    }

    fn before_delete(&self, user: &User) -> Result<(), UsersError> {
        self.record("before_delete", user)
    }
}

mod accounts;
mod passwords;
mod providers;
mod sessions;
mod tokens;
