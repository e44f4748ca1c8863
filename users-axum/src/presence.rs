//! A proof that the caller is the user, not someone with their open session: the password, a
//! TOTP code, a recovery code or a passkey, as the routes that change factors, passkeys and
//! provider links take it.

use axum::http::request::Parts;
use serde::Deserialize;
use users_diesel::SecondFactorProof;

use crate::{ApiError, CurrentUser, Profile, UsersState};

/// A factor in a body: a TOTP `code` or a `recovery_code` (and, where a route takes it, the
/// `password` instead); exactly one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FactorBody {
    #[serde(default)]
    pub(crate) mfa_token: Option<String>,
    /// A passkey's answer (`navigator.credentials.get`), with the ceremony's `state`.
    #[cfg(feature = "passkeys")]
    #[serde(default)]
    pub(crate) passkey: Option<webauthn_rs::prelude::PublicKeyCredential>,
    #[cfg(feature = "passkeys")]
    #[serde(default)]
    pub(crate) state: Option<String>,
    #[serde(default)]
    pub(crate) code: Option<String>,
    #[serde(default)]
    pub(crate) recovery_code: Option<String>,
    #[serde(default)]
    pub(crate) password: Option<String>,
}

/// What a body proves: a factor, or the password.
enum Presence<'a> {
    Factor(SecondFactorProof<'a>),
    Password(&'a str),
}

impl FactorBody {
    /// The one factor the body carries (no password).
    pub(crate) fn proof(&self) -> Result<SecondFactorProof<'_>, ApiError> {
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
