//! Sign in with a provider (feature `oidc`): any OpenID Connect issuer by its discovery URL,
//! and GitHub (plain OAuth 2.0, the address from its API), with the
//! [`openidconnect`](https://docs.rs/openidconnect) and [`oauth2`](https://docs.rs/oauth2)
//! crates.
//!
//! - `GET /auth/{provider}/authorize` answers `303 See Other` to the provider's authorization
//!   URL: the authorization-code flow with PKCE (S256), a random `state` and (OpenID Connect) a
//!   random `nonce`. The state, the nonce, the PKCE verifier and what the flow is for go to the
//!   browser in a short-lived `__Host-` cookie ([`STATE_COOKIE`], ten minutes, HttpOnly,
//!   SameSite=Lax, Secure, Path=/, no Domain: a sibling subdomain cannot plant or overwrite it;
//!   browsers keep Secure cookies over plain HTTP for localhost only), sealed with XChaCha20-Poly1305 under a key derived
//!   from the application secret ([`SecretBox`]): the browser that started the flow is the
//!   only one that can finish it, which is what stops login CSRF (FastAPI Users'
//!   CVE-2025-68481 was a `state` not bound to the browser).
//! - `GET /auth/{provider}/callback` takes the provider's answer: it refuses a `state` that is
//!   not the cookie's (forged, replayed in another browser, or the cookie gone: it is cleared by
//!   every callback), an `iss` that is not the provider's (RFC 9207, mix-up attacks), then
//!   exchanges the code with the PKCE verifier and, for OpenID Connect, validates the ID token
//!   (signature by the provider's JWKS, issuer, audience, expiry, nonce). Then the manager's
//!   `oauth_sign_in` applies the linking rules (users-core's `oauth` module): sign in the linked
//!   user; or create a user without a password, verified only if the provider verified the
//!   address; or link a local account with that address only if both sides verified it, else
//!   409 `email_taken`. The answer is the login's (tokens, the session cookie, or the second
//!   factor's challenge for a user with one), or with [`OAuthSettings::after_sign_in`] a page
//!   that sends the browser there with the session cookie.
//! - `POST /auth/{provider}/associate` (logged in) answers `{"authorization_url"}` and the
//!   cookie, bound to the user; its callback links the account to that user.
//! - `GET /users/me/oauth` lists the user's linked accounts and whether they have a password;
//!   `DELETE /users/me/oauth/{provider}` unlinks one, refused (409 `last_sign_in_method`) when it
//!   is the last way to sign in. A user without a password sets one through the reset flow.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Path, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata,
};
use openidconnect::{
    AuthUrl, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    StandardErrorResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;
use users_diesel::{
    OAuthAccountRecord, ProviderIdentity, ProviderTokens, SecretBox, UserModel, UsersConfig,
    UsersError, Uuid,
};

use crate::answer::{challenge_answer, rfc3339, session_answer};
use crate::api::{endpoint, route, Anyone, Delete, Doc, Endpoint, Get, Post, Session};
use crate::presence::{prove_presence, FactorBody};
use crate::schema::typed;
use crate::session::cookie_value;
use crate::{ApiError, CurrentUser, ErrorCode, JsonBody, Profile, UsersState};
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

/// The cookie that carries a flow's sealed state from the authorization request to the
/// callback: a `__Host-` cookie, which browsers accept only Secure, with `Path=/` and no
/// `Domain`, so no other host of the site can set it.
pub const STATE_COOKIE: &str = "__Host-users_oauth";
/// How long a flow may take, from the authorization request to the callback.
pub const FLOW_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// How long a provider's discovery document and keys are used before they are fetched again
/// (an ID token signed by a key not among them fetches them again, at most once a minute).
pub const DISCOVERY_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// The least time between two fetches of a provider's discovery document.
const MIN_REDISCOVERY: Duration = Duration::from_secs(60);
/// How long a call to a provider may take.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);
/// GitHub's endpoints.
const GITHUB_AUTHORIZE: &str = "https://github.com/login/oauth/authorize";
const GITHUB_TOKEN: &str = "https://github.com/login/oauth/access_token";
const GITHUB_API: &str = "https://api.github.com";

/// A provider users can sign in with: an OpenID Connect issuer, or GitHub.
#[derive(Clone)]
pub struct OAuthProvider {
    name: String,
    client_id: String,
    client_secret: String,
    scopes: Vec<String>,
    keep_tokens: bool,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    /// OpenID Connect: endpoints and keys from the issuer's discovery document.
    Oidc { issuer: String },
    /// GitHub: plain OAuth 2.0, the person from its REST API.
    GitHub {
        authorize_url: String,
        token_url: String,
        api_url: String,
    },
}

impl fmt::Debug for OAuthProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthProvider")
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .field("keep_tokens", &self.keep_tokens)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl OAuthProvider {
    /// An OpenID Connect provider called `name` (its routes are `/auth/{name}/…`), found by its
    /// issuer URL (the discovery document is `{issuer}/.well-known/openid-configuration`),
    /// with the client id and secret it gave this application. Asks for the scopes `openid`
    /// and `email`.
    pub fn oidc(
        name: impl Into<String>,
        issuer_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        OAuthProvider {
            name: name.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            scopes: vec!["openid".into(), "email".into()],
            keep_tokens: false,
            kind: Kind::Oidc {
                issuer: issuer_url.into(),
            },
        }
    }

    /// GitHub (plain OAuth 2.0: no ID token; the person is `GET /user`, the address the
    /// primary one of `GET /user/emails`, verified as GitHub says), called `github`, with the
    /// OAuth app's client id and secret. Asks for the scopes `read:user` and `user:email`.
    pub fn github(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        OAuthProvider {
            name: "github".into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            scopes: vec!["read:user".into(), "user:email".into()],
            keep_tokens: false,
            kind: Kind::GitHub {
                authorize_url: GITHUB_AUTHORIZE.into(),
                token_url: GITHUB_TOKEN.into(),
                api_url: GITHUB_API.into(),
            },
        }
    }

    /// For a GitHub provider: other endpoints, as GitHub Enterprise Server has them
    /// (`https://HOST/login/oauth/authorize`, `https://HOST/login/oauth/access_token`,
    /// `https://HOST/api/v3`). No effect on an OpenID Connect provider.
    pub fn github_endpoints(
        mut self,
        authorize_url: impl Into<String>,
        token_url: impl Into<String>,
        api_url: impl Into<String>,
    ) -> Self {
        if let Kind::GitHub { .. } = self.kind {
            self.kind = Kind::GitHub {
                authorize_url: authorize_url.into(),
                token_url: token_url.into(),
                api_url: api_url.into(),
            };
        }
        self
    }

    /// Another name (the one in the routes, and in the accounts' `provider` column).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Asks for these scopes too.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for scope in scopes {
            let scope = scope.into();
            if !self.scopes.contains(&scope) {
                self.scopes.push(scope);
            }
        }
        self
    }

    /// Keeps the provider's access and refresh tokens with the linked account, sealed under a
    /// key derived from the application secret, for the application to call the provider's
    /// API (see the manager's `provider_tokens`). Off by default: tokens the application does
    /// not keep cannot leak.
    pub fn keep_tokens(mut self) -> Self {
        self.keep_tokens = true;
        self
    }

    /// The provider's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Where the application is served and which providers it offers: give it to
