//! Scale, measured: lookups with many clients over a pool, and what a stored session and a
//! pooled connection cost in memory. Printed, never asserted.
//!
//! - `POOL` (SQLite in WAL mode, and PostgreSQL with its feature): [`CLIENTS`] tasks look users
//!   up by id at once over a pool of [`POOL`] connections, a checkout per lookup as a request
//!   handler takes one, through `AsyncUsers::get` and through the hand-written query, rounds
//!   alternating, the fastest of each side kept; then the bytes a stored session adds to the
//!   database (the `users_sessions` table's size before and after a batch of sessions) and what
//!   a pooled connection costs: this process's resident memory grown by opening 32 connections
//!   and running a lookup on each, per connection, and on PostgreSQL the server's memory for one
//!   connection's backend (`pg_backend_memory_contexts`).
//! - `SCALEOUT`: see `scaleout`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use deadpool::managed::Manager;
use users_diesel::asynchronous::deadpool::Pool;
#[cfg(feature = "postgres")]
use users_diesel::asynchronous::diesel_async;
use users_diesel::asynchronous::diesel_async::pooled_connection::PoolError;
use users_diesel::asynchronous::AsyncDieselConnectionManager;
use users_diesel::{AsyncUsers, Id, UsersConfig};

use crate::http::HandQueries;
use crate::models::framework::{Role, User};
use crate::workloads::PASSWORD;
use crate::Result;

/// The tasks looking users up at once.
const CLIENTS: usize = 8;
/// The connections of the pool they share (and of each scale-out server's).
pub(crate) const POOL: usize = 8;
/// The connections opened at once to measure what one costs.
const MEMORY_POOL: usize = 32;

/// Runs `POOL` on the selected backends.
pub fn run_pool(scale: f64, rounds: usize, backend: impl Fn(&str) -> bool) -> Result<()> {
    let users = ((10_000.0 * scale).round() as usize).max(100);
    let lookups = ((20_000.0 * scale).round() as usize).max(CLIENTS * 10);
    let sessions = ((1_000.0 * scale).round() as usize).max(20);
    println!(
        "\nPOOL: {lookups} lookups by id among {users} users, {CLIENTS} tasks over a pool of \
         {POOL}, a checkout per lookup, fastest of {} rounds; memory per stored session \
         ({sessions} sessions) and per pooled connection",
        rounds.max(1)
    );
    println!(
        "\n| backend  | framework lookups/s | hand-written lookups/s | ratio | bytes per stored session | client KiB per connection | server KiB per connection |\n\
         |----------|---------------------|------------------------|-------|--------------------------|---------------------------|---------------------------|"
    );
    let runtime = runtime()?;
    #[cfg(feature = "sqlite")]
    if backend("sqlite") {
        let path = std::env::temp_dir().join(format!(
            "users_bench_pool_{}.sqlite",
            uuid::Uuid::now_v7().simple()
        ));
        let url = path.to_string_lossy().into_owned();
        let result = (|| {
            let mut conn = sqlite_sync(&url)?;
            crate::http::migrate(&mut conn)?;
            let manager = || users_diesel::asynchronous::sqlite_connection_manager(&url);
            let memory = runtime.block_on(connection_memory(manager(), None))?;
            let ids = seed(&mut conn, users)?;
            let per_session = session_bytes(&mut conn, &ids, sessions, sqlite_bytes)?;
            runtime.block_on(pool_line(
                "sqlite",
                manager(),
                ids,
                (lookups, rounds),
                (per_session, memory),
            ))
        })();
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{url}{suffix}"));
        }
        result?;
    }
    #[cfg(feature = "postgres")]
    if backend("postgres") {
        let (url, drop_schema) = postgres_schema("users_bench_pool")?;
        let result = (|| {
            use diesel::Connection;
            let mut conn = diesel::PgConnection::establish(&url)?;
            crate::http::migrate(&mut conn)?;
            let manager = || users_diesel::asynchronous::postgres_connection_manager(&url);
            let memory =
                runtime.block_on(connection_memory(manager(), Some(postgres_backend_memory)))?;
            let ids = seed(&mut conn, users)?;
            let per_session = session_bytes(&mut conn, &ids, sessions, postgres_bytes)?;
            runtime.block_on(pool_line(
                "postgres",
                manager(),
                ids,
                (lookups, rounds),
                (per_session, memory),
            ))
        })();
        drop_schema();
        result?;
    }
    Ok(())
}

/// The runtime the measured tasks run on: as many worker threads as cores.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

#[cfg(feature = "sqlite")]
fn sqlite_sync(url: &str) -> Result<diesel::SqliteConnection> {
    use diesel::Connection;
    let mut conn = diesel::SqliteConnection::establish(url)?;
    users_diesel::configure_sqlite(&mut conn)?;
    Ok(conn)
}

