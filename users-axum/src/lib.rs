//! An [axum](https://docs.rs/axum) integration of the users framework: a JSON router for
//! registration, login sessions, email verification, password reset, the user's own profile
//! and role administration; a [`CurrentUser`] extractor; and role, permission and verification
//! guards, as extractors ([`HasRole`], [`HasAnyRole`], [`HasAllRoles`], [`HasPermission`],
//! [`Verified`]) or as layers ([`UsersState::require_role`] and friends).
//!
//! ```no_run
//! use users_axum::{LogMailer, NoProfile, Profile, UsersState};
//! use users_diesel::asynchronous::{deadpool::Pool, sqlite_connection_manager};
//! use users_diesel::prelude::*;
//!
//! #[user_model]
//! pub struct User {}
//!
//! #[role_model]
//! pub struct Role {}
//!
//! impl Profile for User {
//!     type Fields = NoProfile;
//!     fn profile(&self) -> NoProfile { NoProfile {} }
//!     fn set_profile(&mut self, _: NoProfile) {}
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let pool = Pool::builder(sqlite_connection_manager("app.sqlite")).build()?;
//! let manager = AsyncUsers::<User, Role>::new(UsersConfig::new(std::env::var("USERS_SECRET")?)?);
//! let users = UsersState::new(manager, pool, LogMailer); // LogMailer: development only
//!
//! let app = axum::Router::new().merge(users_axum::router(users));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! In the application's own handlers, the extractors check the session and the guards:
//!
//! ```no_run
//! # use users_axum::{NoProfile, Profile};
//! # use users_diesel::prelude::*;
//! # #[user_model] pub struct User {}
//! # impl Profile for User {
//! #     type Fields = NoProfile;
//! #     fn profile(&self) -> NoProfile { NoProfile {} }
//! #     fn set_profile(&mut self, _: NoProfile) {}
//! # }
//! use axum::routing::{get, post};
//! use axum::Router;
//! use users_axum::{Admin, CurrentUser, HasRole, UsersState, Verified};
//!
//! async fn dashboard(user: CurrentUser<User>) -> String {
//!     format!("hello {}", user.email)
//! }
//!
//! async fn comment(user: Verified<User>) -> String {
//!     format!("{} may comment: their address is verified", user.email)
//! }
//!
//! async fn settings(admin: HasRole<Admin, User>) -> String {
//!     format!("{} has the admin role", admin.email)
//! }
//!
//! async fn reports() -> &'static str {
//!     "for admins and auditors"
//! }
//!
//! fn app(users: UsersState<User>) -> Router {
//!     Router::new()
//!         .route("/reports", get(reports))
//!         .route_layer(users.require_any_role(["admin", "auditor"])) // the routes above it
//!         .route("/dashboard", get(dashboard))
//!         .route("/comments", post(comment))
//!         .route("/settings", get(settings))
//!         .merge(users_axum::router(users.clone()))
//!         .with_state(users)
//! }
//! ```
//!
//! # Sessions
//!
//! Sessions are stored by default: each login is a row of the `users_sessions` table
//! ([`Sessions<U>`](users_diesel::Sessions), which the application's migrations create with
//! `Migrations::new().with::<User>().with::<Sessions<User>>()`), read by primary key on every
//! request, so a logout or an ended session holds in every process and across restarts.
//! `POST /auth/login` answers `{"access_token": "…", "token_type": "bearer", "expires_in": …,
//! "refresh_token": "…"}`: a short-lived access token (signed with the application secret,
//! purpose `Session`, bound to the user's password hash) and a refresh token that
//! `POST /auth/refresh` swaps, once, for a new pair; a retired refresh token presented again
//! ends the session. Sessions end after [`UsersState::idle_timeout`] unused and
//! [`UsersState::session_lifetime`] after login. `GET /users/me/sessions` lists the user's
//! sessions; `DELETE /users/me/sessions/{session_id}`, `DELETE /users/me/sessions` (all but
//! this one) and the administrator's `DELETE /users/{user_id}/sessions` end them. A password
//! change ends every other session and answers with new tokens for the caller's; a reset ends
//! them all. With [`UsersState::session_cookie`], login also sets an HttpOnly, Secure,
//! SameSite=Strict cookie.
//!
//! # Second factors
//!
//! A user can enrol a TOTP (`POST /users/me/mfa/totp`, confirmed with a first code at
//! `POST /users/me/mfa/totp/confirm`, which answers ten recovery codes). From then on
//! `POST /auth/login` answers `{"mfa_required": true, "mfa_token": "…", "methods": […]}`
//! instead of a session, and `POST /auth/mfa` with the token and a `code` or a
//! `recovery_code` completes the login. The tables come from
//! `Migrations::new().with::<User>().with::<SecondFactors<User>>()`. With the `passkeys`
//! feature and `UsersState::passkeys`, passkeys (WebAuthn, with webauthn-rs) register under
//! `/users/me/passkeys`, sign in without a password at `/auth/passkey/…`, and complete a
//! password login as its second factor (`POST /auth/mfa/passkey`, then `POST /auth/mfa`).
//!
//! # Sign in with a provider
//!
//! With the `oidc` feature and `UsersState::oauth` (settings in code, or
//! `OAuthSettings::from_env`), users sign up and sign in with any OpenID Connect provider (by
//! its issuer URL) and with GitHub: `GET /auth/{provider}/authorize` redirects to the provider
//! (PKCE, `state` and `nonce` sealed in a cookie of the browser), `GET /auth/{provider}/callback`
//! checks the answer and the ID token and answers as a login does; a logged-in user links
//! another provider with `POST /auth/{provider}/associate` and unlinks it with
//! `DELETE /users/me/oauth/{provider}`. The accounts are the `users_oauth_accounts` table of
//! [`OAuthAccounts<U>`](users_diesel::OAuthAccounts); the linking rules are users-core's.
//!
//! [`UsersState::stateless_sessions`] trades the session read for stateless tokens: no
//! refresh, no session list, and logouts remembered by the [`Revocations`] list (in memory, or
//! in Redis with the `redis` feature).
//!
//! # Errors
//!
//! Every refusal is JSON, `{"error": {"code": "…", "message": "…"}}` ([`ApiError`]):
//!
//! | code | status | when |
//! |---|---|---|
//! | `invalid_email` | 422 | a malformed email address; `error.reason` says which rule it broke (users-core's `EmailProblem::code`) |
//! | `invalid_password` | 422 | a password that breaks the password rules |
//! | `email_taken` | 409 | registration or email change to an address that has an account |
//! | `conflict` | 409 | a unique value of a custom column that another user has; a TOTP enrolment over a confirmed one, a confirmation or removal with nothing to confirm or remove |
//! | `invalid_credentials` | 401 | login with a wrong email or password; a wrong `current_password`; a wrong, replayed or used second-factor code |
//! | `inactive_user` | 403 | login or a session of a deactivated user |
//! | `unverified_user` | 403 | an unverified user where verification is required; enrolling a TOTP or a passkey, or linking a provider, before the address is verified |
//! | `already_verified` | 409 | verifying a verified user |
//! | `password_required` | 400 | `PATCH /users/me` with a new `email` or `password` but no `current_password`; `error.field` names it |
//! | `invalid_token` | 400 | a bad verification or reset token in a body |
//! | `invalid_token` | 401 | a bad, expired, logged-out or outdated session token; a bad, retired or replayed refresh token; a bad, expired or used `mfa_token` |
//! | `invalid_field` | 422 | a JSON member missing, unknown, repeated or mistyped, or whose value does not fit its column (a decimal too wide), or a bad query parameter; `error.field` names it |
//! | `user_not_found` | 404 | an unknown user in an admin route |
//! | `role_exists` | 409 | creating a role whose name is taken |
//! | `role_not_found` | 404 | assigning, revoking, deleting or filtering by an unknown role |
//! | `invalid_role_name` | 422 | a role name that is empty, over 64 characters or holds invisible characters |
//! | `unauthorized` | 401 | no session token |
//! | `forbidden` | 403 | a session without the role a route needs; a state-changing request by cookie from another origin |
//! | `bad_request` | 400 | a body that is not JSON, a bad path |
//! | `not_found` | 404 | no route has this path; no such session of the user; a session route with stateless sessions |
//! | `method_not_allowed` | 405 | the route does not take this method |
//! | `payload_too_large` | 413 | a body over the limit (16 KiB by default) |
//! | `too_many_attempts` | 429 | any proof of identity (password, code, passkey, token) while its kind's failures lock the account or client out; a mail route past the address's or the client's cap (`Retry-After`) |
//! | `overloaded` | 503 | every argon2 slot busy and its queue full; the throttle's memory full of live counters (`Retry-After: 1`) |
//! | `last_sign_in_method` | 409 | unlinking a provider that is the user's last way to sign in |
//! | `last_admin` | 409 | deleting the administrators' role, or taking it from, deactivating or deleting its last active holder |
//! | `invalid_state` | 400 | a provider callback whose flow this browser did not start, or that expired |
//! | `oauth_refused` | 400 | a provider's answer that does not check out: a code the provider will not exchange, an ID token with a bad signature, issuer, audience, expiry or nonce, another issuer's `iss` |
//! | `oauth_denied` | 400 | the provider answered an error (the person declined) |
//! | `oauth_account_taken` | 409 | linking a provider account that another user has linked |
//! | `oauth_provider_linked` | 409 | linking a second account of a provider the user has linked |
//! | `provider_unavailable` | 502 | a provider that cannot be reached or answers nonsense |
//! | `org_not_found` | 404 | an organization that does not exist, or of which the user is not a member (the same answer) |
//! | `org_exists` | 409 | an organization slug another organization has |
//! | `invalid_org_name` | 422 | an organization name or slug that is empty, too long or holds characters no name may |
//! | `not_permitted` | 403 | a member whose organization role lacks the permission |
//! | `last_owner` | 409 | leaving, removing or demoting an organization's last owner |
//! | `already_member` | 409 | inviting or adding a member of the organization |
//! | `invitation_not_found` | 404 | revoking an invitation the organization does not have pending |
//! | `invitation_for_another_address` | 403 | accepting or declining an invitation sent to another address |
//! | `too_many_invitations` | 429 | inviting past the organization's or the inviter's cap of pending invitations |
//! | `internal` | 500 | a database or pool failure; logged with `tracing`, never described |
#![deny(missing_docs, unsafe_code)]