/// [`UsersState::oauth`].
#[derive(Clone, Debug)]
pub struct OAuthSettings {
    public_url: String,
    providers: Vec<OAuthProvider>,
    after_sign_in: Option<String>,
}

impl OAuthSettings {
    /// Settings for an application whose router is served at `public_url` (e.g.
    /// `https://app.example.com`, or with the prefix it is nested under): the redirect URI to
    /// register with each provider is `{public_url}/auth/{provider}/callback`.
    pub fn new(public_url: impl Into<String>) -> Self {
        OAuthSettings {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            providers: Vec::new(),
            after_sign_in: None,
        }
    }

    /// Offers `provider`.
    pub fn provider(mut self, provider: OAuthProvider) -> Self {
        self.providers.push(provider);
        self
    }

    /// After a sign-in, sends the browser on to `url` with the session cookie (which needs
    /// [`UsersState::session_cookie`]) instead of answering JSON: a small page that refreshes to
    /// `url`, not a redirect, since browsers withhold the SameSite=Strict session cookie from a
    /// redirect chain a cross-site page (the provider) started. A refused sign-in is sent there
    /// too, with `?error=CODE` (a `303 See Other`).
    pub fn after_sign_in(mut self, url: impl Into<String>) -> Self {
        self.after_sign_in = Some(url.into());
        self
    }

