//! Stored sessions, second factors and the first proof of an address, on both managers.

use super::*;

#[test_cases(manager_tests)]
mod cases {
    // Stored sessions and second factors: the operations users-axum uses, on both managers.

    fn sessions_rotate_refresh_tokens_and_end_on_demand(conn: _, db: _) {
        db.run_pending_migrations(Migrations::new().with::<User>().with::<Sessions<User>>())
            .expect("migrate");
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let policy = users_diesel::SessionPolicy::default();
        let origin = users_diesel::SessionOrigin {
            user_agent: Some("Test/1.0".into()),
            client: Some("127.0.0.1".into()),
        };
        let laptop = users
            .start_session(conn, &alice, origin.clone(), &policy)
            .unwrap();
        let phone = users.start_session(conn, &alice, origin, &policy).unwrap();
        let listed = users.sessions(conn, &alice).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].id, phone.session.id, "newest first");
        assert_eq!(listed[1].user_agent.as_deref(), Some("Test/1.0"));
        // Rotation, then the retired token replayed: the session ends.
        let renewed = users
            .refresh_session(conn, &phone.refresh_token, &policy)
            .unwrap();
        assert_eq!(renewed.session.id, phone.session.id);
        assert!(matches!(
            users.refresh_session(conn, &phone.refresh_token, &policy),
            Err(UsersError::InvalidToken)
        ));
        assert!(users
            .refresh_session(conn, &renewed.refresh_token, &policy)
            .is_err());
        assert_eq!(users.sessions(conn, &alice).unwrap().len(), 1);
        let tablet = users
            .start_session(
                conn,
                &alice,
                users_diesel::SessionOrigin::default(),
                &policy,
            )
            .unwrap();
        assert_eq!(
            users
                .end_other_sessions(conn, &alice, tablet.session.id)
                .unwrap(),
            1
        );
        assert!(users
            .refresh_session(conn, &laptop.refresh_token, &policy)
            .is_err());
        assert_eq!(users.end_all_sessions(conn, alice.id).unwrap(), 1);
        assert!(users.sessions(conn, &alice).unwrap().is_empty());
    }

    fn a_new_session_deletes_the_users_ended_ones_and_only_those(conn: _, db: _) {
        db.run_pending_migrations(Migrations::new().with::<User>().with::<Sessions<User>>())
            .expect("migrate");
        let users = drive(manager());
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        let bob = users.register(conn, "bob@example.com", PASSWORD).unwrap();
        let origin = users_diesel::SessionOrigin::default;
        // Sessions that soon idle out, and one of Bob's that does too.
        let brief = users_diesel::SessionPolicy {
            idle_timeout: std::time::Duration::from_millis(400),
            ..users_diesel::SessionPolicy::default()
        };
        for _ in 0..3 {
            users.start_session(conn, &alice, origin(), &brief).unwrap();
        }
        users.start_session(conn, &bob, origin(), &brief).unwrap();
        assert_eq!(db.count_rows("users_sessions"), 4);
        std::thread::sleep(std::time::Duration::from_millis(500));

        let policy = users_diesel::SessionPolicy::default();
        let live = users
            .start_session(conn, &alice, origin(), &policy)
            .unwrap();
        // Alice's three ended ones are gone; Bob's waits for his own next login.
        assert_eq!(db.count_rows("users_sessions"), 2);
        let left: Vec<_> = users
            .sessions(conn, &alice)
            .unwrap()
            .into_iter()
            .map(|session| session.id)
            .collect();
        assert_eq!(left, [live.session.id]);
    }

    fn a_totp_login_takes_each_code_and_pending_token_once(conn: _, db: _) {
        db.run_pending_migrations(
            Migrations::new()
                .with::<User>()
                .with::<SecondFactors<User>>(),
        )
        .expect("migrate");
        let users = drive(manager());
        let mut alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        // A factor is set up on a proved address only.
        assert_err!(
            users.enroll_totp(conn, &alice, "Example"),
            UsersError::UnverifiedUser
        );
        alice.is_verified = true;
        let alice = users.update(conn, &alice).unwrap();
        assert!(users
            .second_factor_challenge(conn, &alice)
            .unwrap()
            .is_none());
        let enrollment = users.enroll_totp(conn, &alice, "Example").unwrap();
        // Unconfirmed, it is not asked for.
        assert!(users
            .second_factor_challenge(conn, &alice)
            .unwrap()
            .is_none());
        let now = std::time::SystemTime::now();
        let code = |offset: i64| {
            let step = Duration::from_secs(30 * offset.unsigned_abs());
            let at = if offset < 0 { now - step } else { now + step };
            users_diesel::totp_code(&enrollment.secret, at).unwrap()
        };
        assert!(matches!(
            users.confirm_totp(conn, None, &alice, "000000"),
            Err(UsersError::InvalidCredentials)
        ));
        let recovery = users.confirm_totp(conn, None, &alice, &code(-1)).unwrap();
        assert_eq!(recovery.len(), 10);

        let challenge = users
            .second_factor_challenge(conn, &alice)
            .unwrap()
            .unwrap();
        use users_diesel::SecondFactorProof::Totp;
        let (now_code, next_code) = (code(0), code(1));
        let done = users
            .complete_second_factor(conn, None, &challenge.token, Totp(&now_code))
            .unwrap();
        assert_eq!(done.id, alice.id);
        // The token once; the code once.
        assert!(matches!(
            users.complete_second_factor(conn, None, &challenge.token, Totp(&next_code)),
            Err(UsersError::InvalidToken)
        ));
        let again = users
            .second_factor_challenge(conn, &alice)
            .unwrap()
            .unwrap();
        assert!(matches!(
            users.complete_second_factor(conn, None, &again.token, Totp(&now_code)),
            Err(UsersError::InvalidCredentials)
        ));
        let recovery_code = users_diesel::SecondFactorProof::RecoveryCode(&recovery[0]);
        users
            .complete_second_factor(conn, None, &again.token, recovery_code)
            .unwrap();
        // The sealed secret is no secret in the table.
        let stored: String = diesel::sql_query("SELECT totp_secret FROM users_second_factors")
            .get_result::<SecretColumn>(db)
            .unwrap()
            .totp_secret;
        assert!(!stored.contains(&enrollment.secret));
        assert!(users.remove_totp(conn, &alice).unwrap());
        assert!(users
            .second_factor_challenge(conn, &alice)
            .unwrap()
            .is_none());
    }

    // The first proof of an address (#27): what was set up before it goes, in its transaction.

    fn the_first_proof_clears_what_was_set_up_before(conn: _, db: _) {
        let migrations = Migrations::new()
            .with::<User>()
            .with::<Sessions<User>>()
            .with::<SecondFactors<User>>()
            .with::<OAuthAccounts<User>>();
        db.run_pending_migrations(migrations).expect("migrate");
        let users = drive(manager().first_proof_clears(users_diesel::FirstProofClears::ALL));
        let policy = users_diesel::SessionPolicy::default();
        let origin = users_diesel::SessionOrigin::default;
        let identity = users_diesel::ProviderIdentity {
            provider: "corp".into(),
            subject: "squatter".into(),
            email: Some("squatter@example.org".into()),
            email_verified: true,
            tokens: None,
        };
        // Set up as if before the rules: verified for the enrolment, then unverified again.
        let mut alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        assert_err!(
            users.enroll_totp(conn, &alice, "Example"),
            UsersError::UnverifiedUser
        );
        alice.is_verified = true;
        let mut alice = users.update(conn, &alice).unwrap();
        let enrollment = users.enroll_totp(conn, &alice, "Example").unwrap();
        let code =
            users_diesel::totp_code(&enrollment.secret, std::time::SystemTime::now()).unwrap();
        users.confirm_totp(conn, None, &alice, &code).unwrap();
        users.link_oauth(conn, &alice, &identity).unwrap();
        users
            .start_session(conn, &alice, origin(), &policy)
            .unwrap();
        alice.is_verified = false;
        let alice = users.update(conn, &alice).unwrap();
        assert!(users
            .second_factor_challenge(conn, &alice)
            .unwrap()
            .is_some());
        // Unverified: nothing more may be set up.
        assert_err!(
            users.enroll_totp(conn, &alice, "Example"),
            UsersError::UnverifiedUser
        );
        assert_err!(
            users.link_oauth(conn, &alice, &identity),
            UsersError::UnverifiedUser
        );

        let token = users.verification_token(&alice).unwrap();
        let alice = users.verify(conn, &token).unwrap();
        assert!(alice.is_verified);
        assert!(users
            .second_factor_challenge(conn, &alice)
            .unwrap()
            .is_none());
        assert!(users.oauth_accounts(conn, &alice).unwrap().is_empty());
        assert!(users.sessions(conn, &alice).unwrap().is_empty());
    }

    fn a_reset_of_an_unverified_account_verifies_and_clears(conn: _, db: _) {
        let migrations = Migrations::new()
            .with::<User>()
            .with::<Sessions<User>>()
            .with::<SecondFactors<User>>()
            .with::<OAuthAccounts<User>>();
        db.run_pending_migrations(migrations).expect("migrate");
        let users = drive(manager().first_proof_clears(users_diesel::FirstProofClears::ALL));
        let policy = users_diesel::SessionPolicy::default();
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        users
            .start_session(
                conn,
                &alice,
                users_diesel::SessionOrigin::default(),
                &policy,
            )
            .unwrap();
        let token = users.password_reset_token(conn, EMAIL).unwrap().unwrap();
        let alice = users.reset_password(conn, &token, NEW_PASSWORD).unwrap();
        assert!(alice.is_verified, "the reset proved the address");
        assert!(users.sessions(conn, &alice).unwrap().is_empty());
        // A manager told nothing clears nothing (its tables may not exist).
        let plain = drive(manager());
        let bob = plain.register(conn, "bob@example.com", PASSWORD).unwrap();
        plain
            .start_session(conn, &bob, users_diesel::SessionOrigin::default(), &policy)
            .unwrap();
        let token = plain
            .password_reset_token(conn, "bob@example.com")
            .unwrap()
            .unwrap();
        let bob = plain.reset_password(conn, &token, NEW_PASSWORD).unwrap();
        assert!(bob.is_verified);
        assert_eq!(plain.sessions(conn, &bob).unwrap().len(), 1);
    }
}
