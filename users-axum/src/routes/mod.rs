//! The router: every area's routes, mounted from one list that the OpenAPI document describes
//! too. The areas: [`auth`] (registration, login, tokens, verification, password reset), [`me`]
//! (the user's own account), [`sessions`], [`admin`] (users and roles), and, in their own
//! modules, the second factors, passkeys and provider sign-in.

use axum::extract::DefaultBodyLimit;
use axum::http::header::CACHE_CONTROL;
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};

use crate::api::{Admin, Endpoint};
use crate::error::{method_not_allowed, not_found};
use crate::{Profile, UsersState};

mod admin;
mod auth;
mod events;
mod me;
mod orgs;
mod sessions;

/// The routes of registration, sessions, verification, password reset, the user's own profile
/// and role administration, over `state`:
///
#[doc = include_str!("routes.md")]
///
/// [`openapi`](crate::openapi()) describes them all. Unknown paths answer a JSON 404
/// `not_found` (the router's fallback: an application with a fallback of its own calls
/// `reset_fallback()` on this router before merging it), and a method a route does not take a
/// JSON 405 `method_not_allowed`.
///
/// The router has its state applied, so it merges into an application's router whatever that
/// one's state: `Router::new().merge(users_axum::router(users)).route(…)`, or nests under a
/// prefix with `nest`.
pub fn router<U, S>(state: UsersState<U>) -> Router<S>
where
    U: Profile,
    S: Clone + Send + Sync + 'static,
{
    let mut open = Router::new();
    let mut admin = Router::new();
    for Endpoint { handler, doc } in endpoints::<U>() {
        if doc.access == Admin {
            admin = admin.route(doc.path, handler);
        } else {
            open = open.route(doc.path, handler);
        }
    }
    let admin = admin.route_layer(state.require_role(state.admin()));
    let mut router = Router::new();
    if let Some(path) = state.openapi_path() {
        let document = state.openapi();
        router = router.route(path, get(move || async move { Json(document) }));
    }
    #[cfg(feature = "scalar")]
    if let Some(path) = state.docs_path() {
        use utoipa_scalar::{Scalar, Servable};
        router = router.merge(Scalar::with_url(path.to_owned(), state.openapi()));
    }
    router
        .merge(open)
        .merge(admin)
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.limit()))
        .layer(axum::middleware::map_response(no_store))
        .with_state(state)
}

/// Marks an answer `Cache-Control: no-store` unless its handler chose otherwise: the answers
/// of these routes carry session tokens (login, a password change) or a user's own data, which
/// no cache, shared or the browser's, may keep (RFC 6749 §5.1, OWASP).
async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The typed answers and bodies of the areas here, for the OpenAPI document.
pub(crate) fn schemas() -> Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::Schema>)> {
    use crate::schema::typed;
    vec![
        typed::<crate::error::ErrorBody>(),
        typed::<crate::session::SessionAnswer<'static>>(),
        typed::<crate::pooled::RoleView>(),
        typed::<crate::answer::Message>(),
        typed::<crate::answer::SignInsView>(),
        typed::<crate::answer::SecondFactorRequired>(),
    ]
    .into_iter()
    .chain(auth::schemas())
    .chain(me::schemas())
    .chain(admin::schemas())
    .chain(sessions::schemas())
    .chain(events::schemas())
    .chain(orgs::schemas())
    .collect()
}

/// Every route, area by area: what [`router`] mounts and [`openapi`](crate::openapi()) describes.
pub(crate) fn endpoints<U: Profile>() -> Vec<Endpoint<U>> {
    let mut all = auth::endpoints();
    all.extend(me::endpoints());
    all.extend(sessions::endpoints());
    all.extend(events::endpoints());
    all.extend(crate::factors::endpoints());
    all.extend(admin::endpoints());
    all.extend(orgs::endpoints());
    #[cfg(feature = "passkeys")]
    all.extend(crate::passkeys::endpoints());
    #[cfg(feature = "oidc")]
    all.extend(crate::oauth::endpoints());
    all
}

/// The route table of [`router`]'s documentation (`routes.md`), as the route list makes it.
#[cfg(all(test, feature = "passkeys", feature = "oidc"))]
fn route_table<U: Profile>() -> String {
    use crate::api::{Anyone, Session};
    let feature = |doc: &crate::api::Doc| {
        #[cfg(feature = "passkeys")]
        if crate::passkeys::endpoints::<U>()
            .iter()
            .any(|e| e.doc.path == doc.path)
        {
            return "feature `passkeys`, ";
        }
        #[cfg(feature = "oidc")]
        if crate::oauth::endpoints::<U>()
            .iter()
            .any(|e| e.doc.path == doc.path)
        {
            return "feature `oidc`, ";
        }
        ""
    };
    let mut table = String::from("| route | who | what | answer |\n|---|---|---|---|\n");
    for Endpoint { doc, .. } in endpoints::<U>() {
        let who = match doc.access {
            Anyone => "anyone",
            Session => "a session",
            Admin => "an administrator",
        };
        let summary = doc.summary.split_whitespace().collect::<Vec<_>>().join(" ");
        let (status, answer, _) = doc.ok;
        table.push_str(&format!(
            "| `{} {}` | {}{who} | {summary} | {status}, {answer} |\n",
            doc.method.as_str(),
            doc.path,
            feature(&doc),
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use users_diesel::prelude::*;

    use super::*;
    use crate::NoProfile;

    #[user_model]
    pub struct User {}

    impl Profile for User {
        type Fields = NoProfile;
        fn profile(&self) -> NoProfile {
            NoProfile {}
        }
        fn set_profile(&mut self, _: NoProfile) {}
    }

    #[test]
    fn every_route_is_mounted_once() {
        let routes: Vec<_> = endpoints::<User>()
            .iter()
            .map(|e| (e.doc.method, e.doc.path))
            .collect();
        for (i, route) in routes.iter().enumerate() {
            assert!(!routes[..i].contains(route), "{route:?} twice");
        }
    }

    /// The documentation's route table is the route list's, written by
    /// `USERS_BLESS=1 cargo test -p users-axum --all-features routes::tests`; with every
    /// feature, since the passkey and provider routes are in the table.
    #[cfg(all(feature = "passkeys", feature = "oidc"))]
    #[test]
    fn the_route_table_is_the_route_list() {
        let table = route_table::<User>();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes/routes.md");
        if std::env::var_os("USERS_BLESS").is_some() {
            std::fs::write(path, &table).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(path).unwrap(),
            table,
            "src/routes/routes.md is not the route list's: run `USERS_BLESS=1 cargo test -p \
             users-axum --all-features routes::tests` to write it"
        );
    }

    /// The README documents every route (and the HTTP tests check that every route it names
    /// is in the OpenAPI document).
    #[cfg(all(feature = "passkeys", feature = "oidc"))]
    #[test]
    fn the_readme_names_every_route() {
        let readme = include_str!("../../../README.md");
        for Endpoint { doc, .. } in endpoints::<User>() {
            let route = format!("`{} {}`", doc.method.as_str(), doc.path);
            assert!(
                readme
                    .lines()
                    .any(|line| line.starts_with('|') && line.contains(&route)),
                "the README's route tables lack {route}"
            );
        }
    }
}
