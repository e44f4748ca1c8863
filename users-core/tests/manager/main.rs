//! The whole manager against an in-memory store that behaves like a database: unique emails,
//! real rollback, and a check that every write happens inside a transaction.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use users_core::{
    PasswordProblem, TokenPurpose, TokenSigner, UserListing, UserModel, UserStore, Users,
    UsersConfig, UsersError, UsersHooks, Uuid,
};

const SECRET: &[u8] = b"an integration test secret, 32+ bytes long";
const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "tr0ub4dor&3-but-longer";
const HOUR: Duration = Duration::from_secs(3600);

#[path = "../support/mod.rs"]
mod support;

support::test_user! {
    #[derive(PartialEq)]
    nickname: String = "anonymous".to_owned(),
    karma: i32 = 10,
}

/// A table of users with a unique email column, compared with plain `=` like the real stores.
#[derive(Default)]
struct MemConn {
    users: Vec<TestUser>,
    transaction_depth: usize,
    writes_outside_transactions: usize,
}

impl MemConn {
    fn note_write(&mut self) {
        if self.transaction_depth == 0 {
            self.writes_outside_transactions += 1;
        }
    }

    fn email_taken(&self, user: &TestUser) -> bool {
        self.users
            .iter()
            .any(|other| other.id != user.id && other.email == user.email)
    }

    fn stored(&self, id: Uuid) -> TestUser {
        self.users
            .iter()
            .find(|user| user.id == id)
            .cloned()
            .expect("the user is stored")
    }
}

impl Drop for MemConn {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert_eq!(
                self.writes_outside_transactions, 0,
                "every write must run inside a transaction"
            );
        }
    }
}

impl UserStore<MemConn> for TestUser {
    fn insert(conn: &mut MemConn, user: &Self) -> Result<Self, UsersError> {
        conn.note_write();
        if conn.email_taken(user) {
            return Err(UsersError::EmailTaken);
        }
        conn.users.push(user.clone());
        Ok(user.clone())
    }

    fn find(conn: &mut MemConn, id: Uuid) -> Result<Option<Self>, UsersError> {
        Ok(conn.users.iter().find(|user| user.id == id).cloned())
    }

    fn find_for_update(conn: &mut MemConn, id: Uuid) -> Result<Option<Self>, UsersError> {
        Self::find(conn, id)
    }

    fn find_by_email(conn: &mut MemConn, email: &str) -> Result<Option<Self>, UsersError> {
        Ok(conn.users.iter().find(|user| user.email == email).cloned())
    }

    fn update(conn: &mut MemConn, user: &Self) -> Result<Self, UsersError> {
        conn.note_write();
        if conn.email_taken(user) {
            return Err(UsersError::EmailTaken);
        }
        let row = conn
            .users
            .iter_mut()
            .find(|row| row.id == user.id)
            .ok_or(UsersError::UserNotFound)?;
        *row = user.clone();
        Ok(user.clone())
    }

    fn delete(conn: &mut MemConn, id: Uuid) -> Result<bool, UsersError> {
        conn.note_write();
        let before = conn.users.len();
        conn.users.retain(|user| user.id != id);
        Ok(conn.users.len() < before)
    }

    fn list(conn: &mut MemConn, listing: &UserListing) -> Result<Vec<Self>, UsersError> {
        Ok(TestUser::listed(&conn.users, listing))
    }

    fn transaction<T, F>(conn: &mut MemConn, f: F) -> Result<T, UsersError>
    where
        F: FnOnce(&mut MemConn) -> Result<T, UsersError>,
    {
        let snapshot = conn.users.clone();
        conn.transaction_depth += 1;
        let result = f(conn);
        conn.transaction_depth -= 1;
        if result.is_err() {
            conn.users = snapshot;
        }
        result
    }
}

/// Cheap argon2 costs: the tests are about behaviour, not hashing strength.
fn cheap_config() -> UsersConfig {
    UsersConfig::new(SECRET)
        .unwrap()
        .argon2_params(8, 1, 1)
        .unwrap()
}

fn users() -> Users<TestUser> {
    Users::new(cheap_config())
}

fn with_alice(users: &Users<TestUser>) -> (MemConn, TestUser) {
    let mut conn = MemConn::default();
    let alice = users
        .register(&mut conn, "Alice@Example.COM", PASSWORD)
        .unwrap();
    (conn, alice)
}

fn assert_err<T: std::fmt::Debug>(result: Result<T, UsersError>, expected: &str) {
    let error = format!("{:?}", result.expect_err("the operation should fail"));
    assert!(
        error.starts_with(expected),
        "expected {expected}, got {error}"
    );
}

mod registration;

mod passwords;

mod login;

mod profile;

mod tokens;

mod hooks;

#[test]
fn a_store_lists_users_by_id_a_page_at_a_time() {
    let users = users();
    let (mut conn, alice) = with_alice(&users);
    let bob = users
        .register(&mut conn, "bob@example.com", PASSWORD)
        .unwrap();
    let mut listing = UserListing {
        after: None,
        email_like: None,
        is_active: None,
        is_verified: None,
        role: None,
        limit: 1,
    };
    let first = TestUser::list(&mut conn, &listing).unwrap();
    let expected = alice.id.min(bob.id);
    assert_eq!(
        first.iter().map(|user| user.id).collect::<Vec<_>>(),
        [expected]
    );
    listing.after = Some(expected);
    let second = TestUser::list(&mut conn, &listing).unwrap();
    assert_eq!(
        second.iter().map(|user| user.id).collect::<Vec<_>>(),
        [alice.id.max(bob.id)]
    );
    listing.after = Some(alice.id.max(bob.id));
    assert!(TestUser::list(&mut conn, &listing).unwrap().is_empty());
}

#[test]
fn the_manager_is_shareable_across_threads() {
    fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
    assert_shareable::<Users<TestUser>>();
}
