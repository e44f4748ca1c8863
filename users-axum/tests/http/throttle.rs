//! The login throttle, the mail caps and the Argon2 gate over HTTP.

use std::time::Duration;

use axum::Router;
use diesel_migrations::MigrationHarness;
use reqwest::{Method, StatusCode};
use serde_json::json;
use users_axum::UsersState;
use users_diesel::asynchronous::deadpool::Pool;
use users_diesel::prelude::*;

use crate::support::*;

http_tests! {
    a_locked_account_is_429_with_retry_after,
    a_client_failing_on_many_accounts_is_429,
    the_mail_routes_cap_each_address_with_429,
    a_full_argon2_gate_is_503_and_sessions_still_answer,
    logins_waiting_for_argon2_hold_no_pooled_connection,
}

async fn a_locked_account_is_429_with_retry_after(backend: Backend) {
    let app = App::start_over(
        backend,
        AsyncUsers::new(throttled_config()),
        |state| state,
        |app| app,
    )
    .await;
    app.register("alice@example.com").await;
    for _ in 0..3 {
        app.wrong_login("alice@example.com")
            .await
            .expect_error(401, "invalid_credentials");
    }
    let seconds = app.locked_login("alice@example.com").await;
    assert!((1..=60).contains(&seconds), "{seconds}");
    // Another account from the same client is not locked.
    app.register("bob@example.com").await;
    app.login("bob@example.com").await;
}

async fn a_client_failing_on_many_accounts_is_429(backend: Backend) {
    let app = App::start_over(
        backend,
        AsyncUsers::new(throttled_config()),
        |state| state,
        |app| app,
    )
    .await;
    app.register("alice@example.com").await;
    // Two failures each on three accounts: no account reaches its limit, the client (the peer
    // address, 127.0.0.1) does.
    for account in ["a", "b", "c"] {
        for _ in 0..2 {
            app.wrong_login(&format!("{account}@example.com"))
                .await
                .expect_error(401, "invalid_credentials");
        }
    }
    assert!(app.locked_login("alice@example.com").await >= 1);

    // An application that names its clients otherwise: each request its own client here.
    fn by_header(parts: &axum::http::request::Parts) -> Option<String> {
        let value = parts.headers.get("x-test-client")?;
        Some(value.to_str().ok()?.to_owned())
    }
    let app = App::start_over(
        backend,
        AsyncUsers::new(throttled_config()),
        |state| state.client_key(by_header),
        |app| app,
    )
    .await;
    app.register("alice@example.com").await;
    for (i, account) in ["a", "b", "c", "d", "e", "f", "g"].into_iter().enumerate() {
        let request = app
            .request(Method::POST, "/auth/login", None)
            .header("x-test-client", format!("client-{i}"))
            .json(
                &json!({ "email": format!("{account}@example.com"), "password": "wrong password" }),
            );
        let answer = app.send(request).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    }
    app.login("alice@example.com").await;
}

async fn the_mail_routes_cap_each_address_with_429(backend: Backend) {
    let app = App::start_over(
        backend,
        AsyncUsers::new(throttled_config()),
        |state| state,
        |app| app,
    )
    .await;
    // Registration is the address's first mail; two more requests of either kind pass.
    app.register("alice@example.com").await;
    app.ask_mail("/auth/forgot-password", "alice@example.com")
        .await
        .expect(202);
    app.ask_mail("/auth/request-verify", "Alice@Example.com")
        .await
        .expect(202);
    for path in [
        "/auth/forgot-password",
        "/auth/request-verify",
        "/auth/register",
    ] {
        let body = if path == "/auth/register" {
            json!({ "email": "alice@example.com", "password": PASSWORD })
        } else {
            json!({ "email": "alice@example.com" })
        };
        let refused = app
            .post(path, body)
            .await
            .expect_error(429, "too_many_attempts");
        assert!(retry_after(&refused) > 3500, "{:?}", refused.headers);
    }
    // An address without an account gets the same answers, so they reveal nothing.
    for _ in 0..3 {
        app.ask_mail("/auth/forgot-password", "nobody@example.com")
            .await
            .expect(202);
    }
    app.ask_mail("/auth/forgot-password", "nobody@example.com")
        .await
        .expect_error(429, "too_many_attempts");
    // Three mails reached alice, whatever was asked.
    let to_alice = |app: &App| {
        app.mailer
            .sent()
            .iter()
            .filter(|mail| mail.to == "alice@example.com")
            .count()
    };
    app.sent_count().await;
    assert_eq!(to_alice(&app), 3);

    // An email change mails the new address, within its cap too.
    let token = app.login("alice@example.com").await;
    for _ in 0..3 {
        app.ask_mail("/auth/forgot-password", "carol@example.com")
            .await
            .expect(202);
    }
    let patch = app
        .request(Method::PATCH, "/users/me", Some(&token))
        .json(&json!({ "email": "carol@example.com", "current_password": PASSWORD }));
    let answer = app.send(patch).await;
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        answer.body
    );
}

