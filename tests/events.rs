//! Security events on every enabled backend, with the sync manager and the async one (see
//! `users_tests::manager_tests!`): each operation's event, written in the transaction of its
//! change (a failed change records nothing), failures counted instead of copied under a flood,
//! an account's history apart from everyone else's, paging and retention, and never a secret.

use std::time::{Duration, SystemTime};

use diesel_migrations::MigrationHarness;
use users_diesel::prelude::*;
use users_diesel::{
    EventKind, EventQuery, SecurityEvent, SessionOrigin, SessionPolicy, UsersHooks,
};
use users_tests::{manager_tests, test_cases};

#[user_model]
pub struct User {}

#[role_model]
pub struct Role {}

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a brand new passphrase here";

fn config() -> UsersConfig {
    UsersConfig::new([7u8; 32])
        .and_then(|config| config.argon2_params(8, 1, 1))
        .and_then(|config| config.login_limits(1_000, 1_000))
        .unwrap()
}

fn manager() -> Users<User, Role> {
    Users::new(config()).record_events()
}

fn migrations() -> Migrations {
    Migrations::new()
        .with::<User>()
        .with::<Role>()
        .with::<Sessions<User>>()
        .with::<SecondFactors<User>>()
        .with::<OAuthAccounts<User>>()
        .with::<Events<User>>()
}

fn identity(email: &str) -> users_diesel::ProviderIdentity {
    users_diesel::ProviderIdentity {
        provider: "corp".into(),
        subject: "42".into(),
        email: Some(email.into()),
        email_verified: true,
        tokens: None,
    }
}

/// The account's history, newest first.
fn history(events: Vec<SecurityEvent>) -> Vec<EventKind> {
    events.into_iter().map(|event| event.kind).collect()
}

fn of(user: &User) -> EventQuery {
    EventQuery {
        user_id: Some(user.id.into()),
        limit: 100,
        ..EventQuery::default()
    }
}

/// Hooks that refuse every update: a change that fails after its row was written.
struct RefuseUpdates;

impl UsersHooks<User> for RefuseUpdates {
    fn after_update(&self, _: &User) -> Result<(), UsersError> {
        Err(UsersError::config("hooks", "updates refused"))
    }
}

#[test_cases(manager_tests)]
mod cases {
    fn each_operation_records_its_event_in_its_history(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let alice = users.register(conn, "alice@example.com", PASSWORD).unwrap();
        let token = users.verification_token(&alice).unwrap();
        users.verify(conn, &token).unwrap();
        assert!(matches!(
            users.authenticate_from(conn, Some("198.51.100.7"), "alice@example.com", "wrong"),
            Err(UsersError::InvalidCredentials)
        ));
        let alice = users
            .authenticate_from(conn, Some("198.51.100.7"), "alice@example.com", PASSWORD)
            .unwrap();
        let origin = SessionOrigin {
            user_agent: Some("Browser/1.0".into()),
            client: Some("198.51.100.7".into()),
        };
        let policy = SessionPolicy::default();
        let session = users.start_session(conn, &alice, origin, &policy).unwrap();
        let refreshed = users
            .refresh_session(conn, &session.refresh_token, &policy)
            .unwrap();
        // The retired refresh token comes back: the session ends, and that is recorded.
        assert!(users
            .refresh_session(conn, &session.refresh_token, &policy)
            .is_err());
        let second = users
            .start_session(conn, &alice, SessionOrigin::default(), &policy)
            .unwrap();
        assert_eq!(users.end_all_sessions(conn, alice.id).unwrap(), 1);
        let admin = users.create_role(conn, "admin", None).unwrap();
        users.assign_role(conn, &alice, &admin).unwrap();
        users.revoke_role(conn, &alice, &admin).unwrap();
        // Revoking a role the user no longer has changes nothing, and records nothing.
        users.revoke_role(conn, &alice, &admin).unwrap();
        users
            .change_password(conn, &alice, PASSWORD, NEW_PASSWORD)
            .unwrap();
        let reset = users
            .password_reset_token(conn, "alice@example.com")
            .unwrap()
            .unwrap();
        let alice = users.reset_password(conn, &reset, PASSWORD).unwrap();
        let _ = (refreshed, second);

        let events = users.events(conn, &of(&alice)).unwrap();
        assert_eq!(
            history(events.clone()),
            [
                EventKind::PasswordReset,
                EventKind::PasswordChanged,
                EventKind::RoleRevoked,
                EventKind::RoleGranted,
                EventKind::SessionEnded,
                EventKind::SessionStarted,
                EventKind::RefreshReplayed,
                EventKind::SessionRefreshed,
                EventKind::SessionStarted,
                EventKind::LoginSucceeded,
                EventKind::LoginFailed,
                EventKind::Verified,
                EventKind::Registered,
            ]
        );
        let by_kind = |kind| events.iter().find(|event| event.kind == kind).unwrap();
        let started = events
            .iter()
            .rfind(|event| event.kind == EventKind::SessionStarted)
            .unwrap();
        assert_eq!(started.user_agent.as_deref(), Some("Browser/1.0"));
        assert_eq!(started.client.as_deref(), Some("198.51.100.7"));
        assert_eq!(
            by_kind(EventKind::LoginFailed).client.as_deref(),
            Some("198.51.100.7")
        );
        assert_eq!(
            by_kind(EventKind::RoleGranted).detail.as_deref(),
            Some("admin")
        );
        assert!(events
            .iter()
            .all(|event| Id::<User>::from(event.user_id) == alice.id));

        // The account's deletion is the last word of its history, which outlives it.
        users.delete(conn, alice.id).unwrap();
        let events = users.events(conn, &of(&alice)).unwrap();
        assert_eq!(events[0].kind, EventKind::Deleted);
    }

