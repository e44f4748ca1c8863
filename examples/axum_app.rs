//! A web application on users-axum: registration, login sessions, email verification, password
//! reset, the user's profile and role administration as a JSON API, on the SQLite file
//! `users-app.sqlite` in the current directory, which also keeps the throttle's counters (failed
//! proofs of identity and mails sent), so a restart forgets none.
//!
//! ```text
//! cargo run --example axum_app        # then follow the curl walkthrough it prints
//! ```
//!
//! `USERS_SECRET` (at least 32 bytes) signs the tokens; without it, a random secret made on the
//! first run and kept in `.users-secret` next to the database (or in `USERS_SECRET_FILE`), readable
//! by its owner only, which the admin CLI shares. Sessions use the `Authorization` header and a
//! `__Host-session` cookie. `PORT` overrides the port, 3000. The tokens that an application would email
//! are printed to standard output instead. The admin CLI (`cargo run --example admin -- …`)
//! works on the same file: it makes the first administrator.
//!
//! Built with `--features oidc`, it offers sign-in with the providers the environment names
//! (`users_axum::OAuthSettings::from_env`): for example
//!
//! ```text
//! USERS_PUBLIC_URL=http://localhost:3000 USERS_OAUTH_PROVIDERS=google \
//! USERS_OAUTH_GOOGLE_ISSUER=https://accounts.google.com \
//! USERS_OAUTH_GOOGLE_CLIENT_ID=… USERS_OAUTH_GOOGLE_CLIENT_SECRET=… \
//! cargo run --example axum_app --features oidc   # then open /auth/google/authorize
//! ```

use std::error::Error;

use axum::routing::get;
use axum::Router;
use diesel::{Connection, SqliteConnection};
use diesel_migrations::MigrationHarness;
use serde::{Deserialize, Serialize};
use users_axum::{Admin, CurrentUser, HasRole, LogMailer, Profile, UsersState};
use users_diesel::asynchronous::deadpool::Pool;
use users_diesel::asynchronous::sqlite_connection_manager;
use users_diesel::prelude::*;

#[path = "shared/models.rs"]
mod models;
#[path = "shared/secret.rs"]
mod secret;

use models::{migrations, Org, Role, User};

const DATABASE: &str = "users-app.sqlite";

/// What a user sees and may change of their own account, besides email and password.
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

/// An application route for any logged-in user.
async fn hello(user: CurrentUser<User>) -> String {
    let name = user.display_name.as_deref().unwrap_or(&user.email);
    format!("Hello, {name}!\n")
}

