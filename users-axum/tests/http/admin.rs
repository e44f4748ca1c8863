//! The administrator's routes: roles, users and their sessions.

use reqwest::Method;
use serde_json::json;
use users_diesel::Uuid;

use crate::support::*;

http_tests! {
    the_role_routes_refuse_then_admit_after_assignment,
    the_admin_role_and_the_body_limit_are_configurable,
    the_admin_lists_finds_edits_and_deletes_users,
    deactivating_a_user_ends_their_sessions_at_once,
    the_admin_lists_and_deletes_roles,
    an_admin_ends_every_session_of_a_user_and_deleting_a_user_deletes_them,
}

async fn the_role_routes_refuse_then_admit_after_assignment(backend: Backend) {
    let mut app = App::start(backend).await;
    app.register("root@example.com").await;
    let bob = app.register("bob@example.com").await;
    let bob_id = bob["id"].as_str().unwrap().to_owned();
    let root = app.login("root@example.com").await;

    app.send(
        app.request(Method::POST, "/roles", None)
            .json(&json!({ "name": "editor" })),
    )
    .await
    .expect_error(401, "unauthorized");
    let role = json!({ "name": "editor", "description": "writes articles" });
    app.call(Method::POST, "/roles", &root, Some(role.clone()))
        .await
        .expect_error(403, "forbidden");
    let assignment = format!("/roles/editor/users/{bob_id}");
    app.call(Method::POST, &assignment, &root, None)
        .await
        .expect_error(403, "forbidden");

    // What `cargo run --example admin -- assign-role root@example.com admin` does.
    app.db.grant("root@example.com", "admin");

    let created = app
        .call(Method::POST, "/roles", &root, Some(role.clone()))
        .await
        .expect(201)
        .body;
    assert_eq!(created["name"], "editor");
    assert_eq!(created["description"], "writes articles");
    assert!(created["id"].as_str().unwrap().parse::<Uuid>().is_ok());
    app.call(Method::POST, "/roles", &root, Some(role))
        .await
        .expect_error(409, "role_exists");
    let blank = app
        .call(Method::POST, "/roles", &root, Some(json!({ "name": " " })))
        .await
        .expect_error(422, "invalid_field");
    assert_eq!(blank.body["error"]["field"], "name");

    app.call(Method::POST, &assignment, &root, None)
        .await
        .expect(204);
    app.call(Method::POST, &assignment, &root, None)
        .await
        .expect(204); // idempotent
    let bob_session = app.login("bob@example.com").await;
    let me = app.get("/users/me", &bob_session).await.expect(200).body;
    assert_eq!(me["roles"], json!(["editor"]));

    app.call(
        Method::POST,
        &format!("/roles/nobody/users/{bob_id}"),
        &root,
        None,
    )
    .await
    .expect_error(404, "role_not_found");
    app.call(
        Method::POST,
        &format!("/roles/editor/users/{}", Uuid::now_v7()),
        &root,
        None,
    )
    .await
    .expect_error(404, "user_not_found");
    app.call(Method::POST, "/roles/editor/users/not-a-uuid", &root, None)
        .await
        .expect_error(400, "bad_request");

    app.call(Method::DELETE, &assignment, &root, None)
        .await
        .expect(204);
    let me = app.get("/users/me", &bob_session).await.expect(200).body;
    assert_eq!(me["roles"], json!([]));
    // Bob is no admin.
    app.call(Method::DELETE, &assignment, &bob_session, None)
        .await
        .expect_error(403, "forbidden");
}

async fn the_admin_role_and_the_body_limit_are_configurable(backend: Backend) {
    let mut app = App::start_with(backend, |state| state.admin_role("root").body_limit(1024)).await;
    app.register("alice@example.com").await;
    let alice = app.login("alice@example.com").await;
    let role = json!({ "name": "editor" });

    app.db.grant("alice@example.com", "admin");
    app.call(Method::POST, "/roles", &alice, Some(role.clone()))
        .await
        .expect_error(403, "forbidden");
    app.db.grant("alice@example.com", "root");
    app.call(Method::POST, "/roles", &alice, Some(role))
        .await
        .expect(201);

    let long_name = json!({ "display_name": "x".repeat(1024) });
    app.call(Method::PATCH, "/users/me", &alice, Some(long_name))
        .await
        .expect_error(413, "payload_too_large");
    let short_name = json!({ "display_name": "x".repeat(900) });
    app.call(Method::PATCH, "/users/me", &alice, Some(short_name))
        .await
        .expect(200);
}

