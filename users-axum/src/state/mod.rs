//! [`UsersState`]: the manager, the pool, the mailer and the session settings the routes,
//! extractors and guards share. Its settings are in `builder`; what runs per request (a
//! session started, read and checked, a guarded proof, a mail) in `request`.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use deadpool::managed::Manager;
use tokio::sync::Semaphore;
use users_diesel::asynchronous::deadpool::Pool;
use users_diesel::asynchronous::diesel_async::pooled_connection::PoolError;
use users_diesel::asynchronous::AsyncDieselConnectionManager;
use users_diesel::{
    AsyncOAuthAccountStore, AsyncRoleStore, AsyncSecondFactorStore, AsyncSessionStore,
    AsyncUserStore, AsyncUsers, FirstProofClears, SessionPolicy, TokenSigner, UserModel,
};

use crate::mailer::Mailer;
use crate::pooled::{Pooled, PooledUsers};
use crate::session::{MemoryRevocations, Revocations};
use crate::Profile;

mod builder;
mod request;

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

/// Everything the routes, the [`CurrentUser`](crate::CurrentUser) extractor and the guards need, for the user
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
    orgs: Option<Arc<dyn crate::orgs::Orgs<U>>>,
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

/// Which security notices the routes mail to an account's own address
/// ([`MailKind::SecurityNotice`](crate::MailKind::SecurityNotice)), as
/// [`UsersState::notices`] sets them: none by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Notices {
    /// A session started from a client (IP address) the account had not started one from
    /// before. Needs stored sessions and a manager that records events
    /// (`AsyncUsers::record_events`): the account's history says which clients it used.
    pub new_client_sign_in: bool,
    /// The password was changed (`PATCH /users/me`).
    pub password_changed: bool,
    /// The TOTP second factor or a passkey was removed.
    pub factor_removed: bool,
    /// A provider account was linked.
    pub provider_linked: bool,
}

impl Notices {
    /// No notice.
    pub const NONE: Notices = Notices {
        new_client_sign_in: false,
        password_changed: false,
        factor_removed: false,
        provider_linked: false,
    };

    /// Every notice.
    pub const ALL: Notices = Notices {
        new_client_sign_in: true,
        password_changed: true,
        factor_removed: true,
        provider_linked: true,
    };
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
    notices: Notices,
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
        U::Events: users_diesel::AsyncEventStore<C>,
        R: AsyncRoleStore<C, User = U>,
        C: Send + 'static,
        AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
    {
        UsersState {
            #[cfg(feature = "passkeys")]
            passkeys: None,
            #[cfg(feature = "oidc")]
            oauth: None,
            orgs: None,
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
                notices: Notices::NONE,
                openapi_json: None,
                #[cfg(feature = "scalar")]
                docs: None,
            }),
        }
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
    // Normalised once here: the guard compares them with the user's stored (normalised) names.
    names
        .iter()
        .map(|name| match users_diesel::normalize_role_name(name) {
            Ok(normalized) => normalized,
            Err(error) => {
                panic!("users-axum: {guard}({name:?}) is a configuration error: {error}")
            }
        })
        .collect()
}

impl<U: UserModel> UsersState<U> {
    pub(crate) fn pooled(&self) -> &dyn PooledUsers<U> {
        &*self.pooled
    }

    /// The organization operations, or 404 `not_found` where organizations are not configured
    /// ([`organizations`](Self::organizations)).
    pub(crate) fn orgs(&self) -> Result<&dyn crate::orgs::Orgs<U>, crate::ApiError> {
        self.orgs.as_deref().ok_or_else(|| {
            crate::ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                crate::ErrorCode::NotFound,
                "organizations are not configured here",
            )
        })
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

    /// The notices this state mails.
    pub(crate) fn mailed_notices(&self) -> Notices {
        self.settings.notices
    }

    /// How long a stateless session token lasts: the idle timeout, within the lifetime.
    fn stateless_lifetime(&self) -> Duration {
        let policy = self.policy();
        policy.idle_timeout.min(policy.lifetime)
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
}

impl<U: UserModel> Clone for UsersState<U> {
    fn clone(&self) -> Self {
        UsersState {
            #[cfg(feature = "passkeys")]
            passkeys: self.passkeys.clone(),
            #[cfg(feature = "oidc")]
            oauth: self.oauth.clone(),
            orgs: self.orgs.clone(),
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
