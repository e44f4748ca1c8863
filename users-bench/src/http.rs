//! The per-request cost of a session over HTTP: `GET /users/me` with a valid session through
//! users-axum's router, against a hand-written axum handler (`GET /hand/me`) that does the same
//! work with plain diesel-async queries (open and check the token, read the session's row or
//! the revocation list, load the user and the names of their roles, answer the same JSON).
//!
//! Both routes are served by one server in this process on 127.0.0.1, over pools of the same
//! size, and driven by the same client: [`CLIENTS`] keep-alive connections sending requests one
//! after another, the two routes alternating round by round, the fastest round of each kept.
//! Three ways to keep sessions, each its own line: `stateless` (signed tokens, a revocation list
//! in memory), `database` (users-axum's default: the `users_sessions` row read by primary key on
//! every request) and, with the `redis` feature, `redis` (signed tokens, the revocation list in
//! Redis at `USERS_TEST_REDIS_URL`). Printed, never asserted.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use deadpool::managed::Manager;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use users_axum::{NoProfile, Profile, UsersState};
use users_diesel::asynchronous::deadpool::Pool;
use users_diesel::asynchronous::diesel_async;
use users_diesel::asynchronous::diesel_async::pooled_connection::PoolError;
use users_diesel::asynchronous::AsyncDieselConnectionManager;
use users_diesel::sql_types::Portable;
use users_diesel::{AsyncUsers, Id, TokenPurpose, TokenSigner, UserModel, UsersConfig};

use crate::models::framework::{roles, user_roles, users, Role, User};
use crate::workloads::PASSWORD;
use crate::Result;

/// The clients sending requests at once.
pub(crate) const CLIENTS: usize = 8;
/// The connections of each side's pool.
const POOL: usize = 8;

impl Profile for User {
    type Fields = NoProfile;

    fn profile(&self) -> NoProfile {
        NoProfile {}
    }

    fn set_profile(&mut self, _: NoProfile) {}
}

diesel::table! {
    /// The columns of users-axum's session table that a request reads, declared by hand.
    users_sessions (id) {
        id -> users_diesel::sql_types::Uuid,
        user_id -> users_diesel::sql_types::Uuid,
        last_seen_at -> users_diesel::sql_types::Timestamptz,
        expires_at -> users_diesel::sql_types::Timestamptz,
        idle_expires_at -> users_diesel::sql_types::Timestamptz,
    }
}

/// How the hand-written side keeps sessions, as its users-axum twin does.
enum HandSessions {
    /// Revoked token ids in memory.
    Stateless(Mutex<HashSet<uuid::Uuid>>),
    /// The session's row, read by primary key.
    Database,
    /// Revoked token ids in Redis.
    #[cfg(feature = "redis")]
    Redis(redis::aio::ConnectionManager),
}

/// The hand-written side's state.
struct Hand<C>
where
    AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
{
    signer: TokenSigner,
    pool: Pool<C>,
    sessions: HandSessions,
}

/// What a request of the hand-written side asks of its connection: one query each. Lookups by
/// primary key use `get_result`, not `first`: `first`'s bound `LIMIT` makes SQLite prepare the
/// statement anew on every call (see the README's Performance section), which a careful
/// hand-written handler avoids as the framework does.
pub(crate) trait HandQueries:
    diesel_async::AsyncConnection + Sized + Send + 'static
{
    /// The session's user, last-seen time and deadlines.
    fn session(
        &mut self,
        id: uuid::Uuid,
    ) -> impl std::future::Future<Output = QueryResult<Option<SessionRow>>> + Send;
    /// Writes the session's last-seen time and idle deadline.
    fn touch(
        &mut self,
        id: uuid::Uuid,
        seen: DateTime<Utc>,
        idle: DateTime<Utc>,
    ) -> impl std::future::Future<Output = QueryResult<usize>> + Send;
    /// The user.
    fn user(
        &mut self,
        id: uuid::Uuid,
    ) -> impl std::future::Future<Output = QueryResult<Option<User>>> + Send;
    /// The names of the user's roles.
    fn role_names(
        &mut self,
        id: uuid::Uuid,
    ) -> impl std::future::Future<Output = QueryResult<Vec<String>>> + Send;
}

type SessionRow = (Id<User>, DateTime<Utc>, DateTime<Utc>, DateTime<Utc>);

