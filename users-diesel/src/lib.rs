//! User models for Diesel in one attribute.
//!
//! `users-diesel` is the crate applications depend on. It re-exports the `#[user_model]` and
//! `#[role_model]` macros and everything in [`users_core`], and holds what touches Diesel: the
//! typed [`Id`], the portable [`sql_types`], the generated [`migrations`], the runtime check
//! [`verify_schema`], and the runtime the generated per-backend stores call.
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use diesel::prelude::*;
//! use diesel_migrations::MigrationHarness;
//! use users_diesel::prelude::*;
//!
//! #[user_model]
//! pub struct User {
//!     pub display_name: Option<String>,
//!     #[column(default = 0)]
//!     pub token_count: i32,
//! }
//!
//! let mut conn = SqliteConnection::establish(":memory:").unwrap();
//! conn.run_pending_migrations(Migrations::new().with::<User>()).unwrap();
//!
//! let alice = User {
//!     id: Id::new(),
//!     email: "alice@example.com".into(),
//!     password_hash: "(an argon2id PHC string)".into(),
//!     is_active: true,
//!     is_verified: false,
//!     display_name: Some("Alice".into()),
//!     token_count: 0,
//! };
//! diesel::insert_into(users::table).values(&alice).execute(&mut conn).unwrap();
//! let found: User = users::table.find(alice.id).first(&mut conn).unwrap();
//! assert_eq!(found, alice);
//! # }
//! ```
//!
//! Features: `sqlite` (default, bundled libsqlite3), `postgres`, `mysql` (MySQL and MariaDB),
//! `serde` (`Serialize`/`Deserialize` for [`Id`]), `async` ([`AsyncUsers`] over the diesel-async
//! connections of [`asynchronous`], with deadpool). The mapped types `chrono::DateTime<Utc>`,
//! `serde_json::Value` and `bigdecimal::BigDecimal` need no feature: Diesel's `chrono`,
//! `serde_json` and `numeric` features are always on (see [`sql_types`] for their storage).
#![deny(missing_docs, unsafe_code)]

#[cfg(feature = "async")]
mod async_store;
#[cfg(feature = "async")]
pub mod asynchronous;
mod dialect;
mod events;
mod exact;
mod factors;
mod id;
mod introspect;
pub mod migrations;
mod oauth;
mod orgs;
mod plan;
mod refusal;
pub mod schema;
mod sessions;
pub mod sql_types;
mod store;
mod throttle;
mod user_enum;
mod verify;

