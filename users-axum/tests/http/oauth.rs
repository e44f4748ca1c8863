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

#[path = "../oidc/provider.rs"]
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

/// A new person signs up with the provider (no password, verified as the provider says),
/// signs in again as the same user, cannot unlink their only way in, sets a password through
/// the reset flow, then can.
async fn a_new_person_signs_up_then_signs_in_as_the_same_user(backend: Backend) {
    let app = App::start(backend).await;
    let first = app.sign_in("corp", "jane@example.com").await.expect(200);
    let me = app.me(&first.token()).await;
    assert_eq!(
        (me["email"].as_str(), me["is_verified"].as_bool()),
        (Some("jane@example.com"), Some(true))
    );
    let again = app.sign_in("corp", "jane@example.com").await.expect(200);
    assert_eq!(app.me(&again.token()).await["id"], me["id"]);

    let token = again.token();
    let linked = app
        .call(reqwest::Method::GET, "/users/me/oauth", &token, None)
        .await
        .expect(200);
    assert_eq!(linked.body["has_password"], false);
    assert_eq!(linked.body["accounts"][0]["provider"], "corp");
    assert_eq!(linked.body["accounts"][0]["email_verified"], true);
    // No password to guess: the provider's subject is not one, nor is an empty one.
    for password in ["jane@example.com", "", PASSWORD] {
        app.login("jane@example.com", password)
            .await
            .expect_error(401, "invalid_credentials");
    }
    app.call(
        reqwest::Method::DELETE,
        "/users/me/oauth/corp",
        &token,
        None,
    )
    .await
    .expect_error(409, "last_sign_in_method");

    // The reset flow sets a password; then the provider may go.
    let body = json!({ "email": "jane@example.com" });
    app.call(
        reqwest::Method::POST,
        "/auth/forgot-password",
        "",
        Some(body),
    )
    .await
    .expect(202);
    let reset = app.mail("jane@example.com", MailKind::PasswordReset).await;
    let body = json!({ "token": reset, "password": PASSWORD });
    app.call(
        reqwest::Method::POST,
        "/auth/reset-password",
        "",
        Some(body),
    )
    .await
    .expect(200);
    let token = app
        .login("jane@example.com", PASSWORD)
        .await
        .expect(200)
        .token();
    let linked = app
        .call(reqwest::Method::GET, "/users/me/oauth", &token, None)
        .await
        .expect(200);
    assert_eq!(linked.body["has_password"], true);
    app.call(
        reqwest::Method::DELETE,
        "/users/me/oauth/corp",
        &token,
        None,
    )
    .await
    .expect(204);
    app.call(
        reqwest::Method::DELETE,
        "/users/me/oauth/corp",
        &token,
        None,
    )
    .await
    .expect_error(404, "not_found");
    // Unlinked, the provider account is a new person again: its address is taken by a verified
    // account, which it verified too, so it links back to it.
    let back = app.sign_in("corp", "jane@example.com").await.expect(200);
    assert_eq!(app.me(&back.token()).await["id"], me["id"]);
}

