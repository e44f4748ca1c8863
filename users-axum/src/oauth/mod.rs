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
//!   from the application secret ([`Sealer`]): the browser that started the flow is the
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

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use users_diesel::UsersError;

mod flow;
mod routes;

pub(crate) use flow::OAuth;
pub(crate) use routes::{endpoints, schemas};

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
/// [`UsersState::oauth`](crate::UsersState::oauth).
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
    /// [`UsersState::session_cookie`](crate::UsersState::session_cookie)) instead of answering JSON: a small page that refreshes to
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
            var(&name).ok_or_else(|| UsersError::config("oauth", format!("{name} is not set")))
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
                    return Err(UsersError::config("oauth", why));
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

/// What a flow is for.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Purpose {
    /// Sign in (or up).
    SignIn,
    /// Link the account to the user with this id, who started the flow logged in.
    Associate(String),
}
