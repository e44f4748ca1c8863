//! The provider routes: authorize, callback, associate, the linked accounts and unlinking.

use axum::extract::{Path, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use users_diesel::{EventKind, OAuthAccountRecord, UserModel, UsersError, Uuid};
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

use super::flow::{Callback, OAuth};
use super::Purpose;
use crate::answer::{challenge_answer, rfc3339, session_answer};
use crate::api::{
    endpoint, route, Anyone, Delete, Doc, Endpoint, Get, Post, QueryParameter, Session,
};
use crate::presence::{prove_presence, FactorBody};
use crate::schema::{string, typed};
use crate::{ApiError, CurrentUser, ErrorCode, JsonBody, Profile, UsersState};

/// The providers of `users`, or 404 if none are set up.
fn oauth<U: UserModel>(users: &UsersState<U>) -> Result<&OAuth, ApiError> {
    users.oauth_providers().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "sign-in with a provider is not set up here (UsersState::oauth)",
        )
    })
}

/// `303 See Other` to `location`, with `cookie`.
fn see_other(location: &str, cookie: Option<HeaderValue>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, location);
    }
    if let Some(cookie) = cookie {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// A page that sends the browser on to `location` (a meta refresh) with the session cookie
/// `cookie`. Not a redirect: a browser withholds SameSite=Strict cookies from every request of
/// a redirect chain that a cross-site page started (here, the provider's redirect to the
/// callback), so the landing page would not see the new session; a navigation this page starts
/// is same-site, and carries it.
fn landing_page(location: &str, cookie: Option<HeaderValue>) -> Response {
    let escaped: String = location
        .chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            c => c.to_string(),
        })
        .collect();
    let page = format!(
        "<!doctype html><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url={escaped}\">\
         <title>Signed in</title><a href=\"{escaped}\">Continue</a>\n"
    );
    let mut response = axum::response::Html(page).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// The route of [`authorize`].
const AUTHORIZE: Doc = route(
    Get,
    "/auth/{provider}/authorize",
    "Sign in with a provider: a redirect to its authorization URL (PKCE, `state`, `nonce`), \
         with the flow's sealed cookie",
    Anyone,
    None,
    (303, "to the provider", None),
    &[
        (404, &[ErrorCode::NotFound]),
        (502, &[ErrorCode::ProviderUnavailable]),
    ],
);

/// `GET /auth/{provider}/authorize`: to the provider, with the flow's cookie.
pub(crate) async fn authorize<U: Profile>(
    State(users): State<UsersState<U>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let oauth = oauth(&users)?;
    let (url, cookie) = oauth.start(oauth.provider(&name)?, Purpose::SignIn).await?;
    Ok(see_other(&url, Some(cookie)))
}

/// The route of [`associate`].
const ASSOCIATE: Doc = route(
    Post,
    "/auth/{provider}/associate",
    "Link a provider account to the session user, given the password (or a factor), on a \
         verified address: the authorization URL to open, with the flow's sealed cookie",
    Session,
    Some("PresenceProof"),
    (200, "the URL to open", Some("AuthorizationUrl")),
    &[
        (401, &[ErrorCode::InvalidCredentials]),
        (403, &[ErrorCode::UnverifiedUser]),
        (404, &[ErrorCode::NotFound]),
        (429, &[ErrorCode::TooManyAttempts]),
        (502, &[ErrorCode::ProviderUnavailable]),
        (503, &[ErrorCode::Overloaded]),
    ],
);

/// `POST /auth/{provider}/associate`: `{"authorization_url"}` and the flow's cookie, bound to
/// the logged-in user; the callback links the account to them.
pub(crate) async fn associate<U: Profile>(
    State(users): State<UsersState<U>>,
    parts: Parts,
    Path(name): Path<String>,
    user: CurrentUser<U>,
    JsonBody(body): JsonBody<FactorBody>,
) -> Result<Response, ApiError> {
    let oauth = oauth(&users)?;
    // A link is a way in: only on a proved address, and with fresh proof, so that neither
    // whoever registered an address nor a stolen session can add one.
    if !user.is_verified() {
        return Err(UsersError::UnverifiedUser.into());
    }
    prove_presence(&users, &parts, &user, &body).await?;
    let purpose = Purpose::Associate(Into::<Uuid>::into(user.id()).to_string());
    let (url, cookie) = oauth.start(oauth.provider(&name)?, purpose).await?;
    let mut response = Json(AuthorizationUrl {
        authorization_url: url.to_string(),
    })
    .into_response();
    response.headers_mut().append(SET_COOKIE, cookie);
    Ok(response)
}

