//! Secrets never reach a log line: `Debug` of the configuration and of everything holding it
//! redacts the secret, and no error, as `Display` or `Debug`, quotes a password, a hash, a token
//! or the secret, whichever operation produced it. A unit test, since it makes most errors with
//! the crate-private decision methods, as the operations do.

use std::error::Error as _;
use std::time::{Duration, SystemTime};

use crate::{
    normalize_email, PasswordHasher, TokenPurpose, TokenSigner, UserModel, Users, UsersConfig,
    UsersError, UsersHooks, Uuid,
};
use proptest::prelude::*;

super::support::test_user!();

/// A password rule whose reason, as the hook contract asks, does not quote the password.
struct RequireDigit;

impl UsersHooks<TestUser> for RequireDigit {
    fn validate_password(&self, password: &str) -> Result<(), String> {
        if password.chars().any(|c| c.is_ascii_digit()) {
            Ok(())
        } else {
            Err("it must contain a digit".to_owned())
        }
    }
}

fn cheap(config: UsersConfig) -> UsersConfig {
    config.argon2_params(8, 1, 1).unwrap()
}

/// Every way of showing a value that ends up in logs.
fn renderings(error: &UsersError) -> Vec<String> {
    let mut shown = vec![
        error.to_string(),
        format!("{error:?}"),
        format!("{error:#?}"),
    ];
    let mut source = error.source();
    while let Some(cause) = source {
        shown.push(cause.to_string());
        source = cause.source();
    }
    shown
}

fn assert_quotes_none(what: &str, shown: &[String], secrets: &[&str]) {
    for text in shown {
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "{what} quotes the secret {secret:?}: {text}"
            );
        }
    }
}

