//! Two users-axum server *processes* on different ports of 127.0.0.1, sharing one PostgreSQL
//! database, and in another run one Redis too, as two replicas behind a load balancer would: a
//! logout, an ended session, a rotated refresh token and a login lockout made through one are
//! honoured by the other, and by a restarted one.
//!
//! The servers are this test binary run again as the ignored test
//! `multi_process::server_process` (which serves only when the environment names a database), so
//! they are real processes with nothing in memory in common. Each stops by itself when its parent
//! closes its standard input, and after two minutes at most.
#![cfg(all(feature = "postgres", feature = "redis"))]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use diesel_migrations::MigrationHarness;
use reqwest::StatusCode;
use serde_json::{json, Value};
use users_axum::{
    MemoryMailer, NoProfile, Profile, RedisRevocations, RedisThrottleStore, UsersState,
};
use users_diesel::asynchronous::deadpool::Pool;
use users_diesel::asynchronous::{AsyncDieselConnectionManager, AsyncPgConnection};
use users_diesel::prelude::*;
use users_diesel::{DatabaseThrottleStore, Throttle, Uuid};

#[user_model]
pub struct User {}

#[role_model]
pub struct Role {}

impl Profile for User {
    type Fields = NoProfile;
    fn profile(&self) -> NoProfile {
        NoProfile {}
    }
    fn set_profile(&mut self, _: NoProfile) {}
}

const PASSWORD: &str = "correct horse battery staple";
/// How the parent tells a server where its database (and Redis) is.
const DATABASE_VAR: &str = "USERS_SERVER_DATABASE_URL";
const REDIS_VAR: &str = "USERS_SERVER_REDIS_URL";
const PREFIX_VAR: &str = "USERS_SERVER_REDIS_PREFIX";
/// What a server prints once it listens, before its address.
const LISTENING: &str = "users-server listening on ";

/// The same secret and limits in every process: an account locks after 3 failed logins.
fn config() -> UsersConfig {
    UsersConfig::new([9u8; 32])
        .and_then(|config| config.argon2_params(8, 1, 1))
        .and_then(|config| config.login_limits(3, 1000))
        .and_then(|config| config.login_lockout(Duration::from_secs(300), Duration::from_secs(300)))
        .expect("a valid configuration")
}

/// The server: stored sessions and a database throttle over the database, or with Redis,
/// stateless sessions with Redis's revocation list and throttle counters.
#[test]
#[ignore = "a server process of the multi-process tests, which start it themselves"]
fn server_process() {
    let Ok(database) = std::env::var(DATABASE_VAR) else {
        return;
    };
    let redis = std::env::var(REDIS_VAR).ok();
    let prefix = std::env::var(PREFIX_VAR).unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let manager = AsyncUsers::<User, Role>::new(config());
        let manager = match &redis {
            Some(url) => {
                manager.with_throttle_store(RedisThrottleStore::open(url, &prefix).unwrap())
            }
            None => manager.with_throttle_store(
                DatabaseThrottleStore::<diesel::PgConnection>::establish(&database).unwrap(),
            ),
        };
        let pool = Pool::builder(AsyncDieselConnectionManager::<AsyncPgConnection>::new(
            &database,
        ))
        .max_size(4)
        .build()
        .unwrap();
        let mut state = UsersState::new(manager, pool, MemoryMailer::new());
        if let Some(url) = &redis {
            let revocations = RedisRevocations::open(url, &prefix).await.unwrap();
            state = state.stateless_sessions().revocations(revocations);
        }
        let app = axum::Router::new().merge(users_axum::router(state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{LISTENING}http://{}", listener.local_addr().unwrap());
        std::io::stdout().flush().unwrap();

        // Stop when the parent closes standard input (or dies), or after two minutes.
        let (closed, stdin_closed) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            let _ = closed.send(());
        });
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                tokio::select! {
                    _ = stdin_closed => {}
                    () = tokio::time::sleep(Duration::from_secs(120)) => {}
                }
            })
            .await
            .unwrap();
    });
}

/// A server process, stopped when dropped.
struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    base: String,
}

