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
//! connections of [`asynchronous`], with deadpool).
#![deny(missing_docs, unsafe_code)]

#[cfg(feature = "async")]
mod async_store;
#[cfg(feature = "async")]
pub mod asynchronous;
mod id;
pub mod migrations;
pub mod schema;
pub mod sql_types;
mod store;
mod verify;

pub use id::Id;
pub use migrations::{Dialect, MigrationError, MigrationSql, Migrations, Refusal};
#[cfg(feature = "sqlite")]
pub use store::configure_sqlite;
pub use users_core::*;
/// Turns a struct into a role model: see the crate documentation and `DESIGN.md`.
pub use users_derive::role_model;
/// Turns a struct into a user model: see the crate documentation and `DESIGN.md`.
pub use users_derive::user_model;
pub use verify::{
    verify_schema, IntrospectSchema, LiveColumn, LiveIndexColumn, SchemaError, SchemaProblem,
};

/// Everything an application needs in scope: `use users_diesel::prelude::*;`.
pub mod prelude {
    pub use crate::schema::ModelSchema;
    pub use crate::{
        role_model, user_model, Id, Migrations, NoRoles, RoleModel, RoleStore, UserModel,
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
    pub use crate::schema::assert_not_user_table;
    pub use crate::schema::check as schema_check;
    pub use crate::schema::{Column, ColumnType, DefaultValue, ForeignKey, ModelSchema, Table};
    #[cfg(feature = "sqlite")]
    pub use crate::store::sqlite_transaction;
    pub use crate::store::{
        database_error, join_write_error, now, role_write_error, transaction, user_write_error,
    };
    pub use crate::Id;
    pub use chrono;
    pub use diesel;
    pub use users_core::{RoleModel, RoleStore, UserListing, UserModel, UserStore, UsersError};

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
    pub use users_core::{AsyncRoleStore, AsyncUserStore, TransactionFuture};
}
