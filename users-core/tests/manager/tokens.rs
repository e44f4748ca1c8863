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
