//! [`UsersState`]: the manager, the pool, the mailer and the session settings the routes,
//! extractors and guards share.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::ConnectInfo;
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use axum::http::StatusCode;
use deadpool::managed::Manager;
use tokio::sync::Semaphore;
use users_diesel::asynchronous::deadpool::Pool;
use users_diesel::asynchronous::diesel_async::pooled_connection::PoolError;
use users_diesel::asynchronous::AsyncDieselConnectionManager;
use users_diesel::{
    AsyncOAuthAccountStore, AsyncRoleStore, AsyncSecondFactorStore, AsyncSessionStore,
    AsyncUserStore, AsyncUsers, FirstProofClears, GuardKeys, Proof, ProofOutcome, SessionOrigin,
    SessionPolicy, SessionTokens, TokenPurpose, TokenSigner, UserModel, UsersError,
};

use crate::guard::{self, GuardLayer, Rule};
use crate::mailer::{Mail, Mailer};
use crate::pooled::{Pooled, PooledUsers};
use crate::session::{self, MemoryRevocations, NewSession, Revocations};
use crate::{ApiError, CurrentUser, ErrorCode, Profile};

/// The default absolute lifetime of a session: 30 days from login.
pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// The default idle timeout: a session unused for 24 hours ends (and a stateless session
/// token lasts this long).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// The default lifetime of an access token of a stored session: 15 minutes.
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// The default request body limit: 16 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024;
/// The default number of mails being handed to the mailer at once; see
/// [`UsersState::mail_concurrency`].
pub const DEFAULT_MAIL_CONCURRENCY: usize = 32;
/// The default issuer that authenticator apps show beside a TOTP: see
/// [`UsersState::totp_issuer`].
pub const DEFAULT_TOTP_ISSUER: &str = "users";
/// The default name of the role that may administer roles.
pub const DEFAULT_ADMIN_ROLE: &str = "admin";

/// Everything the routes, the [`CurrentUser`] extractor and the guards need, for the user
/// model `U`: the manager and connection pool (whatever the role model and connection type),
/// the [`Mailer`], the [`Revocations`] list and the session settings.
///
/// Cloning it is cheap. Give it to [`router`](crate::router); to use the extractors in your own
/// handlers with your own state, implement [`FromRef`](axum::extract::FromRef) for it:
///
/// ```
/// # use users_axum::{Profile, UsersState};
/// # use users_diesel::prelude::*;
/// # #[user_model] pub struct User {}
/// # impl Profile for User {
/// #     type Fields = users_axum::NoProfile;
/// #     fn profile(&self) -> Self::Fields { users_axum::NoProfile {} }
/// #     fn set_profile(&mut self, _: Self::Fields) {}
/// # }
/// use axum::extract::FromRef;
///
/// #[derive(Clone)]
/// struct AppState {
///     users: UsersState<User>,
///     // … the application's own things
/// }
///
/// impl FromRef<AppState> for UsersState<User> {
///     fn from_ref(state: &AppState) -> Self {
///         state.users.clone()
///     }
/// }
/// ```
pub struct UsersState<U: UserModel> {
    pooled: Arc<dyn PooledUsers<U>>,
    #[cfg(feature = "passkeys")]
    passkeys: Option<Arc<crate::passkeys::Passkeys>>,
    #[cfg(feature = "oidc")]
    oauth: Option<Arc<crate::oauth::OAuth>>,
    signer: Arc<TokenSigner>,
    mailer: Arc<dyn Mailer<U>>,
    revocations: Arc<dyn Revocations>,
    mail_slots: Arc<Semaphore>,
    settings: Arc<Settings>,
}

/// A function that names the client of a request, for the login throttle: see
/// [`UsersState::client_key`].
pub type ClientKey = fn(&Parts) -> Option<String>;

/// The default [`ClientKey`]: the peer's IP address, from axum's
/// [`ConnectInfo`](axum::extract::ConnectInfo) (serve the app with
/// `into_make_service_with_connect_info::<SocketAddr>()`); `None` without it, and then only
/// the account is throttled. Headers such as `X-Forwarded-For` are not read: any client can
/// write them.
pub fn peer_ip(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_string())
}