/// The route of [`callback`].
const CALLBACK: Doc = route(
    Get,
    "/auth/{provider}/callback",
    "The provider's answer (query `code`, `state`, `iss` or `error`): the login's answer, or \
         a redirect to the configured page; with an associate flow, the linked account",
    Anyone,
    None,
    (
        200,
        "a new session, or the second factor to give",
        Some("LoginAnswer"),
    ),
    &[
        (
            400,
            &[
                ErrorCode::InvalidState,
                ErrorCode::OauthRefused,
                ErrorCode::OauthDenied,
                ErrorCode::InvalidToken,
            ],
        ),
        (403, &[ErrorCode::InactiveUser, ErrorCode::UnverifiedUser]),
        (404, &[ErrorCode::NotFound]),
        (
            409,
            &[
                ErrorCode::EmailTaken,
                ErrorCode::OauthAccountTaken,
                ErrorCode::OauthProviderLinked,
            ],
        ),
        (422, &[ErrorCode::InvalidEmail]),
        (502, &[ErrorCode::ProviderUnavailable]),
    ],
)
.with_query(callback_parameters);

/// `GET /auth/{provider}/callback`: the provider's answer. The flow's cookie is cleared
/// whatever happens.
pub(crate) async fn callback<U: Profile>(
    State(users): State<UsersState<U>>,
    Path(name): Path<String>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let oauth = oauth(&users)?;
    let clear = oauth.cookie("", 0);
    let answer = finish(&users, oauth, &name, &parts).await;
    let mut response = match (answer, &oauth.after_sign_in) {
        (Ok(response), _) => response,
        (Err(error), Some(after)) => {
            let separator = if after.contains('?') { '&' } else { '?' };
            see_other(&format!("{after}{separator}error={}", error.code()), None)
        }
        (Err(error), None) => error.into_response(),
    };
    response.headers_mut().append(SET_COOKIE, clear);
    Ok(response)
}

/// The callback's work: check the flow, get the identity, sign in or link.
async fn finish<U: Profile>(
    users: &UsersState<U>,
    oauth: &OAuth,
    name: &str,
    parts: &Parts,
) -> Result<Response, ApiError> {
    let configured = oauth.provider(name)?;
    let query: Callback =
        serde_urlencoded::from_str(parts.uri.query().unwrap_or("")).unwrap_or_default();
    let flow = oauth.flow(configured, parts, &query)?;
    if let Some(error) = &query.error {
        tracing::debug!("users-axum: the provider {name:?} answered the error {error:?}");
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::OauthDenied,
            format!("{name} did not sign you in ({error})"),
        ));
    }
    let identity = oauth.identity(configured, &flow, &query).await?;
    match flow.purpose {
        Purpose::SignIn => {
            let signed_in = users.pooled().oauth_sign_in(&identity).await?;
            let user = signed_in.into_user();
            if let Some(challenge) = users.pooled().second_factor_challenge(&user).await? {
                return Ok(challenge_answer(&challenge));
            }
            let session = users.start_session(&user, users.origin(parts)).await?;
            match &oauth.after_sign_in {
                Some(after) => {
                    let cookie = users.cookie().map(|name| session.cookie(name));
                    Ok(landing_page(after, cookie))
                }
                None => Ok(session_answer(users, &session, Json(session.answer()))),
            }
        }
        Purpose::Associate(user_id) => {
            let user_id: Uuid = user_id
                .parse()
                .map_err(|_| ApiError::from(UsersError::InvalidToken))?;
            let user = users
                .pooled()
                .get(user_id.into())
                .await?
                .filter(UserModel::is_active)
                .ok_or_else(|| ApiError::from(UsersError::InvalidToken))?;
            let account = users.pooled().link_oauth(&user, &identity).await?;
            let wanted = users.mailed_notices().provider_linked;
            let provider = Some(account.provider.as_str());
            users.notice(wanted, &user, EventKind::ProviderLinked, provider);
            Ok(Json(AccountView::from(&account)).into_response())
        }
    }
}

