//! Second factors: TOTP enrolment, the pending login, recovery codes, lockout.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use users_diesel::prelude::*;
use users_diesel::TokenSigner;

use crate::support::*;

http_tests! {
    a_user_enrols_totp_and_logs_in_with_a_code_or_a_recovery_code,
    a_pending_token_is_no_session_and_expires,
    wrong_second_factor_codes_lock_the_account,
    removing_totp_or_new_recovery_codes_need_the_password_or_a_factor,
}

async fn a_user_enrols_totp_and_logs_in_with_a_code_or_a_recovery_code(backend: Backend) {
    let app = App::start(backend).await;
    app.register_verified("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let none = app.get("/users/me/mfa", &session).await.expect(200).body;
    assert_eq!(
        none,
        json!({ "totp": false, "totp_pending": false, "recovery_codes_left": 0, "methods": [] })
    );

    // Enrolled but not confirmed: shown once, not enforced yet.
    // A stolen session alone cannot add a factor: the password (or a factor) goes with it.
    app.call(
        Method::POST,
        "/users/me/mfa/totp",
        &session,
        Some(json!({})),
    )
    .await
    .expect_error(422, "invalid_field");
    app.call(
        Method::POST,
        "/users/me/mfa/totp",
        &session,
        Some(json!({ "password": "not the password" })),
    )
    .await
    .expect_error(401, "invalid_credentials");
    let enrolment = app
        .call(
            Method::POST,
            "/users/me/mfa/totp",
            &session,
            Some(json!({ "password": PASSWORD })),
        )
        .await
        .expect(200)
        .body;
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    if cfg!(feature = "qr") {
        assert!(enrolment["qr_svg"].as_str().unwrap().contains("<svg"));
    }
    assert!(
        uri.starts_with("otpauth://totp/users:alice%40example.com?"),
        "{uri}"
    );
    let pending = app.get("/users/me/mfa", &session).await.expect(200).body;
    assert_eq!(pending["totp_pending"], true);
    app.login("alice@example.com").await;
    let secret = enrolment["secret"].as_str().unwrap();
    app.call(
        Method::POST,
        "/users/me/mfa/totp/confirm",
        &session,
        Some(json!({ "code": "000000" })),
    )
    .await
    .expect_error(401, "invalid_credentials");
    let confirmed = app
        .call(
            Method::POST,
            "/users/me/mfa/totp/confirm",
            &session,
            Some(json!({ "code": code_at(secret, -1) })),
        )
        .await
        .expect(200)
        .body;
    let codes: Vec<String> = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    app.call(
        Method::POST,
        "/users/me/mfa/totp",
        &session,
        Some(json!({ "password": PASSWORD })),
    )
    .await
    .expect_error(409, "conflict");

    // The password alone no longer logs in.
    let token = app.pending_login("alice@example.com").await;
    let code = code_at(secret, 1);
    let login = app
        .complete(&token, json!({ "code": code }))
        .await
        .expect(200)
        .body;
    let (access, _) = tokens(&login);
    app.get("/users/me", &access).await.expect(200);
    // The pending token worked once.
    app.complete(&token, json!({ "code": code_at(secret, 0) }))
        .await
        .expect_error(401, "invalid_token");
    // A code works once (RFC 6238 §5.2): replayed on another login, it is refused.
    let token = app.pending_login("alice@example.com").await;
    app.complete(&token, json!({ "code": code }))
        .await
        .expect_error(401, "invalid_credentials");
    // Two steps away is past the allowed skew.
    app.complete(&token, json!({ "code": code_at(secret, 2) }))
        .await
        .expect_error(401, "invalid_credentials");

    // A recovery code, in any case and without its dash, works once.
    let typed = codes[0].to_uppercase().replace('-', "");
    app.complete(&token, json!({ "recovery_code": typed }))
        .await
        .expect(200);
    let token = app.pending_login("alice@example.com").await;
    app.complete(&token, json!({ "recovery_code": codes[0] }))
        .await
        .expect_error(401, "invalid_credentials");
    app.complete(&token, json!({ "recovery_code": codes[1] }))
        .await
        .expect(200);
    let left = app.get("/users/me/mfa", &access).await.expect(200).body;
    assert_eq!(left["recovery_codes_left"], 8);
    assert_eq!(left["methods"], json!(["totp", "recovery_code"]));
    // Both members, or neither, is a bad body.
    let token = app.pending_login("alice@example.com").await;
    app.complete(
        &token,
        json!({ "code": "123456", "recovery_code": codes[2] }),
    )
    .await
    .expect_error(422, "invalid_field");
    app.complete(&token, json!({}))
        .await
        .expect_error(422, "invalid_field");
}

async fn a_pending_token_is_no_session_and_expires(backend: Backend) {
    let mut app = App::start(backend).await;
    app.register_verified("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let (secret, _) = app.enrol_totp(&session).await;
    let token = app.pending_login("alice@example.com").await;
    // The pending token proves a password, not a login: no route takes it as a session.
    app.get("/users/me", &token)
        .await
        .expect_error(401, "invalid_token");
    app.refresh(&token).await.expect_error(401, "invalid_token");
    // Nor does a session token complete a login.
    app.complete(&session, json!({ "code": code_at(&secret, 1) }))
        .await
        .expect_error(401, "invalid_token");
    // Expired: issued six minutes ago for five.
    let user = app.db.user("alice@example.com");
    let signer = TokenSigner::new(&config());
    let version = 1; // enrolled (0 → inserted), then confirmed (1)
    let fresh = signer.issue_second_factor(
        &user,
        version,
        std::time::SystemTime::now(),
        Duration::from_secs(300),
    );
    let stale = signer.issue_second_factor(
        &user,
        version,
        std::time::SystemTime::now() - Duration::from_secs(360),
        Duration::from_secs(300),
    );
    app.complete(&stale, json!({ "code": code_at(&secret, 1) }))
        .await
        .expect_error(401, "invalid_token");
    // The same token, fresh, works: only its age was wrong.
    app.complete(&fresh, json!({ "code": code_at(&secret, 1) }))
        .await
        .expect(200);
}

async fn wrong_second_factor_codes_lock_the_account(backend: Backend) {
    let app = App::start_over(
        backend,
        AsyncUsers::new(throttled_config()),
        |state| state,
        |app| app,
    )
    .await;
    app.register_verified("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let (secret, codes) = app.enrol_totp(&session).await;
    let token = app.pending_login("alice@example.com").await;
    for wrong in ["000000", "111111", "222222"] {
        app.complete(&token, json!({ "code": wrong }))
            .await
            .expect_error(401, "invalid_credentials");
    }
    // Locked, like three wrong passwords: the right code and a recovery code are refused.
    let locked = app
        .complete(&token, json!({ "code": code_at(&secret, 1) }))
        .await
        .expect_error(429, "too_many_attempts");
    assert!(retry_after(&locked) > 0);
    app.complete(&token, json!({ "recovery_code": codes[0] }))
        .await
        .expect_error(429, "too_many_attempts");
}

async fn removing_totp_or_new_recovery_codes_need_the_password_or_a_factor(backend: Backend) {
    let app = App::start(backend).await;
    app.register_verified("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let (secret, codes) = app.enrol_totp(&session).await;
    let remove = |body: Value| app.call(Method::DELETE, "/users/me/mfa/totp", &session, Some(body));
    remove(json!({})).await.expect_error(422, "invalid_field");
    remove(json!({ "password": "not the password" }))
        .await
        .expect_error(401, "invalid_credentials");
    remove(json!({ "code": "000000" }))
        .await
        .expect_error(401, "invalid_credentials");

    // New recovery codes, given a code: the old ones are dead.
    let renewed = app
        .call(
            Method::POST,
            "/users/me/mfa/recovery-codes",
            &session,
            Some(json!({ "code": code_at(&secret, 1) })),
        )
        .await
        .expect(200)
        .body;
    let fresh = renewed["recovery_codes"][0].as_str().unwrap().to_owned();
    remove(json!({ "recovery_code": codes[0] }))
        .await
        .expect_error(401, "invalid_credentials");
    // Removed with a new recovery code: logins ask for the password alone again.
    remove(json!({ "recovery_code": fresh })).await.expect(204);
    app.login("alice@example.com").await;
    let none = app.get("/users/me/mfa", &session).await.expect(200).body;
    assert_eq!(none["totp"], false);
    assert_eq!(none["recovery_codes_left"], 0);
    remove(json!({ "password": PASSWORD }))
        .await
        .expect_error(409, "conflict");
}
