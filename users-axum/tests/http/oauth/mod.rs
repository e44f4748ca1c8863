//! Sign in with a provider, end to end against a real OpenID Provider: panva's `oidc-provider`
//! (npm, pinned in `tests/oidc/package-lock.json`) on 127.0.0.1, driven like a browser by a
//! reqwest client with a cookie store that follows redirects. Each test serves users-axum over
//! a private database of each enabled backend, with the provider `corp` (OpenID Connect, by
//! discovery) and `github` (GitHub's plain OAuth 2.0 shape: the provider's authorization and
//! token endpoints, and a `/github/user` API that answers as GitHub's does).
//!
//! Needs Node.js and npm (the first test installs the packages); run with the `oidc` feature
//! (`cargo test --all-features`, as CI does).
#![cfg(feature = "oidc")]

mod security;
mod sign_in;

#[path = "../../oidc/provider.rs"]
mod provider;

use diesel_migrations::MigrationHarness;
use provider::Provider;
use reqwest::header::{AUTHORIZATION, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{redirect, StatusCode};
use serde_json::{json, Value};
use users_axum::{
    MailKind, MemoryMailer, NoProfile, OAuthProvider, OAuthSettings, Profile, UsersState,
};
use users_diesel::prelude::*;

use crate::support::{http_tests, Backend};

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

fn config() -> UsersConfig {
    UsersConfig::new([9u8; 32])
        .and_then(|config| config.argon2_params(8, 1, 1))
        .expect("a valid configuration")
}

fn migrations() -> Migrations {
    Migrations::new()
        .with::<User>()
        .with::<Role>()
        .with::<Sessions<User>>()
        .with::<SecondFactors<User>>()
        .with::<OAuthAccounts<User>>()
}

/// The app and its provider.
struct App {
    base: String,
    provider: Provider,
    mailer: MemoryMailer<User>,
    server: tokio::task::JoinHandle<()>,
    /// The test database, kept alive (and dropped) with the app.
    _db: Box<dyn std::any::Any>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A response: status, headers, JSON body (`Null` if none) and the URL it came from.
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    async fn of(response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    #[track_caller]
    fn expect(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        self
    }

    #[track_caller]
    fn expect_error(self, status: u16, code: &str) -> Self {
        let got = self.body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(
            (self.status.as_u16(), got.as_str()),
            (status, code),
            "{}",
            self.body
        );
        self
    }

    fn token(&self) -> String {
        self.body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {}", self.body))
            .to_owned()
    }
}

impl App {
    async fn start(backend: Backend) -> App {
        App::start_with(backend, |state| state, |settings| settings).await
    }

    async fn start_with(
        backend: Backend,
        configure: impl FnOnce(UsersState<User>) -> UsersState<User>,
        settings: impl FnOnce(OAuthSettings) -> OAuthSettings,
    ) -> App {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let redirects = [
            format!("{base}/auth/corp/callback"),
            format!("{base}/auth/github/callback"),
        ];
        let provider = tokio::task::block_in_place(|| Provider::start(&redirects));
        let issuer = provider.issuer.clone();
        let mailer = MemoryMailer::new();
        let manager = AsyncUsers::<User, Role>::new(config());
        // The backend's private database, migrated, behind a pool (`TestDb::pool`).
        macro_rules! over {
            ($db:expr) => {{
                let mut db = $db;
                db.run_pending_migrations(migrations()).unwrap();
                let state = UsersState::new(manager, db.pool(4), mailer.clone());
                (state, Box::new(db) as Box<dyn std::any::Any>)
            }};
        }
        let (state, db) = match backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => over!(users_tests::sqlite()),
            #[cfg(feature = "postgres")]
            Backend::Postgres => over!(users_tests::postgres()),
            #[cfg(feature = "mysql")]
            Backend::Mysql => over!(users_tests::mysql()),
        };
        let oauth = settings(
            OAuthSettings::new(base.clone())
                .provider(OAuthProvider::oidc(
                    "corp",
                    &issuer,
                    "users-app",
                    "users-app-secret",
                ))
                .provider(
                    OAuthProvider::github("users-app", "users-app-secret").github_endpoints(
                        format!("{issuer}/auth"),
                        format!("{issuer}/token"),
                        format!("{issuer}/github"),
                    ),
                ),
        );
        let state = configure(state.oauth(oauth).expect("valid provider settings"));
        let app = users_axum::router::<User, ()>(state);
        let server = tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(listener, app).await.unwrap();
        });
        App {
            base,
            provider,
            mailer,
            server,
            _db: db,
        }
    }

    /// A browser: a cookie store, redirects followed except to the app's callbacks, where it
    /// stops so that the test sees (and may tamper with) the provider's answer.
    fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(redirect::Policy::custom(|attempt| {
                if attempt.url().path().ends_with("/callback") {
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }))
            .build()
            .unwrap()
    }

    /// Runs the provider's side of a flow in `browser` from `authorization` (a URL of the app or
    /// of the provider), signing in at the provider as `login`: the callback URL the provider
    /// sends the browser to.
    async fn provider_side(
        &self,
        browser: &reqwest::Client,
        authorization: &str,
        login: &str,
    ) -> String {
        let mut response = browser.get(authorization).send().await.unwrap();
        if response.status() == StatusCode::OK {
            // The provider's login form.
            let page = response.text().await.unwrap();
            let action = page
                .split("action=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_else(|| panic!("no login form in {page}"))
                .to_owned();
            let url = format!("{}{action}", self.provider.issuer);
            response = browser
                .post(url)
                .form(&[("login", login)])
                .send()
                .await
                .unwrap();
        }
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "{:?}",
            response.url()
        );
        let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
        assert!(
            location.starts_with(&format!("{}/auth/", self.base)),
            "{location}"
        );
        location
    }

    /// A whole sign-in with `provider` as `login`, in a fresh browser: the callback's answer.
    async fn sign_in(&self, provider: &str, login: &str) -> Answer {
        let browser = self.browser();
        let callback = self
            .provider_side(
                &browser,
                &self.url(&format!("/auth/{provider}/authorize")),
                login,
            )
            .await;
        Answer::of(browser.get(callback).send().await.unwrap()).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut request = reqwest::Client::new().request(method, self.url(path));
        if !token.is_empty() {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Answer::of(request.send().await.unwrap()).await
    }

    async fn me(&self, token: &str) -> Value {
        self.call(reqwest::Method::GET, "/users/me", token, None)
            .await
            .expect(200)
            .body
    }

    async fn register(&self, email: &str, verified: bool) {
        let body = json!({ "email": email, "password": PASSWORD });
        self.call(reqwest::Method::POST, "/auth/register", "", Some(body))
            .await
            .expect(201);
        if verified {
            let token = self.mail(email, MailKind::Verification).await;
            let body = json!({ "token": token });
            self.call(reqwest::Method::POST, "/auth/verify", "", Some(body))
                .await
                .expect(200);
        }
    }

    /// The token of the latest mail of `kind` to `email`, once the mail task has sent it (mails
    /// go out in tasks of their own, after the answer).
    async fn mail(&self, email: &str, kind: MailKind) -> String {
        for _ in 0..100 {
            if let Some(token) = self.mailer.latest_token(email, kind) {
                return token;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no {kind:?} mail to {email} in 5 s");
    }

    async fn login(&self, email: &str, password: &str) -> Answer {
        let body = json!({ "email": email, "password": password });
        self.call(reqwest::Method::POST, "/auth/login", "", Some(body))
            .await
    }
}

/// Links a `corp` account (`alice.work@example.org` at the provider) to the user of `token`,
/// through the whole flow in a fresh browser: the callback's answer.
async fn associate(app: &App, token: &str) -> Answer {
    let browser = app.browser();
    let answer = browser
        .post(app.url("/auth/corp/associate"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let answer = Answer::of(answer).await.expect(200);
    let url = answer.body["authorization_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let callback = app
        .provider_side(&browser, &url, "alice.work@example.org")
        .await;
    Answer::of(browser.get(callback).send().await.unwrap()).await
}

/// The start of a flow without a browser: the provider URL the app redirects to, and its flow
/// cookie as a `Cookie` header value.
async fn start_flow(app: &App, path: &str) -> (String, String) {
    let plain = reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let answer = plain.get(app.url(path)).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let location = answer.headers()[LOCATION].to_str().unwrap().to_owned();
    let cookie = answer.headers()[SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    (location, pair)
}

/// The callback `url` opened with the flow cookie `cookie` (`None`: without one).
async fn open_callback(url: &str, cookie: Option<&str>) -> Answer {
    let plain = reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = plain.get(url);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    Answer::of(request.send().await.unwrap()).await
}

/// `url` with its query parameter `name` set to `value`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut url = reqwest::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(key, old)| {
            (
                key.to_string(),
                if key == name {
                    value.to_owned()
                } else {
                    old.to_string()
                },
            )
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

fn param(url: &str, name: &str) -> String {
    let url = reqwest::Url::parse(url).unwrap();
    let value = url
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.to_string());
    value.unwrap_or_else(|| panic!("no {name} in {url}"))
}
