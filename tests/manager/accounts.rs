//! Registration, logging in, reading and updating, on both managers.

use super::*;

#[test_cases(manager_tests)]
mod cases {
    // Registration.

    fn register_normalises_the_email_and_stores_the_user(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users
            .register(conn, "  Alice@Example.COM\t", PASSWORD)
            .unwrap();
        assert_eq!(alice.email, EMAIL);
        assert!(alice.is_active);
        assert!(!alice.is_verified);
        assert!(alice.password_hash.starts_with("$argon2id$v=19$"));
        assert!(!alice.password_hash.contains(PASSWORD));
        assert_eq!(alice.id.get_version_num(), 7);

        let stored: User = users::table.find(alice.id).first(db).unwrap();
        assert_eq!(stored, alice);
        assert_eq!(user_count!(db), 1);
    }

    fn register_refuses_a_case_variant_of_a_taken_email(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        assert_err!(
            users.register(conn, " ALICE@example.COM ", NEW_PASSWORD),
            UsersError::EmailTaken
        );
        assert_err!(
            users.register(conn, EMAIL, NEW_PASSWORD),
            UsersError::EmailTaken
        );
        assert_eq!(user_count!(db), 1);
        let stored: User = users::table.first(db).unwrap();
        assert_eq!(stored, alice);
        users.authenticate(conn, EMAIL, PASSWORD).unwrap();
        assert_err!(
            users.authenticate(conn, EMAIL, NEW_PASSWORD),
            UsersError::InvalidCredentials
        );
    }

    fn register_refuses_a_malformed_email(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        for email in [
            "",
            "   ",
            "alice",
            "alice@",
            "@example.com",
            "a@b@c",
            "al ice@example.com",
        ] {
            assert_err!(
                users.register(conn, email, PASSWORD),
                UsersError::InvalidEmail(_)
            );
        }
        assert_eq!(user_count!(db), 0);
    }

    fn register_with_sets_custom_fields_and_defaults_apply_otherwise(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let bob = users
            .register_with(conn, "Bob@Example.com", PASSWORD, |user| {
                user.display_name = Some("Bob".to_owned());
                user.token_count = 3;
                user.plan = "pro".to_owned();
                // The manager owns these: they are reset whatever the closure does.
                user.email = "mallory@example.com".to_owned();
                user.password_hash = "not a hash".to_owned();
                user.is_active = false;
                user.is_verified = true;
            })
            .unwrap();
        let stored = users.get(conn, bob.id).unwrap().expect("bob is stored");
        assert_eq!(stored, bob);
        assert_eq!(stored.display_name.as_deref(), Some("Bob"));
        assert_eq!(stored.token_count, 3);
        assert_eq!(stored.plan, "pro");
        assert_eq!(stored.email, "bob@example.com");
        assert!(stored.is_active);
        assert!(!stored.is_verified);
        users
            .authenticate(conn, "bob@example.com", PASSWORD)
            .unwrap();

        let carol = users.register(conn, "carol@example.com", PASSWORD).unwrap();
        let stored = users.get(conn, carol.id).unwrap().expect("carol is stored");
        assert_eq!(stored.display_name, None);
        assert_eq!(stored.token_count, 0);
        assert_eq!(stored.plan, "reader");
    }

    // Logging in.

    fn authenticate_accepts_only_the_right_password(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();

        let logged_in = users
            .authenticate(conn, " Alice@EXAMPLE.com ", PASSWORD)
            .unwrap();
        assert_eq!(logged_in, alice);
        assert_err!(
            users.authenticate(conn, EMAIL, "correct horse battery stapl"),
            UsersError::InvalidCredentials
        );
        assert_err!(
            users.authenticate(conn, EMAIL, &PASSWORD.to_uppercase()),
            UsersError::InvalidCredentials
        );
        assert_err!(
            users.authenticate(conn, "bob@example.com", PASSWORD),
            UsersError::InvalidCredentials
        );
        // A malformed address belongs to nobody: the same answer, not InvalidEmail.
        assert_err!(
            users.authenticate(conn, "not an email", PASSWORD),
            UsersError::InvalidCredentials
        );
    }