    /// The settings the environment describes, `None` if `USERS_OAUTH_PROVIDERS` is unset or
    /// empty, so adding a provider is configuration only:
    ///
    /// - `USERS_PUBLIC_URL`: where the application is served (required with providers);
    /// - `USERS_OAUTH_PROVIDERS`: the providers' names, comma-separated (e.g. `corp,github`);
    /// - for each `NAME` (upper case): `USERS_OAUTH_NAME_CLIENT_ID` and
    ///   `USERS_OAUTH_NAME_CLIENT_SECRET`; `USERS_OAUTH_NAME_ISSUER` for an OpenID Connect
    ///   provider; for `github`, no issuer, and optionally `USERS_OAUTH_GITHUB_AUTHORIZE_URL`,
    ///   `…_TOKEN_URL` and `…_API_URL` (GitHub Enterprise Server); optionally
    ///   `USERS_OAUTH_NAME_SCOPES` (space-separated, asked for too) and
    ///   `USERS_OAUTH_NAME_KEEP_TOKENS=1`;
    /// - `USERS_OAUTH_AFTER_SIGN_IN`: optional, as [`after_sign_in`](Self::after_sign_in).
    ///
    /// # Errors
    ///
    /// [`UsersError::Config`] naming the variable that is missing.
    pub fn from_env() -> Result<Option<Self>, UsersError> {
        Self::from_vars(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
    }

    /// [`from_env`](Self::from_env) over any source of variables.
    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, UsersError> {
        let Some(names) = var("USERS_OAUTH_PROVIDERS") else {
            return Ok(None);
        };
        let required = |name: String| {
            var(&name).ok_or_else(|| UsersError::Config(format!("{name} is not set")))
        };
        let mut settings = OAuthSettings::new(required("USERS_PUBLIC_URL".into())?);
        for name in names
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            let key = |what: &str| format!("USERS_OAUTH_{}_{what}", name.to_ascii_uppercase());
            let (id, secret) = (required(key("CLIENT_ID"))?, required(key("CLIENT_SECRET"))?);
            let mut provider = match var(&key("ISSUER")) {
                Some(issuer) => OAuthProvider::oidc(name, issuer, id, secret),
                None if name == "github" => {
                    let github = OAuthProvider::github(id, secret);
                    match (
                        var(&key("AUTHORIZE_URL")),
                        var(&key("TOKEN_URL")),
                        var(&key("API_URL")),
                    ) {
                        (Some(authorize), Some(token), Some(api)) => {
                            github.github_endpoints(authorize, token, api)
                        }
                        _ => github,
                    }
                }
                None => {
                    let issuer = key("ISSUER");
                    let why = format!("{issuer} is not set (every provider but github needs one)");
                    return Err(UsersError::Config(why));
                }
            };
            if let Some(scopes) = var(&key("SCOPES")) {
                provider = provider.scopes(scopes.split_whitespace().map(str::to_owned));
            }
            if var(&key("KEEP_TOKENS")).is_some_and(|keep| keep == "1" || keep == "true") {
                provider = provider.keep_tokens();
            }
            settings = settings.provider(provider);
        }
        if let Some(url) = var("USERS_OAUTH_AFTER_SIGN_IN") {
            settings = settings.after_sign_in(url);
        }
        Ok(Some(settings))
    }
}

/// The providers, ready: checked settings, the HTTP client, the sealer of flow states, and the
/// discovery documents fetched so far.
pub(crate) struct OAuth {
    providers: HashMap<String, Configured>,
    after_sign_in: Option<String>,
    http: Http,
    sealer: SecretBox,
}