impl Server {
    /// Starts this binary's `server_process` over `database` (and Redis at `redis`).
    fn start(database: &str, redis: Option<(&str, &str)>) -> Server {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "multi_process::server_process",
                "--exact",
                "--ignored",
                "--nocapture",
            ])
            .env(DATABASE_VAR, database)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some((url, prefix)) = redis {
            command.env(REDIS_VAR, url).env(PREFIX_VAR, prefix);
        }
        let mut child = command.spawn().expect("start a server process");
        let stdout = child.stdout.take().unwrap();
        let (address, receive) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(base) = line.strip_prefix(LISTENING) {
                    let _ = address.send(base.to_owned());
                }
            }
        });
        let base = receive
            .recv_timeout(Duration::from_secs(60))
            .expect("the server process listens within a minute");
        Server {
            stdin: child.stdin.take(),
            child,
            base,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let client = reqwest::Client::new();
        self.send(client.post(format!("{}{path}", self.base)).json(&body))
            .await
    }

    async fn call(&self, method: reqwest::Method, path: &str, token: &str) -> (StatusCode, Value) {
        let client = reqwest::Client::new();
        let request = client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        self.send(request).await
    }

    /// `GET /users/me`'s status with `token`.
    async fn me(&self, token: &str) -> StatusCode {
        self.call(reqwest::Method::GET, "/users/me", token).await.0
    }

    /// A login's answer: status and body.
    async fn login(&self, email: &str, password: &str) -> (StatusCode, Value) {
        self.post(
            "/auth/login",
            json!({ "email": email, "password": password }),
        )
        .await
    }

    /// A login that must succeed: its access and refresh tokens (no refresh token if
    /// sessions are stateless).
    async fn session(&self, email: &str) -> (String, Option<String>) {
        let (status, body) = self.login(email, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let access = body["access_token"].as_str().unwrap().to_owned();
        (access, body["refresh_token"].as_str().map(str::to_owned))
    }

    async fn register(&self, email: &str) {
        let (status, body) = self
            .post(
                "/auth/register",
                json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Closing standard input stops it; kill it in case it is stuck.
        drop(self.stdin.take());
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(200));
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A private PostgreSQL schema with every table the servers use.
fn database() -> users_tests::TestDb<diesel::PgConnection> {
    let mut db = users_tests::postgres();
    let migrations = Migrations::new()
        .with::<User>()
        .with::<Role>()
        .with::<Sessions<User>>()
        .with::<SecondFactors<User>>()
        .with::<Throttle>();
    db.run_pending_migrations(migrations).unwrap();
    db
}

/// Three failed logins through `through` lock Bob's account out; then the right password is
/// refused with 429 by `other`.
async fn lock_out(through: &Server, other: &Server) {
    through.register("bob@example.com").await;
    for _ in 0..3 {
        let (status, _) = through.login("bob@example.com", "not the password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = other.login("bob@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_sessions_hold_across_processes_and_restarts_over_postgres() {
    let db = database();
    let a = Server::start(db.url(), None);
    let mut b = Server::start(db.url(), None);
    a.register("alice@example.com").await;

    // A logout through A is honoured by B.
    let (logged_out, _) = a.session("alice@example.com").await;
    assert_eq!(b.me(&logged_out).await, StatusCode::OK);
    let (status, _) = a
        .call(reqwest::Method::POST, "/auth/logout", &logged_out)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(b.me(&logged_out).await, StatusCode::UNAUTHORIZED);

    // A session ended through A ("log out my phone") is refused by B.
    let (laptop, _) = a.session("alice@example.com").await;
    let (phone, _) = b.session("alice@example.com").await;
    let (_, list) = b
        .call(reqwest::Method::GET, "/users/me/sessions", &laptop)
        .await;
    let phone_id = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|session| session["current"] == false)
        .map(|session| session["id"].as_str().unwrap().to_owned())
        .unwrap();
    let path = format!("/users/me/sessions/{phone_id}");
    let (status, _) = a.call(reqwest::Method::DELETE, &path, &laptop).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(b.me(&phone).await, StatusCode::UNAUTHORIZED);
    assert_eq!(b.me(&laptop).await, StatusCode::OK);

    // A refresh token rotated through A, replayed through B: the session ends for both.
    let (tablet, first) = a.session("alice@example.com").await;
    let first = first.expect("a refresh token");
    let (status, renewed) = a
        .post("/auth/refresh", json!({ "refresh_token": first }))
        .await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    let renewed_access = renewed["access_token"].as_str().unwrap().to_owned();
    let second = renewed["refresh_token"].as_str().unwrap().to_owned();
    let (status, _) = b
        .post("/auth/refresh", json!({ "refresh_token": first }))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.me(&renewed_access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(a.me(&tablet).await, StatusCode::UNAUTHORIZED);
    let (status, _) = a
        .post("/auth/refresh", json!({ "refresh_token": second }))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A lockout counted through A holds in B.
    lock_out(&a, &b).await;

    // B restarts: nothing it knew was in its memory.
    drop(b);
    b = Server::start(db.url(), None);
    assert_eq!(b.me(&logged_out).await, StatusCode::UNAUTHORIZED);
    assert_eq!(b.me(&phone).await, StatusCode::UNAUTHORIZED);
    assert_eq!(b.me(&renewed_access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(b.me(&laptop).await, StatusCode::OK);
    let (status, _) = b.login("bob@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    drop(a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateless_sessions_share_logouts_and_lockouts_through_redis() {
    let db = database();
    let redis = std::env::var("USERS_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("users-test:{}:", Uuid::now_v7());
    let shared = Some((redis.as_str(), prefix.as_str()));
    let a = Server::start(db.url(), shared);
    let mut b = Server::start(db.url(), shared);
    a.register("alice@example.com").await;

    // Stateless: no refresh token, no stored session; the logout is on Redis's list.
    let (logged_out, refresh) = a.session("alice@example.com").await;
    assert!(refresh.is_none());
    let (kept, _) = b.session("alice@example.com").await;
    assert_eq!(b.me(&logged_out).await, StatusCode::OK);
    let (status, _) = b
        .call(reqwest::Method::POST, "/auth/logout", &logged_out)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(a.me(&logged_out).await, StatusCode::UNAUTHORIZED);
    assert_eq!(a.me(&kept).await, StatusCode::OK);

    lock_out(&b, &a).await;

    drop(b);
    b = Server::start(db.url(), shared);
    assert_eq!(b.me(&logged_out).await, StatusCode::UNAUTHORIZED);
    assert_eq!(b.me(&kept).await, StatusCode::OK);
    let (status, _) = b.login("bob@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    drop(a);
}
