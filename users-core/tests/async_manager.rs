//! `AsyncUsers` against an in-memory async store that behaves like a database: unique emails,
//! real rollback, and a check that every write happens inside a transaction. Its behaviour on
//! real databases is tested, operation by operation, in the workspace's `tests/`.
#![cfg(feature = "async")]

use std::future::Future;

use users_core::scoped_futures::ScopedBoxFuture;
use users_core::{
    AsyncUserStore, AsyncUsers, TransactionFuture, UserListing, UserModel, UsersConfig, UsersError,
    UsersHooks, Uuid,
};

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "tr0ub4dor&3-but-longer";

mod support;

support::test_user! {}

/// A table of users with a unique email column.
#[derive(Default)]
struct MemConn {
    users: Vec<TestUser>,
    transaction_depth: usize,
    writes_outside_transactions: usize,
}

impl MemConn {
    fn write(&mut self) {
        if self.transaction_depth == 0 {
            self.writes_outside_transactions += 1;
        }
    }

    fn email_taken(&self, user: &TestUser) -> bool {
        self.users
            .iter()
            .any(|other| other.id != user.id && other.email == user.email)
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

impl AsyncUserStore<MemConn> for TestUser {
    async fn insert(conn: &mut MemConn, user: &Self) -> Result<Self, UsersError> {
        conn.write();
        if conn.email_taken(user) {
            return Err(UsersError::EmailTaken);
        }
        conn.users.push(user.clone());
        Ok(user.clone())
    }

    async fn find(conn: &mut MemConn, id: Uuid) -> Result<Option<Self>, UsersError> {
        Ok(conn.users.iter().find(|user| user.id == id).cloned())
    }

    fn find_for_update(
        conn: &mut MemConn,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<Self>, UsersError>> + Send {
        Self::find(conn, id)
    }

    async fn find_by_email(conn: &mut MemConn, email: &str) -> Result<Option<Self>, UsersError> {
        Ok(conn.users.iter().find(|user| user.email == email).cloned())
    }

    async fn update(conn: &mut MemConn, user: &Self) -> Result<Self, UsersError> {
        conn.write();
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

    async fn delete(conn: &mut MemConn, id: Uuid) -> Result<bool, UsersError> {
        conn.write();
        let before = conn.users.len();
        conn.users.retain(|user| user.id != id);
        Ok(conn.users.len() < before)
    }

    async fn list(conn: &mut MemConn, listing: &UserListing) -> Result<Vec<Self>, UsersError> {
        Ok(TestUser::listed(&conn.users, listing))
    }

    fn transaction<'a, T, F>(conn: &'a mut MemConn, f: F) -> TransactionFuture<'a, T>
    where
        F: for<'r> FnOnce(&'r mut MemConn) -> ScopedBoxFuture<'a, 'r, Result<T, UsersError>>
            + Send
            + 'a,
        T: Send + 'a,
    {
        Box::pin(async move {
            let snapshot = conn.users.clone();
            conn.transaction_depth += 1;
            let result = f(conn).await;
            conn.transaction_depth -= 1;
            if result.is_err() {
                conn.users = snapshot;
            }
            result
        })
    }
}

fn users() -> AsyncUsers<TestUser> {
    AsyncUsers::new(
        UsersConfig::new([3u8; 32])
            .and_then(|config| config.argon2_params(8, 1, 1))
            .unwrap(),
    )
}

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

#[test]
fn every_write_runs_in_a_transaction() {
    block_on(async {
        let users = users();
        let mut conn = MemConn::default();
        let alice = users
            .register(&mut conn, "Alice@Example.COM", PASSWORD)
            .await
            .unwrap();
        let alice = users
            .verify(&mut conn, &users.verification_token(&alice).unwrap())
            .await
            .unwrap();
        let alice = users
            .set_email(&mut conn, &alice, "alice@new.example")
            .await
            .unwrap();
        assert!(!alice.is_verified);
        let alice = users
            .change_password(&mut conn, &alice, PASSWORD, NEW_PASSWORD)
            .await
            .unwrap();
        let alice = users
            .set_password(&mut conn, &alice, PASSWORD)
            .await
            .unwrap();
        let token = users
            .password_reset_token(&mut conn, "ALICE@new.example")
            .await
            .unwrap()
            .unwrap();
        users
            .reset_password(&mut conn, &token, NEW_PASSWORD)
            .await
            .unwrap();
        users
            .authenticate(&mut conn, "alice@new.example", NEW_PASSWORD)
            .await
            .unwrap();
        users.delete(&mut conn, alice.id).await.unwrap();
        assert!(conn.users.is_empty());
    });
}

#[test]
fn an_unknown_email_costs_one_argon2_run_like_a_wrong_password() {
    block_on(async {
        let users = users();
        let mut conn = MemConn::default();
        users
            .register(&mut conn, "alice@example.com", PASSWORD)
            .await
            .unwrap();
        for (email, password) in [
            ("alice@example.com", NEW_PASSWORD),
            ("bob@example.com", PASSWORD),
            ("not an email", PASSWORD),
            ("bob@example.com", PASSWORD),
        ] {
            let before = users.hasher().verifications();
            assert!(matches!(
                users.authenticate(&mut conn, email, password).await,
                Err(UsersError::InvalidCredentials)
            ));
            assert_eq!(users.hasher().verifications() - before, 1, "{email}");
        }
    });
}

#[test]
fn an_outdated_hash_is_upgraded_on_login() {
    block_on(async {
        let mut conn = MemConn::default();
        let alice = users()
            .register(&mut conn, "alice@example.com", PASSWORD)
            .await
            .unwrap();
        let current = AsyncUsers::<TestUser>::new(
            UsersConfig::new([3u8; 32])
                .and_then(|config| config.argon2_params(16, 1, 1))
                .unwrap(),
        );
        let logged_in = current
            .authenticate(&mut conn, "alice@example.com", PASSWORD)
            .await
            .unwrap();
        assert_ne!(logged_in.password_hash, alice.password_hash);
        assert!(logged_in.password_hash.contains("m=16,t=1,p=1"));
        assert_eq!(conn.users[0].password_hash, logged_in.password_hash);
    });
}

struct Refuse;

impl UsersHooks<TestUser> for Refuse {
    fn after_update(&self, _: &TestUser) -> Result<(), UsersError> {
        Err(UsersError::config("hooks", "refused"))
    }
}

#[test]
fn a_failing_hook_rolls_the_write_back() {
    block_on(async {
        let mut conn = MemConn::default();
        let alice = users()
            .register(&mut conn, "alice@example.com", PASSWORD)
            .await
            .unwrap();
        let users = users().with_hooks(Refuse);
        assert!(matches!(
            users.set_password(&mut conn, &alice, NEW_PASSWORD).await,
            Err(UsersError::Config(_))
        ));
        assert_eq!(conn.users[0].password_hash, alice.password_hash);
    });
}

struct Panics;

impl UsersHooks<TestUser> for Panics {
    fn validate_password(&self, _: &str) -> Result<(), String> {
        panic!("the hook panicked");
    }
}

/// The `validate_password` hook runs on the blocking pool with the hashing; its panic reaches
/// the caller as it would in a sync call.
#[test]
#[should_panic(expected = "the hook panicked")]
fn a_panic_on_the_blocking_pool_resumes_in_the_caller() {
    block_on(async {
        let mut conn = MemConn::default();
        let users = users().with_hooks(Panics);
        let _ = users
            .register(&mut conn, "alice@example.com", PASSWORD)
            .await;
    });
}

#[test]
fn clones_share_one_manager() {
    let users = users();
    let clone = users.clone();
    assert!(std::ptr::eq(users.as_sync(), clone.as_sync()));
    assert_eq!(users.config().argon2_memory_kib(), 8);
    let debug = format!("{users:?}");
    assert!(
        debug.contains("test_users") && debug.contains("[redacted]"),
        "{debug}"
    );
    let _ = TestUser::TABLE;
}
