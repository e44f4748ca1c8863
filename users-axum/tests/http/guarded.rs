//! One guarded path for every proof of identity (#27): each test fails with its defence off.

use reqwest::header::COOKIE;
use reqwest::Method;
use serde_json::{json, Value};
use users_axum::MailKind;
use users_diesel::prelude::*;
use users_diesel::Uuid;

use crate::support::*;

http_tests! {
    in sqlite_guard, postgres_guard, mysql_guard;
    a_right_password_forgives_no_wrong_code,
    a_stolen_session_cannot_guess_the_password,
    an_email_change_says_nothing_of_the_address_before_the_password,
    mail_routes_are_capped_per_client,
    ipv6_clients_are_counted_by_their_64,
    tokens_are_counted_per_client,
    factors_need_a_proved_address,
    the_first_proof_of_an_address_clears_what_came_before,
    a_reset_keeps_the_second_factor_of_a_verified_account,
    every_unsafe_cookie_route_refuses_another_origin,
    the_last_administrator_stays,
}

/// The guarded check's settings of these tests: three failures of a kind lock an account.
fn guarded_app(backend: Backend) -> impl std::future::Future<Output = App> {
    App::start_over(
        backend,
        AsyncUsers::new(throttled_config()),
        |state| state,
        |app| app,
    )
}

