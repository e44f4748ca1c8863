//! The throttle's counters in the database: the `users_throttle` table ([`Throttle`]) and the
//! [`DatabaseThrottleStore`] over it, so that every process of an application counts the same
//! failed logins and mails.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use diesel::sql_types::{BigInt, Integer, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};
use users_core::{Counter, ThrottleStore, UsersError};
use users_derive::each_connection;

use crate::schema::{Column, ColumnType, ModelSchema, Table};

/// The framework's own table of throttle counters, `users_throttle`, for the migrations and
/// [`verify_schema`](crate::verify_schema):
/// `Migrations::new().with::<User>().with::<Throttle>()` creates (and later evolves) it next to
/// the models' tables, on every backend. [`DatabaseThrottleStore`] reads and writes it.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::prelude::*;
/// use diesel_migrations::MigrationHarness;
/// use users_diesel::prelude::*;
/// use users_diesel::{verify_schema, Throttle};
///
/// #[user_model]
/// pub struct User {}
///
/// let mut conn = SqliteConnection::establish(":memory:").unwrap();
/// conn.run_pending_migrations(Migrations::new().with::<User>().with::<Throttle>()).unwrap();
/// verify_schema::<Throttle, _>(&mut conn).unwrap();
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Throttle;

/// The longest key the table holds: an account key is `login:account:` and an address of at
/// most 254 bytes; client keys are cut to [`MAX_CLIENT_KEY_BYTES`](users_core::MAX_CLIENT_KEY_BYTES).
const KEY_LENGTH: u32 = 320;

const TABLE: Table = Table {
    name: "users_throttle",
    columns: &[
        Column::new("throttle_key", ColumnType::Text).max_length(KEY_LENGTH),
        Column::new("hits", ColumnType::Integer),
        // Milliseconds since the Unix epoch: the same integer on every backend, compared in SQL.
        Column::new("last_at", ColumnType::BigInt),
        Column::new("expires_at", ColumnType::BigInt).indexed(),
    ],
    primary_key: &["throttle_key"],
    foreign_keys: &[],
    dropped_columns: &[],
};

impl ModelSchema for Throttle {
    const TABLES: &'static [Table] = &[TABLE];
    /// After the user and role models: it references neither.
    const MIGRATION_ORDER: u8 = 3;
}

/// A [`ThrottleStore`] over the `users_throttle` table ([`Throttle`]), for applications whose
/// processes must share their counters.
///
/// It keeps one connection `C` of its own (any of `SqliteConnection`, `PgConnection`,
/// `MysqlConnection` of the enabled backends), used by one request at a time, and reconnects
/// to its URL after a failure. Each step is one statement (an upsert where a hit is counted),
/// so processes never lose each other's hits. Expired counters are deleted every 1024 hits.
/// The async manager calls it on Tokio's blocking pool.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// # use diesel::prelude::*;
/// # use diesel_migrations::MigrationHarness;
/// use users_diesel::prelude::*;
/// use users_diesel::{DatabaseThrottleStore, Throttle};
///
/// # #[user_model]
/// # pub struct User {}
/// # let dir = std::env::temp_dir().join(format!("users-throttle-doc-{}", std::process::id()));
/// # let url = dir.with_extension("db").to_string_lossy().into_owned();
/// # let mut conn = SqliteConnection::establish(&url).unwrap();
/// conn.run_pending_migrations(Migrations::new().with::<User>().with::<Throttle>()).unwrap();
/// let store = DatabaseThrottleStore::<SqliteConnection>::establish(&url)?;
/// let users = Users::<User>::new(UsersConfig::new([7u8; 32])?).with_throttle_store(store);
/// # drop(users);
/// # let _ = std::fs::remove_file(&url);
/// # }
/// # Ok::<(), users_diesel::UsersError>(())
/// ```
pub struct DatabaseThrottleStore<C> {
    url: String,
    conn: Mutex<C>,
    hits: AtomicU64,
}

impl<C: Connection> DatabaseThrottleStore<C> {
    /// A store over a new connection to `url`, whose database the migrations (with
    /// [`Throttle`]) have prepared.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`] if the connection fails.
    pub fn establish(url: &str) -> Result<Self, UsersError>
    where
        C: ThrottleSql,
    {
        Ok(DatabaseThrottleStore {
            url: url.to_owned(),
            conn: Mutex::new(C::open(url)?),
            hits: AtomicU64::new(0),
        })
    }

