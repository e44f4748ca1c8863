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

mod registration {
    use super::*;

    #[test]
    fn stores_an_active_unverified_user_with_a_normalised_email() {
        let users = users();
        let (mut conn, alice) = with_alice(&users);
        assert_eq!(alice.email, "alice@example.com");
        assert!(alice.is_active && !alice.is_verified);
        assert!(alice
            .password_hash
            .starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
        assert_eq!(alice.id.get_version_num(), 7);
        assert_eq!((alice.nickname.as_str(), alice.karma), ("anonymous", 10));
        assert_eq!(conn.users, vec![alice.clone()]);
        assert_eq!(users.get(&mut conn, alice.id).unwrap(), Some(alice.clone()));
        assert_eq!(
            users
                .find_by_email(&mut conn, " ALICE@example.com")
                .unwrap(),
            Some(alice)
        );
        assert_eq!(users.get(&mut conn, Uuid::now_v7()).unwrap(), None);
        assert_eq!(
            users.find_by_email(&mut conn, "bob@example.com").unwrap(),
            None
        );
    }

    #[test]
    fn register_with_keeps_custom_fields_but_not_forged_credentials() {
        let users = users();
        let mut conn = MemConn::default();
        let bob = users
            .register_with(&mut conn, "Bob@Example.com", PASSWORD, |user| {
                user.nickname = "bobby".to_owned();
                user.karma += 5;
                user.email = "mallory@example.com".to_owned();
                user.password_hash = "plaintext".to_owned();
                user.is_active = false;
                user.is_verified = true;
            })
            .unwrap();
        assert_eq!((bob.nickname.as_str(), bob.karma), ("bobby", 15));
        assert_eq!(bob.email, "bob@example.com");
        assert!(bob.password_hash.starts_with("$argon2id$"));
        assert!(bob.is_active && !bob.is_verified);
        assert_eq!(conn.users, vec![bob]);
        users
            .authenticate(&mut conn, "bob@example.com", PASSWORD)
            .unwrap();
    }

    #[test]
    fn an_email_differing_only_in_case_is_taken() {
        let users = users();
        let (mut conn, _) = with_alice(&users);
        assert_err(
            users.register(&mut conn, "  ALICE@EXAMPLE.com", "another password"),
            "EmailTaken",
        );
        assert_eq!(conn.users.len(), 1);
    }

    #[test]
    fn malformed_emails_are_invalid_everywhere_but_login() {
        let users = users();
        let (mut conn, _) = with_alice(&users);
        assert_err(
            users.register(&mut conn, "not an email", PASSWORD),
            "InvalidEmail",
        );
        assert_err(users.find_by_email(&mut conn, "nobody"), "InvalidEmail");
        assert_err(
            users.password_reset_token(&mut conn, "a@b@c"),
            "InvalidEmail",
        );
        assert_err(
            users.authenticate(&mut conn, "alice@@example.com", PASSWORD),
            "InvalidCredentials",
        );
        assert_eq!(conn.users.len(), 1);
    }
}

mod passwords {
    use super::*;

    fn register(users: &Users<TestUser>, password: &str) -> Result<TestUser, UsersError> {
        users.register(&mut MemConn::default(), "carol@example.com", password)
    }

    /// The length bounds alone: the strength estimate, which "12345678" fails, is off.
    fn lengths_only() -> Users<TestUser> {
        Users::new(cheap_config().password_strength(0).unwrap())
    }

    #[test]
    fn need_at_least_eight_characters() {
        let users = lengths_only();
        assert_err(register(&users, "1234567"), "InvalidPassword");
        register(&users, "12345678").unwrap();
        // Multibyte text counts characters, not bytes.
        assert_err(register(&users, &"é".repeat(7)), "InvalidPassword");
        register(&users, &"é".repeat(8)).unwrap();
    }

    #[test]
    fn must_be_hard_to_guess() {
        let users = users();
        let mut conn = MemConn::default();
        let error = users
            .register(&mut conn, "carol@example.com", "password1")
            .unwrap_err();
        assert!(
            matches!(
                &error,
                UsersError::InvalidPassword(PasswordProblem::TooWeak { required: 3, .. })
            ),
            "{error:?}"
        );
        assert!(conn.users.is_empty());
        users
            .register(&mut conn, "carol@example.com", PASSWORD)
            .unwrap();
    }