    fn an_inactive_user_is_told_so_only_with_the_right_password(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let alice = users
            .update(
                conn,
                &User {
                    is_active: false,
                    ..alice
                },
            )
            .unwrap();
        assert!(!alice.is_active);

        assert_err!(
            users.authenticate(conn, EMAIL, PASSWORD),
            UsersError::InactiveUser
        );
        assert_err!(
            users.authenticate(conn, EMAIL, NEW_PASSWORD),
            UsersError::InvalidCredentials
        );

        users
            .update(
                conn,
                &User {
                    is_active: true,
                    ..alice
                },
            )
            .unwrap();
        users.authenticate(conn, EMAIL, PASSWORD).unwrap();
    }

    fn require_verified_refuses_unverified_users_until_they_verify(conn: _, db: _) {
        migrate(db);
        let users = drive(Users::<User>::new(config().require_verified(true)));
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();

        assert_err!(
            users.authenticate(conn, EMAIL, PASSWORD),
            UsersError::UnverifiedUser
        );
        assert_err!(
            users.authenticate(conn, EMAIL, NEW_PASSWORD),
            UsersError::InvalidCredentials
        );
        // Inactive comes first.
        let inactive = users
            .update(
                conn,
                &User {
                    is_active: false,
                    ..alice.clone()
                },
            )
            .unwrap();
        assert_err!(
            users.authenticate(conn, EMAIL, PASSWORD),
            UsersError::InactiveUser
        );
        users
            .update(
                conn,
                &User {
                    is_active: true,
                    ..inactive
                },
            )
            .unwrap();

        let token = users.verification_token(&alice).unwrap();
        users.verify(conn, &token).unwrap();
        let logged_in = users.authenticate(conn, EMAIL, PASSWORD).unwrap();
        assert!(logged_in.is_verified);

        // Without the requirement, an unverified user logs in.
        users.register(conn, "bob@example.com", PASSWORD).unwrap();
        assert_err!(
            users.authenticate(conn, "bob@example.com", PASSWORD),
            UsersError::UnverifiedUser
        );
        drive(manager())
            .authenticate(conn, "bob@example.com", PASSWORD)
            .unwrap();
    }

    fn login_rehashes_an_outdated_hash_in_place(conn: _, db: _) {
        migrate(db);
        let cheap = drive(manager());
        let alice = cheap.register(conn, EMAIL, PASSWORD).unwrap();
        let cheap_hash = stored_hash!(db, alice.id);
        assert!(cheap_hash.contains(CHEAP_PARAMS), "{cheap_hash}");

        let current = drive(Users::<User>::new(UsersConfig::new(SECRET).unwrap()));
        // A failed login changes nothing.
        assert_err!(
            current.authenticate(conn, EMAIL, NEW_PASSWORD),
            UsersError::InvalidCredentials
        );
        assert_eq!(stored_hash!(db, alice.id), cheap_hash);

        let logged_in = current.authenticate(conn, EMAIL, PASSWORD).unwrap();
        let upgraded = stored_hash!(db, alice.id);
        assert!(upgraded.starts_with("$argon2id$v=19$"), "{upgraded}");
        assert!(upgraded.contains(DEFAULT_PARAMS), "{upgraded}");
        assert_eq!(logged_in.password_hash, upgraded);
        assert_eq!(
            User {
                password_hash: cheap_hash,
                ..logged_in
            },
            alice
        );

        // The upgraded hash is current: the next login keeps it.
        current.authenticate(conn, EMAIL, PASSWORD).unwrap();
        assert_eq!(stored_hash!(db, alice.id), upgraded);
        assert_err!(
            current.authenticate(conn, EMAIL, NEW_PASSWORD),
            UsersError::InvalidCredentials
        );
    }

