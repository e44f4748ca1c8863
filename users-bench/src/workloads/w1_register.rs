//! W1: register users, argon2id at the default costs (m = 19456 KiB, t = 2, p = 1).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHasher as _};
use users_diesel::{Id, RoleStore, UserStore};

use super::{normalize_email_by_hand, Bench, BenchConnection, PASSWORD};
use crate::measure::{interleaved, Line};
use crate::models::framework::{Role, User};
use crate::models::hand::{HandStore, HandUser};
use crate::Result;

pub fn run<C: BenchConnection>(bench: &mut Bench<C>) -> Result<()>
where
    User: UserStore<C>,
    users_diesel::Events<User>: users_diesel::EventStore<C>,
    Role: RoleStore<C, User = User>,
{
    let count = bench.sizes.register;
    let emails: Vec<String> = (0..count)
        .map(|i| format!("W1.User{i}@Example.COM"))
        .collect();
    let timing = interleaved(
        bench,
        bench.rounds,
        count,
        |b| b.db.clear(),
        |b, i| {
            b.users.register(&mut b.db.conn, &emails[i], PASSWORD)?;
            Ok(())
        },
        |b, i| {
            register_by_hand(&mut b.db.conn, &b.argon2, &emails[i], PASSWORD)?;
            Ok(())
        },
    )?;
    bench.report(Line::throughput(format!("W1 register {count}"), count, timing).with_faults());
    Ok(())
}

/// Registration by hand: normalise the email, check the password's length, hash it, insert.
fn register_by_hand<C: HandStore>(
    conn: &mut C,
    argon2: &Argon2<'_>,
    email: &str,
    password: &str,
) -> Result<HandUser> {
    let email = normalize_email_by_hand(email).ok_or("invalid email")?;
    if password.chars().count() < 8 || password.len() > 4096 {
        return Err("invalid password".into());
    }
    let salt = SaltString::generate(&mut OsRng);
    let password_hash = argon2
        .hash_password(password.as_bytes(), &salt)?
        .to_string();
    let user = HandUser {
        id: Id::new(),
        email,
        password_hash,
        is_active: true,
        is_verified: false,
        display_name: None,
    };
    conn.insert_user(&user)?;
    Ok(user)
}
