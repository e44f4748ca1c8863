//! The whole account life cycle through the `Users` manager, on an embedded SQLite file:
//! registration, email verification, login, password reset, and the old password and the used
//! reset token failing afterwards.
//!
//! Run it with `cargo run --example auth_flow`.

use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use users_diesel::prelude::*;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// An application's user: the five injected fields, plus its own.
#[user_model]
pub struct User {
    pub display_name: Option<String>,
}

const EMAIL: &str = "alice@example.com";
const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a new, even longer passphrase";

fn main() -> Result<(), Error> {
    let path = std::env::temp_dir().join("users-auth-flow.sqlite");
    match std::fs::remove_file(&path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error.into()),
        _ => {}
    }
    let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
    let applied = conn.run_pending_migrations(Migrations::new().with::<User>())?;
    println!(
        "migrated {} ({} migration(s) applied)",
        path.display(),
        applied.len()
    );

    // In an application the secret comes from a vault, never from the source code.
    let users = Users::<User>::new(UsersConfig::new(
        "a secret of at least 32 bytes, from a vault",
    )?);

    let alice = users.register(&mut conn, "  Alice@Example.COM ", PASSWORD)?;
    println!(
        "registered {} (id {}, verified: {})",
        alice.email, alice.id, alice.is_verified
    );

    // The token goes out by email; the link in it comes back to `verify`.
    let token = users.verification_token(&alice)?;
    println!("verification token: {}", preview(&token));
    let alice = users.verify(&mut conn, &token)?;
    println!("verified {}: {}", alice.email, alice.is_verified);

    let alice = users.authenticate(&mut conn, EMAIL, PASSWORD)?;
    println!("logged in as {}", alice.email);

    // Answer "if the address has an account, we sent a link" either way.
    let reset = users
        .password_reset_token(&mut conn, EMAIL)?
        .ok_or("alice has an account, so there is a reset token")?;
    println!("password reset token: {}", preview(&reset));
    let nobody = users.password_reset_token(&mut conn, "nobody@example.com")?;
    println!("reset token for an unknown address: {nobody:?}");

    users.reset_password(&mut conn, &reset, NEW_PASSWORD)?;
    println!("password reset");

    let alice = users.authenticate(&mut conn, EMAIL, NEW_PASSWORD)?;
    println!("logged in as {} with the new password", alice.email);

    expect_failure(
        "log in with the old password",
        users.authenticate(&mut conn, EMAIL, PASSWORD),
    )?;
    expect_failure(
        "reuse the reset token",
        users.reset_password(&mut conn, &reset, "yet another passphrase"),
    )?;
    Ok(())
}

/// The start of a token, enough to show what one looks like.
fn preview(token: &str) -> String {
    format!(
        "{}… ({} characters)",
        token.get(..16).unwrap_or(token),
        token.len()
    )
}

/// Prints why an attempt failed, as it should have; an attempt that succeeds is an error.
fn expect_failure(attempt: &str, result: Result<User, UsersError>) -> Result<(), Error> {
    match result {
        Err(error) => {
            println!("{attempt}: refused ({error})");
            Ok(())
        }
        Ok(user) => Err(format!("{attempt}: unexpectedly succeeded for {}", user.email).into()),
    }
}