    #[test]
    fn may_have_at_most_4096_bytes() {
        let users = lengths_only();
        register(&users, &"a".repeat(4096)).unwrap();
        assert_err(register(&users, &"a".repeat(4097)), "InvalidPassword");
        register(&users, &"é".repeat(2048)).unwrap();
        assert_err(
            register(&users, &format!("{}a", "é".repeat(2048))),
            "InvalidPassword",
        );
        // 1366 characters, but 4098 bytes.
        assert_err(register(&users, &"€".repeat(1366)), "InvalidPassword");
    }

    #[test]
    fn bounds_are_configurable() {
        let config = cheap_config().password_length(12, 16).unwrap();
        let users: Users<TestUser> = Users::new(config);
        assert_err(register(&users, "elevenchars"), "InvalidPassword");
        register(&users, "twelve chars").unwrap();
        assert_err(register(&users, "seventeen chars!!"), "InvalidPassword");
    }

    #[test]
    fn rules_apply_to_every_new_password() {
        let users = users();
        let (mut conn, alice) = with_alice(&users);
        assert_err(
            users.change_password(&mut conn, &alice, PASSWORD, "short"),
            "InvalidPassword",
        );
        assert_err(
            users.set_password(&mut conn, &alice, "short"),
            "InvalidPassword",
        );
        let token = users
            .password_reset_token(&mut conn, "alice@example.com")
            .unwrap()
            .unwrap();
        assert_err(
            users.reset_password(&mut conn, &token, "short"),
            "InvalidPassword",
        );
        assert_eq!(conn.users, vec![alice]);
        // A rejected new password does not use the token up.
        users
            .reset_password(&mut conn, &token, NEW_PASSWORD)
            .unwrap();
    }

    #[test]
    fn change_password_needs_the_current_one_and_changes_only_the_hash() {
        let users = users();
        let (mut conn, alice) = with_alice(&users);
        assert_err(
            users.change_password(&mut conn, &alice, "not my password", NEW_PASSWORD),
            "InvalidCredentials",
        );
        assert_eq!(conn.users, vec![alice.clone()]);

        let mut edited = alice.clone();
        edited.nickname = "not through change_password".to_owned();
        let changed = users
            .change_password(&mut conn, &edited, PASSWORD, NEW_PASSWORD)
            .unwrap();
        assert_eq!(changed.nickname, "anonymous");
        assert_ne!(changed.password_hash, alice.password_hash);
        assert_eq!(conn.stored(alice.id), changed);
        users
            .authenticate(&mut conn, "alice@example.com", NEW_PASSWORD)
            .unwrap();
        assert_err(
            users.authenticate(&mut conn, "alice@example.com", PASSWORD),
            "InvalidCredentials",
        );
    }

    #[test]
    fn set_password_needs_no_current_password() {
        let users = users();
        let (mut conn, alice) = with_alice(&users);
        users.set_password(&mut conn, &alice, NEW_PASSWORD).unwrap();
        users
            .authenticate(&mut conn, "alice@example.com", NEW_PASSWORD)
            .unwrap();
        let ghost = TestUser::from_credentials(Uuid::now_v7(), "g@example.com".into(), "x".into());
        assert_err(
            users.set_password(&mut conn, &ghost, NEW_PASSWORD),
            "UserNotFound",
        );
        assert_err(
            users.change_password(&mut conn, &ghost, PASSWORD, NEW_PASSWORD),
            "UserNotFound",
        );
    }

    #[test]
    fn errors_never_contain_the_password() {
        let secret = "Sup3r-Secret-Pa55phrase";
        let users: Users<TestUser> = Users::new(cheap_config().password_length(8, 16).unwrap());
        let mut conn = MemConn::default();
        let alice = users
            .register(&mut conn, "alice@example.com", "a fine password")
            .unwrap();
        let errors = [
            users
                .register(&mut conn, "bob@example.com", secret)
                .unwrap_err(),
            users
                .register(&mut conn, "bob@example.com", "Sup3r")
                .unwrap_err(),
            users
                .register(&mut conn, "alice@example.com", "Sup3r-Secret")
                .unwrap_err(),
            users
                .authenticate(&mut conn, "alice@example.com", secret)
                .unwrap_err(),
            users
                .authenticate(&mut conn, "nobody@example.com", secret)
                .unwrap_err(),
            users
                .change_password(&mut conn, &alice, secret, "whatever1")
                .unwrap_err(),
            users.set_password(&mut conn, &alice, secret).unwrap_err(),
        ];
        for error in errors {
            for text in [error.to_string(), format!("{error:?}")] {
                assert!(!text.contains("Sup3r"), "{text}");
            }
        }
    }
}

mod login {
    use super::*;