macro_rules! hand_queries {
    ($($feature:literal => $Conn:ty),*) => {$(
        #[cfg(feature = $feature)]
        impl HandQueries for $Conn {
            async fn session(&mut self, id: uuid::Uuid) -> QueryResult<Option<SessionRow>> {
                use users_sessions::dsl as s;
                s::users_sessions
                    .find(Id::<User>::from(id))
                    .select((s::user_id, s::last_seen_at, s::expires_at, s::idle_expires_at))
                    .get_result(self)
                    .await
                    .optional()
            }

            async fn touch(&mut self, id: uuid::Uuid, seen: DateTime<Utc>, idle: DateTime<Utc>) -> QueryResult<usize> {
                use users_sessions::dsl as s;
                diesel::update(s::users_sessions.find(Id::<User>::from(id)))
                    .set((s::last_seen_at.eq(Portable(seen)), s::idle_expires_at.eq(Portable(idle))))
                    .execute(self)
                    .await
            }

            async fn user(&mut self, id: uuid::Uuid) -> QueryResult<Option<User>> {
                users::table
                    .find(Id::<User>::from(id))
                    .select(User::as_select())
                    .get_result(self)
                    .await
                    .optional()
            }

            async fn role_names(&mut self, id: uuid::Uuid) -> QueryResult<Vec<String>> {
                user_roles::table
                    .inner_join(roles::table)
                    .filter(user_roles::user_id.eq(Id::<User>::from(id)))
                    .order(roles::name)
                    .select(roles::name)
                    .load(self)
                    .await
            }
        }
    )*};
}

hand_queries! {
    "sqlite" => users_diesel::asynchronous::AsyncSqliteConnection,
    "postgres" => diesel_async::AsyncPgConnection
}

/// `GET /hand/me`: what `GET /users/me` does, written by hand.
async fn hand_me<C: HandQueries>(
    State(hand): State<Arc<Hand<C>>>,
    headers: HeaderMap,
) -> std::result::Result<Json<Value>, StatusCode>
where
    AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
{
    let token = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let now = SystemTime::now();
    let opened = hand
        .signer
        .open(token, TokenPurpose::Session, now)
        .map_err(|_| StatusCode::UNAUTHORIZED)?;
    let internal = |_| StatusCode::INTERNAL_SERVER_ERROR;
    let mut conn = hand
        .pool
        .get()
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    match &hand.sessions {
        HandSessions::Stateless(revoked) => {
            if revoked.lock().unwrap().contains(&opened.id()) {
                return Err(StatusCode::UNAUTHORIZED);
            }
        }
        HandSessions::Database => {
            let (user, seen, expires, idle) = conn
                .session(opened.id())
                .await
                .map_err(internal)?
                .ok_or(StatusCode::UNAUTHORIZED)?;
            let now: DateTime<Utc> = now.into();
            if uuid::Uuid::from(user) != opened.user_id() || now >= expires || now >= idle {
                return Err(StatusCode::UNAUTHORIZED);
            }
            // The same rule as users-axum's: the last-seen time at most once a minute.
            if now - seen >= chrono::Duration::seconds(60) {
                let idle = (now + chrono::Duration::hours(24)).min(expires);
                conn.touch(opened.id(), now, idle).await.map_err(internal)?;
            }
        }
        #[cfg(feature = "redis")]
        HandSessions::Redis(redis) => {
            let key = format!("users-bench:hand:revoked:{}", opened.id());
            let revoked: bool = redis::cmd("EXISTS")
                .arg(key)
                .query_async(&mut redis.clone())
                .await
                .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
            if revoked {
                return Err(StatusCode::UNAUTHORIZED);
            }
        }
    }
    let user = conn
        .user(opened.user_id())
        .await
        .map_err(internal)?
        .ok_or(StatusCode::UNAUTHORIZED)?;
    hand.signer
        .check_user(&opened, &user)
        .map_err(|_| StatusCode::UNAUTHORIZED)?;
    if !user.is_active {
        return Err(StatusCode::FORBIDDEN);
    }
    let roles = conn.role_names(opened.user_id()).await.map_err(internal)?;
    Ok(Json(json!({
        "id": user.id.to_string(),
        "email": user.email,
        "is_active": user.is_active,
        "is_verified": user.is_verified,
        "roles": roles,
    })))
}

/// The ways to keep sessions, by name.
fn variants() -> Vec<&'static str> {
    let mut variants = vec!["stateless", "database"];
    if cfg!(feature = "redis") {
        variants.push("redis");
    }
    variants
}

/// One side's fastest round: requests per second and the latencies of that round.
pub(crate) struct Side {
    pub(crate) per_second: f64,
    p50: Duration,
    p99: Duration,
}

impl Side {
    pub(crate) fn cells(&self, width: usize) -> String {
        format!(
            "{:>width$.0} | {:>6.2} | {:>6.2}",
            self.per_second,
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3
        )
    }
}

