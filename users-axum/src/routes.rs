//! The router and its handlers.

use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use users_diesel::{
    normalize_email, Proof, SessionOrigin, StoredSession, UserModel, UserQuery, UsersError, Uuid,
    MAX_PAGE_SIZE,
};

use crate::error::{method_not_allowed, not_found, PathParams};
use crate::mailer::{Mail, MailKind};
use crate::pooled::{Edit, RoleView};
use crate::profile::{merged_profile, require_string, take_bool, take_string, user_view};
use crate::session::set_cookie;
use crate::{ApiError, CurrentUser, ErrorCode, JsonBody, NewSession, Profile, UsersState};

/// The routes of registration, sessions, verification, password reset, the user's own profile
/// and role administration, over `state`:
///
/// | route | body | answer |
/// |---|---|---|
/// | `POST /auth/register` | `email`, `password`, profile fields | 201, the user |
/// | `POST /auth/login` | `email`, `password` | 200, `access_token`, `token_type`, `expires_in`, `refresh_token`; or, for a user with a second factor, `mfa_required`, `mfa_token`, `methods` |
/// | `POST /auth/refresh` | `refresh_token` | 200, new tokens of the session (the refresh token is retired) |
/// | `POST /auth/mfa` | `mfa_token` and `code` or `recovery_code` | 200, the session, as login's |
/// | `POST /auth/logout` | (session) | 204 |
/// | `POST /auth/request-verify` | `email` | 202, whether or not the address has an account |
/// | `POST /auth/verify` | `token` (of a verification or an email change) | 200, the user |
/// | `POST /auth/forgot-password` | `email` | 202, whether or not the address has an account |
/// | `POST /auth/reset-password` | `token`, `password` | 200, the user |
/// | `GET /users/me` | (session) | 200, the user |
/// | `PATCH /users/me` | (session) profile fields; `password` or `email` with `current_password` | 200, the user (a new email pending until verified) |
/// | `DELETE /users/me` | (session) `password` | 204 |
/// | `GET /users/me/sessions` | (session) | 200, `sessions`: the user's live sessions, newest first |
/// | `DELETE /users/me/sessions` | (session) | 200, `ended`: every other session ended |
/// | `DELETE /users/me/sessions/{session_id}` | (session) | 204 |
/// | `GET /users/me/mfa` | (session) | 200, `totp`, `totp_pending`, `recovery_codes_left`, `methods` |
/// | `POST /users/me/mfa/totp` | (session) | 200, `secret`, `otpauth_uri`: the enrolment, shown once |
/// | `POST /users/me/mfa/totp/confirm` | (session) `code` | 200, `recovery_codes`, shown once |
/// | `DELETE /users/me/mfa/totp` | (session) `password`, `code` or `recovery_code` | 204 |
/// | `POST /users/me/mfa/recovery-codes` | (session) `password`, `code` or `recovery_code` | 200, `recovery_codes`, shown once |
/// | `GET /users` | (admin) query `limit`, `after`, `email`, `is_active`, `is_verified`, `role` | 200, `users`, `next` |
/// | `GET /users/{user_id}` | (admin) | 200, the user |
/// | `PATCH /users/{user_id}` | (admin) `email`, `is_active`, `is_verified`, profile fields | 200, the user |
/// | `DELETE /users/{user_id}` | (admin) | 204 |
/// | `DELETE /users/{user_id}/sessions` | (admin) | 200, `ended`: every session of the user ended |
/// | `GET /roles` | (admin) | 200, every role |
/// | `POST /roles` | (admin) `name`, `description` | 201, the role |
/// | `DELETE /roles/{name}` | (admin) | 204 |
/// | `POST /roles/{name}/users/{user_id}` | (admin) | 204 |
/// | `DELETE /roles/{name}/users/{user_id}` | (admin) | 204 |
/// | `GET /auth/{provider}/authorize` | (feature `oidc`) | 303 to the provider, with the flow's cookie |
/// | `GET /auth/{provider}/callback` | (feature `oidc`) query `code`, `state` | 200, the session, as a login's; with `after_sign_in`, a page that sends the browser there |
/// | `POST /auth/{provider}/associate` | (feature `oidc`, session) | 200, `authorization_url`, with the flow's cookie |
/// | `GET /users/me/oauth` | (feature `oidc`, session) | 200, `accounts`, `has_password` |
/// | `DELETE /users/me/oauth/{provider}` | (feature `oidc`, session) | 204 |
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
    let admin = Router::new()
        .route("/roles", get(all_roles::<U>).post(create_role::<U>))
        .route("/users", get(list_users::<U>))
        .route("/roles/{name}", delete(delete_role::<U>))
        .route(
            "/roles/{name}/users/{user_id}",
            post(assign_role::<U>).delete(revoke_role::<U>),
        )
        .route(
            "/users/{user_id}",
            get(user_by_id::<U>)
                .patch(update_user::<U>)
                .delete(delete_user::<U>),
        )
        .route("/users/{user_id}/sessions", delete(end_user_sessions::<U>))
        .route_layer(state.require_role(state.admin()));
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
        .route("/auth/register", post(register::<U>))
        .route("/auth/login", post(login::<U>))
        .route("/auth/refresh", post(refresh::<U>))
        .route("/auth/mfa", post(crate::factors::complete::<U>))
        .route("/users/me/mfa", get(crate::factors::summary::<U>))
        .route(
            "/users/me/mfa/totp",
            post(crate::factors::enroll::<U>).delete(crate::factors::remove::<U>),
        )
        .route(
            "/users/me/mfa/totp/confirm",
            post(crate::factors::confirm::<U>),
        )
        .route(
            "/users/me/mfa/recovery-codes",
            post(crate::factors::regenerate::<U>),
        )
        .route("/auth/logout", post(logout::<U>))
        .route("/auth/request-verify", post(request_verify::<U>))
        .route("/auth/verify", post(verify::<U>))
        .route("/auth/forgot-password", post(forgot_password::<U>))
        .route("/auth/reset-password", post(reset_password::<U>))
        .route(
            "/users/me",
            get(me::<U>).patch(update_me::<U>).delete(delete_me::<U>),
        )
        .route(
            "/users/me/sessions",
            get(my_sessions::<U>).delete(end_other_sessions::<U>),
        )
        .route(
            "/users/me/sessions/{session_id}",
            delete(end_my_session::<U>),
        )
        .merge(admin)
        .merge(passkey_routes::<U>())
        .merge(oauth_routes::<U>())
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.limit()))
        .layer(axum::middleware::map_response(no_store))
        .with_state(state)
}

