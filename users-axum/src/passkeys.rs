//! Passkeys (WebAuthn), feature `passkeys`: the registration and authentication ceremonies of
//! [`webauthn-rs`](https://docs.rs/webauthn-rs) over JSON routes, as a second factor and as
//! passwordless sign-in.
//!
//! A ceremony's state (the challenge, and what the server expects back) goes to the client
//! sealed: XChaCha20-Poly1305 under a key derived from the application secret
//! ([`Sealer`]), bound to the ceremony's kind and user, with an expiry of five minutes
//! inside. The client hands it back with its answer; a state altered, forged, from another
//! ceremony or another user's, or expired, does not open. No process keeps ceremonies in
//! memory, so the two halves may reach different processes.

use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use users_diesel::{EventKind, PasskeyRecord, Proof, Sealer, UserModel, UsersError, Uuid};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::answer::{parse_uuid, rfc3339, session_answer};
use crate::api::{endpoint, route, Anyone, Delete, Doc, Endpoint, Get, Post, Session};
use crate::error::PathParams;
use crate::presence::{prove_presence, FactorBody};
use crate::schema::{email, free_object, typed};
use crate::{ApiError, CurrentUser, ErrorCode, JsonBody, Profile, UsersState};
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

/// How long a ceremony may take.
const CEREMONY_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// The longest credential id stored, base64url (512 bytes); authenticators use 16 to 64.
const MAX_CREDENTIAL_ID_CHARS: usize = 683;

/// The relying party: the site passkeys are bound to.
pub(crate) struct Passkeys {
    webauthn: Webauthn,
    sealer: Sealer,
}

impl Passkeys {
    pub(crate) fn new(
        rp_id: &str,
        rp_origin: &str,
        config: &users_diesel::UsersConfig,
    ) -> Result<Self, UsersError> {
        let bad = |what: String| UsersError::config("passkeys", what);
        let origin =
            Url::parse(rp_origin).map_err(|error| bad(format!("{rp_origin:?}: {error}")))?;
        let webauthn = WebauthnBuilder::new(rp_id, &origin)
            .and_then(|builder| builder.build())
            .map_err(|error| bad(format!("{rp_id:?} and {rp_origin:?}: {error}")))?;
        Ok(Passkeys {
            webauthn,
            sealer: Sealer::new(config),
        })
    }

    /// A ceremony's state, sealed for `kind` and `user`, expiring with the ceremony.
    fn seal<T: Serialize>(&self, kind: &str, user: Uuid, state: &T) -> Result<String, ApiError> {
        crate::sealed::seal(&self.sealer, &context(kind, user), state, CEREMONY_LIFETIME)
    }

    /// The state `seal` sealed for `kind` and `user`, if it is intact and unexpired.
    fn open<T: DeserializeOwned>(
        &self,
        kind: &str,
        user: Uuid,
        sealed: &str,
    ) -> Result<T, ApiError> {
        crate::sealed::open(&self.sealer, &context(kind, user), sealed).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidToken,
                "the ceremony's state is invalid or has expired: start again",
            )
        })
    }
}

/// What a ceremony's state is sealed for: its kind and user.
fn context(kind: &str, user: Uuid) -> Vec<u8> {
    [
        b"passkey ".as_slice(),
        kind.as_bytes(),
        b" of ",
        user.as_bytes(),
    ]
    .concat()
}

/// The state's passkeys, or 404 if passkeys are off.
fn passkeys<U: UserModel>(users: &UsersState<U>) -> Result<&Passkeys, ApiError> {
    users.passkey_party().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "passkeys are not set up here (UsersState::passkeys)",
        )
    })
}

/// A WebAuthn failure: the client's answer does not check out.
fn refused(error: impl std::fmt::Display) -> ApiError {
    tracing::debug!("users-axum: a passkey ceremony failed: {error}");
    ApiError::from(UsersError::InvalidCredentials)
}

/// A credential id as stored: its base64url text.
fn credential_id(passkey: &Passkey) -> String {
    let id: &[u8] = passkey.cred_id().as_ref();
    URL_SAFE_NO_PAD.encode(id)
}

/// The user's passkeys as webauthn-rs needs them, each with its row.
fn loaded(rows: Vec<PasskeyRecord>) -> Vec<(PasskeyRecord, Passkey)> {
    rows.into_iter()
        .filter_map(|row| {
            let passkey = serde_json::from_str(&row.credential).ok()?;
            Some((row, passkey))
        })
        .collect()
}