/// One provider, checked.
struct Configured {
    provider: OAuthProvider,
    redirect: RedirectUrl,
    /// The discovery document (with the keys) of an OpenID Connect provider, and when it was
    /// fetched.
    discovered: Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

impl OAuth {
    /// Checks `settings`: a public URL, provider names fit for a route and a column and each
    /// used once, URLs that parse.
    pub(crate) fn new(settings: OAuthSettings, config: &UsersConfig) -> Result<OAuth, UsersError> {
        let bad = |what: String| UsersError::Config(format!("oauth: {what}"));
        reqwest::Url::parse(&settings.public_url)
            .map_err(|error| bad(format!("public URL {:?}: {error}", settings.public_url)))?;
        let mut providers = HashMap::new();
        for provider in settings.providers {
            let name = provider.name.clone();
            let valid = !name.is_empty()
                && name.len() <= users_diesel::MAX_PROVIDER_BYTES
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                });
            if !valid {
                return Err(bad(format!(
                    "provider name {name:?}: use lower-case letters, digits, `-` and `_`"
                )));
            }
            let urls: Vec<&str> = match &provider.kind {
                Kind::Oidc { issuer } => vec![issuer],
                Kind::GitHub {
                    authorize_url,
                    token_url,
                    api_url,
                } => vec![authorize_url, token_url, api_url],
            };
            for url in urls {
                reqwest::Url::parse(url)
                    .map_err(|error| bad(format!("{name}: URL {url:?}: {error}")))?;
            }
            let redirect =
                RedirectUrl::new(format!("{}/auth/{name}/callback", settings.public_url))
                    .map_err(|error| bad(format!("{name}: redirect URI: {error}")))?;
            let configured = Configured {
                provider,
                redirect,
                discovered: Mutex::new(None),
            };
            if providers.insert(name.clone(), configured).is_some() {
                return Err(bad(format!("provider {name:?} is configured twice")));
            }
        }
        // No redirects: a provider's endpoint that redirects is not followed anywhere (SSRF).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .user_agent(concat!("users-axum/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| bad(format!("HTTP client: {error}")))?;
        Ok(OAuth {
            providers,
            after_sign_in: settings.after_sign_in,
            http: Http(http),
            sealer: SecretBox::new(config),
        })
    }

    /// The provider called `name`, or 404.
    fn provider(&self, name: &str) -> Result<&Configured, ApiError> {
        self.providers.get(name).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                format!("no provider is called {name:?} here"),
            )
        })
    }

    /// The provider's discovery document, fetched if there is none younger than
    /// [`DISCOVERY_LIFETIME`] (or, `fresh`, none younger than a minute).
    async fn metadata(
        &self,
        configured: &Configured,
        fresh: bool,
    ) -> Result<CoreProviderMetadata, ApiError> {
        let Kind::Oidc { issuer } = &configured.provider.kind else {
            return Err(ApiError::logged(
                &"discovery of a provider without an issuer",
            ));
        };
        let mut discovered = configured.discovered.lock().await;
        if let Some((at, metadata)) = &*discovered {
            // Fetched again when old, or when asked, but at most once a minute: ID tokens with
            // unknown keys do not make every callback call the provider.
            let age = at.elapsed();
            if age < DISCOVERY_LIFETIME && (!fresh || age < MIN_REDISCOVERY) {
                return Ok(metadata.clone());
            }
        }
        let issuer = IssuerUrl::new(issuer.clone())
            .map_err(|error| provider_down(&configured.provider.name, &error))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|error| provider_down(&configured.provider.name, &error))?;
        *discovered = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    /// The OpenID Connect client of `configured` over `metadata`.
    fn oidc_client(configured: &Configured, metadata: CoreProviderMetadata) -> OidcClient {
        let provider = &configured.provider;
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.client_id.clone()),
            Some(ClientSecret::new(provider.client_secret.clone())),
        )
        .set_redirect_uri(configured.redirect.clone())
    }

    /// The GitHub client of `configured`.
    fn github_client(configured: &Configured) -> Result<GitHubClient, ApiError> {
        let provider = &configured.provider;
        let Kind::GitHub {
            authorize_url,
            token_url,
            ..
        } = &provider.kind
        else {
            return Err(ApiError::logged(
                &"a GitHub client of an OpenID Connect provider",
            ));
        };
        // Checked by `OAuth::new`.
        let url = |error: openidconnect::url::ParseError| ApiError::logged(&error);
        Ok(
            oauth2::basic::BasicClient::new(ClientId::new(provider.client_id.clone()))
                .set_client_secret(ClientSecret::new(provider.client_secret.clone()))
                .set_auth_uri(AuthUrl::new(authorize_url.clone()).map_err(url)?)
                .set_token_uri(TokenUrl::new(token_url.clone()).map_err(url)?)
                .set_redirect_uri(configured.redirect.clone()),
        )
    }

    /// A flow's start: the authorization URL, and the `Set-Cookie` with its sealed state.
    async fn start(
        &self,
        configured: &Configured,
        purpose: Purpose,
    ) -> Result<(String, HeaderValue), ApiError> {
        let provider = &configured.provider;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = match &provider.kind {
            Kind::Oidc { .. } => {
                let client = Self::oidc_client(configured, self.metadata(configured, false).await?);
                // `openid` is the flow's own scope: the request asks for it already.
                let scopes = provider.scopes.iter().filter(|scope| *scope != "openid");
                let (url, state, nonce) = client
                    .authorize_url(
                        CoreAuthenticationFlow::AuthorizationCode,
                        CsrfToken::new_random,
                        Nonce::new_random,
                    )
                    .add_scopes(scopes.cloned().map(Scope::new))
                    .set_pkce_challenge(challenge)
                    .url();
                (url, state, Some(nonce.secret().clone()))
            }
            Kind::GitHub { .. } => {
                let (url, state) = Self::github_client(configured)?
                    .authorize_url(CsrfToken::new_random)
                    .add_scopes(provider.scopes.iter().cloned().map(Scope::new))
                    .set_pkce_challenge(challenge)
                    .url();
                (url, state, None)
            }
        };
        let flow = Flow {
            provider: provider.name.clone(),
            state: state.secret().clone(),
            nonce,
            verifier: verifier.secret().clone(),
            purpose,
        };
        let sealed = crate::sealed::seal(&self.sealer, FLOW_CONTEXT, &flow, FLOW_LIFETIME)?;
        Ok((
            url.to_string(),
            self.cookie(&sealed, FLOW_LIFETIME.as_secs()),
        ))
    }

    /// The `Set-Cookie` of the flow state `value`, or (empty, zero age) the one that clears it.
    fn cookie(&self, value: &str, max_age: u64) -> HeaderValue {
        let cookie = format!(
            "{STATE_COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax; Secure"
        );
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The flow the callback `parts` finishes, checked against its query: the cookie opens, is
    /// for this provider, has not expired, and its `state` is the query's.
    fn flow(
        &self,
        configured: &Configured,
        parts: &Parts,
        query: &Callback,
    ) -> Result<Flow, ApiError> {
        let refused = |why: &str| {
            tracing::debug!("users-axum: an oauth callback was refused: {why}");
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidState,
                "this sign-in was not started in this browser, or took too long: start again",
            )
        };
        let sealed = cookie_value(parts, STATE_COOKIE).ok_or_else(|| refused("no state cookie"))?;
        let flow: Flow = crate::sealed::open(&self.sealer, FLOW_CONTEXT, sealed)
            .ok_or_else(|| refused("the cookie does not open, or the flow expired"))?;
        if flow.provider != configured.provider.name {
            return Err(refused("the flow is another provider's"));
        }
        let state = query.state.as_deref().unwrap_or("");
        if !bool::from(state.as_bytes().ct_eq(flow.state.as_bytes())) {
            return Err(refused("the state is not the cookie's"));
        }
        Ok(flow)
    }

    /// What the provider vouches for, from the callback's code: exchanged with the flow's PKCE
    /// verifier; for OpenID Connect, the ID token validated; for GitHub, the person and address
    /// from its API.
    async fn identity(
        &self,
        configured: &Configured,
        flow: &Flow,
        query: &Callback,
    ) -> Result<ProviderIdentity, ApiError> {
        let provider = &configured.provider;
        let code = query
            .code
            .clone()
            .ok_or_else(|| refused_by_provider("the provider sent no code"))?;
        let (subject, email, email_verified, tokens) = match &provider.kind {
            Kind::Oidc { .. } => {
                let metadata = self.metadata(configured, false).await?;
                // RFC 9207: an `iss` that is not this provider's is a mix-up.
                if query
                    .iss
                    .as_deref()
                    .is_some_and(|iss| iss != metadata.issuer().as_str())
                {
                    return Err(refused_by_provider("the answer names another issuer"));
                }
                let client = Self::oidc_client(configured, metadata.clone());
                let answer = client
                    .exchange_code(AuthorizationCode::new(code))
                    .map_err(|error| ApiError::logged(&error))?
                    .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
                    .request_async(&self.http)
                    .await
                    .map_err(|error| token_refused(&provider.name, &error))?;
                let id_token = answer
                    .id_token()
                    .ok_or_else(|| refused_by_provider("the provider sent no ID token"))?;
                let nonce = Nonce::new(flow.nonce.clone().unwrap_or_default());
                let claims: CoreIdTokenClaims = match id_token
                    .claims(&client.id_token_verifier(), &nonce)
                {
                    Ok(claims) => claims.clone(),
                    // A key the cached document lacks: the provider rotated its keys.
                    Err(ClaimsVerificationError::SignatureVerification(_)) => {
                        let client =
                            Self::oidc_client(configured, self.metadata(configured, true).await?);
                        let verifier = client.id_token_verifier();
                        let claims = id_token
                            .claims(&verifier, &nonce)
                            .map_err(id_token_refused)?;
                        claims.clone()
                    }
                    Err(error) => return Err(id_token_refused(error)),
                };
                let tokens = provider.keep_tokens.then(|| provider_tokens(&answer));
                let email = claims.email().map(|email| email.as_str().to_owned());
                let verified = claims.email_verified().unwrap_or(false);
                (
                    claims.subject().as_str().to_owned(),
                    email,
                    verified,
                    tokens,
                )
            }
            Kind::GitHub { api_url, .. } => {
                let client = Self::github_client(configured)?;
                let answer = client
                    .exchange_code(AuthorizationCode::new(code))
                    .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
                    .request_async(&self.http)
                    .await
                    .map_err(|error| token_refused(&provider.name, &error))?;
                let token = answer.access_token().secret();
                let person: GitHubUser = self
                    .github_api(&provider.name, api_url, "user", token)
                    .await?;
                let emails: Vec<GitHubEmail> = self
                    .github_api(&provider.name, api_url, "user/emails", token)
                    .await?;
                let primary = emails.iter().find(|email| email.primary);
                let tokens = provider.keep_tokens.then(|| provider_tokens(&answer));
                (
                    person.id.to_string(),
                    primary.map(|email| email.email.clone()),
                    primary.is_some_and(|email| email.verified),
                    tokens,
                )
            }
        };
        Ok(ProviderIdentity {
            provider: provider.name.clone(),
            subject,
            email,
            email_verified,
            tokens,
        })
    }

    /// `GET {api}/{path}` of GitHub's REST API with the user's access token.
    async fn github_api<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        api: &str,
        path: &str,
        token: &str,
    ) -> Result<T, ApiError> {
        let url = format!("{}/{path}", api.trim_end_matches('/'));
        let answer = self
            .http
            .0
            .get(url)
            .bearer_auth(token)
            .header("accept", "application/vnd.github+json")
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|error| provider_down(name, &error))?;
        answer
            .json()
            .await
            .map_err(|error| provider_down(name, &error))
    }
}