/// One error of every variant, each made the way the framework makes it, around `password`
/// (a user's password, and the secret of a misconfigured application).
fn errors_around(password: &str, secret: &str) -> (Vec<(&'static str, UsersError)>, Vec<String>) {
    let config = cheap(UsersConfig::new(secret).unwrap());
    let users = Users::<TestUser>::new(config.clone()).with_hooks(RequireDigit);
    let strict = Users::<TestUser>::new(config.clone().require_verified(true));
    let hash = PasswordHasher::new(&config).hash(password).unwrap();
    let alice = TestUser::from_credentials(Uuid::now_v7(), "alice@example.com".into(), hash);
    let token = users.password_reset_token_for(&alice);
    let opened = users
        .open_token(&token, TokenPurpose::PasswordReset)
        .unwrap();
    let mut rehashed = alice.clone();
    rehashed.set_password_hash(PasswordHasher::new(&config).hash("another one").unwrap());
    let mut inactive = alice.clone();
    inactive.set_active(false);
    let mut verified = alice.clone();
    verified.set_verified(true);
    let mut tampered = token.clone();
    tampered.pop();
    let short_secret = &password[..password.len().min(31)];
    let no_digit: String = password.chars().filter(|c| !c.is_ascii_digit()).collect();

    let errors = [
        (
            "a password typed as an email",
            normalize_email(password).err(),
        ),
        (
            "an email with a password in it",
            normalize_email(&format!("{password} {password}@example.com")).err(),
        ),
        (
            "a too long email",
            normalize_email(&format!("{}@example.com", password.repeat(30))).err(),
        ),
        (
            "a too short password",
            users.validate_password(&password[..7]).err(),
        ),
        (
            "a too long password",
            users
                .registration_credentials(alice.clone(), &password.repeat(400))
                .err(),
        ),
        (
            "a password made of the email",
            users
                .validate_password_for("alice@example.com", &alice)
                .err(),
        ),
        (
            "a password the hook refuses",
            users
                .prepare_new_password(Some(alice.clone()), &format!("{no_digit}{no_digit}"))
                .err(),
        ),
        ("an unknown email", users.check_login(None, password).err()),
        (
            "a wrong password",
            users.check_login(Some(rehashed.clone()), password).err(),
        ),
        (
            "a wrong current password",
            users
                .prepare_password_change(Some(rehashed.clone()), password, password)
                .err(),
        ),
        (
            "an inactive user",
            users.check_login(Some(inactive), password).err(),
        ),
        (
            "an unverified user",
            strict.check_login(Some(alice.clone()), password).err(),
        ),
        ("a verified user", users.verification_token(&verified).err()),
        (
            "a tampered token",
            users
                .open_token(&tampered, TokenPurpose::PasswordReset)
                .err(),
        ),
        (
            "a used reset token",
            users
                .finish_password_reset(&opened, Some(rehashed.clone()), password)
                .err(),
        ),
        (
            "a missing user",
            users.prepare_new_password(None, password).err(),
        ),
        ("a short secret", UsersConfig::new(short_secret).err()),
        (
            "bad argon2 costs",
            UsersConfig::new(secret)
                .and_then(|config| config.argon2_params(7, 0, 0))
                .err(),
        ),
        (
            "impossible password bounds",
            UsersConfig::new(secret)
                .and_then(|config| config.password_length(9, 8))
                .err(),
        ),
        // Made by the stores, from the database's answer.
        ("a taken email", Some(UsersError::EmailTaken)),
        ("a taken role name", Some(UsersError::RoleExists)),
        ("an unknown role", Some(UsersError::RoleNotFound)),
        (
            "an invisible role name",
            crate::normalize_role_name("ad\u{200B}min").err(),
        ),
        (
            "a database failure",
            Some(UsersError::database(std::io::Error::other(
                "UNIQUE constraint failed: users.display_name",
            ))),
        ),
    ];
    let errors = errors
        .into_iter()
        .map(|(what, error)| (what, error.unwrap_or_else(|| panic!("{what} should fail"))))
        .collect();
    let leaks = vec![
        token,
        alice.password_hash.clone(),
        rehashed.password_hash.clone(),
    ];
    (errors, leaks)
}

#[test]
fn every_variant_is_covered() {
    let (errors, _) = errors_around(
        "correct horse battery staple",
        "an application secret of 32+ bytes",
    );
    let mut variants: Vec<String> = errors
        .iter()
        .map(|(_, error)| {
            let debug = format!("{error:?}");
            debug[..debug.find('(').unwrap_or(debug.len())].to_owned()
        })
        .collect();
    variants.sort();
    variants.dedup();
    assert_eq!(
        variants,
        [
            "AlreadyVerified",
            "Config",
            "Database",
            "EmailTaken",
            "InactiveUser",
            "InvalidCredentials",
            "InvalidEmail",
            "InvalidPassword",
            "InvalidRoleName",
            "InvalidToken",
            "RoleExists",
            "RoleNotFound",
            "UnverifiedUser",
            "UserNotFound",
        ]
    );
}

proptest! {
    // Each case hashes a few times, at the cheapest argon2 costs.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn no_error_quotes_a_password_hash_token_or_secret(
        password in "[A-Za-z0-9!#%&*+=?^~]{12,40}",
        secret in "[A-Za-z0-9!#%&*+=?^~]{32,48}",
    ) {
        let (errors, leaks) = errors_around(&password, &secret);
        let mut secrets: Vec<&str> = leaks.iter().map(String::as_str).collect();
        // Its digest or its salt alone would show a hash leaking too.
        for hash in &leaks[1..] {
            secrets.extend(hash.rsplit('$').take(2));
        }
        secrets.extend([password.as_str(), &password[..12], secret.as_str()]);
        for (what, error) in &errors {
            assert_quotes_none(what, &renderings(error), &secrets);
        }
    }

    #[test]
    fn debug_never_shows_the_secret(
        text in "[ -~]{32,64}",
        bytes in proptest::collection::vec(any::<u8>(), 32..64),
    ) {
        for secret in [text.as_bytes(), bytes.as_slice()] {
            let config = cheap(UsersConfig::new(secret).unwrap())
                .reset_token_lifetime(Duration::from_secs(60))
                .require_verified(true);
            let users = Users::<TestUser>::new(config.clone());
            let shown = [
                format!("{config:?}"),
                format!("{config:#?}"),
                format!("{:?}", config.clone()),
                format!("{users:?}"),
                format!("{users:#?}"),
                format!("{:?}", TokenSigner::new(&config)),
                format!("{:?}", PasswordHasher::new(&config)),
            ];
            // The secret as text, and its first bytes as `Vec<u8>`'s Debug would list them.
            let as_text = String::from_utf8_lossy(secret);
            let first_bytes = format!("{:?}", &secret[..8]);
            let first_bytes = first_bytes.trim_matches(|c| c == '[' || c == ']');
            for debug in &shown {
                prop_assert!(debug.contains("[redacted]") || debug.starts_with("PasswordHasher"));
                prop_assert!(!debug.contains(as_text.as_ref()), "{}", debug);
                prop_assert!(!debug.contains(first_bytes), "{}", debug);
            }
        }
    }
}

#[test]
fn a_real_token_is_not_in_any_error() {
    let config = cheap(UsersConfig::new([0x5a; 32]).unwrap());
    let users = Users::<TestUser>::new(config);
    let alice = TestUser::from_credentials(
        Uuid::now_v7(),
        "alice@example.com".into(),
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
    );
    let token = users.verification_token(&alice).unwrap();
    let expired = users
        .open_token(&token, TokenPurpose::Verification)
        .and_then(|_| {
            TokenSigner::new(users.config()).open(
                &token,
                TokenPurpose::Verification,
                SystemTime::now() + Duration::from_secs(48 * 3600),
            )
        })
        .unwrap_err();
    let wrong_purpose = users
        .open_token(&token, TokenPurpose::PasswordReset)
        .unwrap_err();
    for error in [expired, wrong_purpose] {
        assert!(matches!(error, UsersError::InvalidToken));
        assert_quotes_none("an invalid token", &renderings(&error), &[&token]);
    }
}
