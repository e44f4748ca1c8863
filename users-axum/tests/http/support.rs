//! What every area of the HTTP tests shares: the models, the app served on 127.0.0.1 over a
//! private database of a backend (with a few application routes behind the extractors and
//! guard layers), the operator's view of its database, answers, and `http_tests!`, which runs
//! each listed test on every enabled backend.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use diesel_migrations::MigrationHarness;
use reqwest::header::AUTHORIZATION;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use users_axum::{
    Admin, CurrentUser, HasAllRoles, HasAnyRole, HasRole, MailKind, MemoryMailer, Profile,
    RoleNames, UsersState, Verified,
};
use users_diesel::asynchronous::deadpool::Pool;
use users_diesel::prelude::*;
use users_diesel::totp_code;

#[user_model]
pub struct User {
    pub display_name: Option<String>,
    #[column(default = 0)]
    pub credits: i32,
}

#[role_model]
pub struct Role {}

#[org_model]
pub struct Org {}

/// Only `display_name` is the user's to see and set; `credits` is not.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserProfile {
    display_name: Option<String>,
}

impl Profile for User {
    type Fields = UserProfile;

    fn profile(&self) -> UserProfile {
        UserProfile {
            display_name: self.display_name.clone(),
        }
    }

    fn set_profile(&mut self, fields: UserProfile) {
        self.display_name = fields.display_name;
    }
}

pub const PASSWORD: &str = "correct horse battery staple";
pub const NEW_PASSWORD: &str = "a brand new long password";
pub const SECRET: [u8; 32] = [42; 32];

pub fn config() -> UsersConfig {
    UsersConfig::new(SECRET)
        .and_then(|config| config.argon2_params(8, 1, 1))
        .expect("a valid configuration")
}

pub fn migrations() -> Migrations {
    Migrations::new()
        .with::<User>()
        .with::<Role>()
        .with::<Sessions<User>>()
        .with::<SecondFactors<User>>()
        .with::<users_diesel::Events<User>>()
        .with::<Org>()
}

/// The test database, seen from outside the app: what an operator does with the admin CLI.
pub trait Operator {
    fn grant(&mut self, email: &str, role: &str);
    /// Grants the role (made if missing) the permission.
    fn grant_permission(&mut self, role: &str, permission: &str);
    fn deactivate(&mut self, email: &str);
    /// Drops the tables, so that every query fails.
    fn break_database(&mut self);
    /// How many rows the session table holds, live or not.
    fn stored_sessions(&mut self) -> i64;
    /// The user with this email, as stored.
    fn user(&mut self, email: &str) -> User;
    /// Sets the user's `is_verified` as stored (what an administrator's change, or data from
    /// before verified addresses were asked for, leaves).
    fn set_verified(&mut self, email: &str, verified: bool);
}

#[derive(diesel::QueryableByName)]
pub struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub count: i64,
}

