//! What only the async manager has, on every enabled backend: deadpool pools, races between
//! tasks, argon2 off the executor, and `Send` futures. Its behaviour, operation by operation,
//! is tested by the sync manager's tests, which run on both managers (`tests/manager/`,
//! `tests/roles.rs`).
#![cfg(feature = "async")]

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel_migrations::MigrationHarness;
use tokio::runtime::Runtime;
use tokio::sync::Barrier;
use users_diesel::prelude::*;
use users_tests::{backend_tests, test_cases, CountRows};

#[user_model]
pub struct User {}

#[role_model]
pub struct Role {}

const TASKS: usize = 16;
const PASSWORD: &str = "a long password";

fn manager() -> AsyncUsers<User, Role> {
    let config = UsersConfig::new([5u8; 32])
        .and_then(|config| config.argon2_params(8, 1, 1))
        .unwrap();
    AsyncUsers::new(config)
}

fn migrations() -> Migrations {
    Migrations::new().with::<User>().with::<Role>()
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `work` in one task per connection, all released at once; the results in task order.
async fn race<Conn, T, F, Fut>(conns: Vec<Conn>, work: F) -> Vec<Result<T, UsersError>>
where
    Conn: Send + 'static,
    T: Send + 'static,
    F: Fn(usize, Conn) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, UsersError>> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(conns.len()));
    let work = Arc::new(work);
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, conn)| {
            let (barrier, work) = (Arc::clone(&barrier), Arc::clone(&work));
            tokio::spawn(async move {
                barrier.wait().await;
                work(i, conn).await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.expect("no task panics"));
    }
    results
}

#[test_cases(backend_tests)]
mod cases {
    fn a_pool_serves_the_manager_across_tasks(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let pool = db.pool(4);
        runtime().block_on(async {
            let users = manager();
            let mut pooled = pool.get().await.unwrap();
            let alice = users
                .register(&mut *pooled, "Alice@Example.com", PASSWORD)
                .await
                .unwrap();
            let admin = users
                .create_role(&mut *pooled, "admin", None)
                .await
                .unwrap();
            users
                .assign_role(&mut *pooled, &alice, &admin)
                .await
                .unwrap();
            drop(pooled);

            // A clone of the manager, in another task, on whichever connection the pool gives.
            let (others, pool_of_others) = (users.clone(), pool.clone());
            let logged_in = tokio::spawn(async move {
                let mut pooled = pool_of_others.get().await.unwrap();
                others
                    .authenticate(&mut *pooled, "alice@example.com", PASSWORD)
                    .await
            })
            .await
            .unwrap()
            .unwrap();
            assert_eq!(logged_in, alice);

            let mut pooled = pool.get().await.unwrap();
            assert!(users
                .has_role(&mut *pooled, &logged_in, "admin")
                .await
                .unwrap());
            assert!(matches!(
                users
                    .register(&mut *pooled, "ALICE@example.com", PASSWORD)
                    .await,
                Err(UsersError::EmailTaken)
            ));
        });
        assert_eq!(db.count_rows("users"), 1);
    }

    fn concurrent_case_variant_registrations_admit_exactly_one(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let pool = db.pool(TASKS);
        let results = runtime().block_on(async {
            let mut conns = Vec::new();
            for _ in 0..TASKS {
                conns.push(pool.get().await.unwrap());
            }
            let users = manager();
            race(conns, move |i, mut pooled| {
                let users = users.clone();
                async move {
                    users
                        .register(&mut *pooled, &users_tests::case_variant(i), PASSWORD)
                        .await
                }
            })
            .await
        });
        let won = results.iter().filter(|r| r.is_ok()).count();
        let taken = results
            .iter()
            .filter(|r| matches!(r, Err(UsersError::EmailTaken)))
            .count();
        assert_eq!((won, taken), (1, TASKS - 1), "{results:?}");
        assert_eq!(db.count_rows("users"), 1);
    }

