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
use users_tests::{manager_tests, test_cases};

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

#[test_cases(manager_tests)]
mod cases {
    // Stored sessions and second factors: the operations users-axum uses, on both managers.

    fn sessions_rotate_refresh_tokens_and_end_on_demand(conn: _, db: _) {
        db.run_pending_migrations(Migrations::new().with::<User>().with::<Sessions<User>>())
            .expect("migrate");
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let policy = users_diesel::SessionPolicy::default();
        let origin = users_diesel::SessionOrigin {
            user_agent: Some("Test/1.0".into()),
            client: Some("127.0.0.1".into()),
        };
        let laptop = users
            .start_session(conn, &alice, origin.clone(), &policy)
            .unwrap();
        let phone = users.start_session(conn, &alice, origin, &policy).unwrap();
        let listed = users.sessions(conn, &alice).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].id, phone.session.id, "newest first");
        assert_eq!(listed[1].user_agent.as_deref(), Some("Test/1.0"));
        // Rotation, then the retired token replayed: the session ends.
        let renewed = users
            .refresh_session(conn, &phone.refresh_token, &policy)
            .unwrap();
        assert_eq!(renewed.session.id, phone.session.id);
        assert!(matches!(
            users.refresh_session(conn, &phone.refresh_token, &policy),
            Err(UsersError::InvalidToken)
        ));
        assert!(users
            .refresh_session(conn, &renewed.refresh_token, &policy)
            .is_err());
        assert_eq!(users.sessions(conn, &alice).unwrap().len(), 1);
        let tablet = users
            .start_session(
                conn,
                &alice,
                users_diesel::SessionOrigin::default(),
                &policy,
            )
            .unwrap();
        assert_eq!(
            users
                .end_other_sessions(conn, &alice, tablet.session.id)
                .unwrap(),
            1
        );
        assert!(users
            .refresh_session(conn, &laptop.refresh_token, &policy)
            .is_err());
        assert_eq!(users.end_all_sessions(conn, alice.id).unwrap(), 1);
        assert!(users.sessions(conn, &alice).unwrap().is_empty());
    }

    fn a_totp_login_takes_each_code_and_pending_token_once(conn: _, db: _) {
        db.run_pending_migrations(
            Migrations::new()
                .with::<User>()
                .with::<SecondFactors<User>>(),
        )
        .expect("migrate");
        let users = drive(manager());
        let mut alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        // A factor is set up on a proved address only.
        assert_err!(
            users.enroll_totp(conn, &alice, "Example"),
            UsersError::UnverifiedUser
        );
        alice.is_verified = true;
        let alice = users.update(conn, &alice).unwrap();
        assert!(users
            .second_factor_challenge(conn, &alice)
            .unwrap()
            .is_none());
        let enrollment = users.enroll_totp(conn, &alice, "Example").unwrap();
        // Unconfirmed, it is not asked for.
        assert!(users
            .second_factor_challenge(conn, &alice)
            .unwrap()
            .is_none());
        let now = std::time::SystemTime::now();
        let code = |offset: i64| {
            let step = Duration::from_secs(30 * offset.unsigned_abs());
            let at = if offset < 0 { now - step } else { now + step };
            users_diesel::totp_code(&enrollment.secret, at).unwrap()
        };
        assert!(matches!(
            users.confirm_totp(conn, None, &alice, "000000"),
            Err(UsersError::InvalidCredentials)
        ));
        let recovery = users.confirm_totp(conn, None, &alice, &code(-1)).unwrap();
        assert_eq!(recovery.len(), 10);

        let challenge = users
            .second_factor_challenge(conn, &alice)
            .unwrap()
            .unwrap();
        use users_diesel::SecondFactorProof::Totp;
        let (now_code, next_code) = (code(0), code(1));
        let done = users
            .complete_second_factor(conn, None, &challenge.token, Totp(&now_code))
            .unwrap();
        assert_eq!(done.id, alice.id);
        // The token once; the code once.
        assert!(matches!(
            users.complete_second_factor(conn, None, &challenge.token, Totp(&next_code)),
            Err(UsersError::InvalidToken)
        ));
        let again = users
            .second_factor_challenge(conn, &alice)
            .unwrap()
            .unwrap();
        assert!(matches!(
            users.complete_second_factor(conn, None, &again.token, Totp(&now_code)),
            Err(UsersError::InvalidCredentials)
        ));
        let recovery_code = users_diesel::SecondFactorProof::RecoveryCode(&recovery[0]);
        users
            .complete_second_factor(conn, None, &again.token, recovery_code)
            .unwrap();
        // The sealed secret is no secret in the table.
        let stored: String = diesel::sql_query("SELECT totp_secret FROM users_second_factors")
            .get_result::<SecretColumn>(db)
            .unwrap()
            .totp_secret;
        assert!(!stored.contains(&enrollment.secret));
        assert!(users.remove_totp(conn, &alice).unwrap());
        assert!(users
            .second_factor_challenge(conn, &alice)
            .unwrap()
            .is_none());
    }

    // The first proof of an address (#27): what was set up before it goes, in its transaction.

    fn the_first_proof_clears_what_was_set_up_before(conn: _, db: _) {
        let migrations = Migrations::new()
            .with::<User>()
            .with::<Sessions<User>>()
            .with::<SecondFactors<User>>()
            .with::<OAuthAccounts<User>>();
        db.run_pending_migrations(migrations).expect("migrate");
        let users = drive(manager().first_proof_clears(users_diesel::FirstProofClears::ALL));
        let policy = users_diesel::SessionPolicy::default();
        let origin = users_diesel::SessionOrigin::default;
        let identity = users_diesel::ProviderIdentity {
            provider: "corp".into(),
            subject: "squatter".into(),
            email: Some("squatter@example.org".into()),
            email_verified: true,
            tokens: None,
        };
        // Set up as if before the rules: verified for the enrolment, then unverified again.
        let mut alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        assert_err!(
            users.enroll_totp(conn, &alice, "Example"),
            UsersError::UnverifiedUser
        );
        alice.is_verified = true;
        let mut alice = users.update(conn, &alice).unwrap();
        let enrollment = users.enroll_totp(conn, &alice, "Example").unwrap();
        let code =
            users_diesel::totp_code(&enrollment.secret, std::time::SystemTime::now()).unwrap();
        users.confirm_totp(conn, None, &alice, &code).unwrap();
        users.link_oauth(conn, &alice, &identity).unwrap();
        users
            .start_session(conn, &alice, origin(), &policy)
            .unwrap();
        alice.is_verified = false;
        let alice = users.update(conn, &alice).unwrap();
        assert!(users
            .second_factor_challenge(conn, &alice)
            .unwrap()
            .is_some());
        // Unverified: nothing more may be set up.
        assert_err!(
            users.enroll_totp(conn, &alice, "Example"),
            UsersError::UnverifiedUser
        );
        assert_err!(
            users.link_oauth(conn, &alice, &identity),
            UsersError::UnverifiedUser
        );

        let token = users.verification_token(&alice).unwrap();
        let alice = users.verify(conn, &token).unwrap();
        assert!(alice.is_verified);
        assert!(users
            .second_factor_challenge(conn, &alice)
            .unwrap()
            .is_none());
        assert!(users.oauth_accounts(conn, &alice).unwrap().is_empty());
        assert!(users.sessions(conn, &alice).unwrap().is_empty());
    }

    fn a_reset_of_an_unverified_account_verifies_and_clears(conn: _, db: _) {
        let migrations = Migrations::new()
            .with::<User>()
            .with::<Sessions<User>>()
            .with::<SecondFactors<User>>()
            .with::<OAuthAccounts<User>>();
        db.run_pending_migrations(migrations).expect("migrate");
        let users = drive(manager().first_proof_clears(users_diesel::FirstProofClears::ALL));
        let policy = users_diesel::SessionPolicy::default();
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        users
            .start_session(
                conn,
                &alice,
                users_diesel::SessionOrigin::default(),
                &policy,
            )
            .unwrap();
        let token = users.password_reset_token(conn, EMAIL).unwrap().unwrap();
        let alice = users.reset_password(conn, &token, NEW_PASSWORD).unwrap();
        assert!(alice.is_verified, "the reset proved the address");
        assert!(users.sessions(conn, &alice).unwrap().is_empty());
        // A manager told nothing clears nothing (its tables may not exist).
        let plain = drive(manager());
        let bob = plain.register(conn, "bob@example.com", PASSWORD).unwrap();
        plain
            .start_session(conn, &bob, users_diesel::SessionOrigin::default(), &policy)
            .unwrap();
        let token = plain
            .password_reset_token(conn, "bob@example.com")
            .unwrap()
            .unwrap();
        let bob = plain.reset_password(conn, &token, NEW_PASSWORD).unwrap();
        assert!(bob.is_verified);
        assert_eq!(plain.sessions(conn, &bob).unwrap().len(), 1);
    }

    // Provider accounts ("sign in with …"): the linking rules, on both managers.

    fn provider_sign_in_follows_the_linking_rules(conn: _, db: _) {
        let migrations = Migrations::new()
            .with::<User>()
            .with::<SecondFactors<User>>()
            .with::<OAuthAccounts<User>>();
        db.run_pending_migrations(migrations).expect("migrate");
        let users = drive(manager());
        let at = |provider: &str, subject: &str, email: Option<&str>, verified: bool| {
            users_diesel::ProviderIdentity {
                provider: provider.into(),
                subject: subject.into(),
                email: email.map(Into::into),
                email_verified: verified,
                tokens: None,
            }
        };
        use users_diesel::OAuthSignIn::{Linked, Registered, SignedIn};

        // A new person: a user without a password, verified as the provider says.
        let jane = match users
            .oauth_sign_in(conn, &at("corp", "1", Some("Jane@Example.COM"), true))
            .unwrap()
        {
            Registered(user) => user,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            (jane.email.as_str(), jane.is_verified),
            ("jane@example.com", true)
        );
        assert!(!users_diesel::has_usable_password(&jane.password_hash));
        assert_err!(
            users.authenticate(conn, "jane@example.com", &jane.password_hash),
            UsersError::InvalidCredentials
        );
        let again = users
            .oauth_sign_in(conn, &at("corp", "1", Some("jane@example.com"), true))
            .unwrap();
        assert_eq!(again, SignedIn(jane.clone()));
        let unverified = users
            .oauth_sign_in(conn, &at("corp", "9", Some("new@example.com"), false))
            .unwrap();
        assert!(matches!(unverified, Registered(user) if !user.is_verified));
        assert_err!(
            users.oauth_sign_in(conn, &at("corp", "8", None, true)),
            UsersError::InvalidEmail(_)
        );
        assert_err!(
            users.oauth_sign_in(
                conn,
                &at("corp", &"s".repeat(256), Some("x@example.com"), true)
            ),
            UsersError::InvalidToken
        );

        // A local account with the address: linked only when both sides verified it.
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        assert_err!(
            users.oauth_sign_in(conn, &at("corp", "2", Some(EMAIL), true)),
            UsersError::EmailTaken
        );
        let token = users.verification_token(&alice).unwrap();
        let alice = users.verify(conn, &token).unwrap();
        assert_err!(
            users.oauth_sign_in(conn, &at("corp", "2", Some(EMAIL), false)),
            UsersError::EmailTaken
        );
        assert!(
            users.oauth_accounts(conn, &alice).unwrap().is_empty(),
            "a refusal links nothing"
        );
        assert_eq!(
            users
                .oauth_sign_in(conn, &at("corp", "2", Some(EMAIL), true))
                .unwrap(),
            Linked(alice.clone())
        );
        assert_eq!(user_count!(db), 3);

        // Linking by a logged-in user: any address; one account per provider; an account of
        // one user only.
        let github = users
            .link_oauth(
                conn,
                &jane,
                &at("github", "77", Some("jane@work.example"), false),
            )
            .unwrap();
        assert_eq!(
            (github.user_id, github.provider.as_str()),
            (jane.id.into(), "github")
        );
        assert_err!(
            users.link_oauth(conn, &alice, &at("github", "77", None, false)),
            UsersError::Conflict { column: "subject" }
        );
        assert_err!(
            users.link_oauth(conn, &jane, &at("github", "78", None, false)),
            UsersError::Conflict { column: "provider" }
        );
        let listed = users.oauth_accounts(conn, &jane).unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|a| a.provider.as_str())
                .collect::<Vec<_>>(),
            ["corp", "github"]
        );

        // Unlinking: never the last way to sign in.
        assert!(users.unlink_oauth(conn, &jane, "corp").unwrap());
        assert!(!users.unlink_oauth(conn, &jane, "corp").unwrap());
        assert_err!(
            users.unlink_oauth(conn, &jane, "github"),
            UsersError::LastSignInMethod
        );
        users
            .add_passkey(conn, &jane, "credential-id", "{}", Some("phone"))
            .unwrap();
        assert!(users.unlink_oauth(conn, &jane, "github").unwrap());
        // Alice has a password.
        assert!(users.unlink_oauth(conn, &alice, "corp").unwrap());
        // Deleting a user deletes their accounts (ON DELETE CASCADE).
        users
            .link_oauth(conn, &alice, &at("corp", "2", Some(EMAIL), true))
            .unwrap();
        users.delete(conn, alice.id).unwrap();
        let left = users
            .oauth_sign_in(conn, &at("corp", "2", Some(EMAIL), true))
            .unwrap();
        assert!(matches!(left, Registered(user) if user.id != alice.id));
    }

    fn kept_provider_tokens_are_sealed_in_the_table(conn: _, db: _) {
        db.run_pending_migrations(
            Migrations::new()
                .with::<User>()
                .with::<OAuthAccounts<User>>(),
        )
        .expect("migrate");
        let users = drive(manager());
        let tokens = users_diesel::ProviderTokens {
            access_token: "provider-access-token".into(),
            refresh_token: Some("provider-refresh-token".into()),
            expires_at: Some(
                std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000),
            ),
        };
        let identity = users_diesel::ProviderIdentity {
            provider: "corp".into(),
            subject: "1".into(),
            email: Some(EMAIL.into()),
            email_verified: true,
            tokens: Some(tokens.clone()),
        };
        let user = users.oauth_sign_in(conn, &identity).unwrap().into_user();
        let account = users.oauth_accounts(conn, &user).unwrap().remove(0);
        assert_eq!(users.provider_tokens(&account).unwrap(), Some(tokens));
        let stored: String =
            diesel::sql_query("SELECT access_token AS totp_secret FROM users_oauth_accounts")
                .get_result::<SecretColumn>(db)
                .unwrap()
                .totp_secret;
        assert!(!stored.contains("provider-access-token"), "{stored}");
    }

    // Registration.

    fn register_normalises_the_email_and_stores_the_user(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users
            .register(conn, "  Alice@Example.COM\t", PASSWORD)
            .unwrap();
        assert_eq!(alice.email, EMAIL);
        assert!(alice.is_active);
        assert!(!alice.is_verified);
        assert!(alice.password_hash.starts_with("$argon2id$v=19$"));
        assert!(!alice.password_hash.contains(PASSWORD));
        assert_eq!(alice.id.get_version_num(), 7);

        let stored: User = users::table.find(alice.id).first(db).unwrap();
        assert_eq!(stored, alice);
        assert_eq!(user_count!(db), 1);
    }

    fn register_refuses_a_case_variant_of_a_taken_email(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        assert_err!(
            users.register(conn, " ALICE@example.COM ", NEW_PASSWORD),
            UsersError::EmailTaken
        );
        assert_err!(
            users.register(conn, EMAIL, NEW_PASSWORD),
            UsersError::EmailTaken
        );
        assert_eq!(user_count!(db), 1);
        let stored: User = users::table.first(db).unwrap();
        assert_eq!(stored, alice);
        users.authenticate(conn, EMAIL, PASSWORD).unwrap();
        assert_err!(
            users.authenticate(conn, EMAIL, NEW_PASSWORD),
            UsersError::InvalidCredentials
        );
    }

    fn register_refuses_a_malformed_email(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        for email in [
            "",
            "   ",
            "alice",
            "alice@",
            "@example.com",
            "a@b@c",
            "al ice@example.com",
        ] {
            assert_err!(
                users.register(conn, email, PASSWORD),
                UsersError::InvalidEmail(_)
            );
        }
        assert_eq!(user_count!(db), 0);
    }

    fn register_with_sets_custom_fields_and_defaults_apply_otherwise(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let bob = users
            .register_with(conn, "Bob@Example.com", PASSWORD, |user| {
                user.display_name = Some("Bob".to_owned());
                user.token_count = 3;
                user.plan = "pro".to_owned();
                // The manager owns these: they are reset whatever the closure does.
                user.email = "mallory@example.com".to_owned();
                user.password_hash = "not a hash".to_owned();
                user.is_active = false;
                user.is_verified = true;
            })
            .unwrap();
        let stored = users.get(conn, bob.id).unwrap().expect("bob is stored");
        assert_eq!(stored, bob);
        assert_eq!(stored.display_name.as_deref(), Some("Bob"));
        assert_eq!(stored.token_count, 3);
        assert_eq!(stored.plan, "pro");
        assert_eq!(stored.email, "bob@example.com");
        assert!(stored.is_active);
        assert!(!stored.is_verified);
        users
            .authenticate(conn, "bob@example.com", PASSWORD)
            .unwrap();

        let carol = users.register(conn, "carol@example.com", PASSWORD).unwrap();
        let stored = users.get(conn, carol.id).unwrap().expect("carol is stored");
        assert_eq!(stored.display_name, None);
        assert_eq!(stored.token_count, 0);
        assert_eq!(stored.plan, "reader");
    }

    // Logging in.

    fn authenticate_accepts_only_the_right_password(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();

        let logged_in = users
            .authenticate(conn, " Alice@EXAMPLE.com ", PASSWORD)
            .unwrap();
        assert_eq!(logged_in, alice);
        assert_err!(
            users.authenticate(conn, EMAIL, "correct horse battery stapl"),
            UsersError::InvalidCredentials
        );
        assert_err!(
            users.authenticate(conn, EMAIL, &PASSWORD.to_uppercase()),
            UsersError::InvalidCredentials
        );
        assert_err!(
            users.authenticate(conn, "bob@example.com", PASSWORD),
            UsersError::InvalidCredentials
        );
        // A malformed address belongs to nobody: the same answer, not InvalidEmail.
        assert_err!(
            users.authenticate(conn, "not an email", PASSWORD),
            UsersError::InvalidCredentials
        );
    }

    fn an_inactive_user_is_told_so_only_with_the_right_password(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let alice = users
            .update(
                conn,
                &User {
                    is_active: false,
                    ..alice
                },
            )
            .unwrap();
        assert!(!alice.is_active);

        assert_err!(
            users.authenticate(conn, EMAIL, PASSWORD),
            UsersError::InactiveUser
        );
        assert_err!(
            users.authenticate(conn, EMAIL, NEW_PASSWORD),
            UsersError::InvalidCredentials
        );

        users
            .update(
                conn,
                &User {
                    is_active: true,
                    ..alice
                },
            )
            .unwrap();
        users.authenticate(conn, EMAIL, PASSWORD).unwrap();
    }

    fn require_verified_refuses_unverified_users_until_they_verify(conn: _, db: _) {
        migrate(db);
        let users = drive(Users::<User>::new(config().require_verified(true)));
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();

        assert_err!(
            users.authenticate(conn, EMAIL, PASSWORD),
            UsersError::UnverifiedUser
        );
        assert_err!(
            users.authenticate(conn, EMAIL, NEW_PASSWORD),
            UsersError::InvalidCredentials
        );
        // Inactive comes first.
        let inactive = users
            .update(
                conn,
                &User {
                    is_active: false,
                    ..alice.clone()
                },
            )
            .unwrap();
        assert_err!(
            users.authenticate(conn, EMAIL, PASSWORD),
            UsersError::InactiveUser
        );
        users
            .update(
                conn,
                &User {
                    is_active: true,
                    ..inactive
                },
            )
            .unwrap();

        let token = users.verification_token(&alice).unwrap();
        users.verify(conn, &token).unwrap();
        let logged_in = users.authenticate(conn, EMAIL, PASSWORD).unwrap();
        assert!(logged_in.is_verified);

        // Without the requirement, an unverified user logs in.
        users.register(conn, "bob@example.com", PASSWORD).unwrap();
        assert_err!(
            users.authenticate(conn, "bob@example.com", PASSWORD),
            UsersError::UnverifiedUser
        );
        drive(manager())
            .authenticate(conn, "bob@example.com", PASSWORD)
            .unwrap();
    }

    fn login_rehashes_an_outdated_hash_in_place(conn: _, db: _) {
        migrate(db);
        let cheap = drive(manager());
        let alice = cheap.register(conn, EMAIL, PASSWORD).unwrap();
        let cheap_hash = stored_hash!(db, alice.id);
        assert!(cheap_hash.contains(CHEAP_PARAMS), "{cheap_hash}");

        let current = drive(Users::<User>::new(UsersConfig::new(SECRET).unwrap()));
        // A failed login changes nothing.
        assert_err!(
            current.authenticate(conn, EMAIL, NEW_PASSWORD),
            UsersError::InvalidCredentials
        );
        assert_eq!(stored_hash!(db, alice.id), cheap_hash);

        let logged_in = current.authenticate(conn, EMAIL, PASSWORD).unwrap();
        let upgraded = stored_hash!(db, alice.id);
        assert!(upgraded.starts_with("$argon2id$v=19$"), "{upgraded}");
        assert!(upgraded.contains(DEFAULT_PARAMS), "{upgraded}");
        assert_eq!(logged_in.password_hash, upgraded);
        assert_eq!(
            User {
                password_hash: cheap_hash,
                ..logged_in
            },
            alice
        );

        // The upgraded hash is current: the next login keeps it.
        current.authenticate(conn, EMAIL, PASSWORD).unwrap();
        assert_eq!(stored_hash!(db, alice.id), upgraded);
        assert_err!(
            current.authenticate(conn, EMAIL, NEW_PASSWORD),
            UsersError::InvalidCredentials
        );
    }

    // Reading.

    fn get_and_find_by_email(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let bob = users.register(conn, "bob@example.com", PASSWORD).unwrap();

        assert_eq!(users.get(conn, alice.id).unwrap(), Some(alice.clone()));
        assert_eq!(users.get(conn, bob.id).unwrap(), Some(bob.clone()));
        assert_eq!(users.get(conn, Id::new()).unwrap(), None);

        assert_eq!(
            users.find_by_email(conn, EMAIL).unwrap(),
            Some(alice.clone())
        );
        assert_eq!(
            users.find_by_email(conn, "  ALICE@Example.Com ").unwrap(),
            Some(alice)
        );
        assert_eq!(
            users.find_by_email(conn, "BOB@example.com").unwrap(),
            Some(bob)
        );
        assert_eq!(
            users.find_by_email(conn, "carol@example.com").unwrap(),
            None
        );
        assert_err!(
            users.find_by_email(conn, "not an email"),
            UsersError::InvalidEmail(_)
        );
    }

    // Updating.

    fn update_persists_custom_fields_and_keeps_verification(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let alice = users
            .verify(conn, &users.verification_token(&alice).unwrap())
            .unwrap();

        let requested = User {
            display_name: Some("Alice".to_owned()),
            token_count: 7,
            plan: "pro".to_owned(),
            ..alice.clone()
        };
        let updated = users.update(conn, &requested).unwrap();
        assert_eq!(updated, requested);
        let stored: User = users::table.find(alice.id).first(db).unwrap();
        assert_eq!(stored, requested);
        assert!(stored.is_verified);

        // The same address in another case is no change of email.
        let updated = users
            .update(
                conn,
                &User {
                    email: "ALICE@Example.com".to_owned(),
                    ..stored.clone()
                },
            )
            .unwrap();
        assert_eq!(updated, stored);
        assert_eq!(users.get(conn, alice.id).unwrap(), Some(stored.clone()));

        // An update that changes nothing still succeeds and returns the row.
        assert_eq!(users.update(conn, &stored).unwrap(), stored);
    }

    fn update_refuses_an_email_change_and_set_email_makes_one(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let alice = users
            .verify(conn, &users.verification_token(&alice).unwrap())
            .unwrap();
        users.register(conn, "bob@example.com", PASSWORD).unwrap();

        // A stolen session must not move the account to another address: `update` refuses.
        let moved = User {
            email: "mallory@example.com".to_owned(),
            ..alice.clone()
        };
        assert_err!(users.update(conn, &moved), UsersError::PasswordRequired);
        assert_err!(
            users.update(
                conn,
                &User {
                    email: "no at sign".to_owned(),
                    ..alice.clone()
                }
            ),
            UsersError::InvalidEmail(_)
        );
        // The same address, written differently, is no change.
        let same = User {
            email: " ALICE@example.com ".to_owned(),
            ..alice.clone()
        };
        assert_eq!(users.update(conn, &same).unwrap(), alice);
        assert_eq!(users.get(conn, alice.id).unwrap(), Some(alice.clone()));

        // An administrator's change: at once, unverified, and a taken address changes nothing.
        assert_err!(
            users.set_email(conn, &alice, "BOB@example.com"),
            UsersError::EmailTaken
        );
        let updated = users
            .set_email(conn, &alice, " Alice@NEW.example ")
            .unwrap();
        assert_eq!(updated.email, "alice@new.example");
        assert!(!updated.is_verified);
        assert_eq!(users.get(conn, alice.id).unwrap(), Some(updated));
        users
            .authenticate(conn, "Alice@New.Example", PASSWORD)
            .unwrap();
    }

    fn an_email_change_needs_the_password_and_waits_for_the_new_address(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let old_verification = users.verification_token(&alice).unwrap();
        let old_reset = users
            .password_reset_token(conn, EMAIL)
            .unwrap()
            .expect("a token");
        users.register(conn, "bob@example.com", PASSWORD).unwrap();

        let new = "Alice@Example.ORG";
        assert_err!(
            users.request_email_change(conn, &alice, "not the password", new),
            UsersError::InvalidCredentials
        );
        assert_err!(
            users.request_email_change(conn, &alice, PASSWORD, "bob@EXAMPLE.com"),
            UsersError::EmailTaken
        );
        assert_err!(
            users.request_email_change(conn, &alice, PASSWORD, " alice@example.com"),
            UsersError::InvalidEmail(_)
        );
        assert_eq!(
            users.get(conn, alice.id).unwrap(),
            Some(alice.clone()),
            "refusals change nothing"
        );

        let change = users
            .request_email_change(conn, &alice, PASSWORD, new)
            .unwrap();
        // Pending: the account keeps its address, and the password still works.
        let pending = users.get(conn, alice.id).unwrap().expect("alice is stored");
        assert_eq!(pending.email, EMAIL);
        users.authenticate(conn, EMAIL, PASSWORD).unwrap();
        // The tokens issued before the request are dead.
        assert_err!(
            users.verify(conn, &old_verification),
            UsersError::InvalidToken
        );
        assert_err!(
            users.reset_password(conn, &old_reset, NEW_PASSWORD),
            UsersError::InvalidToken
        );

        let moved = users.verify(conn, &change).unwrap();
        assert_eq!(moved.email, "alice@example.org");
        assert!(moved.is_verified);
        assert_err!(users.verify(conn, &change), UsersError::InvalidToken);
        users
            .authenticate(conn, "alice@example.org", PASSWORD)
            .unwrap();
        assert_eq!(users.find_by_email(conn, EMAIL).unwrap(), None);

        // X → Y → X: the first address's old token stays dead.
        let back = users
            .request_email_change(conn, &moved, PASSWORD, EMAIL)
            .unwrap();
        assert_eq!(users.verify(conn, &back).unwrap().email, EMAIL);
        assert_err!(
            users.verify(conn, &old_verification),
            UsersError::InvalidToken
        );

        // A change token for an address taken meanwhile changes nothing.
        let alice = users.get(conn, alice.id).unwrap().expect("alice is stored");
        let late = users
            .request_email_change(conn, &alice, PASSWORD, "carol@example.com")
            .unwrap();
        users.register(conn, "carol@example.com", PASSWORD).unwrap();
        assert_err!(users.verify(conn, &late), UsersError::EmailTaken);
        assert_eq!(
            users.get(conn, alice.id).unwrap().expect("alice").email,
            EMAIL
        );
    }

    fn a_deactivated_user_gets_no_reset_token_and_cannot_verify_or_reset(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let verification = users.verification_token(&alice).unwrap();
        let reset = users
            .password_reset_token(conn, EMAIL)
            .unwrap()
            .expect("a token");
        let inactive = users
            .update(
                conn,
                &User {
                    is_active: false,
                    ..alice.clone()
                },
            )
            .unwrap();
        assert!(!inactive.is_active);

        assert_eq!(users.password_reset_token(conn, EMAIL).unwrap(), None);
        assert_err!(users.verify(conn, &verification), UsersError::InactiveUser);
        assert_err!(
            users.reset_password(conn, &reset, NEW_PASSWORD),
            UsersError::InactiveUser
        );
        assert_err!(
            users.request_email_change(conn, &inactive, PASSWORD, "new@example.com"),
            UsersError::InactiveUser
        );
        assert_eq!(users.get(conn, alice.id).unwrap(), Some(inactive.clone()));

        // Active again, the same tokens work.
        users
            .update(
                conn,
                &User {
                    is_active: true,
                    ..inactive
                },
            )
            .unwrap();
        assert!(users.verify(conn, &verification).unwrap().is_verified);
        users.reset_password(conn, &reset, NEW_PASSWORD).unwrap();
    }

    fn hide_account_state_makes_a_blocked_login_invalid_credentials(conn: _, db: _) {
        migrate(db);
        let plain = drive(Users::<User>::new(config().require_verified(true)));
        let hiding = drive(Users::<User>::new(
            config().require_verified(true).hide_account_state(true),
        ));
        let alice = plain.register(conn, EMAIL, PASSWORD).unwrap();
        assert_err!(
            plain.authenticate(conn, EMAIL, PASSWORD),
            UsersError::UnverifiedUser
        );
        assert_err!(
            hiding.authenticate(conn, EMAIL, PASSWORD),
            UsersError::InvalidCredentials
        );
        let alice = plain
            .verify(conn, &plain.verification_token(&alice).unwrap())
            .unwrap();
        plain
            .update(
                conn,
                &User {
                    is_active: false,
                    ..alice
                },
            )
            .unwrap();
        assert_err!(
            plain.authenticate(conn, EMAIL, PASSWORD),
            UsersError::InactiveUser
        );
        assert_err!(
            hiding.authenticate(conn, EMAIL, PASSWORD),
            UsersError::InvalidCredentials
        );
    }

    fn tokens_of_a_previous_secret_work_after_a_rotation(conn: _, db: _) {
        migrate(db);
        let before = drive(manager());
        let alice = before.register(conn, EMAIL, PASSWORD).unwrap();
        let verification = before.verification_token(&alice).unwrap();
        let reset = before
            .password_reset_token(conn, EMAIL)
            .unwrap()
            .expect("a token");

        let rotated = |previous: &[&str]| {
            UsersConfig::new(OTHER_SECRET)
                .and_then(|config| config.argon2_params(8, 1, 1))
                .and_then(|config| config.previous_secrets(previous))
                .unwrap()
        };
        // Without the retired secret its tokens are dead; with it they work, and new tokens
        // are signed with the new secret only.
        let forgetful = drive(Users::<User>::new(rotated(&[])));
        assert_err!(
            forgetful.verify(conn, &verification),
            UsersError::InvalidToken
        );
        let after = drive(Users::<User>::new(rotated(&[SECRET])));
        assert!(after.verify(conn, &verification).unwrap().is_verified);
        after.reset_password(conn, &reset, NEW_PASSWORD).unwrap();
        let fresh = after
            .password_reset_token(conn, EMAIL)
            .unwrap()
            .expect("a token");
        assert_err!(
            before.reset_password(conn, &fresh, PASSWORD),
            UsersError::InvalidToken
        );
        forgetful.reset_password(conn, &fresh, PASSWORD).unwrap();
    }

    fn update_cannot_change_the_password_hash(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let other = users
            .register(conn, "bob@example.com", NEW_PASSWORD)
            .unwrap();

        let updated = users
            .update(
                conn,
                &User {
                    password_hash: other.password_hash.clone(),
                    token_count: 1,
                    ..alice.clone()
                },
            )
            .unwrap();
        assert_eq!(updated.password_hash, alice.password_hash);
        assert_eq!(updated.token_count, 1);
        assert_eq!(stored_hash!(db, alice.id), alice.password_hash);
        users.authenticate(conn, EMAIL, PASSWORD).unwrap();
        assert_err!(
            users.authenticate(conn, EMAIL, NEW_PASSWORD),
            UsersError::InvalidCredentials
        );
    }

    fn changes_to_a_missing_user_are_user_not_found(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        users.delete(conn, alice.id).unwrap();

        assert_err!(users.update(conn, &alice), UsersError::UserNotFound);
        assert_err!(
            users.change_password(conn, &alice, PASSWORD, NEW_PASSWORD),
            UsersError::UserNotFound
        );
        assert_err!(
            users.set_password(conn, &alice, NEW_PASSWORD),
            UsersError::UserNotFound
        );
        assert_eq!(user_count!(db), 0);
    }

    // Passwords.

    fn change_password_needs_the_current_password(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();

        assert_err!(
            users.change_password(conn, &alice, "not the password", NEW_PASSWORD),
            UsersError::InvalidCredentials
        );
        assert_eq!(stored_hash!(db, alice.id), alice.password_hash);
        assert_err!(
            users.change_password(conn, &alice, PASSWORD, "short"),
            UsersError::InvalidPassword(_)
        );
        assert_eq!(stored_hash!(db, alice.id), alice.password_hash);

        let changed = users
            .change_password(conn, &alice, PASSWORD, NEW_PASSWORD)
            .unwrap();
        assert_ne!(changed.password_hash, alice.password_hash);
        assert_eq!(stored_hash!(db, alice.id), changed.password_hash);
        // Only the hash changed.
        assert_eq!(
            User {
                password_hash: alice.password_hash.clone(),
                ..changed
            },
            alice
        );

        users.authenticate(conn, EMAIL, NEW_PASSWORD).unwrap();
        assert_err!(
            users.authenticate(conn, EMAIL, PASSWORD),
            UsersError::InvalidCredentials
        );
    }

    fn set_password_replaces_the_password_without_the_current_one(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();

        assert_err!(
            users.set_password(conn, &alice, "1234567"),
            UsersError::InvalidPassword(_)
        );
        assert_eq!(stored_hash!(db, alice.id), alice.password_hash);

        let changed = users.set_password(conn, &alice, NEW_PASSWORD).unwrap();
        assert_eq!(stored_hash!(db, alice.id), changed.password_hash);
        assert_eq!(
            User {
                password_hash: alice.password_hash.clone(),
                ..changed
            },
            alice
        );
        users.authenticate(conn, EMAIL, NEW_PASSWORD).unwrap();
        assert_err!(
            users.authenticate(conn, EMAIL, PASSWORD),
            UsersError::InvalidCredentials
        );
    }

    fn password_length_is_bounded_in_characters_and_bytes(conn: _, db: _) {
        migrate(db);
        // The length bounds alone: the strength estimate, which "12345678" fails, is off.
        let users = drive(Users::<User>::new(config().password_strength(0).unwrap()));
        let too_short = [
            "1234567".to_owned(),
            "é".repeat(7),  // 14 bytes, but 7 characters
            "🦀".repeat(4), // 16 bytes, 4 characters
        ];
        let too_long = [
            "a".repeat(4097),
            "é".repeat(2048) + "a", // 4097 bytes in 2049 characters
            "a".repeat(4095) + "é", // 4097 bytes
        ];
        for (i, password) in too_short.iter().chain(&too_long).enumerate() {
            assert_err!(
                users.register(conn, &format!("rejected{i}@example.com"), password),
                UsersError::InvalidPassword(_)
            );
        }
        assert_eq!(user_count!(db), 0);

        let fine = [
            "12345678".to_owned(),
            "é".repeat(8),
            "a".repeat(4096),
            "é".repeat(2048),
        ];
        for (i, password) in fine.iter().enumerate() {
            let email = format!("accepted{i}@example.com");
            users.register(conn, &email, password).unwrap();
            users.authenticate(conn, &email, password).unwrap();
        }
        assert_eq!(user_count!(db), 4);

        // The same bounds hold for every way of setting a password.
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        for password in too_short.iter().chain(&too_long) {
            assert_err!(
                users.set_password(conn, &alice, password),
                UsersError::InvalidPassword(_)
            );
            assert_err!(
                users.change_password(conn, &alice, PASSWORD, password),
                UsersError::InvalidPassword(_)
            );
        }
        assert_eq!(stored_hash!(db, alice.id), alice.password_hash);
    }

    fn register_refuses_a_weak_password_and_stores_nothing(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        for weak in ["password", "qwertyuiop", "iloveyou123", "alice@example.com"] {
            assert_err!(
                users.register(conn, EMAIL, weak),
                UsersError::InvalidPassword(PasswordProblem::TooWeak { score, required: 3, .. })
                    if score < 3
            );
        }
        // Hard to guess for a stranger, but made of the user's own email or profile words.
        let email = "zygmunt.krasicki@example.com";
        assert_err!(
            users.register(conn, email, "krasickizygmunt"),
            UsersError::InvalidPassword(PasswordProblem::TooWeak { .. })
        );
        assert_err!(
            users.register_with(conn, email, "Wolfenbüttel Quartet", |user| {
                user.display_name = Some("Wolfenbüttel Quartet".to_owned());
            }),
            UsersError::InvalidPassword(PasswordProblem::TooWeak { .. })
        );
        assert_eq!(user_count!(db), 0);

        // Neither is weak for another user, nor a strong password for this one.
        users
            .register(conn, "someone@example.com", "Wolfenbüttel Quartet")
            .unwrap();
        let zygmunt = users.register(conn, email, PASSWORD).unwrap();
        assert_eq!(user_count!(db), 2);
        // Every new password is judged the same way, with the stored user's words.
        for weak in ["password", "krasickizygmunt"] {
            assert_err!(
                users.set_password(conn, &zygmunt, weak),
                UsersError::InvalidPassword(PasswordProblem::TooWeak { .. })
            );
            assert_err!(
                users.change_password(conn, &zygmunt, PASSWORD, weak),
                UsersError::InvalidPassword(PasswordProblem::TooWeak { .. })
            );
        }
        assert_eq!(stored_hash!(db, zygmunt.id), zygmunt.password_hash);
    }

    // Deleting.

    fn delete_removes_the_user_once(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let bob = users.register(conn, "bob@example.com", PASSWORD).unwrap();

        users.delete(conn, alice.id).unwrap();
        assert_eq!(users.get(conn, alice.id).unwrap(), None);
        assert_eq!(users.find_by_email(conn, EMAIL).unwrap(), None);
        assert_err!(
            users.authenticate(conn, EMAIL, PASSWORD),
            UsersError::InvalidCredentials
        );
        assert_err!(users.delete(conn, alice.id), UsersError::UserNotFound);
        assert_err!(users.delete(conn, Id::new()), UsersError::UserNotFound);

        assert_eq!(users.get(conn, bob.id).unwrap(), Some(bob));
        assert_eq!(user_count!(db), 1);
        // The address is free again.
        users.register(conn, EMAIL, NEW_PASSWORD).unwrap();
    }

    // Verification.

    fn verify_marks_the_user_verified(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let token = users.verification_token(&alice).unwrap();

        let verified = users.verify(conn, &token).unwrap();
        assert!(verified.is_verified);
        assert_eq!(
            User {
                is_verified: false,
                ..verified.clone()
            },
            alice
        );
        assert!(users::table
            .find(alice.id)
            .select(users::is_verified)
            .first::<bool>(db)
            .unwrap());
        assert_err!(
            users.verification_token(&verified),
            UsersError::AlreadyVerified
        );
        assert_err!(users.verify(conn, &token), UsersError::AlreadyVerified);
    }

    fn a_verification_token_dies_with_an_email_change(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let token = users.verification_token(&alice).unwrap();

        let moved = users.set_email(conn, &alice, "alice@new.example").unwrap();
        assert_err!(users.verify(conn, &token), UsersError::InvalidToken);
        assert!(
            !users
                .get(conn, alice.id)
                .unwrap()
                .expect("alice is stored")
                .is_verified
        );

        // A token for the new address works.
        let verified = users
            .verify(conn, &users.verification_token(&moved).unwrap())
            .unwrap();
        assert!(verified.is_verified);
    }

    fn a_verification_token_dies_with_a_password_change(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let token = users.verification_token(&alice).unwrap();
        let changed = users.set_password(conn, &alice, NEW_PASSWORD).unwrap();
        assert_err!(users.verify(conn, &token), UsersError::InvalidToken);
        assert!(
            users
                .verify(conn, &users.verification_token(&changed).unwrap())
                .unwrap()
                .is_verified
        );
    }

    // Password reset.

    fn password_reset_token_is_none_for_an_unknown_email(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        users.register(conn, EMAIL, PASSWORD).unwrap();
        assert_eq!(
            users.password_reset_token(conn, "bob@example.com").unwrap(),
            None
        );
        assert!(users
            .password_reset_token(conn, " ALICE@example.com")
            .unwrap()
            .is_some());
        assert_err!(
            users.password_reset_token(conn, "not an email"),
            UsersError::InvalidEmail(_)
        );
    }

    fn reset_password_works_once(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let token = users
            .password_reset_token(conn, EMAIL)
            .unwrap()
            .expect("alice has an account");

        // A password the rules refuse does not use the token up.
        assert_err!(
            users.reset_password(conn, &token, "short"),
            UsersError::InvalidPassword(_)
        );
        assert_eq!(stored_hash!(db, alice.id), alice.password_hash);

        let reset = users.reset_password(conn, &token, NEW_PASSWORD).unwrap();
        assert_eq!(reset.id, alice.id);
        assert_eq!(stored_hash!(db, alice.id), reset.password_hash);
        users.authenticate(conn, EMAIL, NEW_PASSWORD).unwrap();
        assert_err!(
            users.authenticate(conn, EMAIL, PASSWORD),
            UsersError::InvalidCredentials
        );

        assert_err!(
            users.reset_password(conn, &token, "a third password"),
            UsersError::InvalidToken
        );
        users.authenticate(conn, EMAIL, NEW_PASSWORD).unwrap();
    }

    fn a_reset_token_dies_when_the_password_changes(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let token = users
            .password_reset_token(conn, EMAIL)
            .unwrap()
            .expect("a token");
        users
            .change_password(conn, &alice, PASSWORD, NEW_PASSWORD)
            .unwrap();

        assert_err!(
            users.reset_password(conn, &token, "a third password"),
            UsersError::InvalidToken
        );
        users.authenticate(conn, EMAIL, NEW_PASSWORD).unwrap();
    }

    // Tokens.

    fn a_token_of_one_purpose_is_useless_for_the_other(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let verification = users.verification_token(&alice).unwrap();
        let reset = users
            .password_reset_token(conn, EMAIL)
            .unwrap()
            .expect("a token");

        assert_err!(users.verify(conn, &reset), UsersError::InvalidToken);
        assert_err!(
            users.reset_password(conn, &verification, NEW_PASSWORD),
            UsersError::InvalidToken
        );
        assert_eq!(users.get(conn, alice.id).unwrap(), Some(alice));
        users.authenticate(conn, EMAIL, PASSWORD).unwrap();

        // Both still work for their own purpose.
        users.verify(conn, &verification).unwrap();
        users.reset_password(conn, &reset, NEW_PASSWORD).unwrap();
    }

    fn a_token_signed_with_another_secret_is_invalid(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let foreign = drive(Users::<User>::new(
            UsersConfig::new(OTHER_SECRET)
                .unwrap()
                .argon2_params(8, 1, 1)
                .unwrap(),
        ));
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();

        let verification = foreign.verification_token(&alice).unwrap();
        let reset = foreign
            .password_reset_token(conn, EMAIL)
            .unwrap()
            .expect("a token");
        assert_err!(users.verify(conn, &verification), UsersError::InvalidToken);
        assert_err!(
            users.reset_password(conn, &reset, NEW_PASSWORD),
            UsersError::InvalidToken
        );
        assert_eq!(users.get(conn, alice.id).unwrap(), Some(alice));
    }

    fn a_tampered_token_is_invalid(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let verification = users.verification_token(&alice).unwrap();
        let reset = users
            .password_reset_token(conn, EMAIL)
            .unwrap()
            .expect("a token");

        for token in [&verification, &reset] {
            let garbled = [
                tampered(token),
                token[..token.len() - 1].to_owned(),
                format!("{token}A"),
                String::new(),
                "not a token".to_owned(),
            ];
            for bad in &garbled {
                assert_err!(users.verify(conn, bad), UsersError::InvalidToken);
                assert_err!(
                    users.reset_password(conn, bad, NEW_PASSWORD),
                    UsersError::InvalidToken
                );
            }
        }
        assert_eq!(users.get(conn, alice.id).unwrap(), Some(alice));
        users.verify(conn, &verification).unwrap();
        users.reset_password(conn, &reset, NEW_PASSWORD).unwrap();
    }

    fn an_expired_token_is_invalid(conn: _, db: _) {
        migrate(db);
        let users = drive(Users::<User>::new(
            config()
                .verification_token_lifetime(Duration::ZERO)
                .reset_token_lifetime(Duration::ZERO),
        ));
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let verification = users.verification_token(&alice).unwrap();
        let reset = users
            .password_reset_token(conn, EMAIL)
            .unwrap()
            .expect("a token");

        assert_err!(users.verify(conn, &verification), UsersError::InvalidToken);
        assert_err!(
            users.reset_password(conn, &reset, NEW_PASSWORD),
            UsersError::InvalidToken
        );
        assert_eq!(users.get(conn, alice.id).unwrap(), Some(alice));
    }

    fn the_tokens_of_a_deleted_user_are_invalid(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let verification = users.verification_token(&alice).unwrap();
        let reset = users
            .password_reset_token(conn, EMAIL)
            .unwrap()
            .expect("a token");
        users.delete(conn, alice.id).unwrap();

        assert_err!(users.verify(conn, &verification), UsersError::InvalidToken);
        assert_err!(
            users.reset_password(conn, &reset, NEW_PASSWORD),
            UsersError::InvalidToken
        );
        assert_eq!(user_count!(db), 0);
    }

    // Hooks.

    fn hooks_run_in_order_on_success_only(conn: _, db: _) {
        migrate(db);
        let recorder = Recorder::default();
        let users = drive(manager().with_hooks(recorder.clone()));

        let alice = users.register(conn, "Alice@Example.com", PASSWORD).unwrap();
        assert_err!(
            users.authenticate(conn, EMAIL, NEW_PASSWORD),
            UsersError::InvalidCredentials
        );
        users.authenticate(conn, EMAIL, PASSWORD).unwrap();
        let alice = users
            .verify(conn, &users.verification_token(&alice).unwrap())
            .unwrap();
        let alice = users
            .update(
                conn,
                &User {
                    display_name: Some("Alice".to_owned()),
                    ..alice
                },
            )
            .unwrap();
        assert_err!(
            users.change_password(conn, &alice, NEW_PASSWORD, NEW_PASSWORD),
            UsersError::InvalidCredentials
        );
        let alice = users
            .change_password(conn, &alice, PASSWORD, NEW_PASSWORD)
            .unwrap();
        let alice = users.set_password(conn, &alice, PASSWORD).unwrap();
        let token = users
            .password_reset_token(conn, EMAIL)
            .unwrap()
            .expect("a token");
        users.reset_password(conn, &token, NEW_PASSWORD).unwrap();
        assert_err!(users.delete(conn, Id::new()), UsersError::UserNotFound);
        users.delete(conn, alice.id).unwrap();

        assert_eq!(
            recorder.calls(),
            [
                "validate_password",
                "after_register alice@example.com verified=false",
                "after_login alice@example.com verified=false",
                "after_verify alice@example.com verified=true",
                "after_update alice@example.com verified=true",
                "validate_password",
                "after_update alice@example.com verified=true",
                "validate_password",
                "after_update alice@example.com verified=true",
                "validate_password",
                "after_reset alice@example.com verified=true",
                "before_delete alice@example.com verified=true",
            ]
        );
    }

    fn a_failing_validate_password_hook_refuses_the_password(conn: _, db: _) {
        migrate(db);
        let users = drive(manager().with_hooks(Recorder::failing("validate_password")));
        assert_err!(
            users.register(conn, EMAIL, PASSWORD),
            UsersError::InvalidPassword(PasswordProblem::Rejected(reason))
                if reason == "refused by the hook"
        );
        assert_eq!(user_count!(db), 0);
    }

    fn a_failing_after_register_hook_stores_nothing(conn: _, db: _) {
        migrate(db);
        let recorder = Recorder::failing("after_register");
        let users = drive(manager().with_hooks(recorder.clone()));
        assert_err!(
            users.register(conn, EMAIL, PASSWORD),
            UsersError::Config(error) if error.reason() == "after_register refused"
        );
        // The hook saw the inserted row, which the rollback then removed.
        assert_eq!(
            recorder.calls(),
            [
                "validate_password",
                "after_register alice@example.com verified=false"
            ]
        );
        assert_eq!(user_count!(db), 0);
        assert_eq!(drive(manager()).find_by_email(conn, EMAIL).unwrap(), None);
        // The address is still free.
        drive(manager()).register(conn, EMAIL, PASSWORD).unwrap();
        assert_eq!(user_count!(db), 1);
    }

    fn a_failing_before_delete_hook_keeps_the_user(conn: _, db: _) {
        migrate(db);
        let alice = drive(manager()).register(conn, EMAIL, PASSWORD).unwrap();
        let recorder = Recorder::failing("before_delete");
        let users = drive(manager().with_hooks(recorder.clone()));
        assert_err!(
            users.delete(conn, alice.id),
            UsersError::Config(error) if error.reason() == "before_delete refused"
        );
        assert_eq!(
            recorder.calls(),
            ["before_delete alice@example.com verified=false"]
        );
        assert_eq!(users.get(conn, alice.id).unwrap(), Some(alice));
        assert_eq!(user_count!(db), 1);
    }

    fn a_failing_after_hook_rolls_back_its_write(conn: _, db: _) {
        migrate(db);
        let alice = drive(manager()).register(conn, EMAIL, PASSWORD).unwrap();

        let users = drive(manager().with_hooks(Recorder::failing("after_update")));
        let requested = User {
            display_name: Some("Alice".to_owned()),
            ..alice.clone()
        };
        assert_err!(users.update(conn, &requested), UsersError::Config(_));
        assert_err!(
            users.set_password(conn, &alice, NEW_PASSWORD),
            UsersError::Config(_)
        );
        assert_err!(
            users.change_password(conn, &alice, PASSWORD, NEW_PASSWORD),
            UsersError::Config(_)
        );
        assert_eq!(users.get(conn, alice.id).unwrap(), Some(alice.clone()));

        let users = drive(manager().with_hooks(Recorder::failing("after_verify")));
        let verification = users.verification_token(&alice).unwrap();
        assert_err!(users.verify(conn, &verification), UsersError::Config(_));
        assert_eq!(users.get(conn, alice.id).unwrap(), Some(alice.clone()));

        let users = drive(manager().with_hooks(Recorder::failing("after_reset")));
        let reset = users
            .password_reset_token(conn, EMAIL)
            .unwrap()
            .expect("a token");
        assert_err!(
            users.reset_password(conn, &reset, NEW_PASSWORD),
            UsersError::Config(_)
        );
        assert_eq!(users.get(conn, alice.id).unwrap(), Some(alice.clone()));

        // Rolled back, so both tokens are still good.
        drive(manager()).verify(conn, &verification).unwrap();
        drive(manager())
            .reset_password(conn, &reset, NEW_PASSWORD)
            .unwrap();
        drive(manager())
            .authenticate(conn, EMAIL, NEW_PASSWORD)
            .unwrap();
    }

    fn a_failing_after_login_hook_keeps_the_outdated_hash(conn: _, db: _) {
        migrate(db);
        let alice = drive(manager()).register(conn, EMAIL, PASSWORD).unwrap();
        let current = drive(
            Users::<User>::new(UsersConfig::new(SECRET).unwrap())
                .with_hooks(Recorder::failing("after_login")),
        );
        assert_err!(
            current.authenticate(conn, EMAIL, PASSWORD),
            UsersError::Config(_)
        );
        assert_eq!(stored_hash!(db, alice.id), alice.password_hash);
    }
}