impl<C> Operator for users_tests::TestDb<C>
where
    C: diesel::Connection + diesel::connection::SimpleConnection,
    diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'static, C, Count>,
    User: UserStore<C>,
    Role: RoleStore<C, User = User>,
    users_diesel::Events<User>: users_diesel::EventStore<C>,
{
    fn grant(&mut self, email: &str, role: &str) {
        let users = Users::<User, Role>::new(config());
        let user = users.find_by_email(&mut **self, email).unwrap().unwrap();
        let role = match users.find_role(&mut **self, role).unwrap() {
            Some(role) => role,
            None => users.create_role(&mut **self, role, None).unwrap(),
        };
        users.assign_role(&mut **self, &user, &role).unwrap();
    }

    fn grant_permission(&mut self, role: &str, permission: &str) {
        let users = Users::<User, Role>::new(config());
        let role = match users.find_role(&mut **self, role).unwrap() {
            Some(role) => role,
            None => users.create_role(&mut **self, role, None).unwrap(),
        };
        users
            .grant_permission(&mut **self, &role, permission)
            .unwrap();
    }

    fn deactivate(&mut self, email: &str) {
        let users = Users::<User, Role>::new(config());
        let mut user = users.find_by_email(&mut **self, email).unwrap().unwrap();
        user.is_active = false;
        users.update(&mut **self, &user).unwrap();
    }

    fn user(&mut self, email: &str) -> User {
        let users = Users::<User, Role>::new(config());
        users.find_by_email(&mut **self, email).unwrap().unwrap()
    }

    fn set_verified(&mut self, email: &str, verified: bool) {
        let users = Users::<User, Role>::new(config());
        let mut user = users.find_by_email(&mut **self, email).unwrap().unwrap();
        user.is_verified = verified;
        users.update(&mut **self, &user).unwrap();
    }

    fn stored_sessions(&mut self) -> i64 {
        let query = diesel::sql_query("SELECT COUNT(*) AS count FROM users_sessions");
        diesel::RunQueryDsl::get_result::<Count>(query, &mut **self)
            .unwrap()
            .count
    }

    fn break_database(&mut self) {
        self.batch_execute(
            "DROP TABLE users_sessions; DROP TABLE users_second_factors; \
             DROP TABLE users_passkeys; DROP TABLE user_roles; DROP TABLE org_members; \
             DROP TABLE org_invitations; DROP TABLE users",
        )
        .unwrap();
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    #[cfg(feature = "sqlite")]
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
    #[cfg(feature = "mysql")]
    Mysql,
}

/// The app, served on a random port of 127.0.0.1.
pub struct App {
    pub base: String,
    pub client: reqwest::Client,
    pub mailer: MemoryMailer<User>,
    pub db: Box<dyn Operator>,
    pub server: tokio::task::JoinHandle<()>,
    /// How many times the app's pool handed a connection out (a new one or a recycled one).
    pub checkouts: Arc<AtomicUsize>,
}

/// `builder` with hooks that count each connection handed out into `checkouts`.
fn counted<C: Send + 'static>(
    builder: users_diesel::asynchronous::deadpool::PoolBuilder<C>,
    checkouts: &Arc<AtomicUsize>,
) -> users_diesel::asynchronous::deadpool::PoolBuilder<C>
where
    users_diesel::asynchronous::AsyncDieselConnectionManager<C>:
        deadpool::managed::Manager<Type = C>,
{
    let (created, recycled) = (checkouts.clone(), checkouts.clone());
    builder
        .post_create(deadpool::managed::Hook::sync_fn(move |_, _| {
            created.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }))
        .post_recycle(deadpool::managed::Hook::sync_fn(move |_, _| {
            recycled.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }))
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A response: its status, its headers and its body as JSON (`Null` if empty).
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The error code of a JSON error response.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not a JSON error: {} {}", self.status, self.body))
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        self
    }

    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        assert_eq!(
            (self.status.as_u16(), self.code()),
            (status, code),
            "{}",
            self.body
        );
        assert!(self.body["error"]["message"].is_string(), "{}", self.body);
        self
    }
}

/// Roles for [`HasAnyRole`] and [`HasAllRoles`].
pub struct Staff;

/// The permission `/app/publish` needs.
pub struct PublishPosts;

impl users_axum::PermissionName for PublishPosts {
    const NAME: &'static str = "posts.publish";
}

impl RoleNames for Staff {
    const NAMES: &'static [&'static str] = &["admin", "editor"];
}

