//! The second-factor routes: completing a login with a TOTP code, a recovery code or a passkey,
//! and the user's own enrolment, confirmation, removal and recovery codes.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use users_diesel::{EventKind, Proof, UsersError};
use utoipa::ToSchema;

use utoipa::openapi::{RefOr, Schema};

use crate::answer::session_answer;
use crate::api::{endpoint, route, Anyone, Delete, Doc, Endpoint, Get, Post, Session};
use crate::presence::{prove_presence, FactorBody};
#[cfg(feature = "passkeys")]
use crate::schema::free_object;
use crate::schema::{methods, named, object, password, string, totp_code, typed};
use crate::{ApiError, CurrentUser, ErrorCode, JsonBody, Profile, UsersState};

/// The routes of the second factors, each with its handler and its description: the router and the
/// OpenAPI document are both made from this list.
pub(crate) fn endpoints<U: Profile>() -> Vec<Endpoint<U>> {
    vec![
        endpoint(complete::<U>, COMPLETE),
        endpoint(summary::<U>, SUMMARY),
        endpoint(enroll::<U>, ENROLL),
        endpoint(confirm::<U>, CONFIRM),
        endpoint(remove::<U>, REMOVE),
        endpoint(regenerate::<U>, REGENERATE),
    ]
}

/// The schemas of the second-factor routes, for the OpenAPI document.
pub(crate) fn schemas() -> Vec<(String, RefOr<Schema>)> {
    let typed = [
        typed::<CodeBody>(),
        typed::<SecondFactors>(),
        typed::<TotpEnrollment>(),
        typed::<RecoveryCodes>(),
    ];
    let schemas = vec![
        (
            "SecondFactorLogin",
            object(second_factor_members(), &["mfa_token"])
                .description(Some(
                    "`mfa_token` and one of `code`, `recovery_code` or (feature `passkeys`) \
                 `passkey` with its `state`",
                ))
                .into(),
        ),
        (
            "PresenceProof",
            object(
                vec![
                    ("password", password().into()),
                    ("code", totp_code().into()),
                    ("recovery_code", string().into()),
                ],
                &[],
            )
            .description(Some("one of `password`, `code` or `recovery_code`"))
            .into(),
        ),
    ];
    named(schemas).into_iter().chain(typed).collect()
}

/// The members of `POST /auth/mfa`.
fn second_factor_members() -> Vec<(&'static str, RefOr<Schema>)> {
    #[allow(unused_mut)] // Only the `passkeys` feature adds to them.
    let mut members = vec![
        ("mfa_token", string().into()),
        ("code", totp_code().into()),
        ("recovery_code", string().into()),
    ];
    #[cfg(feature = "passkeys")]
    members.extend([
        ("passkey", free_object().into()),
        ("state", string().into()),
    ]);
    members
}

/// The route of [`complete`].
const COMPLETE: Doc = route(
    Post,
    "/auth/mfa",
    "Complete a login with its `mfa_token` and a TOTP `code` or a `recovery_code`",
    Anyone,
    Some("SecondFactorLogin"),
    (200, "a new session", Some("Session")),
    &[
        (
            401,
            &[ErrorCode::InvalidToken, ErrorCode::InvalidCredentials],
        ),
        (403, &[ErrorCode::InactiveUser]),
        (429, &[ErrorCode::TooManyAttempts]),
    ],
);

/// `POST /auth/mfa`: completes a login with its `mfa_token` and a factor.
pub(crate) async fn complete<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    JsonBody(body): JsonBody<FactorBody>,
) -> Result<Response, ApiError> {
    let token = body
        .mfa_token
        .as_deref()
        .ok_or_else(|| ApiError::invalid_field("mfa_token", "missing field `mfa_token`"))?;
    #[cfg(feature = "passkeys")]
    if let Some(passkey) = &body.passkey {
        let state = body
            .state
            .as_deref()
            .ok_or_else(|| ApiError::invalid_field("state", "a `passkey` goes with its `state`"))?;
        if body.code.is_some() || body.recovery_code.is_some() || body.password.is_some() {
            return Err(ApiError::invalid_field("passkey", "send one factor"));
        }
        let user =
            crate::passkeys::second_factor_finish(&users, &parts, token, state, passkey).await?;
        let session = users.start_session(&user, users.origin(&parts)).await?;
        return Ok(session_answer(&users, &session, Json(session.answer())));
    }
    let proof = body.proof()?;
    let client = users.client(&parts);
    // The pending token is a proof of its own kind; the code inside, a second factor.
    let completed = async {
        users
            .pooled()
            .complete_second_factor(client.as_deref(), token, proof)
            .await
            .map_err(ApiError::ends_login)
    };
    let user = users.guarded(Proof::Token, None, &parts, completed).await?;
    let session = users.start_session(&user, users.origin(&parts)).await?;
    Ok(session_answer(&users, &session, Json(session.answer())))
}

/// The answer of `GET /users/me/mfa`: the user's second factors.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecondFactors {
    totp: bool,
    totp_pending: bool,
    recovery_codes_left: usize,
    #[schema(schema_with = methods)]
    methods: Vec<&'static str>,
}

/// A new TOTP, shown once.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TotpEnrollment {
    /// base32
    secret: String,
    otpauth_uri: String,
    /// the URI as an SVG QR code (feature `qr`)
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    qr_svg: Option<String>,
}

/// Recovery codes, shown once.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