/// The OpenID Connect client type `from_provider_metadata` makes, with a redirect URI.
type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The GitHub client type, with its endpoints set.
type GitHubClient = oauth2::basic::BasicClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// What the flow state is sealed for.
const FLOW_CONTEXT: &[u8] = b"oauth flow";

/// A flow's state, sealed in the browser's cookie between the authorization request and the
/// callback.
#[derive(Serialize, Deserialize)]
struct Flow {
    provider: String,
    state: String,
    nonce: Option<String>,
    verifier: String,
    purpose: Purpose,
}

/// What a flow is for.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Purpose {
    /// Sign in (or up).
    SignIn,
    /// Link the account to the user with this id, who started the flow logged in.
    Associate(String),
}

/// The callback's query.
#[derive(Deserialize, Default)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

/// The HTTP client of the calls to providers, which follows no redirects, as the crates'
/// `AsyncHttpClient`.
struct Http(reqwest::Client);

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future =
        Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let mut outgoing = self
                .0
                .request(parts.method, parts.uri.to_string())
                .body(body);
            for (name, value) in &parts.headers {
                outgoing = outgoing.header(name, value);
            }
            let answer = outgoing.send().await.map_err(HttpError)?;
            let mut response = openidconnect::http::Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                response = response.header(name, value);
            }
            let body = answer.bytes().await.map_err(HttpError)?;
            Ok(response
                .body(body.to_vec())
                .expect("a status and headers from a response make a response"))
        })
    }
}

