//! Registration, login, the session's tokens (refresh, logout), verification and password
//! reset.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use users_diesel::{Proof, Uuid};
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::ToSchema;

use crate::answer::{accepted, answer_user, session_answer, stateless, with_cookie};
use crate::api::{endpoint, route, Anyone, Doc, Endpoint, Post, Session};
use crate::mailer::{Mail, MailKind};
use crate::profile::{merged_profile, require_string, user_view};
use crate::schema::{email, new_password, password, string};
use crate::session::set_cookie;
use crate::{ApiError, ErrorCode, JsonBody, Profile, UsersState};

/// The typed bodies and answers of these routes, for the OpenAPI document.
pub(crate) fn schemas() -> Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::Schema>)> {
    vec![
        crate::schema::typed::<Credentials>(),
        crate::schema::typed::<EmailBody>(),
        crate::schema::typed::<TokenBody>(),
        crate::schema::typed::<ResetBody>(),
        crate::schema::typed::<RefreshBody>(),
    ]
}

/// The routes of registration, login, sessions' tokens, verification and password reset, each with its handler and its description: the router and the
/// OpenAPI document are both made from this list.
pub(crate) fn endpoints<U: Profile>() -> Vec<Endpoint<U>> {
    vec![
        endpoint(register::<U>, REGISTER),
        endpoint(login::<U>, LOGIN),
        endpoint(refresh::<U>, REFRESH),
        endpoint(logout::<U>, LOGOUT),
        endpoint(request_verify::<U>, REQUEST_VERIFY),
        endpoint(verify::<U>, VERIFY),
        endpoint(forgot_password::<U>, FORGOT_PASSWORD),
        endpoint(reset_password::<U>, RESET_PASSWORD),
    ]
}

/// An email address and a password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Credentials {
    #[schema(schema_with = login_email)]
    email: String,
    #[schema(schema_with = password)]
    password: String,
}

/// The address of a login: any text, as a wrong one is `invalid_credentials`.
fn login_email() -> ObjectBuilder {
    string().examples([json!("alice@example.com")])
}

/// An email address.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EmailRequest)]
pub(crate) struct EmailBody {
    #[schema(schema_with = email)]
    email: String,
}

/// A token from a mail.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TokenRequest)]
pub(crate) struct TokenBody {
    token: String,
}

/// A reset token and the new password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PasswordReset)]
pub(crate) struct ResetBody {
    token: String,
    #[schema(schema_with = new_password)]
    password: String,
}

/// A refresh token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RefreshRequest)]
pub(crate) struct RefreshBody {
    refresh_token: String,
}

/// The route of [`register`].
const REGISTER: Doc = route(
    Post,
    "/auth/register",
    "Register a user; a verification token is mailed",
    Anyone,
    Some("Registration"),
    (201, "the new user", Some("User")),
    &[
        (409, &[ErrorCode::EmailTaken, ErrorCode::Conflict]),
        (422, &[ErrorCode::InvalidEmail, ErrorCode::InvalidPassword]),
        (429, &[ErrorCode::TooManyAttempts]),
        (503, &[ErrorCode::Overloaded]),
    ],
);

async fn register<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    JsonBody(mut body): JsonBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let email = require_string(&mut body, "email")?;
    let password = require_string(&mut body, "password")?;
    let client = users.client(&parts);
    users.pooled().count_mail(client.as_deref(), &email).await?;
    // The profile fields start at the values a new user has.
    let blank = U::from_credentials(Uuid::nil().into(), String::new(), String::new());
    let fields = merged_profile(&blank, body)?;
    let user = users
        .pooled()
        .register(
            &email,
            &password,
            Box::new(move |user| user.set_profile(fields)),
        )
        .await?;
    if let Ok(token) = users.pooled().verification_token(&user) {
        users.mail(Mail::to_user(MailKind::Verification, user.clone(), token));
    }
    Ok((StatusCode::CREATED, Json(user_view(&user, Vec::new())?)).into_response())
}

