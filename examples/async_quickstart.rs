//! The README's async example: `AsyncUsers` over a deadpool pool of async SQLite connections,
//! with a login in a spawned task as a web handler would run it.
//!
//! Run it with `cargo run --example async_quickstart --features async`.

use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use users_diesel::asynchronous::{deadpool::Pool, sqlite_connection_manager};
use users_diesel::prelude::*;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[user_model]
pub struct User {
    pub display_name: Option<String>,
}

#[role_model]
pub struct Role {}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let path = std::env::temp_dir().join("users-async-quickstart.sqlite");
    let _ = std::fs::remove_file(&path);
    let url = path.to_string_lossy().into_owned();

    // Migrations run once at start-up, over a sync connection.
    let mut conn = SqliteConnection::establish(&url)?;
    conn.run_pending_migrations(Migrations::new().with::<User>().with::<Role>())?;

    // Both are cheap to clone: keep them in the web framework's state.
    let pool = Pool::builder(sqlite_connection_manager(&url))
        .max_size(8)
        .build()?;
    let users = AsyncUsers::<User, Role>::new(UsersConfig::new(
        "a secret of at least 32 bytes, from a vault",
    )?);

    let mut conn = pool.get().await?;
    let alice = users
        .register_with(
            &mut *conn,
            "Alice@Example.COM",
            "correct horse battery staple",
            |u| u.display_name = Some("Alice".into()),
        )
        .await?;
    let admin = users
        .create_role(&mut *conn, "admin", Some("full access"))
        .await?;
    users.assign_role(&mut *conn, &alice, &admin).await?;

    // A request handled elsewhere: its own clone of the manager, its own pooled connection.
    // argon2 runs on Tokio's blocking pool, so the executor keeps serving other requests.
    let login = tokio::spawn({
        let (users, pool) = (users.clone(), pool.clone());
        async move {
            let mut conn = pool.get().await?;
            let user = users
                .authenticate(
                    &mut *conn,
                    "alice@example.com",
                    "correct horse battery staple",
                )
                .await?;
            Ok::<_, Error>(user)
        }
    });
    let logged_in = login.await??;
    assert_eq!(logged_in.id, alice.id);
    assert!(users.has_role(&mut *conn, &logged_in, "admin").await?);
    assert!(matches!(
        users
            .authenticate(&mut *conn, "alice@example.com", "wrong")
            .await,
        Err(UsersError::InvalidCredentials)
    ));

    println!("{logged_in:?} is an admin, in {}", path.display());
    Ok(())
}
