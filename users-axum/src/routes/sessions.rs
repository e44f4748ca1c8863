//! The stored sessions: the user's own, listed and ended, and an administrator's "log out
//! everywhere" for a user.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use users_diesel::{StoredSession, UsersError, Uuid};

use crate::answer::{parse_user_id, parse_uuid, rfc3339, stateless};
use crate::api::{endpoint, route, Admin, Delete, Doc, Endpoint, Get, Session};
use crate::error::PathParams;
use crate::{ApiError, CurrentUser, ErrorCode, Profile, UsersState};

/// The typed bodies and answers of these routes, for the OpenAPI document.
pub(crate) fn schemas() -> Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::Schema>)> {
    vec![
        crate::schema::typed::<SessionView>(),
        crate::schema::typed::<SessionList>(),
        crate::schema::typed::<Ended>(),
    ]
}

/// The routes of the stored sessions, each with its handler and its description: the router and the
/// OpenAPI document are both made from this list.
pub(crate) fn endpoints<U: Profile>() -> Vec<Endpoint<U>> {
    vec![
        endpoint(my_sessions::<U>, MY_SESSIONS),
        endpoint(end_other_sessions::<U>, END_OTHER_SESSIONS),
        endpoint(end_my_session::<U>, END_MY_SESSION),
        endpoint(end_user_sessions::<U>, END_USER_SESSIONS),
    ]
}

/// A login session: where and when it started, when it ends.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StoredSession)]
pub(crate) struct SessionView {
    #[schema(format = "uuid")]
    id: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    last_seen_at: String,
    #[schema(format = DateTime)]
    expires_at: String,
    #[schema(format = DateTime)]
    idle_expires_at: String,
    #[schema(required = true)]
    user_agent: Option<String>,
    #[schema(required = true)]
    client: Option<String>,
    /// whether this request uses the session
    current: bool,
}

impl SessionView {
    /// `session` as `GET /users/me/sessions` lists it; `current` marks the request's own.
    fn new(session: &StoredSession, current: Uuid) -> Self {
        SessionView {
            id: session.id.to_string(),
            created_at: rfc3339(session.created_at),
            last_seen_at: rfc3339(session.last_seen_at),
            expires_at: rfc3339(session.expires_at),
            idle_expires_at: rfc3339(session.idle_expires_at),
            user_agent: session.user_agent.clone(),
            client: session.client.clone(),
            current: session.id == current,
        }
    }
}

/// The answer of `GET /users/me/sessions`: the user's live sessions, newest first.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionList {
    sessions: Vec<SessionView>,
}

/// How many sessions a "log out everywhere" ended.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Ended {
    ended: usize,
}

/// The route of [`my_sessions`].
const MY_SESSIONS: Doc = route(
    Get,
    "/users/me/sessions",
    "The session user's live sessions, newest first; `current` marks this one",
    Session,
    None,
    (200, "the sessions", Some("SessionList")),
    &[(404, &[ErrorCode::NotFound])],
);

async fn my_sessions<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
) -> Result<Json<SessionList>, ApiError> {
    if !users.stored() {
        return Err(stateless());
    }
    let sessions = users.pooled().sessions(&current.user).await?;
    let sessions = sessions
        .iter()
        .map(|session| SessionView::new(session, current.session.id()))
        .collect();
    Ok(Json(SessionList { sessions }))
}

/// The route of [`end_other_sessions`].
const END_OTHER_SESSIONS: Doc = route(
    Delete,
    "/users/me/sessions",
    "End every other session of the session user (log out everywhere else)",
    Session,
    None,
    (200, "how many sessions ended", Some("Ended")),
    &[(404, &[ErrorCode::NotFound])],
);

/// Ends every session of the caller but the request's own.
async fn end_other_sessions<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
) -> Result<Json<Ended>, ApiError> {
    if !users.stored() {
        return Err(stateless());
    }
    let ended = users
        .pooled()
        .end_other_sessions(&current.user, current.session.id())
        .await?;
    Ok(Json(Ended { ended }))
}

/// The route of [`end_my_session`].
const END_MY_SESSION: Doc = route(
    Delete,
    "/users/me/sessions/{session_id}",
    "End one session of the session user",
    Session,
    None,
    (204, "the session is over", None),
    &[(404, &[ErrorCode::NotFound])],
);

/// Ends one session of the caller (the request's own too: a logout).
async fn end_my_session<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
    PathParams(id): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    if !users.stored() {
        return Err(stateless());
    }
    let id = parse_uuid(&id).ok_or_else(|| ApiError::bad_request("`session_id` must be a UUID"))?;
    if users.pooled().end_session(&current.user, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "the user has no session with this id",
        ))
    }
}

/// The route of [`end_user_sessions`].
const END_USER_SESSIONS: Doc = route(
    Delete,
    "/users/{user_id}/sessions",
    "End every session of a user (log them out everywhere)",
    Admin,
    None,
    (200, "how many sessions ended", Some("Ended")),
    &[(404, &[ErrorCode::UserNotFound, ErrorCode::NotFound])],
);

/// An administrator's "log out everywhere" for a user.
async fn end_user_sessions<U: Profile>(
    State(users): State<UsersState<U>>,
    admin: CurrentUser<U>,
    PathParams(id): PathParams<String>,
) -> Result<Json<Ended>, ApiError> {
    if !users.stored() {
        return Err(stateless());
    }
    let id = parse_user_id::<U>(&id)?;
    users
        .pooled()
        .get(id)
        .await?
        .ok_or(UsersError::UserNotFound)?;
    let ended = super::admin::acting(&users, &admin)
        .end_all_sessions(id)
        .await?;
    Ok(Json(Ended { ended }))
}
