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