/// Application routes next to the users router, each behind one extractor or layer.
pub fn app_routes(users: &UsersState<User>) -> Router<UsersState<User>> {
    let layered = Router::new()
        .route("/app/layered/verified", get(|| async { "verified" }))
        .route_layer(users.require_verified());
    let editors = Router::new()
        .route("/app/layered/editor", get(|| async { "editor" }))
        .route_layer(users.require_role("editor"));
    let staff = Router::new()
        .route("/app/layered/staff", get(|| async { "staff" }))
        // Spelled otherwise than the roles were created: guards normalise names too.
        .route_layer(users.require_any_role(["Admin ", "ｅｄｉｔｏｒ"]));
    let both = Router::new()
        .route("/app/layered/both", get(|| async { "both" }))
        .route_layer(users.require_all_roles(["admin", "editor"]));
    Router::new()
        .route(
            "/app/whoami",
            get(|user: CurrentUser<User>| async move { user.email.clone() }),
        )
        .route(
            "/app/maybe",
            get(|user: Option<CurrentUser<User>>| async move {
                user.map_or("anonymous".to_owned(), |user| user.email.clone())
            }),
        )
        .route(
            "/app/verified",
            get(|user: Verified<User>| async move { user.email.clone() }),
        )
        .route(
            "/app/admin",
            get(|user: HasRole<Admin, User>| async move { user.email.clone() }),
        )
        .route(
            "/app/staff",
            get(|user: HasAnyRole<Staff, User>| async move { user.email.clone() }),
        )
        .route(
            "/app/both",
            get(|user: HasAllRoles<Staff, User>| async move { user.email.clone() }),
        )
        .route(
            "/app/publish",
            get(|user: users_axum::HasPermission<PublishPosts, User>| async move {
                user.email.clone()
            }),
        )
        .route(
            "/app/orgs/{org_id}/whoami",
            get(|member: users_axum::OrgMember<User>| async move {
                format!("{} {}", member.email, member.role)
            }),
        )
        .route(
            "/app/orgs/{org_id}/publish",
            get(
                |member: users_axum::HasOrgPermission<PublishPosts, User>| async move {
                    member.email.clone()
                },
            ),
        )
        .merge(layered)
        .merge(editors)
        .merge(staff)
        .merge(both)
}

impl App {
    pub async fn start(backend: Backend) -> App {
        App::start_with(backend, |state| state).await
    }

    pub async fn start_with(
        backend: Backend,
        configure: impl FnOnce(UsersState<User>) -> UsersState<User>,
    ) -> App {
        App::start_wrapped(backend, configure, |app| app).await
    }

    /// The app over a state that `configure` set up, its router wrapped by `wrap` (a layer).
    pub async fn start_wrapped(
        backend: Backend,
        configure: impl FnOnce(UsersState<User>) -> UsersState<User>,
        wrap: impl FnOnce(Router) -> Router,
    ) -> App {
        App::start_over(backend, AsyncUsers::new(config()), configure, wrap).await
    }