/// The passkey routes (feature `passkeys`), over the state applied later.
#[cfg(feature = "passkeys")]
fn passkey_routes<U: Profile>() -> Router<UsersState<U>> {
    use crate::passkeys as p;
    Router::new()
        .route("/users/me/passkeys", get(p::list::<U>))
        .route(
            "/users/me/passkeys/register/start",
            post(p::register_start::<U>),
        )
        .route(
            "/users/me/passkeys/register/finish",
            post(p::register_finish::<U>),
        )
        .route("/users/me/passkeys/{passkey_id}", delete(p::remove::<U>))
        .route("/auth/passkey/start", post(p::sign_in_start::<U>))
        .route("/auth/passkey/finish", post(p::sign_in_finish::<U>))
        .route("/auth/mfa/passkey", post(p::second_factor_start::<U>))
}

/// The provider sign-in routes (feature `oidc`), over the state applied later.
#[cfg(feature = "oidc")]
fn oauth_routes<U: Profile>() -> Router<UsersState<U>> {
    use crate::oauth as o;
    Router::new()
        .route("/auth/{provider}/authorize", get(o::authorize::<U>))
        .route("/auth/{provider}/callback", get(o::callback::<U>))
        .route("/auth/{provider}/associate", post(o::associate::<U>))
        .route("/users/me/oauth", get(o::accounts::<U>))
        .route("/users/me/oauth/{provider}", delete(o::unlink::<U>))
}

/// No provider sign-in routes without the `oidc` feature.
#[cfg(not(feature = "oidc"))]
fn oauth_routes<U: Profile>() -> Router<UsersState<U>> {
    Router::new()
}