async fn a_full_argon2_gate_is_503_and_sessions_still_answer(backend: Backend) {
    let manager = AsyncUsers::new(config().argon2_concurrency(1, 0).unwrap());
    let app = App::start_over(backend, manager.clone(), |state| state, |app| app).await;
    app.register("alice@example.com").await;
    let token = app.login("alice@example.com").await;

    let slot = manager.hasher().gate().enter().unwrap();
    for _ in 0..3 {
        let refused = app
            .post(
                "/auth/login",
                json!({ "email": "alice@example.com", "password": PASSWORD }),
            )
            .await
            .expect_error(503, "overloaded");
        assert_eq!(retry_after(&refused), 1);
    }
    // Nothing but argon2 waits for the gate.
    app.get("/users/me", &token).await.expect(200);
    drop(slot);
    app.login("alice@example.com").await;
}

async fn logins_waiting_for_argon2_hold_no_pooled_connection(backend: Backend) {
    let manager = AsyncUsers::new(config().argon2_concurrency(1, 16).unwrap());
    let app = App::start_over(backend, manager.clone(), |state| state, |app| app).await;
    app.register("alice@example.com").await;
    let token = app.login("alice@example.com").await;

    // With the gate's one slot taken, as many wrong-password logins as the pool has
    // connections (4) queue for argon2, each after loading its user.
    let gate = manager.hasher().gate();
    let slot = gate.enter().unwrap();
    let wrong = json!({ "email": "alice@example.com", "password": "not the password at all" });
    let logins: Vec<_> = (0..4)
        .map(|_| {
            tokio::spawn(
                app.request(Method::POST, "/auth/login", None)
                    .json(&wrong)
                    .send(),
            )
        })
        .collect();
    for _ in 0..500 {
        if gate.waiting() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(gate.waiting(), 4, "the logins reached the gate");
    // Every pooled connection went back before hashing: a session check gets one. (Holding
    // them, the logins would leave it waiting on the pool until the client gives up.)
    let me = app
        .request(Method::GET, "/users/me", Some(&token))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("/users/me answers while the logins wait for argon2");
    assert_eq!(me.status(), 200);
    drop(slot);
    for login in logins {
        assert_eq!(login.await.unwrap().unwrap().status(), 401);
    }
}

/// A mailer whose sends never finish: it counts how many began.
#[derive(Clone, Default)]
struct StalledMailer(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl users_axum::Mailer<User> for StalledMailer {
    fn send(
        &self,
        _: users_axum::Mail<User>,
    ) -> users_axum::BoxFuture<'_, Result<(), Box<dyn std::error::Error + Send + Sync>>> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(std::future::pending())
    }
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_tasks_are_bounded_when_the_mailer_stalls() {
    let mut db = users_tests::sqlite();
    db.run_pending_migrations(migrations()).unwrap();
    let manager_of_pool = users_diesel::asynchronous::sqlite_connection_manager(db.url());
    let pool = Pool::builder(manager_of_pool).max_size(4).build().unwrap();
    let mailer = StalledMailer::default();
    let state = UsersState::new(
        AsyncUsers::<User, Role>::new(config()),
        pool,
        mailer.clone(),
    )
    .mail_concurrency(2);
    let app: Router = users_axum::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();
    for i in 0..4 {
        let answer = client
            .post(format!("{base}/auth/register"))
            .json(&json!({ "email": format!("user{i}@example.com"), "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::CREATED);
    }
    // Each handler took a mail slot, or dropped its mail, before answering: two mails hang in
    // the mailer once their tasks run, and the other two were dropped, not queued behind them.
    let started = || mailer.0.load(std::sync::atomic::Ordering::SeqCst);
    for _ in 0..250 {
        if started() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(started(), 2);
    server.abort();
}