/// A passkey as the routes show it.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Passkey)]
pub(crate) struct PasskeyView {
    #[schema(format = "uuid")]
    id: String,
    #[schema(required = true)]
    name: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime, required = true)]
    last_used_at: Option<String>,
}

impl From<&PasskeyRecord> for PasskeyView {
    fn from(row: &PasskeyRecord) -> Self {
        let time = |t: SystemTime| rfc3339(t);
        PasskeyView {
            id: row.id.to_string(),
            name: row.name.clone(),
            created_at: time(row.created_at),
            last_used_at: row.last_used_at.map(time),
        }
    }
}

/// The answer of `GET /users/me/passkeys`.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasskeyList {
    passkeys: Vec<PasskeyView>,
}

/// A ceremony's start: the options for the browser's WebAuthn API and the sealed state to send
/// back.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasskeyCeremony {
    #[schema(schema_with = ceremony_options)]
    options: Value,
    /// sealed; send it back unchanged, within 5 minutes
    state: String,
}

/// The schema of a ceremony's `options`: WebAuthn's, as the browser takes them.
fn ceremony_options() -> utoipa::openapi::schema::ObjectBuilder {
    free_object().description(Some("for the WebAuthn API of the browser"))
}

impl PasskeyCeremony {
    /// The answer of a ceremony's start with `options` (WebAuthn's) and the sealed `state`.
    fn new(options: impl Serialize, state: String) -> Result<Json<Self>, ApiError> {
        let options = serde_json::to_value(options).map_err(|error| ApiError::logged(&error))?;
        Ok(Json(PasskeyCeremony { options, state }))
    }
}

/// The route of [`register_start`].
const REGISTER_START: Doc = route(
    Post,
    "/users/me/passkeys/register/start",
    "Start registering a passkey, given the password (or a factor): the options for \
         `navigator.credentials.create` and the sealed ceremony state",
    Session,
    Some("PresenceProof"),
    (200, "the ceremony", Some("PasskeyCeremony")),
    &[
        (401, &[ErrorCode::InvalidCredentials]),
        (403, &[ErrorCode::UnverifiedUser]),
        (404, &[ErrorCode::NotFound]),
        (429, &[ErrorCode::TooManyAttempts]),
        (503, &[ErrorCode::Overloaded]),
    ],
);

/// `POST /users/me/passkeys/register/start`, given the password (or a factor): the options
/// for `navigator.credentials.create`, and the sealed state to send back.
pub(crate) async fn register_start<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    current: CurrentUser<U>,
    JsonBody(body): JsonBody<FactorBody>,
) -> Result<Json<PasskeyCeremony>, ApiError> {
    let party = passkeys(&users)?;
    // Only on a proved address: a way in set up by whoever registered an address must not
    // outlive its owner's reset.
    if !current.is_verified() {
        return Err(UsersError::UnverifiedUser.into());
    }
    // A passkey signs in without the password: a stolen session alone must not add one.
    prove_presence(&users, &parts, &current, &body).await?;
    let user_id: Uuid = current.id().into();
    let existing = users.pooled().passkeys(&current.user).await?;
    let exclude = loaded(existing)
        .into_iter()
        .map(|(_, passkey)| passkey.cred_id().clone())
        .collect();
    let email = current.email();
    let (options, state) = party
        .webauthn
        .start_passkey_registration(user_id, email, email, Some(exclude))
        .map_err(|error| ApiError::logged(&error))?;
    PasskeyCeremony::new(options, party.seal("registration", user_id, &state)?)
}

/// The authenticator's answer to a registration, with the ceremony's state and a name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PasskeyRegistration)]
pub(crate) struct RegisterFinish {
    state: String,
    #[schema(schema_with = free_object)]
    credential: RegisterPublicKeyCredential,
    #[serde(default)]
    name: Option<String>,
}

/// The route of [`register_finish`].
const REGISTER_FINISH: Doc = route(
    Post,
    "/users/me/passkeys/register/finish",
    "Finish registering a passkey with the authenticator's answer and the state",
    Session,
    Some("PasskeyRegistration"),
    (201, "the passkey", Some("Passkey")),
    &[
        (400, &[ErrorCode::InvalidToken]),
        (401, &[ErrorCode::InvalidCredentials]),
        (404, &[ErrorCode::NotFound]),
        (409, &[ErrorCode::Conflict]),
    ],
);

