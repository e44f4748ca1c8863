//! users-axum over real HTTP: each test serves the router (plus a few application routes that
//! use the extractors and guard layers) on 127.0.0.1 at a random port, over a private database
//! of each enabled backend, and drives it with reqwest.
//!
//! The SQLite tests run in the default `cargo test`; the PostgreSQL and MySQL ones with those
//! features (`cargo test --all-features`).

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use diesel_migrations::MigrationHarness;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, SET_COOKIE, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use users_axum::{
    Admin, CurrentUser, HasAllRoles, HasAnyRole, HasRole, MailKind, MemoryMailer, Profile,
    RoleNames, UsersState, Verified,
};
use users_diesel::asynchronous::deadpool::Pool;
use users_diesel::prelude::*;
use users_diesel::{totp_code, TokenPurpose, TokenSigner, Uuid};

#[user_model]
pub struct User {
    pub display_name: Option<String>,
    #[column(default = 0)]
    pub credits: i32,
}

#[role_model]
pub struct Role {}

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

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a brand new long password";
const SECRET: [u8; 32] = [42; 32];

fn config() -> UsersConfig {
    UsersConfig::new(SECRET)
        .and_then(|config| config.argon2_params(8, 1, 1))
        .expect("a valid configuration")
}

fn migrations() -> Migrations {
    Migrations::new()
        .with::<User>()
        .with::<Role>()
        .with::<Sessions<User>>()
        .with::<SecondFactors<User>>()
}

/// The test database, seen from outside the app: what an operator does with the admin CLI.
trait Operator {
    fn grant(&mut self, email: &str, role: &str);
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
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}

impl<C> Operator for users_tests::TestDb<C>
where
    C: diesel::Connection + diesel::connection::SimpleConnection,
    diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'static, C, Count>,
    User: UserStore<C>,
    Role: RoleStore<C, User = User>,
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
             DROP TABLE users_passkeys; DROP TABLE user_roles; DROP TABLE users",
        )
        .unwrap();
    }
}

#[derive(Clone, Copy, Debug)]
enum Backend {
    #[cfg(feature = "sqlite")]
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
    #[cfg(feature = "mysql")]
    Mysql,
}

/// The app, served on a random port of 127.0.0.1.
struct App {
    base: String,
    client: reqwest::Client,
    mailer: MemoryMailer<User>,
    db: Box<dyn Operator>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A response: its status, its headers and its body as JSON (`Null` if empty).
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    /// The error code of a JSON error response.
    fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not a JSON error: {} {}", self.status, self.body))
    }

    #[track_caller]
    fn expect(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        self
    }

    #[track_caller]
    fn expect_error(self, status: u16, code: &str) -> Self {
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
struct Staff;

impl RoleNames for Staff {
    const NAMES: &'static [&'static str] = &["admin", "editor"];
}

/// Application routes next to the users router, each behind one extractor or layer.
fn app_routes(users: &UsersState<User>) -> Router<UsersState<User>> {
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
        .merge(layered)
        .merge(editors)
        .merge(staff)
        .merge(both)
}

impl App {
    async fn start(backend: Backend) -> App {
        App::start_with(backend, |state| state).await
    }

    async fn start_with(
        backend: Backend,
        configure: impl FnOnce(UsersState<User>) -> UsersState<User>,
    ) -> App {
        App::start_wrapped(backend, configure, |app| app).await
    }

    /// The app over a state that `configure` set up, its router wrapped by `wrap` (a layer).
    async fn start_wrapped(
        backend: Backend,
        configure: impl FnOnce(UsersState<User>) -> UsersState<User>,
        wrap: impl FnOnce(Router) -> Router,
    ) -> App {
        App::start_over(backend, AsyncUsers::new(config()), configure, wrap).await
    }