    // Reading.

    fn get_and_find_by_email(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let bob = users.register(conn, "bob@example.com", PASSWORD).unwrap();

        assert_eq!(users.get(conn, alice.id).unwrap(), Some(alice.clone()));
        assert_eq!(users.get(conn, bob.id).unwrap(), Some(bob.clone()));
        assert_eq!(users.get(conn, Id::new()).unwrap(), None);

        assert_eq!(
            users.find_by_email(conn, EMAIL).unwrap(),
            Some(alice.clone())
        );
        assert_eq!(
            users.find_by_email(conn, "  ALICE@Example.Com ").unwrap(),
            Some(alice)
        );
        assert_eq!(
            users.find_by_email(conn, "BOB@example.com").unwrap(),
            Some(bob)
        );
        assert_eq!(
            users.find_by_email(conn, "carol@example.com").unwrap(),
            None
        );
        assert_err!(
            users.find_by_email(conn, "not an email"),
            UsersError::InvalidEmail(_)
        );
    }

    // Updating.

    fn update_persists_custom_fields_and_keeps_verification(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let alice = users
            .verify(conn, &users.verification_token(&alice).unwrap())
            .unwrap();

        let requested = User {
            display_name: Some("Alice".to_owned()),
            token_count: 7,
            plan: "pro".to_owned(),
            ..alice.clone()
        };
        let updated = users.update(conn, &requested).unwrap();
        assert_eq!(updated, requested);
        let stored: User = users::table.find(alice.id).first(db).unwrap();
        assert_eq!(stored, requested);
        assert!(stored.is_verified);

        // The same address in another case is no change of email.
        let updated = users
            .update(
                conn,
                &User {
                    email: "ALICE@Example.com".to_owned(),
                    ..stored.clone()
                },
            )
            .unwrap();
        assert_eq!(updated, stored);
        assert_eq!(users.get(conn, alice.id).unwrap(), Some(stored.clone()));

        // An update that changes nothing still succeeds and returns the row.
        assert_eq!(users.update(conn, &stored).unwrap(), stored);
    }

    fn update_refuses_an_email_change_and_set_email_makes_one(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let alice = users
            .verify(conn, &users.verification_token(&alice).unwrap())
            .unwrap();
        users.register(conn, "bob@example.com", PASSWORD).unwrap();

        // A stolen session must not move the account to another address: `update` refuses.
        let moved = User {
            email: "mallory@example.com".to_owned(),
            ..alice.clone()
        };
        assert_err!(users.update(conn, &moved), UsersError::PasswordRequired);
        assert_err!(
            users.update(
                conn,
                &User {
                    email: "no at sign".to_owned(),
                    ..alice.clone()
                }
            ),
            UsersError::InvalidEmail(_)
        );
        // The same address, written differently, is no change.
        let same = User {
            email: " ALICE@example.com ".to_owned(),
            ..alice.clone()
        };
        assert_eq!(users.update(conn, &same).unwrap(), alice);
        assert_eq!(users.get(conn, alice.id).unwrap(), Some(alice.clone()));

        // An administrator's change: at once, unverified, and a taken address changes nothing.
        assert_err!(
            users.set_email(conn, &alice, "BOB@example.com"),
            UsersError::EmailTaken
        );
        let updated = users
            .set_email(conn, &alice, " Alice@NEW.example ")
            .unwrap();
        assert_eq!(updated.email, "alice@new.example");
        assert!(!updated.is_verified);
        assert_eq!(users.get(conn, alice.id).unwrap(), Some(updated));
        users
            .authenticate(conn, "Alice@New.Example", PASSWORD)
            .unwrap();
    }