/// `POST /users/me/passkeys/register/finish`: checks the authenticator's answer and stores
/// the passkey.
pub(crate) async fn register_finish<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
    JsonBody(body): JsonBody<RegisterFinish>,
) -> Result<Response, ApiError> {
    let party = passkeys(&users)?;
    let user_id: Uuid = current.id().into();
    let state: PasskeyRegistration = party.open("registration", user_id, &body.state)?;
    let passkey = party
        .webauthn
        .finish_passkey_registration(&body.credential, &state)
        .map_err(refused)?;
    let id = credential_id(&passkey);
    if id.len() > MAX_CREDENTIAL_ID_CHARS {
        return Err(ApiError::invalid_field(
            "credential",
            "the credential id is longer than 512 bytes",
        ));
    }
    let name = body
        .name
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty());
    if name.is_some_and(|name| name.chars().count() > 100) {
        return Err(ApiError::invalid_field("name", "at most 100 characters"));
    }
    let existing = users.pooled().passkeys(&current.user).await?;
    if existing.iter().any(|row| row.credential_id == id) {
        return Err(UsersError::Conflict {
            column: "credential_id",
        }
        .into());
    }
    let stored = serde_json::to_string(&passkey).map_err(|error| ApiError::logged(&error))?;
    let row = users
        .pooled()
        .add_passkey(&current.user, &id, &stored, name)
        .await?;
    Ok((StatusCode::CREATED, Json(PasskeyView::from(&row))).into_response())
}

/// The route of [`list`].
const LIST: Doc = route(
    Get,
    "/users/me/passkeys",
    "The session user's passkeys",
    Session,
    None,
    (200, "the passkeys", Some("PasskeyList")),
    &[(404, &[ErrorCode::NotFound])],
);

/// `GET /users/me/passkeys`.
pub(crate) async fn list<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
) -> Result<Json<PasskeyList>, ApiError> {
    passkeys(&users)?;
    let rows = users.pooled().passkeys(&current.user).await?;
    let passkeys = rows.iter().map(PasskeyView::from).collect();
    Ok(Json(PasskeyList { passkeys }))
}

/// The route of [`remove`].
const REMOVE: Doc = route(
    Delete,
    "/users/me/passkeys/{passkey_id}",
    "Remove a passkey, given the password, a code or a recovery code",
    Session,
    Some("PresenceProof"),
    (204, "the passkey is removed", None),
    &[
        (401, &[ErrorCode::InvalidCredentials]),
        (404, &[ErrorCode::NotFound]),
        (429, &[ErrorCode::TooManyAttempts]),
        (503, &[ErrorCode::Overloaded]),
    ],
);

/// `DELETE /users/me/passkeys/{passkey_id}`, given the password or a factor.
pub(crate) async fn remove<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    current: CurrentUser<U>,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<FactorBody>,
) -> Result<StatusCode, ApiError> {
    passkeys(&users)?;
    let id = parse_uuid(&id).ok_or_else(|| ApiError::bad_request("`passkey_id` must be a UUID"))?;
    prove_presence(&users, &parts, &current, &body).await?;
    if users.pooled().remove_passkey(&current.user, id).await? {
        let wanted = users.mailed_notices().factor_removed;
        users.notice(wanted, &current.user, EventKind::PasskeyRemoved, None);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "the user has no passkey with this id",
        ))
    }
}

/// A sign-in ceremony's state: webauthn-rs's, and the version of the user's factors it
/// started at, which finishing moves on, so the ceremony completes once.
#[derive(Serialize, Deserialize)]
struct SignInState {
    version: i64,
    ceremony: PasskeyAuthentication,
}

/// Starts an authentication ceremony over `user`'s passkeys: the options and webauthn-rs's
/// state.
async fn authentication_start<U: Profile>(
    users: &UsersState<U>,
    user: &U,
) -> Result<(Value, PasskeyAuthentication), ApiError> {
    let party = passkeys(users)?;
    let rows = users.pooled().passkeys(user).await?;
    let credentials: Vec<Passkey> = loaded(rows).into_iter().map(|(_, key)| key).collect();
    if credentials.is_empty() {
        return Err(UsersError::InvalidCredentials.into());
    }
    let (options, state) = party
        .webauthn
        .start_passkey_authentication(&credentials)
        .map_err(|error| ApiError::logged(&error))?;
    let options = serde_json::to_value(options).map_err(|error| ApiError::logged(&error))?;
    Ok((options, state))
}

