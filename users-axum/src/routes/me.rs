//! The user's own account: reading, changing and deleting it.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{Map, Value};
use users_diesel::{normalize_email, EventKind, SessionOrigin, UsersError};
use utoipa::ToSchema;

use super::admin::keep_an_admin;
use crate::answer::{answer_user, answer_user_with, session_answer, with_cookie};
use crate::api::{endpoint, route, Delete, Doc, Endpoint, Get, Patch, Session};
use crate::mailer::{Mail, MailKind};
use crate::profile::{profile_edit, take_string, user_view};
use crate::schema::password;
use crate::session::set_cookie;
use crate::{ApiError, CurrentUser, ErrorCode, JsonBody, Profile, UsersState};

/// The typed bodies and answers of these routes, for the OpenAPI document.
pub(crate) fn schemas() -> Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::Schema>)> {
    vec![crate::schema::typed::<PasswordBody>()]
}

/// The routes of the user's own account, each with its handler and its description: the router and the
/// OpenAPI document are both made from this list.
pub(crate) fn endpoints<U: Profile>() -> Vec<Endpoint<U>> {
    vec![
        endpoint(me::<U>, ME),
        endpoint(update_me::<U>, UPDATE_ME),
        endpoint(delete_me::<U>, DELETE_ME),
    ]
}

/// The current password, confirming a change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PasswordConfirmation)]
pub(crate) struct PasswordBody {
    #[schema(schema_with = password)]
    password: String,
}

/// The route of [`me`].
const ME: Doc = route(
    Get,
    "/users/me",
    "The user of the session",
    Session,
    None,
    (200, "the user", Some("User")),
    &[],
);

/// The session's user, with their roles: the session, the user and the roles on one pooled
/// connection (where no guard layer extracted the user before).
async fn me<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
) -> Result<Json<Value>, ApiError> {
    if let Some(current) = parts.extensions.get::<CurrentUser<U>>() {
        return answer_user(&users, current).await;
    }
    let (current, roles, sign_ins) = users.authenticate_for_view(&parts).await?;
    answer_user_with(&users, &current, roles, sign_ins).await
}

/// The route of [`update_me`].
const UPDATE_ME: Doc = route(
    Patch,
    "/users/me",
    "Change the session user's profile or password, or ask to change the email (pending \
         until the new address is verified); both need `current_password`",
    Session,
    Some("UserUpdate"),
    (
        200,
        "the user (with the address it had: a new one is pending); with a new `session` \
             after a password change or an email change request",
        Some("User"),
    ),
    &[
        (401, &[ErrorCode::InvalidCredentials]),
        (403, &[ErrorCode::InactiveUser]),
        (409, &[ErrorCode::EmailTaken, ErrorCode::Conflict]),
        (422, &[ErrorCode::InvalidEmail, ErrorCode::InvalidPassword]),
        (429, &[ErrorCode::TooManyAttempts]),
        (503, &[ErrorCode::Overloaded]),
    ],
);

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
            event: None,
            org: None,
        });
        users.mail(Mail {
            kind: MailKind::EmailChangeNotice,
            to: about.email().to_owned(),
            user: about,
            token: String::new(),
            pending_email: Some(pending),
            event: None,
            org: None,
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

    if password_change.is_some() {
        let wanted = users.mailed_notices().password_changed;
        users.notice(wanted, &user, EventKind::PasswordChanged, None);
    }
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

/// The route of [`delete_me`].
const DELETE_ME: Doc = route(
    Delete,
    "/users/me",
    "Delete the session user's account, confirmed with the password",
    Session,
    Some("PasswordConfirmation"),
    (204, "the account is deleted", None),
    &[
        (401, &[ErrorCode::InvalidCredentials]),
        (409, &[ErrorCode::LastAdmin]),
        (429, &[ErrorCode::TooManyAttempts]),
        (503, &[ErrorCode::Overloaded]),
    ],
);

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