/// A private schema on the PostgreSQL server at `USERS_TEST_POSTGRES_URL`: its URL, and what
/// drops it.
#[cfg(feature = "postgres")]
pub(crate) fn postgres_schema(prefix: &str) -> Result<(String, impl FnOnce())> {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let base = std::env::var("USERS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_owned());
    let schema = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
    let mut admin = diesel::PgConnection::establish(&base)?;
    admin.batch_execute(&format!("CREATE SCHEMA {schema}"))?;
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
    Ok((url, move || {
        let _ = admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
    }))
}

/// `count` users with one precomputed hash, a transaction per thousand; their ids.
fn seed<C>(conn: &mut C, count: usize) -> Result<Vec<Id<User>>>
where
    C: diesel::Connection,
    User: users_diesel::UserStore<C>,
    Role: users_diesel::RoleStore<C, User = User>,
    users_diesel::Events<User>: users_diesel::EventStore<C>,
{
    use users_diesel::UserStore;
    let hash = users_diesel::PasswordHasher::new(&UsersConfig::new([7u8; 32])?).hash(PASSWORD)?;
    let mut ids = Vec::with_capacity(count);
    for start in (0..count).step_by(1000) {
        <User as UserStore<C>>::transaction(conn, |conn| {
            for i in start..(start + 1000).min(count) {
                let user = User {
                    id: Id::from_uuid(uuid::Uuid::now_v7()),
                    email: format!("user{i}@example.com"),
                    password_hash: hash.clone(),
                    is_active: true,
                    is_verified: true,
                    display_name: None,
                };
                ids.push(<User as UserStore<C>>::insert(conn, &user)?.id);
            }
            Ok(())
        })?;
    }
    Ok(ids)
}

/// The bytes one stored session adds: the size `bytes` reads before and after `count`
/// sessions, one per user of `owners`, divided by `count`.
fn session_bytes<C>(
    conn: &mut C,
    owners: &[Id<User>],
    count: usize,
    bytes: fn(&mut C) -> Result<u64>,
) -> Result<f64>
where
    C: diesel::Connection,
    User: users_diesel::UserStore<C>,
    Role: users_diesel::RoleStore<C, User = User>,
    users_diesel::Events<User>: users_diesel::EventStore<C>,
    users_diesel::Sessions<User>: users_diesel::SessionStore<C>,
{
    let users = users_diesel::Users::<User, Role>::new(UsersConfig::new([7u8; 32])?);
    let before = bytes(conn)?;
    let policy = users_diesel::SessionPolicy::default();
    // A session each for as many seeded users, as a day of logins would leave them.
    for id in owners.iter().cycle().take(count) {
        let owner = users.get(conn, *id)?.ok_or("a seeded user is gone")?;
        let origin = users_diesel::SessionOrigin {
            user_agent: Some(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0 Safari/537.36"
                    .to_owned(),
            ),
            client: Some("203.0.113.7".to_owned()),
        };
        users.start_session(conn, &owner, origin, &policy)?;
    }
    Ok((bytes(conn)? - before) as f64 / count as f64)
}

/// The SQLite database's size: its pages, with the write-ahead log checkpointed into them.
#[cfg(feature = "sqlite")]
fn sqlite_bytes(conn: &mut diesel::SqliteConnection) -> Result<u64> {
    use diesel::connection::SimpleConnection;
    use diesel::RunQueryDsl;
    conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")?;
    let size: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT page_count FROM pragma_page_count()) * (SELECT page_size FROM pragma_page_size())",
    ))
    .get_result(conn)?;
    Ok(size as u64)
}

/// The session table's size on PostgreSQL, its indexes and TOAST included.
#[cfg(feature = "postgres")]
fn postgres_bytes(conn: &mut diesel::PgConnection) -> Result<u64> {
    use diesel::RunQueryDsl;
    let size: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "pg_total_relation_size('users_sessions')",
    ))
    .get_result(conn)?;
    Ok(size as u64)
}

/// The memory the PostgreSQL server holds for this connection's backend, in bytes.
#[cfg(feature = "postgres")]
fn postgres_backend_memory(
    conn: &mut diesel_async::AsyncPgConnection,
) -> Pin<Box<dyn Future<Output = Result<u64>> + Send + '_>> {
    use diesel_async::RunQueryDsl;
    Box::pin(async move {
        let size: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts)",
        ))
        .get_result(conn)
        .await?;
        Ok(size as u64)
    })
}

