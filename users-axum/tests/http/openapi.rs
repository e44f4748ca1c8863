//! The OpenAPI document: valid, and the README's routes, the document and the router agree.

use reqwest::Method;
use serde_json::{json, Value};
use users_diesel::Uuid;

use crate::support::*;

http_tests! {
    the_openapi_document_validates_and_describes_every_route,
}

/// The `(METHOD, /path)` of each route in the README's route table.
fn readme_routes() -> Vec<(String, String)> {
    let readme = include_str!("../../../README.md");
    readme
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(route, _)| route))
        .filter_map(|route| route.split_once(' '))
        .filter(|(method, path)| {
            ["GET", "POST", "PATCH", "DELETE"].contains(method) && path.starts_with('/')
        })
        .map(|(method, path)| (method.to_owned(), path.to_owned()))
        .collect()
}

async fn the_openapi_document_validates_and_describes_every_route(backend: Backend) {
    let mut app = App::start_with(backend, |state| {
        // With a provider (GitHub's needs no discovery) the provider routes answer for it.
        #[cfg(feature = "oidc")]
        let state = state
            .oauth(
                users_axum::OAuthSettings::new("http://127.0.0.1")
                    .provider(users_axum::OAuthProvider::github("client", "secret")),
            )
            .unwrap();
        state.openapi_json("/openapi.json")
    })
    .await;
    // A redirect (to a provider) is an answer to check, not to follow.
    app.client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let text = app
        .send(app.request(Method::GET, "/openapi.json", None))
        .await
        .expect(200)
        .body
        .to_string();
    // oas3 reads OpenAPI 3.1 and refuses a document that breaks its structure.
    let spec = oas3::from_json(&text).expect("a valid OpenAPI 3.1 document");
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);
    let document: Value = serde_json::from_str(&text).unwrap();
    // The served document is the library's, plus its own route.
    let library = serde_json::to_value(users_axum::openapi::<User>()).unwrap();
    assert_eq!(document["components"], library["components"]);

    // Every schema a `$ref` names exists.
    for reference in text.split("\"$ref\":\"").skip(1) {
        let name = reference.split('"').next().unwrap();
        let name = name.strip_prefix("#/components/schemas/").unwrap_or(name);
        assert!(
            document["components"]["schemas"][name].is_object(),
            "dangling $ref {name}"
        );
    }
    // A regression schemathesis found: the document allowed fewer characters in a new password
    // than the manager takes (4096 bytes), so a longer one "broke" the schema and was accepted.
    let password = &document["components"]["schemas"]["Registration"]["properties"]["password"];
    assert_eq!(
        (&password["minLength"], &password["maxLength"]),
        (&json!(8), &json!(4096))
    );
    // 4096 bytes, whose first 100 characters (all the strength estimate reads) are strong.
    let longest = format!("{PASSWORD} {}", "p".repeat(4096 - PASSWORD.len() - 1));
    app.post(
        "/auth/register",
        json!({ "email": "long@example.com", "password": longest }),
    )
    .await
    .expect(201);

    // The profile's fields are in the user schema.
    assert!(document["components"]["schemas"]["User"]["properties"]["display_name"].is_object());

    // Every route of the README's table is documented…
    let routes = readme_routes();
    assert!(routes.len() >= 20, "{routes:?}");
    for (method, path) in &routes {
        // The passkey and provider routes exist, and are documented, with the `passkeys` and
        // `oidc` features only.
        if path.contains("passkey") && !cfg!(feature = "passkeys")
            || (path.contains("{provider}") || path.contains("/oauth")) && !cfg!(feature = "oidc")
        {
            assert!(
                document["paths"][path].is_null(),
                "{path} without the feature"
            );
            continue;
        }
        assert!(
            document["paths"][path][method.to_lowercase()].is_object(),
            "{method} {path} is not in the document"
        );
    }
    // …and every documented operation is mounted: none answers the router's 404 or 405.
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .replace("{name}", "editor")
                .replace("{provider}", "github")
                .replace("{user_id}", &Uuid::now_v7().to_string());
            let method: Method = method.to_uppercase().parse().unwrap();
            let answer = app.send(app.request(method.clone(), &concrete, None)).await;
            assert!(
                ![404, 405].contains(&answer.status.as_u16())
                    || !["not_found", "method_not_allowed"].contains(&answer.code()),
                "{method} {path} is documented but not mounted: {}",
                answer.body
            );
            let documented = &document["paths"][path][method.as_str().to_lowercase()]["responses"];
            assert!(
                documented[answer.status.as_str()].is_object(),
                "{method} {path} answered the undocumented {}",
                answer.status
            );
        }
    }
}
