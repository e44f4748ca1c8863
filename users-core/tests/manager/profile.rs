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