/// No passkey routes without the `passkeys` feature.
#[cfg(not(feature = "passkeys"))]
fn passkey_routes<U: Profile>() -> Router<UsersState<U>> {
    Router::new()
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    email: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailBody {
    email: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    token: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    name: String,
    #[serde(default)]
    description: Option<String>,
}

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

async fn login<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Response, ApiError> {
    let client = users.client(&parts);
    let user = users
        .pooled()
        .authenticate(client.as_deref(), &body.email, &body.password)
        .await?;
    if let Some(challenge) = users.pooled().second_factor_challenge(&user).await? {
        return Ok(crate::factors::challenge_answer(&challenge));
    }
    let session = users.start_session(&user, users.origin(&parts)).await?;
    Ok(session_answer(&users, &session, Json(session.to_json())))
}

/// `answer` with the `Set-Cookie` that stores `session`, if cookies are on.
pub(crate) fn session_answer<U: Profile>(
    users: &UsersState<U>,
    session: &NewSession,
    answer: impl IntoResponse,
) -> Response {
    let cookie = users.cookie().map(|name| session.cookie(name));
    with_cookie(answer.into_response(), cookie)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
}

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
    Ok(Json(session.to_json()).into_response())
}

/// The refusal of the session routes when sessions are stateless.
fn stateless() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "sessions are stateless here: there are no stored sessions or refresh tokens",
    )
}

fn with_cookie(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(cookie) = cookie {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

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

/// The answer of the routes that must not tell whether an address has an account.
fn accepted(message: &'static str) -> Response {
    (StatusCode::ACCEPTED, Json(json!({ "message": message }))).into_response()
}

async fn request_verify<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    JsonBody(body): JsonBody<EmailBody>,
) -> Result<Response, ApiError> {
    let client = users.client(&parts);
    users
        .pooled()
        .count_mail(client.as_deref(), &body.email)
        .await?;
    let user = users.pooled().find_by_email(&body.email).await?;
    if let Some(user) = user.filter(|user| user.is_active()) {
        // An AlreadyVerified user gets nothing, and the answer does not say so.
        if let Ok(token) = users.pooled().verification_token(&user) {
            users.mail(Mail::to_user(MailKind::Verification, user, token));
        }
    }
    Ok(accepted(
        "if the address belongs to an unverified account, a verification message is on its way",
    ))
}

async fn verify<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    JsonBody(body): JsonBody<TokenBody>,
) -> Result<Json<Value>, ApiError> {
    let verified = users.pooled().verify(&body.token);
    let user = users.guarded(Proof::Token, None, &parts, verified).await?;
    answer_user(&users, &user).await
}

async fn forgot_password<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    JsonBody(body): JsonBody<EmailBody>,
) -> Result<Response, ApiError> {
    let client = users.client(&parts);
    users
        .pooled()
        .count_mail(client.as_deref(), &body.email)
        .await?;
    let user = users.pooled().find_by_email(&body.email).await?;
    if let Some(user) = user.filter(|user| user.is_active()) {
        let token = users.pooled().reset_token(&user);
        users.mail(Mail::to_user(MailKind::PasswordReset, user, token));
    }
    Ok(accepted(
        "if the address belongs to an account, a password reset message is on its way",
    ))
}

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

async fn me<U: Profile>(
    State(users): State<UsersState<U>>,
    user: CurrentUser<U>,
) -> Result<Json<Value>, ApiError> {
    answer_user(&users, &user).await
}

/// The user's JSON view, with their roles.
async fn answer_user<U: Profile>(users: &UsersState<U>, user: &U) -> Result<Json<Value>, ApiError> {
    let roles = users.pooled().role_names(user).await?;
    Ok(Json(user_view(user, roles)?))
}