mod answer;
mod api;
mod code;
mod error;
mod extract;
mod factors;
mod guard;
mod mailer;
#[cfg(feature = "oidc")]
mod oauth;
mod openapi;
mod orgs;
#[cfg(feature = "passkeys")]
mod passkeys;
mod pooled;
mod presence;
mod profile;
#[cfg(feature = "redis")]
mod redis;
mod routes;
mod schema;
#[cfg(any(feature = "passkeys", feature = "oidc"))]
mod sealed;
mod session;
mod state;

use std::future::Future;
use std::pin::Pin;

pub use code::ErrorCode;
pub use error::{ApiError, JsonBody};
pub use extract::{
    Admin, CurrentUser, HasAllRoles, HasAnyRole, HasPermission, HasRole, PermissionName, RoleName,
    RoleNames, Verified,
};
pub use guard::{Guard, GuardLayer, Requirement};
pub use mailer::{LogMailer, Mail, MailKind, Mailer, MemoryMailer};
#[cfg(feature = "oidc")]
pub use oauth::{OAuthProvider, OAuthSettings, DISCOVERY_LIFETIME, FLOW_LIFETIME, STATE_COOKIE};
pub use openapi::openapi;
pub use orgs::{HasOrgPermission, OrgMember};
pub use profile::{NoProfile, Profile};
#[cfg(feature = "redis")]
pub use redis::{RedisRevocations, RedisThrottleStore};
pub use routes::router;
pub use session::{MemoryRevocations, NewSession, Revocations, Session};
pub use state::{
    peer_ip, ClientKey, Notices, UsersState, DEFAULT_ACCESS_TOKEN_LIFETIME, DEFAULT_ADMIN_ROLE,
    DEFAULT_BODY_LIMIT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAIL_CONCURRENCY, DEFAULT_SESSION_LIFETIME,
    DEFAULT_TOTP_ISSUER,
};
/// The crate [`openapi`] builds its document with, for an application's own `ToSchema`
/// derives and for [`utoipa::openapi::OpenApi::merge`].
pub use utoipa;

/// A boxed `Send` future, as the [`Mailer`] and [`Revocations`] traits return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
