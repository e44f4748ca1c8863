//! Registration, login, verification, the mail routes and their tokens.

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::json;
use users_axum::MailKind;
use users_diesel::Uuid;

use crate::support::*;

http_tests! {
    the_full_flow_works_and_a_reset_ends_the_old_session,
    bad_bodies_are_json_errors,
    unknown_and_known_emails_get_the_same_answer,
    inactive_users_are_refused,
    registration_errors_have_codes,
    tokens_of_one_purpose_are_useless_for_another,
}

async fn the_full_flow_works_and_a_reset_ends_the_old_session(backend: Backend) {
    let app = App::start(backend).await;

    let registered = app
        .post(
            "/auth/register",
            json!({ "email": "Alice@Example.COM", "password": PASSWORD, "display_name": "Alice" }),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(registered["email"], "alice@example.com");
    assert_eq!(registered["display_name"], "Alice");
    assert_eq!(registered["is_verified"], false);
    assert_eq!(registered["is_active"], true);
    assert_eq!(registered["roles"], json!([]));
    assert!(registered["id"].as_str().unwrap().parse::<Uuid>().is_ok());
    for hidden in ["password_hash", "credits", "password"] {
        assert!(registered.get(hidden).is_none(), "{registered}");
    }

    // Registration mails a verification token; request-verify mails another.
    app.mailed("alice@example.com", MailKind::Verification)
        .await;
    app.ask_mail("/auth/request-verify", "alice@example.com")
        .await
        .expect(202);
    let verification = app
        .mailed("alice@example.com", MailKind::Verification)
        .await;
    let verified = app
        .post("/auth/verify", json!({ "token": verification }))
        .await
        .expect(200)
        .body;
    assert_eq!(verified["is_verified"], true);
    app.post("/auth/verify", json!({ "token": verification }))
        .await
        .expect_error(409, "already_verified");

    let session = app.login("ALICE@example.com").await;
    let me = app.get("/users/me", &session).await.expect(200).body;
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["display_name"], "Alice");
    assert_eq!(me["is_verified"], true);
    assert_eq!(me["id"], registered["id"]);

    app.ask_mail("/auth/forgot-password", "alice@example.com")
        .await
        .expect(202);
    let reset = app
        .mailed("alice@example.com", MailKind::PasswordReset)
        .await;
    let after_reset = app
        .post(
            "/auth/reset-password",
            json!({ "token": reset, "password": NEW_PASSWORD }),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(after_reset["email"], "alice@example.com");
    // Single use.
    app.post(
        "/auth/reset-password",
        json!({ "token": reset, "password": "yet another password" }),
    )
    .await
    .expect_error(400, "invalid_token");

    app.get("/users/me", &session)
        .await
        .expect_error(401, "invalid_token");
    app.post(
        "/auth/login",
        json!({ "email": "alice@example.com", "password": PASSWORD }),
    )
    .await
    .expect_error(401, "invalid_credentials");
    let session = app.login_with("alice@example.com", NEW_PASSWORD).await;
    app.get("/users/me", &session).await.expect(200);
}

async fn bad_bodies_are_json_errors(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let raw = |path: &str, body: &'static str| {
        app.request(Method::POST, path, None)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
    };

    // Not JSON: 400.
    for (path, body) in [
        ("/auth/login", "{\"email\": \"alice@example.com\", "),
        ("/auth/login", "not json"),
        ("/auth/register", "{\"email\": \"a@example.com\",}"),
    ] {
        app.send(raw(path, body))
            .await
            .expect_error(400, "bad_request");
    }
    // JSON, but a member is missing, unknown, repeated or of the wrong type: 422, naming it.
    for (path, body, field) in [
        ("/auth/register", "[1, 2, 3]", ""),
        ("/auth/login", "{\"email\": \"alice@example.com\"}", "password"),
        (
            "/auth/login",
            "{\"email\": \"alice@example.com\", \"password\": 5}",
            "password",
        ),
        (
            "/auth/login",
            "{\"email\": \"a@example.com\", \"password\": \"x\", \"admin\": true}",
            "admin",
        ),
        ("/auth/register", "{\"password\": \"a long password\"}", "email"),
        (
            "/auth/register",
            "{\"email\": \"b@example.com\", \"password\": \"a long password\", \"credits\": 100}",
            "credits",
        ),
        ("/auth/verify", "{}", "token"),
        // A repeated member is refused on every route, whatever the route does with the body.
        (
            "/auth/login",
            "{\"email\": \"alice@example.com\", \"password\": \"x\", \"password\": \"y\"}",
            "password",
        ),
        (
            "/auth/register",
            "{\"email\": \"c@example.com\", \"email\": \"d@example.com\", \"password\": \"a long password\"}",
            "email",
        ),
    ] {
        let answer = app
            .send(raw(path, body))
            .await
            .expect_error(422, "invalid_field");
        assert_eq!(answer.body["error"]["field"], field, "{body}");
    }
    // Without a JSON content type.
    app.send(
        app.request(Method::POST, "/auth/login", None)
            .body("{\"email\": \"alice@example.com\", \"password\": \"x\"}"),
    )
    .await
    .expect_error(400, "bad_request");

    // Over the 16 KiB default limit.
    let huge = json!({ "email": "alice@example.com", "password": "x".repeat(17 * 1024) });
    app.post("/auth/login", huge.clone())
        .await
        .expect_error(413, "payload_too_large");
    app.post("/auth/register", huge.clone())
        .await
        .expect_error(413, "payload_too_large");
    app.call(Method::PATCH, "/users/me", &session, Some(huge))
        .await
        .expect_error(413, "payload_too_large");

    // Fields that are not the user's to set.
    for body in [
        json!({ "is_verified": true }),
        json!({ "is_active": true }),
        json!({ "credits": 100 }),
        json!({ "id": Uuid::now_v7().to_string() }),
        json!({ "password_hash": "$argon2id$forged" }),
        json!({ "display_name": 5 }),
        json!({ "email": 5 }),
    ] {
        app.call(Method::PATCH, "/users/me", &session, Some(body))
            .await
            .expect_error(422, "invalid_field");
    }
    let me = app.get("/users/me", &session).await.expect(200).body;
    assert_eq!(me["is_verified"], false);
}

