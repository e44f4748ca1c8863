//! The defences against brute force and overload, on every enabled backend: the login lockout,
//! the mail cap, the argon2 gate, the password length cap at login, the counters in the
//! database shared between managers, and password hashing outside the row-locking transaction.
//!
//! The lockout tests wait out a lockout of about two seconds: they sleep, they never time
//! anything. Every manager uses argon2 at its cheapest.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use users_diesel::migrations::SupportedBackend;
use users_diesel::prelude::*;
use users_diesel::{
    verify_schema, Connections, DatabaseThrottleStore, Dialect, Throttle, ThrottleSql,
    ThrottleStore, UsersHooks,
};
use users_tests::{backend_tests, dialect_of, manager_tests, test_cases};

#[user_model]
pub struct User {
    pub display_name: Option<String>,
}

const SECRET: &str = "the secret of the throttle tests, 32+ bytes";
const EMAIL: &str = "alice@example.com";
const PASSWORD: &str = "correct horse battery staple";
const WRONG: &str = "not the password at all";
const NEW_PASSWORD: &str = "a brand new long password";
/// The lockout the tests wait out.
const LOCKOUT: Duration = Duration::from_secs(2);

/// Cheap argon2; an account locks after 3 failures, a client after 5, for [`LOCKOUT`] at
/// first; an address gets 3 mails an hour.
fn config() -> UsersConfig {
    UsersConfig::new(SECRET)
        .and_then(|config| config.argon2_params(8, 1, 1))
        .and_then(|config| config.login_limits(3, 5))
        .and_then(|config| config.login_lockout(LOCKOUT, Duration::from_secs(60)))
        .and_then(|config| config.mail_limit(3, Duration::from_secs(3600)))
        .expect("a valid test configuration")
}

fn migrate<C>(conn: &mut C)
where
    C: Connection + MigrationHarness<C::Backend>,
    Migrations: MigrationSource<C::Backend>,
{
    conn.run_pending_migrations(Migrations::new().with::<User>().with::<Throttle>())
        .expect("migrate");
}

/// A store over the test database's `users_throttle`, on a connection of the test's backend.
fn database_store<C>(_: &C, url: &str) -> DatabaseThrottleStore<C>
where
    C: ThrottleSql,
{
    DatabaseThrottleStore::establish(url).expect("the store connects")
}

fn retry_after(result: Result<User, UsersError>) -> Duration {
    match result {
        Err(UsersError::TooManyAttempts { retry_after }) => retry_after,
        other => panic!("expected TooManyAttempts, got {other:?}"),
    }
}

#[test_cases(manager_tests)]
mod cases {
    fn an_account_locks_after_the_limit_and_opens_after_the_lockout(conn: _, db: _) {
        migrate(db);
        let users = drive(Users::<User>::new(config()));
        users.register(conn, EMAIL, PASSWORD).unwrap();
        for _ in 0..3 {
            let failed = users.authenticate(conn, EMAIL, WRONG);
            assert!(
                matches!(failed, Err(UsersError::InvalidCredentials)),
                "{failed:?}"
            );
        }
        let runs = users.hasher().verifications();
        // Locked: even the right password is refused, before any argon2 run, and the address
        // in another case is the same account.
        let wait = retry_after(users.authenticate(conn, "ALICE@example.com", PASSWORD));
        assert!(wait <= LOCKOUT && !wait.is_zero(), "{wait:?}");
        assert_eq!(users.hasher().verifications(), runs);

        std::thread::sleep(wait + Duration::from_millis(50));
        users
            .authenticate(conn, EMAIL, PASSWORD)
            .expect("the lockout has ended");
        // The right password cleared the count: three more failures are needed to lock again.
        for _ in 0..2 {
            assert!(users.authenticate(conn, EMAIL, WRONG).is_err());
        }
        users.authenticate(conn, EMAIL, PASSWORD).unwrap();
    }

    fn failures_after_a_lockout_lock_for_twice_as_long(conn: _, db: _) {
        migrate(db);
        let users = drive(Users::<User>::new(config()));
        for _ in 0..3 {
            assert!(users
                .authenticate(conn, "nobody@example.com", WRONG)
                .is_err());
        }
        // An address without an account locks the same way: the answer reveals nothing.
        let first = retry_after(users.authenticate(conn, "nobody@example.com", WRONG));
        std::thread::sleep(first + Duration::from_millis(50));
        let failed = users.authenticate(conn, "nobody@example.com", WRONG);
        assert!(
            matches!(failed, Err(UsersError::InvalidCredentials)),
            "{failed:?}"
        );
        let second = retry_after(users.authenticate(conn, "nobody@example.com", WRONG));
        assert!(second > LOCKOUT && second <= 2 * LOCKOUT, "{second:?}");
    }