/// Checks an authentication ceremony's answer against `user`'s passkeys, and stores the
/// passkey's moved signature counter: the row of the passkey that signed.
async fn authentication_finish<U: Profile>(
    users: &UsersState<U>,
    user: &U,
    state: &PasskeyAuthentication,
    credential: &PublicKeyCredential,
) -> Result<PasskeyRecord, ApiError> {
    let party = passkeys(users)?;
    let result = party
        .webauthn
        .finish_passkey_authentication(credential, state)
        .map_err(refused)?;
    let rows = users.pooled().passkeys(user).await?;
    let (mut row, mut passkey) = loaded(rows)
        .into_iter()
        .find(|(_, passkey)| passkey.cred_id() == result.cred_id())
        .ok_or_else(|| ApiError::from(UsersError::InvalidCredentials))?;
    passkey.update_credential(&result);
    row.credential = serde_json::to_string(&passkey).map_err(|error| ApiError::logged(&error))?;
    Ok(row)
}

/// The account of a passwordless sign-in, if passkeys are on and the address has one.
async fn account<U: Profile>(users: &UsersState<U>, email: &str) -> Result<U, ApiError> {
    passkeys(users)?;
    let user = users.pooled().find_by_email(email).await?;
    user.ok_or_else(|| ApiError::from(UsersError::InvalidCredentials))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignInStart {
    email: String,
}

/// The route of [`sign_in_start`].
const SIGN_IN_START: Doc = route(
    Post,
    "/auth/passkey/start",
    "Start a passwordless sign-in with a passkey of the account of `email`",
    Anyone,
    Some("EmailRequest"),
    (200, "the ceremony", Some("PasskeyCeremony")),
    &[
        (401, &[ErrorCode::InvalidCredentials]),
        (404, &[ErrorCode::NotFound]),
    ],
);

/// `POST /auth/passkey/start`: a passwordless sign-in's options, for the account of `email`.
pub(crate) async fn sign_in_start<U: Profile>(
    State(users): State<UsersState<U>>,
    JsonBody(body): JsonBody<SignInStart>,
) -> Result<Json<PasskeyCeremony>, ApiError> {
    let user = account(&users, &body.email).await?;
    let version = users.pooled().second_factors(&user).await?.version;
    let (options, ceremony) = authentication_start(&users, &user).await?;
    let state = SignInState { version, ceremony };
    let sealed = passkeys(&users)?.seal("sign-in", user.id().into(), &state)?;
    PasskeyCeremony::new(options, sealed)
}

/// The authenticator's answer to a sign-in, with the ceremony's state.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PasskeySignIn)]
pub(crate) struct SignInFinish {
    #[schema(schema_with = email)]
    email: String,
    state: String,
    #[schema(schema_with = free_object)]
    credential: PublicKeyCredential,
}

/// The route of [`sign_in_finish`].
const SIGN_IN_FINISH: Doc = route(
    Post,
    "/auth/passkey/finish",
    "Finish a passwordless sign-in: a session, once per ceremony",
    Anyone,
    Some("PasskeySignIn"),
    (200, "a new session", Some("Session")),
    &[
        (400, &[ErrorCode::InvalidToken]),
        (
            401,
            &[ErrorCode::InvalidCredentials, ErrorCode::InvalidToken],
        ),
        (403, &[ErrorCode::InactiveUser, ErrorCode::UnverifiedUser]),
        (404, &[ErrorCode::NotFound]),
        (429, &[ErrorCode::TooManyAttempts]),
    ],
);

/// `POST /auth/passkey/finish`: the session of a passwordless sign-in, if the passkey signed.
pub(crate) async fn sign_in_finish<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    JsonBody(body): JsonBody<SignInFinish>,
) -> Result<Response, ApiError> {
    let user = account(&users, &body.email).await?;
    let state: SignInState = passkeys(&users)?.open("sign-in", user.id().into(), &body.state)?;
    let finish = authentication_finish(&users, &user, &state.ceremony, &body.credential);
    let row = users
        .guarded(Proof::Passkey, Some(user.email()), &parts, finish)
        .await?;
    if !user.is_active() {
        return Err(UsersError::InactiveUser.into());
    }
    if users.pooled().config().requires_verified() && !user.is_verified() {
        return Err(UsersError::UnverifiedUser.into());
    }
    // Once: a replayed ceremony finds the factors moved on.
    users
        .pooled()
        .complete_with_passkey(&user, state.version, &row)
        .await
        .map_err(ApiError::ends_login)?;
    let session = users.start_session(&user, users.origin(&parts)).await?;
    Ok(session_answer(&users, &session, Json(session.answer())))
}

