//! The decisions the operations call between their loads and writes, each checked on its own:
//! what the store returned goes in, the row to store or the error comes out.

use crate::manager::decisions::LoginOutcome;
use crate::{TokenPurpose, Users, UsersConfig, UsersError};

const SECRET: &[u8] = b"a unit test secret of 32+ bytes, at least";
const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "tr0ub4dor&3-but-longer";

super::support::test_user! {
    #[derive(PartialEq)]
    karma: i32 = 0,
}

fn users() -> Users<TestUser> {
    Users::new(
        UsersConfig::new(SECRET)
            .unwrap()
            .argon2_params(8, 1, 1)
            .unwrap(),
    )
}

fn registered(users: &Users<TestUser>) -> TestUser {
    let email = crate::normalize_email(" Alice@Example.com").unwrap();
    let user = users.registered_user(email, crate::unusable_password_hash(), |user| {
        user.karma = 1;
        user.is_verified = true;
    });
    users.registration_credentials(user, PASSWORD).unwrap()
}

fn assert_err<T: std::fmt::Debug>(result: Result<T, UsersError>, expected: &str) {
    let error = format!("{:?}", result.expect_err("the decision should refuse"));
    assert!(
        error.starts_with(expected),
        "expected {expected}, got {error}"
    );
}

#[test]
fn a_registration_keeps_the_custom_fields_but_not_the_flags() {
    let alice = registered(&users());
    assert_eq!(
        (alice.email.as_str(), alice.karma),
        ("alice@example.com", 1)
    );
    assert!(alice.is_active && !alice.is_verified);
}

#[test]
fn a_login_checks_the_password_whoever_asks() {
    let users = users();
    let alice = registered(&users);
    assert_eq!(
        users.check_login(Some(alice.clone()), PASSWORD).unwrap(),
        LoginOutcome::Current(alice.clone())
    );
    assert_err(
        users.check_login(Some(alice), "wrong password"),
        "InvalidCredentials",
    );
    assert_err(users.check_login(None, PASSWORD), "InvalidCredentials");
}

#[test]
fn an_outdated_hash_comes_back_rehashed_for_the_caller_to_store() {
    let alice = registered(&users());
    let current: Users<TestUser> = Users::new(UsersConfig::new(SECRET).unwrap());
    match current.check_login(Some(alice.clone()), PASSWORD).unwrap() {
        LoginOutcome::Rehashed(user) => {
            assert!(user.password_hash.contains("m=19456,t=2,p=1"));
            assert_eq!(user.id, alice.id);
        }
        outcome => panic!("expected a rehash, got {outcome:?}"),
    }
}

#[test]
fn an_opened_token_only_finishes_its_own_purpose() {
    let users = users();
    let alice = registered(&users);
    let reset = users.password_reset_token_for(&alice);
    let reset = users
        .open_token(&reset, TokenPurpose::PasswordReset)
        .unwrap();
    assert_eq!(reset.user_id(), alice.id);
    assert_err(
        users.finish_verification(&reset, Some(alice.clone())),
        "InvalidToken",
    );
    let verification = users.verification_token(&alice).unwrap();
    let verification = users
        .open_token(&verification, TokenPurpose::Verification)
        .unwrap();
    assert_err(
        users.finish_password_reset(&verification, Some(alice.clone()), NEW_PASSWORD),
        "InvalidToken",
    );
    assert_err(
        users.finish_verification(&verification, None),
        "InvalidToken",
    );
    assert!(
        users
            .finish_verification(&verification, Some(alice.clone()))
            .unwrap()
            .is_verified
    );
    users
        .finish_password_reset(&reset, Some(alice), NEW_PASSWORD)
        .unwrap();
}

#[test]
fn the_guarded_check_counts_each_kind_of_proof_apart() {
    use crate::Proof;
    let users = Users::<TestUser>::new(
        UsersConfig::new(SECRET)
            .unwrap()
            .login_limits(2, 100)
            .unwrap(),
    );
    let account = Some("alice@example.com");
    let wrong = || Err::<(), _>(UsersError::InvalidCredentials);
    for _ in 0..2 {
        assert_err(
            users.guarded(Proof::SecondFactor, account, None, wrong),
            "InvalidCredentials",
        );
    }
    // Locked: the right code is refused too.
    assert_err(
        users.guarded(Proof::SecondFactor, account, None, || Ok(())),
        "TooManyAttempts",
    );
    // A right password is another kind: it passes, and forgives no wrong code.
    users
        .guarded(Proof::Password, account, None, || Ok(()))
        .unwrap();
    assert_err(
        users.guarded(Proof::SecondFactor, account, None, || Ok(())),
        "TooManyAttempts",
    );
    // Another account is not locked; a refusal that is no failed proof counts for nothing.
    let other = Some("bob@example.com");
    for _ in 0..3 {
        assert_err(
            users.guarded(Proof::SecondFactor, other, None, || {
                Err::<(), _>(UsersError::InvalidToken)
            }),
            "InvalidToken",
        );
    }
    users
        .guarded(Proof::SecondFactor, other, None, || Ok(()))
        .unwrap();
    // A token's failure is InvalidToken, counted by the client.
    for _ in 0..100 {
        let _ = users.guarded(Proof::Token, None, Some("2001:db8::1"), || {
            Err::<(), _>(UsersError::InvalidToken)
        });
    }
    assert_err(
        users.guarded(Proof::Token, None, Some("2001:db8::ffff"), || Ok(())),
        "TooManyAttempts",
    );
    users
        .guarded(Proof::Token, None, Some("2001:db8:0:1::1"), || Ok(()))
        .unwrap();
}