/// A linked provider account as the routes show it.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OAuthAccount)]
pub(crate) struct AccountView {
    provider: String,
    #[schema(required = true)]
    email: Option<String>,
    email_verified: bool,
    #[schema(format = DateTime)]
    linked_at: String,
    #[schema(format = DateTime)]
    last_used_at: String,
}

impl From<&OAuthAccountRecord> for AccountView {
    fn from(account: &OAuthAccountRecord) -> Self {
        AccountView {
            provider: account.provider.clone(),
            email: account.email.clone(),
            email_verified: account.email_verified,
            linked_at: rfc3339(account.created_at),
            last_used_at: rfc3339(account.last_used_at),
        }
    }
}

/// The answer of `GET /users/me/oauth`: the linked accounts, and whether the user has a
/// password.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OAuthAccountList)]
pub(crate) struct AccountList {
    accounts: Vec<AccountView>,
    has_password: bool,
}

/// The answer of `POST /auth/{provider}/associate`: where to send the browser.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthorizationUrl {
    authorization_url: String,
}

/// The route of [`accounts`].
const ACCOUNTS: Doc = route(
    Get,
    "/users/me/oauth",
    "The session user's linked provider accounts, and whether they have a password",
    Session,
    None,
    (200, "the accounts", Some("OAuthAccountList")),
    &[(404, &[ErrorCode::NotFound])],
);

/// `GET /users/me/oauth`: the linked accounts, and whether the user has a password.
pub(crate) async fn accounts<U: Profile>(
    State(users): State<UsersState<U>>,
    user: CurrentUser<U>,
) -> Result<Json<AccountList>, ApiError> {
    let accounts = users.pooled().oauth_accounts(&user).await?;
    Ok(Json(AccountList {
        accounts: accounts.iter().map(AccountView::from).collect(),
        has_password: users_diesel::has_usable_password(user.password_hash()),
    }))
}

/// The route of [`unlink`].
const UNLINK: Doc = route(
    Delete,
    "/users/me/oauth/{provider}",
    "Unlink a provider account, unless it is the last way to sign in",
    Session,
    None,
    (204, "the account is unlinked", None),
    &[
        (404, &[ErrorCode::NotFound]),
        (409, &[ErrorCode::LastSignInMethod]),
    ],
);

/// `DELETE /users/me/oauth/{provider}`: unlinks it; 409 `last_sign_in_method` if it is the
/// user's last way to sign in, 404 if none is linked.
pub(crate) async fn unlink<U: Profile>(
    State(users): State<UsersState<U>>,
    Path(name): Path<String>,
    user: CurrentUser<U>,
) -> Result<StatusCode, ApiError> {
    if users.pooled().unlink_oauth(&user, &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("no {name} account is linked"),
        ))
    }
}

/// The schemas of the provider sign-in routes, for the OpenAPI document.
pub(crate) fn schemas() -> Vec<(String, RefOr<Schema>)> {
    vec![
        typed::<AuthorizationUrl>(),
        typed::<AccountView>(),
        typed::<AccountList>(),
    ]
}

/// The routes of provider sign-in (feature `oidc`), each with its handler and its description: the router and the
/// OpenAPI document are both made from this list.
pub(crate) fn endpoints<U: Profile>() -> Vec<Endpoint<U>> {
    vec![
        endpoint(authorize::<U>, AUTHORIZE),
        endpoint(callback::<U>, CALLBACK),
        endpoint(associate::<U>, ASSOCIATE),
        endpoint(accounts::<U>, ACCOUNTS),
        endpoint(unlink::<U>, UNLINK),
    ]
}

/// The query parameters of a provider's answer.
fn callback_parameters() -> Vec<QueryParameter> {
    ["code", "state", "iss", "error"]
        .into_iter()
        .map(|name| {
            (
                name,
                string(),
                "as the provider answers (RFC 6749 §4.1.2, RFC 9207)",
            )
        })
        .collect()
}