async fn update_me<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
    JsonBody(mut body): JsonBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let email = take_string(&mut body, "email")?;
    let new_password = take_string(&mut body, "password")?;
    let current_password = take_string(&mut body, "current_password")?;
    // An address that normalises to the current one is no change.
    let new_email =
        email.filter(|email| normalize_email(email).map_or(true, |email| email != current.email()));
    let current_password = checked_current_password(
        current_password.as_deref(),
        new_password.is_some(),
        new_email.is_some(),
    )?;
    let edit = profile_edit(&current.user, body)?;

    // The email change first: it is the step most likely to be refused (a malformed or taken
    // address, a wrong password), and the only one that sends mail.
    if let (Some(email), Some(password)) = (new_email.as_deref(), current_password) {
        users.pooled().count_mail(None, email).await?;
        let token = users
            .pooled()
            .request_email_change(&current.user, password, email)
            .await?;
        let pending = normalize_email(email)?;
        let about = current.user.clone();
        users.mail(Mail {
            kind: MailKind::Verification,
            to: pending.clone(),
            user: about.clone(),
            token,
            pending_email: Some(pending.clone()),
        });
        users.mail(Mail {
            kind: MailKind::EmailChangeNotice,
            to: about.email().to_owned(),
            user: about,
            token: String::new(),
            pending_email: Some(pending),
        });
    }
    let password_change = current_password.zip(new_password.as_deref());
    let user = if edit.is_some() || password_change.is_some() {
        users
            .pooled()
            .edit(&current.user, edit, password_change, None)
            .await?
    } else {
        users
            .pooled()
            .get(current.id())
            .await?
            .ok_or(UsersError::UserNotFound)?
    };

    let roles = users.pooled().role_names(&user).await?;
    let mut view = user_view(&user, roles)?;
    if password_change.is_none() && new_email.is_none() {
        return Ok(Json(view).into_response());
    }
    // The new password hash (an email change request salts the hash again) outdated every
    // session's tokens, this one's included: the others end, this one gets new tokens.
    let session = if users.stored() {
        let tokens = users
            .pooled()
            .renew_session(&user, current.session.id(), users.policy())
            .await?;
        users.new_session(&user, tokens)
    } else {
        users.start_session(&user, SessionOrigin::default()).await?
    };
    view["session"] = session.to_json();
    Ok(session_answer(&users, &session, Json(view)))
}

async fn delete_me<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    current: CurrentUser<U>,
    JsonBody(body): JsonBody<PasswordBody>,
) -> Result<Response, ApiError> {
    // The password proves that the caller is the user, not someone with their open session.
    let client = users.client(&parts);
    users
        .pooled()
        .authenticate(client.as_deref(), current.email(), &body.password)
        .await?;
    keep_an_admin(&users, current.id()).await?;
    users.pooled().delete(current.id()).await?;
    let cleared = users.cookie().map(|name| set_cookie(name, "", 0));
    Ok(with_cookie(StatusCode::NO_CONTENT.into_response(), cleared))
}

/// The current password of a `PATCH /users/me` that changes the password or the email (which
/// need it), or `None` for one that changes neither.
fn checked_current_password(
    current: Option<&str>,
    new_password: bool,
    new_email: bool,
) -> Result<Option<&str>, ApiError> {
    match (current, new_password, new_email) {
        (Some(current), true, _) | (Some(current), _, true) => Ok(Some(current)),
        (None, false, false) => Ok(None),
        (None, true, _) => Err(ApiError::invalid_field(
            "current_password",
            "changing the password needs `current_password`",
        )),
        (None, false, true) => Err(ApiError::invalid_field(
            "current_password",
            "changing the email needs `current_password`",
        )),
        (Some(_), false, false) => Err(ApiError::invalid_field(
            "password",
            "`current_password` goes with a new `password` or `email`",
        )),
    }
}

/// The change to the user's row that the profile fields of `changes` ask for, if any. The
/// fields are checked here against the loaded user, so that a bad one is a 400, and merged
/// again over the row as it is inside the transaction.
fn profile_edit<U: Profile>(
    loaded: &U,
    changes: Map<String, Value>,
) -> Result<Option<Edit<'static, U>>, ApiError> {
    if changes.is_empty() {
        return Ok(None);
    }
    merged_profile(loaded, changes.clone())?;
    Ok(Some(Box::new(move |user: &mut U| {
        // Checked above: only a field that no longer deserializes could fail here.
        let fields = merged_profile(user, changes).map_err(UsersError::database)?;
        user.set_profile(fields);
        Ok(())
    })))
}