/// The route of [`summary`].
const SUMMARY: Doc = route(
    Get,
    "/users/me/mfa",
    "The session user's second factors",
    Session,
    None,
    (200, "the second factors", Some("SecondFactors")),
    &[],
);

/// `GET /users/me/mfa`: the user's second factors.
pub(crate) async fn summary<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
) -> Result<Json<SecondFactors>, ApiError> {
    let record = users.pooled().second_factors(&current.user).await?;
    Ok(Json(SecondFactors {
        totp: record.has_totp(),
        totp_pending: record.totp_secret.is_some() && !record.totp_confirmed,
        recovery_codes_left: record.recovery_codes_left(),
        methods: record.methods().iter().map(|m| m.as_str()).collect(),
    }))
}

/// The route of [`enroll`].
const ENROLL: Doc = route(
    Post,
    "/users/me/mfa/totp",
    "Start a TOTP enrolment, given the password (or a factor): the secret and its otpauth \
         URI, shown once; enforced once confirmed",
    Session,
    Some("PresenceProof"),
    (200, "the enrolment", Some("TotpEnrollment")),
    &[
        (401, &[ErrorCode::InvalidCredentials]),
        (403, &[ErrorCode::UnverifiedUser]),
        (409, &[ErrorCode::Conflict]),
        (429, &[ErrorCode::TooManyAttempts]),
        (503, &[ErrorCode::Overloaded]),
    ],
);

/// `POST /users/me/mfa/totp`: a new, unconfirmed TOTP, shown once, given the password (or a
/// factor the user has).
pub(crate) async fn enroll<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    current: CurrentUser<U>,
    JsonBody(body): JsonBody<FactorBody>,
) -> Result<Json<TotpEnrollment>, ApiError> {
    // Only on a proved address (see `enroll_totp`), and a factor is a way into the account:
    // a stolen session alone must not add one.
    if !current.is_verified() {
        return Err(UsersError::UnverifiedUser.into());
    }
    prove_presence(&users, &parts, &current, &body).await?;
    let enrollment = users
        .pooled()
        .enroll_totp(&current.user, users.issuer())
        .await?;
    #[cfg(feature = "qr")]
    let qr_svg = Some(enrollment.qr_svg()?);
    #[cfg(not(feature = "qr"))]
    let qr_svg = None;
    Ok(Json(TotpEnrollment {
        secret: enrollment.secret,
        otpauth_uri: enrollment.otpauth_uri,
        qr_svg,
    }))
}

/// A TOTP code.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CodeRequest)]
pub(crate) struct CodeBody {
    #[schema(schema_with = totp_code)]
    code: String,
}

/// The route of [`confirm`].
const CONFIRM: Doc = route(
    Post,
    "/users/me/mfa/totp/confirm",
    "Confirm the TOTP enrolment with a first code: the recovery codes, shown once",
    Session,
    Some("CodeRequest"),
    (200, "the recovery codes", Some("RecoveryCodes")),
    &[
        (401, &[ErrorCode::InvalidCredentials]),
        (409, &[ErrorCode::Conflict]),
        (429, &[ErrorCode::TooManyAttempts]),
    ],
);

/// `POST /users/me/mfa/totp/confirm`: the first code; the recovery codes, shown once.
pub(crate) async fn confirm<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    current: CurrentUser<U>,
    JsonBody(body): JsonBody<CodeBody>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let client = users.client(&parts);
    let codes = users
        .pooled()
        .confirm_totp(client.as_deref(), &current.user, &body.code)
        .await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// The route of [`remove`].
const REMOVE: Doc = route(
    Delete,
    "/users/me/mfa/totp",
    "Remove the TOTP and the recovery codes, given the password, a code or a recovery code",
    Session,
    Some("PresenceProof"),
    (204, "the TOTP is removed", None),
    &[
        (401, &[ErrorCode::InvalidCredentials]),
        (409, &[ErrorCode::Conflict]),
        (429, &[ErrorCode::TooManyAttempts]),
        (503, &[ErrorCode::Overloaded]),
    ],
);

/// `DELETE /users/me/mfa/totp`: removes the TOTP and the recovery codes, given the password
/// or a factor.
pub(crate) async fn remove<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    current: CurrentUser<U>,
    JsonBody(body): JsonBody<FactorBody>,
) -> Result<StatusCode, ApiError> {
    prove_presence(&users, &parts, &current, &body).await?;
    if users.pooled().remove_totp(&current.user).await? {
        let wanted = users.mailed_notices().factor_removed;
        users.notice(wanted, &current.user, EventKind::TotpRemoved, None);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(UsersError::Conflict { column: "totp" }.into())
    }
}

/// The route of [`regenerate`].
const REGENERATE: Doc = route(
    Post,
    "/users/me/mfa/recovery-codes",
    "Replace the recovery codes, given the password, a code or a recovery code",
    Session,
    Some("PresenceProof"),
    (200, "the new recovery codes", Some("RecoveryCodes")),
    &[
        (401, &[ErrorCode::InvalidCredentials]),
        (409, &[ErrorCode::Conflict]),
        (429, &[ErrorCode::TooManyAttempts]),
        (503, &[ErrorCode::Overloaded]),
    ],
);

/// `POST /users/me/mfa/recovery-codes`: ten new recovery codes, given the password or a
/// factor; the old ones stop working.
pub(crate) async fn regenerate<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    current: CurrentUser<U>,
    JsonBody(body): JsonBody<FactorBody>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    prove_presence(&users, &parts, &current, &body).await?;
    let codes = users
        .pooled()
        .regenerate_recovery_codes(&current.user)
        .await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}