/// Sends `requests` GETs with `token` from [`CLIENTS`] clients at once, client `i` to
/// `urls[i % urls.len()]`.
pub(crate) async fn round(
    client: &reqwest::Client,
    urls: &[String],
    token: &str,
    requests: usize,
) -> Result<Side> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for client_index in 0..CLIENTS {
        let url = urls[client_index % urls.len()].clone();
        let (client, token) = (client.clone(), token.to_owned());
        let count = requests / CLIENTS + usize::from(client_index < requests % CLIENTS);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(count);
            for _ in 0..count {
                let sent = Instant::now();
                let response = client.get(&url).bearer_auth(&token).send().await?;
                let status = response.status();
                response.bytes().await?;
                if !status.is_success() {
                    return Err(format!("GET {url} answered {status}").into());
                }
                latencies.push(sent.elapsed());
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(latencies)
        }));
    }
    let mut latencies = Vec::with_capacity(requests);
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = start.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    Ok(Side {
        per_second: requests as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    })
}

/// Serves both sides over pools of connections `C` to `url` for each variant, measures, and
/// prints a line per variant.
async fn bench_backend<C>(
    backend: &str,
    manager: fn(&str) -> AsyncDieselConnectionManager<C>,
    url: &str,
    requests: usize,
    rounds: usize,
) -> Result<()>
where
    C: HandQueries,
    User: users_diesel::AsyncUserStore<C>,
    Role: users_diesel::AsyncRoleStore<C, User = User>,
    <User as UserModel>::Sessions: users_diesel::AsyncSessionStore<C>,
    <User as UserModel>::SecondFactors: users_diesel::AsyncSecondFactorStore<C>,
    <User as UserModel>::OAuthAccounts: users_diesel::AsyncOAuthAccountStore<C>,
    <User as UserModel>::Events: users_diesel::AsyncEventStore<C>,
    AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
{
    let config = UsersConfig::new([7u8; 32])?;
    for variant in variants() {
        let app = both_sides(variant, &config, || {
            Ok(Pool::builder(manager(url)).max_size(POOL).build()?)
        })
        .await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let measured = measure(&base, requests, rounds).await;
        server.abort();
        let (framework, hand) = measured?;
        println!(
            "| {backend:<8} | {variant:<9} | {} | {} | {:>5.2} |",
            framework.cells(12),
            hand.cells(14),
            framework.per_second / hand.per_second
        );
    }
    Ok(())
}