    fn an_email_change_needs_the_password_and_waits_for_the_new_address(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let old_verification = users.verification_token(&alice).unwrap();
        let old_reset = users
            .password_reset_token(conn, EMAIL)
            .unwrap()
            .expect("a token");
        users.register(conn, "bob@example.com", PASSWORD).unwrap();

        let new = "Alice@Example.ORG";
        assert_err!(
            users.request_email_change(conn, &alice, "not the password", new),
            UsersError::InvalidCredentials
        );
        assert_err!(
            users.request_email_change(conn, &alice, PASSWORD, "bob@EXAMPLE.com"),
            UsersError::EmailTaken
        );
        assert_err!(
            users.request_email_change(conn, &alice, PASSWORD, " alice@example.com"),
            UsersError::InvalidEmail(_)
        );
        assert_eq!(
            users.get(conn, alice.id).unwrap(),
            Some(alice.clone()),
            "refusals change nothing"
        );

        let change = users
            .request_email_change(conn, &alice, PASSWORD, new)
            .unwrap();
        // Pending: the account keeps its address, and the password still works.
        let pending = users.get(conn, alice.id).unwrap().expect("alice is stored");
        assert_eq!(pending.email, EMAIL);
        users.authenticate(conn, EMAIL, PASSWORD).unwrap();
        // The tokens issued before the request are dead.
        assert_err!(
            users.verify(conn, &old_verification),
            UsersError::InvalidToken
        );
        assert_err!(
            users.reset_password(conn, &old_reset, NEW_PASSWORD),
            UsersError::InvalidToken
        );

        let moved = users.verify(conn, &change).unwrap();
        assert_eq!(moved.email, "alice@example.org");
        assert!(moved.is_verified);
        assert_err!(users.verify(conn, &change), UsersError::InvalidToken);
        users
            .authenticate(conn, "alice@example.org", PASSWORD)
            .unwrap();
        assert_eq!(users.find_by_email(conn, EMAIL).unwrap(), None);

        // X → Y → X: the first address's old token stays dead.
        let back = users
            .request_email_change(conn, &moved, PASSWORD, EMAIL)
            .unwrap();
        assert_eq!(users.verify(conn, &back).unwrap().email, EMAIL);
        assert_err!(
            users.verify(conn, &old_verification),
            UsersError::InvalidToken
        );

        // A change token for an address taken meanwhile changes nothing.
        let alice = users.get(conn, alice.id).unwrap().expect("alice is stored");
        let late = users
            .request_email_change(conn, &alice, PASSWORD, "carol@example.com")
            .unwrap();
        users.register(conn, "carol@example.com", PASSWORD).unwrap();
        assert_err!(users.verify(conn, &late), UsersError::EmailTaken);
        assert_eq!(
            users.get(conn, alice.id).unwrap().expect("alice").email,
            EMAIL
        );
    }

    fn a_deactivated_user_gets_no_reset_token_and_cannot_verify_or_reset(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let verification = users.verification_token(&alice).unwrap();
        let reset = users
            .password_reset_token(conn, EMAIL)
            .unwrap()
            .expect("a token");
        let inactive = users
            .update(
                conn,
                &User {
                    is_active: false,
                    ..alice.clone()
                },
            )
            .unwrap();
        assert!(!inactive.is_active);

        assert_eq!(users.password_reset_token(conn, EMAIL).unwrap(), None);
        assert_err!(users.verify(conn, &verification), UsersError::InactiveUser);
        assert_err!(
            users.reset_password(conn, &reset, NEW_PASSWORD),
            UsersError::InactiveUser
        );
        assert_err!(
            users.request_email_change(conn, &inactive, PASSWORD, "new@example.com"),
            UsersError::InactiveUser
        );
        assert_eq!(users.get(conn, alice.id).unwrap(), Some(inactive.clone()));

        // Active again, the same tokens work.
        users
            .update(
                conn,
                &User {
                    is_active: true,
                    ..inactive
                },
            )
            .unwrap();
        assert!(users.verify(conn, &verification).unwrap().is_verified);
        users.reset_password(conn, &reset, NEW_PASSWORD).unwrap();
    }

