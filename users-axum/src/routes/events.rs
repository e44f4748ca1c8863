//! Security events: the session user's own history, a user's history for an administrator, and
//! everyone's, with filters. The manager records them (`AsyncUsers::record_events`); these
//! routes only read.

use std::time::SystemTime;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use users_diesel::{EventKind, EventQuery, SecurityEvent, MAX_PAGE_SIZE};

use crate::answer::{parse_user_id, parse_uuid, rfc3339};
use crate::api::{endpoint, route, Admin, Doc, Endpoint, Get, QueryParameter, Session};
use crate::error::PathParams;
use crate::schema::{string, uuid};
use crate::{ApiError, CurrentUser, ErrorCode, Profile, UsersState};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};

/// The typed bodies and answers of these routes, for the OpenAPI document.
pub(crate) fn schemas() -> Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::Schema>)> {
    vec![
        crate::schema::typed::<EventView>(),
        crate::schema::typed::<EventPage>(),
    ]
}

/// The routes of the security events, each with its handler and its description: the router
/// and the OpenAPI document are both made from this list.
pub(crate) fn endpoints<U: Profile>() -> Vec<Endpoint<U>> {
    vec![
        endpoint(my_events::<U>, MY_EVENTS),
        endpoint(user_events::<U>, USER_EVENTS),
        endpoint(all_events::<U>, ALL_EVENTS),
    ]
}

/// One security event.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SecurityEvent)]
pub(crate) struct EventView {
    #[schema(format = "uuid")]
    id: String,
    #[schema(format = "uuid")]
    user_id: String,
    /// what happened: `login_failed`, `password_changed`, …
    kind: String,
    /// when it happened (the first time, for a counted failure)
    #[schema(format = DateTime)]
    at: String,
    /// the administrator who did it, when not the account's owner
    #[schema(required = true, format = "uuid")]
    actor_id: Option<String>,
    #[schema(required = true)]
    client: Option<String>,
    #[schema(required = true)]
    user_agent: Option<String>,
    /// what it concerned: a role, a provider, a passkey, a kind of proof
    #[schema(required = true)]
    detail: Option<String>,
    /// how many times it happened within its minute (failures are counted, not copied)
    count: u32,
}

impl From<SecurityEvent> for EventView {
    fn from(event: SecurityEvent) -> Self {
        EventView {
            id: event.id.to_string(),
            user_id: event.user_id.to_string(),
            kind: event.kind.name().to_owned(),
            at: rfc3339(event.at),
            actor_id: event.actor_id.map(|id| id.to_string()),
            client: event.client,
            user_agent: event.user_agent,
            detail: event.detail,
            count: event.count,
        }
    }
}

/// A page of events, newest first; `next` is the cursor (`before`) of the page after.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventPage {
    events: Vec<EventView>,
    #[schema(required = true, format = "uuid")]
    next: Option<String>,
}

/// The query string of the event routes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventParams {
    before: Option<String>,
    limit: Option<usize>,
    kind: Option<String>,
    since: Option<String>,
    until: Option<String>,
    user_id: Option<String>,
}

/// How many events a page holds unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 50;

/// The [`EventQuery`] of a query string; a bad parameter is 422 `invalid_field`. `user_id` is
/// taken only where `allow_user` (everyone's events, for an administrator).
fn parse_events_query(text: &str, allow_user: bool) -> Result<EventQuery, ApiError> {
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(text.as_bytes()));
    let params: EventParams = serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let message = error.into_inner().to_string();
        let field = crate::error::quoted_member(&message)
            .unwrap_or("query")
            .to_owned();
        ApiError::invalid_field(field, format!("invalid query parameter: {message}"))
    })?;
    let invalid = |field: &'static str, why: &str| {
        ApiError::invalid_field(field, format!("invalid query parameter: `{field}` {why}"))
    };
    let uuid = |field: &'static str, text: Option<String>| {
        text.map(|text| parse_uuid(&text).ok_or_else(|| invalid(field, "must be a UUID")))
            .transpose()
    };
    let time = |field: &'static str, text: Option<String>| {
        text.map(|text| {
            chrono::DateTime::parse_from_rfc3339(&text)
                .map(SystemTime::from)
                .map_err(|_| invalid(field, "must be an RFC 3339 time"))
        })
        .transpose()
    };
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(invalid("limit", &format!("must be 1 to {MAX_PAGE_SIZE}")));
    }
    let kinds = match params.kind.as_deref() {
        None | Some("") => Vec::new(),
        Some(kinds) => kinds
            .split(',')
            .map(|name| {
                name.trim()
                    .parse::<EventKind>()
                    .map_err(|_| invalid("kind", "names no kind of event"))
            })
            .collect::<Result<_, _>>()?,
    };
    if params.user_id.is_some() && !allow_user {
        return Err(invalid("user_id", "is in the path"));
    }
    Ok(EventQuery {
        user_id: uuid("user_id", params.user_id)?,
        kinds,
        since: time("since", params.since)?,
        until: time("until", params.until)?,
        client: None,
        before: uuid("before", params.before)?,
        limit,
    })
}

