//! What the router does for every route: JSON errors, a failing database, caching, CORS.

use axum::Router;
use reqwest::header::SET_COOKIE;
use reqwest::Method;
use serde_json::json;

use crate::support::*;

http_tests! {
    unknown_routes_and_methods_are_json_errors,
    a_database_failure_is_an_internal_error_that_says_nothing,
    the_cors_recipe_admits_the_front_end_with_credentials,
    answers_with_a_token_are_never_cached,
}

async fn unknown_routes_and_methods_are_json_errors(backend: Backend) {
    let app = App::start(backend).await;
    let session = {
        app.register("alice@example.com").await;
        app.login("alice@example.com").await
    };
    app.get("/no/such/route", &session)
        .await
        .expect_error(404, "not_found");
    let answer = app
        .call(Method::PUT, "/users/me", &session, None)
        .await
        .expect_error(405, "method_not_allowed");
    let allow = answer.headers["allow"].to_str().unwrap();
    assert!(allow.contains("GET") && allow.contains("PATCH"), "{allow}");
    app.send(app.request(Method::GET, "/auth/login", None))
        .await
        .expect_error(405, "method_not_allowed");
}

async fn a_database_failure_is_an_internal_error_that_says_nothing(backend: Backend) {
    let mut app = App::start(backend).await;
    app.register("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    app.db.break_database();
    for answer in [
        app.post(
            "/auth/login",
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await,
        app.get("/users/me", &session).await,
        app.ask_mail("/auth/forgot-password", "alice@example.com")
            .await,
    ] {
        let answer = answer.expect_error(500, "internal");
        assert_eq!(answer.body["error"]["message"], "internal server error");
    }
}

/// The README's CORS recipe: a front end on another origin, with cookie sessions.
fn cors(app: Router) -> Router {
    use axum::http::{header, HeaderValue, Method as HttpMethod};
    use tower_http::cors::{AllowOrigin, CorsLayer};

    app.layer(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list([HeaderValue::from_static(
                "https://app.example.com",
            )]))
            .allow_methods([
                HttpMethod::GET,
                HttpMethod::POST,
                HttpMethod::PATCH,
                HttpMethod::DELETE,
            ])
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
            .allow_credentials(true),
    )
}

async fn the_cors_recipe_admits_the_front_end_with_credentials(backend: Backend) {
    let app = App::start_wrapped(
        backend,
        |state| state.session_cookie("session").unwrap(),
        cors,
    )
    .await;
    let preflight = app
        .send(
            app.request(Method::OPTIONS, "/auth/login", None)
                .header("origin", "https://app.example.com")
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type"),
        )
        .await;
    assert!(preflight.status.is_success(), "{}", preflight.status);
    assert_eq!(
        preflight.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(
        preflight.headers["access-control-allow-credentials"],
        "true"
    );

    app.register("alice@example.com").await;
    let login = app
        .send(
            app.request(Method::POST, "/auth/login", None)
                .header("origin", "https://app.example.com")
                .json(&json!({ "email": "alice@example.com", "password": PASSWORD })),
        )
        .await
        .expect(200);
    assert_eq!(
        login.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(login.headers["access-control-allow-credentials"], "true");
    assert!(login.headers[SET_COOKIE]
        .to_str()
        .unwrap()
        .starts_with("session="));

    // Another origin gets no CORS headers: its browser keeps the answer from its scripts.
    let other = app
        .send(
            app.request(Method::POST, "/auth/login", None)
                .header("origin", "https://evil.example")
                .json(&json!({ "email": "alice@example.com", "password": PASSWORD })),
        )
        .await;
    assert!(!other.headers.contains_key("access-control-allow-origin"));
}

async fn answers_with_a_token_are_never_cached(backend: Backend) {
    let app = App::start(backend).await;
    let no_store = |answer: &Answer| {
        let value = answer.headers.get(reqwest::header::CACHE_CONTROL);
        assert_eq!(
            value.and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{}",
            answer.body
        );
    };
    app.register("alice@example.com").await;
    let login = app
        .post(
            "/auth/login",
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await
        .expect(200);
    assert!(login.body["access_token"].is_string());
    no_store(&login);
    let session = login.body["access_token"].as_str().unwrap();
    // A password change answers with a fresh session token.
    let changed = app
        .call(
            Method::PATCH,
            "/users/me",
            session,
            Some(json!({ "current_password": PASSWORD, "password": NEW_PASSWORD })),
        )
        .await
        .expect(200);
    assert!(changed.body["session"]["access_token"].is_string());
    no_store(&changed);
    let renewed = changed.body["session"]["access_token"].as_str().unwrap();
    // The user's own data, and refusals, are not kept either.
    no_store(&app.get("/users/me", renewed).await.expect(200));
    no_store(
        &app.post(
            "/auth/login",
            json!({ "email": "alice@example.com", "password": "wrong password" }),
        )
        .await
        .expect_error(401, "invalid_credentials"),
    );
}
