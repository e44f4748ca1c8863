//! Organizations over HTTP: a team built through the routes, the extractors that guard an
//! application's organization routes, and no existence oracle for outsiders.

use reqwest::Method;
use serde_json::json;
use users_axum::MailKind;
use users_diesel::AsyncUsers;

use crate::support::{config, http_tests, throttled_config, App, Backend};

http_tests! {
    a_team_is_built_through_the_routes,
    the_organization_extractors_check_membership_and_permission,
    an_invitation_over_the_addresss_mail_cap_is_withdrawn,
}

async fn a_team_is_built_through_the_routes(backend: Backend) {
    let app = App::start(backend).await;
    let [alice, bob, carol] = signed_in(&app, ["alice", "bob", "carol"]).await;

    let acme = app
        .call(
            Method::POST,
            "/orgs",
            &alice,
            Some(json!({ "name": "Acme Corp" })),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(
        (acme["slug"].as_str(), acme["role"].as_str()),
        (Some("acme-corp"), Some("owner"))
    );
    let id = acme["id"].as_str().unwrap().to_owned();
    app.call(
        Method::POST,
        "/orgs",
        &bob,
        Some(json!({ "name": "x", "slug": "ACME corp" })),
    )
    .await
    .expect_error(409, "org_exists");
    app.call(Method::POST, "/orgs", &bob, Some(json!({ "name": "  " })))
        .await
        .expect_error(422, "invalid_org_name");

    // Outsiders see no organization at all.
    app.get(&format!("/orgs/{id}"), &carol)
        .await
        .expect_error(404, "org_not_found");
    app.get(&format!("/orgs/{id}/members"), &carol)
        .await
        .expect_error(404, "org_not_found");
    app.get(&format!("/orgs/{}", uuid_like()), &alice)
        .await
        .expect_error(404, "org_not_found");

    // Alice invites Bob as an admin: the token goes to his address only.
    let invitation = app
        .call(
            Method::POST,
            &format!("/orgs/{id}/invitations"),
            &alice,
            Some(json!({ "email": "Bob@Example.com", "role": "admin" })),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(invitation["email"], "bob@example.com");
    assert!(invitation.get("token").is_none());
    let token = app.mailed("bob@example.com", MailKind::Invitation).await;
    app.call(
        Method::POST,
        "/invitations/accept",
        &carol,
        Some(json!({ "token": token })),
    )
    .await
    .expect_error(403, "invitation_for_another_address");
    let joined = app
        .call(
            Method::POST,
            "/invitations/accept",
            &bob,
            Some(json!({ "token": token })),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        (joined["id"].as_str(), joined["role"].as_str()),
        (Some(id.as_str()), Some("admin"))
    );
    app.call(
        Method::POST,
        "/invitations/accept",
        &bob,
        Some(json!({ "token": token })),
    )
    .await
    .expect_error(400, "invalid_token");

    // Bob, an admin, invites Carol; she joins as a member; pending invitations are listed.
    app.call(
        Method::POST,
        &format!("/orgs/{id}/invitations"),
        &bob,
        Some(json!({ "email": "carol@example.com" })),
    )
    .await
    .expect(201);
    let pending = app
        .get(&format!("/orgs/{id}/invitations"), &alice)
        .await
        .expect(200)
        .body;
    assert_eq!(pending["invitations"].as_array().unwrap().len(), 1);
    let token = app.mailed("carol@example.com", MailKind::Invitation).await;
    app.call(
        Method::POST,
        "/invitations/accept",
        &carol,
        Some(json!({ "token": token })),
    )
    .await
    .expect(200);
    let members = app
        .get(&format!("/orgs/{id}/members"), &carol)
        .await
        .expect(200)
        .body;
    let roles: Vec<(&str, &str)> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        [
            ("alice@example.com", "owner"),
            ("bob@example.com", "admin"),
            ("carol@example.com", "member")
        ]
    );
    let carol_id = members["members"][2]["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let alice_id = members["members"][0]["user_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A member may not invite, rename or manage; an admin may not touch the owner.
    app.call(
        Method::PATCH,
        &format!("/orgs/{id}"),
        &carol,
        Some(json!({ "name": "Mine" })),
    )
    .await
    .expect_error(403, "not_permitted");
    app.call(
        Method::PATCH,
        &format!("/orgs/{id}/members/{alice_id}"),
        &bob,
        Some(json!({ "role": "member" })),
    )
    .await
    .expect_error(403, "not_permitted");
    app.call(
        Method::PATCH,
        &format!("/orgs/{id}/members/{carol_id}"),
        &bob,
        Some(json!({ "role": "admin" })),
    )
    .await
    .expect(204);
    let renamed = app
        .call(
            Method::PATCH,
            &format!("/orgs/{id}"),
            &bob,
            Some(json!({ "name": "Acme Inc" })),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(renamed["name"], "Acme Inc");

    // The last owner stays; Carol leaves with her own id; only the owner deletes.
    app.call(
        Method::DELETE,
        &format!("/orgs/{id}/members/{alice_id}"),
        &alice,
        None,
    )
    .await
    .expect_error(409, "last_owner");
    app.call(
        Method::DELETE,
        &format!("/orgs/{id}/members/{carol_id}"),
        &carol,
        None,
    )
    .await
    .expect(204);
    assert!(app.get("/orgs", &carol).await.expect(200).body["orgs"]
        .as_array()
        .unwrap()
        .is_empty());
    app.call(Method::DELETE, &format!("/orgs/{id}"), &bob, None)
        .await
        .expect_error(403, "not_permitted");
    app.call(Method::DELETE, &format!("/orgs/{id}"), &alice, None)
        .await
        .expect(204);
    app.get(&format!("/orgs/{id}"), &bob)
        .await
        .expect_error(404, "org_not_found");
}

async fn the_organization_extractors_check_membership_and_permission(backend: Backend) {
    let config = config().org_role("editor", &["posts.publish"]).unwrap();
    let app = App::start_over(backend, AsyncUsers::new(config), |state| state, |app| app).await;
    let [alice, bob, eve] = signed_in(&app, ["alice", "bob", "eve"]).await;
    let acme = app
        .call(
            Method::POST,
            "/orgs",
            &alice,
            Some(json!({ "name": "Acme" })),
        )
        .await
        .expect(201)
        .body;
    let id = acme["id"].as_str().unwrap().to_owned();
    app.call(
        Method::POST,
        &format!("/orgs/{id}/invitations"),
        &alice,
        Some(json!({ "email": "bob@example.com", "role": "member" })),
    )
    .await
    .expect(201);
    let token = app.mailed("bob@example.com", MailKind::Invitation).await;
    app.call(
        Method::POST,
        "/invitations/accept",
        &bob,
        Some(json!({ "token": token })),
    )
    .await
    .expect(200);

    let whoami = app
        .get(&format!("/app/orgs/{id}/whoami"), &bob)
        .await
        .expect(200);
    assert_eq!(whoami.body, "bob@example.com member");
    app.get(&format!("/app/orgs/{id}/whoami"), &eve)
        .await
        .expect_error(404, "org_not_found");
    app.get("/app/orgs/not-a-uuid/whoami", &bob)
        .await
        .expect_error(400, "bad_request");

    // A member without the permission is refused; the owner holds every permission.
    app.get(&format!("/app/orgs/{id}/publish"), &bob)
        .await
        .expect_error(403, "not_permitted");
    app.get(&format!("/app/orgs/{id}/publish"), &alice)
        .await
        .expect(200);
    let members = app
        .get(&format!("/orgs/{id}/members"), &alice)
        .await
        .expect(200)
        .body;
    let bob_id = members["members"][1]["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.call(
        Method::PATCH,
        &format!("/orgs/{id}/members/{bob_id}"),
        &alice,
        Some(json!({ "role": "Editor" })),
    )
    .await
    .expect(204);
    app.get(&format!("/app/orgs/{id}/publish"), &bob)
        .await
        .expect(200);
    app.get(&format!("/app/orgs/{id}/publish"), &eve)
        .await
        .expect_error(404, "org_not_found");
}

async fn an_invitation_over_the_addresss_mail_cap_is_withdrawn(backend: Backend) {
    // Three mails an hour to an address.
    let manager = AsyncUsers::new(throttled_config());
    let app = App::start_over(backend, manager, |state| state, |app| app).await;
    let [alice] = signed_in(&app, ["alice"]).await;
    let acme = app
        .call(
            Method::POST,
            "/orgs",
            &alice,
            Some(json!({ "name": "Acme" })),
        )
        .await
        .expect(201)
        .body;
    let id = acme["id"].as_str().unwrap().to_owned();
    let path = format!("/orgs/{id}/invitations");
    let body = json!({ "email": "dan@example.com" });
    for _ in 0..3 {
        app.call(Method::POST, &path, &alice, Some(body.clone()))
            .await
            .expect(201);
    }
    app.call(Method::POST, &path, &alice, Some(body))
        .await
        .expect_error(429, "too_many_attempts");
    // The refused invitation was not kept: no token is pending that nobody received.
    let pending = app
        .get(&format!("/orgs/{id}/invitations"), &alice)
        .await
        .expect(200)
        .body;
    assert_eq!(pending["invitations"].as_array().unwrap().len(), 3);
}

/// Registers `names` at example.com, verified, and signs each in: their session tokens.
async fn signed_in<const N: usize>(app: &App, names: [&str; N]) -> [String; N] {
    let mut tokens = Vec::new();
    for name in names {
        let email = format!("{name}@example.com");
        app.register_verified(&email).await;
        tokens.push(app.login(&email).await);
    }
    tokens.try_into().expect("one token per name")
}

/// A well-formed id of no organization.
fn uuid_like() -> String {
    users_diesel::Uuid::now_v7().to_string()
}