#[derive(Clone, Debug)]
struct Settings {
    sessions: SessionPolicy,
    stored: bool,
    totp_issuer: String,
    cookie: Option<String>,
    admin_role: String,
    body_limit: usize,
    client_key: ClientKey,
    origins: Vec<String>,
    openapi_json: Option<String>,
    #[cfg(feature = "scalar")]
    docs: Option<String>,
}

impl<U: Profile> UsersState<U> {
    /// The state for a manager over a deadpool pool of connections `C` (any diesel-async
    /// connection of an enabled backend, e.g.
    /// [`AsyncSqliteConnection`](users_diesel::asynchronous::AsyncSqliteConnection)), with
    /// `mailer` delivering the verification and reset tokens.
    ///
    /// Defaults: sessions are stored (the `users_sessions` table of
    /// [`Sessions<U>`](users_diesel::Sessions), which the application's migrations create:
    /// `Migrations::new().with::<User>().with::<Sessions<User>>()`), last at most
    /// [`DEFAULT_SESSION_LIFETIME`] and end after [`DEFAULT_IDLE_TIMEOUT`] unused, with access
    /// tokens of [`DEFAULT_ACCESS_TOKEN_LIFETIME`] and refresh tokens, as bearer tokens only (no
    /// cookie); role administration needs the role [`DEFAULT_ADMIN_ROLE`]; request bodies are
    /// limited to [`DEFAULT_BODY_LIMIT`]; logins are throttled per client by [`peer_ip`]; at
    /// most [`DEFAULT_MAIL_CONCURRENCY`] mails are handed to the mailer at once.
    pub fn new<R, C>(users: AsyncUsers<U, R>, pool: Pool<C>, mailer: impl Mailer<U>) -> Self
    where
        U: AsyncUserStore<C>,
        U::Sessions: AsyncSessionStore<C>,
        U::SecondFactors: AsyncSecondFactorStore<C>,
        U::OAuthAccounts: AsyncOAuthAccountStore<C>,
        R: AsyncRoleStore<C, User = U>,
        C: Send + 'static,
        AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
    {
        UsersState {
            #[cfg(feature = "passkeys")]
            passkeys: None,
            #[cfg(feature = "oidc")]
            oauth: None,
            signer: Arc::new(TokenSigner::new(users.config())),
            // The tables of the default set-up: stored sessions and second factors (provider
            // links join with `oauth`, sessions leave with `stateless_sessions`).
            pooled: Arc::new(Pooled {
                users: users.first_proof_clears(FirstProofClears {
                    sessions: true,
                    second_factors: true,
                    provider_links: false,
                }),
                pool,
            }),
            mailer: Arc::new(mailer),
            revocations: Arc::new(MemoryRevocations::new()),
            mail_slots: Arc::new(Semaphore::new(DEFAULT_MAIL_CONCURRENCY)),
            settings: Arc::new(Settings {
                sessions: SessionPolicy {
                    lifetime: DEFAULT_SESSION_LIFETIME,
                    idle_timeout: DEFAULT_IDLE_TIMEOUT,
                    access_token_lifetime: DEFAULT_ACCESS_TOKEN_LIFETIME,
                },
                stored: true,
                totp_issuer: DEFAULT_TOTP_ISSUER.to_owned(),
                cookie: None,
                admin_role: DEFAULT_ADMIN_ROLE.to_owned(),
                body_limit: DEFAULT_BODY_LIMIT,
                client_key: peer_ip,
                origins: Vec::new(),
                openapi_json: None,
                #[cfg(feature = "scalar")]
                docs: None,
            }),
        }
    }

    /// Sets the absolute lifetime of a session from login, in whole seconds: its refresh
    /// token, and its cookie, last this long at most, however busy the session.
    pub fn session_lifetime(mut self, lifetime: Duration) -> Self {
        Arc::make_mut(&mut self.settings).sessions.lifetime = lifetime;
        self
    }

