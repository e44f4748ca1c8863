//! W5: logins with the correct password, a wrong password and an unknown email; the mean time
//! of each kind.

use argon2::password_hash::PasswordHash;
use argon2::{Argon2, PasswordVerifier as _};
use users_diesel::{RoleStore, UserStore, UsersError};

use super::{normalize_email_by_hand, Bench, BenchConnection, PASSWORD};
use crate::measure::{interleaved, Line, Timing};
use crate::models::framework::{Role, User};
use crate::models::hand::{HandStore, HandUser};
use crate::Result;

/// One kind of login attempt, and what both sides must answer.
struct Kind {
    name: &'static str,
    attempts: Vec<(String, &'static str)>,
    succeeds: bool,
}

pub fn run<C: BenchConnection>(bench: &mut Bench<C>) -> Result<()>
where
    User: UserStore<C>,
    users_diesel::Events<User>: users_diesel::EventStore<C>,
    Role: RoleStore<C, User = User>,
{
    let count = bench.sizes.logins;
    let seeds = &bench.seeds.framework;
    let email = |i: usize| seeds[i % seeds.len()].email.clone();
    let kinds = [
        Kind {
            name: "correct password",
            attempts: (0..count).map(|i| (email(i), PASSWORD)).collect(),
            succeeds: true,
        },
        Kind {
            name: "wrong password",
            attempts: (0..count)
                .map(|i| (email(count + i), "not the right password"))
                .collect(),
            succeeds: false,
        },
        Kind {
            name: "unknown email",
            attempts: (0..count)
                .map(|i| (format!("nobody{i}@example.com"), PASSWORD))
                .collect(),
            succeeds: false,
        },
    ];
    let verifications_before = bench.users.hasher().verifications();
    let mut means = Vec::new();
    for kind in &kinds {
        let timing = interleaved(
            bench,
            bench.rounds,
            count,
            |_| Ok(()),
            |b, i| {
                let (email, password) = &kind.attempts[i];
                match b.users.authenticate(&mut b.db.conn, email, password) {
                    Ok(_) if kind.succeeds => Ok(()),
                    Err(UsersError::InvalidCredentials) if !kind.succeeds => Ok(()),
                    other => Err(format!("unexpected login: {other:?}").into()),
                }
            },
            |b, i| {
                let (email, password) = &kind.attempts[i];
                let user =
                    login_by_hand(&mut b.db.conn, &b.argon2, &b.dummy_hash, email, password)?;
                if user.is_some() == kind.succeeds {
                    Ok(())
                } else {
                    Err(format!("unexpected login by hand for {email}").into())
                }
            },
        )?;
        means.push(timing);
        bench.report(
            Line::mean_time(format!("W5 login, {} ({count})", kind.name), count, timing)
                .with_faults(),
        );
    }
    let framework_logins = kinds.len() * count * bench.rounds.max(1);
    let runs = bench.users.hasher().verifications() - verifications_before;
    if let [_, wrong, unknown] = means[..] {
        bench.note(format!(
            "W5 framework: unknown email / wrong password = {:.3}; argon2 runs per login = {:.2}",
            ratio(unknown, wrong),
            runs as f64 / framework_logins as f64
        ));
    }
    Ok(())
}

fn ratio(a: Timing, b: Timing) -> f64 {
    a.framework.as_secs_f64() / b.framework.as_secs_f64()
}

/// A login by hand: normalise, load by email, verify against the stored hash, or against a
/// dummy hash for an unknown email so that it costs what a wrong password costs.
fn login_by_hand<C: HandStore>(
    conn: &mut C,
    argon2: &Argon2<'_>,
    dummy_hash: &str,
    email: &str,
    password: &str,
) -> Result<Option<HandUser>> {
    let user = match normalize_email_by_hand(email) {
        Some(email) => conn.user_by_email(&email)?,
        None => None,
    };
    let phc = user
        .as_ref()
        .map_or(dummy_hash, |u| u.password_hash.as_str());
    let matches = PasswordHash::new(phc)
        .is_ok_and(|hash| argon2.verify_password(password.as_bytes(), &hash).is_ok());
    Ok(user.filter(|user| matches && user.is_active))
}