    fn factors_passkeys_and_provider_accounts_are_recorded(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let alice = users.register(conn, "alice@example.com", PASSWORD).unwrap();
        let token = users.verification_token(&alice).unwrap();
        let alice = users.verify(conn, &token).unwrap();
        let enrollment = users.enroll_totp(conn, &alice, "Example").unwrap();
        let code = users_diesel::totp_code(&enrollment.secret, SystemTime::now()).unwrap();
        let recovery = users
            .confirm_totp(conn, Some("192.0.2.9"), &alice, &code)
            .unwrap();
        assert!(matches!(
            users.check_second_factor(
                conn,
                Some("192.0.2.9"),
                &alice,
                users_diesel::SecondFactorProof::RecoveryCode("not-a-code")
            ),
            Err(UsersError::InvalidCredentials)
        ));
        users
            .check_second_factor(
                conn,
                None,
                &alice,
                users_diesel::SecondFactorProof::RecoveryCode(&recovery[0]),
            )
            .unwrap();
        users.regenerate_recovery_codes(conn, &alice).unwrap();
        assert!(users.remove_totp(conn, &alice).unwrap());
        let passkey = users
            .add_passkey(conn, &alice, "credential-1", "{}", Some("laptop"))
            .unwrap();
        users.passkey_used(conn, &passkey).unwrap();
        assert!(users.remove_passkey(conn, &alice, passkey.id).unwrap());
        users
            .link_oauth(conn, &alice, &identity("alice@example.com"))
            .unwrap();
        users
            .oauth_sign_in(conn, &identity("alice@example.com"))
            .unwrap();
        assert!(users.unlink_oauth(conn, &alice, "corp").unwrap());
        let fresh = identity("carol@example.com");
        let carol = users.oauth_sign_in(
            conn,
            &users_diesel::ProviderIdentity {
                subject: "43".into(),
                ..fresh
            },
        );
        let carol = carol.unwrap().user().clone();

        let events = users.events(conn, &of(&alice)).unwrap();
        assert_eq!(
            history(events.clone())[..12],
            [
                EventKind::ProviderUnlinked,
                EventKind::ProviderSignedIn,
                EventKind::ProviderLinked,
                EventKind::PasskeyRemoved,
                EventKind::PasskeyUsed,
                EventKind::PasskeyAdded,
                EventKind::TotpRemoved,
                EventKind::RecoveryCodesRegenerated,
                EventKind::RecoveryCodeUsed,
                EventKind::SecondFactorFailed,
                EventKind::TotpEnabled,
                EventKind::Verified,
            ]
        );
        assert_eq!(events[0].detail.as_deref(), Some("corp"));
        assert_eq!(events[5].detail.as_deref(), Some("laptop"));
        assert_eq!(events[9].client.as_deref(), Some("192.0.2.9"));
        assert!(!format!("{events:?}").contains(&recovery[0]));
        assert!(!format!("{events:?}").contains(&enrollment.secret));
        assert_eq!(
            history(users.events(conn, &of(&carol)).unwrap()),
            [EventKind::Registered]
        );
    }