    /// Sets how long a session may go unused before it ends (Devise's `:timeoutable`): each
    /// request pushes the deadline back (written at most once a minute). A stateless session
    /// token lasts this long.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.settings).sessions.idle_timeout = timeout;
        self
    }

    /// Sets how long each access token of a stored session lasts, in whole seconds; a client
    /// swaps its refresh token for a new one at `POST /auth/refresh`.
    pub fn access_token_lifetime(mut self, lifetime: Duration) -> Self {
        Arc::make_mut(&mut self.settings)
            .sessions
            .access_token_lifetime = lifetime;
        self
    }

    /// Uses stateless session tokens instead of stored sessions: no session table and no
    /// database read for the session on each request (the user is still loaded), but no
    /// refresh tokens, no list of sessions, and a logout holds only as far as the
    /// [`Revocations`] list reaches: [`MemoryRevocations`], one process until it restarts, by
    /// default; [`RedisRevocations`](crate::RedisRevocations) (feature `redis`) for many. A
    /// token lasts the idle timeout and cannot be extended. The session routes answer 404
    /// `not_found`.
    pub fn stateless_sessions(mut self) -> Self {
        Arc::make_mut(&mut self.settings).stored = false;
        let mut clears = self.first_proof_clearing();
        clears.sessions = false;
        self.pooled = self.pooled.first_proof_clears(clears);
        self
    }

    /// What the manager clears at an address's first proof, as the routes served need.
    fn first_proof_clearing(&self) -> FirstProofClears {
        FirstProofClears {
            sessions: self.stored(),
            second_factors: true,
            #[cfg(feature = "oidc")]
            provider_links: self.oauth.is_some(),
            #[cfg(not(feature = "oidc"))]
            provider_links: false,
        }
    }

    /// Also accepts cookie-authenticated state-changing requests from these origins
    /// (`https://admin.example.com`), besides the application's own. By default only requests
    /// from the application's own origin are: a page of another port or a sibling subdomain
    /// is same-site, so `SameSite=Strict` lets the cookie through, and only the origin check
    /// refuses it.
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Arc::make_mut(&mut self.settings).origins = origins
            .into_iter()
            .map(|origin| origin.into().trim_end_matches('/').to_ascii_lowercase())
            .collect();
        self
    }

    /// Also keeps sessions in a cookie named `name`: login sets it (HttpOnly, Secure,
    /// SameSite=Strict, Path=/, no Domain), logout clears it, and the extractors read it when a
    /// request has no `Authorization` header. A logout by cookie must be a same-site request
    /// (else 403 `forbidden`).
    ///
    /// Name it with the `__Host-` prefix, `"__Host-session"`: browsers then accept the cookie
    /// only from a secure origin, with `Path=/` and without `Domain`, so neither a sibling
    /// subdomain nor a plain-HTTP page can plant or overwrite it (session fixation). The cookie
    /// this sets meets those rules; over plain HTTP, browsers keep it only for `localhost`.
    /// `UsersState::new(manager, pool, mailer).session_cookie("__Host-session")?`.
    ///
    /// # Errors
    ///
    /// [`UsersError::Config`] if `name` is not a valid cookie name.
    pub fn session_cookie(mut self, name: impl Into<String>) -> Result<Self, UsersError> {
        let name = name.into();
        if !session::is_cookie_name(&name) {
            return Err(UsersError::Config(format!(
                "{name:?} is not a valid cookie name"
            )));
        }
        Arc::make_mut(&mut self.settings).cookie = Some(name);
        Ok(self)
    }

    /// Sets the name authenticator apps show beside a TOTP this application enrols (the
    /// `otpauth://` URI's issuer): your application's name. [`DEFAULT_TOTP_ISSUER`] otherwise.
    pub fn totp_issuer(mut self, issuer: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.settings).totp_issuer = issuer.into();
        self
    }

    /// Turns passkeys on (feature `passkeys`): registration under `/users/me/passkeys`,
    /// passwordless sign-in at `/auth/passkey/…`, and a passkey as the second factor of a
    /// password login. `rp_id` is the site's domain (`example.com`), `rp_origin` the origin
    /// browsers see (`https://example.com`), which must be that domain or a subdomain of it.
    ///
    /// # Errors
    ///
    /// [`UsersError::Config`] if the origin is no URL or is not of the domain.
    #[cfg(feature = "passkeys")]
    pub fn passkeys(mut self, rp_id: &str, rp_origin: &str) -> Result<Self, UsersError> {
        let party = crate::passkeys::Passkeys::new(rp_id, rp_origin, self.pooled.config())?;
        self.passkeys = Some(Arc::new(party));
        Ok(self)
    }

    /// Turns sign-in with a provider on (feature `oidc`): the routes
    /// `GET /auth/{provider}/authorize`, `GET /auth/{provider}/callback`,
    /// `POST /auth/{provider}/associate`, `GET /users/me/oauth` and
    /// `DELETE /users/me/oauth/{provider}` for the providers of `settings` (see
    /// [`OAuthSettings::from_env`](crate::OAuthSettings::from_env) for settings from the
    /// environment). The accounts are the `users_oauth_accounts` table of
    /// [`OAuthAccounts<U>`](users_diesel::OAuthAccounts), which the application's migrations
    /// create: `Migrations::new().with::<User>()…with::<OAuthAccounts<User>>()`.
    ///
    /// # Errors
    ///
    /// [`UsersError::Config`] for a public URL or provider URL that does not parse, a provider
    /// name unfit for a route, or a name used twice.
    #[cfg(feature = "oidc")]
    pub fn oauth(mut self, settings: crate::OAuthSettings) -> Result<Self, UsersError> {
        let oauth = crate::oauth::OAuth::new(settings, self.pooled.config())?;
        self.oauth = Some(Arc::new(oauth));
        self.pooled = self.pooled.first_proof_clears(self.first_proof_clearing());
        Ok(self)
    }

    /// Sets the role that `POST /roles` and the assignment routes require.
    pub fn admin_role(mut self, name: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.settings).admin_role = name.into();
        self
    }

    /// Sets the largest request body the routes accept, in bytes; a larger one is answered
    /// 413 `payload_too_large`.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        Arc::make_mut(&mut self.settings).body_limit = bytes;
        self
    }

    /// Sets how `POST /auth/login` names the client whose failed logins it counts (besides the
    /// account's): by default [`peer_ip`]. Behind a reverse proxy every peer is the proxy, so
    /// an application there names the client from the header its proxy sets, and only then:
    ///
    /// ```
    /// # use users_axum::UsersState;
    /// use axum::http::request::Parts;
    ///
    /// /// The address our own proxy appends last to `X-Forwarded-For`.
    /// fn proxied_client(parts: &Parts) -> Option<String> {
    ///     let forwarded = parts.headers.get("x-forwarded-for")?.to_str().ok()?;
    ///     Some(forwarded.rsplit(',').next()?.trim().to_owned())
    /// }
    /// # fn configure<U: users_axum::Profile>(state: UsersState<U>) -> UsersState<U> {
    /// state.client_key(proxied_client)
    /// # }
    /// ```
    pub fn client_key(mut self, key: ClientKey) -> Self {
        Arc::make_mut(&mut self.settings).client_key = key;
        self
    }

    /// Sets how many mails are handed to the mailer at once. Each is sent in a task of its
    /// own; when all `mails` slots are taken, a further mail is dropped and logged rather than
    /// queued, so a flood of requests cannot pile up tasks (the mail cap per address,
    /// `UsersConfig::mail_limit`, keeps any one inbox from being flooded).
    pub fn mail_concurrency(mut self, mails: usize) -> Self {
        self.mail_slots = Arc::new(Semaphore::new(mails));
        self
    }

    /// Serves the router's OpenAPI document ([`openapi`](crate::openapi), with the cookie
    /// scheme if sessions use a cookie) at `GET path`, e.g. `/openapi.json`. Off by default.
    pub fn openapi_json(mut self, path: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.settings).openapi_json = Some(path.into());
        self
    }

    /// Serves interactive docs ([Scalar](https://scalar.com)) of the OpenAPI document at
    /// `GET path`, e.g. `/docs` (feature `scalar`). Off by default.
    #[cfg(feature = "scalar")]
    pub fn interactive_docs(mut self, path: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.settings).docs = Some(path.into());
        self
    }

    /// Replaces the list that remembers logged-out stateless sessions (see
    /// [`stateless_sessions`](Self::stateless_sessions)).
    pub fn revocations(mut self, revocations: impl Revocations) -> Self {
        self.revocations = Arc::new(revocations);
        self
    }

    /// Starts a session for `user`, as `POST /auth/login` does after checking the password:
    /// for an application's own ways of logging a user in. `origin` is what the session list
    /// shows of where it came from.
    ///
    /// # Errors
    ///
    /// A database or pool failure (500 `internal`).
    pub async fn start_session(
        &self,
        user: &U,
        origin: SessionOrigin,
    ) -> Result<NewSession, ApiError> {
        if !self.settings.stored {
            let lifetime = self.stateless_lifetime();
            let token = self
                .signer
                .issue(TokenPurpose::Session, user, SystemTime::now(), lifetime);
            return Ok(NewSession {
                cookie_token: token.clone(),
                access_token: token,
                expires_in: lifetime,
                refresh_token: None,
                cookie_lifetime: lifetime,
            });
        }
        let tokens = self
            .pooled
            .start_session(user, origin, self.policy())
            .await?;
        Ok(self.new_session(user, tokens))
    }

    /// A layer for [`Router::route_layer`](axum::Router::route_layer) that refuses requests
    /// without a valid session (401).
    pub fn require_login(&self) -> GuardLayer<U> {
        guard::layer(self.clone(), Rule::Login)
    }

    /// A layer that refuses requests without a valid session (401) or whose user has not
    /// verified their email address (403 `unverified_user`).
    pub fn require_verified(&self) -> GuardLayer<U> {
        guard::layer(self.clone(), Rule::Verified)
    }

    /// A layer that refuses requests without a valid session (401) or whose user lacks the
    /// role `name` (403 `forbidden`). The name is compared after
    /// [`normalize_role_name`](users_diesel::normalize_role_name), as the manager compares it.
    ///
    /// # Panics
    ///
    /// If `name` is no valid role name (empty, over 64 characters, with invisible
    /// characters): a guard no one could pass is a configuration error, reported when the
    /// router is built rather than as a 403 to every request.
    pub fn require_role(&self, name: impl Into<String>) -> GuardLayer<U> {
        let names = guarded_names("require_role", [name.into()]);
        guard::layer(self.clone(), Rule::Roles(names, true))
    }

    /// A layer that refuses requests without a valid session (401) or whose user has none of
    /// the roles named (403 `forbidden`).
    ///
    /// # Panics
    ///
    /// If `names` is empty or one of them is no valid role name, as
    /// [`require_all_roles`](Self::require_all_roles).
    pub fn require_any_role<I, S>(&self, names: I) -> GuardLayer<U>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names = guarded_names("require_any_role", names);
        guard::layer(self.clone(), Rule::Roles(names, false))
    }

    /// A layer that refuses requests without a valid session (401) or whose user lacks one of
    /// the roles named (403 `forbidden`).
    ///
    /// # Panics
    ///
    /// If `names` is empty: "every role of none" holds for every user, so such a guard would
    /// admit anyone with a session, which is never what a role guard is written for (an empty
    /// list usually comes from a configuration that failed to load). Use
    /// [`require_login`](Self::require_login) to admit every user. Also if one of the names is
    /// no valid role name (see [`require_role`](Self::require_role)). The panic happens when the
    /// router is built, before it serves a request.
    pub fn require_all_roles<I, S>(&self, names: I) -> GuardLayer<U>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names = guarded_names("require_all_roles", names);
        guard::layer(self.clone(), Rule::Roles(names, true))
    }
}