    fn a_client_locks_after_failing_on_several_accounts(conn: _, db: _) {
        migrate(db);
        let users = drive(Users::<User>::new(config()));
        users.register(conn, EMAIL, PASSWORD).unwrap();
        let client = Some("192.0.2.7");
        for i in 0..5 {
            let email = format!("guess{i}@example.com");
            assert!(users
                .authenticate_from(conn, client, &email, WRONG)
                .is_err());
        }
        retry_after(users.authenticate_from(conn, client, EMAIL, PASSWORD));
        // Another client, and the account itself, are not locked.
        users
            .authenticate_from(conn, Some("192.0.2.8"), EMAIL, PASSWORD)
            .unwrap();
    }

    fn the_mail_cap_refuses_an_address_past_its_share(conn: _, db: _) {
        migrate(db);
        let users = drive(Users::<User>::new(config()));
        for address in [EMAIL, "Alice@Example.com", EMAIL] {
            users.count_mail(address).unwrap();
        }
        match users.count_mail(EMAIL) {
            Err(UsersError::TooManyAttempts { retry_after }) => {
                assert!(
                    retry_after > Duration::from_secs(3500)
                        && retry_after <= Duration::from_secs(3600)
                );
            }
            other => panic!("expected TooManyAttempts, got {other:?}"),
        }
        users
            .count_mail("bob@example.com")
            .expect("another address has its own share");
    }

    fn a_flood_of_new_keys_unlocks_nothing(conn: _, db: _) {
        migrate(db);
        let store = users_diesel::MemoryThrottleStore::with_capacity(64);
        let users = drive(Users::<User>::new(config()).with_throttle_store(store));
        users.register(conn, EMAIL, PASSWORD).unwrap();
        for _ in 0..3 {
            assert!(users.authenticate(conn, EMAIL, WRONG).is_err());
        }
        // Mails to ever new addresses fill the store: past its capacity they are refused...
        let mut refused = 0;
        for n in 0..100 {
            match users.count_mail(&format!("flood{n}@example.com")) {
                Ok(()) => {}
                Err(UsersError::Overloaded) => refused += 1,
                other => panic!("expected Overloaded, got {other:?}"),
            }
        }
        assert!(refused > 0, "the store never filled");
        // ...and the account's lockout, a live counter, was not dropped to make room.
        retry_after(users.authenticate(conn, EMAIL, PASSWORD));
    }

    fn a_full_argon2_gate_refuses_with_overloaded_and_counts_no_failure(conn: _, db: _) {
        migrate(db);
        let users = drive(Users::<User>::new(
            config().argon2_concurrency(1, 0).unwrap(),
        ));
        users.register(conn, EMAIL, PASSWORD).unwrap();
        let slot = users.hasher().gate().enter().unwrap();
        for _ in 0..5 {
            let refused = users.authenticate(conn, EMAIL, WRONG);
            assert!(
                matches!(refused, Err(UsersError::Overloaded)),
                "{refused:?}"
            );
        }
        let refused = users.register(conn, "bob@example.com", PASSWORD);
        assert!(
            matches!(refused, Err(UsersError::Overloaded)),
            "{refused:?}"
        );
        drop(slot);
        users
            .authenticate(conn, EMAIL, PASSWORD)
            .expect("refusals were not failures");
        assert_eq!(users.hasher().gate().peak_running(), 1);
    }

    fn an_unusable_stored_hash_costs_one_argon2_run_like_a_wrong_password(conn: _, db: _) {
        migrate(db);
        let users = drive(Users::<User>::new(config().login_limits(20, 20).unwrap()));
        users.register(conn, EMAIL, PASSWORD).unwrap();
        users
            .authenticate(conn, "nobody@example.com", WRONG)
            .unwrap_err(); // makes the dummy hash
        let runs = users.hasher().verifications();
        users.authenticate(conn, EMAIL, WRONG).unwrap_err();
        assert_eq!(
            users.hasher().verifications(),
            runs + 1,
            "a wrong password: one run"
        );
        let bcrypt = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
        for unusable in [
            "",
            "!",
            bcrypt,
            "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaGhhc2g",
        ] {
            diesel::update(users::table)
                .set(users::password_hash.eq(unusable))
                .execute(db)
                .unwrap();
            let runs = users.hasher().verifications();
            let refused = users.authenticate(conn, EMAIL, PASSWORD);
            assert!(
                matches!(refused, Err(UsersError::InvalidCredentials)),
                "{refused:?}"
            );
            assert_eq!(
                users.hasher().verifications(),
                runs + 1,
                "{unusable:?}: one run"
            );
        }
    }