    fn a_reset_token_used_concurrently_works_at_most_once(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let pool = db.pool(TASKS);
        let users = manager();
        let (results, winner_logs_in) = runtime().block_on(async {
            let mut pooled = pool.get().await.unwrap();
            users
                .register(&mut *pooled, "alice@example.com", "the old password")
                .await
                .unwrap();
            let token = users
                .password_reset_token(&mut *pooled, "alice@example.com")
                .await
                .unwrap()
                .unwrap();
            drop(pooled);
            let mut conns = Vec::new();
            for _ in 0..TASKS {
                conns.push(pool.get().await.unwrap());
            }
            let racers = users.clone();
            let results = race(conns, move |i, mut pooled| {
                let (users, token) = (racers.clone(), token.clone());
                async move {
                    users
                        .reset_password(&mut *pooled, &token, &format!("new password {i}"))
                        .await
                }
            })
            .await;
            let mut pooled = pool.get().await.unwrap();
            let winner = results.iter().position(Result::is_ok);
            let winner_logs_in = match winner {
                Some(i) => users
                    .authenticate(
                        &mut *pooled,
                        "alice@example.com",
                        &format!("new password {i}"),
                    )
                    .await
                    .is_ok(),
                None => false,
            };
            assert!(users
                .authenticate(&mut *pooled, "alice@example.com", "the old password")
                .await
                .is_err());
            (results, winner_logs_in)
        });
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        assert!(
            results
                .iter()
                .all(|r| r.is_ok() || matches!(r, Err(UsersError::InvalidToken))),
            "{results:?}"
        );
        assert!(winner_logs_in);
    }

    fn concurrent_assignments_of_one_role_leave_one_row(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let pool = db.pool(TASKS);
        let results = runtime().block_on(async {
            let users = manager();
            let mut pooled = pool.get().await.unwrap();
            let alice = users
                .register(&mut *pooled, "alice@example.com", PASSWORD)
                .await
                .unwrap();
            let admin = users
                .create_role(&mut *pooled, "admin", None)
                .await
                .unwrap();
            drop(pooled);
            let mut conns = Vec::new();
            for _ in 0..TASKS {
                conns.push(pool.get().await.unwrap());
            }
            race(conns, move |_, mut pooled| {
                let (users, alice, admin) = (users.clone(), alice.clone(), admin.clone());
                async move { users.assign_role(&mut *pooled, &alice, &admin).await }
            })
            .await
        });
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(db.count_rows("user_roles"), 1);
    }

    fn logins_leave_the_executor_free(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        // Costs above the defaults, so that one verification on the executor would be a gap
        // no scheduling hiccup comes near.
        let config = UsersConfig::new([5u8; 32])
            .and_then(|config| config.argon2_params(65_536, 3, 1))
            .unwrap();
        let users = AsyncUsers::<User, Role>::new(config);
        let one_verification = {
            let phc = users.hasher().hash(PASSWORD).unwrap();
            let start = Instant::now();
            let _ = users.hasher().verify(PASSWORD, &phc);
            start.elapsed()
        };
        let pool = db.pool(8);
        // One thread runs every task; argon2 may use two others at a time.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(2)
            .build()
            .unwrap();
        let (results, verifications, max_gap) = runtime.block_on(async {
            let mut pooled = pool.get().await.unwrap();
            users
                .register(&mut *pooled, "alice@example.com", PASSWORD)
                .await
                .unwrap();
            drop(pooled);
            let mut conns = Vec::new();
            for _ in 0..8 {
                conns.push(pool.get().await.unwrap());
            }
            let before = users.hasher().verifications();

            let stop = Arc::new(AtomicBool::new(false));
            let ticking = Arc::clone(&stop);
            let ticker = tokio::spawn(async move {
                let (mut last, mut max_gap) = (Instant::now(), Duration::ZERO);
                while !ticking.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    max_gap = max_gap.max(last.elapsed());
                    last = Instant::now();
                }
                max_gap
            });
            let logins = users.clone();
            // Right and wrong passwords, and unknown emails: one argon2 run each.
            let results = race(conns, move |i, mut pooled| {
                let users = logins.clone();
                let (email, password) = match i % 4 {
                    0 | 1 => ("alice@example.com", PASSWORD),
                    2 => ("alice@example.com", "a wrong password"),
                    _ => ("nobody@example.com", PASSWORD),
                };
                async move { users.authenticate(&mut *pooled, email, password).await }
            })
            .await;
            stop.store(true, Ordering::Relaxed);
            let verifications = users.hasher().verifications() - before;
            (results, verifications, ticker.await.unwrap())
        });
        for (i, result) in results.iter().enumerate() {
            assert_eq!(result.is_ok(), i % 4 < 2, "login {i}: {result:?}");
        }
        assert_eq!(verifications, 8);
        assert!(
            max_gap < one_verification / 2,
            "the executor stalled for {max_gap:?}; one verification takes {one_verification:?}"
        );
    }
}

