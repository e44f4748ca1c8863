//! Tokens and hooks, on both managers.

use super::*;

#[test_cases(manager_tests)]
mod cases {
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