/// A pending login.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PendingLogin)]
pub(crate) struct SecondFactorStart {
    mfa_token: String,
}

/// The route of [`second_factor_start`].
const SECOND_FACTOR_START: Doc = route(
    Post,
    "/auth/mfa/passkey",
    "Start a passkey ceremony as the second factor of a login (then `POST /auth/mfa`)",
    Anyone,
    Some("PendingLogin"),
    (200, "the ceremony", Some("PasskeyCeremony")),
    &[
        (
            401,
            &[ErrorCode::InvalidToken, ErrorCode::InvalidCredentials],
        ),
        (403, &[ErrorCode::InactiveUser]),
        (404, &[ErrorCode::NotFound]),
    ],
);

/// `POST /auth/mfa/passkey`: the options of a passkey as the second factor of a login.
pub(crate) async fn second_factor_start<U: Profile>(
    State(users): State<UsersState<U>>,
    JsonBody(body): JsonBody<SecondFactorStart>,
) -> Result<Json<PasskeyCeremony>, ApiError> {
    passkeys(&users)?;
    let (user, _) = users
        .pooled()
        .pending_login(&body.mfa_token)
        .await
        .map_err(ApiError::ends_login)?;
    let (options, ceremony) = authentication_start(&users, &user).await?;
    let kind = second_factor_kind(&body.mfa_token);
    let sealed = passkeys(&users)?.seal(&kind, user.id().into(), &ceremony)?;
    PasskeyCeremony::new(options, sealed)
}

/// The kind a second-factor ceremony is sealed for: bound to its pending login (the digest of
/// its `mfa_token`), so a captured answer is no good with another login's token.
fn second_factor_kind(mfa_token: &str) -> String {
    format!(
        "second factor of {}",
        users_diesel::refresh_digest(mfa_token)
    )
}

/// Completes a login's second factor with a passkey: `POST /auth/mfa` with `passkey` and
/// `state`.
pub(crate) async fn second_factor_finish<U: Profile>(
    users: &UsersState<U>,
    parts: &Parts,
    token: &str,
    state: &str,
    credential: &PublicKeyCredential,
) -> Result<U, ApiError> {
    passkeys(users)?;
    let (user, version) = users
        .pooled()
        .pending_login(token)
        .await
        .map_err(ApiError::ends_login)?;
    let ceremony: PasskeyAuthentication =
        passkeys(users)?.open(&second_factor_kind(token), user.id().into(), state)?;
    let finish = authentication_finish(users, &user, &ceremony, credential);
    let row = users
        .guarded(Proof::Passkey, Some(user.email()), parts, finish)
        .await?;
    users
        .pooled()
        .complete_with_passkey(&user, version, &row)
        .await
        .map_err(ApiError::ends_login)?;
    Ok(user)
}

/// The schemas of the passkey routes, for the OpenAPI document.
pub(crate) fn schemas() -> Vec<(String, RefOr<Schema>)> {
    vec![
        typed::<RegisterFinish>(),
        typed::<SignInFinish>(),
        typed::<SecondFactorStart>(),
        typed::<PasskeyCeremony>(),
        typed::<PasskeyView>(),
        typed::<PasskeyList>(),
    ]
}

/// The routes of the passkeys (feature `passkeys`), each with its handler and its description: the router and the
/// OpenAPI document are both made from this list.
pub(crate) fn endpoints<U: Profile>() -> Vec<Endpoint<U>> {
    vec![
        endpoint(list::<U>, LIST),
        endpoint(register_start::<U>, REGISTER_START),
        endpoint(register_finish::<U>, REGISTER_FINISH),
        endpoint(remove::<U>, REMOVE),
        endpoint(sign_in_start::<U>, SIGN_IN_START),
        endpoint(sign_in_finish::<U>, SIGN_IN_FINISH),
        endpoint(second_factor_start::<U>, SECOND_FACTOR_START),
    ]
}