async fn create_role<U: Profile>(
    State(users): State<UsersState<U>>,
    JsonBody(body): JsonBody<RoleBody>,
) -> Result<Response, ApiError> {
    if body.name.trim().is_empty() {
        return Err(ApiError::invalid_field(
            "name",
            "the role name must not be empty",
        ));
    }
    let role = users
        .pooled()
        .create_role(&body.name, body.description.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(role)).into_response())
}

async fn assign_role<U: Profile>(
    State(users): State<UsersState<U>>,
    PathParams((name, user_id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    set_role(&users, &name, &user_id, true).await
}

async fn revoke_role<U: Profile>(
    State(users): State<UsersState<U>>,
    PathParams((name, user_id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    set_role(&users, &name, &user_id, false).await
}

async fn set_role<U: UserModel>(
    users: &UsersState<U>,
    name: &str,
    user_id: &str,
    assign: bool,
) -> Result<StatusCode, ApiError> {
    let id = parse_user_id::<U>(user_id)?;
    if !assign && is_admin_role(users, name) {
        keep_an_admin(users, id).await?;
    }
    users.pooled().set_role(name, id, assign).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_role<U: Profile>(
    State(users): State<UsersState<U>>,
    PathParams(name): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    if is_admin_role(&users, &name) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::LastAdmin,
            "the administrators' role cannot be deleted",
        ));
    }
    users.pooled().delete_role(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether `name` names the role that administers ([`UsersState::admin_role`]).
fn is_admin_role<U: UserModel>(users: &UsersState<U>, name: &str) -> bool {
    users_diesel::normalize_role_name(name).is_ok_and(|name| name == users.admin())
}

/// Refuses (409 `last_admin`) a change that would leave no active administrator: user `id`
/// losing the administrators' role, being deactivated or deleted while the only one.
pub(crate) async fn keep_an_admin<U: UserModel>(
    users: &UsersState<U>,
    id: U::Id,
) -> Result<(), ApiError> {
    if users.pooled().sole_holder(users.admin(), id).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::LastAdmin,
            "this is the last active administrator: make another one first",
        ));
    }
    Ok(())
}

/// The user id of an admin route's path.
fn parse_user_id<U: UserModel>(text: &str) -> Result<U::Id, ApiError> {
    let id = parse_uuid(text).ok_or_else(|| ApiError::bad_request("`user_id` must be a UUID"))?;
    Ok(id.into())
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

async fn user_by_id<U: Profile>(
    State(users): State<UsersState<U>>,
    PathParams(id): PathParams<String>,
) -> Result<Json<Value>, ApiError> {
    let user = users
        .pooled()
        .get(parse_user_id::<U>(&id)?)
        .await?
        .ok_or(UsersError::UserNotFound)?;
    answer_user(&users, &user).await
}

/// An administrator's change to a user: the profile fields, `email`, `is_active` and
/// `is_verified`. A deactivated user's sessions are refused from the next request on, since
/// every request loads the user.
async fn update_user<U: Profile>(
    State(users): State<UsersState<U>>,
    PathParams(id): PathParams<String>,
    JsonBody(mut body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_user_id::<U>(&id)?;
    let loaded = users
        .pooled()
        .get(id)
        .await?
        .ok_or(UsersError::UserNotFound)?;
    let email = take_string(&mut body, "email")?;
    let active = take_bool(&mut body, "is_active")?;
    let verified = take_bool(&mut body, "is_verified")?;
    if active == Some(false) {
        keep_an_admin(&users, id).await?;
    }
    let profile = profile_edit(&loaded, body)?;
    let edit: Edit<'static, U> = Box::new(move |user: &mut U| {
        if let Some(profile) = profile {
            profile(user)?;
        }
        if let Some(active) = active {
            user.set_active(active);
        }
        if let Some(verified) = verified {
            user.set_verified(verified);
        }
        Ok(())
    });
    let user = users
        .pooled()
        .edit(&loaded, Some(edit), None, email.as_deref())
        .await?;
    answer_user(&users, &user).await
}

async fn delete_user<U: Profile>(
    State(users): State<UsersState<U>>,
    PathParams(id): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_user_id::<U>(&id)?;
    keep_an_admin(&users, id).await?;
    users.pooled().delete(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn all_roles<U: Profile>(
    State(users): State<UsersState<U>>,
) -> Result<Json<Vec<RoleView>>, ApiError> {
    Ok(Json(users.pooled().all_roles().await?))
}

/// The query of `GET /users`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    after: Option<String>,
    limit: Option<usize>,
    email: Option<String>,
    is_active: Option<bool>,
    is_verified: Option<bool>,
    role: Option<String>,
}

async fn list_users<U: Profile>(
    State(users): State<UsersState<U>>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = parse_query(query.as_deref().unwrap_or(""))?;
    let (page, next) = users.pooled().list_users(&query).await?;
    let views = page
        .into_iter()
        .map(|(user, roles)| user_view(&user, roles))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(
        json!({ "users": views, "next": next.map(|id| id.to_string()) }),
    ))
}

/// The [`UserQuery`] of a `GET /users` query string; a bad parameter is 422 `invalid_field`.
fn parse_query(text: &str) -> Result<UserQuery, ApiError> {
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(text.as_bytes()));
    let query: ListQuery = serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let field = error.path().to_string();
        let message = error.into_inner().to_string();
        let field = crate::error::quoted_member(&message).map_or(field, str::to_owned);
        ApiError::invalid_field(field, format!("invalid query parameter: {message}"))
    })?;
    let after = match query.after {
        Some(cursor) => Some(parse_uuid(&cursor).ok_or_else(|| {
            ApiError::invalid_field("after", "invalid query parameter: `after` must be a UUID")
        })?),
        None => None,
    };
    let limit = query.limit.unwrap_or(UserQuery::default().limit);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("invalid query parameter: `limit` must be 1 to {MAX_PAGE_SIZE}"),
        ));
    }
    Ok(UserQuery {
        after,
        limit,
        email_prefix: query.email,
        is_active: query.is_active,
        is_verified: query.is_verified,
        role: query.role,
    })
}

