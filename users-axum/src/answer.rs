//! The answers the areas share: a session with its cookie, the "accepted" of the mail routes, a
//! user with their roles, times and ids as the routes write and read them.

use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use users_diesel::{SecondFactorChallenge, UserModel, UsersError, Uuid};
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::ToSchema;

use crate::profile::user_view;
use crate::schema::{boolean, methods};
use crate::{ApiError, ErrorCode, NewSession, Profile, UsersState};

/// `answer` with the `Set-Cookie` that stores `session`, if cookies are on.
pub(crate) fn session_answer<U: Profile>(
    users: &UsersState<U>,
    session: &NewSession,
    answer: impl IntoResponse,
) -> Response {
    let cookie = users.cookie().map(|name| session.cookie(name));
    with_cookie(answer.into_response(), cookie)
}

pub(crate) fn with_cookie(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(cookie) = cookie {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

/// A message for people: the answer of the routes that must not tell whether an address has
/// an account.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Message {
    message: &'static str,
}

/// The answer of the routes that must not tell whether an address has an account.
pub(crate) fn accepted(message: &'static str) -> Response {
    (StatusCode::ACCEPTED, Json(Message { message })).into_response()
}

/// A time as RFC 3339, in UTC, to the second.
pub(crate) fn rfc3339(time: std::time::SystemTime) -> String {
    let time: chrono::DateTime<chrono::Utc> = time.into();
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A UUID in the form the routes answer with (hyphenated, 36 characters), which is the form the
/// OpenAPI document promises; the braced, URN and bare-hex forms `Uuid::parse_str` also reads
/// are refused.
pub(crate) fn parse_uuid(text: &str) -> Option<Uuid> {
    if text.len() != 36 {
        return None;
    }
    text.parse().ok()
}

/// The user id of an admin route's path.
pub(crate) fn parse_user_id<U: UserModel>(text: &str) -> Result<U::Id, ApiError> {
    let id = parse_uuid(text).ok_or_else(|| ApiError::bad_request("`user_id` must be a UUID"))?;
    Ok(id.into())
}

/// The refusal of the session routes when sessions are stateless.
pub(crate) fn stateless() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "sessions are stateless here: there are no stored sessions or refresh tokens",
    )
}

/// The user's JSON view, with their roles.
pub(crate) async fn answer_user<U: Profile>(
    users: &UsersState<U>,
    user: &U,
) -> Result<Json<Value>, ApiError> {
    let roles = users.pooled().role_names(user).await?;
    answer_user_with(users, user, roles, None).await
}

/// [`answer_user`] with the user's role names read already, and their sign-ins if read.
pub(crate) async fn answer_user_with<U: Profile>(
    users: &UsersState<U>,
    user: &U,
    roles: Vec<String>,
    sign_ins: Option<users_diesel::SignIns>,
) -> Result<Json<Value>, ApiError> {
    let mut view = user_view(user, roles)?;
    if users.pooled().records_events() {
        let sign_ins = match sign_ins {
            Some(sign_ins) => sign_ins,
            None => users.pooled().sign_ins(user).await?,
        };
        view["sign_ins"] = serde_json::to_value(SignInsView::from(sign_ins))
            .map_err(|error| ApiError::from(UsersError::database(error)))?;
    }
    Ok(Json(view))
}

/// An account's sign-ins, as its security history tells them (where the manager records
/// events): how many, and the last one's time and client.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SignIns)]
pub(crate) struct SignInsView {
    /// password logins and provider sign-ins in the kept history
    count: u64,
    #[schema(required = true, format = DateTime)]
    last_at: Option<String>,
    #[schema(required = true)]
    last_client: Option<String>,
}

impl From<users_diesel::SignIns> for SignInsView {
    fn from(sign_ins: users_diesel::SignIns) -> Self {
        SignInsView {
            count: sign_ins.count,
            last_at: sign_ins.last_at.map(rfc3339),
            last_client: sign_ins.last_client,
        }
    }
}

/// What a login answers for a user with a second factor: no session yet.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecondFactorRequired {
    #[schema(schema_with = always_true)]
    mfa_required: bool,
    /// for `POST /auth/mfa`; single-use, 5 minutes
    mfa_token: String,
    #[schema(schema_with = methods)]
    methods: Vec<&'static str>,
}

/// `true`, the one value of `mfa_required`.
fn always_true() -> ObjectBuilder {
    boolean().enum_values(Some([true]))
}

/// What `POST /auth/login` answers for a user with a second factor: no session yet.
pub(crate) fn challenge_answer(challenge: &SecondFactorChallenge) -> Response {
    Json(SecondFactorRequired {
        mfa_required: true,
        mfa_token: challenge.token.clone(),
        methods: challenge.methods.iter().map(|m| m.as_str()).collect(),
    })
    .into_response()
}
