//! The extractors and guard layers on application routes.

use reqwest::{Method, StatusCode};
use serde_json::json;
use users_axum::{MailKind, UsersState};

use crate::support::*;

http_tests! {
    extractors_and_layers_guard_application_routes,
    a_role_guard_over_no_roles_is_a_configuration_error,
}

async fn extractors_and_layers_guard_application_routes(backend: Backend) {
    let mut app = App::start(backend).await;
    app.register("alice@example.com").await;
    let alice = app.login("alice@example.com").await;
    let text = |answer: Answer| answer.expect(200).body;

    assert_eq!(
        text(app.get("/app/whoami", &alice).await),
        "alice@example.com"
    );
    assert_eq!(
        text(app.send(app.request(Method::GET, "/app/maybe", None)).await),
        "anonymous"
    );
    assert_eq!(
        text(app.get("/app/maybe", &alice).await),
        "alice@example.com"
    );
    app.get("/app/maybe", "garbage")
        .await
        .expect_error(401, "invalid_token");

    for path in ["/app/verified", "/app/layered/verified"] {
        app.get(path, &alice)
            .await
            .expect_error(403, "unverified_user");
    }
    for path in [
        "/app/admin",
        "/app/staff",
        "/app/both",
        "/app/publish",
        "/app/layered/editor",
        "/app/layered/staff",
        "/app/layered/both",
    ] {
        app.get(path, &alice).await.expect_error(403, "forbidden");
        app.send(app.request(Method::GET, path, None))
            .await
            .expect_error(401, "unauthorized");
    }

    let token = app
        .mailed("alice@example.com", MailKind::Verification)
        .await;
    app.post("/auth/verify", json!({ "token": token }))
        .await
        .expect(200);
    // The first proof of the address ended the sessions from before it.
    app.get("/app/whoami", &alice)
        .await
        .expect_error(401, "invalid_token");
    let alice = app.login("alice@example.com").await;
    app.db.grant("alice@example.com", "editor");
    for (path, answer) in [
        ("/app/verified", "alice@example.com"),
        ("/app/staff", "alice@example.com"),
        ("/app/layered/verified", "verified"),
        ("/app/layered/editor", "editor"),
        ("/app/layered/staff", "staff"),
    ] {
        assert_eq!(text(app.get(path, &alice).await), answer, "{path}");
    }
    for path in ["/app/admin", "/app/both", "/app/layered/both"] {
        app.get(path, &alice).await.expect_error(403, "forbidden");
    }
    // A permission is held through a role: editors lack it until it is granted to them.
    app.get("/app/publish", &alice)
        .await
        .expect_error(403, "forbidden");
    app.db.grant_permission("editor", "Posts.Publish");
    assert_eq!(
        text(app.get("/app/publish", &alice).await),
        "alice@example.com"
    );
    app.db.grant("alice@example.com", "admin");
    assert_eq!(
        text(app.get("/app/admin", &alice).await),
        "alice@example.com"
    );
    assert_eq!(
        text(app.get("/app/both", &alice).await),
        "alice@example.com"
    );
    assert_eq!(text(app.get("/app/layered/both", &alice).await), "both");
    // A layer answers only for its routes: an unknown path is still a 404.
    assert_eq!(
        app.send(app.request(Method::GET, "/app/nowhere", None))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn a_role_guard_over_no_roles_is_a_configuration_error(backend: Backend) {
    fn panic_message(state: &UsersState<User>, build: impl FnOnce(&UsersState<User>)) -> String {
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| build(state)))
            .expect_err("building the guard should panic");
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    }
    App::start_with(backend, |state| {
        let message = panic_message(&state, |state| {
            let _layer = state.require_all_roles(Vec::<String>::new());
        });
        assert!(
            message.contains("require_all_roles of no roles"),
            "{message}"
        );
        let message = panic_message(&state, |state| {
            let _layer = state.require_any_role(Vec::<&str>::new());
        });
        assert!(
            message.contains("require_any_role of no roles"),
            "{message}"
        );
        for bad in ["", "ad\u{200B}min"] {
            let message = panic_message(&state, |state| {
                let _layer = state.require_role(bad);
            });
            assert!(message.contains("invalid role name"), "{message}");
            let message = panic_message(&state, |state| {
                let _layer = state.require_all_roles(["admin", bad]);
            });
            assert!(message.contains("invalid role name"), "{message}");
        }
        // Lookalike spellings of a role name guard that role.
        let _layer = state.require_all_roles(["ADMIN", "ｅｄｉｔｏｒ"]);
        state
    })
    .await;
}