    fn administrators_actions_name_them_and_a_lockout_is_recorded(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let root = users.register(conn, "root@example.com", PASSWORD).unwrap();
        let alice = users.register(conn, "alice@example.com", PASSWORD).unwrap();
        let admin = drive(manager().acting_for(root.id.into()));
        let mut off = alice.clone();
        off.is_active = false;
        let alice = admin.update(conn, &off).unwrap();
        let mut on = alice.clone();
        on.is_active = true;
        let alice = admin.update(conn, &on).unwrap();
        // An update that leaves the account as it was records nothing.
        admin.update(conn, &alice).unwrap();
        let events = users.events(conn, &of(&alice)).unwrap();
        assert_eq!(
            history(events.clone()),
            [
                EventKind::Reactivated,
                EventKind::Deactivated,
                EventKind::Registered
            ]
        );
        let root_id: users_diesel::Uuid = root.id.into();
        assert_eq!(events[0].actor_id, Some(root_id));
        assert_eq!(events[1].actor_id, Some(root_id));
        assert_eq!(events[2].actor_id, None);

        let strict = config().login_limits(2, 100).unwrap();
        let strict = drive(Users::<User, Role>::new(strict).record_events());
        for _ in 0..2 {
            assert!(matches!(
                strict.authenticate_from(conn, Some("203.0.113.5"), "alice@example.com", "wrong"),
                Err(UsersError::InvalidCredentials)
            ));
        }
        // Locked: even the right password is refused unchecked, and that is recorded.
        assert!(matches!(
            strict.authenticate_from(conn, Some("203.0.113.5"), "alice@example.com", PASSWORD),
            Err(UsersError::TooManyAttempts { .. })
        ));
        let events = users.events(conn, &of(&alice)).unwrap();
        assert_eq!(events[0].kind, EventKind::LockedOut);
        assert_eq!(events[0].client.as_deref(), Some("203.0.113.5"));
        assert_eq!(events[1].kind, EventKind::LoginFailed);
        assert_eq!(events[1].count, 2);
    }

    fn sign_ins_are_counted_with_the_last_time_and_client(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let alice = users.register(conn, "alice@example.com", PASSWORD).unwrap();
        assert_eq!(
            users.sign_ins(conn, &alice).unwrap(),
            users_diesel::SignIns::default()
        );
        for client in ["198.51.100.1", "198.51.100.1", "198.51.100.2"] {
            users
                .authenticate_from(conn, Some(client), "alice@example.com", PASSWORD)
                .unwrap();
        }
        // A failure is no sign-in.
        assert!(users
            .authenticate_from(conn, Some("198.51.100.3"), "alice@example.com", "wrong")
            .is_err());
        users
            .link_oauth(conn, &alice, &identity("alice@example.com"))
            .unwrap_err();
        let token = users.verification_token(&alice).unwrap();
        let alice = users.verify(conn, &token).unwrap();
        users
            .link_oauth(conn, &alice, &identity("alice@example.com"))
            .unwrap();
        users
            .oauth_sign_in(conn, &identity("alice@example.com"))
            .unwrap();
        let sign_ins = users.sign_ins(conn, &alice).unwrap();
        assert_eq!(sign_ins.count, 4);
        assert_eq!(sign_ins.last_client, None);
        let last = sign_ins.last_at.unwrap();
        assert!(last <= SystemTime::now() && last > SystemTime::now() - Duration::from_secs(60));
        let before_provider = users
            .events(
                conn,
                &EventQuery {
                    kinds: vec![EventKind::LoginSucceeded],
                    limit: 1,
                    ..of(&alice)
                },
            )
            .unwrap();
        assert_eq!(before_provider[0].client.as_deref(), Some("198.51.100.2"));
    }

    fn a_change_that_fails_records_nothing(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let alice = users.register(conn, "alice@example.com", PASSWORD).unwrap();
        let refusing = drive(manager().with_hooks(RefuseUpdates));
        assert!(matches!(
            refusing.change_password(conn, &alice, PASSWORD, NEW_PASSWORD),
            Err(UsersError::Config(_))
        ));
        // Neither the password nor its event: both or neither.
        users
            .authenticate(conn, "alice@example.com", PASSWORD)
            .unwrap();
        let kinds = history(users.events(conn, &of(&alice)).unwrap());
        assert!(!kinds.contains(&EventKind::PasswordChanged), "{kinds:?}");
        // A registration refused by its store records no event either.
        assert!(matches!(
            users.register(conn, "ALICE@example.com", PASSWORD),
            Err(UsersError::EmailTaken)
        ));
        let everyone = EventQuery {
            kinds: vec![EventKind::Registered],
            limit: 100,
            ..EventQuery::default()
        };
        assert_eq!(users.events(conn, &everyone).unwrap().len(), 1);
    }