/// The role names of a guard, checked: at least one, each a valid role name.
fn guarded_names<I, S>(guard: &str, names: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let names: Vec<String> = names.into_iter().map(Into::into).collect();
    assert!(
        !names.is_empty(),
        "users-axum: {guard} of no roles is a configuration error: name at least one role \
         (require_login admits every user)"
    );
    for name in &names {
        if let Err(error) = users_diesel::normalize_role_name(name) {
            panic!("users-axum: {guard}({name:?}) is a configuration error: {error}");
        }
    }
    names
}

impl<U: UserModel> UsersState<U> {
    pub(crate) fn pooled(&self) -> &dyn PooledUsers<U> {
        &*self.pooled
    }

    /// How long stored sessions and their tokens last.
    pub(crate) fn policy(&self) -> &SessionPolicy {
        &self.settings.sessions
    }

    /// The relying party of passkeys, if they are on.
    #[cfg(feature = "passkeys")]
    pub(crate) fn passkey_party(&self) -> Option<&crate::passkeys::Passkeys> {
        self.passkeys.as_deref()
    }

    /// The providers users sign in with, if any are set up.
    #[cfg(feature = "oidc")]
    pub(crate) fn oauth_providers(&self) -> Option<&crate::oauth::OAuth> {
        self.oauth.as_deref()
    }

