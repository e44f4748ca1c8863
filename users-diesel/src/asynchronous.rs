//! The async path, with the `async` feature: the diesel-async connections that
//! [`AsyncUsers`](crate::AsyncUsers) works over, and [`deadpool`] pools of them.
//!
//! `#[user_model]` and `#[role_model]` implement [`AsyncUserStore`](crate::AsyncUserStore) and
//! [`AsyncRoleStore`](crate::AsyncRoleStore) for each connection type here whose backend feature
//! is enabled: [`AsyncPgConnection`] (`postgres`), [`AsyncMysqlConnection`] (`mysql`) and
//! [`AsyncSqliteConnection`] (`sqlite`). A pooled connection is passed as `&mut *pooled`.
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn example() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use users_diesel::asynchronous::deadpool::Pool;
//! use users_diesel::asynchronous::postgres_connection_manager;
//! use users_diesel::prelude::*;
//!
//! #[user_model]
//! pub struct User {}
//!
//! let manager = postgres_connection_manager("postgres://localhost/app");
//! let pool = Pool::builder(manager).max_size(16).build()?;
//! let users = AsyncUsers::<User>::new(UsersConfig::new("a secret of at least 32 bytes, from a vault")?);
//!
//! let mut conn = pool.get().await?;
//! let alice = users.authenticate(&mut *conn, "alice@example.com", "correct horse battery staple").await?;
//! # Ok(())
//! # }
//! ```
//!
//! The managers here ([`postgres_connection_manager`], [`mysql_connection_manager`],
//! [`sqlite_connection_manager`]) hand a pooled connection out without a validation round
//! trip: diesel-async's default pings the database (`SELECT 1`) on every checkout, one more
//! round trip per request than a hand-written handler makes. A broken connection is still
//! detected: diesel-async drops a connection that reports itself broken (a closed socket, a
//! failed query that broke it) when it returns to the pool, and the next checkout opens a new
//! one.
//!
//! Migrations run over a sync connection of the same backend, as in the sync path (for example
//! at start-up, or inside `tokio::task::spawn_blocking`).

pub use diesel_async;
pub use diesel_async::pooled_connection::deadpool;
pub use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
#[cfg(feature = "mysql")]
pub use diesel_async::AsyncMysqlConnection;
#[cfg(feature = "postgres")]
pub use diesel_async::AsyncPgConnection;
pub use diesel_async::{AsyncConnection, RunQueryDsl};

/// SQLite for the async path: a [`diesel::SqliteConnection`] whose queries run on Tokio's
/// blocking pool.
#[cfg(feature = "sqlite")]
pub type AsyncSqliteConnection =
    diesel_async::sync_connection_wrapper::SyncConnectionWrapper<diesel::SqliteConnection>;

/// [`configure_sqlite`](crate::configure_sqlite) for an async SQLite connection: a busy
/// timeout, WAL mode and `PRAGMA foreign_keys = ON`.
///
/// # Errors
///
/// The database's error, if a pragma fails.
#[cfg(feature = "sqlite")]
pub async fn configure_sqlite(conn: &mut AsyncSqliteConnection) -> diesel::QueryResult<()> {
    conn.spawn_blocking(crate::configure_sqlite).await
}

/// A deadpool connection manager for SQLite that runs [`configure_sqlite`] on every connection
/// it opens and whose checkouts skip the validation round trip (see the module documentation):
/// `Pool::builder(sqlite_connection_manager(path)).build()`.
#[cfg(feature = "sqlite")]
pub fn sqlite_connection_manager(
    url: impl Into<String>,
) -> AsyncDieselConnectionManager<AsyncSqliteConnection> {
    let mut config = fast_checkouts();
    config.custom_setup = Box::new(|url| {
        Box::pin(async move {
            let mut conn = AsyncSqliteConnection::establish(url).await?;
            configure_sqlite(&mut conn)
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        })
    });
    AsyncDieselConnectionManager::new_with_config(url, config)
}

/// The manager configuration of the pools here: checkouts without a validation query
/// (`RecyclingMethod::Fast`; diesel-async still drops a connection that reports itself broken).
fn fast_checkouts<C: diesel_async::AsyncConnection + 'static>() -> ManagerConfig<C> {
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    config
}

/// A deadpool connection manager for PostgreSQL whose checkouts skip the validation round
/// trip (see the module documentation): `Pool::builder(postgres_connection_manager(url)).build()`.
#[cfg(feature = "postgres")]
pub fn postgres_connection_manager(
    url: impl Into<String>,
) -> AsyncDieselConnectionManager<AsyncPgConnection> {
    AsyncDieselConnectionManager::new_with_config(url, fast_checkouts())
}

/// A deadpool connection manager for MySQL and MariaDB whose checkouts skip the validation
/// round trip (see the module documentation).
#[cfg(feature = "mysql")]
pub fn mysql_connection_manager(
    url: impl Into<String>,
) -> AsyncDieselConnectionManager<AsyncMysqlConnection> {
    AsyncDieselConnectionManager::new_with_config(url, fast_checkouts())
}