    /// Runs `step` on the connection; after a failure, replaces the connection with a fresh
    /// one, if one can be had, for the next step.
    fn run<T>(&self, step: impl FnOnce(&mut C) -> diesel::QueryResult<T>) -> Result<T, UsersError>
    where
        C: ThrottleSql,
    {
        let mut conn = self.conn();
        step(&mut conn).map_err(|error| {
            if let Ok(fresh) = C::open(&self.url) {
                *conn = fresh;
            }
            UsersError::database(error)
        })
    }

    fn conn(&self) -> MutexGuard<'_, C> {
        // A connection whose step panicked is as good as one whose step failed.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<C> std::fmt::Debug for DatabaseThrottleStore<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseThrottleStore")
            .field("connection", &std::any::type_name::<C>())
            .finish_non_exhaustive()
    }
}

/// A row of `users_throttle`.
#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Integer)]
    hits: i32,
    #[diesel(sql_type = BigInt)]
    last_at: i64,
    #[diesel(sql_type = BigInt)]
    expires_at: i64,
}

impl Row {
    fn counter(&self) -> Counter {
        Counter {
            hits: u32::try_from(self.hits).unwrap_or(0),
            last_at: from_millis(self.last_at),
            expires_at: from_millis(self.expires_at),
        }
    }
}

