//! The second-factor routes: completing a login with a TOTP code or a recovery code, and the
//! user's own enrolment, confirmation, removal and recovery codes.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use users_diesel::{Proof, SecondFactorChallenge, SecondFactorProof, UsersError};

use crate::routes::session_answer;
use crate::{ApiError, CurrentUser, JsonBody, Profile, UsersState};

/// What `POST /auth/login` answers for a user with a second factor: no session yet.
pub(crate) fn challenge_answer(challenge: &SecondFactorChallenge) -> Response {
    let methods: Vec<&str> = challenge.methods.iter().map(|m| m.as_str()).collect();
    Json(json!({
        "mfa_required": true,
        "mfa_token": challenge.token,
        "methods": methods,
    }))
    .into_response()
}

/// A factor in a body: a TOTP `code` or a `recovery_code` (and, where a route takes it, the
/// `password` instead); exactly one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FactorBody {
    #[serde(default)]
    mfa_token: Option<String>,
    /// A passkey's answer (`navigator.credentials.get`), with the ceremony's `state`.
    #[cfg(feature = "passkeys")]
    #[serde(default)]
    passkey: Option<webauthn_rs::prelude::PublicKeyCredential>,
    #[cfg(feature = "passkeys")]
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    recovery_code: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// What a body proves: a factor, or the password.
enum Presence<'a> {
    Factor(SecondFactorProof<'a>),
    Password(&'a str),
}

impl FactorBody {
    /// The one factor the body carries (no password).
    fn proof(&self) -> Result<SecondFactorProof<'_>, ApiError> {
        match self.presence(false)? {
            Presence::Factor(proof) => Ok(proof),
            Presence::Password(_) => Err(ApiError::invalid_field("password", "send a factor")),
        }
    }

    /// The one proof the body carries; `password` only where `password_allowed`.
    fn presence(&self, password_allowed: bool) -> Result<Presence<'_>, ApiError> {
        match (&self.code, &self.recovery_code, &self.password) {
            (Some(code), None, None) => Ok(Presence::Factor(SecondFactorProof::Totp(code))),
            (None, Some(code), None) => Ok(Presence::Factor(SecondFactorProof::RecoveryCode(code))),
            (None, None, Some(password)) if password_allowed => Ok(Presence::Password(password)),
            _ => {
                let members = if password_allowed {
                    "one of `code`, `recovery_code` or `password`"
                } else {
                    "one of `code` or `recovery_code`"
                };
                Err(ApiError::invalid_field("code", format!("send {members}")))
            }
        }
    }
}

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
        return Ok(session_answer(&users, &session, Json(session.to_json())));
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
    Ok(session_answer(&users, &session, Json(session.to_json())))
}

/// Refuses a body that carries an `mfa_token` where none belongs.
fn no_token(body: &FactorBody) -> Result<(), ApiError> {
    match body.mfa_token {
        Some(_) => Err(ApiError::invalid_field(
            "mfa_token",
            "unknown field `mfa_token`",
        )),
        None => Ok(()),
    }
}

/// Checks that the caller is the user, not someone with their open session: the password, a
/// TOTP code or a recovery code (each code used up).
pub(crate) async fn prove_presence<U: Profile>(
    users: &UsersState<U>,
    parts: &Parts,
    current: &CurrentUser<U>,
    body: &FactorBody,
) -> Result<(), ApiError> {
    no_token(body)?;
    let client = users.client(parts);
    match body.presence(true)? {
        Presence::Factor(proof) => {
            users
                .pooled()
                .check_second_factor(client.as_deref(), &current.user, proof)
                .await
        }
        Presence::Password(password) => users
            .pooled()
            .authenticate(client.as_deref(), current.email(), password)
            .await
            .map(drop),
    }
}

/// `GET /users/me/mfa`: the user's second factors.
pub(crate) async fn summary<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
) -> Result<Json<Value>, ApiError> {
    let record = users.pooled().second_factors(&current.user).await?;
    let methods: Vec<&str> = record.methods().iter().map(|m| m.as_str()).collect();
    Ok(Json(json!({
        "totp": record.has_totp(),
        "totp_pending": record.totp_secret.is_some() && !record.totp_confirmed,
        "recovery_codes_left": record.recovery_codes_left(),
        "methods": methods,
    })))
}

/// `POST /users/me/mfa/totp`: a new, unconfirmed TOTP, shown once, given the password (or a
/// factor the user has).
pub(crate) async fn enroll<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    current: CurrentUser<U>,
    JsonBody(body): JsonBody<FactorBody>,
) -> Result<Json<Value>, ApiError> {
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
    #[allow(unused_mut)] // Only the `qr` feature adds to it.
    let mut answer = json!({
        "secret": enrollment.secret,
        "otpauth_uri": enrollment.otpauth_uri,
    });
    #[cfg(feature = "qr")]
    {
        answer["qr_svg"] = enrollment.qr_svg()?.into();
    }
    Ok(Json(answer))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CodeBody {
    code: String,
}

/// `POST /users/me/mfa/totp/confirm`: the first code; the recovery codes, shown once.
pub(crate) async fn confirm<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    current: CurrentUser<U>,
    JsonBody(body): JsonBody<CodeBody>,
) -> Result<Json<Value>, ApiError> {
    let client = users.client(&parts);
    let codes = users
        .pooled()
        .confirm_totp(client.as_deref(), &current.user, &body.code)
        .await?;
    Ok(Json(json!({ "recovery_codes": codes })))
}

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
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(UsersError::Conflict { column: "totp" }.into())
    }
}

/// `POST /users/me/mfa/recovery-codes`: ten new recovery codes, given the password or a
/// factor; the old ones stop working.
pub(crate) async fn regenerate<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    current: CurrentUser<U>,
    JsonBody(body): JsonBody<FactorBody>,
) -> Result<Json<Value>, ApiError> {
    prove_presence(&users, &parts, &current, &body).await?;
    let codes = users
        .pooled()
        .regenerate_recovery_codes(&current.user)
        .await?;
    Ok(Json(json!({ "recovery_codes": codes })))
}
