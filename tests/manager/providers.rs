//! Provider accounts ("sign in with …"): the linking rules, on both managers.

use super::*;

#[test_cases(manager_tests)]
mod cases {
    // Provider accounts ("sign in with …"): the linking rules, on both managers.

    fn provider_sign_in_follows_the_linking_rules(conn: _, db: _) {
        let migrations = Migrations::new()
            .with::<User>()
            .with::<SecondFactors<User>>()
            .with::<OAuthAccounts<User>>();
        db.run_pending_migrations(migrations).expect("migrate");
        let users = drive(manager());
        let at = |provider: &str, subject: &str, email: Option<&str>, verified: bool| {
            users_diesel::ProviderIdentity {
                provider: provider.into(),
                subject: subject.into(),
                email: email.map(Into::into),
                email_verified: verified,
                tokens: None,
            }
        };
        use users_diesel::OAuthSignIn::{Linked, Registered, SignedIn};

        // A new person: a user without a password, verified as the provider says.
        let jane = match users
            .oauth_sign_in(conn, &at("corp", "1", Some("Jane@Example.COM"), true))
            .unwrap()
        {
            Registered(user) => user,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            (jane.email.as_str(), jane.is_verified),
            ("jane@example.com", true)
        );
        assert!(!users_diesel::has_usable_password(&jane.password_hash));
        assert_err!(
            users.authenticate(conn, "jane@example.com", &jane.password_hash),
            UsersError::InvalidCredentials
        );
        let again = users
            .oauth_sign_in(conn, &at("corp", "1", Some("jane@example.com"), true))
            .unwrap();
        assert_eq!(again, SignedIn(jane.clone()));
        let unverified = users
            .oauth_sign_in(conn, &at("corp", "9", Some("new@example.com"), false))
            .unwrap();
        assert!(matches!(unverified, Registered(user) if !user.is_verified));
        assert_err!(
            users.oauth_sign_in(conn, &at("corp", "8", None, true)),
            UsersError::InvalidEmail(_)
        );
        assert_err!(
            users.oauth_sign_in(
                conn,
                &at("corp", &"s".repeat(256), Some("x@example.com"), true)
            ),
            UsersError::InvalidToken
        );

        // A local account with the address: linked only when both sides verified it.
        let alice = users.register(conn, EMAIL, PASSWORD).unwrap();
        assert_err!(
            users.oauth_sign_in(conn, &at("corp", "2", Some(EMAIL), true)),
            UsersError::EmailTaken
        );
        let token = users.verification_token(&alice).unwrap();
        let alice = users.verify(conn, &token).unwrap();
        assert_err!(
            users.oauth_sign_in(conn, &at("corp", "2", Some(EMAIL), false)),
            UsersError::EmailTaken
        );
        assert!(
            users.oauth_accounts(conn, &alice).unwrap().is_empty(),
            "a refusal links nothing"
        );
        assert_eq!(
            users
                .oauth_sign_in(conn, &at("corp", "2", Some(EMAIL), true))
                .unwrap(),
            Linked(alice.clone())
        );
        assert_eq!(user_count!(db), 3);

        // Linking by a logged-in user: any address; one account per provider; an account of
        // one user only.
        let github = users
            .link_oauth(
                conn,
                &jane,
                &at("github", "77", Some("jane@work.example"), false),
            )
            .unwrap();
        assert_eq!(
            (github.user_id, github.provider.as_str()),
            (jane.id.into(), "github")
        );
        assert_err!(
            users.link_oauth(conn, &alice, &at("github", "77", None, false)),
            UsersError::Conflict { column: "subject" }
        );
        assert_err!(
            users.link_oauth(conn, &jane, &at("github", "78", None, false)),
            UsersError::Conflict { column: "provider" }
        );
        let listed = users.oauth_accounts(conn, &jane).unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|a| a.provider.as_str())
                .collect::<Vec<_>>(),
            ["corp", "github"]
        );

        // Unlinking: never the last way to sign in.
        assert!(users.unlink_oauth(conn, &jane, "corp").unwrap());
        assert!(!users.unlink_oauth(conn, &jane, "corp").unwrap());
        assert_err!(
            users.unlink_oauth(conn, &jane, "github"),
            UsersError::LastSignInMethod
        );
        users
            .add_passkey(conn, &jane, "credential-id", "{}", Some("phone"))
            .unwrap();
        assert!(users.unlink_oauth(conn, &jane, "github").unwrap());
        // Alice has a password.
        assert!(users.unlink_oauth(conn, &alice, "corp").unwrap());
        // Deleting a user deletes their accounts (ON DELETE CASCADE).
        users
            .link_oauth(conn, &alice, &at("corp", "2", Some(EMAIL), true))
            .unwrap();
        users.delete(conn, alice.id).unwrap();
        let left = users
            .oauth_sign_in(conn, &at("corp", "2", Some(EMAIL), true))
            .unwrap();
        assert!(matches!(left, Registered(user) if user.id != alice.id));
    }

    fn kept_provider_tokens_are_sealed_in_the_table(conn: _, db: _) {
        db.run_pending_migrations(
            Migrations::new()
                .with::<User>()
                .with::<OAuthAccounts<User>>(),
        )
        .expect("migrate");
        let users = drive(manager());
        let tokens = users_diesel::ProviderTokens {
            access_token: "provider-access-token".into(),
            refresh_token: Some("provider-refresh-token".into()),
            expires_at: Some(
                std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000),
            ),
        };
        let identity = users_diesel::ProviderIdentity {
            provider: "corp".into(),
            subject: "1".into(),
            email: Some(EMAIL.into()),
            email_verified: true,
            tokens: Some(tokens.clone()),
        };
        let user = users.oauth_sign_in(conn, &identity).unwrap().into_user();
        let account = users.oauth_accounts(conn, &user).unwrap().remove(0);
        assert_eq!(users.provider_tokens(&account).unwrap(), Some(tokens));
        let stored: String =
            diesel::sql_query("SELECT access_token AS totp_secret FROM users_oauth_accounts")
                .get_result::<SecretColumn>(db)
                .unwrap()
                .totp_secret;
        assert!(!stored.contains("provider-access-token"), "{stored}");
    }
}