    #[test]
    fn accepts_the_right_password_under_any_case_of_the_email() {
        let users = users();
        let (mut conn, alice) = with_alice(&users);
        let logged_in = users
            .authenticate(&mut conn, "  aLiCe@EXAMPLE.com ", PASSWORD)
            .unwrap();
        assert_eq!(logged_in, alice);
    }

    #[test]
    fn a_wrong_password_and_an_unknown_email_are_the_same_error() {
        let users = users();
        let (mut conn, _) = with_alice(&users);
        let wrong = users
            .authenticate(&mut conn, "alice@example.com", "wrong password")
            .unwrap_err();
        let unknown = users
            .authenticate(&mut conn, "nobody@example.com", PASSWORD)
            .unwrap_err();
        assert!(matches!(wrong, UsersError::InvalidCredentials));
        assert!(matches!(unknown, UsersError::InvalidCredentials));
        assert_eq!(wrong.to_string(), unknown.to_string());
    }

    #[test]
    fn an_unknown_email_costs_one_argon2_run_like_a_wrong_password() {
        // Counted, not timed: timing belongs to the benchmarks.
        let users = users();
        let (mut conn, _) = with_alice(&users);
        let runs = || users.hasher().verifications();
        for email in [
            "alice@example.com",
            "nobody@example.com",
            "nobody@example.com",
            "not an email",
        ] {
            let before = runs();
            let _ = users.authenticate(&mut conn, email, "wrong password");
            assert_eq!(runs() - before, 1, "a failed login for {email:?}");
        }
    }

    #[test]
    fn an_inactive_user_is_told_so_only_with_the_right_password() {
        let users = users();
        let (mut conn, mut alice) = with_alice(&users);
        alice.is_active = false;
        users.update(&mut conn, &alice).unwrap();
        assert_err(
            users.authenticate(&mut conn, "alice@example.com", "wrong password"),
            "InvalidCredentials",
        );
        assert_err(
            users.authenticate(&mut conn, "alice@example.com", PASSWORD),
            "InactiveUser",
        );
    }

    #[test]
    fn unverified_users_log_in_unless_the_config_requires_verification() {
        let relaxed = users();
        let (mut conn, alice) = with_alice(&relaxed);
        relaxed
            .authenticate(&mut conn, "alice@example.com", PASSWORD)
            .unwrap();

        let strict: Users<TestUser> = Users::new(cheap_config().require_verified(true));
        assert_err(
            strict.authenticate(&mut conn, "alice@example.com", "wrong password"),
            "InvalidCredentials",
        );
        assert_err(
            strict.authenticate(&mut conn, "alice@example.com", PASSWORD),
            "UnverifiedUser",
        );
        let token = strict.verification_token(&alice).unwrap();
        strict.verify(&mut conn, &token).unwrap();
        strict
            .authenticate(&mut conn, "alice@example.com", PASSWORD)
            .unwrap();
    }

    #[test]
    fn an_outdated_hash_is_upgraded_on_login() {
        let (mut conn, alice) = with_alice(&users());
        let current: Users<TestUser> = Users::new(UsersConfig::new(SECRET).unwrap());

        let upgraded = current
            .authenticate(&mut conn, "alice@example.com", PASSWORD)
            .unwrap();
        assert!(
            upgraded
                .password_hash
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            upgraded.password_hash
        );
        assert_eq!(conn.stored(alice.id), upgraded);
        assert_eq!(
            TestUser {
                password_hash: alice.password_hash.clone(),
                ..upgraded.clone()
            },
            alice,
            "only the hash changed"
        );

        let again = current
            .authenticate(&mut conn, "alice@example.com", PASSWORD)
            .unwrap();
        assert_eq!(
            again.password_hash, upgraded.password_hash,
            "no second rehash"
        );
        assert_err(
            current.authenticate(&mut conn, "alice@example.com", "wrong password"),
            "InvalidCredentials",
        );
    }
}

mod profile {
    use super::*;