    /// The app over `manager`, which the test may keep a clone of.
    pub async fn start_over(
        backend: Backend,
        manager: AsyncUsers<User, Role>,
        configure: impl FnOnce(UsersState<User>) -> UsersState<User>,
        wrap: impl FnOnce(Router) -> Router,
    ) -> App {
        let mailer = MemoryMailer::new();
        let checkouts = Arc::new(AtomicUsize::new(0));
        let (state, db): (UsersState<User>, Box<dyn Operator>) = match backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => {
                let mut db = users_tests::sqlite();
                db.run_pending_migrations(migrations()).unwrap();
                let manager_of_pool =
                    users_diesel::asynchronous::sqlite_connection_manager(db.url());
                let pool = counted(Pool::builder(manager_of_pool), &checkouts)
                    .max_size(4)
                    .build()
                    .unwrap();
                (
                    UsersState::new(manager.clone(), pool.clone(), mailer.clone())
                        .organizations::<Org, _, _>(manager, pool),
                    Box::new(db),
                )
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                use users_diesel::asynchronous::{AsyncDieselConnectionManager, AsyncPgConnection};
                let mut db = users_tests::postgres();
                db.run_pending_migrations(migrations()).unwrap();
                let manager_of_pool =
                    AsyncDieselConnectionManager::<AsyncPgConnection>::new(db.url());
                let pool = counted(Pool::builder(manager_of_pool), &checkouts)
                    .max_size(4)
                    .build()
                    .unwrap();
                (
                    UsersState::new(manager.clone(), pool.clone(), mailer.clone())
                        .organizations::<Org, _, _>(manager, pool),
                    Box::new(db),
                )
            }
            #[cfg(feature = "mysql")]
            Backend::Mysql => {
                use users_diesel::asynchronous::{
                    AsyncDieselConnectionManager, AsyncMysqlConnection,
                };
                let mut db = users_tests::mysql();
                db.run_pending_migrations(migrations()).unwrap();
                let manager_of_pool =
                    AsyncDieselConnectionManager::<AsyncMysqlConnection>::new(db.url());
                let pool = counted(Pool::builder(manager_of_pool), &checkouts)
                    .max_size(4)
                    .build()
                    .unwrap();
                (
                    UsersState::new(manager.clone(), pool.clone(), mailer.clone())
                        .organizations::<Org, _, _>(manager, pool),
                    Box::new(db),
                )
            }
        };
        let state = configure(state);
        let app = wrap(
            app_routes(&state)
                .merge(users_axum::router(state.clone()))
                .with_state(state),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(listener, app).await.unwrap();
        });
        App {
            base,
            client: reqwest::Client::new(),
            mailer,
            db,
            server,
            checkouts,
        }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match token {
            Some(token) => request.header(AUTHORIZATION, format!("Bearer {token}")),
            None => request,
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(self.request(Method::POST, path, None).json(&body))
            .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.send(self.request(Method::GET, path, Some(token)))
            .await
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Answer {
        let request = self.request(method, path, Some(token));
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        self.send(request).await
    }

    pub async fn register(&self, email: &str) -> Value {
        self.post(
            "/auth/register",
            json!({ "email": email, "password": PASSWORD }),
        )
        .await
        .expect(201)
        .body
    }

    /// Registers `email` and verifies it with the mailed token: an account whose address is
    /// proved, as enrolling a factor or linking a provider needs.
    pub async fn register_verified(&self, email: &str) -> Value {
        self.register(email).await;
        let token = self.mailed(email, MailKind::Verification).await;
        self.post("/auth/verify", json!({ "token": token }))
            .await
            .expect(200)
            .body
    }

    pub async fn login_with(&self, email: &str, password: &str) -> String {
        let answer = self
            .post(
                "/auth/login",
                json!({ "email": email, "password": password }),
            )
            .await
            .expect(200);
        assert_eq!(answer.body["token_type"], "bearer");
        answer.body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn login(&self, email: &str) -> String {
        self.login_with(email, PASSWORD).await
    }

    /// A login to `email` from a client that says it is `agent`: the whole answer.
    pub async fn login_from(&self, email: &str, agent: &str) -> Value {
        let request = self
            .request(Method::POST, "/auth/login", None)
            .header("user-agent", agent)
            .json(&json!({ "email": email, "password": PASSWORD }));
        self.send(request).await.expect(200).body
    }

    /// `POST /auth/refresh` with `refresh_token`.
    pub async fn refresh(&self, refresh_token: &str) -> Answer {
        self.post("/auth/refresh", json!({ "refresh_token": refresh_token }))
            .await
    }

    /// `POST path` with `{"email": email}`: a request for a mail to `email`.
    pub async fn ask_mail(&self, path: &str, email: &str) -> Answer {
        self.post(path, json!({ "email": email })).await
    }

    /// A login to `email` with the right password, refused as locked out: its `Retry-After`.
    pub async fn locked_login(&self, email: &str) -> u64 {
        let answer = self
            .post(
                "/auth/login",
                json!({ "email": email, "password": PASSWORD }),
            )
            .await
            .expect_error(429, "too_many_attempts");
        retry_after(&answer)
    }

    /// A login to `email` with a wrong password.
    pub async fn wrong_login(&self, email: &str) -> Answer {
        self.post(
            "/auth/login",
            json!({ "email": email, "password": "wrong password" }),
        )
        .await
    }

    /// The token of the latest message of `kind` to `email`; the mailer runs in a task of its
    /// own, so it may take a moment.
    pub async fn mailed(&self, email: &str, kind: MailKind) -> String {
        for _ in 0..250 {
            if let Some(token) = self.mailer.latest_token(email, kind) {
                return token;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no {kind:?} message to {email}");
    }

    /// How many messages were sent, once the mailer tasks had a moment to run.
    pub async fn sent_count(&self) -> usize {
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.mailer.sent().len()
    }
}

/// Runs each listed test, an `async fn(Backend)` of the calling module, on every enabled backend:
/// in a module per backend, `sqlite`, `postgres` and `mysql` (or the names given after `in`).
macro_rules! http_tests {
    ($($name:ident),* $(,)?) => {
        http_tests!(in sqlite, postgres, mysql; $($name),*);
    };
    (in $sqlite:ident, $postgres:ident, $mysql:ident; $($name:ident),* $(,)?) => {
        http_tests!(@backend "sqlite", $sqlite, Sqlite, $($name),*);
        http_tests!(@backend "postgres", $postgres, Postgres, $($name),*);
        http_tests!(@backend "mysql", $mysql, Mysql, $($name),*);
    };
    (@backend $feature:literal, $module:ident, $variant:ident, $($name:ident),*) => {
        #[cfg(feature = $feature)]
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::support::Backend::$variant).await;
                }
            )*
        }
    };
}