/// An application route for administrators only.
async fn admin_only(admin: HasRole<Admin, User>) -> String {
    format!("{} is an administrator.\n", admin.email)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    // The `internal` errors are logged with `tracing`: print them (and the rest, at INFO).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();

    // Migrations run once, over a sync connection, before serving.
    let mut conn = SqliteConnection::establish(DATABASE)?;
    users_diesel::configure_sqlite(&mut conn)?;
    conn.run_pending_migrations(migrations())?;
    drop(conn);

    let secret = zeroize::Zeroizing::new(secret::load_secret(DATABASE)?);
    // The throttle's counters live in the database: a restart forgets no failed attempt, and
    // every process serving this database counts the same ones.
    let throttle = users_diesel::DatabaseThrottleStore::<SqliteConnection>::establish(DATABASE)?;
    let manager = AsyncUsers::<User, Role>::new(UsersConfig::new(&*secret)?)
        .with_throttle_store(throttle)
        .record_events();
    let pool = Pool::builder(sqlite_connection_manager(DATABASE)).build()?;
    // LogMailer prints the tokens: in production, a Mailer that sends emails.
    // A `__Host-` cookie: only from a secure origin (or localhost), Path=/, no Domain.
    let users = UsersState::new(manager.clone(), pool.clone(), LogMailer)
        .organizations::<Org, _, _>(manager, pool)
        .openapi_json("/openapi.json")
        .session_cookie("__Host-session")?;
    // Sign in with a provider (`--features oidc`), configured by the environment only:
    // USERS_PUBLIC_URL=http://localhost:3000, USERS_OAUTH_PROVIDERS=corp,github,
    // USERS_OAUTH_CORP_ISSUER, USERS_OAUTH_CORP_CLIENT_ID, USERS_OAUTH_CORP_CLIENT_SECRET, …
    #[cfg(feature = "oidc")]
    let users = match users_axum::OAuthSettings::from_env()? {
        Some(settings) => {
            let names = std::env::var("USERS_OAUTH_PROVIDERS").unwrap_or_default();
            eprintln!("sign in with a provider: {names} (GET /auth/{{provider}}/authorize)");
            users.oauth(settings)?
        }
        None => users,
    };

    let app = Router::new()
        .route("/hello", get(hello))
        .route("/admin-only", get(admin_only))
        .merge(users_axum::router(users.clone()))
        .with_state(users);

    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT={port} is not a port"))?,
        Err(_) => 3000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    print_walkthrough(&format!("http://{}", listener.local_addr()?));
    // The peer address is the client key of the login throttle.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

fn print_walkthrough(base: &str) {
    let json = "-H 'content-type: application/json'";
    let auth = "-H \"authorization: Bearer $TOKEN\"";
    println!(
        "\
users-axum example on {base}, database {DATABASE}. Try, in another shell:

  # register (a verification token is printed here, as \"[mail to …]\")
  curl -s {base}/auth/register {json} -d '{{\"email\": \"alice@example.com\", \"password\": \"correct horse battery staple\", \"display_name\": \"Alice\"}}'
  curl -s {base}/auth/verify {json} -d '{{\"token\": \"<the verification token>\"}}'

  # the API, described: OpenAPI 3.1
  curl -s {base}/openapi.json

  # log in, and use the session token
  TOKEN=$(curl -s {base}/auth/login {json} -d '{{\"email\": \"alice@example.com\", \"password\": \"correct horse battery staple\"}}' | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')
  curl -s {base}/users/me {auth}
  curl -s -X PATCH {base}/users/me {auth} {json} -d '{{\"display_name\": \"Alice L.\"}}'
  curl -s {base}/hello {auth}

  # role administration needs the admin role; the admin CLI grants the first one
  cargo run --example admin -- create-role admin
  cargo run --example admin -- assign-role alice@example.com admin
  curl -s {base}/roles {auth} {json} -d '{{\"name\": \"editor\"}}'
  curl -s {base}/admin-only {auth}
  curl -s '{base}/users?limit=10&is_verified=true' {auth}

  # sessions are stored: list them; the login's refresh_token swaps for new tokens, once
  curl -s {base}/users/me/sessions {auth}
  curl -s {base}/auth/refresh {json} -d '{{\"refresh_token\": \"<the login's refresh_token>\"}}'

  # a second factor: enrol a TOTP (its otpauth URI goes into an authenticator app), confirm it
  # with a first code; logins then answer an mfa_token for POST /auth/mfa
  curl -s -X POST {base}/users/me/mfa/totp {auth}
  curl -s {base}/users/me/mfa/totp/confirm {auth} {json} -d '{{\"code\": \"<6 digits>\"}}'

  # a team: create an organization, invite someone (their token is printed here), who accepts
  # it signed in with the invited, verified address; then list the members
  curl -s {base}/orgs {auth} {json} -d '{{\"name\": \"Acme Corp\"}}'
  curl -s {base}/orgs/<the org's id>/invitations {auth} {json} -d '{{\"email\": \"bob@example.com\", \"role\": \"admin\"}}'
  curl -s {base}/invitations/accept -H 'authorization: Bearer <bob's token>' {json} -d '{{\"token\": \"<the invitation token>\"}}'
  curl -s {base}/orgs/<the org's id>/members {auth}

  # log out: this session ends, in every process that shares the database
  curl -s -X POST {base}/auth/logout {auth}

  # forgot the password? (a reset token is printed here; a reset ends every session)
  curl -s {base}/auth/forgot-password {json} -d '{{\"email\": \"alice@example.com\"}}'
  curl -s {base}/auth/reset-password {json} -d '{{\"token\": \"<the reset token>\", \"password\": \"a new long password\"}}'
"
    );
}
