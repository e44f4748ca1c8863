//! Security events over HTTP: the session user's own history, an administrator's view of
//! anyone's, filters and pages, and a server that records none.

use serde_json::Value;
use users_axum::{MailKind, Notices, UsersState};
use users_diesel::AsyncUsers;

use crate::support::*;

http_tests! {
    the_session_user_reads_their_own_history_and_nobody_elses,
    administrators_read_anyones_history_with_filters_and_others_are_refused,
    a_server_that_records_no_events_says_so,
    notices_tell_the_owner_of_a_new_client_a_password_change_and_a_removed_factor,
}

/// The app over a manager that records events.
async fn recording(backend: Backend) -> App {
    let manager = AsyncUsers::new(config()).record_events();
    App::start_over(backend, manager, |state: UsersState<User>| state, |app| app).await
}

/// The kinds of a page, newest first.
fn kinds(page: &Value) -> Vec<&str> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["kind"].as_str().unwrap())
        .collect()
}

async fn the_session_user_reads_their_own_history_and_nobody_elses(backend: Backend) {
    let app = recording(backend).await;
    let alice = app.register("alice@example.com").await;
    app.register("bob@example.com").await;
    app.wrong_login("alice@example.com").await.expect(401);
    let login = app.login_from("alice@example.com", "Browser/1.0").await;
    let session = login["access_token"].as_str().unwrap().to_owned();
    app.login("bob@example.com").await;

    let before = app.checkouts.load(std::sync::atomic::Ordering::SeqCst);
    let me = app.get("/users/me", &session).await.expect(200).body;
    assert_eq!(me["sign_ins"]["count"], 1);
    assert!(me["sign_ins"]["last_at"].is_string(), "{me}");
    // The session, the user, the roles and the sign-ins on one pooled connection.
    assert_eq!(
        app.checkouts.load(std::sync::atomic::Ordering::SeqCst) - before,
        1,
        "GET /users/me checks out one connection"
    );
    let page = app.get("/users/me/events", &session).await.expect(200).body;
    assert_eq!(
        kinds(&page),
        [
            "session_started",
            "login_succeeded",
            "login_failed",
            "registered"
        ]
    );
    let alice_id = alice["id"].as_str().unwrap();
    for event in page["events"].as_array().unwrap() {
        assert_eq!(event["user_id"], alice_id);
    }
    // The session's and the login's events carry the client's user agent, and the kind of proof.
    assert_eq!(page["events"][0]["user_agent"], "Browser/1.0");
    assert_eq!(page["events"][1]["user_agent"], "Browser/1.0");
    assert_eq!(page["events"][1]["detail"], "password");
    assert_eq!(page["next"], Value::Null);

    // Pages of two, by the cursor, make the same history.
    let first = app
        .get("/users/me/events?limit=2", &session)
        .await
        .expect(200)
        .body;
    let next = first["next"].as_str().unwrap();
    let rest = app
        .get(&format!("/users/me/events?limit=2&before={next}"), &session)
        .await
        .expect(200)
        .body;
    assert_eq!(
        [kinds(&first), kinds(&rest)].concat(),
        kinds(&page),
        "{first} {rest}"
    );
    let failures = app
        .get("/users/me/events?kind=login_failed", &session)
        .await
        .expect(200)
        .body;
    assert_eq!(kinds(&failures), ["login_failed"]);

    // Another user's history is not in reach of a session user, whatever the query says.
    app.get(
        "/users/me/events?user_id=00000000-0000-0000-0000-000000000000",
        &session,
    )
    .await
    .expect_error(422, "invalid_field");
    for bad in [
        "limit=0",
        "kind=no_such_kind",
        "since=yesterday",
        "before=7",
    ] {
        app.get(&format!("/users/me/events?{bad}"), &session)
            .await
            .expect_error(422, "invalid_field");
    }
    app.get("/users/me/events", "not a token")
        .await
        .expect_error(401, "invalid_token");
}