async fn unknown_and_known_emails_get_the_same_answer(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    app.mailed("alice@example.com", MailKind::Verification)
        .await;
    let sent = app.sent_count().await;

    for path in ["/auth/forgot-password", "/auth/request-verify"] {
        let known = app
            .post(path, json!({ "email": "alice@example.com" }))
            .await;
        let unknown = app
            .post(path, json!({ "email": "nobody@example.com" }))
            .await;
        assert_eq!(known.status, StatusCode::ACCEPTED);
        assert_eq!(
            (known.status, &known.body),
            (unknown.status, &unknown.body),
            "{path}"
        );
        assert!(known.body["message"].is_string(), "{}", known.body);
    }
    // A token for alice each time, none for nobody, and never one in a response.
    assert_eq!(app.sent_count().await, sent + 2);
    for mail in app.mailer.sent() {
        assert_eq!(mail.user.email, "alice@example.com");
    }

    // A verified user gets no verification message, and the answer does not say so.
    let token = app
        .mailed("alice@example.com", MailKind::Verification)
        .await;
    app.post("/auth/verify", json!({ "token": token }))
        .await
        .expect(200);
    let sent = app.sent_count().await;
    let verified = app
        .post(
            "/auth/request-verify",
            json!({ "email": "alice@example.com" }),
        )
        .await;
    let unknown = app
        .post(
            "/auth/request-verify",
            json!({ "email": "nobody@example.com" }),
        )
        .await;
    assert_eq!(
        (verified.status, verified.body),
        (unknown.status, unknown.body)
    );
    assert_eq!(app.sent_count().await, sent);

    // A malformed address is a validation error, which tells nothing about accounts.
    app.ask_mail("/auth/forgot-password", "not an address")
        .await
        .expect_error(422, "invalid_email");
}