/// A stored session as `GET /users/me/sessions` lists it; `current` marks the request's own.
fn session_view(session: &StoredSession, current: Uuid) -> Value {
    json!({
        "id": session.id.to_string(),
        "created_at": rfc3339(session.created_at),
        "last_seen_at": rfc3339(session.last_seen_at),
        "expires_at": rfc3339(session.expires_at),
        "idle_expires_at": rfc3339(session.idle_expires_at),
        "user_agent": session.user_agent,
        "client": session.client,
        "current": session.id == current,
    })
}

/// A time as RFC 3339, in UTC, to the second.
pub(crate) fn rfc3339(time: std::time::SystemTime) -> String {
    let time: chrono::DateTime<chrono::Utc> = time.into();
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn my_sessions<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
) -> Result<Json<Value>, ApiError> {
    if !users.stored() {
        return Err(stateless());
    }
    let sessions = users.pooled().sessions(&current.user).await?;
    let views: Vec<Value> = sessions
        .iter()
        .map(|session| session_view(session, current.session.id()))
        .collect();
    Ok(Json(json!({ "sessions": views })))
}

/// Ends every session of the caller but the request's own.
async fn end_other_sessions<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
) -> Result<Json<Value>, ApiError> {
    if !users.stored() {
        return Err(stateless());
    }
    let ended = users
        .pooled()
        .end_other_sessions(&current.user, current.session.id())
        .await?;
    Ok(Json(json!({ "ended": ended })))
}

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

/// An administrator's "log out everywhere" for a user.
async fn end_user_sessions<U: Profile>(
    State(users): State<UsersState<U>>,
    PathParams(id): PathParams<String>,
) -> Result<Json<Value>, ApiError> {
    if !users.stored() {
        return Err(stateless());
    }
    let id = parse_user_id::<U>(&id)?;
    users
        .pooled()
        .get(id)
        .await?
        .ok_or(UsersError::UserNotFound)?;
    let ended = users.pooled().end_all_sessions(id).await?;
    Ok(Json(json!({ "ended": ended })))
}