    #[test]
    fn update_stores_fields_and_normalises_a_new_email() {
        let users = users();
        let (mut conn, alice) = with_alice(&users);
        let verified = users
            .verify(&mut conn, &users.verification_token(&alice).unwrap())
            .unwrap();

        let mut edited = verified.clone();
        edited.nickname = "al".to_owned();
        let updated = users.update(&mut conn, &edited).unwrap();
        assert_eq!(updated, edited, "same email: still verified");
        assert_eq!(conn.stored(alice.id), updated);

        edited.email = "  Alice@Example.ORG".to_owned();
        assert_err(users.update(&mut conn, &edited), "PasswordRequired");
        let moved = users
            .set_email(&mut conn, &updated, "  Alice@Example.ORG")
            .unwrap();
        assert_eq!(moved.email, "alice@example.org");
        assert!(!moved.is_verified, "a new email is unverified");
        assert_eq!(conn.stored(alice.id), moved);
        users
            .authenticate(&mut conn, "alice@example.org", PASSWORD)
            .unwrap();
    }

    #[test]
    fn update_cannot_change_the_password_hash() {
        let users = users();
        let (mut conn, alice) = with_alice(&users);
        let mut forged = alice.clone();
        forged.password_hash = users
            .register(
                &mut MemConn::default(),
                "x@example.com",
                "mallory's password",
            )
            .unwrap()
            .password_hash;
        let updated = users.update(&mut conn, &forged).unwrap();
        assert_eq!(updated.password_hash, alice.password_hash);
        assert_err(
            users.authenticate(&mut conn, "alice@example.com", "mallory's password"),
            "InvalidCredentials",
        );
    }

    #[test]
    fn update_rejects_a_taken_or_malformed_email_and_an_unknown_user() {
        let users = users();
        let (mut conn, alice) = with_alice(&users);
        let bob = users
            .register(&mut conn, "bob@example.com", PASSWORD)
            .unwrap();
        let before = conn.users.clone();

        let mut edited = bob.clone();
        edited.email = "ALICE@example.com".to_owned();
        edited.nickname = "impostor".to_owned();
        assert_err(users.update(&mut conn, &edited), "PasswordRequired");
        assert_err(
            users.set_email(&mut conn, &bob, "ALICE@example.com"),
            "EmailTaken",
        );
        edited.email = "alice at example.com".to_owned();
        assert_err(users.update(&mut conn, &edited), "InvalidEmail");
        let ghost = TestUser::from_credentials(Uuid::now_v7(), "g@example.com".into(), "x".into());
        assert_err(users.update(&mut conn, &ghost), "UserNotFound");
        assert_eq!(conn.users, before);
        assert_eq!(users.get(&mut conn, alice.id).unwrap(), Some(alice));
    }

    #[test]
    fn delete_removes_the_user_once() {
        let users = users();
        let (mut conn, alice) = with_alice(&users);
        users.delete(&mut conn, alice.id).unwrap();
        assert_eq!(users.get(&mut conn, alice.id).unwrap(), None);
        assert_err(users.delete(&mut conn, alice.id), "UserNotFound");
        assert_err(
            users.authenticate(&mut conn, "alice@example.com", PASSWORD),
            "InvalidCredentials",
        );
    }
}

mod tokens {
    use super::*;

    fn reset_token(users: &Users<TestUser>, conn: &mut MemConn) -> String {
        users
            .password_reset_token(conn, "ALICE@example.com")
            .unwrap()
            .expect("alice exists")
    }

    #[test]
    fn verification_marks_the_user_verified_once() {
        let users = users();
        let (mut conn, alice) = with_alice(&users);
        let token = users.verification_token(&alice).unwrap();
        let verified = users.verify(&mut conn, &token).unwrap();
        assert!(verified.is_verified);
        assert_eq!(conn.stored(alice.id), verified);
        assert_err(users.verification_token(&verified), "AlreadyVerified");
        assert_err(users.verify(&mut conn, &token), "AlreadyVerified");
    }

    #[test]
    fn a_reset_sets_the_password_and_is_single_use() {
        let users = users();
        let (mut conn, _) = with_alice(&users);
        let token = reset_token(&users, &mut conn);
        users
            .reset_password(&mut conn, &token, NEW_PASSWORD)
            .unwrap();
        users
            .authenticate(&mut conn, "alice@example.com", NEW_PASSWORD)
            .unwrap();
        assert_err(
            users.authenticate(&mut conn, "alice@example.com", PASSWORD),
            "InvalidCredentials",
        );
        assert_err(
            users.reset_password(&mut conn, &token, "yet another password"),
            "InvalidToken",
        );
    }