/// The HTTP client's error, for the crates' `AsyncHttpClient`.
#[derive(Debug)]
struct HttpError(reqwest::Error);

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for HttpError {}

/// The tokens of a token answer, to keep.
fn provider_tokens(answer: &impl OAuth2TokenResponse) -> ProviderTokens {
    ProviderTokens {
        access_token: answer.access_token().secret().clone(),
        refresh_token: answer.refresh_token().map(|token| token.secret().clone()),
        expires_at: answer.expires_in().map(|left| SystemTime::now() + left),
    }
}

/// The provider could not be reached, or answered nonsense: 502.
fn provider_down(name: &str, error: &dyn fmt::Display) -> ApiError {
    tracing::warn!("users-axum: the provider {name:?} failed: {error}");
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        ErrorCode::ProviderUnavailable,
        format!("the provider {name:?} could not be reached or gave an unusable answer"),
    )
}

/// The provider's answer is refused: 400 `oauth_refused`.
fn refused_by_provider(why: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::OauthRefused,
        format!("the sign-in was refused: {why}"),
    )
}

/// The token endpoint refused the code (a wrong or missing PKCE verifier, a code used or
/// stolen) or could not be reached.
fn token_refused<E: std::error::Error + 'static>(
    name: &str,
    error: &RequestTokenError<E, StandardErrorResponse<oauth2::basic::BasicErrorResponseType>>,
) -> ApiError {
    match error {
        RequestTokenError::ServerResponse(answer) => {
            tracing::debug!("users-axum: the provider {name:?} refused a code: {answer}");
            refused_by_provider("the provider refused the authorization code")
        }
        error => provider_down(name, error),
    }
}

