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