/// The route of [`login`].
const LOGIN: Doc = route(
    Post,
    "/auth/login",
    "Log in: an access token and a refresh token (stored sessions); for a user with a second \
         factor, a pending token for `POST /auth/mfa` instead",
    Anyone,
    Some("Credentials"),
    (
        200,
        "a new session, or the second factor to give",
        Some("LoginAnswer"),
    ),
    &[
        (401, &[ErrorCode::InvalidCredentials]),
        (403, &[ErrorCode::InactiveUser, ErrorCode::UnverifiedUser]),
        (429, &[ErrorCode::TooManyAttempts]),
        (503, &[ErrorCode::Overloaded]),
    ],
);

async fn login<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Response, ApiError> {
    let client = users.client(&parts);
    let origin = users.origin(&parts);
    // Where events are recorded, the login's carry the client's user agent.
    let tagged;
    let pooled = match users.pooled().records_events() {
        true => {
            tagged = users.pooled().with_user_agent(origin.user_agent.as_deref());
            &*tagged
        }
        false => users.pooled(),
    };
    let user = pooled
        .authenticate(client.as_deref(), &body.email, &body.password)
        .await?;
    if let Some(challenge) = users.pooled().second_factor_challenge(&user).await? {
        return Ok(crate::answer::challenge_answer(&challenge));
    }
    let session = users.start_session(&user, origin).await?;
    Ok(session_answer(&users, &session, Json(session.answer())))
}

/// The route of [`refresh`].
const REFRESH: Doc = route(
    Post,
    "/auth/refresh",
    "Swap a refresh token for new tokens of its session; the refresh token is retired, and \
         a retired one presented again ends the session",
    Anyone,
    Some("RefreshRequest"),
    (200, "new tokens of the session", Some("Session")),
    &[
        (401, &[ErrorCode::InvalidToken]),
        (403, &[ErrorCode::InactiveUser]),
        (404, &[ErrorCode::NotFound]),
        (429, &[ErrorCode::TooManyAttempts]),
    ],
);

/// Swaps a refresh token for new tokens of its session. A refresh token works once: a retired
/// one presented again ends its session (401 `invalid_token`, and the session's current
/// tokens stop working too).
async fn refresh<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<Response, ApiError> {
    if !users.stored() {
        return Err(stateless());
    }
    let refreshed = async {
        users
            .pooled()
            .refresh_session(&body.refresh_token, users.policy())
            .await
            .map_err(ApiError::ends_login)
    };
    let tokens = users.guarded(Proof::Token, None, &parts, refreshed).await?;
    let user = users
        .pooled()
        .get(tokens.session.user_id.into())
        .await?
        .ok_or_else(ApiError::invalid_session)?;
    let session = users.new_session(&user, tokens);
    Ok(Json(session.answer()).into_response())
}

/// The route of [`logout`].
const LOGOUT: Doc = route(
    Post,
    "/auth/logout",
    "End this session; by cookie, only from the application's own origin (another origin \
         is 403)",
    Session,
    None,
    (204, "the session is over", None),
    &[(403, &[ErrorCode::Forbidden])],
);

/// Ends the request's session: any valid session, a deactivated or unverified user's too. In
/// cookie mode a session read from the cookie (no `Authorization` header) is ended only by a
/// request from the application's own origin (`UsersState::session_of`), so another page
/// cannot sign the user out.
async fn logout<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let user = users.session_of(&parts).await?;
    if users.stored() {
        users
            .pooled()
            .end_session(&user.user, user.session.id())
            .await?;
    } else {
        users
            .revocation_list()
            .revoke(user.session.id(), user.session.expires_at())
            .await
            .map_err(|error| ApiError::logged(&error))?;
    }
    let cleared = users.cookie().map(|name| set_cookie(name, "", 0));
    Ok(with_cookie(StatusCode::NO_CONTENT.into_response(), cleared))
}