/// The page `query` selects, after checking that the server records events.
async fn page<U: Profile>(users: &UsersState<U>, query: EventQuery) -> Result<EventPage, ApiError> {
    if !users.pooled().records_events() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "this server records no security events",
        ));
    }
    let events = users.pooled().events(&query).await?;
    let next = (events.len() == query.limit)
        .then(|| events.last().map(|event| event.id.to_string()))
        .flatten();
    Ok(EventPage {
        events: events.into_iter().map(EventView::from).collect(),
        next,
    })
}

/// The refusals of the event routes' query strings and of a server without events.
const REFUSALS: &[(u16, &[ErrorCode])] = &[
    (404, &[ErrorCode::NotFound]),
    (422, &[ErrorCode::InvalidField]),
];

/// The route of [`my_events`].
const MY_EVENTS: Doc = route(
    Get,
    "/users/me/events",
    "The session user's security events, newest first; `next` is the cursor of the page after",
    Session,
    None,
    (200, "the page", Some("EventPage")),
    REFUSALS,
)
.with_query(account_event_parameters);

/// The caller's own history: nobody else's, whatever the query says.
async fn my_events<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
    RawQuery(query): RawQuery,
) -> Result<Json<EventPage>, ApiError> {
    let mut query = parse_events_query(query.as_deref().unwrap_or(""), false)?;
    query.user_id = Some(current.user.id().into());
    Ok(Json(page(&users, query).await?))
}

/// The route of [`user_events`].
const USER_EVENTS: Doc = route(
    Get,
    "/users/{user_id}/events",
    "A user's security events, newest first (their history outlives the account)",
    Admin,
    None,
    (200, "the page", Some("EventPage")),
    REFUSALS,
)
.with_query(account_event_parameters);

async fn user_events<U: Profile>(
    State(users): State<UsersState<U>>,
    PathParams(id): PathParams<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<EventPage>, ApiError> {
    let id = parse_user_id::<U>(&id)?;
    let mut query = parse_events_query(query.as_deref().unwrap_or(""), false)?;
    query.user_id = Some(id.into());
    Ok(Json(page(&users, query).await?))
}

/// The route of [`all_events`].
const ALL_EVENTS: Doc = route(
    Get,
    "/events",
    "Everyone's security events, newest first, by kind, user and time",
    Admin,
    None,
    (200, "the page", Some("EventPage")),
    REFUSALS,
)
.with_query(all_event_parameters);

async fn all_events<U: Profile>(
    State(users): State<UsersState<U>>,
    RawQuery(query): RawQuery,
) -> Result<Json<EventPage>, ApiError> {
    let query = parse_events_query(query.as_deref().unwrap_or(""), true)?;
    Ok(Json(page(&users, query).await?))
}

/// The query parameters of the event routes; `user_id` too on everyone's (`GET /events`).
fn event_parameters(everyone: bool) -> Vec<QueryParameter> {
    let time = || string().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)));
    let mut parameters = vec![
        ("before", uuid(), "the `next` of the previous page"),
        (
            "limit",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(users_diesel::MAX_PAGE_SIZE)),
            "how many events at most (50 by default)",
        ),
        (
            "kind",
            string(),
            "only events of these kinds, comma-separated (`login_failed,locked_out`)",
        ),
        ("since", time(), "only events at or after this time"),
        ("until", time(), "only events before this time"),
    ];
    if everyone {
        parameters.push(("user_id", uuid(), "only this user's events"));
    }
    parameters
}

/// The query parameters of an account's events.
fn account_event_parameters() -> Vec<QueryParameter> {
    event_parameters(false)
}

/// The query parameters of everyone's events.
fn all_event_parameters() -> Vec<QueryParameter> {
    event_parameters(true)
}