    fn an_overlong_password_fails_without_an_argon2_run(conn: _, db: _) {
        migrate(db);
        let users = drive(Users::<User>::new(config()));
        users.register(conn, EMAIL, PASSWORD).unwrap();
        let runs = users.hasher().verifications();
        let huge = "x".repeat(config().password_max_bytes() + 1);
        let failed = users.authenticate(conn, EMAIL, &huge);
        assert!(
            matches!(failed, Err(UsersError::InvalidCredentials)),
            "{failed:?}"
        );
        assert_eq!(users.hasher().verifications(), runs);
    }
}

/// The database store and the transactions, on the sync manager (the async one runs the same
/// operations, with the store on the blocking pool).
mod database {
    use super::*;

    #[test_cases(backend_tests)]
    mod cases_2 {
        fn the_migrations_create_the_throttle_table_and_verify_it(conn: _, db: _) {
            migrate(conn);
            verify_schema::<Throttle, _>(conn).unwrap();
            verify_schema::<User, _>(conn).unwrap();
        }

        fn database_counters_count_expire_hold_and_clear(unused: _, db: _) {
            let mut conn = db.connect();
            migrate(&mut conn);
            let store = database_store(&conn, db.url());
            let t0 = std::time::SystemTime::now();
            let window = Duration::from_secs(10);
            assert_eq!(store.hit("k", t0, window).unwrap().hits, 1);
            assert_eq!(
                store
                    .hit("k", t0 + Duration::from_secs(5), window)
                    .unwrap()
                    .hits,
                2
            );
            assert_eq!(
                store
                    .get("k", t0 + Duration::from_secs(14))
                    .unwrap()
                    .unwrap()
                    .hits,
                2
            );
            assert_eq!(store.get("k", t0 + Duration::from_secs(15)).unwrap(), None);
            assert_eq!(
                store
                    .hit("k", t0 + Duration::from_secs(15), window)
                    .unwrap()
                    .hits,
                1
            );
            store.hold("k", t0 + Duration::from_secs(100)).unwrap();
            assert!(store
                .get("k", t0 + Duration::from_secs(99))
                .unwrap()
                .is_some());
            store.clear("k").unwrap();
            assert_eq!(store.get("k", t0).unwrap(), None);
            let long_key = format!("login:account:{}@example.com", "a".repeat(240));
            assert_eq!(store.hit(&long_key, t0, window).unwrap().hits, 1);
        }

        fn two_managers_over_the_database_store_share_a_lockout_and_a_mail_cap(unused: _, db: _) {
            let (mut main, mut other) = (db.connect(), db.connect());
            let conn = &mut main;
            migrate(conn);
            let first =
                Users::<User>::new(config()).with_throttle_store(database_store(&*conn, db.url()));
            let second =
                Users::<User>::new(config()).with_throttle_store(database_store(&*conn, db.url()));
            first.register(conn, EMAIL, PASSWORD).unwrap();
            for manager in [&first, &second, &first] {
                assert!(manager.authenticate(&mut other, EMAIL, WRONG).is_err());
            }
            let wait = retry_after(second.authenticate(conn, EMAIL, PASSWORD));
            std::thread::sleep(wait + Duration::from_millis(50));
            first
                .authenticate(conn, EMAIL, PASSWORD)
                .expect("the lockout has ended");

            for manager in [&first, &second, &first] {
                manager.count_mail(EMAIL).unwrap();
            }
            assert!(matches!(
                second.count_mail(EMAIL),
                Err(UsersError::TooManyAttempts { .. })
            ));
        }

        fn an_operation_over_connections_holds_none_while_argon2_runs(unused: _, db: _) {
            let mut conn = db.connect();
            migrate(&mut conn);
            let users = Users::<User>::new(config().argon2_concurrency(1, 4).unwrap());
            users.register(&mut conn, EMAIL, PASSWORD).unwrap();
            let shared = Mutex::new(conn);
            let gate = users.hasher().gate();
            let slot = gate.enter().unwrap();
            std::thread::scope(|scope| {
                let login =
                    scope.spawn(|| users.authenticate_over(Shared(&shared), None, EMAIL, WRONG));
                while gate.waiting() == 0 {
                    assert!(!login.is_finished(), "the login reaches the gate");
                    std::thread::yield_now();
                }
                // The login loaded its user, gave the connection back and waits for argon2.
                assert!(
                    shared.try_lock().is_ok(),
                    "the connection is free while the login waits"
                );
                drop(slot);
                let failed = login.join().unwrap();
                assert!(
                    matches!(failed, Err(UsersError::InvalidCredentials)),
                    "{failed:?}"
                );
            });
            let alice = users.authenticate_over(Shared(&shared), None, EMAIL, PASSWORD);
            let alice = alice.expect("the right password over the shared connection");
            let changed = users.change_password_over(
                Shared(&shared),
                &alice,
                PASSWORD,
                NEW_PASSWORD,
                |user| {
                    user.display_name = Some("changed with the password".into());
                    Ok(())
                },
            );
            assert_eq!(
                changed.unwrap().display_name.as_deref(),
                Some("changed with the password")
            );
            // An edit that fails leaves the password as it was.
            let refused =
                users.change_password_over(Shared(&shared), &alice, NEW_PASSWORD, PASSWORD, |_| {
                    Err(UsersError::config("hooks", "refused by the edit"))
                });
            assert!(matches!(refused, Err(UsersError::Config(_))), "{refused:?}");
            let kept = users.authenticate_over(Shared(&shared), None, EMAIL, NEW_PASSWORD);
            kept.expect("the password did not change");
        }