    fn a_login_flood_adds_a_row_per_client_and_minute_not_per_attempt(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let alice = users.register(conn, "alice@example.com", PASSWORD).unwrap();
        for (client, attempts) in [("203.0.113.1", 12), ("203.0.113.2", 5)] {
            for _ in 0..attempts {
                assert!(users
                    .authenticate_from(conn, Some(client), "alice@example.com", "wrong")
                    .is_err());
            }
        }
        let failures = users
            .events(
                conn,
                &EventQuery {
                    kinds: vec![EventKind::LoginFailed],
                    ..of(&alice)
                },
            )
            .unwrap();
        // Two clients, within at most two minutes (a minute may turn during the loop).
        assert!((2..=4).contains(&failures.len()), "{} rows", failures.len());
        let counted = |client: &str| -> u32 {
            failures
                .iter()
                .filter(|event| event.client.as_deref() == Some(client))
                .map(|event| event.count)
                .sum()
        };
        assert_eq!((counted("203.0.113.1"), counted("203.0.113.2")), (12, 5));
    }

    fn a_history_is_its_own_pages_by_cursor_and_filters_by_kind_and_time(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let alice = users.register(conn, "alice@example.com", PASSWORD).unwrap();
        let bob = users.register(conn, "bob@example.com", PASSWORD).unwrap();
        let policy = SessionPolicy::default();
        for _ in 0..3 {
            users
                .start_session(conn, &alice, SessionOrigin::default(), &policy)
                .unwrap();
        }
        let mine = users.events(conn, &of(&alice)).unwrap();
        assert_eq!(mine.len(), 4);
        assert!(mine
            .iter()
            .all(|event| Id::<User>::from(event.user_id) == alice.id));
        let bobs = history(users.events(conn, &of(&bob)).unwrap());
        assert_eq!(bobs, [EventKind::Registered]);

        let first = users
            .events(
                conn,
                &EventQuery {
                    limit: 3,
                    ..of(&alice)
                },
            )
            .unwrap();
        let rest = users
            .events(
                conn,
                &EventQuery {
                    before: Some(first[2].id),
                    ..of(&alice)
                },
            )
            .unwrap();
        let paged: Vec<_> = first.iter().chain(&rest).map(|event| event.id).collect();
        let all: Vec<_> = mine.iter().map(|event| event.id).collect();
        assert_eq!(paged, all);

        let sessions = EventQuery {
            kinds: vec![EventKind::SessionStarted],
            ..of(&alice)
        };
        assert_eq!(users.events(conn, &sessions).unwrap().len(), 3);
        let later = EventQuery {
            since: Some(SystemTime::now() + Duration::from_secs(60)),
            ..of(&alice)
        };
        assert!(users.events(conn, &later).unwrap().is_empty());
    }

    fn retention_deletes_only_older_events(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let alice = users.register(conn, "alice@example.com", PASSWORD).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let cut = SystemTime::now();
        std::thread::sleep(Duration::from_millis(20));
        users
            .start_session(
                conn,
                &alice,
                SessionOrigin::default(),
                &SessionPolicy::default(),
            )
            .unwrap();
        assert_eq!(users.delete_events_before(conn, cut).unwrap(), 1);
        assert_eq!(
            history(users.events(conn, &of(&alice)).unwrap()),
            [EventKind::SessionStarted]
        );
    }

    fn no_event_holds_a_secret(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let users = drive(manager());
        let alice = users.register(conn, "alice@example.com", PASSWORD).unwrap();
        let verification = users.verification_token(&alice).unwrap();
        let alice = users.verify(conn, &verification).unwrap();
        assert!(users
            .authenticate(conn, "alice@example.com", NEW_PASSWORD)
            .is_err());
        let session = users
            .start_session(
                conn,
                &alice,
                SessionOrigin::default(),
                &SessionPolicy::default(),
            )
            .unwrap();
        users
            .change_password(conn, &alice, PASSWORD, NEW_PASSWORD)
            .unwrap();
        let reset = users
            .password_reset_token(conn, "alice@example.com")
            .unwrap()
            .unwrap();
        let alice = users.reset_password(conn, &reset, PASSWORD).unwrap();
        let stored = format!("{:?}", users.events(conn, &of(&alice)).unwrap());
        for secret in [
            PASSWORD,
            NEW_PASSWORD,
            alice.password_hash.as_str(),
            &verification,
            &reset,
            &session.access_token,
            &session.refresh_token,
            &session.session.refresh_digest,
        ] {
            assert!(!stored.contains(secret), "an event holds {secret:?}");
        }
    }

    fn a_manager_that_does_not_record_writes_no_event(conn: _, db: _) {
        db.run_pending_migrations(migrations()).unwrap();
        let silent = drive(Users::<User, Role>::new(config()));
        let alice = silent
            .register(conn, "alice@example.com", PASSWORD)
            .unwrap();
        silent
            .start_session(
                conn,
                &alice,
                SessionOrigin::default(),
                &SessionPolicy::default(),
            )
            .unwrap();
        assert!(silent.events(conn, &of(&alice)).unwrap().is_empty());
    }
}