/// This process's resident memory in bytes (Linux; 0 elsewhere).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// What reads a connection's server-side memory, where the backend has one to read.
type ServerMemory<C> = fn(&mut C) -> Pin<Box<dyn Future<Output = Result<u64>> + Send + '_>>;

/// What a pooled connection costs, measured before the users are seeded (so the heap has not
/// grown and shrunk already): this process's resident memory grown by opening [`MEMORY_POOL`]
/// connections at once and running each side's lookup on each, per connection, in KiB; and the
/// server's memory for one of them, where `server_memory` reads it.
async fn connection_memory<C: HandQueries>(
    manager: AsyncDieselConnectionManager<C>,
    server_memory: Option<ServerMemory<C>>,
) -> Result<(f64, String)>
where
    User: users_diesel::AsyncUserStore<C>,
    Role: users_diesel::AsyncRoleStore<C, User = User>,
    AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
{
    let users = AsyncUsers::<User, Role>::new(UsersConfig::new([7u8; 32])?);
    let resident = resident_bytes();
    let pool = Pool::builder(manager).max_size(MEMORY_POOL).build()?;
    let mut held = Vec::with_capacity(MEMORY_POOL);
    for _ in 0..MEMORY_POOL {
        let mut conn = pool.get().await?;
        let nobody = Id::<User>::from_uuid(uuid::Uuid::now_v7());
        users.get(&mut *conn, nobody).await?;
        conn.user(nobody.into()).await?;
        held.push(conn);
    }
    let client = resident_bytes().saturating_sub(resident) as f64 / MEMORY_POOL as f64 / 1024.0;
    let server = match server_memory {
        Some(read) => format!("{:.0}", read(&mut held[0]).await? as f64 / 1024.0),
        None => "(in process)".to_owned(),
    };
    Ok((client, server))
}

/// Opens and warms a pool of [`POOL`] over `manager`, measures both sides' lookups, and prints
/// the backend's line with the memory figures measured before.
async fn pool_line<C: HandQueries>(
    backend: &str,
    manager: AsyncDieselConnectionManager<C>,
    ids: Vec<Id<User>>,
    (lookups, rounds): (usize, usize),
    (per_session, (per_connection, server)): (f64, (f64, String)),
) -> Result<()>
where
    User: users_diesel::AsyncUserStore<C>,
    Role: users_diesel::AsyncRoleStore<C, User = User>,
    AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
{
    let pool = Pool::builder(manager).max_size(POOL).build()?;
    let ids = Arc::new(ids);
    let users = Arc::new(AsyncUsers::<User, Role>::new(UsersConfig::new([7u8; 32])?));
    // Every connection opened and each of its statements prepared once, outside the timing.
    lookup_round(&pool, &ids, &users, POOL * 4, true).await?;
    lookup_round(&pool, &ids, &users, POOL * 4, false).await?;
    let mut best = [0f64; 2];
    for index in 0..rounds.max(1) {
        let order = if index % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for framework in order {
            let per_second = lookup_round(&pool, &ids, &users, lookups, framework).await?;
            let side = &mut best[usize::from(!framework)];
            *side = side.max(per_second);
        }
    }
    println!(
        "| {backend:<8} | {:>19.0} | {:>22.0} | {:>5.2} | {per_session:>24.0} | {:>25.0} | {server:>25} |",
        best[0],
        best[1],
        best[0] / best[1],
        per_connection,
    );
    Ok(())
}

/// `lookups` lookups by id from [`CLIENTS`] tasks at once, a pool checkout each, through the
/// framework or by hand; lookups per second.
async fn lookup_round<C: HandQueries>(
    pool: &Pool<C>,
    ids: &Arc<Vec<Id<User>>>,
    users: &Arc<AsyncUsers<User, Role>>,
    lookups: usize,
    framework: bool,
) -> Result<f64>
where
    User: users_diesel::AsyncUserStore<C>,
    Role: users_diesel::AsyncRoleStore<C, User = User>,
    AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
{
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(CLIENTS);
    for client in 0..CLIENTS {
        let (pool, ids, users) = (pool.clone(), Arc::clone(ids), Arc::clone(users));
        tasks.push(tokio::spawn(async move {
            let mut index = client * 7919;
            for _ in 0..lookups / CLIENTS {
                index = (index + 104_729) % ids.len();
                let id = ids[index];
                let mut conn = pool.get().await?;
                let found = match framework {
                    true => users.get(&mut *conn, id).await?.map(|user| user.id),
                    false => conn.user(id.into()).await?.map(|user| user.id),
                };
                if found != Some(id) {
                    return Err("a seeded user was not found".into());
                }
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok((lookups / CLIENTS * CLIENTS) as f64 / start.elapsed().as_secs_f64())
}