/// Registers `email`, and gives it the admin role; its session.
async fn admin_session(app: &mut App, email: &str) -> String {
    app.register(email).await;
    app.db.grant(email, "admin");
    app.login(email).await
}

async fn the_admin_lists_finds_edits_and_deletes_users(backend: Backend) {
    let mut app = App::start(backend).await;
    let root = admin_session(&mut app, "root@example.com").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let user = app.register(&format!("user{n}@example.com")).await;
        ids.push(user["id"].as_str().unwrap().to_owned());
    }
    app.db.grant("user3@example.com", "editor");

    // Pages of two, oldest first, chained by the cursor.
    let mut seen = Vec::new();
    let mut path = "/users?limit=2".to_owned();
    loop {
        let page = app.get(&path, &root).await.expect(200).body;
        let users = page["users"].as_array().unwrap();
        assert!(users.len() <= 2);
        seen.extend(
            users
                .iter()
                .map(|user| user["email"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => path = format!("/users?limit=2&after={next}"),
            None => break,
        }
    }
    let mut expected = vec!["root@example.com".to_owned()];
    expected.extend((0..5).map(|n| format!("user{n}@example.com")));
    assert_eq!(seen, expected);

    // Filters, and the roles of each user.
    let page = app.get("/users?role=editor", &root).await.expect(200).body;
    assert_eq!(page["users"][0]["email"], "user3@example.com");
    assert_eq!(page["users"][0]["roles"], json!(["editor"]));
    assert_eq!(page["users"].as_array().unwrap().len(), 1);
    let page = app.get("/users?email=USER1", &root).await.expect(200).body;
    assert_eq!(page["users"].as_array().unwrap().len(), 1);
    let page = app
        .get("/users?email=user%25", &root)
        .await
        .expect(200)
        .body;
    assert_eq!(page["users"], json!([]), "a % in the prefix is no wildcard");
    let page = app
        .get("/users?is_verified=true", &root)
        .await
        .expect(200)
        .body;
    assert_eq!(page["users"], json!([]));
    app.get("/users?role=nobody", &root)
        .await
        .expect_error(404, "role_not_found");
    // Regressions that schemathesis found: a limit out of range was clamped, not refused; a
    // UUID in a form the document does not allow was read.
    let bare_hex = Uuid::now_v7().simple().to_string();
    for bad in [
        "/users?limit=x".to_owned(),
        "/users?limit=0".to_owned(),
        "/users?limit=201".to_owned(),
        "/users?after=x".to_owned(),
        format!("/users?after={bare_hex}"),
        "/users?is_active=maybe".to_owned(),
        "/users?sort=email".to_owned(),
    ] {
        app.get(&bad, &root)
            .await
            .expect_error(422, "invalid_field");
    }

    // One user: read, edit, delete.
    let path = format!("/users/{}", ids[0]);
    let user = app.get(&path, &root).await.expect(200).body;
    assert_eq!(user["email"], "user0@example.com");
    let edited = app
        .call(
            Method::PATCH,
            &path,
            &root,
            Some(
                json!({ "is_verified": true, "display_name": "Zero", "email": "Zero@Example.com" }),
            ),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(edited["email"], "zero@example.com");
    assert_eq!(edited["display_name"], "Zero");
    // A new address is unverified, whatever the same request says.
    assert_eq!(edited["is_verified"], false);
    let edited = app
        .call(
            Method::PATCH,
            &path,
            &root,
            Some(json!({ "is_verified": true })),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(edited["is_verified"], true);
    for body in [
        json!({ "password_hash": "x" }),
        json!({ "is_active": "no" }),
        json!({ "credits": 5 }),
    ] {
        app.call(Method::PATCH, &path, &root, Some(body))
            .await
            .expect_error(422, "invalid_field");
    }
    app.call(
        Method::PATCH,
        &path,
        &root,
        Some(json!({ "email": "user1@example.com" })),
    )
    .await
    .expect_error(409, "email_taken");
    app.call(Method::DELETE, &path, &root, None)
        .await
        .expect(204);
    app.get(&path, &root)
        .await
        .expect_error(404, "user_not_found");
    app.call(Method::DELETE, &path, &root, None)
        .await
        .expect_error(404, "user_not_found");
    for bad in ["not-a-uuid".to_owned(), bare_hex, format!("{{{}}}", ids[1])] {
        app.get(&format!("/users/{bad}"), &root)
            .await
            .expect_error(400, "bad_request");
    }

    // Not for users without the admin role.
    let session = app.login("user1@example.com").await;
    app.get("/users", &session)
        .await
        .expect_error(403, "forbidden");
    app.get(&format!("/users/{}", ids[1]), &session)
        .await
        .expect_error(403, "forbidden");
}

async fn deactivating_a_user_ends_their_sessions_at_once(backend: Backend) {
    let mut app = App::start(backend).await;
    let root = admin_session(&mut app, "root@example.com").await;
    let bob = app.register("bob@example.com").await;
    let session = app.login("bob@example.com").await;
    app.get("/users/me", &session).await.expect(200);

    let path = format!("/users/{}", bob["id"].as_str().unwrap());
    app.call(
        Method::PATCH,
        &path,
        &root,
        Some(json!({ "is_active": false })),
    )
    .await
    .expect(200);
    app.get("/users/me", &session)
        .await
        .expect_error(403, "inactive_user");
    app.post(
        "/auth/login",
        json!({ "email": "bob@example.com", "password": PASSWORD }),
    )
    .await
    .expect_error(403, "inactive_user");
    let page = app
        .get("/users?is_active=false", &root)
        .await
        .expect(200)
        .body;
    assert_eq!(page["users"][0]["email"], "bob@example.com");
}

async fn the_admin_lists_and_deletes_roles(backend: Backend) {
    let mut app = App::start(backend).await;
    let root = admin_session(&mut app, "root@example.com").await;
    app.call(
        Method::POST,
        "/roles",
        &root,
        Some(json!({ "name": "editor", "description": "writes" })),
    )
    .await
    .expect(201);
    let roles = app.get("/roles", &root).await.expect(200).body;
    let names: Vec<&str> = roles
        .as_array()
        .unwrap()
        .iter()
        .map(|role| role["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "editor"]);
    assert_eq!(roles[1]["description"], "writes");

    app.call(Method::DELETE, "/roles/editor", &root, None)
        .await
        .expect(204);
    app.call(Method::DELETE, "/roles/editor", &root, None)
        .await
        .expect_error(404, "role_not_found");
    let roles = app.get("/roles", &root).await.expect(200).body;
    assert_eq!(roles.as_array().unwrap().len(), 1);
}

async fn an_admin_ends_every_session_of_a_user_and_deleting_a_user_deletes_them(backend: Backend) {
    let mut app = App::start(backend).await;
    app.register("admin@example.com").await;
    let alice = app.register("alice@example.com").await;
    app.db.grant("admin@example.com", "admin");
    let admin = app.login("admin@example.com").await;
    let first = app.login("alice@example.com").await;
    let second = app.login("alice@example.com").await;
    let alice_id = alice["id"].as_str().unwrap();

    app.call(
        Method::DELETE,
        &format!("/users/{alice_id}/sessions"),
        &first,
        None,
    )
    .await
    .expect_error(403, "forbidden");
    let ended = app
        .call(
            Method::DELETE,
            &format!("/users/{alice_id}/sessions"),
            &admin,
            None,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(ended["ended"], 2);
    app.get("/users/me", &first)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &second)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &admin).await.expect(200);
    let nobody = Uuid::now_v7();
    app.call(
        Method::DELETE,
        &format!("/users/{nobody}/sessions"),
        &admin,
        None,
    )
    .await
    .expect_error(404, "user_not_found");

    // The foreign key cascades: a deleted user's sessions go with them.
    app.login("alice@example.com").await;
    assert_eq!(app.db.stored_sessions(), 2);
    app.call(Method::DELETE, &format!("/users/{alice_id}"), &admin, None)
        .await
        .expect(204);
    assert_eq!(app.db.stored_sessions(), 1);
}