fn millis(time: SystemTime) -> i64 {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

fn from_millis(millis: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

/// How each backend spells the store's statements, with its placeholders: the upsert is
/// `ON CONFLICT` on SQLite and PostgreSQL and `ON DUPLICATE KEY UPDATE` on MySQL, the larger
/// of two values `MAX` on SQLite and `GREATEST` elsewhere. Implemented for the sync connection
/// of each enabled backend.
pub trait ThrottleSql: Connection + Sized + Send + 'static {
    /// Counts a hit: binds the key, the time and the time the counter is kept until.
    const HIT: &'static str;
    /// Reads a live counter: binds the key and the time.
    const GET: &'static str;
    /// Extends a counter: binds the time to keep it until and the key.
    const HOLD: &'static str;
    /// Removes a counter: binds the key.
    const CLEAR: &'static str;
    /// Removes expired counters: binds the time.
    const PRUNE: &'static str;

    /// Connects to `url`, ready for the store's statements.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`] if the connection fails.
    fn open(url: &str) -> Result<Self, UsersError> {
        Self::establish(url).map_err(UsersError::database)
    }
}

#[cfg(feature = "sqlite")]
impl ThrottleSql for diesel::SqliteConnection {
    const HIT: &'static str =
        "INSERT INTO users_throttle (throttle_key, hits, last_at, expires_at) \
         VALUES (?, 1, ?, ?) ON CONFLICT (throttle_key) DO UPDATE SET \
         hits = CASE WHEN users_throttle.expires_at <= excluded.last_at THEN 1 \
         ELSE users_throttle.hits + 1 END, \
         last_at = excluded.last_at, \
         expires_at = MAX(users_throttle.expires_at, excluded.expires_at)";
    const GET: &'static str = "SELECT hits, last_at, expires_at FROM users_throttle \
         WHERE throttle_key = ? AND expires_at > ?";
    const HOLD: &'static str = "UPDATE users_throttle SET expires_at = MAX(expires_at, ?) \
         WHERE throttle_key = ?";
    const CLEAR: &'static str = "DELETE FROM users_throttle WHERE throttle_key = ?";
    const PRUNE: &'static str = "DELETE FROM users_throttle WHERE expires_at <= ?";

    fn open(url: &str) -> Result<Self, UsersError> {
        let mut conn = Self::establish(url).map_err(UsersError::database)?;
        crate::configure_sqlite(&mut conn).map_err(UsersError::database)?;
        Ok(conn)
    }
}

#[cfg(feature = "postgres")]
impl ThrottleSql for diesel::PgConnection {
    const HIT: &'static str =
        "INSERT INTO users_throttle (throttle_key, hits, last_at, expires_at) \
         VALUES ($1, 1, $2, $3) ON CONFLICT (throttle_key) DO UPDATE SET \
         hits = CASE WHEN users_throttle.expires_at <= excluded.last_at THEN 1 \
         ELSE users_throttle.hits + 1 END, \
         last_at = excluded.last_at, \
         expires_at = GREATEST(users_throttle.expires_at, excluded.expires_at)";
    const GET: &'static str = "SELECT hits, last_at, expires_at FROM users_throttle \
         WHERE throttle_key = $1 AND expires_at > $2";
    const HOLD: &'static str = "UPDATE users_throttle SET expires_at = GREATEST(expires_at, $1) \
         WHERE throttle_key = $2";
    const CLEAR: &'static str = "DELETE FROM users_throttle WHERE throttle_key = $1";
    const PRUNE: &'static str = "DELETE FROM users_throttle WHERE expires_at <= $1";
}

#[cfg(feature = "mysql")]
impl ThrottleSql for diesel::MysqlConnection {
    // MySQL assigns left to right: `hits` reads the old `expires_at` before it is replaced.
    const HIT: &'static str =
        "INSERT INTO users_throttle (throttle_key, hits, last_at, expires_at) \
         VALUES (?, 1, ?, ?) ON DUPLICATE KEY UPDATE \
         hits = IF(expires_at <= VALUES(last_at), 1, hits + 1), \
         last_at = VALUES(last_at), \
         expires_at = GREATEST(expires_at, VALUES(expires_at))";
    const GET: &'static str = "SELECT hits, last_at, expires_at FROM users_throttle \
         WHERE throttle_key = ? AND expires_at > ?";
    const HOLD: &'static str = "UPDATE users_throttle SET expires_at = GREATEST(expires_at, ?) \
         WHERE throttle_key = ?";
    const CLEAR: &'static str = "DELETE FROM users_throttle WHERE throttle_key = ?";
    const PRUNE: &'static str = "DELETE FROM users_throttle WHERE expires_at <= ?";
}

/// How many hits pass between two deletions of expired counters.
const PRUNE_EVERY: u64 = 1024;

// The store over each backend's connection: the same steps, the backend's statements.
#[each_connection]
impl ThrottleStore for DatabaseThrottleStore<Conn> {
    fn hit(&self, key: &str, now: SystemTime, window: Duration) -> Result<Counter, UsersError> {
        let prune = self.hits.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1;
        let rows: Vec<Row> = self.run(|conn| {
            if prune {
                diesel::sql_query(<Conn>::PRUNE)
                    .bind::<BigInt, _>(millis(now))
                    .execute(conn)?;
            }
            diesel::sql_query(<Conn>::HIT)
                .bind::<Text, _>(key)
                .bind::<BigInt, _>(millis(now))
                .bind::<BigInt, _>(millis(now + window))
                .execute(conn)?;
            diesel::sql_query(<Conn>::GET)
                .bind::<Text, _>(key)
                .bind::<BigInt, _>(millis(now))
                .load(conn)
        })?;
        // Only a concurrent `clear` between the two statements leaves no row.
        Ok(rows.first().map_or(
            Counter {
                hits: 1,
                last_at: now,
                expires_at: now + window,
            },
            Row::counter,
        ))
    }

    fn get(&self, key: &str, now: SystemTime) -> Result<Option<Counter>, UsersError> {
        let rows: Vec<Row> = self.run(|conn| {
            diesel::sql_query(<Conn>::GET)
                .bind::<Text, _>(key)
                .bind::<BigInt, _>(millis(now))
                .load(conn)
        })?;
        Ok(rows.first().map(Row::counter))
    }

    fn hold(&self, key: &str, until: SystemTime) -> Result<(), UsersError> {
        self.run(|conn| {
            diesel::sql_query(<Conn>::HOLD)
                .bind::<BigInt, _>(millis(until))
                .bind::<Text, _>(key)
                .execute(conn)
        })?;
        Ok(())
    }

    fn clear(&self, key: &str) -> Result<(), UsersError> {
        self.run(|conn| {
            diesel::sql_query(<Conn>::CLEAR)
                .bind::<Text, _>(key)
                .execute(conn)
        })?;
        Ok(())
    }
}
