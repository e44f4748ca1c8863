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