/// Lets the area modules list their tests with `http_tests! { … }`.
pub(crate) use http_tests;

/// Cheap argon2; an account locks after 3 failures and a client after 6, for a minute; an
/// address gets 3 mails an hour.
pub fn throttled_config() -> UsersConfig {
    config()
        .login_limits(3, 6)
        .and_then(|config| config.login_lockout(Duration::from_secs(60), Duration::from_secs(600)))
        .and_then(|config| config.mail_limit(3, Duration::from_secs(3600)))
        .expect("a valid configuration")
}

pub fn retry_after(answer: &Answer) -> u64 {
    answer.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds")
}

/// The access and refresh tokens of a login or refresh answer.
pub fn tokens(answer: &Value) -> (String, String) {
    let access = answer["access_token"].as_str().expect("an access token");
    let refresh = answer["refresh_token"].as_str().expect("a refresh token");
    (access.to_owned(), refresh.to_owned())
}

/// A TOTP code of `secret` for the time step `steps` away from now (one step is 30 s; the
/// server accepts one step either way).
pub fn code_at(secret: &str, steps: i64) -> String {
    let now = std::time::SystemTime::now();
    let offset = Duration::from_secs(30 * steps.unsigned_abs());
    let then = if steps < 0 {
        now - offset
    } else {
        now + offset
    };
    totp_code(secret, then).unwrap()
}

impl App {
    /// Enrols and confirms a TOTP for the session's user: its secret and recovery codes. The
    /// confirmation uses the code of the previous step, so the current and next ones stay free.
    pub async fn enrol_totp(&self, session: &str) -> (String, Vec<String>) {
        let enrolment = self
            .call(
                Method::POST,
                "/users/me/mfa/totp",
                session,
                Some(json!({ "password": PASSWORD })),
            )
            .await
            .expect(200)
            .body;
        let secret = enrolment["secret"].as_str().unwrap().to_owned();
        let confirm = json!({ "code": code_at(&secret, -1) });
        let codes = self
            .call(
                Method::POST,
                "/users/me/mfa/totp/confirm",
                session,
                Some(confirm),
            )
            .await
            .expect(200)
            .body;
        let codes = codes["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|code| code.as_str().unwrap().to_owned())
            .collect();
        (secret, codes)
    }

    /// A login that asks for the second factor: its pending token.
    pub async fn pending_login(&self, email: &str) -> String {
        let answer = self
            .post(
                "/auth/login",
                json!({ "email": email, "password": PASSWORD }),
            )
            .await
            .expect(200)
            .body;
        assert_eq!(answer["mfa_required"], true, "{answer}");
        assert!(
            answer.get("access_token").is_none(),
            "no session yet: {answer}"
        );
        answer["mfa_token"].as_str().unwrap().to_owned()
    }

    /// `POST /auth/mfa` with the pending token and `factor` (`{"code": …}` or
    /// `{"recovery_code": …}`).
    pub async fn complete(&self, token: &str, mut factor: Value) -> Answer {
        factor["mfa_token"] = token.into();
        self.post("/auth/mfa", factor).await
    }
}