    #[test]
    fn no_reset_token_for_an_unknown_email() {
        let users = users();
        let (mut conn, _) = with_alice(&users);
        assert_eq!(
            users
                .password_reset_token(&mut conn, "nobody@example.com")
                .unwrap(),
            None
        );
    }

    #[test]
    fn a_changed_password_kills_a_reset_token() {
        let users = users();
        let (mut conn, alice) = with_alice(&users);
        let token = reset_token(&users, &mut conn);
        users
            .change_password(&mut conn, &alice, PASSWORD, NEW_PASSWORD)
            .unwrap();
        assert_err(
            users.reset_password(&mut conn, &token, "yet another password"),
            "InvalidToken",
        );
        users
            .authenticate(&mut conn, "alice@example.com", NEW_PASSWORD)
            .unwrap();
    }

    #[test]
    fn a_changed_email_kills_a_verification_token() {
        let users = users();
        let (mut conn, alice) = with_alice(&users);
        let token = users.verification_token(&alice).unwrap();
        users
            .set_email(&mut conn, &alice, "alice@example.org")
            .unwrap();
        assert_err(users.verify(&mut conn, &token), "InvalidToken");
        assert!(!conn.stored(alice.id).is_verified);
    }

    #[test]
    fn a_token_of_one_purpose_is_useless_for_the_other() {
        let users = users();
        let (mut conn, alice) = with_alice(&users);
        let verification = users.verification_token(&alice).unwrap();
        let reset = reset_token(&users, &mut conn);
        assert_err(
            users.reset_password(&mut conn, &verification, NEW_PASSWORD),
            "InvalidToken",
        );
        assert_err(users.verify(&mut conn, &reset), "InvalidToken");
        assert_eq!(conn.users, vec![alice]);
    }

    #[test]
    fn a_tampered_or_truncated_token_is_invalid() {
        let users = users();
        let (mut conn, alice) = with_alice(&users);
        let token = users.verification_token(&alice).unwrap();
        for position in 0..token.len() {
            let original = token.as_bytes()[position];
            let replacement = if original == b'A' { "B" } else { "A" };
            let mut tampered = token.clone();
            tampered.replace_range(position..=position, replacement);
            assert_err(users.verify(&mut conn, &tampered), "InvalidToken");
            assert_err(users.verify(&mut conn, &token[..position]), "InvalidToken");
        }
        for garbage in [
            "",
            " ",
            "!!!!",
            "ünïcödé",
            &format!("{token}A"),
            &token.repeat(2),
        ] {
            assert_err(users.verify(&mut conn, garbage), "InvalidToken");
            assert_err(
                users.reset_password(&mut conn, garbage, NEW_PASSWORD),
                "InvalidToken",
            );
        }
        assert!(!conn.stored(alice.id).is_verified);
        users.verify(&mut conn, &token).unwrap();
    }

    #[test]
    fn a_token_of_another_secret_is_invalid() {
        let users = users();
        let (mut conn, alice) = with_alice(&users);
        let foreign: Users<TestUser> = Users::new(
            UsersConfig::new(b"another secret, also 32+ bytes long")
                .unwrap()
                .argon2_params(8, 1, 1)
                .unwrap(),
        );
        let verification = foreign.verification_token(&alice).unwrap();
        let reset = foreign
            .password_reset_token(&mut conn, "alice@example.com")
            .unwrap()
            .unwrap();
        assert_err(users.verify(&mut conn, &verification), "InvalidToken");
        assert_err(
            users.reset_password(&mut conn, &reset, NEW_PASSWORD),
            "InvalidToken",
        );
        assert_eq!(conn.users, vec![alice]);
    }

