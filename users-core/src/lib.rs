//! The logic of the `users` framework, free of any database library.
//!
//! Applications use it through `users-diesel`, which re-exports everything here and adds the
//! `#[user_model]` / `#[role_model]` macros and the Diesel stores. This crate holds what every
//! application would otherwise rewrite: the model and store traits, email normalisation, argon2id
//! password hashing, signed verification and reset tokens, hooks, the error type, and the
//! [`Users`] manager that ties them together over any [`UserStore`].
//!
//! With the `async` feature, [`AsyncUsers`] offers the same operations over async stores
//! ([`AsyncUserStore`], [`AsyncRoleStore`]), with argon2 on Tokio's blocking pool.
#![deny(missing_docs, unsafe_code)]

// First: their macros write the operations of both managers and the methods of both kinds
// of store below.
#[macro_use]
mod operations;
#[macro_use]
mod store;
#[cfg(feature = "async")]
mod async_manager;
#[cfg(feature = "async")]
mod async_store;
mod config;
mod connections;
mod email;
mod error;
mod events;
mod factors;
mod gate;
mod hooks;
mod listing;
mod manager;
mod model;
mod oauth;
mod orgs;
mod password;
mod sessions;
mod text;
mod throttle;
mod token;

// The hand-written test model names the crate as its users do.
#[cfg(test)]
extern crate self as users_core;
#[cfg(test)]
mod tests;

#[cfg(feature = "async")]
pub use async_manager::AsyncUsers;
#[cfg(feature = "async")]
pub use async_store::TransactionFuture;
pub use config::{UsersConfig, MIN_SECRET_BYTES};
#[cfg(feature = "async")]
pub use connections::AsyncConnections;
pub use connections::Connections;
pub use email::{normalize_email, EmailProblem, MAX_EMAIL_BYTES};
pub use error::{ConfigError, UsersError};
#[cfg(feature = "async")]
pub use events::AsyncEventStore;
pub use events::{
    EventKind, EventQuery, EventSink, EventStore, SecurityEvent, SignIns, TracingSink, EVENT_QUEUE,
    MAX_EVENT_DETAIL_BYTES,
};
#[cfg(feature = "async")]
pub use factors::AsyncSecondFactorStore;
pub use factors::{
    totp_code, PasskeyRecord, Sealer, SecondFactorChallenge, SecondFactorMethod, SecondFactorProof,
    SecondFactorRecord, SecondFactorStore, TotpEnrollment, RECOVERY_CODES,
    SECOND_FACTOR_TOKEN_LIFETIME,
};
pub use gate::{Argon2Gate, GatePermit};
pub use hooks::{NoHooks, UsersHooks};
pub use listing::{UserListing, UserPage, UserQuery, MAX_PAGE_SIZE};
pub use manager::{
    client_key, FirstProofClears, GuardKeys, Proof, ProofOutcome, Users, MAX_CLIENT_KEY_BYTES,
};
pub use model::{ModelId, NoRoles, RoleModel, UserModel};
#[cfg(feature = "async")]
pub use oauth::AsyncOAuthAccountStore;
pub use oauth::{
    has_usable_password, unusable_password_hash, OAuthAccountRecord, OAuthAccountStore,
    OAuthSignIn, ProviderIdentity, ProviderTokens, MAX_PROVIDER_BYTES, MAX_SUBJECT_BYTES,
};
pub use orgs::{
    normalize_org_slug, NewInvitation, OrgInvitation, OrgMemberOf, OrgMembership, OrgModel,
    OrgRoles, OrgView, INVITATIONS_CREATE, INVITATIONS_READ, INVITATIONS_REVOKE,
    MAX_ORG_NAME_CHARS, MEMBERS_READ, MEMBERS_REMOVE, MEMBERS_UPDATE, ORG_ADMIN,
    ORG_ADMIN_PERMISSIONS, ORG_DELETE, ORG_MEMBER, ORG_MEMBER_PERMISSIONS, ORG_OWNER, ORG_UPDATE,
};
pub use password::{PasswordHasher, PasswordProblem, PasswordVerification};
/// Boxed futures that borrow a connection, as [`AsyncUserStore::transaction`] takes them.
#[cfg(feature = "async")]
pub use scoped_futures;
#[cfg(feature = "async")]
pub use sessions::AsyncSessionStore;
pub use sessions::{
    refresh_digest, NoStore, SessionCheck, SessionOrigin, SessionPolicy, SessionStore,
    SessionTokens, StoredSession, MAX_USER_AGENT_BYTES,
};
#[cfg(feature = "async")]
pub use store::{AsyncOrgStore, AsyncRoleStore, AsyncUserStore};
pub use store::{OrgStore, RoleStore, UserStore};
pub use text::{normalize_permission, normalize_role_name, MAX_ROLE_NAME_CHARS};
pub use throttle::{Counter, MemoryThrottleStore, ThrottleStore};
pub use token::{OpenedToken, TokenPurpose, TokenSigner};
pub use uuid::Uuid;