/// The active account a mail route writes to, if `email` has one, after counting the mail
/// against the address's and the client's caps (so an unknown address costs the same).
async fn mailed_account<U: Profile>(
    users: &UsersState<U>,
    parts: &Parts,
    email: &str,
) -> Result<Option<U>, ApiError> {
    let client = users.client(parts);
    users.pooled().count_mail(client.as_deref(), email).await?;
    let user = users.pooled().find_by_email(email).await?;
    Ok(user.filter(|user| user.is_active()))
}

/// The route of [`request_verify`].
const REQUEST_VERIFY: Doc = route(
    Post,
    "/auth/request-verify",
    "Mail a verification token, if the address has an unverified account",
    Anyone,
    Some("EmailRequest"),
    (
        202,
        "the same answer whether or not the address has an account",
        Some("Message"),
    ),
    &[(429, &[ErrorCode::TooManyAttempts])],
);

async fn request_verify<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    JsonBody(body): JsonBody<EmailBody>,
) -> Result<Response, ApiError> {
    if let Some(user) = mailed_account(&users, &parts, &body.email).await? {
        // An AlreadyVerified user gets nothing, and the answer does not say so.
        if let Ok(token) = users.pooled().verification_token(&user) {
            users.mail(Mail::to_user(MailKind::Verification, user, token));
        }
    }
    Ok(accepted(
        "if the address belongs to an unverified account, a verification message is on its way",
    ))
}

/// The route of [`verify`].
const VERIFY: Doc = route(
    Post,
    "/auth/verify",
    "Verify the email address of a verification token; with the token of an email change, \
         make its new address the user's",
    Anyone,
    Some("TokenRequest"),
    (200, "the verified user", Some("User")),
    &[
        (400, &[ErrorCode::InvalidToken]),
        (403, &[ErrorCode::InactiveUser]),
        (409, &[ErrorCode::AlreadyVerified, ErrorCode::EmailTaken]),
        (429, &[ErrorCode::TooManyAttempts]),
    ],
);

async fn verify<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    JsonBody(body): JsonBody<TokenBody>,
) -> Result<Json<Value>, ApiError> {
    let verified = users.pooled().verify(&body.token);
    let user = users.guarded(Proof::Token, None, &parts, verified).await?;
    answer_user(&users, &user).await
}

/// The route of [`forgot_password`].
const FORGOT_PASSWORD: Doc = route(
    Post,
    "/auth/forgot-password",
    "Mail a password reset token, if the address has an account",
    Anyone,
    Some("EmailRequest"),
    (
        202,
        "the same answer whether or not the address has an account",
        Some("Message"),
    ),
    &[(429, &[ErrorCode::TooManyAttempts])],
);

async fn forgot_password<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    JsonBody(body): JsonBody<EmailBody>,
) -> Result<Response, ApiError> {
    if let Some(user) = mailed_account(&users, &parts, &body.email).await? {
        let token = users.pooled().reset_token(&user);
        users.mail(Mail::to_user(MailKind::PasswordReset, user, token));
    }
    Ok(accepted(
        "if the address belongs to an account, a password reset message is on its way",
    ))
}

/// The route of [`reset_password`].
const RESET_PASSWORD: Doc = route(
    Post,
    "/auth/reset-password",
    "Set a new password with a reset token",
    Anyone,
    Some("PasswordReset"),
    (200, "the user, with the new password", Some("User")),
    &[
        (400, &[ErrorCode::InvalidToken]),
        (403, &[ErrorCode::InactiveUser]),
        (422, &[ErrorCode::InvalidPassword]),
        (429, &[ErrorCode::TooManyAttempts]),
        (503, &[ErrorCode::Overloaded]),
    ],
);

async fn reset_password<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    JsonBody(body): JsonBody<ResetBody>,
) -> Result<Json<Value>, ApiError> {
    let reset = users.pooled().reset_password(&body.token, &body.password);
    let user = users.guarded(Proof::Token, None, &parts, reset).await?;
    // The new hash outdated every token already; the rows go too, so no list shows them.
    if users.stored() {
        users.pooled().end_all_sessions(user.id()).await?;
    }
    answer_user(&users, &user).await
}