/// The ID token does not check out: signature, issuer, audience, expiry or nonce.
fn id_token_refused(error: ClaimsVerificationError) -> ApiError {
    tracing::debug!("users-axum: an ID token was refused: {error}");
    refused_by_provider("the ID token is invalid")
}

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
);

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

#[cfg(test)]
mod tests {
    use axum::http::header::COOKIE;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn providers_come_from_the_environment() {
        assert!(OAuthSettings::from_vars(vars(&[])).unwrap().is_none());
        let settings = OAuthSettings::from_vars(vars(&[
            ("USERS_PUBLIC_URL", "https://app.example.com/"),
            ("USERS_OAUTH_PROVIDERS", "corp, github"),
            ("USERS_OAUTH_CORP_ISSUER", "https://id.example.com"),
            ("USERS_OAUTH_CORP_CLIENT_ID", "app"),
            ("USERS_OAUTH_CORP_CLIENT_SECRET", "s3cret"),
            ("USERS_OAUTH_CORP_SCOPES", "profile"),
            ("USERS_OAUTH_GITHUB_CLIENT_ID", "gh"),
            ("USERS_OAUTH_GITHUB_CLIENT_SECRET", "gh-secret"),
            ("USERS_OAUTH_GITHUB_KEEP_TOKENS", "1"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(settings.public_url, "https://app.example.com");
        let [corp, github] = &settings.providers[..] else {
            panic!("two providers")
        };
        assert_eq!(corp.scopes, ["openid", "email", "profile"]);
        assert!(matches!(&corp.kind, Kind::Oidc { issuer } if issuer == "https://id.example.com"));
        assert!(github.keep_tokens && !corp.keep_tokens);
        assert!(matches!(&github.kind, Kind::GitHub { api_url, .. } if api_url == GITHUB_API));
        // A missing variable is named.
        let error = OAuthSettings::from_vars(vars(&[
            ("USERS_PUBLIC_URL", "https://app.example.com"),
            ("USERS_OAUTH_PROVIDERS", "corp"),
            ("USERS_OAUTH_CORP_CLIENT_ID", "app"),
            ("USERS_OAUTH_CORP_CLIENT_SECRET", "s3cret"),
        ]))
        .unwrap_err();
        assert!(
            error.to_string().contains("USERS_OAUTH_CORP_ISSUER"),
            "{error}"
        );
    }

    #[test]
    fn settings_are_checked() {
        let config = UsersConfig::new([1u8; 32]).unwrap();
        let provider = || OAuthProvider::oidc("corp", "https://id.example.com", "app", "s3cret");
        let ok = OAuthSettings::new("https://app.example.com").provider(provider());
        let oauth = OAuth::new(ok, &config).unwrap();
        let cookie = oauth.cookie("v", 60);
        let cookie = cookie.to_str().unwrap();
        assert!(
            cookie.starts_with("__Host-users_oauth=v; Path=/;"),
            "{cookie}"
        );
        assert!(
            cookie.ends_with("; Secure") && !cookie.contains("Domain"),
            "{cookie}"
        );
        assert_eq!(
            oauth.providers["corp"].redirect.as_str(),
            "https://app.example.com/auth/corp/callback"
        );
        for bad in [
            OAuthSettings::new("not a url").provider(provider()),
            OAuthSettings::new("https://app.example.com")
                .provider(provider())
                .provider(provider()),
            OAuthSettings::new("https://app.example.com").provider(provider().named("Corp/1")),
            OAuthSettings::new("https://app.example.com")
                .provider(OAuthProvider::oidc("corp", "nowhere", "app", "s3cret")),
        ] {
            assert!(matches!(
                OAuth::new(bad, &config),
                Err(UsersError::Config(_))
            ));
        }
    }

    #[test]
    fn a_flow_state_opens_only_unaltered_and_for_its_provider() {
        let config = UsersConfig::new([1u8; 32]).unwrap();
        let settings = OAuthSettings::new("http://127.0.0.1:1")
            .provider(OAuthProvider::github("gh", "secret"))
            .provider(OAuthProvider::github("gh2", "secret").named("other"));
        let oauth = OAuth::new(settings, &config).unwrap();
        let flow = Flow {
            provider: "github".into(),
            state: "the-state".into(),
            nonce: None,
            verifier: "v".repeat(43),
            purpose: Purpose::SignIn,
        };
        let sealed =
            crate::sealed::seal(&oauth.sealer, FLOW_CONTEXT, &flow, FLOW_LIFETIME).unwrap();
        let parts = |cookie: &str| {
            let request = axum::http::Request::builder()
                .header(COOKIE, format!("a=b; {STATE_COOKIE}={cookie}"))
                .body(())
                .unwrap();
            request.into_parts().0
        };
        let query = |state: &str| Callback {
            state: Some(state.into()),
            ..Callback::default()
        };
        let github = &oauth.providers["github"];
        assert!(oauth
            .flow(github, &parts(&sealed), &query("the-state"))
            .is_ok());
        for (provider, cookie, state) in [
            (github, &*sealed, "another-state"),
            (github, &sealed[1..], "the-state"),
            (&oauth.providers["other"], &*sealed, "the-state"),
        ] {
            let Err(error) = oauth.flow(provider, &parts(cookie), &query(state)) else {
                panic!("{state} was let through");
            };
            assert_eq!(error.code(), "invalid_state");
        }
    }
}