        fn a_password_change_hashes_outside_the_transaction_and_rechecks(unused: _, db: _) {
            let mut main = db.connect();
            let conn = &mut main;
            migrate(conn);
            // While the new password is hashed, another connection writes the row: it would wait
            // for the row lock (the database-wide write lock on SQLite) and time out if the hash
            // ran inside the transaction.
            let written = WriteDuringHash::<_>::new(
                &*conn,
                db.url(),
                "UPDATE users SET display_name = 'written meanwhile'",
            );
            let users = Users::<User>::new(config()).with_hooks(written.clone());
            let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
            let changed = users
                .change_password(conn, &alice, PASSWORD, NEW_PASSWORD)
                .unwrap();
            assert_eq!(written.outcome(), Ok(()));
            assert_eq!(
                changed.display_name.as_deref(),
                Some("written meanwhile"),
                "the row was reloaded"
            );
            users.authenticate(conn, EMAIL, NEW_PASSWORD).unwrap();

            // A password changed while the new one was hashed wins: the change checked the current
            // password against a hash that is gone.
            let replaced = WriteDuringHash::<_>::new(
                &*conn,
                db.url(),
                "UPDATE users SET password_hash = 'replaced meanwhile'",
            );
            let users = Users::<User>::new(config()).with_hooks(replaced.clone());
            let failed =
                users.change_password(conn, &changed, NEW_PASSWORD, "yet another long password");
            assert!(
                matches!(failed, Err(UsersError::InvalidCredentials)),
                "{failed:?}"
            );
            assert_eq!(replaced.outcome(), Ok(()));
            let stored = users.get(conn, changed.id).unwrap().unwrap();
            assert_eq!(stored.password_hash, "replaced meanwhile");
        }
    }
}

/// One connection behind a mutex, as [`Connections`]: a pool of one.
struct Shared<'a, C>(&'a Mutex<C>);

impl<C> Connections<C> for Shared<'_, C> {
    type Connection<'b>
        = std::sync::MutexGuard<'b, C>
    where
        Self: 'b;

    fn connection(&mut self) -> Result<std::sync::MutexGuard<'_, C>, UsersError> {
        Ok(self.0.lock().expect("not poisoned"))
    }
}

/// A `validate_password` hook (it runs between loading the row and storing the new hash) that
/// runs `sql` on a connection of its own, with a lock wait of a few seconds, and records how
/// that went.
struct WriteDuringHash<C> {
    url: String,
    sql: &'static str,
    outcome: Arc<Mutex<Option<Result<(), String>>>>,
    connection: PhantomData<fn() -> C>,
}

impl<C> Clone for WriteDuringHash<C> {
    fn clone(&self) -> Self {
        WriteDuringHash {
            url: self.url.clone(),
            sql: self.sql,
            outcome: Arc::clone(&self.outcome),
            connection: PhantomData,
        }
    }
}

impl<C: Connection> WriteDuringHash<C>
where
    C::Backend: SupportedBackend,
{
    fn new(_: &C, url: &str, sql: &'static str) -> Self {
        WriteDuringHash {
            url: url.to_owned(),
            sql,
            outcome: Arc::default(),
            connection: PhantomData,
        }
    }

    fn outcome(&self) -> Result<(), String> {
        self.outcome.lock().unwrap().clone().expect("the hook ran")
    }

    fn write(&self) -> Result<(), String> {
        let mut conn = C::establish(&self.url).map_err(|error| error.to_string())?;
        let lock_wait = match dialect_of(&conn) {
            Dialect::Sqlite => "PRAGMA busy_timeout = 3000",
            Dialect::Postgres => "SET lock_timeout = '3s'",
            Dialect::Mysql => "SET SESSION innodb_lock_wait_timeout = 3",
        };
        conn.batch_execute(lock_wait)
            .map_err(|error| error.to_string())?;
        conn.batch_execute(self.sql)
            .map_err(|error| error.to_string())
    }
}

impl<C: Connection + 'static> UsersHooks<User> for WriteDuringHash<C>
where
    C::Backend: SupportedBackend,
{
    fn validate_password(&self, _: &str) -> Result<(), String> {
        let outcome = self.write();
        *self.outcome.lock().unwrap() = Some(outcome);
        Ok(())
    }
}
