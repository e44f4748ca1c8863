//! The user's own account: `/users/me`, its profile, email, password and deletion.

use reqwest::Method;
use serde_json::{json, Value};
use users_axum::MailKind;

use crate::support::*;

http_tests! {
    patch_me_changes_the_profile_and_an_email_change_waits_for_the_new_address,
    a_stolen_session_cannot_move_the_account_to_another_address,
    patch_me_changes_the_password_with_the_current_one,
    a_user_deletes_their_account_with_the_password,
}

async fn patch_me_changes_the_profile_and_an_email_change_waits_for_the_new_address(
    backend: Backend,
) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    app.register("bob@example.com").await;
    let token = app
        .mailed("alice@example.com", MailKind::Verification)
        .await;
    app.post("/auth/verify", json!({ "token": token }))
        .await
        .expect(200);
    let session = app.login("alice@example.com").await;

    let me = app
        .call(
            Method::PATCH,
            "/users/me",
            &session,
            Some(json!({ "display_name": "Alice" })),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(me["display_name"], "Alice");
    assert_eq!(me["is_verified"], true);
    assert!(me.get("session").is_none());

    let patch = |body: Value| app.call(Method::PATCH, "/users/me", &session, Some(body));
    patch(json!({ "email": "alice@example.org" }))
        .await
        .expect_error(422, "invalid_field");
    patch(json!({ "email": "alice@example.org", "current_password": "wrong password!" }))
        .await
        .expect_error(401, "invalid_credentials");
    patch(json!({ "email": "BOB@example.com", "current_password": PASSWORD }))
        .await
        .expect_error(409, "email_taken");
    patch(json!({ "email": "not an address", "current_password": PASSWORD }))
        .await
        .expect_error(422, "invalid_email");
    // The current address, written differently, is no change and needs no password.
    patch(json!({ "email": " ALICE@example.com " }))
        .await
        .expect(200);

    let reset_before = {
        app.post(
            "/auth/forgot-password",
            json!({ "email": "alice@example.com" }),
        )
        .await
        .expect(202);
        app.mailed("alice@example.com", MailKind::PasswordReset)
            .await
    };
    let me = patch(json!({ "email": " Alice@Example.ORG ", "current_password": PASSWORD }))
        .await
        .expect(200)
        .body;
    // Pending: the account keeps its verified address until the new one is verified.
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["is_verified"], true);
    assert_eq!(me["display_name"], "Alice", "untouched fields stay");
    // The request ended every session (the hash was salted again) and handed this one anew.
    let renewed = me["session"]["access_token"]
        .as_str()
        .expect("a new session")
        .to_owned();
    app.get("/users/me", &session)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &renewed).await.expect(200);
    // The old address is told; the token goes to the new one only.
    let notice = app
        .mailer
        .sent()
        .into_iter()
        .find(|mail| mail.kind == MailKind::EmailChangeNotice)
        .expect("a notice to the old address");
    assert_eq!(notice.to, "alice@example.com");
    assert_eq!(notice.pending_email.as_deref(), Some("alice@example.org"));
    assert!(notice.token.is_empty());
    let change = app
        .mailed("alice@example.org", MailKind::Verification)
        .await;
    // A reset token from before the change is dead.
    app.post(
        "/auth/reset-password",
        json!({ "token": reset_before, "password": "a new password for alice" }),
    )
    .await
    .expect_error(400, "invalid_token");

    let moved = app
        .post("/auth/verify", json!({ "token": change }))
        .await
        .expect(200)
        .body;
    assert_eq!(moved["email"], "alice@example.org");
    assert_eq!(moved["is_verified"], true);
    app.login("alice@example.org").await;

    let me = app
        .call(
            Method::PATCH,
            "/users/me",
            &renewed,
            Some(json!({ "display_name": null })),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(me["display_name"], Value::Null);
    // An empty patch changes nothing.
    let unchanged = app
        .call(Method::PATCH, "/users/me", &renewed, Some(json!({})))
        .await
        .expect(200)
        .body;
    assert_eq!(unchanged, me);
}

/// The takeover a stolen session made possible: move the account to the thief's address,
/// then reset its password from there.
async fn a_stolen_session_cannot_move_the_account_to_another_address(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    let stolen = app.login("alice@example.com").await;

    app.call(
        Method::PATCH,
        "/users/me",
        &stolen,
        Some(json!({ "email": "mallory@example.com" })),
    )
    .await
    .expect_error(422, "invalid_field");
    app.post(
        "/auth/forgot-password",
        json!({ "email": "mallory@example.com" }),
    )
    .await
    .expect(202);
    assert!(
        app.mailer
            .sent()
            .iter()
            .all(|mail| mail.to != "mallory@example.com"),
        "nothing reaches the thief's address"
    );
    let me = app.get("/users/me", &stolen).await.expect(200).body;
    assert_eq!(me["email"], "alice@example.com");
}

async fn patch_me_changes_the_password_with_the_current_one(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let other = app.login("alice@example.com").await;

    app.call(
        Method::PATCH,
        "/users/me",
        &session,
        Some(json!({ "password": NEW_PASSWORD })),
    )
    .await
    .expect_error(422, "invalid_field");
    app.call(
        Method::PATCH,
        "/users/me",
        &session,
        Some(json!({ "current_password": PASSWORD })),
    )
    .await
    .expect_error(422, "invalid_field");
    app.call(
        Method::PATCH,
        "/users/me",
        &session,
        Some(json!({ "display_name": "Mallory", "current_password": "wrong password", "password": NEW_PASSWORD })),
    )
    .await
    .expect_error(401, "invalid_credentials");
    app.call(
        Method::PATCH,
        "/users/me",
        &session,
        Some(json!({ "current_password": PASSWORD, "password": "short" })),
    )
    .await
    .expect_error(422, "invalid_password");
    // Nothing of the failed requests stuck.
    let me = app.get("/users/me", &session).await.expect(200).body;
    assert_eq!(me["display_name"], Value::Null);

    let changed = app
        .call(
            Method::PATCH,
            "/users/me",
            &session,
            Some(json!({ "display_name": "Alice", "current_password": PASSWORD, "password": NEW_PASSWORD })),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(changed["display_name"], "Alice");
    let renewed = changed["session"]["access_token"].as_str().unwrap();
    app.get("/users/me", renewed).await.expect(200);
    // Every session from before the change is over, this request's and the others.
    app.get("/users/me", &session)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &other)
        .await
        .expect_error(401, "invalid_token");
    app.login_with("alice@example.com", NEW_PASSWORD).await;
}

async fn a_user_deletes_their_account_with_the_password(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    app.call(
        Method::DELETE,
        "/users/me",
        &session,
        Some(json!({ "password": "wrong password" })),
    )
    .await
    .expect_error(401, "invalid_credentials");
    app.call(Method::DELETE, "/users/me", &session, Some(json!({})))
        .await
        .expect_error(422, "invalid_field");
    app.call(
        Method::DELETE,
        "/users/me",
        &session,
        Some(json!({ "password": PASSWORD })),
    )
    .await
    .expect(204);
    app.get("/users/me", &session)
        .await
        .expect_error(401, "invalid_token");
    app.post(
        "/auth/login",
        json!({ "email": "alice@example.com", "password": PASSWORD }),
    )
    .await
    .expect_error(401, "invalid_credentials");
}