/// The linking rules: an account with the provider's address is linked only if both the
/// provider and the account verified it; a new user is verified only if the provider said so.
async fn an_address_is_linked_only_when_both_sides_verified_it(backend: Backend) {
    let app = App::start(backend).await;
    // Pre-registered, never verified (an attacker's, perhaps): not taken over, not handed over.
    app.register("victim@example.com", false).await;
    app.sign_in("corp", "victim@example.com")
        .await
        .expect_error(409, "email_taken");
    // Verified here, but the provider did not verify it: refused.
    app.register("bob@example.com", true).await;
    app.sign_in("corp", "unverified:bob@example.com")
        .await
        .expect_error(409, "email_taken");
    // Both verified: linked to the existing account.
    let local = app
        .login("bob@example.com", PASSWORD)
        .await
        .expect(200)
        .token();
    let bob = app
        .sign_in("corp", "bob@example.com")
        .await
        .expect(200)
        .token();
    assert_eq!(app.me(&bob).await["id"], app.me(&local).await["id"]);
    // A new person whose provider did not verify the address is not verified here.
    let carol = app
        .sign_in("corp", "unverified:carol@example.com")
        .await
        .expect(200)
        .token();
    assert_eq!(app.me(&carol).await["is_verified"], false);
    // A provider account without an address cannot make a user.
    app.sign_in("corp", "noemail:dave")
        .await
        .expect_error(422, "invalid_email");
    // The refused sign-ins linked nothing: the victim's account has no provider account.
    let victim = app
        .login("victim@example.com", PASSWORD)
        .await
        .expect(200)
        .token();
    let linked = app
        .call(reqwest::Method::GET, "/users/me/oauth", &victim, None)
        .await
        .expect(200);
    assert_eq!(linked.body["accounts"], json!([]));
}