async fn inactive_users_are_refused(backend: Backend) {
    let mut app = App::start(backend).await;
    app.register("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let other_session = app.login("alice@example.com").await;
    let verification = app
        .mailed("alice@example.com", MailKind::Verification)
        .await;
    app.post(
        "/auth/forgot-password",
        json!({ "email": "alice@example.com" }),
    )
    .await
    .expect(202);
    let reset = app
        .mailed("alice@example.com", MailKind::PasswordReset)
        .await;
    app.db.deactivate("alice@example.com");

    // The tokens issued before the deactivation are refused, and leave the account as it is.
    app.post("/auth/verify", json!({ "token": verification }))
        .await
        .expect_error(403, "inactive_user");
    app.post(
        "/auth/reset-password",
        json!({ "token": reset, "password": "a brand new password" }),
    )
    .await
    .expect_error(403, "inactive_user");
    // A deactivated user can still end a session (and it stays ended).
    app.send(app.request(Method::POST, "/auth/logout", Some(&other_session)))
        .await
        .expect(204);
    app.send(app.request(Method::POST, "/auth/logout", Some(&other_session)))
        .await
        .expect_error(401, "invalid_token");

    app.get("/users/me", &session)
        .await
        .expect_error(403, "inactive_user");
    app.post(
        "/auth/login",
        json!({ "email": "alice@example.com", "password": PASSWORD }),
    )
    .await
    .expect_error(403, "inactive_user");
    // Wrong password first: an inactive account is only revealed to who knows the password.
    app.wrong_login("alice@example.com")
        .await
        .expect_error(401, "invalid_credentials");
    let sent = app.sent_count().await;
    app.ask_mail("/auth/forgot-password", "alice@example.com")
        .await
        .expect(202);
    assert_eq!(app.sent_count().await, sent);
}

async fn registration_errors_have_codes(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    app.post(
        "/auth/register",
        json!({ "email": " ALICE@example.com", "password": PASSWORD }),
    )
    .await
    .expect_error(409, "email_taken");
    app.post(
        "/auth/register",
        json!({ "email": "no at sign", "password": PASSWORD }),
    )
    .await
    .expect_error(422, "invalid_email");
    let short = app
        .post(
            "/auth/register",
            json!({ "email": "bob@example.com", "password": "pw12345" }),
        )
        .await
        .expect_error(422, "invalid_password");
    assert!(
        !short.body.to_string().contains("pw12345"),
        "{}",
        short.body
    );
    assert_eq!(short.body["error"]["field"], "password", "{}", short.body);
    assert_eq!(short.body["error"]["reason"], "too_short", "{}", short.body);
    let weak = app
        .post(
            "/auth/register",
            json!({ "email": "bob@example.com", "password": "password1234" }),
        )
        .await
        .expect_error(422, "invalid_password");
    assert_eq!(weak.body["error"]["reason"], "too_weak", "{}", weak.body);
    assert!(
        weak.body["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("too easy to guess")),
        "{}",
        weak.body
    );
    app.post(
        "/auth/login",
        json!({ "email": "nobody@example.com", "password": PASSWORD }),
    )
    .await
    .expect_error(401, "invalid_credentials");
}

async fn tokens_of_one_purpose_are_useless_for_another(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let verification = app
        .mailed("alice@example.com", MailKind::Verification)
        .await;
    app.ask_mail("/auth/forgot-password", "alice@example.com")
        .await;
    let reset = app
        .mailed("alice@example.com", MailKind::PasswordReset)
        .await;

    app.post("/auth/verify", json!({ "token": session }))
        .await
        .expect_error(400, "invalid_token");
    app.post("/auth/verify", json!({ "token": reset }))
        .await
        .expect_error(400, "invalid_token");
    for token in [&session, &verification] {
        app.post(
            "/auth/reset-password",
            json!({ "token": token, "password": NEW_PASSWORD }),
        )
        .await
        .expect_error(400, "invalid_token");
    }
    app.get("/users/me", &reset)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &session).await.expect(200);
}