async fn a_right_password_forgives_no_wrong_code(backend: Backend) {
    let app = guarded_app(backend).await;
    app.register_verified("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let (secret, _) = app.enrol_totp(&session).await;
    // Two wrong codes, a right password in between (each login a new pending token), a third
    // wrong code: the account's codes are locked, whatever the passwords did.
    for wrong in ["000000", "111111", "222222"] {
        let token = app.pending_login("alice@example.com").await;
        app.complete(&token, json!({ "code": wrong }))
            .await
            .expect_error(401, "invalid_credentials");
    }
    let token = app.pending_login("alice@example.com").await;
    let locked = app
        .complete(&token, json!({ "code": code_at(&secret, 0) }))
        .await
        .expect_error(429, "too_many_attempts");
    assert!(retry_after(&locked) > 0);
}

async fn a_stolen_session_cannot_guess_the_password(backend: Backend) {
    let app = guarded_app(backend).await;
    app.register_verified("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let patch = |body: Value| app.call(Method::PATCH, "/users/me", &session, Some(body));
    // Guesses through the password change and the email change count together, and with
    // the account's failed logins.
    patch(json!({ "current_password": "guess one", "password": NEW_PASSWORD }))
        .await
        .expect_error(401, "invalid_credentials");
    patch(json!({ "current_password": "guess two", "email": "thief@example.com" }))
        .await
        .expect_error(401, "invalid_credentials");
    app.post(
        "/auth/login",
        json!({ "email": "alice@example.com", "password": "guess three" }),
    )
    .await
    .expect_error(401, "invalid_credentials");
    // Locked: the right password is refused too, and nothing changed.
    patch(json!({ "current_password": PASSWORD, "password": NEW_PASSWORD }))
        .await
        .expect_error(429, "too_many_attempts");
    app.get("/users/me", &session).await.expect(200);
}

async fn an_email_change_says_nothing_of_the_address_before_the_password(backend: Backend) {
    let app = App::start(backend).await;
    app.register("bob@example.com").await;
    app.register("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let change = |password: &str| {
        let body = json!({ "current_password": password, "email": "bob@example.com" });
        app.call(Method::PATCH, "/users/me", &session, Some(body))
    };
    // A wrong password learns nothing of bob's address; the right one is told it is taken.
    change("not the password")
        .await
        .expect_error(401, "invalid_credentials");
    change(PASSWORD).await.expect_error(409, "email_taken");
}

async fn mail_routes_are_capped_per_client(backend: Backend) {
    let config = throttled_config()
        .mail_client_limit(4)
        .expect("a valid limit");
    let app = App::start_over(backend, AsyncUsers::new(config), |state| state, |app| app).await;
    // Ever new addresses, each under its own cap: the client's cap stops them.
    for n in 0..4 {
        let email = format!("someone{n}@example.com");
        app.post("/auth/forgot-password", json!({ "email": email }))
            .await
            .expect(202);
    }
    for (path, body) in [
        (
            "/auth/forgot-password",
            json!({ "email": "another@example.com" }),
        ),
        (
            "/auth/request-verify",
            json!({ "email": "another@example.com" }),
        ),
        (
            "/auth/register",
            json!({ "email": "another@example.com", "password": PASSWORD }),
        ),
    ] {
        let refused = app.post(path, body).await;
        let refused = refused.expect_error(429, "too_many_attempts");
        assert!(retry_after(&refused) > 0, "{path}");
    }
}

/// The client key of `x-test-client`, so a test can speak for many addresses.
fn test_client(parts: &axum::http::request::Parts) -> Option<String> {
    parts
        .headers
        .get("x-test-client")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

async fn ipv6_clients_are_counted_by_their_64(backend: Backend) {
    let app = App::start_over(
        backend,
        AsyncUsers::new(throttled_config()),
        |state| state.client_key(test_client),
        |app| app,
    )
    .await;
    let login = |client: String, email: String| {
        let body = json!({ "email": email, "password": "not the password" });
        app.send(
            app.request(Method::POST, "/auth/login", None)
                .header("x-test-client", client)
                .json(&body),
        )
    };
    // Six failures (the client limit) from six addresses of one /64, each at another account.
    for n in 1..=6 {
        login(
            format!("2001:db8:7:9::{n:x}"),
            format!("user{n}@example.com"),
        )
        .await
        .expect_error(401, "invalid_credentials");
    }
    login("2001:db8:7:9:ffff::1".into(), "user7@example.com".into())
        .await
        .expect_error(429, "too_many_attempts");
    // Another /64 is another client.
    login("2001:db8:7:a::1".into(), "user8@example.com".into())
        .await
        .expect_error(401, "invalid_credentials");
}

async fn tokens_are_counted_per_client(backend: Backend) {
    let app = guarded_app(backend).await;
    app.register("alice@example.com").await;
    let token = app
        .mailed("alice@example.com", MailKind::Verification)
        .await;
    // Six bad tokens (the client limit) over the token routes, then even the right one waits.
    for n in 0..3 {
        app.post("/auth/verify", json!({ "token": format!("forged{n}") }))
            .await
            .expect_error(400, "invalid_token");
        let reset = json!({ "token": format!("forged{n}"), "password": NEW_PASSWORD });
        app.post("/auth/reset-password", reset)
            .await
            .expect_error(400, "invalid_token");
    }
    app.post("/auth/verify", json!({ "token": token }))
        .await
        .expect_error(429, "too_many_attempts");
}

async fn factors_need_a_proved_address(backend: Backend) {
    let app = App::start(backend).await;
    // Someone registers an address they do not own: they cannot set a factor up on it.
    app.register("victim@example.com").await;
    let squatter = app.login("victim@example.com").await;
    app.call(
        Method::POST,
        "/users/me/mfa/totp",
        &squatter,
        Some(json!({ "password": PASSWORD })),
    )
    .await
    .expect_error(403, "unverified_user");
}

async fn the_first_proof_of_an_address_clears_what_came_before(backend: Backend) {
    let mut app = App::start(backend).await;
    // An account whose factor was set up while its address stood unproved (before this
    // rule, or unverified again by an administrator).
    app.register_verified("victim@example.com").await;
    let squatter = app.login("victim@example.com").await;
    let (secret, _) = app.enrol_totp(&squatter).await;
    let token = app.pending_login("victim@example.com").await;
    let squatter = app
        .complete(&token, json!({ "code": code_at(&secret, 0) }))
        .await
        .expect(200)
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.db.set_verified("victim@example.com", false);
    assert_eq!(app.db.stored_sessions(), 2);

    // The owner resets the password: the reset proves the address, verifies it, and clears
    // the factor and the sessions set up before.
    app.post(
        "/auth/forgot-password",
        json!({ "email": "victim@example.com" }),
    )
    .await
    .expect(202);
    let reset = app
        .mailed("victim@example.com", MailKind::PasswordReset)
        .await;
    let owner = app
        .post(
            "/auth/reset-password",
            json!({ "token": reset, "password": NEW_PASSWORD }),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(owner["is_verified"], true, "{owner}");
    app.get("/users/me", &squatter)
        .await
        .expect_error(401, "invalid_token");
    assert_eq!(app.db.stored_sessions(), 0);
    // The login asks for no factor of the squatter's.
    let session = app.login_with("victim@example.com", NEW_PASSWORD).await;
    let factors = app.get("/users/me/mfa", &session).await.expect(200).body;
    assert_eq!(factors["totp"], false, "{factors}");
}

async fn a_reset_keeps_the_second_factor_of_a_verified_account(backend: Backend) {
    let app = App::start(backend).await;
    app.register_verified("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    app.enrol_totp(&session).await;
    app.post(
        "/auth/forgot-password",
        json!({ "email": "alice@example.com" }),
    )
    .await
    .expect(202);
    let reset = app
        .mailed("alice@example.com", MailKind::PasswordReset)
        .await;
    app.post(
        "/auth/reset-password",
        json!({ "token": reset, "password": NEW_PASSWORD }),
    )
    .await
    .expect(200);
    // Whoever reset the password still needs the factor.
    let answer = app
        .post(
            "/auth/login",
            json!({ "email": "alice@example.com", "password": NEW_PASSWORD }),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(answer["mfa_required"], true, "{answer}");
}

async fn every_unsafe_cookie_route_refuses_another_origin(backend: Backend) {
    const COOKIE_NAME: &str = "__Host-session";
    let mut app =
        App::start_with(backend, |state| state.session_cookie(COOKIE_NAME).unwrap()).await;
    app.register_verified("admin@example.com").await;
    app.db.grant("admin@example.com", "admin");
    let token = app.login("admin@example.com").await;
    let cookie = format!("{COOKIE_NAME}={token}");
    let host = app.base.trim_start_matches("http://").to_owned();
    let port: u16 = host.rsplit(':').next().unwrap().parse().unwrap();
    // A page on another port of the same host, and one on a sibling subdomain: same site,
    // other origins.
    let other_port = format!("http://127.0.0.1:{}", port.wrapping_add(1));
    let foreign = [
        vec![
            ("origin", other_port.as_str()),
            ("sec-fetch-site", "same-site"),
        ],
        vec![
            ("origin", "http://evil.localhost"),
            ("sec-fetch-site", "same-site"),
        ],
        vec![("sec-fetch-site", "same-site")],
    ];
    // Every state-changing route of the document that a session may call, so a new route
    // cannot skip the check.
    let document = serde_json::to_value(users_axum::openapi::<User>()).unwrap();
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method = match method.to_ascii_uppercase().parse::<Method>() {
                Ok(method) if !method.is_safe() => method,
                _ => continue,
            };
            let secured = operation["security"]
                .as_array()
                .is_some_and(|schemes| !schemes.is_empty());
            if !secured {
                continue;
            }
            let path = path
                .replace("{user_id}", &Uuid::now_v7().to_string())
                .replace("{session_id}", &Uuid::now_v7().to_string())
                .replace("{passkey_id}", &Uuid::now_v7().to_string())
                .replace("{name}", "editor")
                .replace("{provider}", "corp");
            for headers in &foreign {
                let mut request = app
                    .request(method.clone(), &path, None)
                    .header(COOKIE, cookie.clone())
                    .json(&json!({}));
                for (name, value) in headers {
                    request = request.header(*name, *value);
                }
                app.send(request).await.expect_error(403, "forbidden");
            }
            // The application's own origin gets past the check (to whatever the route says).
            let own = app
                .send(
                    app.request(method.clone(), &path, None)
                        .header(COOKIE, cookie.clone())
                        .header("origin", app.base.as_str())
                        .header("sec-fetch-site", "same-origin")
                        .json(&json!({})),
                )
                .await;
            assert_ne!(
                own.body["error"]["code"], "forbidden",
                "{method} {path}: {}",
                own.body
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} routes checked");
}

async fn the_last_administrator_stays(backend: Backend) {
    let mut app = App::start(backend).await;
    let admin = app.register_verified("admin@example.com").await;
    let admin_id = admin["id"].as_str().unwrap().to_owned();
    app.db.grant("admin@example.com", "admin");
    let session = app.login("admin@example.com").await;
    let own = format!("/users/{admin_id}");
    let revoke = format!("/roles/admin/users/{admin_id}");
    for (method, path, body) in [
        (Method::DELETE, revoke.as_str(), None),
        (
            Method::PATCH,
            own.as_str(),
            Some(json!({ "is_active": false })),
        ),
        (Method::DELETE, own.as_str(), None),
        (
            Method::DELETE,
            "/users/me",
            Some(json!({ "password": PASSWORD })),
        ),
        (Method::DELETE, "/roles/admin", None),
    ] {
        app.call(method, path, &session, body)
            .await
            .expect_error(409, "last_admin");
    }
    app.get("/users/me", &session).await.expect(200);
    // With a second administrator, the first may step down.
    app.register("second@example.com").await;
    app.db.grant("second@example.com", "admin");
    app.call(Method::DELETE, &revoke, &session, None)
        .await
        .expect(204);
}