    /// The app over `manager`, which the test may keep a clone of.
    async fn start_over(
        backend: Backend,
        manager: AsyncUsers<User, Role>,
        configure: impl FnOnce(UsersState<User>) -> UsersState<User>,
        wrap: impl FnOnce(Router) -> Router,
    ) -> App {
        let mailer = MemoryMailer::new();
        let (state, db): (UsersState<User>, Box<dyn Operator>) = match backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => {
                let mut db = users_tests::sqlite();
                db.run_pending_migrations(migrations()).unwrap();
                let manager_of_pool =
                    users_diesel::asynchronous::sqlite_connection_manager(db.url());
                let pool = Pool::builder(manager_of_pool).max_size(4).build().unwrap();
                (UsersState::new(manager, pool, mailer.clone()), Box::new(db))
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                use users_diesel::asynchronous::{AsyncDieselConnectionManager, AsyncPgConnection};
                let mut db = users_tests::postgres();
                db.run_pending_migrations(migrations()).unwrap();
                let manager_of_pool =
                    AsyncDieselConnectionManager::<AsyncPgConnection>::new(db.url());
                let pool = Pool::builder(manager_of_pool).max_size(4).build().unwrap();
                (UsersState::new(manager, pool, mailer.clone()), Box::new(db))
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
                let pool = Pool::builder(manager_of_pool).max_size(4).build().unwrap();
                (UsersState::new(manager, pool, mailer.clone()), Box::new(db))
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
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
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

    fn request(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match token {
            Some(token) => request.header(AUTHORIZATION, format!("Bearer {token}")),
            None => request,
        }
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(self.request(Method::POST, path, None).json(&body))
            .await
    }

    async fn get(&self, path: &str, token: &str) -> Answer {
        self.send(self.request(Method::GET, path, Some(token)))
            .await
    }

    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Answer {
        let request = self.request(method, path, Some(token));
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        self.send(request).await
    }

    async fn register(&self, email: &str) -> Value {
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
    async fn register_verified(&self, email: &str) -> Value {
        self.register(email).await;
        let token = self.mailed(email, MailKind::Verification).await;
        self.post("/auth/verify", json!({ "token": token }))
            .await
            .expect(200)
            .body
    }

    async fn login_with(&self, email: &str, password: &str) -> String {
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

    async fn login(&self, email: &str) -> String {
        self.login_with(email, PASSWORD).await
    }

    /// A login to `email` from a client that says it is `agent`: the whole answer.
    async fn login_from(&self, email: &str, agent: &str) -> Value {
        let request = self
            .request(Method::POST, "/auth/login", None)
            .header("user-agent", agent)
            .json(&json!({ "email": email, "password": PASSWORD }));
        self.send(request).await.expect(200).body
    }

    /// `POST /auth/refresh` with `refresh_token`.
    async fn refresh(&self, refresh_token: &str) -> Answer {
        self.post("/auth/refresh", json!({ "refresh_token": refresh_token }))
            .await
    }

    /// `POST path` with `{"email": email}`: a request for a mail to `email`.
    async fn ask_mail(&self, path: &str, email: &str) -> Answer {
        self.post(path, json!({ "email": email })).await
    }

    /// A login to `email` with the right password, refused as locked out: its `Retry-After`.
    async fn locked_login(&self, email: &str) -> u64 {
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
    async fn wrong_login(&self, email: &str) -> Answer {
        self.post(
            "/auth/login",
            json!({ "email": email, "password": "wrong password" }),
        )
        .await
    }

    /// The token of the latest message of `kind` to `email`; the mailer runs in a task of its
    /// own, so it may take a moment.
    async fn mailed(&self, email: &str, kind: MailKind) -> String {
        for _ in 0..250 {
            if let Some(token) = self.mailer.latest_token(email, kind) {
                return token;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no {kind:?} message to {email}");
    }

    /// How many messages were sent, once the mailer tasks had a moment to run.
    async fn sent_count(&self) -> usize {
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.mailer.sent().len()
    }
}

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
                    super::$name(super::Backend::$variant).await;
                }
            )*
        }
    };
}

http_tests! {
    the_full_flow_works_and_a_reset_ends_the_old_session,
    the_role_routes_refuse_then_admit_after_assignment,
    bad_bodies_are_json_errors,
    bad_session_tokens_are_refused,
    an_expired_session_is_refused,
    a_logged_out_token_is_refused_and_other_sessions_stay,
    unknown_and_known_emails_get_the_same_answer,
    patch_me_changes_the_profile_and_an_email_change_waits_for_the_new_address,
    a_stolen_session_cannot_move_the_account_to_another_address,
    patch_me_changes_the_password_with_the_current_one,
    cookie_sessions_work_like_bearer_tokens,
    inactive_users_are_refused,
    registration_errors_have_codes,
    tokens_of_one_purpose_are_useless_for_another,
    extractors_and_layers_guard_application_routes,
    a_database_failure_is_an_internal_error_that_says_nothing,
    the_admin_role_and_the_body_limit_are_configurable,
    a_locked_account_is_429_with_retry_after,
    a_client_failing_on_many_accounts_is_429,
    the_mail_routes_cap_each_address_with_429,
    a_full_argon2_gate_is_503_and_sessions_still_answer,
    logins_waiting_for_argon2_hold_no_pooled_connection,
    the_openapi_document_validates_and_describes_every_route,
    unknown_routes_and_methods_are_json_errors,
    the_admin_lists_finds_edits_and_deletes_users,
    deactivating_a_user_ends_their_sessions_at_once,
    the_admin_lists_and_deletes_roles,
    a_user_deletes_their_account_with_the_password,
    the_cors_recipe_admits_the_front_end_with_credentials,
    answers_with_a_token_are_never_cached,
    a_host_prefixed_cookie_session_is_ended_only_by_a_same_site_logout,
    a_role_guard_over_no_roles_is_a_configuration_error,
    stored_sessions_are_listed_and_ended_one_by_one_or_all_others,
    refresh_tokens_rotate_and_a_replayed_one_ends_the_session,
    a_forged_refresh_token_ends_nothing,
    a_password_change_ends_every_other_session_and_renews_this_one,
    an_idle_session_ends_and_a_busy_one_lives_on,
    an_admin_ends_every_session_of_a_user_and_deleting_a_user_deletes_them,
    stateless_sessions_have_no_refresh_and_no_session_routes,
    a_user_enrols_totp_and_logs_in_with_a_code_or_a_recovery_code,
    a_pending_token_is_no_session_and_expires,
    wrong_second_factor_codes_lock_the_account,
    removing_totp_or_new_recovery_codes_need_the_password_or_a_factor,
}

/// Cheap argon2; an account locks after 3 failures and a client after 6, for a minute; an
/// address gets 3 mails an hour.
fn throttled_config() -> UsersConfig {
    config()
        .login_limits(3, 6)
        .and_then(|config| config.login_lockout(Duration::from_secs(60), Duration::from_secs(600)))
        .and_then(|config| config.mail_limit(3, Duration::from_secs(3600)))
        .expect("a valid configuration")
}

fn retry_after(answer: &Answer) -> u64 {
    answer.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds")
}

async fn a_locked_account_is_429_with_retry_after(backend: Backend) {
    let app = App::start_over(
        backend,
        AsyncUsers::new(throttled_config()),
        |state| state,
        |app| app,
    )
    .await;
    app.register("alice@example.com").await;
    for _ in 0..3 {
        app.wrong_login("alice@example.com")
            .await
            .expect_error(401, "invalid_credentials");
    }
    let seconds = app.locked_login("alice@example.com").await;
    assert!((1..=60).contains(&seconds), "{seconds}");
    // Another account from the same client is not locked.
    app.register("bob@example.com").await;
    app.login("bob@example.com").await;
}

async fn a_client_failing_on_many_accounts_is_429(backend: Backend) {
    let app = App::start_over(
        backend,
        AsyncUsers::new(throttled_config()),
        |state| state,
        |app| app,
    )
    .await;
    app.register("alice@example.com").await;
    // Two failures each on three accounts: no account reaches its limit, the client (the peer
    // address, 127.0.0.1) does.
    for account in ["a", "b", "c"] {
        for _ in 0..2 {
            app.wrong_login(&format!("{account}@example.com"))
                .await
                .expect_error(401, "invalid_credentials");
        }
    }
    assert!(app.locked_login("alice@example.com").await >= 1);

    // An application that names its clients otherwise: each request its own client here.
    fn by_header(parts: &axum::http::request::Parts) -> Option<String> {
        let value = parts.headers.get("x-test-client")?;
        Some(value.to_str().ok()?.to_owned())
    }
    let app = App::start_over(
        backend,
        AsyncUsers::new(throttled_config()),
        |state| state.client_key(by_header),
        |app| app,
    )
    .await;
    app.register("alice@example.com").await;
    for (i, account) in ["a", "b", "c", "d", "e", "f", "g"].into_iter().enumerate() {
        let request = app
            .request(Method::POST, "/auth/login", None)
            .header("x-test-client", format!("client-{i}"))
            .json(
                &json!({ "email": format!("{account}@example.com"), "password": "wrong password" }),
            );
        let answer = app.send(request).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    }
    app.login("alice@example.com").await;
}

async fn the_mail_routes_cap_each_address_with_429(backend: Backend) {
    let app = App::start_over(
        backend,
        AsyncUsers::new(throttled_config()),
        |state| state,
        |app| app,
    )
    .await;
    // Registration is the address's first mail; two more requests of either kind pass.
    app.register("alice@example.com").await;
    app.ask_mail("/auth/forgot-password", "alice@example.com")
        .await
        .expect(202);
    app.ask_mail("/auth/request-verify", "Alice@Example.com")
        .await
        .expect(202);
    for path in [
        "/auth/forgot-password",
        "/auth/request-verify",
        "/auth/register",
    ] {
        let body = if path == "/auth/register" {
            json!({ "email": "alice@example.com", "password": PASSWORD })
        } else {
            json!({ "email": "alice@example.com" })
        };
        let refused = app
            .post(path, body)
            .await
            .expect_error(429, "too_many_attempts");
        assert!(retry_after(&refused) > 3500, "{:?}", refused.headers);
    }
    // An address without an account gets the same answers, so they reveal nothing.
    for _ in 0..3 {
        app.ask_mail("/auth/forgot-password", "nobody@example.com")
            .await
            .expect(202);
    }
    app.ask_mail("/auth/forgot-password", "nobody@example.com")
        .await
        .expect_error(429, "too_many_attempts");
    // Three mails reached alice, whatever was asked.
    let to_alice = |app: &App| {
        app.mailer
            .sent()
            .iter()
            .filter(|mail| mail.to == "alice@example.com")
            .count()
    };
    app.sent_count().await;
    assert_eq!(to_alice(&app), 3);

    // An email change mails the new address, within its cap too.
    let token = app.login("alice@example.com").await;
    for _ in 0..3 {
        app.ask_mail("/auth/forgot-password", "carol@example.com")
            .await
            .expect(202);
    }
    let patch = app
        .request(Method::PATCH, "/users/me", Some(&token))
        .json(&json!({ "email": "carol@example.com", "current_password": PASSWORD }));
    let answer = app.send(patch).await;
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        answer.body
    );
}

async fn a_full_argon2_gate_is_503_and_sessions_still_answer(backend: Backend) {
    let manager = AsyncUsers::new(config().argon2_concurrency(1, 0).unwrap());
    let app = App::start_over(backend, manager.clone(), |state| state, |app| app).await;
    app.register("alice@example.com").await;
    let token = app.login("alice@example.com").await;

    let slot = manager.hasher().gate().enter().unwrap();
    for _ in 0..3 {
        let refused = app
            .post(
                "/auth/login",
                json!({ "email": "alice@example.com", "password": PASSWORD }),
            )
            .await
            .expect_error(503, "overloaded");
        assert_eq!(retry_after(&refused), 1);
    }
    // Nothing but argon2 waits for the gate.
    app.get("/users/me", &token).await.expect(200);
    drop(slot);
    app.login("alice@example.com").await;
}

async fn logins_waiting_for_argon2_hold_no_pooled_connection(backend: Backend) {
    let manager = AsyncUsers::new(config().argon2_concurrency(1, 16).unwrap());
    let app = App::start_over(backend, manager.clone(), |state| state, |app| app).await;
    app.register("alice@example.com").await;
    let token = app.login("alice@example.com").await;

    // With the gate's one slot taken, as many wrong-password logins as the pool has
    // connections (4) queue for argon2, each after loading its user.
    let gate = manager.hasher().gate();
    let slot = gate.enter().unwrap();
    let wrong = json!({ "email": "alice@example.com", "password": "not the password at all" });
    let logins: Vec<_> = (0..4)
        .map(|_| {
            tokio::spawn(
                app.request(Method::POST, "/auth/login", None)
                    .json(&wrong)
                    .send(),
            )
        })
        .collect();
    for _ in 0..500 {
        if gate.waiting() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(gate.waiting(), 4, "the logins reached the gate");
    // Every pooled connection went back before hashing: a session check gets one. (Holding
    // them, the logins would leave it waiting on the pool until the client gives up.)
    let me = app
        .request(Method::GET, "/users/me", Some(&token))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("/users/me answers while the logins wait for argon2");
    assert_eq!(me.status(), 200);
    drop(slot);
    for login in logins {
        assert_eq!(login.await.unwrap().unwrap().status(), 401);
    }
}

async fn the_full_flow_works_and_a_reset_ends_the_old_session(backend: Backend) {
    let app = App::start(backend).await;

    let registered = app
        .post(
            "/auth/register",
            json!({ "email": "Alice@Example.COM", "password": PASSWORD, "display_name": "Alice" }),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(registered["email"], "alice@example.com");
    assert_eq!(registered["display_name"], "Alice");
    assert_eq!(registered["is_verified"], false);
    assert_eq!(registered["is_active"], true);
    assert_eq!(registered["roles"], json!([]));
    assert!(registered["id"].as_str().unwrap().parse::<Uuid>().is_ok());
    for hidden in ["password_hash", "credits", "password"] {
        assert!(registered.get(hidden).is_none(), "{registered}");
    }

    // Registration mails a verification token; request-verify mails another.
    app.mailed("alice@example.com", MailKind::Verification)
        .await;
    app.ask_mail("/auth/request-verify", "alice@example.com")
        .await
        .expect(202);
    let verification = app
        .mailed("alice@example.com", MailKind::Verification)
        .await;
    let verified = app
        .post("/auth/verify", json!({ "token": verification }))
        .await
        .expect(200)
        .body;
    assert_eq!(verified["is_verified"], true);
    app.post("/auth/verify", json!({ "token": verification }))
        .await
        .expect_error(409, "already_verified");

    let session = app.login("ALICE@example.com").await;
    let me = app.get("/users/me", &session).await.expect(200).body;
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["display_name"], "Alice");
    assert_eq!(me["is_verified"], true);
    assert_eq!(me["id"], registered["id"]);

    app.ask_mail("/auth/forgot-password", "alice@example.com")
        .await
        .expect(202);
    let reset = app
        .mailed("alice@example.com", MailKind::PasswordReset)
        .await;
    let after_reset = app
        .post(
            "/auth/reset-password",
            json!({ "token": reset, "password": NEW_PASSWORD }),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(after_reset["email"], "alice@example.com");
    // Single use.
    app.post(
        "/auth/reset-password",
        json!({ "token": reset, "password": "yet another password" }),
    )
    .await
    .expect_error(400, "invalid_token");

    app.get("/users/me", &session)
        .await
        .expect_error(401, "invalid_token");
    app.post(
        "/auth/login",
        json!({ "email": "alice@example.com", "password": PASSWORD }),
    )
    .await
    .expect_error(401, "invalid_credentials");
    let session = app.login_with("alice@example.com", NEW_PASSWORD).await;
    app.get("/users/me", &session).await.expect(200);
}

async fn the_role_routes_refuse_then_admit_after_assignment(backend: Backend) {
    let mut app = App::start(backend).await;
    app.register("root@example.com").await;
    let bob = app.register("bob@example.com").await;
    let bob_id = bob["id"].as_str().unwrap().to_owned();
    let root = app.login("root@example.com").await;

    app.send(
        app.request(Method::POST, "/roles", None)
            .json(&json!({ "name": "editor" })),
    )
    .await
    .expect_error(401, "unauthorized");
    let role = json!({ "name": "editor", "description": "writes articles" });
    app.call(Method::POST, "/roles", &root, Some(role.clone()))
        .await
        .expect_error(403, "forbidden");
    let assignment = format!("/roles/editor/users/{bob_id}");
    app.call(Method::POST, &assignment, &root, None)
        .await
        .expect_error(403, "forbidden");

    // What `cargo run --example admin -- assign-role root@example.com admin` does.
    app.db.grant("root@example.com", "admin");

    let created = app
        .call(Method::POST, "/roles", &root, Some(role.clone()))
        .await
        .expect(201)
        .body;
    assert_eq!(created["name"], "editor");
    assert_eq!(created["description"], "writes articles");
    assert!(created["id"].as_str().unwrap().parse::<Uuid>().is_ok());
    app.call(Method::POST, "/roles", &root, Some(role))
        .await
        .expect_error(409, "role_exists");
    let blank = app
        .call(Method::POST, "/roles", &root, Some(json!({ "name": " " })))
        .await
        .expect_error(422, "invalid_field");
    assert_eq!(blank.body["error"]["field"], "name");

    app.call(Method::POST, &assignment, &root, None)
        .await
        .expect(204);
    app.call(Method::POST, &assignment, &root, None)
        .await
        .expect(204); // idempotent
    let bob_session = app.login("bob@example.com").await;
    let me = app.get("/users/me", &bob_session).await.expect(200).body;
    assert_eq!(me["roles"], json!(["editor"]));

    app.call(
        Method::POST,
        &format!("/roles/nobody/users/{bob_id}"),
        &root,
        None,
    )
    .await
    .expect_error(404, "role_not_found");
    app.call(
        Method::POST,
        &format!("/roles/editor/users/{}", Uuid::now_v7()),
        &root,
        None,
    )
    .await
    .expect_error(404, "user_not_found");
    app.call(Method::POST, "/roles/editor/users/not-a-uuid", &root, None)
        .await
        .expect_error(400, "bad_request");

    app.call(Method::DELETE, &assignment, &root, None)
        .await
        .expect(204);
    let me = app.get("/users/me", &bob_session).await.expect(200).body;
    assert_eq!(me["roles"], json!([]));
    // Bob is no admin.
    app.call(Method::DELETE, &assignment, &bob_session, None)
        .await
        .expect_error(403, "forbidden");
}

async fn bad_bodies_are_json_errors(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let raw = |path: &str, body: &'static str| {
        app.request(Method::POST, path, None)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
    };

    // Not JSON: 400.
    for (path, body) in [
        ("/auth/login", "{\"email\": \"alice@example.com\", "),
        ("/auth/login", "not json"),
        ("/auth/register", "{\"email\": \"a@example.com\",}"),
    ] {
        app.send(raw(path, body))
            .await
            .expect_error(400, "bad_request");
    }
    // JSON, but a member is missing, unknown, repeated or of the wrong type: 422, naming it.
    for (path, body, field) in [
        ("/auth/register", "[1, 2, 3]", ""),
        ("/auth/login", "{\"email\": \"alice@example.com\"}", "password"),
        (
            "/auth/login",
            "{\"email\": \"alice@example.com\", \"password\": 5}",
            "password",
        ),
        (
            "/auth/login",
            "{\"email\": \"a@example.com\", \"password\": \"x\", \"admin\": true}",
            "admin",
        ),
        ("/auth/register", "{\"password\": \"a long password\"}", "email"),
        (
            "/auth/register",
            "{\"email\": \"b@example.com\", \"password\": \"a long password\", \"credits\": 100}",
            "credits",
        ),
        ("/auth/verify", "{}", "token"),
        // A repeated member is refused on every route, whatever the route does with the body.
        (
            "/auth/login",
            "{\"email\": \"alice@example.com\", \"password\": \"x\", \"password\": \"y\"}",
            "password",
        ),
        (
            "/auth/register",
            "{\"email\": \"c@example.com\", \"email\": \"d@example.com\", \"password\": \"a long password\"}",
            "email",
        ),
    ] {
        let answer = app
            .send(raw(path, body))
            .await
            .expect_error(422, "invalid_field");
        assert_eq!(answer.body["error"]["field"], field, "{body}");
    }
    // Without a JSON content type.
    app.send(
        app.request(Method::POST, "/auth/login", None)
            .body("{\"email\": \"alice@example.com\", \"password\": \"x\"}"),
    )
    .await
    .expect_error(400, "bad_request");

    // Over the 16 KiB default limit.
    let huge = json!({ "email": "alice@example.com", "password": "x".repeat(17 * 1024) });
    app.post("/auth/login", huge.clone())
        .await
        .expect_error(413, "payload_too_large");
    app.post("/auth/register", huge.clone())
        .await
        .expect_error(413, "payload_too_large");
    app.call(Method::PATCH, "/users/me", &session, Some(huge))
        .await
        .expect_error(413, "payload_too_large");

    // Fields that are not the user's to set.
    for body in [
        json!({ "is_verified": true }),
        json!({ "is_active": true }),
        json!({ "credits": 100 }),
        json!({ "id": Uuid::now_v7().to_string() }),
        json!({ "password_hash": "$argon2id$forged" }),
        json!({ "display_name": 5 }),
        json!({ "email": 5 }),
    ] {
        app.call(Method::PATCH, "/users/me", &session, Some(body))
            .await
            .expect_error(422, "invalid_field");
    }
    let me = app.get("/users/me", &session).await.expect(200).body;
    assert_eq!(me["is_verified"], false);
}

async fn bad_session_tokens_are_refused(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    app.get("/users/me", &session).await.expect(200);

    let missing = app
        .send(app.request(Method::GET, "/users/me", None))
        .await
        .expect_error(401, "unauthorized");
    assert_eq!(missing.headers[WWW_AUTHENTICATE], "Bearer");

    let mut tampered = session.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let truncated = &session[..session.len() - 1];
    let verification = app
        .mailed("alice@example.com", MailKind::Verification)
        .await;
    for token in [
        "garbage",
        "",
        tampered.as_str(),
        truncated,
        &format!("{session}A"),
        &verification,
    ] {
        app.get("/users/me", token)
            .await
            .expect_error(401, "invalid_token");
    }
    // Another scheme is not a bearer token.
    app.send(
        app.request(Method::GET, "/users/me", None)
            .header(AUTHORIZATION, format!("Basic {session}")),
    )
    .await
    .expect_error(401, "invalid_token");
    // Signed with another secret.
    let foreign = {
        let signer = TokenSigner::new(&UsersConfig::new([7u8; 32]).unwrap());
        let me = app.get("/users/me", &session).await.body;
        let user = User::from_credentials(
            me["id"].as_str().unwrap().parse::<Uuid>().unwrap().into(),
            "alice@example.com".into(),
            String::new(),
        );
        signer.issue(
            TokenPurpose::Session,
            &user,
            std::time::SystemTime::now(),
            Duration::from_secs(3600),
        )
    };
    app.get("/users/me", &foreign)
        .await
        .expect_error(401, "invalid_token");
}

async fn an_expired_session_is_refused(backend: Backend) {
    let app = App::start_with(backend, |state| {
        state.session_lifetime(Duration::from_secs(2))
    })
    .await;
    app.register("alice@example.com").await;
    let answer = app
        .post(
            "/auth/login",
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await
        .expect(200);
    assert_eq!(answer.body["expires_in"], 2);
    let session = answer.body["access_token"].as_str().unwrap().to_owned();
    app.get("/users/me", &session).await.expect(200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    app.get("/users/me", &session)
        .await
        .expect_error(401, "invalid_token");
}

async fn a_logged_out_token_is_refused_and_other_sessions_stay(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    let laptop = app.login("alice@example.com").await;
    let phone = app.login("alice@example.com").await;
    assert_ne!(laptop, phone);

    app.call(Method::POST, "/auth/logout", &laptop, None)
        .await
        .expect(204);
    app.get("/users/me", &laptop)
        .await
        .expect_error(401, "invalid_token");
    app.call(Method::POST, "/auth/logout", &laptop, None)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &phone).await.expect(200);
    app.send(app.request(Method::POST, "/auth/logout", None))
        .await
        .expect_error(401, "unauthorized");
}

async fn unknown_and_known_emails_get_the_same_answer(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    app.mailed("alice@example.com", MailKind::Verification)
        .await;
    let sent = app.sent_count().await;

    for path in ["/auth/forgot-password", "/auth/request-verify"] {
        let known = app
            .post(path, json!({ "email": "alice@example.com" }))
            .await;
        let unknown = app
            .post(path, json!({ "email": "nobody@example.com" }))
            .await;
        assert_eq!(known.status, StatusCode::ACCEPTED);
        assert_eq!(
            (known.status, &known.body),
            (unknown.status, &unknown.body),
            "{path}"
        );
        assert!(known.body["message"].is_string(), "{}", known.body);
    }
    // A token for alice each time, none for nobody, and never one in a response.
    assert_eq!(app.sent_count().await, sent + 2);
    for mail in app.mailer.sent() {
        assert_eq!(mail.user.email, "alice@example.com");
    }

    // A verified user gets no verification message, and the answer does not say so.
    let token = app
        .mailed("alice@example.com", MailKind::Verification)
        .await;
    app.post("/auth/verify", json!({ "token": token }))
        .await
        .expect(200);
    let sent = app.sent_count().await;
    let verified = app
        .post(
            "/auth/request-verify",
            json!({ "email": "alice@example.com" }),
        )
        .await;
    let unknown = app
        .post(
            "/auth/request-verify",
            json!({ "email": "nobody@example.com" }),
        )
        .await;
    assert_eq!(
        (verified.status, verified.body),
        (unknown.status, unknown.body)
    );
    assert_eq!(app.sent_count().await, sent);

    // A malformed address is a validation error, which tells nothing about accounts.
    app.ask_mail("/auth/forgot-password", "not an address")
        .await
        .expect_error(422, "invalid_email");
}

async fn patch_me_changes_the_profile_and_an_email_change_waits_for_the_new_address(
    backend: Backend,
) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    app.register("bob@example.com").await;
    let token = app
        .mailed("alice@example.com", MailKind::Verification)
        .await;
    app.post("/auth/verify", json!({ "token": token }))
        .await
        .expect(200);
    let session = app.login("alice@example.com").await;

    let me = app
        .call(
            Method::PATCH,
            "/users/me",
            &session,
            Some(json!({ "display_name": "Alice" })),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(me["display_name"], "Alice");
    assert_eq!(me["is_verified"], true);
    assert!(me.get("session").is_none());

    let patch = |body: Value| app.call(Method::PATCH, "/users/me", &session, Some(body));
    patch(json!({ "email": "alice@example.org" }))
        .await
        .expect_error(422, "invalid_field");
    patch(json!({ "email": "alice@example.org", "current_password": "wrong password!" }))
        .await
        .expect_error(401, "invalid_credentials");
    patch(json!({ "email": "BOB@example.com", "current_password": PASSWORD }))
        .await
        .expect_error(409, "email_taken");
    patch(json!({ "email": "not an address", "current_password": PASSWORD }))
        .await
        .expect_error(422, "invalid_email");
    // The current address, written differently, is no change and needs no password.
    patch(json!({ "email": " ALICE@example.com " }))
        .await
        .expect(200);

    let reset_before = {
        app.post(
            "/auth/forgot-password",
            json!({ "email": "alice@example.com" }),
        )
        .await
        .expect(202);
        app.mailed("alice@example.com", MailKind::PasswordReset)
            .await
    };
    let me = patch(json!({ "email": " Alice@Example.ORG ", "current_password": PASSWORD }))
        .await
        .expect(200)
        .body;
    // Pending: the account keeps its verified address until the new one is verified.
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["is_verified"], true);
    assert_eq!(me["display_name"], "Alice", "untouched fields stay");
    // The request ended every session (the hash was salted again) and handed this one anew.
    let renewed = me["session"]["access_token"]
        .as_str()
        .expect("a new session")
        .to_owned();
    app.get("/users/me", &session)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &renewed).await.expect(200);
    // The old address is told; the token goes to the new one only.
    let notice = app
        .mailer
        .sent()
        .into_iter()
        .find(|mail| mail.kind == MailKind::EmailChangeNotice)
        .expect("a notice to the old address");
    assert_eq!(notice.to, "alice@example.com");
    assert_eq!(notice.pending_email.as_deref(), Some("alice@example.org"));
    assert!(notice.token.is_empty());
    let change = app
        .mailed("alice@example.org", MailKind::Verification)
        .await;
    // A reset token from before the change is dead.
    app.post(
        "/auth/reset-password",
        json!({ "token": reset_before, "password": "a new password for alice" }),
    )
    .await
    .expect_error(400, "invalid_token");

    let moved = app
        .post("/auth/verify", json!({ "token": change }))
        .await
        .expect(200)
        .body;
    assert_eq!(moved["email"], "alice@example.org");
    assert_eq!(moved["is_verified"], true);
    app.login("alice@example.org").await;

    let me = app
        .call(
            Method::PATCH,
            "/users/me",
            &renewed,
            Some(json!({ "display_name": null })),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(me["display_name"], Value::Null);
    // An empty patch changes nothing.
    let unchanged = app
        .call(Method::PATCH, "/users/me", &renewed, Some(json!({})))
        .await
        .expect(200)
        .body;
    assert_eq!(unchanged, me);
}

/// The takeover a stolen session made possible: move the account to the thief's address,
/// then reset its password from there.
async fn a_stolen_session_cannot_move_the_account_to_another_address(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    let stolen = app.login("alice@example.com").await;

    app.call(
        Method::PATCH,
        "/users/me",
        &stolen,
        Some(json!({ "email": "mallory@example.com" })),
    )
    .await
    .expect_error(422, "invalid_field");
    app.post(
        "/auth/forgot-password",
        json!({ "email": "mallory@example.com" }),
    )
    .await
    .expect(202);
    assert!(
        app.mailer
            .sent()
            .iter()
            .all(|mail| mail.to != "mallory@example.com"),
        "nothing reaches the thief's address"
    );
    let me = app.get("/users/me", &stolen).await.expect(200).body;
    assert_eq!(me["email"], "alice@example.com");
}

async fn patch_me_changes_the_password_with_the_current_one(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let other = app.login("alice@example.com").await;

    app.call(
        Method::PATCH,
        "/users/me",
        &session,
        Some(json!({ "password": NEW_PASSWORD })),
    )
    .await
    .expect_error(422, "invalid_field");
    app.call(
        Method::PATCH,
        "/users/me",
        &session,
        Some(json!({ "current_password": PASSWORD })),
    )
    .await
    .expect_error(422, "invalid_field");
    app.call(
        Method::PATCH,
        "/users/me",
        &session,
        Some(json!({ "display_name": "Mallory", "current_password": "wrong password", "password": NEW_PASSWORD })),
    )
    .await
    .expect_error(401, "invalid_credentials");
    app.call(
        Method::PATCH,
        "/users/me",
        &session,
        Some(json!({ "current_password": PASSWORD, "password": "short" })),
    )
    .await
    .expect_error(422, "invalid_password");
    // Nothing of the failed requests stuck.
    let me = app.get("/users/me", &session).await.expect(200).body;
    assert_eq!(me["display_name"], Value::Null);

    let changed = app
        .call(
            Method::PATCH,
            "/users/me",
            &session,
            Some(json!({ "display_name": "Alice", "current_password": PASSWORD, "password": NEW_PASSWORD })),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(changed["display_name"], "Alice");
    let renewed = changed["session"]["access_token"].as_str().unwrap();
    app.get("/users/me", renewed).await.expect(200);
    // Every session from before the change is over, this request's and the others.
    app.get("/users/me", &session)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &other)
        .await
        .expect_error(401, "invalid_token");
    app.login_with("alice@example.com", NEW_PASSWORD).await;
}

/// The token that a `Set-Cookie` value stores in the cookie `name`.
fn cookie_token(set_cookie: &str, name: &str) -> String {
    let value = set_cookie
        .strip_prefix(&format!("{name}="))
        .unwrap_or_else(|| panic!("{set_cookie}"));
    let token = value.split(';').next().unwrap().to_owned();
    assert!(!token.is_empty(), "{set_cookie}");
    token
}

async fn cookie_sessions_work_like_bearer_tokens(backend: Backend) {
    let app = App::start_with(backend, |state| {
        state.session_cookie("users_session").unwrap()
    })
    .await;
    app.register("alice@example.com").await;
    let login = app
        .post(
            "/auth/login",
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await
        .expect(200);
    let set_cookie = login.headers[SET_COOKIE].to_str().unwrap().to_owned();
    // The cookie holds an access token of the same stored session that lasts as long as the
    // session (30 days by default): each request checks the session's row anyway, and a
    // browser has no use for the refresh token.
    let token = cookie_token(&set_cookie, "users_session");
    assert!(login.body["refresh_token"].is_string());
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=2592000",
    ] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }

    let cookie = format!("theme=dark; users_session={token}");
    let with_cookie = |method, path: &str| {
        app.request(method, path, None)
            .header(COOKIE, cookie.clone())
    };
    let me = app
        .send(with_cookie(Method::GET, "/users/me"))
        .await
        .expect(200);
    assert_eq!(me.body["email"], "alice@example.com");

    let logout = app
        .send(with_cookie(Method::POST, "/auth/logout"))
        .await
        .expect(204);
    let cleared = logout.headers[SET_COOKIE].to_str().unwrap();
    assert!(
        cleared.starts_with("users_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    app.send(with_cookie(Method::GET, "/users/me"))
        .await
        .expect_error(401, "invalid_token");
    // A cleared cookie is no session at all.
    app.send(
        app.request(Method::GET, "/users/me", None)
            .header(COOKIE, "users_session="),
    )
    .await
    .expect_error(401, "unauthorized");
}

async fn inactive_users_are_refused(backend: Backend) {
    let mut app = App::start(backend).await;
    app.register("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let other_session = app.login("alice@example.com").await;
    let verification = app
        .mailed("alice@example.com", MailKind::Verification)
        .await;
    app.post(
        "/auth/forgot-password",
        json!({ "email": "alice@example.com" }),
    )
    .await
    .expect(202);
    let reset = app
        .mailed("alice@example.com", MailKind::PasswordReset)
        .await;
    app.db.deactivate("alice@example.com");

    // The tokens issued before the deactivation are refused, and leave the account as it is.
    app.post("/auth/verify", json!({ "token": verification }))
        .await
        .expect_error(403, "inactive_user");
    app.post(
        "/auth/reset-password",
        json!({ "token": reset, "password": "a brand new password" }),
    )
    .await
    .expect_error(403, "inactive_user");
    // A deactivated user can still end a session (and it stays ended).
    app.send(app.request(Method::POST, "/auth/logout", Some(&other_session)))
        .await
        .expect(204);
    app.send(app.request(Method::POST, "/auth/logout", Some(&other_session)))
        .await
        .expect_error(401, "invalid_token");

    app.get("/users/me", &session)
        .await
        .expect_error(403, "inactive_user");
    app.post(
        "/auth/login",
        json!({ "email": "alice@example.com", "password": PASSWORD }),
    )
    .await
    .expect_error(403, "inactive_user");
    // Wrong password first: an inactive account is only revealed to who knows the password.
    app.wrong_login("alice@example.com")
        .await
        .expect_error(401, "invalid_credentials");
    let sent = app.sent_count().await;
    app.ask_mail("/auth/forgot-password", "alice@example.com")
        .await
        .expect(202);
    assert_eq!(app.sent_count().await, sent);
}

async fn registration_errors_have_codes(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    app.post(
        "/auth/register",
        json!({ "email": " ALICE@example.com", "password": PASSWORD }),
    )
    .await
    .expect_error(409, "email_taken");
    app.post(
        "/auth/register",
        json!({ "email": "no at sign", "password": PASSWORD }),
    )
    .await
    .expect_error(422, "invalid_email");
    let short = app
        .post(
            "/auth/register",
            json!({ "email": "bob@example.com", "password": "pw12345" }),
        )
        .await
        .expect_error(422, "invalid_password");
    assert!(
        !short.body.to_string().contains("pw12345"),
        "{}",
        short.body
    );
    assert_eq!(short.body["error"]["field"], "password", "{}", short.body);
    assert_eq!(short.body["error"]["reason"], "too_short", "{}", short.body);
    let weak = app
        .post(
            "/auth/register",
            json!({ "email": "bob@example.com", "password": "password1234" }),
        )
        .await
        .expect_error(422, "invalid_password");
    assert_eq!(weak.body["error"]["reason"], "too_weak", "{}", weak.body);
    assert!(
        weak.body["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("too easy to guess")),
        "{}",
        weak.body
    );
    app.post(
        "/auth/login",
        json!({ "email": "nobody@example.com", "password": PASSWORD }),
    )
    .await
    .expect_error(401, "invalid_credentials");
}

async fn tokens_of_one_purpose_are_useless_for_another(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let verification = app
        .mailed("alice@example.com", MailKind::Verification)
        .await;
    app.ask_mail("/auth/forgot-password", "alice@example.com")
        .await;
    let reset = app
        .mailed("alice@example.com", MailKind::PasswordReset)
        .await;

    app.post("/auth/verify", json!({ "token": session }))
        .await
        .expect_error(400, "invalid_token");
    app.post("/auth/verify", json!({ "token": reset }))
        .await
        .expect_error(400, "invalid_token");
    for token in [&session, &verification] {
        app.post(
            "/auth/reset-password",
            json!({ "token": token, "password": NEW_PASSWORD }),
        )
        .await
        .expect_error(400, "invalid_token");
    }
    app.get("/users/me", &reset)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &session).await.expect(200);
}

async fn extractors_and_layers_guard_application_routes(backend: Backend) {
    let mut app = App::start(backend).await;
    app.register("alice@example.com").await;
    let alice = app.login("alice@example.com").await;
    let text = |answer: Answer| answer.expect(200).body;

    assert_eq!(
        text(app.get("/app/whoami", &alice).await),
        "alice@example.com"
    );
    assert_eq!(
        text(app.send(app.request(Method::GET, "/app/maybe", None)).await),
        "anonymous"
    );
    assert_eq!(
        text(app.get("/app/maybe", &alice).await),
        "alice@example.com"
    );
    app.get("/app/maybe", "garbage")
        .await
        .expect_error(401, "invalid_token");

    for path in ["/app/verified", "/app/layered/verified"] {
        app.get(path, &alice)
            .await
            .expect_error(403, "unverified_user");
    }
    for path in [
        "/app/admin",
        "/app/staff",
        "/app/both",
        "/app/layered/editor",
        "/app/layered/staff",
        "/app/layered/both",
    ] {
        app.get(path, &alice).await.expect_error(403, "forbidden");
        app.send(app.request(Method::GET, path, None))
            .await
            .expect_error(401, "unauthorized");
    }

    let token = app
        .mailed("alice@example.com", MailKind::Verification)
        .await;
    app.post("/auth/verify", json!({ "token": token }))
        .await
        .expect(200);
    // The first proof of the address ended the sessions from before it.
    app.get("/app/whoami", &alice)
        .await
        .expect_error(401, "invalid_token");
    let alice = app.login("alice@example.com").await;
    app.db.grant("alice@example.com", "editor");
    for (path, answer) in [
        ("/app/verified", "alice@example.com"),
        ("/app/staff", "alice@example.com"),
        ("/app/layered/verified", "verified"),
        ("/app/layered/editor", "editor"),
        ("/app/layered/staff", "staff"),
    ] {
        assert_eq!(text(app.get(path, &alice).await), answer, "{path}");
    }
    for path in ["/app/admin", "/app/both", "/app/layered/both"] {
        app.get(path, &alice).await.expect_error(403, "forbidden");
    }
    app.db.grant("alice@example.com", "admin");
    assert_eq!(
        text(app.get("/app/admin", &alice).await),
        "alice@example.com"
    );
    assert_eq!(
        text(app.get("/app/both", &alice).await),
        "alice@example.com"
    );
    assert_eq!(text(app.get("/app/layered/both", &alice).await), "both");
    // A layer answers only for its routes: an unknown path is still a 404.
    assert_eq!(
        app.send(app.request(Method::GET, "/app/nowhere", None))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn a_database_failure_is_an_internal_error_that_says_nothing(backend: Backend) {
    let mut app = App::start(backend).await;
    app.register("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    app.db.break_database();
    for answer in [
        app.post(
            "/auth/login",
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await,
        app.get("/users/me", &session).await,
        app.ask_mail("/auth/forgot-password", "alice@example.com")
            .await,
    ] {
        let answer = answer.expect_error(500, "internal");
        assert_eq!(answer.body["error"]["message"], "internal server error");
    }
}

async fn the_admin_role_and_the_body_limit_are_configurable(backend: Backend) {
    let mut app = App::start_with(backend, |state| state.admin_role("root").body_limit(1024)).await;
    app.register("alice@example.com").await;
    let alice = app.login("alice@example.com").await;
    let role = json!({ "name": "editor" });

    app.db.grant("alice@example.com", "admin");
    app.call(Method::POST, "/roles", &alice, Some(role.clone()))
        .await
        .expect_error(403, "forbidden");
    app.db.grant("alice@example.com", "root");
    app.call(Method::POST, "/roles", &alice, Some(role))
        .await
        .expect(201);

    let long_name = json!({ "display_name": "x".repeat(1024) });
    app.call(Method::PATCH, "/users/me", &alice, Some(long_name))
        .await
        .expect_error(413, "payload_too_large");
    let short_name = json!({ "display_name": "x".repeat(900) });
    app.call(Method::PATCH, "/users/me", &alice, Some(short_name))
        .await
        .expect(200);
}

/// A mailer whose sends never finish: it counts how many began.
#[derive(Clone, Default)]
struct StalledMailer(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl users_axum::Mailer<User> for StalledMailer {
    fn send(
        &self,
        _: users_axum::Mail<User>,
    ) -> users_axum::BoxFuture<'_, Result<(), Box<dyn std::error::Error + Send + Sync>>> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(std::future::pending())
    }
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_tasks_are_bounded_when_the_mailer_stalls() {
    let mut db = users_tests::sqlite();
    db.run_pending_migrations(migrations()).unwrap();
    let manager_of_pool = users_diesel::asynchronous::sqlite_connection_manager(db.url());
    let pool = Pool::builder(manager_of_pool).max_size(4).build().unwrap();
    let mailer = StalledMailer::default();
    let state = UsersState::new(
        AsyncUsers::<User, Role>::new(config()),
        pool,
        mailer.clone(),
    )
    .mail_concurrency(2);
    let app: Router = users_axum::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();
    for i in 0..4 {
        let answer = client
            .post(format!("{base}/auth/register"))
            .json(&json!({ "email": format!("user{i}@example.com"), "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::CREATED);
    }
    // Each handler took a mail slot, or dropped its mail, before answering: two mails hang in
    // the mailer once their tasks run, and the other two were dropped, not queued behind them.
    let started = || mailer.0.load(std::sync::atomic::Ordering::SeqCst);
    for _ in 0..250 {
        if started() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(started(), 2);
    server.abort();
}

/// The `(METHOD, /path)` of each route in the README's route table.
fn readme_routes() -> Vec<(String, String)> {
    let readme = include_str!("../README.md");
    readme
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(route, _)| route))
        .filter_map(|route| route.split_once(' '))
        .filter(|(method, path)| {
            ["GET", "POST", "PATCH", "DELETE"].contains(method) && path.starts_with('/')
        })
        .map(|(method, path)| (method.to_owned(), path.to_owned()))
        .collect()
}

async fn the_openapi_document_validates_and_describes_every_route(backend: Backend) {
    let mut app = App::start_with(backend, |state| {
        // With a provider (GitHub's needs no discovery) the provider routes answer for it.
        #[cfg(feature = "oidc")]
        let state = state
            .oauth(
                users_axum::OAuthSettings::new("http://127.0.0.1")
                    .provider(users_axum::OAuthProvider::github("client", "secret")),
            )
            .unwrap();
        state.openapi_json("/openapi.json")
    })
    .await;
    // A redirect (to a provider) is an answer to check, not to follow.
    app.client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let text = app
        .send(app.request(Method::GET, "/openapi.json", None))
        .await
        .expect(200)
        .body
        .to_string();
    // oas3 reads OpenAPI 3.1 and refuses a document that breaks its structure.
    let spec = oas3::from_json(&text).expect("a valid OpenAPI 3.1 document");
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);
    let document: Value = serde_json::from_str(&text).unwrap();
    // The served document is the library's, plus its own route.
    let library = serde_json::to_value(users_axum::openapi::<User>()).unwrap();
    assert_eq!(document["components"], library["components"]);

    // Every schema a `$ref` names exists.
    for reference in text.split("\"$ref\":\"").skip(1) {
        let name = reference.split('"').next().unwrap();
        let name = name.strip_prefix("#/components/schemas/").unwrap_or(name);
        assert!(
            document["components"]["schemas"][name].is_object(),
            "dangling $ref {name}"
        );
    }
    // A regression schemathesis found: the document allowed fewer characters in a new password
    // than the manager takes (4096 bytes), so a longer one "broke" the schema and was accepted.
    let password = &document["components"]["schemas"]["Registration"]["properties"]["password"];
    assert_eq!(
        (&password["minLength"], &password["maxLength"]),
        (&json!(8), &json!(4096))
    );
    // 4096 bytes, whose first 100 characters (all the strength estimate reads) are strong.
    let longest = format!("{PASSWORD} {}", "p".repeat(4096 - PASSWORD.len() - 1));
    app.post(
        "/auth/register",
        json!({ "email": "long@example.com", "password": longest }),
    )
    .await
    .expect(201);

    // The profile's fields are in the user schema.
    assert!(document["components"]["schemas"]["User"]["properties"]["display_name"].is_object());

    // Every route of the README's table is documented…
    let routes = readme_routes();
    assert!(routes.len() >= 20, "{routes:?}");
    for (method, path) in &routes {
        // The passkey and provider routes exist, and are documented, with the `passkeys` and
        // `oidc` features only.
        if path.contains("passkey") && !cfg!(feature = "passkeys")
            || (path.contains("{provider}") || path.contains("/oauth")) && !cfg!(feature = "oidc")
        {
            assert!(
                document["paths"][path].is_null(),
                "{path} without the feature"
            );
            continue;
        }
        assert!(
            document["paths"][path][method.to_lowercase()].is_object(),
            "{method} {path} is not in the document"
        );
    }
    // …and every documented operation is mounted: none answers the router's 404 or 405.
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .replace("{name}", "editor")
                .replace("{provider}", "github")
                .replace("{user_id}", &Uuid::now_v7().to_string());
            let method: Method = method.to_uppercase().parse().unwrap();
            let answer = app.send(app.request(method.clone(), &concrete, None)).await;
            assert!(
                ![404, 405].contains(&answer.status.as_u16())
                    || !["not_found", "method_not_allowed"].contains(&answer.code()),
                "{method} {path} is documented but not mounted: {}",
                answer.body
            );
            let documented = &document["paths"][path][method.as_str().to_lowercase()]["responses"];
            assert!(
                documented[answer.status.as_str()].is_object(),
                "{method} {path} answered the undocumented {}",
                answer.status
            );
        }
    }
}

async fn unknown_routes_and_methods_are_json_errors(backend: Backend) {
    let app = App::start(backend).await;
    let session = {
        app.register("alice@example.com").await;
        app.login("alice@example.com").await
    };
    app.get("/no/such/route", &session)
        .await
        .expect_error(404, "not_found");
    let answer = app
        .call(Method::PUT, "/users/me", &session, None)
        .await
        .expect_error(405, "method_not_allowed");
    let allow = answer.headers["allow"].to_str().unwrap();
    assert!(allow.contains("GET") && allow.contains("PATCH"), "{allow}");
    app.send(app.request(Method::GET, "/auth/login", None))
        .await
        .expect_error(405, "method_not_allowed");
}

/// Registers `email`, and gives it the admin role; its session.
async fn admin_session(app: &mut App, email: &str) -> String {
    app.register(email).await;
    app.db.grant(email, "admin");
    app.login(email).await
}

async fn the_admin_lists_finds_edits_and_deletes_users(backend: Backend) {
    let mut app = App::start(backend).await;
    let root = admin_session(&mut app, "root@example.com").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let user = app.register(&format!("user{n}@example.com")).await;
        ids.push(user["id"].as_str().unwrap().to_owned());
    }
    app.db.grant("user3@example.com", "editor");

    // Pages of two, oldest first, chained by the cursor.
    let mut seen = Vec::new();
    let mut path = "/users?limit=2".to_owned();
    loop {
        let page = app.get(&path, &root).await.expect(200).body;
        let users = page["users"].as_array().unwrap();
        assert!(users.len() <= 2);
        seen.extend(
            users
                .iter()
                .map(|user| user["email"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => path = format!("/users?limit=2&after={next}"),
            None => break,
        }
    }
    let mut expected = vec!["root@example.com".to_owned()];
    expected.extend((0..5).map(|n| format!("user{n}@example.com")));
    assert_eq!(seen, expected);

    // Filters, and the roles of each user.
    let page = app.get("/users?role=editor", &root).await.expect(200).body;
    assert_eq!(page["users"][0]["email"], "user3@example.com");
    assert_eq!(page["users"][0]["roles"], json!(["editor"]));
    assert_eq!(page["users"].as_array().unwrap().len(), 1);
    let page = app.get("/users?email=USER1", &root).await.expect(200).body;
    assert_eq!(page["users"].as_array().unwrap().len(), 1);
    let page = app
        .get("/users?email=user%25", &root)
        .await
        .expect(200)
        .body;
    assert_eq!(page["users"], json!([]), "a % in the prefix is no wildcard");
    let page = app
        .get("/users?is_verified=true", &root)
        .await
        .expect(200)
        .body;
    assert_eq!(page["users"], json!([]));
    app.get("/users?role=nobody", &root)
        .await
        .expect_error(404, "role_not_found");
    // Regressions that schemathesis found: a limit out of range was clamped, not refused; a
    // UUID in a form the document does not allow was read.
    let bare_hex = Uuid::now_v7().simple().to_string();
    for bad in [
        "/users?limit=x".to_owned(),
        "/users?limit=0".to_owned(),
        "/users?limit=201".to_owned(),
        "/users?after=x".to_owned(),
        format!("/users?after={bare_hex}"),
        "/users?is_active=maybe".to_owned(),
        "/users?sort=email".to_owned(),
    ] {
        app.get(&bad, &root)
            .await
            .expect_error(422, "invalid_field");
    }

    // One user: read, edit, delete.
    let path = format!("/users/{}", ids[0]);
    let user = app.get(&path, &root).await.expect(200).body;
    assert_eq!(user["email"], "user0@example.com");
    let edited = app
        .call(
            Method::PATCH,
            &path,
            &root,
            Some(
                json!({ "is_verified": true, "display_name": "Zero", "email": "Zero@Example.com" }),
            ),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(edited["email"], "zero@example.com");
    assert_eq!(edited["display_name"], "Zero");
    // A new address is unverified, whatever the same request says.
    assert_eq!(edited["is_verified"], false);
    let edited = app
        .call(
            Method::PATCH,
            &path,
            &root,
            Some(json!({ "is_verified": true })),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(edited["is_verified"], true);
    for body in [
        json!({ "password_hash": "x" }),
        json!({ "is_active": "no" }),
        json!({ "credits": 5 }),
    ] {
        app.call(Method::PATCH, &path, &root, Some(body))
            .await
            .expect_error(422, "invalid_field");
    }
    app.call(
        Method::PATCH,
        &path,
        &root,
        Some(json!({ "email": "user1@example.com" })),
    )
    .await
    .expect_error(409, "email_taken");
    app.call(Method::DELETE, &path, &root, None)
        .await
        .expect(204);
    app.get(&path, &root)
        .await
        .expect_error(404, "user_not_found");
    app.call(Method::DELETE, &path, &root, None)
        .await
        .expect_error(404, "user_not_found");
    for bad in ["not-a-uuid".to_owned(), bare_hex, format!("{{{}}}", ids[1])] {
        app.get(&format!("/users/{bad}"), &root)
            .await
            .expect_error(400, "bad_request");
    }

    // Not for users without the admin role.
    let session = app.login("user1@example.com").await;
    app.get("/users", &session)
        .await
        .expect_error(403, "forbidden");
    app.get(&format!("/users/{}", ids[1]), &session)
        .await
        .expect_error(403, "forbidden");
}

async fn deactivating_a_user_ends_their_sessions_at_once(backend: Backend) {
    let mut app = App::start(backend).await;
    let root = admin_session(&mut app, "root@example.com").await;
    let bob = app.register("bob@example.com").await;
    let session = app.login("bob@example.com").await;
    app.get("/users/me", &session).await.expect(200);

    let path = format!("/users/{}", bob["id"].as_str().unwrap());
    app.call(
        Method::PATCH,
        &path,
        &root,
        Some(json!({ "is_active": false })),
    )
    .await
    .expect(200);
    app.get("/users/me", &session)
        .await
        .expect_error(403, "inactive_user");
    app.post(
        "/auth/login",
        json!({ "email": "bob@example.com", "password": PASSWORD }),
    )
    .await
    .expect_error(403, "inactive_user");
    let page = app
        .get("/users?is_active=false", &root)
        .await
        .expect(200)
        .body;
    assert_eq!(page["users"][0]["email"], "bob@example.com");
}

async fn the_admin_lists_and_deletes_roles(backend: Backend) {
    let mut app = App::start(backend).await;
    let root = admin_session(&mut app, "root@example.com").await;
    app.call(
        Method::POST,
        "/roles",
        &root,
        Some(json!({ "name": "editor", "description": "writes" })),
    )
    .await
    .expect(201);
    let roles = app.get("/roles", &root).await.expect(200).body;
    let names: Vec<&str> = roles
        .as_array()
        .unwrap()
        .iter()
        .map(|role| role["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "editor"]);
    assert_eq!(roles[1]["description"], "writes");

    app.call(Method::DELETE, "/roles/editor", &root, None)
        .await
        .expect(204);
    app.call(Method::DELETE, "/roles/editor", &root, None)
        .await
        .expect_error(404, "role_not_found");
    let roles = app.get("/roles", &root).await.expect(200).body;
    assert_eq!(roles.as_array().unwrap().len(), 1);
}

async fn a_user_deletes_their_account_with_the_password(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    app.call(
        Method::DELETE,
        "/users/me",
        &session,
        Some(json!({ "password": "wrong password" })),
    )
    .await
    .expect_error(401, "invalid_credentials");
    app.call(Method::DELETE, "/users/me", &session, Some(json!({})))
        .await
        .expect_error(422, "invalid_field");
    app.call(
        Method::DELETE,
        "/users/me",
        &session,
        Some(json!({ "password": PASSWORD })),
    )
    .await
    .expect(204);
    app.get("/users/me", &session)
        .await
        .expect_error(401, "invalid_token");
    app.post(
        "/auth/login",
        json!({ "email": "alice@example.com", "password": PASSWORD }),
    )
    .await
    .expect_error(401, "invalid_credentials");
}

/// The README's CORS recipe: a front end on another origin, with cookie sessions.
fn cors(app: Router) -> Router {
    use axum::http::{header, HeaderValue, Method as HttpMethod};
    use tower_http::cors::{AllowOrigin, CorsLayer};

    app.layer(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list([HeaderValue::from_static(
                "https://app.example.com",
            )]))
            .allow_methods([
                HttpMethod::GET,
                HttpMethod::POST,
                HttpMethod::PATCH,
                HttpMethod::DELETE,
            ])
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
            .allow_credentials(true),
    )
}

async fn the_cors_recipe_admits_the_front_end_with_credentials(backend: Backend) {
    let app = App::start_wrapped(
        backend,
        |state| state.session_cookie("session").unwrap(),
        cors,
    )
    .await;
    let preflight = app
        .send(
            app.request(Method::OPTIONS, "/auth/login", None)
                .header("origin", "https://app.example.com")
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type"),
        )
        .await;
    assert!(preflight.status.is_success(), "{}", preflight.status);
    assert_eq!(
        preflight.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(
        preflight.headers["access-control-allow-credentials"],
        "true"
    );

    app.register("alice@example.com").await;
    let login = app
        .send(
            app.request(Method::POST, "/auth/login", None)
                .header("origin", "https://app.example.com")
                .json(&json!({ "email": "alice@example.com", "password": PASSWORD })),
        )
        .await
        .expect(200);
    assert_eq!(
        login.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(login.headers["access-control-allow-credentials"], "true");
    assert!(login.headers[SET_COOKIE]
        .to_str()
        .unwrap()
        .starts_with("session="));

    // Another origin gets no CORS headers: its browser keeps the answer from its scripts.
    let other = app
        .send(
            app.request(Method::POST, "/auth/login", None)
                .header("origin", "https://evil.example")
                .json(&json!({ "email": "alice@example.com", "password": PASSWORD })),
        )
        .await;
    assert!(!other.headers.contains_key("access-control-allow-origin"));
}

async fn answers_with_a_token_are_never_cached(backend: Backend) {
    let app = App::start(backend).await;
    let no_store = |answer: &Answer| {
        let value = answer.headers.get(reqwest::header::CACHE_CONTROL);
        assert_eq!(
            value.and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{}",
            answer.body
        );
    };
    app.register("alice@example.com").await;
    let login = app
        .post(
            "/auth/login",
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await
        .expect(200);
    assert!(login.body["access_token"].is_string());
    no_store(&login);
    let session = login.body["access_token"].as_str().unwrap();
    // A password change answers with a fresh session token.
    let changed = app
        .call(
            Method::PATCH,
            "/users/me",
            session,
            Some(json!({ "current_password": PASSWORD, "password": NEW_PASSWORD })),
        )
        .await
        .expect(200);
    assert!(changed.body["session"]["access_token"].is_string());
    no_store(&changed);
    let renewed = changed.body["session"]["access_token"].as_str().unwrap();
    // The user's own data, and refusals, are not kept either.
    no_store(&app.get("/users/me", renewed).await.expect(200));
    no_store(
        &app.post(
            "/auth/login",
            json!({ "email": "alice@example.com", "password": "wrong password" }),
        )
        .await
        .expect_error(401, "invalid_credentials"),
    );
}

async fn a_host_prefixed_cookie_session_is_ended_only_by_a_same_site_logout(backend: Backend) {
    const COOKIE_NAME: &str = "__Host-session";
    let app = App::start_with(backend, |state| state.session_cookie(COOKIE_NAME).unwrap()).await;
    app.register("alice@example.com").await;
    let login = app
        .post(
            "/auth/login",
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await
        .expect(200);
    // What browsers demand of a `__Host-` cookie: Secure, Path=/ and no Domain.
    let set_cookie = login.headers[SET_COOKIE].to_str().unwrap().to_owned();
    let token = cookie_token(&set_cookie, COOKIE_NAME);
    let attributes: Vec<&str> = set_cookie.split(';').map(str::trim).collect();
    assert!(
        attributes.contains(&"Secure") && attributes.contains(&"Path=/"),
        "{set_cookie}"
    );
    assert!(
        !set_cookie.to_ascii_lowercase().contains("domain"),
        "{set_cookie}"
    );

    let cookie = format!("{COOKIE_NAME}={token}");
    let logout = |headers: &[(&str, &str)]| {
        let mut request = app
            .request(Method::POST, "/auth/logout", None)
            .header(COOKIE, cookie.clone());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        app.send(request)
    };
    let me = || {
        app.send(
            app.request(Method::GET, "/users/me", None)
                .header(COOKIE, cookie.clone()),
        )
    };

    // No session at all: 401.
    app.send(app.request(Method::POST, "/auth/logout", None))
        .await
        .expect_error(401, "unauthorized");
    // Another site's page making the browser post the cookie: 403, and the session stays.
    let host = app.base.trim_start_matches("http://").to_owned();
    for headers in [
        vec![("sec-fetch-site", "cross-site")],
        vec![
            ("sec-fetch-site", "cross-site"),
            ("origin", app.base.as_str()),
        ],
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
    ] {
        logout(&headers).await.expect_error(403, "forbidden");
        me().await.expect(200);
    }
    // The site's own page: the session ends.
    let origin = format!("http://{host}");
    logout(&[
        ("sec-fetch-site", "same-origin"),
        ("origin", origin.as_str()),
    ])
    .await
    .expect(204);
    me().await.expect_error(401, "invalid_token");

    // Without fetch metadata, a same-origin `Origin` is enough; a bearer token needs neither.
    let second = app.login("alice@example.com").await;
    let cookie = format!("{COOKIE_NAME}={second}");
    app.send(
        app.request(Method::POST, "/auth/logout", None)
            .header(COOKIE, cookie)
            .header("origin", origin.as_str()),
    )
    .await
    .expect(204);
    let third = app.login("alice@example.com").await;
    app.send(
        app.request(Method::POST, "/auth/logout", Some(&third))
            .header("sec-fetch-site", "cross-site"),
    )
    .await
    .expect(204);
}

async fn a_role_guard_over_no_roles_is_a_configuration_error(backend: Backend) {
    fn panic_message(state: &UsersState<User>, build: impl FnOnce(&UsersState<User>)) -> String {
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| build(state)))
            .expect_err("building the guard should panic");
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    }
    App::start_with(backend, |state| {
        let message = panic_message(&state, |state| {
            let _layer = state.require_all_roles(Vec::<String>::new());
        });
        assert!(
            message.contains("require_all_roles of no roles"),
            "{message}"
        );
        let message = panic_message(&state, |state| {
            let _layer = state.require_any_role(Vec::<&str>::new());
        });
        assert!(
            message.contains("require_any_role of no roles"),
            "{message}"
        );
        for bad in ["", "ad\u{200B}min"] {
            let message = panic_message(&state, |state| {
                let _layer = state.require_role(bad);
            });
            assert!(message.contains("invalid role name"), "{message}");
            let message = panic_message(&state, |state| {
                let _layer = state.require_all_roles(["admin", bad]);
            });
            assert!(message.contains("invalid role name"), "{message}");
        }
        // Lookalike spellings of a role name guard that role.
        let _layer = state.require_all_roles(["ADMIN", "ｅｄｉｔｏｒ"]);
        state
    })
    .await;
}

/// The access and refresh tokens of a login or refresh answer.
fn tokens(answer: &Value) -> (String, String) {
    let access = answer["access_token"].as_str().expect("an access token");
    let refresh = answer["refresh_token"].as_str().expect("a refresh token");
    (access.to_owned(), refresh.to_owned())
}

async fn stored_sessions_are_listed_and_ended_one_by_one_or_all_others(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    app.register("bob@example.com").await;
    let (laptop, _) = tokens(&app.login_from("alice@example.com", "Laptop/1.0").await);
    let (phone, _) = tokens(&app.login_from("alice@example.com", "Phone/2.0").await);
    let (tablet, _) = tokens(&app.login_from("alice@example.com", "Tablet/3.0").await);
    let bob = app.login("bob@example.com").await;

    let list = app
        .get("/users/me/sessions", &laptop)
        .await
        .expect(200)
        .body;
    let sessions = list["sessions"].as_array().unwrap();
    let agents: Vec<&str> = sessions
        .iter()
        .map(|s| s["user_agent"].as_str().unwrap())
        .collect();
    assert_eq!(
        agents,
        ["Tablet/3.0", "Phone/2.0", "Laptop/1.0"],
        "newest first: {list}"
    );
    let current: Vec<bool> = sessions
        .iter()
        .map(|s| s["current"].as_bool().unwrap())
        .collect();
    assert_eq!(current, [false, false, true]);
    assert_eq!(sessions[0]["client"], "127.0.0.1");
    assert!(sessions[0]["expires_at"].as_str().unwrap().ends_with('Z'));
    let phone_id = sessions[1]["id"].as_str().unwrap().to_owned();

    // Bob cannot end Alice's session: it is not his.
    app.call(
        Method::DELETE,
        &format!("/users/me/sessions/{phone_id}"),
        &bob,
        None,
    )
    .await
    .expect_error(404, "not_found");
    app.get("/users/me", &phone).await.expect(200);
    // Alice can: "log out my phone".
    app.call(
        Method::DELETE,
        &format!("/users/me/sessions/{phone_id}"),
        &laptop,
        None,
    )
    .await
    .expect(204);
    app.get("/users/me", &phone)
        .await
        .expect_error(401, "invalid_token");
    app.call(
        Method::DELETE,
        &format!("/users/me/sessions/{phone_id}"),
        &laptop,
        None,
    )
    .await
    .expect_error(404, "not_found");
    app.call(
        Method::DELETE,
        "/users/me/sessions/not-a-uuid",
        &laptop,
        None,
    )
    .await
    .expect_error(400, "bad_request");

    // "Log out everywhere else": the tablet ends, the laptop and Bob stay.
    let ended = app
        .call(Method::DELETE, "/users/me/sessions", &laptop, None)
        .await
        .expect(200)
        .body;
    assert_eq!(ended["ended"], 1);
    app.get("/users/me", &tablet)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &laptop).await.expect(200);
    app.get("/users/me", &bob).await.expect(200);
    let list = app
        .get("/users/me/sessions", &laptop)
        .await
        .expect(200)
        .body;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);

    // A logout deletes the row: the token is refused wherever the table is read.
    app.call(Method::POST, "/auth/logout", &laptop, None)
        .await
        .expect(204);
    app.get("/users/me", &laptop)
        .await
        .expect_error(401, "invalid_token");
}

async fn refresh_tokens_rotate_and_a_replayed_one_ends_the_session(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    let login = app.login_from("alice@example.com", "App/1.0").await;
    assert_eq!(login["expires_in"], 900, "15-minute access tokens: {login}");
    let (access, first) = tokens(&login);

    let renewed = app.refresh(&first).await.expect(200).body;
    let (new_access, second) = tokens(&renewed);
    // Access tokens carry the session's id, so within one second they are the same token;
    // refresh tokens never are.
    assert_ne!(second, first);
    app.get("/users/me", &new_access).await.expect(200);
    // The same session: one row, its refresh digest replaced.
    let list = app
        .get("/users/me/sessions", &new_access)
        .await
        .expect(200)
        .body;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);

    // The retired token, replayed (a thief's copy, or the owner's after the thief used it):
    // the whole session ends, the thief's and the owner's tokens alike.
    app.refresh(&first).await.expect_error(401, "invalid_token");
    app.refresh(&second)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &new_access)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &access)
        .await
        .expect_error(401, "invalid_token");

    // An access token is no refresh token, nor the reverse.
    let (access, refresh) = tokens(&app.login_from("alice@example.com", "App/1.0").await);
    app.refresh(&access)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &refresh)
        .await
        .expect_error(401, "invalid_token");
    app.refresh(&refresh).await.expect(200);
    app.post("/auth/refresh", json!({}))
        .await
        .expect_error(422, "invalid_field");
}

async fn a_forged_refresh_token_ends_nothing(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com").await;
    let (access, refresh) = tokens(&app.login_from("alice@example.com", "App/1.0").await);
    // Anyone can read a session's id off a token; only a token we signed may end a session,
    // or a stranger could log anyone out by guessing.
    let mut forged = refresh.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    app.refresh(&forged)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &access).await.expect(200);
    app.refresh(&refresh).await.expect(200);
}

async fn a_password_change_ends_every_other_session_and_renews_this_one(backend: Backend) {
    let mut app = App::start(backend).await;
    app.register("alice@example.com").await;
    let (laptop, _) = tokens(&app.login_from("alice@example.com", "Laptop/1.0").await);
    let (phone, phone_refresh) = tokens(&app.login_from("alice@example.com", "Phone/2.0").await);
    let before = app
        .get("/users/me/sessions", &laptop)
        .await
        .expect(200)
        .body;
    let laptop_id = before["sessions"][1]["id"].clone();

    let changed = app
        .call(
            Method::PATCH,
            "/users/me",
            &laptop,
            Some(json!({ "password": NEW_PASSWORD, "current_password": PASSWORD })),
        )
        .await
        .expect(200)
        .body;
    let (renewed, renewed_refresh) = tokens(&changed["session"]);
    app.get("/users/me", &phone)
        .await
        .expect_error(401, "invalid_token");
    app.refresh(&phone_refresh)
        .await
        .expect_error(401, "invalid_token");
    // The laptop's old token was bound to the old password hash; its session lives on with
    // the new tokens.
    app.get("/users/me", &laptop)
        .await
        .expect_error(401, "invalid_token");
    let after = app
        .get("/users/me/sessions", &renewed)
        .await
        .expect(200)
        .body;
    let sessions = after["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{after}");
    assert_eq!(sessions[0]["id"], laptop_id);
    app.refresh(&renewed_refresh).await.expect(200);

    // A reset ends every session, rows and all.
    app.ask_mail("/auth/forgot-password", "alice@example.com")
        .await
        .expect(202);
    let token = app
        .mailed("alice@example.com", MailKind::PasswordReset)
        .await;
    app.post(
        "/auth/reset-password",
        json!({ "token": token, "password": PASSWORD }),
    )
    .await
    .expect(200);
    assert_eq!(app.db.stored_sessions(), 0);
}

async fn an_idle_session_ends_and_a_busy_one_lives_on(backend: Backend) {
    let app = App::start_with(backend, |state| state.idle_timeout(Duration::from_secs(3))).await;
    app.register("alice@example.com").await;
    let idle = app.login("alice@example.com").await;
    let busy = app.login("alice@example.com").await;
    // The busy session is used every 1.2 s (its last-seen time is written at most every
    // 0.75 s, a quarter of the timeout), past the timeout counted from login.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        app.get("/users/me", &busy).await.expect(200);
    }
    app.get("/users/me", &idle)
        .await
        .expect_error(401, "invalid_token");
    // Timed out, the row is gone for good.
    let list = app.get("/users/me/sessions", &busy).await.expect(200).body;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    app.get("/users/me", &busy)
        .await
        .expect_error(401, "invalid_token");
}

async fn an_admin_ends_every_session_of_a_user_and_deleting_a_user_deletes_them(backend: Backend) {
    let mut app = App::start(backend).await;
    app.register("admin@example.com").await;
    let alice = app.register("alice@example.com").await;
    app.db.grant("admin@example.com", "admin");
    let admin = app.login("admin@example.com").await;
    let first = app.login("alice@example.com").await;
    let second = app.login("alice@example.com").await;
    let alice_id = alice["id"].as_str().unwrap();

    app.call(
        Method::DELETE,
        &format!("/users/{alice_id}/sessions"),
        &first,
        None,
    )
    .await
    .expect_error(403, "forbidden");
    let ended = app
        .call(
            Method::DELETE,
            &format!("/users/{alice_id}/sessions"),
            &admin,
            None,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(ended["ended"], 2);
    app.get("/users/me", &first)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &second)
        .await
        .expect_error(401, "invalid_token");
    app.get("/users/me", &admin).await.expect(200);
    let nobody = Uuid::now_v7();
    app.call(
        Method::DELETE,
        &format!("/users/{nobody}/sessions"),
        &admin,
        None,
    )
    .await
    .expect_error(404, "user_not_found");

    // The foreign key cascades: a deleted user's sessions go with them.
    app.login("alice@example.com").await;
    assert_eq!(app.db.stored_sessions(), 2);
    app.call(Method::DELETE, &format!("/users/{alice_id}"), &admin, None)
        .await
        .expect(204);
    assert_eq!(app.db.stored_sessions(), 1);
}

async fn stateless_sessions_have_no_refresh_and_no_session_routes(backend: Backend) {
    let mut app = App::start_with(backend, UsersState::stateless_sessions).await;
    app.register("alice@example.com").await;
    let login = app
        .post(
            "/auth/login",
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await
        .expect(200)
        .body;
    assert!(login.get("refresh_token").is_none(), "{login}");
    assert_eq!(
        login["expires_in"],
        24 * 60 * 60,
        "one idle timeout: {login}"
    );
    let token = login["access_token"].as_str().unwrap();
    app.get("/users/me", token).await.expect(200);
    app.get("/users/me/sessions", token)
        .await
        .expect_error(404, "not_found");
    app.refresh(token).await.expect_error(404, "not_found");
    // Nothing is stored; a logout is on the revocation list.
    assert_eq!(app.db.stored_sessions(), 0);
    app.call(Method::POST, "/auth/logout", token, None)
        .await
        .expect(204);
    app.get("/users/me", token)
        .await
        .expect_error(401, "invalid_token");
}

/// A TOTP code of `secret` for the time step `steps` away from now (one step is 30 s; the
/// server accepts one step either way).
fn code_at(secret: &str, steps: i64) -> String {
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
    async fn enrol_totp(&self, session: &str) -> (String, Vec<String>) {
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
    async fn pending_login(&self, email: &str) -> String {
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
    async fn complete(&self, token: &str, mut factor: Value) -> Answer {
        factor["mfa_token"] = token.into();
        self.post("/auth/mfa", factor).await
    }
}

async fn a_user_enrols_totp_and_logs_in_with_a_code_or_a_recovery_code(backend: Backend) {
    let app = App::start(backend).await;
    app.register_verified("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let none = app.get("/users/me/mfa", &session).await.expect(200).body;
    assert_eq!(
        none,
        json!({ "totp": false, "totp_pending": false, "recovery_codes_left": 0, "methods": [] })
    );

    // Enrolled but not confirmed: shown once, not enforced yet.
    // A stolen session alone cannot add a factor: the password (or a factor) goes with it.
    app.call(
        Method::POST,
        "/users/me/mfa/totp",
        &session,
        Some(json!({})),
    )
    .await
    .expect_error(422, "invalid_field");
    app.call(
        Method::POST,
        "/users/me/mfa/totp",
        &session,
        Some(json!({ "password": "not the password" })),
    )
    .await
    .expect_error(401, "invalid_credentials");
    let enrolment = app
        .call(
            Method::POST,
            "/users/me/mfa/totp",
            &session,
            Some(json!({ "password": PASSWORD })),
        )
        .await
        .expect(200)
        .body;
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    if cfg!(feature = "qr") {
        assert!(enrolment["qr_svg"].as_str().unwrap().contains("<svg"));
    }
    assert!(
        uri.starts_with("otpauth://totp/users:alice%40example.com?"),
        "{uri}"
    );
    let pending = app.get("/users/me/mfa", &session).await.expect(200).body;
    assert_eq!(pending["totp_pending"], true);
    app.login("alice@example.com").await;
    let secret = enrolment["secret"].as_str().unwrap();
    app.call(
        Method::POST,
        "/users/me/mfa/totp/confirm",
        &session,
        Some(json!({ "code": "000000" })),
    )
    .await
    .expect_error(401, "invalid_credentials");
    let confirmed = app
        .call(
            Method::POST,
            "/users/me/mfa/totp/confirm",
            &session,
            Some(json!({ "code": code_at(secret, -1) })),
        )
        .await
        .expect(200)
        .body;
    let codes: Vec<String> = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    app.call(
        Method::POST,
        "/users/me/mfa/totp",
        &session,
        Some(json!({ "password": PASSWORD })),
    )
    .await
    .expect_error(409, "conflict");

    // The password alone no longer logs in.
    let token = app.pending_login("alice@example.com").await;
    let code = code_at(secret, 1);
    let login = app
        .complete(&token, json!({ "code": code }))
        .await
        .expect(200)
        .body;
    let (access, _) = tokens(&login);
    app.get("/users/me", &access).await.expect(200);
    // The pending token worked once.
    app.complete(&token, json!({ "code": code_at(secret, 0) }))
        .await
        .expect_error(401, "invalid_token");
    // A code works once (RFC 6238 §5.2): replayed on another login, it is refused.
    let token = app.pending_login("alice@example.com").await;
    app.complete(&token, json!({ "code": code }))
        .await
        .expect_error(401, "invalid_credentials");
    // Two steps away is past the allowed skew.
    app.complete(&token, json!({ "code": code_at(secret, 2) }))
        .await
        .expect_error(401, "invalid_credentials");

    // A recovery code, in any case and without its dash, works once.
    let typed = codes[0].to_uppercase().replace('-', "");
    app.complete(&token, json!({ "recovery_code": typed }))
        .await
        .expect(200);
    let token = app.pending_login("alice@example.com").await;
    app.complete(&token, json!({ "recovery_code": codes[0] }))
        .await
        .expect_error(401, "invalid_credentials");
    app.complete(&token, json!({ "recovery_code": codes[1] }))
        .await
        .expect(200);
    let left = app.get("/users/me/mfa", &access).await.expect(200).body;
    assert_eq!(left["recovery_codes_left"], 8);
    assert_eq!(left["methods"], json!(["totp", "recovery_code"]));
    // Both members, or neither, is a bad body.
    let token = app.pending_login("alice@example.com").await;
    app.complete(
        &token,
        json!({ "code": "123456", "recovery_code": codes[2] }),
    )
    .await
    .expect_error(422, "invalid_field");
    app.complete(&token, json!({}))
        .await
        .expect_error(422, "invalid_field");
}

async fn a_pending_token_is_no_session_and_expires(backend: Backend) {
    let mut app = App::start(backend).await;
    app.register_verified("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let (secret, _) = app.enrol_totp(&session).await;
    let token = app.pending_login("alice@example.com").await;
    // The pending token proves a password, not a login: no route takes it as a session.
    app.get("/users/me", &token)
        .await
        .expect_error(401, "invalid_token");
    app.refresh(&token).await.expect_error(401, "invalid_token");
    // Nor does a session token complete a login.
    app.complete(&session, json!({ "code": code_at(&secret, 1) }))
        .await
        .expect_error(401, "invalid_token");
    // Expired: issued six minutes ago for five.
    let user = app.db.user("alice@example.com");
    let signer = TokenSigner::new(&config());
    let version = 1; // enrolled (0 → inserted), then confirmed (1)
    let fresh = signer.issue_second_factor(
        &user,
        version,
        std::time::SystemTime::now(),
        Duration::from_secs(300),
    );
    let stale = signer.issue_second_factor(
        &user,
        version,
        std::time::SystemTime::now() - Duration::from_secs(360),
        Duration::from_secs(300),
    );
    app.complete(&stale, json!({ "code": code_at(&secret, 1) }))
        .await
        .expect_error(401, "invalid_token");
    // The same token, fresh, works: only its age was wrong.
    app.complete(&fresh, json!({ "code": code_at(&secret, 1) }))
        .await
        .expect(200);
}

async fn wrong_second_factor_codes_lock_the_account(backend: Backend) {
    let app = App::start_over(
        backend,
        AsyncUsers::new(throttled_config()),
        |state| state,
        |app| app,
    )
    .await;
    app.register_verified("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let (secret, codes) = app.enrol_totp(&session).await;
    let token = app.pending_login("alice@example.com").await;
    for wrong in ["000000", "111111", "222222"] {
        app.complete(&token, json!({ "code": wrong }))
            .await
            .expect_error(401, "invalid_credentials");
    }
    // Locked, like three wrong passwords: the right code and a recovery code are refused.
    let locked = app
        .complete(&token, json!({ "code": code_at(&secret, 1) }))
        .await
        .expect_error(429, "too_many_attempts");
    assert!(retry_after(&locked) > 0);
    app.complete(&token, json!({ "recovery_code": codes[0] }))
        .await
        .expect_error(429, "too_many_attempts");
}

async fn removing_totp_or_new_recovery_codes_need_the_password_or_a_factor(backend: Backend) {
    let app = App::start(backend).await;
    app.register_verified("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let (secret, codes) = app.enrol_totp(&session).await;
    let remove = |body: Value| app.call(Method::DELETE, "/users/me/mfa/totp", &session, Some(body));
    remove(json!({})).await.expect_error(422, "invalid_field");
    remove(json!({ "password": "not the password" }))
        .await
        .expect_error(401, "invalid_credentials");
    remove(json!({ "code": "000000" }))
        .await
        .expect_error(401, "invalid_credentials");

    // New recovery codes, given a code: the old ones are dead.
    let renewed = app
        .call(
            Method::POST,
            "/users/me/mfa/recovery-codes",
            &session,
            Some(json!({ "code": code_at(&secret, 1) })),
        )
        .await
        .expect(200)
        .body;
    let fresh = renewed["recovery_codes"][0].as_str().unwrap().to_owned();
    remove(json!({ "recovery_code": codes[0] }))
        .await
        .expect_error(401, "invalid_credentials");
    // Removed with a new recovery code: logins ask for the password alone again.
    remove(json!({ "recovery_code": fresh })).await.expect(204);
    app.login("alice@example.com").await;
    let none = app.get("/users/me/mfa", &session).await.expect(200).body;
    assert_eq!(none["totp"], false);
    assert_eq!(none["recovery_codes_left"], 0);
    remove(json!({ "password": PASSWORD }))
        .await
        .expect_error(409, "conflict");
}

#[cfg(feature = "passkeys")]
http_tests! {
    in sqlite_passkeys, postgres_passkeys, mysql_passkeys;
    a_passkey_registers_completes_a_login_and_signs_in_once_per_ceremony,
    a_ceremony_state_is_sealed_to_its_user_and_kind,
}

/// The origin the relying party expects, and the software authenticator's browser claims.
#[cfg(feature = "passkeys")]
const ORIGIN: &str = "https://localhost";

#[cfg(feature = "passkeys")]
impl App {
    /// The app with passkeys on, for `localhost`.
    async fn with_passkeys(backend: Backend) -> App {
        App::start_with(backend, |state| {
            state.passkeys("localhost", ORIGIN).unwrap()
        })
        .await
    }

    /// Registers a passkey of `authenticator` for the session's user, named `name`.
    async fn register_passkey(
        &self,
        session: &str,
        authenticator: &mut webauthn_authenticator_rs::softpasskey::SoftPasskey,
        name: &str,
    ) -> Value {
        use webauthn_authenticator_rs::WebauthnAuthenticator;
        let start = self
            .call(
                Method::POST,
                "/users/me/passkeys/register/start",
                session,
                Some(json!({ "password": PASSWORD })),
            )
            .await
            .expect(200)
            .body;
        let options = serde_json::from_value(start["options"].clone()).unwrap();
        let credential = authenticator
            .do_registration(ORIGIN.parse().unwrap(), options)
            .expect("the authenticator registers");
        let finish = json!({ "state": start["state"], "credential": credential, "name": name });
        self.call(
            Method::POST,
            "/users/me/passkeys/register/finish",
            session,
            Some(finish),
        )
        .await
        .expect(201)
        .body
    }

    /// A passwordless sign-in's ceremony for `email`: its options and state.
    async fn passkey_sign_in(&self, email: &str) -> Value {
        self.post("/auth/passkey/start", json!({ "email": email }))
            .await
            .expect(200)
            .body
    }

    /// The authenticator's answer to a ceremony's `options`.
    fn sign(
        authenticator: &mut webauthn_authenticator_rs::softpasskey::SoftPasskey,
        options: &Value,
    ) -> Value {
        use webauthn_authenticator_rs::WebauthnAuthenticator;
        let options = serde_json::from_value(options.clone()).unwrap();
        let assertion = authenticator
            .do_authentication(ORIGIN.parse().unwrap(), options)
            .expect("the authenticator signs");
        serde_json::to_value(assertion).unwrap()
    }
}

#[cfg(feature = "passkeys")]
async fn a_passkey_registers_completes_a_login_and_signs_in_once_per_ceremony(backend: Backend) {
    use webauthn_authenticator_rs::softpasskey::SoftPasskey;

    let app = App::with_passkeys(backend).await;
    app.register_verified("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let mut laptop = SoftPasskey::new(true);
    let registered = app.register_passkey(&session, &mut laptop, "laptop").await;
    assert_eq!(registered["name"], "laptop");
    let list = app
        .get("/users/me/passkeys", &session)
        .await
        .expect(200)
        .body;
    assert_eq!(list["passkeys"].as_array().unwrap().len(), 1);

    // A password login now asks for the passkey.
    let answer = app
        .post(
            "/auth/login",
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(answer["methods"], json!(["passkey"]), "{answer}");
    let token = answer["mfa_token"].as_str().unwrap();
    let ceremony = app
        .post("/auth/mfa/passkey", json!({ "mfa_token": token }))
        .await
        .expect(200)
        .body;
    let assertion = App::sign(&mut laptop, &ceremony["options"]);
    let done = json!({ "mfa_token": token, "passkey": assertion, "state": ceremony["state"] });
    let login = app.post("/auth/mfa", done.clone()).await.expect(200).body;
    app.get("/users/me", login["access_token"].as_str().unwrap())
        .await
        .expect(200);
    // The pending token, and the ceremony, work once.
    app.post("/auth/mfa", done)
        .await
        .expect_error(401, "invalid_token");

    // Passwordless: the passkey alone signs in, once per ceremony.
    let start = app.passkey_sign_in("alice@example.com").await;
    let assertion = App::sign(&mut laptop, &start["options"]);
    let finish =
        json!({ "email": "alice@example.com", "state": start["state"], "credential": assertion });
    let signed_in = app
        .post("/auth/passkey/finish", finish.clone())
        .await
        .expect(200)
        .body;
    app.get("/users/me", signed_in["access_token"].as_str().unwrap())
        .await
        .expect(200);
    app.post("/auth/passkey/finish", finish)
        .await
        .expect_error(401, "invalid_token");

    // Another authenticator's answer is refused, and so is a user without passkeys.
    let start = app.passkey_sign_in("alice@example.com").await;
    let mut stranger = SoftPasskey::new(true);
    assert!(
        {
            use webauthn_authenticator_rs::WebauthnAuthenticator;
            let options = serde_json::from_value(start["options"].clone()).unwrap();
            stranger
                .do_authentication(ORIGIN.parse().unwrap(), options)
                .is_err()
        },
        "a passkey it does not hold cannot sign"
    );
    app.register_verified("bob@example.com").await;
    app.post("/auth/passkey/start", json!({ "email": "bob@example.com" }))
        .await
        .expect_error(401, "invalid_credentials");

    // Removing the passkey needs the password; then the password alone logs in again.
    let id = registered["id"].as_str().unwrap();
    let path = format!("/users/me/passkeys/{id}");
    app.call(
        Method::DELETE,
        &path,
        &session,
        Some(json!({ "password": "wrong password" })),
    )
    .await
    .expect_error(401, "invalid_credentials");
    app.call(
        Method::DELETE,
        &path,
        &session,
        Some(json!({ "password": PASSWORD })),
    )
    .await
    .expect(204);
    app.login("alice@example.com").await;
}

#[cfg(feature = "passkeys")]
async fn a_ceremony_state_is_sealed_to_its_user_and_kind(backend: Backend) {
    use webauthn_authenticator_rs::softpasskey::SoftPasskey;

    let app = App::with_passkeys(backend).await;
    app.register_verified("alice@example.com").await;
    app.register_verified("bob@example.com").await;
    let alice = app.login("alice@example.com").await;
    let bob = app.login("bob@example.com").await;
    let mut key = SoftPasskey::new(true);
    app.register_passkey(&alice, &mut key, "key").await;

    // A session alone adds no passkey (a stolen one would sign in without the password).
    for (body, status, code) in [
        (Some(json!({})), 422, "invalid_field"),
        (
            Some(json!({ "password": "not the password" })),
            401,
            "invalid_credentials",
        ),
    ] {
        app.call(
            Method::POST,
            "/users/me/passkeys/register/start",
            &bob,
            body,
        )
        .await
        .expect_error(status, code);
    }

    // Alice's registration state is useless to Bob, and an altered one opens for nobody.
    let start = app
        .call(
            Method::POST,
            "/users/me/passkeys/register/start",
            &alice,
            Some(json!({ "password": PASSWORD })),
        )
        .await
        .expect(200)
        .body;
    let options = serde_json::from_value(start["options"].clone()).unwrap();
    let credential = {
        use webauthn_authenticator_rs::WebauthnAuthenticator;
        SoftPasskey::new(true)
            .do_registration(ORIGIN.parse().unwrap(), options)
            .unwrap()
    };
    let stolen = json!({ "state": start["state"], "credential": credential });
    app.call(
        Method::POST,
        "/users/me/passkeys/register/finish",
        &bob,
        Some(stolen),
    )
    .await
    .expect_error(400, "invalid_token");
    let mut altered = start["state"].as_str().unwrap().to_owned().into_bytes();
    altered[10] = if altered[10] == b'A' { b'B' } else { b'A' };
    let altered = json!({ "state": String::from_utf8(altered).unwrap(), "credential": credential });
    app.call(
        Method::POST,
        "/users/me/passkeys/register/finish",
        &alice,
        Some(altered),
    )
    .await
    .expect_error(400, "invalid_token");

    // A sign-in state is no second-factor state.
    let sign_in = app.passkey_sign_in("alice@example.com").await;
    let assertion = App::sign(&mut key, &sign_in["options"]);
    let token = app.pending_login("alice@example.com").await;
    let crossed = json!({ "mfa_token": token, "passkey": assertion, "state": sign_in["state"] });
    app.post("/auth/mfa", crossed)
        .await
        .expect_error(400, "invalid_token");

    // A second-factor answer is bound to its pending login: with another login's token, a
    // captured one is refused.
    let first = app.pending_login("alice@example.com").await;
    let start = app
        .post("/auth/mfa/passkey", json!({ "mfa_token": first }))
        .await
        .expect(200)
        .body;
    let assertion = App::sign(&mut key, &start["options"]);
    let second = app.pending_login("alice@example.com").await;
    let captured = json!({ "mfa_token": second, "passkey": assertion, "state": start["state"] });
    app.post("/auth/mfa", captured)
        .await
        .expect_error(400, "invalid_token");
}

// One guarded path for every proof of identity (#27): each test fails with its defence off.

http_tests! {
    in sqlite_guard, postgres_guard, mysql_guard;
    a_right_password_forgives_no_wrong_code,
    a_stolen_session_cannot_guess_the_password,
    an_email_change_says_nothing_of_the_address_before_the_password,
    mail_routes_are_capped_per_client,
    ipv6_clients_are_counted_by_their_64,
    tokens_are_counted_per_client,
    factors_need_a_proved_address,
    the_first_proof_of_an_address_clears_what_came_before,
    a_reset_keeps_the_second_factor_of_a_verified_account,
    every_unsafe_cookie_route_refuses_another_origin,
    the_last_administrator_stays,
}

/// The guarded check's settings of these tests: three failures of a kind lock an account.
fn guarded_app(backend: Backend) -> impl std::future::Future<Output = App> {
    App::start_over(
        backend,
        AsyncUsers::new(throttled_config()),
        |state| state,
        |app| app,
    )
}

async fn a_right_password_forgives_no_wrong_code(backend: Backend) {
    let app = guarded_app(backend).await;
    app.register_verified("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let (secret, _) = app.enrol_totp(&session).await;
    // Two wrong codes, a right password in between (each login a new pending token), a third
    // wrong code: the account's codes are locked, whatever the passwords did.
    for wrong in ["000000", "111111", "222222"] {
        let token = app.pending_login("alice@example.com").await;
        app.complete(&token, json!({ "code": wrong }))
            .await
            .expect_error(401, "invalid_credentials");
    }
    let token = app.pending_login("alice@example.com").await;
    let locked = app
        .complete(&token, json!({ "code": code_at(&secret, 0) }))
        .await
        .expect_error(429, "too_many_attempts");
    assert!(retry_after(&locked) > 0);
}

async fn a_stolen_session_cannot_guess_the_password(backend: Backend) {
    let app = guarded_app(backend).await;
    app.register_verified("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let patch = |body: Value| app.call(Method::PATCH, "/users/me", &session, Some(body));
    // Guesses through the password change and the email change count together, and with
    // the account's failed logins.
    patch(json!({ "current_password": "guess one", "password": NEW_PASSWORD }))
        .await
        .expect_error(401, "invalid_credentials");
    patch(json!({ "current_password": "guess two", "email": "thief@example.com" }))
        .await
        .expect_error(401, "invalid_credentials");
    app.post(
        "/auth/login",
        json!({ "email": "alice@example.com", "password": "guess three" }),
    )
    .await
    .expect_error(401, "invalid_credentials");
    // Locked: the right password is refused too, and nothing changed.
    patch(json!({ "current_password": PASSWORD, "password": NEW_PASSWORD }))
        .await
        .expect_error(429, "too_many_attempts");
    app.get("/users/me", &session).await.expect(200);
}

async fn an_email_change_says_nothing_of_the_address_before_the_password(backend: Backend) {
    let app = App::start(backend).await;
    app.register("bob@example.com").await;
    app.register("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    let change = |password: &str| {
        let body = json!({ "current_password": password, "email": "bob@example.com" });
        app.call(Method::PATCH, "/users/me", &session, Some(body))
    };
    // A wrong password learns nothing of bob's address; the right one is told it is taken.
    change("not the password")
        .await
        .expect_error(401, "invalid_credentials");
    change(PASSWORD).await.expect_error(409, "email_taken");
}

async fn mail_routes_are_capped_per_client(backend: Backend) {
    let config = throttled_config()
        .mail_client_limit(4)
        .expect("a valid limit");
    let app = App::start_over(backend, AsyncUsers::new(config), |state| state, |app| app).await;
    // Ever new addresses, each under its own cap: the client's cap stops them.
    for n in 0..4 {
        let email = format!("someone{n}@example.com");
        app.post("/auth/forgot-password", json!({ "email": email }))
            .await
            .expect(202);
    }
    for (path, body) in [
        (
            "/auth/forgot-password",
            json!({ "email": "another@example.com" }),
        ),
        (
            "/auth/request-verify",
            json!({ "email": "another@example.com" }),
        ),
        (
            "/auth/register",
            json!({ "email": "another@example.com", "password": PASSWORD }),
        ),
    ] {
        let refused = app.post(path, body).await;
        let refused = refused.expect_error(429, "too_many_attempts");
        assert!(retry_after(&refused) > 0, "{path}");
    }
}

/// The client key of `x-test-client`, so a test can speak for many addresses.
fn test_client(parts: &axum::http::request::Parts) -> Option<String> {
    parts
        .headers
        .get("x-test-client")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

async fn ipv6_clients_are_counted_by_their_64(backend: Backend) {
    let app = App::start_over(
        backend,
        AsyncUsers::new(throttled_config()),
        |state| state.client_key(test_client),
        |app| app,
    )
    .await;
    let login = |client: String, email: String| {
        let body = json!({ "email": email, "password": "not the password" });
        app.send(
            app.request(Method::POST, "/auth/login", None)
                .header("x-test-client", client)
                .json(&body),
        )
    };
    // Six failures (the client limit) from six addresses of one /64, each at another account.
    for n in 1..=6 {
        login(
            format!("2001:db8:7:9::{n:x}"),
            format!("user{n}@example.com"),
        )
        .await
        .expect_error(401, "invalid_credentials");
    }
    login("2001:db8:7:9:ffff::1".into(), "user7@example.com".into())
        .await
        .expect_error(429, "too_many_attempts");
    // Another /64 is another client.
    login("2001:db8:7:a::1".into(), "user8@example.com".into())
        .await
        .expect_error(401, "invalid_credentials");
}

async fn tokens_are_counted_per_client(backend: Backend) {
    let app = guarded_app(backend).await;
    app.register("alice@example.com").await;
    let token = app
        .mailed("alice@example.com", MailKind::Verification)
        .await;
    // Six bad tokens (the client limit) over the token routes, then even the right one waits.
    for n in 0..3 {
        app.post("/auth/verify", json!({ "token": format!("forged{n}") }))
            .await
            .expect_error(400, "invalid_token");
        let reset = json!({ "token": format!("forged{n}"), "password": NEW_PASSWORD });
        app.post("/auth/reset-password", reset)
            .await
            .expect_error(400, "invalid_token");
    }
    app.post("/auth/verify", json!({ "token": token }))
        .await
        .expect_error(429, "too_many_attempts");
}

async fn factors_need_a_proved_address(backend: Backend) {
    let app = App::start(backend).await;
    // Someone registers an address they do not own: they cannot set a factor up on it.
    app.register("victim@example.com").await;
    let squatter = app.login("victim@example.com").await;
    app.call(
        Method::POST,
        "/users/me/mfa/totp",
        &squatter,
        Some(json!({ "password": PASSWORD })),
    )
    .await
    .expect_error(403, "unverified_user");
}

async fn the_first_proof_of_an_address_clears_what_came_before(backend: Backend) {
    let mut app = App::start(backend).await;
    // An account whose factor was set up while its address stood unproved (before this
    // rule, or unverified again by an administrator).
    app.register_verified("victim@example.com").await;
    let squatter = app.login("victim@example.com").await;
    let (secret, _) = app.enrol_totp(&squatter).await;
    let token = app.pending_login("victim@example.com").await;
    let squatter = app
        .complete(&token, json!({ "code": code_at(&secret, 0) }))
        .await
        .expect(200)
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.db.set_verified("victim@example.com", false);
    assert_eq!(app.db.stored_sessions(), 2);

    // The owner resets the password: the reset proves the address, verifies it, and clears
    // the factor and the sessions set up before.
    app.post(
        "/auth/forgot-password",
        json!({ "email": "victim@example.com" }),
    )
    .await
    .expect(202);
    let reset = app
        .mailed("victim@example.com", MailKind::PasswordReset)
        .await;
    let owner = app
        .post(
            "/auth/reset-password",
            json!({ "token": reset, "password": NEW_PASSWORD }),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(owner["is_verified"], true, "{owner}");
    app.get("/users/me", &squatter)
        .await
        .expect_error(401, "invalid_token");
    assert_eq!(app.db.stored_sessions(), 0);
    // The login asks for no factor of the squatter's.
    let session = app.login_with("victim@example.com", NEW_PASSWORD).await;
    let factors = app.get("/users/me/mfa", &session).await.expect(200).body;
    assert_eq!(factors["totp"], false, "{factors}");
}

async fn a_reset_keeps_the_second_factor_of_a_verified_account(backend: Backend) {
    let app = App::start(backend).await;
    app.register_verified("alice@example.com").await;
    let session = app.login("alice@example.com").await;
    app.enrol_totp(&session).await;
    app.post(
        "/auth/forgot-password",
        json!({ "email": "alice@example.com" }),
    )
    .await
    .expect(202);
    let reset = app
        .mailed("alice@example.com", MailKind::PasswordReset)
        .await;
    app.post(
        "/auth/reset-password",
        json!({ "token": reset, "password": NEW_PASSWORD }),
    )
    .await
    .expect(200);
    // Whoever reset the password still needs the factor.
    let answer = app
        .post(
            "/auth/login",
            json!({ "email": "alice@example.com", "password": NEW_PASSWORD }),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(answer["mfa_required"], true, "{answer}");
}

async fn every_unsafe_cookie_route_refuses_another_origin(backend: Backend) {
    const COOKIE_NAME: &str = "__Host-session";
    let mut app =
        App::start_with(backend, |state| state.session_cookie(COOKIE_NAME).unwrap()).await;
    app.register_verified("admin@example.com").await;
    app.db.grant("admin@example.com", "admin");
    let token = app.login("admin@example.com").await;
    let cookie = format!("{COOKIE_NAME}={token}");
    let host = app.base.trim_start_matches("http://").to_owned();
    let port: u16 = host.rsplit(':').next().unwrap().parse().unwrap();
    // A page on another port of the same host, and one on a sibling subdomain: same site,
    // other origins.
    let other_port = format!("http://127.0.0.1:{}", port.wrapping_add(1));
    let foreign = [
        vec![
            ("origin", other_port.as_str()),
            ("sec-fetch-site", "same-site"),
        ],
        vec![
            ("origin", "http://evil.localhost"),
            ("sec-fetch-site", "same-site"),
        ],
        vec![("sec-fetch-site", "same-site")],
    ];
    // Every state-changing route of the document that a session may call, so a new route
    // cannot skip the check.
    let document = serde_json::to_value(users_axum::openapi::<User>()).unwrap();
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method = match method.to_ascii_uppercase().parse::<Method>() {
                Ok(method) if !method.is_safe() => method,
                _ => continue,
            };
            let secured = operation["security"]
                .as_array()
                .is_some_and(|schemes| !schemes.is_empty());
            if !secured {
                continue;
            }
            let path = path
                .replace("{user_id}", &Uuid::now_v7().to_string())
                .replace("{session_id}", &Uuid::now_v7().to_string())
                .replace("{passkey_id}", &Uuid::now_v7().to_string())
                .replace("{name}", "editor")
                .replace("{provider}", "corp");
            for headers in &foreign {
                let mut request = app
                    .request(method.clone(), &path, None)
                    .header(COOKIE, cookie.clone())
                    .json(&json!({}));
                for (name, value) in headers {
                    request = request.header(*name, *value);
                }
                app.send(request).await.expect_error(403, "forbidden");
            }
            // The application's own origin gets past the check (to whatever the route says).
            let own = app
                .send(
                    app.request(method.clone(), &path, None)
                        .header(COOKIE, cookie.clone())
                        .header("origin", app.base.as_str())
                        .header("sec-fetch-site", "same-origin")
                        .json(&json!({})),
                )
                .await;
            assert_ne!(
                own.body["error"]["code"], "forbidden",
                "{method} {path}: {}",
                own.body
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} routes checked");
}

async fn the_last_administrator_stays(backend: Backend) {
    let mut app = App::start(backend).await;
    let admin = app.register_verified("admin@example.com").await;
    let admin_id = admin["id"].as_str().unwrap().to_owned();
    app.db.grant("admin@example.com", "admin");
    let session = app.login("admin@example.com").await;
    let own = format!("/users/{admin_id}");
    let revoke = format!("/roles/admin/users/{admin_id}");
    for (method, path, body) in [
        (Method::DELETE, revoke.as_str(), None),
        (
            Method::PATCH,
            own.as_str(),
            Some(json!({ "is_active": false })),
        ),
        (Method::DELETE, own.as_str(), None),
        (
            Method::DELETE,
            "/users/me",
            Some(json!({ "password": PASSWORD })),
        ),
        (Method::DELETE, "/roles/admin", None),
    ] {
        app.call(method, path, &session, body)
            .await
            .expect_error(409, "last_admin");
    }
    app.get("/users/me", &session).await.expect(200);
    // With a second administrator, the first may step down.
    app.register("second@example.com").await;
    app.db.grant("second@example.com", "admin");
    app.call(Method::DELETE, &revoke, &session, None)
        .await
        .expect(204);
}