    #[test]
    fn an_expired_token_is_invalid() {
        let users = users();
        let (mut conn, alice) = with_alice(&users);
        let signer = TokenSigner::new(&cheap_config());
        let issued =
            |ago: Duration, purpose| signer.issue(purpose, &alice, SystemTime::now() - ago, HOUR);
        let stale_reset = issued(2 * HOUR, TokenPurpose::PasswordReset);
        assert_err(
            users.reset_password(&mut conn, &stale_reset, NEW_PASSWORD),
            "InvalidToken",
        );
        let stale_verification = issued(HOUR + Duration::from_secs(1), TokenPurpose::Verification);
        assert_err(users.verify(&mut conn, &stale_verification), "InvalidToken");
        // The same tokens, issued recently enough, are fine: only the expiry was wrong.
        let fresh = issued(HOUR - Duration::from_secs(60), TokenPurpose::Verification);
        users.verify(&mut conn, &fresh).unwrap();
        let fresh = issued(HOUR / 2, TokenPurpose::PasswordReset);
        users
            .reset_password(&mut conn, &fresh, NEW_PASSWORD)
            .unwrap();
    }

    #[test]
    fn lifetimes_are_configurable() {
        let users: Users<TestUser> = Users::new(
            cheap_config()
                .verification_token_lifetime(Duration::ZERO)
                .reset_token_lifetime(Duration::ZERO),
        );
        let (mut conn, alice) = with_alice(&users);
        let verification = users.verification_token(&alice).unwrap();
        assert_err(users.verify(&mut conn, &verification), "InvalidToken");
        let reset = reset_token(&users, &mut conn);
        assert_err(
            users.reset_password(&mut conn, &reset, NEW_PASSWORD),
            "InvalidToken",
        );
    }

    #[test]
    fn a_token_of_a_deleted_user_is_invalid() {
        let users = users();
        let (mut conn, alice) = with_alice(&users);
        let verification = users.verification_token(&alice).unwrap();
        let reset = reset_token(&users, &mut conn);
        users.delete(&mut conn, alice.id).unwrap();
        assert_err(users.verify(&mut conn, &verification), "InvalidToken");
        assert_err(
            users.reset_password(&mut conn, &reset, NEW_PASSWORD),
            "InvalidToken",
        );
        assert!(conn.users.is_empty());
    }
}

mod hooks {
    use super::*;

    /// Records every hook call, fails the one named in `fail_at`, and wants a digit in passwords.
    #[derive(Clone, Default)]
    struct Recorder {
        events: Arc<Mutex<Vec<String>>>,
        fail_at: Option<&'static str>,
    }

    impl Recorder {
        fn failing_at(event: &'static str) -> Self {
            Recorder {
                fail_at: Some(event),
                ..Recorder::default()
            }
        }

        fn record(&self, event: &str, user: &TestUser) -> Result<(), UsersError> {
            self.events
                .lock()
                .unwrap()
                .push(format!("{event} {}", user.email));
            if self.fail_at == Some(event) {
                return Err(UsersError::database(format!("{event} hook refused")));
            }
            Ok(())
        }

        fn events(&self) -> Vec<String> {
            self.events.lock().unwrap().clone()
        }
    }

    impl UsersHooks<TestUser> for Recorder {
        fn validate_password(&self, password: &str) -> Result<(), String> {
            if password.chars().any(|c| c.is_ascii_digit()) {
                Ok(())
            } else {
                Err("it needs a digit".to_owned())
            }
        }
        fn after_register(&self, user: &TestUser) -> Result<(), UsersError> {
            self.record("after_register", user)
        }
        fn after_login(&self, user: &TestUser) -> Result<(), UsersError> {
            self.record("after_login", user)
        }
        fn after_verify(&self, user: &TestUser) -> Result<(), UsersError> {
            self.record("after_verify", user)
        }
        fn after_reset(&self, user: &TestUser) -> Result<(), UsersError> {
            self.record("after_reset", user)
        }
        fn after_update(&self, user: &TestUser) -> Result<(), UsersError> {
            self.record("after_update", user)
        }
        fn before_delete(&self, user: &TestUser) -> Result<(), UsersError> {
            self.record("before_delete", user)
        }
    }

    fn hooked(recorder: &Recorder) -> Users<TestUser> {
        users().with_hooks(recorder.clone())
    }

    const DIGITS: &str = "s3cret password";
    const MORE_DIGITS: &str = "an0ther s3cret";