async fn administrators_read_anyones_history_with_filters_and_others_are_refused(backend: Backend) {
    let mut app = recording(backend).await;
    let alice = app.register("alice@example.com").await;
    let alice_id = alice["id"].as_str().unwrap().to_owned();
    let root_id = app.register("root@example.com").await["id"].clone();
    app.db.grant("root@example.com", "admin");
    let root = app.login("root@example.com").await;
    let session = app.login("alice@example.com").await;
    for _ in 0..3 {
        app.wrong_login("alice@example.com").await.expect(401);
    }

    let history = app
        .get(&format!("/users/{alice_id}/events"), &root)
        .await
        .expect(200)
        .body;
    assert_eq!(
        kinds(&history),
        [
            "login_failed",
            "session_started",
            "login_succeeded",
            "registered"
        ]
    );
    // Three failures within a minute from one client: one event, counted.
    assert_eq!(history["events"][0]["count"], 3);
    let seen = app
        .get(&format!("/users/{alice_id}"), &root)
        .await
        .expect(200)
        .body;
    assert_eq!(seen["sign_ins"]["count"], 1);

    let failures = app
        .get(
            &format!("/events?kind=login_failed,login_succeeded&user_id={alice_id}"),
            &root,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(kinds(&failures), ["login_failed", "login_succeeded"]);
    let everyone = app.get("/events?limit=100", &root).await.expect(200).body;
    assert!(kinds(&everyone).len() > kinds(&history).len());
    let none = app
        .get("/events?since=2999-01-01T00:00:00Z", &root)
        .await
        .expect(200)
        .body;
    assert!(kinds(&none).is_empty());

    app.get("/events", &session)
        .await
        .expect_error(403, "forbidden");
    app.get(&format!("/users/{alice_id}/events"), &session)
        .await
        .expect_error(403, "forbidden");

    // An administrator's change names the administrator.
    app.call(
        reqwest::Method::PATCH,
        &format!("/users/{alice_id}"),
        &root,
        Some(serde_json::json!({ "is_active": false })),
    )
    .await
    .expect(200);
    let history = app
        .get(&format!("/users/{alice_id}/events?limit=1"), &root)
        .await
        .expect(200)
        .body;
    assert_eq!(kinds(&history), ["deactivated"]);
    assert_eq!(history["events"][0]["actor_id"], root_id);
}

async fn a_server_that_records_no_events_says_so(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let me = app.get("/users/me", &session).await.expect(200).body;
    assert!(me.get("sign_ins").is_none(), "{me}");
    app.get("/users/me/events", &session)
        .await
        .expect_error(404, "not_found");
}

/// The kinds of the security notices mailed to `email`, in order.
async fn notices(app: &App, email: &str) -> Vec<String> {
    app.sent_count().await;
    app.mailer
        .sent()
        .into_iter()
        .filter(|mail| mail.kind == MailKind::SecurityNotice && mail.to == email)
        .map(|mail| mail.event.expect("a notice's event").kind.name().to_owned())
        .collect()
}

async fn notices_tell_the_owner_of_a_new_client_a_password_change_and_a_removed_factor(
    backend: Backend,
) {
    let manager = AsyncUsers::new(config()).record_events();
    let app = App::start_over(
        backend,
        manager,
        |state: UsersState<User>| state.notices(Notices::ALL),
        |app| app,
    )
    .await;
    app.register_verified("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    assert_eq!(
        notices(&app, "alice@example.com").await,
        ["session_started"]
    );
    // The same client again: nothing new to tell.
    app.login("alice@example.com").await;
    assert_eq!(
        notices(&app, "alice@example.com").await,
        ["session_started"]
    );

    app.call(
        reqwest::Method::PATCH,
        "/users/me",
        &session,
        Some(serde_json::json!({
            "password": "another long passphrase",
            "current_password": PASSWORD,
        })),
    )
    .await
    .expect(200);
    app.register_verified("bob@example.com").await;
    let bob = app.login("bob@example.com").await;
    app.enrol_totp(&bob).await;
    app.call(
        reqwest::Method::DELETE,
        "/users/me/mfa/totp",
        &bob,
        Some(serde_json::json!({ "password": PASSWORD })),
    )
    .await
    .expect(204);
    assert_eq!(
        notices(&app, "alice@example.com").await,
        ["session_started", "password_changed"]
    );
    assert_eq!(
        notices(&app, "bob@example.com").await,
        ["session_started", "totp_removed"]
    );
    // A notice carries no token.
    assert!(app
        .mailer
        .sent()
        .iter()
        .filter(|mail| mail.kind == MailKind::SecurityNotice)
        .all(|mail| mail.token.is_empty()));
}