/// Every operation's future can be spawned on a multi-threaded runtime (it is `Send`, and
/// `'static` once it owns its inputs), as a web handler's must be. Checked by the compiler for
/// each backend's connection: the functions only have to type-check.
macro_rules! spawnable_operations {
    ($($feature:literal => $check:ident($connection:ty);)*) => {$(
        #[cfg(feature = $feature)]
        #[allow(dead_code)]
        fn $check(users: AsyncUsers<User, Role>, mut conn: $connection, user: User, role: Role) {
            tokio::spawn(async move {
                let conn = &mut conn;
                let _ = users.register(conn, "", "").await;
                let _ = users.register_with(conn, "", "", |_| {}).await;
                let _ = users.authenticate(conn, "", "").await;
                let _ = users.get(conn, user.id).await;
                let _ = users.find_by_email(conn, "").await;
                let _ = users.update(conn, &user).await;
                let _ = users.change_password(conn, &user, "", "").await;
                let _ = users.set_password(conn, &user, "").await;
                let _ = users.delete(conn, user.id).await;
                let _ = users.verify(conn, "").await;
                let _ = users.password_reset_token(conn, "").await;
                let _ = users.reset_password(conn, "", "").await;
                let _ = users.create_role(conn, "", None).await;
                let _ = users.find_role(conn, "").await;
                let _ = users.role(conn, "").await;
                let _ = users.update_role(conn, &role).await;
                let _ = users.rename_role(conn, &role, "").await;
                let _ = users.delete_role(conn, &role).await;
                let _ = users.assign_role(conn, &user, &role).await;
                let _ = users.assign_roles(conn, &user, std::slice::from_ref(&role)).await;
                let _ = users.revoke_role(conn, &user, &role).await;
                let _ = users.has_role(conn, &user, "").await;
                let _ = users.has_any_role(conn, &user, &[]).await;
                let _ = users.has_all_roles(conn, &user, &[]).await;
                let _ = users.roles_of(conn, &user).await;
                let _ = users.roles_of_users(conn, std::slice::from_ref(&user)).await;
                let _ = users.users_with_role(conn, "").await;
            });
        }
    )*};
}

spawnable_operations! {
    "sqlite" => spawnable_on_sqlite(users_diesel::asynchronous::AsyncSqliteConnection);
    "postgres" => spawnable_on_postgres(users_diesel::asynchronous::AsyncPgConnection);
    "mysql" => spawnable_on_mysql(users_diesel::asynchronous::AsyncMysqlConnection);
}

#[test]
fn the_manager_is_cheap_to_clone_and_shares_its_hooks() {
    let users = manager();
    let clone = users.clone();
    assert!(std::ptr::eq(users.as_sync(), clone.as_sync()));
    assert!(std::ptr::eq(users.hasher(), clone.hasher()));
    let debug = format!("{users:?}");
    assert!(debug.starts_with("AsyncUsers"), "{debug}");
    assert!(!debug.contains("[5, 5"), "{debug}");
}

/// A module that has both `RunQueryDsl`s in scope, as async applications commonly do: the
/// generated stores, sync and async, still compile, and so does the application's own query.
#[cfg(feature = "sqlite")]
mod both_run_query_dsls {
    use diesel::prelude::*;
    use users_diesel::asynchronous::{AsyncConnection, AsyncSqliteConnection, RunQueryDsl};
    use users_diesel::prelude::*;

    #[user_model(table = "accounts")]
    pub struct Account {}

    #[test]
    fn generated_stores_and_application_queries_compile() {
        let db = users_tests::sqlite();
        diesel_migrations::MigrationHarness::run_pending_migrations(
            &mut db.connect(),
            Migrations::new().with::<Account>(),
        )
        .unwrap();
        super::runtime().block_on(async {
            let mut conn = AsyncSqliteConnection::establish(db.url()).await.unwrap();
            let users = AsyncUsers::<Account>::new(UsersConfig::new([5u8; 32]).unwrap());
            users
                .register(&mut conn, "alice@example.com", super::PASSWORD)
                .await
                .unwrap();
            let count: i64 = accounts::table.count().get_result(&mut conn).await.unwrap();
            assert_eq!(count, 1);
        });
    }
}
