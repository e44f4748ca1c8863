//! The README's quickstart: a user model on an embedded SQLite file, migrated, used through the
//! `Users` manager and through plain Diesel.
//!
//! Run it with `cargo run --example quickstart`.

use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use users_diesel::prelude::*;

/// An application's user: the five injected fields, plus its own.
#[user_model]
pub struct User {
    pub display_name: Option<String>,
    #[column(default = 0)]
    pub token_count: i32,
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let path = std::env::temp_dir().join("users-quickstart.sqlite");
    let _ = std::fs::remove_file(&path);
    let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
    conn.run_pending_migrations(Migrations::new().with::<User>())?;

    // The manager: normalised email, argon2id hash, uniqueness enforced by the database.
    let users = Users::<User>::new(UsersConfig::new(
        "a secret of at least 32 bytes, from a vault",
    )?);
    let alice = users.register(
        &mut conn,
        "Alice@Example.COM",
        "correct horse battery staple",
    )?;
    let bob = users.register_with(&mut conn, "bob@example.com", "hunter2 hunter2", |u| {
        u.display_name = Some("Bob".into());
        u.token_count = 3;
    })?;
    let logged_in = users.authenticate(
        &mut conn,
        "alice@example.com",
        "correct horse battery staple",
    )?;
    assert_eq!(logged_in.id, alice.id);
    assert!(matches!(
        users.register(&mut conn, "ALICE@example.com", "another password"),
        Err(UsersError::EmailTaken)
    ));

    // Plain Diesel on the generated table and model.
    let carol = User {
        display_name: Some("Carol".into()),
        ..User::from_credentials(
            Id::new(),
            "carol@example.com".into(),
            "(not a real hash)".into(),
        )
    };
    diesel::insert_into(users::table)
        .values(&carol)
        .execute(&mut conn)?;
    diesel::update(&bob)
        .set(users::token_count.eq(users::token_count + 1))
        .execute(&mut conn)?;

    let all: Vec<User> = users::table.order(users::email).load(&mut conn)?;
    println!("{} users in {}:", all.len(), path.display());
    for user in &all {
        println!("  {user:?}");
    }
    let bob: User = users::table
        .filter(users::email.eq("bob@example.com"))
        .first(&mut conn)?;
    println!("bob has {} tokens", bob.token_count);
    Ok(())
}