/// The router of both sides for one way of keeping sessions: users-axum's routes and the
/// hand-written `/hand/me`, each over a pool of its own from `pool`.
async fn both_sides<C>(
    variant: &str,
    config: &UsersConfig,
    pool: impl Fn() -> Result<Pool<C>>,
) -> Result<Router>
where
    C: HandQueries,
    User: users_diesel::AsyncUserStore<C>,
    Role: users_diesel::AsyncRoleStore<C, User = User>,
    <User as UserModel>::Sessions: users_diesel::AsyncSessionStore<C>,
    <User as UserModel>::SecondFactors: users_diesel::AsyncSecondFactorStore<C>,
    <User as UserModel>::OAuthAccounts: users_diesel::AsyncOAuthAccountStore<C>,
    <User as UserModel>::Events: users_diesel::AsyncEventStore<C>,
    AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
{
    let mut state = UsersState::new(
        AsyncUsers::<User, Role>::new(config.clone()),
        pool()?,
        users_axum::MemoryMailer::new(),
    );
    let mut sessions = HandSessions::Database;
    if variant == "stateless" {
        state = state.stateless_sessions();
        sessions = HandSessions::Stateless(Mutex::new(HashSet::new()));
    }
    #[cfg(feature = "redis")]
    if variant == "redis" {
        let redis_url = std::env::var("USERS_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let prefix = format!("users-bench:{}:", uuid::Uuid::now_v7());
        let revocations = users_axum::RedisRevocations::open(&redis_url, &prefix).await?;
        state = state.stateless_sessions().revocations(revocations);
        let client = redis::Client::open(redis_url.as_str())?;
        sessions = HandSessions::Redis(redis::aio::ConnectionManager::new(client).await?);
    }
    let hand = Arc::new(Hand {
        signer: TokenSigner::new(config),
        pool: pool()?,
        sessions,
    });
    Ok(Router::new()
        .route("/hand/me", get(hand_me::<C>))
        .with_state(hand)
        .merge(users_axum::router(state)))
}

/// Signs Alice in at `base`, checks that both sides answer the same document, and runs the
/// rounds, alternating which side goes first; the fastest round of each side.
async fn measure(base: &str, requests: usize, rounds: usize) -> Result<(Side, Side)> {
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{base}/auth/login"))
        .json(&json!({ "email": "alice@example.com", "password": PASSWORD }))
        .send()
        .await?
        .error_for_status()?
        .json::<Value>()
        .await?;
    let token = login["access_token"].as_str().ok_or("no access token")?;
    let urls = [format!("{base}/users/me"), format!("{base}/hand/me")];
    let mut views = Vec::new();
    for url in &urls {
        views.push(
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await?
                .json::<Value>()
                .await?,
        );
    }
    if views[0] != views[1] {
        return Err(format!("the sides answer differently: {} / {}", views[0], views[1]).into());
    }

    let mut fastest: [Option<Side>; 2] = [None, None];
    for index in 0..rounds.max(1) {
        // Alternate which side goes first, so neither always meets a warmer cache.
        let order = if index % 2 == 0 { [0, 1] } else { [1, 0] };
        for side in order {
            let new = round(&client, std::slice::from_ref(&urls[side]), token, requests).await?;
            if fastest[side]
                .as_ref()
                .is_none_or(|best| new.per_second > best.per_second)
            {
                fastest[side] = Some(new);
            }
        }
    }
    let [framework, hand] = fastest;
    Ok((framework.ok_or("no round")?, hand.ok_or("no round")?))
}

/// Runs the HTTP section on SQLite (and PostgreSQL with its feature) and prints its lines.
pub fn run(scale: f64, rounds: usize, backend: impl Fn(&str) -> bool) -> Result<()> {
    // 4000 requests a round at scale 1; `--smoke` sends a few dozen.
    let requests = ((4000.0 * scale).round() as usize).max(CLIENTS * 4);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!(
        "\nHTTP: GET /users/me through users-axum against a hand-written axum handler doing the \
         same work, one server on 127.0.0.1, {CLIENTS} keep-alive clients, {requests} requests \
         a round, fastest of {} rounds; ratio = users-axum / hand-written requests per second",
        rounds.max(1)
    );
    println!(
        "\n| backend  | sessions  | users-axum/s | p50 ms | p99 ms | hand-written/s | p50 ms | p99 ms | ratio |\n\
         |----------|-----------|--------------|--------|--------|----------------|--------|--------|-------|"
    );
    #[cfg(feature = "sqlite")]
    if backend("sqlite") {
        let path = std::env::temp_dir().join(format!(
            "users_bench_http_{}.sqlite",
            uuid::Uuid::now_v7().simple()
        ));
        let url = path.to_string_lossy().into_owned();
        let result = prepare(&url, |url| {
            let mut conn = diesel::SqliteConnection::establish(url)?;
            users_diesel::configure_sqlite(&mut conn)?;
            Ok(conn)
        })
        .and_then(|()| {
            runtime.block_on(bench_backend(
                "sqlite",
                |url: &str| users_diesel::asynchronous::sqlite_connection_manager(url),
                &url,
                requests,
                rounds,
            ))
        });
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{url}{suffix}"));
        }
        result?;
    }
    #[cfg(feature = "postgres")]
    if backend("postgres") {
        use diesel::connection::SimpleConnection;

        let base = std::env::var("USERS_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_owned());
        let schema = format!("users_bench_http_{}", uuid::Uuid::now_v7().simple());
        let mut admin = diesel::PgConnection::establish(&base)?;
        admin.batch_execute(&format!("CREATE SCHEMA {schema}"))?;
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
        let result =
            prepare(&url, |url| Ok(diesel::PgConnection::establish(url)?)).and_then(|()| {
                runtime.block_on(bench_backend(
                    "postgres",
                    |url: &str| users_diesel::asynchronous::postgres_connection_manager(url),
                    &url,
                    requests,
                    rounds,
                ))
            });
        admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))?;
        result?;
    }
    Ok(())
}

/// Creates the tables (users, roles, sessions) and Alice, with a role, over a sync connection.
pub(crate) fn prepare<C>(url: &str, connect: impl Fn(&str) -> Result<C>) -> Result<()>
where
    C: diesel::Connection + diesel_migrations::MigrationHarness<C::Backend>,
    users_diesel::Migrations: diesel::migration::MigrationSource<C::Backend>,
    User: users_diesel::UserStore<C>,
    Role: users_diesel::RoleStore<C, User = User>,
    users_diesel::Events<User>: users_diesel::EventStore<C>,
{
    let mut conn = connect(url)?;
    migrate(&mut conn)?;
    let users = users_diesel::Users::<User, Role>::new(UsersConfig::new([7u8; 32])?);
    let alice = users.register(&mut conn, "alice@example.com", PASSWORD)?;
    let editor = users.create_role(&mut conn, "editor", None)?;
    users.assign_role(&mut conn, &alice, &editor)?;
    Ok(())
}

/// Creates the tables a request reads: users, roles, sessions, second factors.
pub(crate) fn migrate<C>(conn: &mut C) -> Result<()>
where
    C: diesel::Connection + diesel_migrations::MigrationHarness<C::Backend>,
    users_diesel::Migrations: diesel::migration::MigrationSource<C::Backend>,
{
    let migrations = users_diesel::Migrations::new()
        .with::<User>()
        .with::<Role>()
        .with::<users_diesel::Sessions<User>>()
        .with::<users_diesel::SecondFactors<User>>();
    conn.run_pending_migrations(migrations)?;
    Ok(())
}