pub use events::Events;
pub use factors::SecondFactors;
pub use id::Id;
pub use introspect::{IntrospectSchema, LiveColumn, LiveIndexColumn};
pub use migrations::{Dialect, MigrationError, MigrationSql, Migrations, Refusal};
pub use oauth::OAuthAccounts;
pub use sessions::Sessions;
#[cfg(feature = "sqlite")]
pub use store::configure_sqlite;
pub use throttle::{DatabaseThrottleStore, Throttle, ThrottleSql};
pub use user_enum::UserEnum;
// users-core's surface, by topic (users-core is this crate's logic: its names are these).
// The manager, its configuration and its errors.
pub use users_core::{
    Argon2Gate, ConfigError, Connections, GatePermit, NoHooks, PasswordHasher, PasswordProblem,
    PasswordVerification, Users, UsersConfig, UsersError, UsersHooks, MIN_SECRET_BYTES,
};
// The models and their stores.
pub use users_core::{ModelId, NoRoles, RoleModel, RoleStore, UserModel, UserStore};
// Organizations.
pub use users_core::{
    normalize_org_slug, NewInvitation, OrgInvitation, OrgMemberOf, OrgMembership, OrgModel,
    OrgRoles, OrgStore, OrgView, INVITATIONS_CREATE, INVITATIONS_READ, INVITATIONS_REVOKE,
    MAX_ORG_NAME_CHARS, MEMBERS_READ, MEMBERS_REMOVE, MEMBERS_UPDATE, ORG_ADMIN,
    ORG_ADMIN_PERMISSIONS, ORG_DELETE, ORG_MEMBER, ORG_MEMBER_PERMISSIONS, ORG_OWNER, ORG_UPDATE,
};
// Addresses, role names and listing.
pub use users_core::{
    normalize_email, normalize_permission, normalize_role_name, EmailProblem, UserListing,
    UserPage, UserQuery, MAX_EMAIL_BYTES, MAX_PAGE_SIZE, MAX_ROLE_NAME_CHARS,
};
// Tokens, throttling and the guarded check.
pub use users_core::{
    client_key, Counter, FirstProofClears, GuardKeys, MemoryThrottleStore, OpenedToken, Proof,
    ProofOutcome, ThrottleStore, TokenPurpose, TokenSigner, MAX_CLIENT_KEY_BYTES,
};
// Stored sessions.
pub use users_core::{
    refresh_digest, NoStore, SessionCheck, SessionOrigin, SessionPolicy, SessionStore,
    SessionTokens, StoredSession, MAX_USER_AGENT_BYTES,
};
// Security events.
pub use users_core::{
    EventKind, EventQuery, EventSink, EventStore, SecurityEvent, SignIns, TracingSink, EVENT_QUEUE,
    MAX_EVENT_DETAIL_BYTES,
};
// Second factors and passkeys.
pub use users_core::{
    totp_code, PasskeyRecord, Sealer, SecondFactorChallenge, SecondFactorMethod, SecondFactorProof,
    SecondFactorRecord, SecondFactorStore, TotpEnrollment, RECOVERY_CODES,
    SECOND_FACTOR_TOKEN_LIFETIME,
};
// Provider sign-in.
pub use users_core::Uuid;
pub use users_core::{
    has_usable_password, unusable_password_hash, OAuthAccountRecord, OAuthAccountStore,
    OAuthSignIn, ProviderIdentity, ProviderTokens, MAX_PROVIDER_BYTES, MAX_SUBJECT_BYTES,
};
// The async manager and stores (feature `async`).
#[cfg(feature = "async")]
pub use users_core::{
    scoped_futures, AsyncConnections, AsyncEventStore, AsyncOAuthAccountStore, AsyncOrgStore,
    AsyncRoleStore, AsyncSecondFactorStore, AsyncSessionStore, AsyncUserStore, AsyncUsers,
    TransactionFuture,
};
/// Turns a struct into an organization model.
///
/// Keeps the struct's fields and puts these first: `id: Id<Self>` (a UUIDv7), `name: String`
/// and `slug: String` (normalised by [`normalize_org_slug`], unique), and last `created_at` and
/// `updated_at` (UTC, set by the store). Emits the organizations `table!`, the members table
/// (`user_id`, `org_id`, `role`, `joined_at`; the primary key on user and organization; both
/// foreign keys `ON DELETE CASCADE`; an index on `org_id`) and the invitations table (`id`,
/// `org_id`, the invited `email`, `role`, `invited_by`, the `token_digest` of the mailed token
/// (unique), `created_at`, `expires_at`, `accepted_at`; deleted with the organization or the
/// inviter), the joins with the user table, `OrgModel`, the stores, and `ModelSchema` for
/// [`Migrations`] (after the user model's). The manager's organization operations
/// (`create_org`, `invite_to_org`, `accept_invitation`, `has_org_permission`, …) take it.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::prelude::*;
/// use diesel_migrations::MigrationHarness;
/// use users_diesel::prelude::*;
///
/// #[user_model]
/// pub struct User {}
///
/// #[org_model]
/// pub struct Org {
///     #[column(default = 5)]
///     pub seats: i32,
/// }
///
/// let mut conn = SqliteConnection::establish(":memory:").unwrap();
/// conn.run_pending_migrations(Migrations::new().with::<User>().with::<Org>()).unwrap();
/// let users = Users::<User>::new(UsersConfig::new([7u8; 32])?);
/// let alice = users.register(&mut conn, "alice@example.com", "correct horse battery staple")?;
/// let acme: Org = users.create_org(&mut conn, &alice, "Acme Corp", None)?;
/// assert_eq!((acme.slug.as_str(), acme.seats), ("acme-corp", 5));
/// assert!(users.has_org_permission::<Org, _>(&mut conn, &alice, acme.id, "org.delete")?);
/// # }
/// # Ok::<(), users_diesel::UsersError>(())
/// ```
///
/// # Options
///
/// | option | effect |
/// |---|---|
/// | `table = "teams"` | the organizations table's name; default `orgs` |
/// | `members_table = "team_members"` | the members table's name; default `org_members` |
/// | `invitations_table = "team_invitations"` | the invitations table's name; default `org_invitations` |
/// | `user = path::to::Account` | the user model; default `User` in scope |
/// | `crate = my_app::users_diesel` | where `users_diesel` is |
/// | `dropped_columns = ["plan"]` | columns of the organizations table that earlier versions had and the migrations drop |
///
/// The `#[column(...)]` keys are those of [`user_model`].
pub use users_derive::org_model;
/// Turns a struct into a role model.
///
/// Keeps the struct's fields and puts these first: `id: Id<Self>`, `name: String` (unique) and
/// `description: Option<String>`. Emits the roles `table!`, the user↔role join table (`user_id`,
/// `role_id`, a composite primary key, both foreign keys `ON DELETE CASCADE`, an index on
/// `role_id`) with its struct, the `joinable!`s and `allow_tables_to_appear_in_same_query!`s,
/// `RoleModel`, the stores, and `ModelSchema` for [`Migrations`] (after the user model's, since
/// the join table references it).
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use users_diesel::prelude::*;
///
/// #[user_model(table = "accounts")]
/// pub struct Account {}
///
/// #[role_model(table = "groups", join_table = "memberships", user = Account)]
/// pub struct Group {
///     #[column(default = 0)]
///     pub level: i16,
/// }
///
/// let migrations = Migrations::new().with::<Account>().with::<Group>();
/// # let _ = migrations;
/// # }
/// ```
///
/// # Options
///
/// | option | effect |
/// |---|---|
/// | `table = "groups"` | the roles table's name; default `roles` |
/// | `join_table = "memberships"` | the join table's name; default `user_roles` |
/// | `user = path::to::Account` | the user model; default `User` in scope |
/// | `schema = crate::schema::roles` | bind to existing `table!`s (the join table beside it) instead of emitting them |
/// | `crate = my_app::users_diesel` | where `users_diesel` is |
/// | `dropped_columns = ["level"]` | columns of the roles table that earlier versions had and the migrations drop |
///
/// The `#[column(...)]` keys are those of [`user_model`].
pub use users_derive::role_model;
/// Turns a struct into a user model.
///
/// Keeps the struct's fields and puts these first: `id: Id<Self>` (a UUIDv7), `email: String`
/// (normalised, unique), `password_hash: String` (argon2id PHC, redacted by `Debug`),
/// `is_active: bool` (default `true`) and `is_verified: bool` (default `false`). Emits, in the
/// same module, the Diesel `table!` (unless `schema = …`), the derives `Queryable, Selectable,
/// Insertable, AsChangeset, Identifiable, Clone, PartialEq` with `check_for_backend` for every
/// enabled backend, a redacting `Debug`, `UserModel`, a store per enabled backend (and per async
/// connection with the `async` feature), and `ModelSchema` for [`Migrations`].
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::prelude::*;
/// use users_diesel::prelude::*;
///
/// #[user_model(table = "accounts", timestamps)]
/// pub struct Account {
///     /// Shown instead of the email.
///     pub display_name: Option<String>,
///     #[column(unique, max_length = 32)]
///     pub username: Option<String>,
///     #[column(default = 0, index)]
///     pub karma: i32,
///     #[column(name = "plan_name", default = "free")]
///     pub plan: String,
///     #[column(renamed_from = "nick")]
///     pub nickname: Option<String>,
/// }
///
/// let account = Account::from_credentials(Id::new(), "a@example.com".into(), "hash".into());
/// assert_eq!((account.karma, account.plan.as_str()), (0, "free"));
/// let _query = accounts::table.filter(accounts::plan_name.eq("free"));
/// # }
/// ```
///
/// # Options
///
/// | option | effect |
/// |---|---|
/// | `table = "accounts"` | the SQL table (and `table!` module) name; default `users` |
/// | `timestamps` | adds `created_at` and `updated_at` (UTC `chrono::NaiveDateTime`), set by the store |
/// | `schema = crate::schema::users` | emit no `table!`: bind to an existing one (e.g. printed by `diesel print-schema`) and check its columns at compile time |
/// | `crate = my_app::users_diesel` | where `users_diesel` is, for crates that re-export it |
/// | `dropped_columns = ["handle"]` | columns that earlier versions of the model had and the migrations drop |
///
/// # `#[column(...)]` keys
///
/// | key | effect |
/// |---|---|
/// | `unique` | a UNIQUE constraint (a unique index) |
/// | `index` | an index of its own |
/// | `default = <expr>` | the field's value in `Users::register`; a literal is also the SQL `DEFAULT` (and what existing rows get when the column is added) |
/// | `max_length = N` | `VARCHAR(N)` where a backend needs a length to index text (MySQL) |
/// | `name = "sql_name"` | the column's SQL name |
/// | `sql_type = path::to::SqlType` | the Diesel SQL type, for a Rust type the macro does not map |
/// | `renamed_from = "old_name"` | the column's name in earlier versions: the migrations rename it in place |
///
/// Misuse is a compile error at the offending token that says what to write instead; unknown
/// options and keys list the valid ones.
pub use users_derive::user_model;
/// Stores a fieldless enum in a model's column: see [`UserEnum`](trait@UserEnum).
pub use users_derive::UserEnum;
pub use verify::{verify_schema, SchemaError, SchemaProblem};