    fn hide_account_state_makes_a_blocked_login_invalid_credentials(conn: _, db: _) {
        migrate(db);
        let plain = drive(Users::<User>::new(config().require_verified(true)));
        let hiding = drive(Users::<User>::new(
            config().require_verified(true).hide_account_state(true),
        ));
        let alice = plain.register(conn, EMAIL, PASSWORD).unwrap();
        assert_err!(
            plain.authenticate(conn, EMAIL, PASSWORD),
            UsersError::UnverifiedUser
        );
        assert_err!(
            hiding.authenticate(conn, EMAIL, PASSWORD),
            UsersError::InvalidCredentials
        );
        let alice = plain
            .verify(conn, &plain.verification_token(&alice).unwrap())
            .unwrap();
        plain
            .update(
                conn,
                &User {
                    is_active: false,
                    ..alice
                },
            )
            .unwrap();
        assert_err!(
            plain.authenticate(conn, EMAIL, PASSWORD),
            UsersError::InactiveUser
        );
        assert_err!(
            hiding.authenticate(conn, EMAIL, PASSWORD),
            UsersError::InvalidCredentials
        );
    }

    fn tokens_of_a_previous_secret_work_after_a_rotation(conn: _, db: _) {
        migrate(db);
        let before = drive(manager());
        let alice = before.register(conn, EMAIL, PASSWORD).unwrap();
        let verification = before.verification_token(&alice).unwrap();
        let reset = before
            .password_reset_token(conn, EMAIL)
            .unwrap()
            .expect("a token");

        let rotated = |previous: &[&str]| {
            UsersConfig::new(OTHER_SECRET)
                .and_then(|config| config.argon2_params(8, 1, 1))
                .and_then(|config| config.previous_secrets(previous))
                .unwrap()
        };
        // Without the retired secret its tokens are dead; with it they work, and new tokens
        // are signed with the new secret only.
        let forgetful = drive(Users::<User>::new(rotated(&[])));
        assert_err!(
            forgetful.verify(conn, &verification),
            UsersError::InvalidToken
        );
        let after = drive(Users::<User>::new(rotated(&[SECRET])));
        assert!(after.verify(conn, &verification).unwrap().is_verified);
        after.reset_password(conn, &reset, NEW_PASSWORD).unwrap();
        let fresh = after
            .password_reset_token(conn, EMAIL)
            .unwrap()
            .expect("a token");
        assert_err!(
            before.reset_password(conn, &fresh, PASSWORD),
            UsersError::InvalidToken
        );
        forgetful.reset_password(conn, &fresh, PASSWORD).unwrap();
    }

    fn update_cannot_change_the_password_hash(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let other = users
            .register(conn, "bob@example.com", NEW_PASSWORD)
            .unwrap();

        let updated = users
            .update(
                conn,
                &User {
                    password_hash: other.password_hash.clone(),
                    token_count: 1,
                    ..alice.clone()
                },
            )
            .unwrap();
        assert_eq!(updated.password_hash, alice.password_hash);
        assert_eq!(updated.token_count, 1);
        assert_eq!(stored_hash!(db, alice.id), alice.password_hash);
        users.authenticate(conn, EMAIL, PASSWORD).unwrap();
        assert_err!(
            users.authenticate(conn, EMAIL, NEW_PASSWORD),
            UsersError::InvalidCredentials
        );
    }

    fn changes_to_a_missing_user_are_user_not_found(conn: _, db: _) {
        migrate(db);
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        users.delete(conn, alice.id).unwrap();

        assert_err!(users.update(conn, &alice), UsersError::UserNotFound);
        assert_err!(
            users.change_password(conn, &alice, PASSWORD, NEW_PASSWORD),
            UsersError::UserNotFound
        );
        assert_err!(
            users.set_password(conn, &alice, NEW_PASSWORD),
            UsersError::UserNotFound
        );
        assert_eq!(user_count!(db), 0);
    }
}
