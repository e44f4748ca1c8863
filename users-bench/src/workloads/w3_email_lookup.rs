//! W3: look users up by email, the addresses written in case variants and with spaces around.

use std::hint::black_box;

use users_diesel::{RoleStore, UserStore};

use super::{normalize_email_by_hand, Bench, BenchConnection};
use crate::measure::{interleaved, slice_of, slices_for, Line};
use crate::models::framework::{Role, User};
use crate::Result;

/// The `i`-th way of writing `email`: as stored, upper case, capitalised, padded.
fn variant(email: &str, i: usize) -> String {
    match i % 4 {
        0 => email.to_owned(),
        1 => email.to_uppercase(),
        2 => {
            let (local, domain) = email.split_once('@').unwrap_or((email, ""));
            let mut chars = local.chars();
            let first = chars.next().map(|c| c.to_uppercase().to_string());
            format!(
                "{}{}@{}",
                first.unwrap_or_default(),
                chars.as_str(),
                domain.to_uppercase()
            )
        }
        _ => format!("  {email} "),
    }
}

pub fn run<C: BenchConnection>(bench: &mut Bench<C>) -> Result<()>
where
    User: UserStore<C>,
    users_diesel::Events<User>: users_diesel::EventStore<C>,
    Role: RoleStore<C, User = User>,
{
    let count = bench.sizes.email_lookups;
    let seeds = &bench.seeds.framework;
    let lookups: Vec<String> = (0..count)
        .map(|i| variant(&seeds[i % seeds.len()].email, i))
        .collect();
    let slices = slices_for(count);
    let timing = interleaved(
        bench,
        bench.rounds,
        slices,
        |_| Ok(()),
        |b, slice| {
            for email in &lookups[slice_of(count, slices, slice)] {
                let user = b.users.find_by_email(&mut b.db.conn, email)?;
                black_box(user.ok_or("a seeded user is missing")?);
            }
            Ok(())
        },
        |b, slice| {
            for email in &lookups[slice_of(count, slices, slice)] {
                let email = normalize_email_by_hand(email).ok_or("invalid email")?;
                let user = b.db.conn.user_by_email(&email)?;
                black_box(user.ok_or("a seeded user is missing")?);
            }
            Ok(())
        },
    )?;
    bench.report(Line::throughput(
        format!("W3 find {count} by email (case variants)"),
        count,
        timing,
    ));
    Ok(())
}
