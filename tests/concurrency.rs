//! Concurrency and faults on every enabled backend: races that the database must decide, and
//! failures part way through an operation that must leave nothing behind.

use std::sync::{Arc, Barrier};
use std::thread;

use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use users_diesel::prelude::*;
use users_tests::{backend_tests, test_cases, CountRows};

#[user_model]
pub struct User {}

#[role_model]
pub struct Role {}

#[org_model]
pub struct Org {}

const THREADS: usize = 32;

fn manager() -> Users<User, Role> {
    let config = UsersConfig::new([9u8; 32])
        .and_then(|config| config.argon2_params(8, 1, 1))
        .unwrap();
    Users::new(config)
}

fn migrations() -> Migrations {
    Migrations::new()
        .with::<User>()
        .with::<Role>()
        .with::<OAuthAccounts<User>>()
        .with::<Org>()
}

/// Runs `work` on `THREADS` threads at once, each with its own connection to `db`.
fn race<C, T, F>(db: &users_tests::TestDb<C>, work: F) -> Vec<Result<T, UsersError>>
where
    C: Connection + Send + 'static,
    T: Send + 'static,
    F: Fn(usize, &mut C) -> Result<T, UsersError> + Send + Sync + 'static,
{
    let barrier = Arc::new(Barrier::new(THREADS));
    let work = Arc::new(work);
    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            let mut conn = db.connect();
            let (barrier, work) = (Arc::clone(&barrier), Arc::clone(&work));
            thread::spawn(move || {
                barrier.wait();
                work(i, &mut conn)
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|thread| thread.join().expect("no thread panics"))
        .collect()
}

#[test_cases(backend_tests)]
mod cases {
    fn concurrent_case_variant_registrations_admit_exactly_one(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let users = manager();
        let results = race(&db, move |i, conn| {
            users.register(conn, &users_tests::case_variant(i), "a long password")
        });
        let won = results.iter().filter(|r| r.is_ok()).count();
        let taken = results
            .iter()
            .filter(|r| matches!(r, Err(UsersError::EmailTaken)))
            .count();
        assert_eq!((won, taken), (1, THREADS - 1), "{results:?}");
        assert_eq!(db.count_rows("users"), 1);
    }

    fn concurrent_first_sign_ins_with_one_provider_account_make_one_user(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let users = manager();
        let identity = users_diesel::ProviderIdentity {
            provider: "corp".into(),
            subject: "248289761001".into(),
            email: Some("jane@example.com".into()),
            email_verified: true,
            tokens: None,
        };
        let results = race(&db, move |_, conn| {
            users
                .oauth_sign_in(conn, &identity)
                .map(|signed_in| signed_in.into_user().id)
        });
        let ids: Vec<_> = results
            .iter()
            .map(|r| *r.as_ref().expect("each signs in"))
            .collect();
        assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
        assert_eq!(db.count_rows("users"), 1);
        assert_eq!(db.count_rows("users_oauth_accounts"), 1);
    }

    fn concurrent_assignments_of_one_role_leave_one_row(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let users = manager();
        let alice = users
            .register(conn, "alice@example.com", "a long password")
            .unwrap();
        let admin = users.create_role(conn, "admin", None).unwrap();
        let results = race(&db, move |_, conn| users.assign_role(conn, &alice, &admin));
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(db.count_rows("user_roles"), 1);
    }

    fn a_reset_token_used_concurrently_works_at_most_once(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let users = manager();
        users
            .register(conn, "alice@example.com", "the old password")
            .unwrap();
        let token = users
            .password_reset_token(conn, "alice@example.com")
            .unwrap()
            .unwrap();
        let racers = users.clone();
        let results = race(&db, move |i, conn| {
            racers.reset_password(conn, &token, &format!("new password number {i}"))
        });
        let won: Vec<usize> = (0..THREADS).filter(|&i| results[i].is_ok()).collect();
        // At most one may succeed; with the row locked, the first to take it does.
        assert_eq!(won.len(), 1, "{results:?}");
        assert!(
            results
                .iter()
                .all(|r| r.is_ok() || matches!(r, Err(UsersError::InvalidToken))),
            "{results:?}"
        );
        // The winner's password is the one that works.
        let conn = &mut *db;
        let password = format!("new password number {}", won[0]);
        users
            .authenticate(conn, "alice@example.com", &password)
            .unwrap();
        assert!(users
            .authenticate(conn, "alice@example.com", "the old password")
            .is_err());
    }

    fn a_failing_batch_of_role_assignments_keeps_none(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let users = manager();
        let alice = users
            .register(conn, "alice@example.com", "a long password")
            .unwrap();
        let admin = users.create_role(conn, "admin", None).unwrap();
        let gone = users.create_role(conn, "gone", None).unwrap();
        let editor = users.create_role(conn, "editor", None).unwrap();
        users.delete_role(conn, &gone).unwrap();

        let batch = [admin.clone(), gone, editor.clone()];
        assert!(matches!(
            users.assign_roles(conn, &alice, &batch),
            Err(UsersError::RoleNotFound)
        ));
        assert_eq!(conn.count_rows("user_roles"), 0);

        users.assign_roles(conn, &alice, &[admin, editor]).unwrap();
        assert_eq!(conn.count_rows("user_roles"), 2);
    }

    fn concurrent_acceptances_of_one_invitation_make_one_membership(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let users = manager();
        let alice = users
            .register(conn, "alice@example.com", "a long password")
            .unwrap();
        let mut bob = users
            .register(conn, "bob@example.com", "a long password")
            .unwrap();
        bob.is_verified = true;
        let bob = users.update(conn, &bob).unwrap();
        let acme: Org = users.create_org(conn, &alice, "Acme", None).unwrap();
        let invited = users
            .invite_to_org::<Org, _>(conn, &alice, acme.id, "bob@example.com", None)
            .unwrap();
        let results = race(&db, move |_, conn| {
            users
                .accept_invitation::<Org, _>(conn, &bob, &invited.token)
                .map(|view| view.org.id)
        });
        let joined = results.iter().filter(|r| r.is_ok()).count();
        let refused = results
            .iter()
            .filter(|r| matches!(r, Err(UsersError::InvalidToken)))
            .count();
        assert_eq!((joined, refused), (1, THREADS - 1), "{results:?}");
        assert_eq!(db.count_rows("org_members"), 2);
    }

    fn concurrent_owners_demoting_each_other_leave_one_owner(conn: _, db: _) {
        conn.run_pending_migrations(migrations()).unwrap();
        let users = manager();
        let alice = users
            .register(conn, "alice@example.com", "a long password")
            .unwrap();
        let mut bob = users
            .register(conn, "bob@example.com", "a long password")
            .unwrap();
        bob.is_verified = true;
        let bob = users.update(conn, &bob).unwrap();
        let acme: Org = users.create_org(conn, &alice, "Acme", None).unwrap();
        let invited = users
            .invite_to_org::<Org, _>(conn, &alice, acme.id, "bob@example.com", Some("owner"))
            .unwrap();
        users
            .accept_invitation::<Org, _>(conn, &bob, &invited.token)
            .unwrap();
        let viewer = alice.clone();
        // Half the threads are Alice demoting Bob, half Bob demoting Alice, all at once.
        let results = race(&db, move |i, conn| {
            let (actor, target) = if i % 2 == 0 {
                (&alice, &bob)
            } else {
                (&bob, &alice)
            };
            users.set_org_role::<Org, _>(conn, actor, acme.id, target.id, "admin")
        });
        let changed = results.iter().filter(|r| r.is_ok()).count();
        assert!(changed >= 1, "{results:?}");
        assert!(
            results.iter().all(|r| matches!(
                r,
                Ok(()) | Err(UsersError::LastOwner | UsersError::NotPermitted { .. })
            )),
            "{results:?}"
        );
        let mut check = db.connect();
        let members = manager()
            .org_members::<Org, _>(&mut check, &viewer, acme.id)
            .unwrap();
        let owners = members
            .iter()
            .filter(|member| member.membership.role == "owner")
            .count();
        assert_eq!(owners, 1, "{members:?}");
    }
}

/// Without a busy timeout, a SQLite writer blocked by another gets a clear database error, not a
/// panic or a corrupt row; once the lock is gone the same call succeeds.
#[cfg(feature = "sqlite")]
#[test]
fn sqlite_reports_a_held_write_lock_as_a_database_error() {
    use diesel::connection::SimpleConnection;

    let mut db = users_tests::sqlite();
    db.run_pending_migrations(migrations()).unwrap();
    let mut holder = db.connect();
    let mut impatient = db.connect();
    impatient.batch_execute("PRAGMA busy_timeout = 0").unwrap();
    let users = manager();

    holder.batch_execute("BEGIN IMMEDIATE").unwrap();
    let blocked = users.register(&mut impatient, "bob@example.com", "a long password");
    match blocked {
        Err(UsersError::Database(error)) => {
            assert!(error.to_string().contains("locked"), "{error}")
        }
        other => panic!("expected a database error, got {other:?}"),
    }
    holder.batch_execute("COMMIT").unwrap();

    users
        .register(&mut impatient, "bob@example.com", "a long password")
        .unwrap();
    assert_eq!(db.count_rows("users"), 1);
}

/// A PostgreSQL session killed in the middle of a registration: the call fails with a database
/// error, nothing of the registration remains, and a fresh connection works.
#[cfg(feature = "postgres")]
#[test]
fn a_killed_postgres_session_leaves_nothing_behind() {
    use diesel::sql_types::{Bool, Integer};
    use std::sync::Mutex;

    struct KillSessionAfterInsert {
        admin: Mutex<PgConnection>,
        victim_pid: i32,
    }

    impl users_diesel::UsersHooks<User> for KillSessionAfterInsert {
        fn after_register(&self, _: &User) -> Result<(), UsersError> {
            let mut admin = self.admin.lock().unwrap();
            let killed: bool = diesel::select(diesel::dsl::sql::<Bool>(&format!(
                "pg_terminate_backend({})",
                self.victim_pid
            )))
            .get_result(&mut *admin)
            .map_err(UsersError::database)?;
            assert!(killed);
            Ok(())
        }
    }

    let mut db = users_tests::postgres();
    db.run_pending_migrations(migrations()).unwrap();
    let mut victim = db.connect();
    let victim_pid: i32 = diesel::select(diesel::dsl::sql::<Integer>("pg_backend_pid()"))
        .get_result(&mut victim)
        .unwrap();
    let hooks = KillSessionAfterInsert {
        admin: Mutex::new(db.connect()),
        victim_pid,
    };
    let users = manager().with_hooks(hooks);

    let result = users.register(&mut victim, "carol@example.com", "a long password");
    assert!(matches!(result, Err(UsersError::Database(_))), "{result:?}");

    let mut fresh = db.connect();
    assert_eq!(fresh.count_rows("users"), 0);
    let plain = manager();
    plain
        .register(&mut fresh, "carol@example.com", "a long password")
        .unwrap();
    assert_eq!(fresh.count_rows("users"), 1);
}