/// Everything an application needs in scope: `use users_diesel::prelude::*;`.
pub mod prelude {
    pub use crate::schema::ModelSchema;
    pub use crate::{
        org_model, role_model, user_model, Events, Id, Migrations, NoRoles, OAuthAccounts,
        OrgModel, OrgStore, RoleModel, RoleStore, SecondFactors, Sessions, UserEnum, UserModel,
        UserStore, Users, UsersConfig, UsersError,
    };
    // Not the async store traits: their methods have the names of the sync ones, so with both
    // in scope `User::find(conn, id)` would be ambiguous. `AsyncUsers` needs neither in scope.
    #[cfg(feature = "async")]
    pub use crate::AsyncUsers;
}

/// Runtime items for generated code. Not public API: names here may change at any time.
#[doc(hidden)]
pub mod __private {
    pub use crate::orgs::{at, invitation, is_duplicate, membership, InvitationRow, MemberRow};
    pub use crate::schema::assert_not_user_table;
    pub use crate::schema::check as schema_check;
    pub use crate::schema::{
        Column, ColumnType, DefaultValue, ForeignKey, JoinTableOf, ModelSchema, RoleTableOf,
        RoleUser, Table, UserTableOf,
    };
    pub use crate::sql_types::{check_fits, Portable};
    #[cfg(feature = "sqlite")]
    pub use crate::store::sqlite_transaction;
    pub use crate::store::{
        database_error, join_write_error, now, org_write_error, role_write_error, transaction,
        user_write_error, MAX_BOUND_IDS,
    };
    pub use crate::user_enum::enum_from_stored;
    pub use crate::Id;
    pub use chrono;
    pub use diesel;
    pub use users_core::{
        OrgInvitation, OrgMemberOf, OrgMembership, OrgModel, OrgStore, OrgView, RoleModel,
        RoleStore, UserListing, UserModel, UserStore, UsersError, Uuid,
    };

    #[cfg(all(feature = "async", feature = "sqlite"))]
    pub use crate::async_store::async_sqlite_transaction;
    #[cfg(feature = "async")]
    pub use crate::async_store::async_transaction;
    #[cfg(all(feature = "async", feature = "sqlite"))]
    pub use crate::asynchronous::AsyncSqliteConnection;
    #[cfg(feature = "async")]
    pub use diesel_async;
    #[cfg(all(feature = "async", feature = "mysql"))]
    pub use diesel_async::AsyncMysqlConnection;
    #[cfg(all(feature = "async", feature = "postgres"))]
    pub use diesel_async::AsyncPgConnection;
    #[cfg(feature = "async")]
    pub use users_core::scoped_futures::ScopedBoxFuture;
    #[cfg(feature = "async")]
    pub use users_core::{AsyncOrgStore, AsyncRoleStore, AsyncUserStore, TransactionFuture};
}