    /// The issuer of the TOTPs this application enrols.
    pub(crate) fn issuer(&self) -> &str {
        &self.settings.totp_issuer
    }

    /// Whether sessions are stored (else stateless).
    pub(crate) fn stored(&self) -> bool {
        self.settings.stored
    }

    /// How long a stateless session token lasts: the idle timeout, within the lifetime.
    fn stateless_lifetime(&self) -> Duration {
        let policy = self.policy();
        policy.idle_timeout.min(policy.lifetime)
    }

    /// What a login answers for the stored session `tokens` of `user`: its access and refresh
    /// tokens, and for the cookie (if cookies are on) an access token that lasts as long as
    /// the session, since every request checks the session's row anyway and a browser has no
    /// use for a refresh token.
    pub(crate) fn new_session(&self, user: &U, tokens: SessionTokens) -> NewSession {
        let now = SystemTime::now();
        let left = self.policy().refresh_lifetime(&tokens.session, now);
        // To the nearest second: a session of 30 days has a cookie of 30 days.
        let cookie_lifetime = Duration::from_secs((left.as_millis() as u64 + 500) / 1000);
        let cookie_token = match self.cookie() {
            Some(_) => self
                .signer
                .issue_session(user, tokens.session.id, now, cookie_lifetime),
            None => String::new(),
        };
        NewSession {
            access_token: tokens.access_token,
            expires_in: tokens.expires_in,
            refresh_token: Some(tokens.refresh_token),
            cookie_token,
            cookie_lifetime,
        }
    }