    #[test]
    fn run_in_the_order_of_the_operations() {
        let recorder = Recorder::default();
        let users = hooked(&recorder);
        let mut conn = MemConn::default();
        let alice = users
            .register(&mut conn, "alice@example.com", DIGITS)
            .unwrap();
        users
            .authenticate(&mut conn, "alice@example.com", DIGITS)
            .unwrap();
        let _ = users.authenticate(&mut conn, "alice@example.com", "wrong 1");
        let alice = users
            .verify(&mut conn, &users.verification_token(&alice).unwrap())
            .unwrap();
        let alice = users
            .change_password(&mut conn, &alice, DIGITS, MORE_DIGITS)
            .unwrap();
        let alice = users.set_password(&mut conn, &alice, DIGITS).unwrap();
        users
            .set_email(&mut conn, &alice, "alice@example.org")
            .unwrap();
        let token = users
            .password_reset_token(&mut conn, "alice@example.org")
            .unwrap()
            .unwrap();
        users
            .reset_password(&mut conn, &token, MORE_DIGITS)
            .unwrap();
        users.delete(&mut conn, alice.id).unwrap();
        assert_eq!(
            recorder.events(),
            [
                "after_register alice@example.com",
                "after_login alice@example.com",
                "after_verify alice@example.com",
                "after_update alice@example.com",
                "after_update alice@example.com",
                "after_update alice@example.org",
                "after_reset alice@example.org",
                "before_delete alice@example.org",
            ]
        );
    }

    #[test]
    fn password_rules_from_the_hook_apply_to_every_new_password() {
        let strict = hooked(&Recorder::default());
        let mut conn = MemConn::default();
        let error = strict
            .register(&mut conn, "alice@example.com", "no digits at all")
            .unwrap_err();
        assert!(
            matches!(&error, UsersError::InvalidPassword(PasswordProblem::Rejected(reason)) if reason == "it needs a digit")
        );
        assert!(conn.users.is_empty());
        let alice = strict
            .register(&mut conn, "alice@example.com", DIGITS)
            .unwrap();
        assert_err(
            strict.set_password(&mut conn, &alice, "no digits at all"),
            "InvalidPassword",
        );
        // Existing passwords are not re-validated at login.
        users()
            .set_password(&mut conn, &alice, "no digits at all")
            .unwrap();
        strict
            .authenticate(&mut conn, "alice@example.com", "no digits at all")
            .unwrap();
    }

    #[test]
    fn a_failing_after_register_leaves_no_user() {
        let recorder = Recorder::failing_at("after_register");
        let users = hooked(&recorder);
        let mut conn = MemConn::default();
        let error = users
            .register(&mut conn, "alice@example.com", DIGITS)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "database error: after_register hook refused"
        );
        assert!(conn.users.is_empty());
        assert_eq!(recorder.events(), ["after_register alice@example.com"]);
    }

    #[test]
    fn failing_hooks_roll_their_operation_back() {
        let users = users();
        let (mut conn, alice) = with_alice(&users);
        let stored = conn.users.clone();
        let with_failing = |event| users.clone().with_hooks(Recorder::failing_at(event));

        let mut edited = alice.clone();
        edited.nickname = "changed".to_owned();
        assert_err(
            with_failing("after_update").update(&mut conn, &edited),
            "Database",
        );
        assert_err(
            with_failing("after_update").set_password(&mut conn, &alice, "n3w password, again"),
            "Database",
        );
        let token = users.verification_token(&alice).unwrap();
        assert_err(
            with_failing("after_verify").verify(&mut conn, &token),
            "Database",
        );
        let reset = reset_token(&users, &mut conn);
        assert_err(
            with_failing("after_reset").reset_password(&mut conn, &reset, "n3w password, again"),
            "Database",
        );
        assert_err(
            with_failing("before_delete").delete(&mut conn, alice.id),
            "Database",
        );
        assert_eq!(conn.users, stored, "nothing changed");

        // The tokens survived the rolled-back operations.
        users.verify(&mut conn, &token).unwrap();
        users
            .reset_password(&mut conn, &reset, "n3w password, again")
            .unwrap();
    }

    #[test]
    fn a_failing_after_login_rolls_back_a_rehash() {
        let (mut conn, alice) = with_alice(&users());
        let current: Users<TestUser> = Users::new(UsersConfig::new(SECRET).unwrap())
            .with_hooks(Recorder::failing_at("after_login"));
        assert_err(
            current.authenticate(&mut conn, "alice@example.com", PASSWORD),
            "Database",
        );
        assert_eq!(conn.stored(alice.id).password_hash, alice.password_hash);
    }

    fn reset_token(users: &Users<TestUser>, conn: &mut MemConn) -> String {
        users
            .password_reset_token(conn, "alice@example.com")
            .unwrap()
            .unwrap()
    }
}

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