/// A logged-in user links a provider account (whatever its address), then signs in with it;
/// another user cannot link the same account; unlinking works while a password remains.
async fn a_logged_in_user_links_and_unlinks_a_provider(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com", true).await;
    let alice = app
        .login("alice@example.com", PASSWORD)
        .await
        .expect(200)
        .token();
    // Associating needs a session.
    app.call(reqwest::Method::POST, "/auth/corp/associate", "", None)
        .await
        .expect_error(401, "unauthorized");

    let linked = associate(&app, &alice).await.expect(200);
    assert_eq!(linked.body["provider"], "corp");
    assert_eq!(linked.body["email"], "alice.work@example.org");
    // The provider account now signs Alice in.
    let via_corp = app
        .sign_in("corp", "alice.work@example.org")
        .await
        .expect(200)
        .token();
    assert_eq!(app.me(&via_corp).await["email"], "alice@example.com");
    // Bob cannot link Alice's provider account to himself.
    app.register("bob@example.com", true).await;
    let bob = app
        .login("bob@example.com", PASSWORD)
        .await
        .expect(200)
        .token();
    associate(&app, &bob)
        .await
        .expect_error(409, "oauth_account_taken");
    // Alice has a password: unlinking is fine, and the provider account no longer signs her in
    // (it would make a new user of its unlinked address).
    app.call(
        reqwest::Method::DELETE,
        "/users/me/oauth/corp",
        &alice,
        None,
    )
    .await
    .expect(204);
    let new_user = app
        .sign_in("corp", "alice.work@example.org")
        .await
        .expect(200)
        .token();
    assert_eq!(app.me(&new_user).await["email"], "alice.work@example.org");
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

/// GitHub: plain OAuth 2.0 with PKCE, the person's id and primary address from its API.
async fn github_signs_in_with_the_address_from_its_api(backend: Backend) {
    let app = App::start(backend).await;
    let octo = app
        .sign_in("github", "octocat@example.com")
        .await
        .expect(200)
        .token();
    let me = app.me(&octo).await;
    assert_eq!(
        (me["email"].as_str(), me["is_verified"].as_bool()),
        (Some("octocat@example.com"), Some(true))
    );
    let again = app
        .sign_in("github", "octocat@example.com")
        .await
        .expect(200)
        .token();
    assert_eq!(app.me(&again).await["id"], me["id"]);
    let unverified = app
        .sign_in("github", "unverified:hubot@example.com")
        .await
        .expect(200)
        .token();
    assert_eq!(app.me(&unverified).await["is_verified"], false);
    app.sign_in("github", "noemail:ghost")
        .await
        .expect_error(422, "invalid_email");
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

/// The `state` is bound to the browser that started the flow: a forged one, the callback of
/// another browser's flow (login CSRF), and a callback replayed after it was used are refused.
async fn forged_and_replayed_states_are_refused(backend: Backend) {
    let app = App::start(backend).await;
    // The attacker runs the flow with their own provider account, and stops at the callback.
    let (url, attacker_cookie) = start_flow(&app, "/auth/corp/authorize").await;
    let callback = app
        .provider_side(&app.browser(), &url, "mallory@example.com")
        .await;

    // A victim's browser opening the attacker's callback (login CSRF): it has no flow...
    open_callback(&callback, None)
        .await
        .expect_error(400, "invalid_state");
    // ...or a flow of its own, whose state is not the attacker's.
    let (_, victim_cookie) = start_flow(&app, "/auth/corp/authorize").await;
    open_callback(&callback, Some(&victim_cookie))
        .await
        .expect_error(400, "invalid_state");
    // A forged state, with the attacker's own cookie.
    let forged = with_param(&callback, "state", "forged");
    open_callback(&forged, Some(&attacker_cookie))
        .await
        .expect_error(400, "invalid_state");
    // A forged cookie: the state sealed under another secret does not open.
    let altered = attacker_cookie.replacen("__Host-users_oauth=", "__Host-users_oauth=A", 1);
    open_callback(&callback, Some(&altered))
        .await
        .expect_error(400, "invalid_state");
    // A flow cookie of another provider's flow.
    let (_, github_cookie) = start_flow(&app, "/auth/github/authorize").await;
    open_callback(&callback, Some(&github_cookie))
        .await
        .expect_error(400, "invalid_state");
    // Nobody signed in as Mallory so far; the attacker's own complete flow does.
    open_callback(&callback, Some(&attacker_cookie))
        .await
        .expect(200);

    // A browser's flow that succeeded cannot be replayed: its cookie is cleared...
    let browser = app.browser();
    let callback = app
        .provider_side(
            &browser,
            &app.url("/auth/corp/authorize"),
            "erin@example.com",
        )
        .await;
    let done = browser.get(&callback).send().await.unwrap();
    let cleared = done.headers().get_all(SET_COOKIE).iter().any(|cookie| {
        let cookie = cookie.to_str().unwrap();
        cookie.starts_with("__Host-users_oauth=;") && cookie.contains("Max-Age=0")
    });
    assert!(cleared, "{:?}", done.headers());
    Answer::of(done).await.expect(200);
    Answer::of(browser.get(&callback).send().await.unwrap())
        .await
        .expect_error(400, "invalid_state");
    // ...and with a copy of the cookie kept, the code is used up at the provider.
    let (url, kept) = start_flow(&app, "/auth/corp/authorize").await;
    let callback = app
        .provider_side(&app.browser(), &url, "frank@example.com")
        .await;
    open_callback(&callback, Some(&kept)).await.expect(200);
    open_callback(&callback, Some(&kept))
        .await
        .expect_error(400, "oauth_refused");
    // An `iss` that is not the provider's (RFC 9207: a mix-up).
    let (url, cookie) = start_flow(&app, "/auth/corp/authorize").await;
    let callback = app
        .provider_side(&app.browser(), &url, "gina@example.com")
        .await;
    let mixed_up = with_param(&callback, "iss", "https://evil.example.com");
    open_callback(&mixed_up, Some(&cookie))
        .await
        .expect_error(400, "oauth_refused");
    // A provider's refusal is said as one.
    let (url, cookie) = start_flow(&app, "/auth/corp/authorize").await;
    let state = param(&url, "state");
    let denied = app.url(&format!(
        "/auth/corp/callback?error=access_denied&state={state}"
    ));
    open_callback(&denied, Some(&cookie))
        .await
        .expect_error(400, "oauth_denied");
    // An unknown provider.
    open_callback(&app.url("/auth/nope/authorize"), None)
        .await
        .expect_error(404, "not_found");
}

/// PKCE: the authorization URL carries an S256 challenge; a code presented without its verifier
/// is refused by the provider, and a code stolen from one browser's flow is useless in another
/// browser's flow, whose verifier does not match it.
async fn a_code_without_its_pkce_verifier_is_refused(backend: Backend) {
    let app = App::start(backend).await;
    let (url, victim_cookie) = start_flow(&app, "/auth/corp/authorize").await;
    assert_eq!(param(&url, "code_challenge_method"), "S256");
    assert_eq!(param(&url, "code_challenge").len(), 43);
    let victim_callback = app
        .provider_side(&app.browser(), &url, "victim@example.com")
        .await;
    let code = param(&victim_callback, "code");

    // The code sent to the token endpoint without a verifier.
    let token_endpoint = format!("{}/token", app.provider.issuer);
    let redirect_uri = app.url("/auth/corp/callback");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", &redirect_uri),
    ];
    let answer = reqwest::Client::new()
        .post(&token_endpoint)
        .basic_auth("users-app", Some("users-app-secret"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let answer = Answer::of(answer).await.expect(400);
    assert_eq!(answer.body["error"], "invalid_grant");

    // The stolen code injected into the attacker's own flow: state and cookie match, the
    // verifier does not.
    let (url, attacker_cookie) = start_flow(&app, "/auth/corp/authorize").await;
    let injected = app.url(&format!(
        "/auth/corp/callback?code={code}&state={}",
        param(&url, "state")
    ));
    open_callback(&injected, Some(&attacker_cookie))
        .await
        .expect_error(400, "oauth_refused");

    // The victim's own flow still completes, as the victim.
    let victim = open_callback(&victim_callback, Some(&victim_cookie))
        .await
        .expect(200)
        .token();
    assert_eq!(app.me(&victim).await["email"], "victim@example.com");
}

/// The ID token is validated: a token (signed by the provider's own key) with another nonce,
/// for another audience, expired or from another issuer is refused, and creates no user.
async fn a_wrong_nonce_or_another_audience_is_refused(backend: Backend) {
    let app = App::start(backend).await;
    for claims in [
        json!({ "nonce": "not-the-nonce" }),
        json!({ "aud": "other-app" }),
        json!({ "aud": ["other-app"] }),
        json!({ "exp": 1 }),
        json!({ "iss": "https://evil.example.com" }),
    ] {
        app.provider.tamper(claims.clone()).await;
        let answer = app.sign_in("corp", "ivan@example.com").await;
        assert_eq!(answer.status.as_u16(), 400, "{claims}: {}", answer.body);
        answer.expect_error(400, "oauth_refused");
    }
    // No user was made: the address is free.
    app.register("ivan@example.com", false).await;
    // An untampered token passes (so the refusals above were the tampering's), as a new person.
    let judy = app
        .sign_in("corp", "judy@example.com")
        .await
        .expect(200)
        .token();
    assert_eq!(app.me(&judy).await["email"], "judy@example.com");
}

/// With `after_sign_in`, the browser lands there with the session cookie; a refusal lands there
/// too, with the error's code.
async fn a_browser_lands_on_the_after_sign_in_page_with_a_session_cookie(backend: Backend) {
    let app = App::start_with(
        backend,
        |state| state.session_cookie("session").unwrap(),
        |settings| settings.after_sign_in("/welcome"),
    )
    .await;
    let (url, cookie) = start_flow(&app, "/auth/corp/authorize").await;
    let callback = app
        .provider_side(&app.browser(), &url, "kim@example.com")
        .await;
    let plain = reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let answer = plain
        .get(&callback)
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    // A page that refreshes to the landing page (a same-site navigation, which carries the
    // SameSite=Strict session cookie), not a redirect.
    assert_eq!(answer.status(), StatusCode::OK);
    let headers = answer.headers().clone();
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = answer.text().await.unwrap();
    assert!(page.contains(r#"content="0;url=/welcome""#), "{page}");
    let session = headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|cookie| cookie.to_str().unwrap().to_owned())
        .find(|cookie| cookie.starts_with("session="))
        .expect("the session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let me = reqwest::Client::new()
        .get(app.url("/users/me"))
        .header(COOKIE, session)
        .send()
        .await
        .unwrap();
    assert_eq!(
        Answer::of(me).await.expect(200).body["email"],
        "kim@example.com"
    );
    app.register("lee@example.com", false).await;
    let (url, cookie) = start_flow(&app, "/auth/corp/authorize").await;
    let callback = app
        .provider_side(&app.browser(), &url, "lee@example.com")
        .await;
    let refused = open_callback(&callback, Some(&cookie)).await;
    assert_eq!(refused.status, StatusCode::SEE_OTHER);
    assert_eq!(refused.headers[LOCATION], "/welcome?error=email_taken");
}

/// A user with a second factor gives it after a provider sign-in too: the callback answers the
/// second factor's challenge, not a session.
async fn a_second_factor_is_still_asked_after_a_provider_sign_in(backend: Backend) {
    let app = App::start(backend).await;
    app.register("alice@example.com", true).await;
    let alice = app
        .login("alice@example.com", PASSWORD)
        .await
        .expect(200)
        .token();
    let body = json!({ "password": PASSWORD });
    let enrolment = app
        .call(
            reqwest::Method::POST,
            "/users/me/mfa/totp",
            &alice,
            Some(body),
        )
        .await
        .expect(200);
    let secret = enrolment.body["secret"].as_str().unwrap();
    let code = users_diesel::totp_code(secret, std::time::SystemTime::now()).unwrap();
    let body = json!({ "code": code });
    app.call(
        reqwest::Method::POST,
        "/users/me/mfa/totp/confirm",
        &alice,
        Some(body),
    )
    .await
    .expect(200);
    associate(&app, &alice).await.expect(200);
    let answer = app
        .sign_in("corp", "alice.work@example.org")
        .await
        .expect(200);
    assert_eq!(answer.body["mfa_required"], true, "{}", answer.body);
    assert!(answer.body["access_token"].is_null(), "{}", answer.body);
    assert!(answer.body["mfa_token"].is_string());
}

http_tests! {
    a_new_person_signs_up_then_signs_in_as_the_same_user,
    an_address_is_linked_only_when_both_sides_verified_it,
    a_logged_in_user_links_and_unlinks_a_provider,
    github_signs_in_with_the_address_from_its_api,
    forged_and_replayed_states_are_refused,
    a_code_without_its_pkce_verifier_is_refused,
    a_wrong_nonce_or_another_audience_is_refused,
    a_browser_lands_on_the_after_sign_in_page_with_a_session_cookie,
    a_second_factor_is_still_asked_after_a_provider_sign_in,
    linking_needs_a_proved_address_and_fresh_proof,
}

/// Linking a provider adds a way in: a session alone, or an unproved address, adds none (#27).
async fn linking_needs_a_proved_address_and_fresh_proof(backend: Backend) {
    let app = App::start(backend).await;
    // Whoever registered an address they do not own cannot link their provider account to it.
    app.register("victim@example.com", false).await;
    let squatter = app
        .login("victim@example.com", PASSWORD)
        .await
        .expect(200)
        .token();
    let body = json!({ "password": PASSWORD });
    app.call(
        reqwest::Method::POST,
        "/auth/corp/associate",
        &squatter,
        Some(body),
    )
    .await
    .expect_error(403, "unverified_user");
    // A stolen session of a verified account needs the password (or a factor) too.
    app.register("alice@example.com", true).await;
    let alice = app
        .login("alice@example.com", PASSWORD)
        .await
        .expect(200)
        .token();
    for (body, status, code) in [
        (json!({}), 422, "invalid_field"),
        (
            json!({ "password": "not the password" }),
            401,
            "invalid_credentials",
        ),
    ] {
        app.call(
            reqwest::Method::POST,
            "/auth/corp/associate",
            &alice,
            Some(body),
        )
        .await
        .expect_error(status, code);
    }
    associate(&app, &alice).await.expect(200);
}