    /// Where the session of a login request comes from: its `User-Agent` and client key.
    pub(crate) fn origin(&self, parts: &Parts) -> SessionOrigin {
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|agent| agent.to_str().ok())
            .map(str::to_owned);
        SessionOrigin {
            user_agent,
            client: self.client(parts),
        }
    }

    pub(crate) fn cookie(&self) -> Option<&str> {
        self.settings.cookie.as_deref()
    }

    pub(crate) fn admin(&self) -> &str {
        &self.settings.admin_role
    }

    pub(crate) fn limit(&self) -> usize {
        self.settings.body_limit
    }

    /// The request's client key for the login throttle.
    pub(crate) fn client(&self, parts: &Parts) -> Option<String> {
        (self.settings.client_key)(parts)
    }

    pub(crate) fn openapi_path(&self) -> Option<&str> {
        self.settings.openapi_json.as_deref()
    }

    #[cfg(feature = "scalar")]
    pub(crate) fn docs_path(&self) -> Option<&str> {
        self.settings.docs.as_deref()
    }

    pub(crate) fn revocation_list(&self) -> &dyn Revocations {
        &*self.revocations
    }

    /// The request's session token, if it carries one (an empty one is none).
    fn session_token<'a>(&self, parts: &'a Parts) -> Option<&'a str> {
        session::request_token(parts, self.cookie()).filter(|token| !token.is_empty())
    }

    /// Whether the request carries a session token, valid or not.
    pub(crate) fn carries_session(&self, parts: &Parts) -> bool {
        self.session_token(parts).is_some()
    }

    /// The user of the request's session, checked: the token opens (signature, purpose,
    /// expiry), was not logged out, belongs to a user whose password has not changed since,
    /// and that user is active (and verified, where the configuration requires it).
    pub(crate) async fn authenticate(&self, parts: &Parts) -> Result<CurrentUser<U>, ApiError> {
        let current = self.session_of(parts).await?;
        if !current.user.is_active() {
            return Err(UsersError::InactiveUser.into());
        }
        if self.pooled.config().requires_verified() && !current.user.is_verified() {
            return Err(UsersError::UnverifiedUser.into());
        }
        Ok(current)
    }

    /// The user of the request's session, whatever the account's state: the token opens, its
    /// session is live (stored sessions: its row exists, for this user, and has not timed
    /// out) or was not logged out (stateless), and it belongs to a user whose password has not
    /// changed since. What a logout needs, so that a deactivated (or unverified) user can
    /// still end a session.
    ///
    /// A state-changing request (any method but `GET`, `HEAD` and `OPTIONS`) authenticated by
    /// the cookie alone must come from the application's own origin or one of
    /// [`allowed_origins`](Self::allowed_origins), whatever its body: else 403 `forbidden`.
    pub(crate) async fn session_of(&self, parts: &Parts) -> Result<CurrentUser<U>, ApiError> {
        let token = self
            .session_token(parts)
            .ok_or_else(ApiError::unauthorized)?;
        if self.cookie().is_some()
            && !parts.headers.contains_key(AUTHORIZATION)
            && !parts.method.is_safe()
            && session::is_foreign_origin(&parts.headers, &parts.uri, &self.settings.origins)
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "a request from another origin cannot use the session cookie to change anything",
            ));
        }
        let opened = session::open(&self.signer, token).ok_or_else(ApiError::invalid_session)?;
        let user = if self.stored() {
            self.pooled
                .session_user(&opened.token, self.policy())
                .await?
        } else {
            let revoked = self
                .revocations
                .is_revoked(opened.token.id())
                .await
                .map_err(|error| ApiError::logged(&error))?;
            if revoked {
                return Err(ApiError::invalid_session());
            }
            self.pooled.get(opened.token.user_id().into()).await?
        };
        let user = user.ok_or_else(ApiError::invalid_session)?;
        self.signer
            .check_user(&opened.token, &user)
            .map_err(|_| ApiError::invalid_session())?;
        Ok(CurrentUser {
            user,
            session: opened.session(),
        })
    }

    /// The guarded check (users-core's, [`GuardKeys`] and [`ProofOutcome`]) around `check`, a
    /// proof of kind `proof` for `account` (a normalised email) from the request's client,
    /// checked here rather than by a manager operation (a passkey assertion, a token that
    /// names its account only once opened): refused while locked out, its failure counted,
    /// its success forgiving the account's failures of that kind.
    pub(crate) async fn guarded<T>(
        &self,
        proof: Proof,
        account: Option<&str>,
        parts: &Parts,
        check: impl std::future::Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let client = self.client(parts);
        let keys = GuardKeys::new(proof, account, client.as_deref());
        self.pooled.check_guard(&keys).await?;
        let outcome = check.await;
        let settled = match &outcome {
            Ok(_) => ProofOutcome::Proved,
            Err(error) if error.is_failed(proof) => ProofOutcome::Failed,
            Err(_) => ProofOutcome::Neither,
        };
        self.pooled.settle_guard(&keys, settled).await?;
        outcome
    }

    /// Hands `token` for `user` to the mailer in a task of its own, so the response neither
    /// waits for it nor depends on it; drops it, logged, if every mail slot is taken.
    pub(crate) fn mail(&self, mail: Mail<U>) {
        let kind = mail.kind;
        let Ok(slot) = Arc::clone(&self.mail_slots).try_acquire_owned() else {
            tracing::error!("users-axum: every mail slot is taken, a {kind:?} message is dropped");
            return;
        };
        let mailer = Arc::clone(&self.mailer);
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(error) = mailer.send(mail).await {
                tracing::error!(
                    "users-axum: the mailer failed to send a {kind:?} message: {error}"
                );
            }
        });
    }
}

impl<U: UserModel> Clone for UsersState<U> {
    fn clone(&self) -> Self {
        UsersState {
            #[cfg(feature = "passkeys")]
            passkeys: self.passkeys.clone(),
            #[cfg(feature = "oidc")]
            oauth: self.oauth.clone(),
            pooled: Arc::clone(&self.pooled),
            signer: Arc::clone(&self.signer),
            mailer: Arc::clone(&self.mailer),
            revocations: Arc::clone(&self.revocations),
            mail_slots: Arc::clone(&self.mail_slots),
            settings: Arc::clone(&self.settings),
        }
    }
}

impl<U: UserModel> fmt::Debug for UsersState<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsersState")
            .field("user_table", &U::TABLE)
            .field("config", self.pooled.config())
            .field("sessions", &self.settings.sessions)
            .field("stored_sessions", &self.settings.stored)
            .field("session_cookie", &self.settings.cookie)
            .field("admin_role", &self.settings.admin_role)
            .field("body_limit", &self.settings.body_limit)
            .finish_non_exhaustive()
    }
}
