//! Passwords, deletion, verification and password reset, on both managers.

use super::*;

#[test_cases(manager_tests)]
mod cases {
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
}
