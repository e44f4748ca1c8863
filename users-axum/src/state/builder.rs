//! The settings of [`UsersState`], each a builder method.

use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::Manager;
use tokio::sync::Semaphore;
use users_diesel::asynchronous::deadpool::Pool;
use users_diesel::asynchronous::diesel_async::pooled_connection::PoolError;
use users_diesel::asynchronous::AsyncDieselConnectionManager;
use users_diesel::{
    AsyncOrgStore, AsyncUserStore, AsyncUsers, FirstProofClears, RoleModel, UsersError,
};

use super::{ClientKey, UsersState};
use crate::session::{self, Revocations};
use crate::Profile;

impl<U: Profile> UsersState<U> {
    /// Serves organizations of the `#[org_model]` `O` (the routes under `/orgs` and
    /// `POST /invitations/accept`, and the [`OrgMember`](crate::OrgMember) and
    /// [`HasOrgPermission`](crate::HasOrgPermission) extractors), through `users` (the manager,
    /// whose configuration declares the organization roles) over `pool`:
    /// `state.organizations::<Org, _, _>(users.clone(), pool.clone())`. Without it those routes
    /// answer 404 `not_found`.
    pub fn organizations<O, R, C>(mut self, users: AsyncUsers<U, R>, pool: Pool<C>) -> Self
    where
        U: AsyncUserStore<C>,
        U::Events: users_diesel::AsyncEventStore<C>,
        R: RoleModel,
        O: AsyncOrgStore<C, User = U>,
        C: Send + 'static,
        AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
    {
        self.orgs = Some(Arc::new(crate::orgs::PooledOrgs::<U, R, O, C> {
            users,
            pool,
            org: std::marker::PhantomData,
        }));
        self
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
    /// [`Revocations`] list reaches: [`MemoryRevocations`](crate::MemoryRevocations), one process until it restarts, by
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

    /// Mails the account's own address a [`MailKind::SecurityNotice`](crate::MailKind) for
    /// what `notices` names (a sign-in from a new client, a password change, a removed factor
    /// or passkey, a linked provider): none by default. `Notices::ALL` turns on every one.
    pub fn notices(mut self, notices: super::Notices) -> Self {
        Arc::make_mut(&mut self.settings).notices = notices;
        self
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
            return Err(UsersError::config(
                "session_cookie",
                format!("{name:?} is not a valid cookie name"),
            ));
        }
        Arc::make_mut(&mut self.settings).cookie = Some(name);
        Ok(self)
    }

    /// Sets the name authenticator apps show beside a TOTP this application enrols (the
    /// `otpauth://` URI's issuer): your application's name. [`DEFAULT_TOTP_ISSUER`](crate::DEFAULT_TOTP_ISSUER) otherwise.
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
    /// account's): by default [`peer_ip`](crate::peer_ip). Behind a reverse proxy every peer is the proxy, so
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
}
