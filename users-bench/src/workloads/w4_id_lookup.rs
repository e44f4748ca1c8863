//! W4: look users up by id.

use std::hint::black_box;

use users_diesel::{RoleStore, UserStore};

use super::{Bench, BenchConnection};
use crate::measure::{best_of, timed, Line};
use crate::models::framework::{Role, User};
use crate::Result;

pub fn run<C: BenchConnection>(bench: &mut Bench<C>) -> Result<()>
where
    User: UserStore<C>,
    Role: RoleStore<C, User = User>,
{
    let count = bench.sizes.id_lookups;
    let Bench {
        framework,
        hand,
        users,
        seeds,
        rounds,
        ..
    } = bench;
    let timing = best_of(
        *rounds,
        || {
            timed(|| {
                for user in seeds.framework.iter().cycle().take(count) {
                    let found = users.get(&mut framework.conn, user.id)?;
                    black_box(found.ok_or("a seeded user is missing")?);
                }
                Ok(())
            })
        },
        || {
            timed(|| {
                for user in seeds.hand.iter().cycle().take(count) {
                    let found = hand.conn.user_by_id(user.id)?;
                    black_box(found.ok_or("a seeded user is missing")?);
                }
                Ok(())
            })
        },
    )?;
    bench.report(Line::throughput(
        format!("W4 find {count} by id"),
        count,
        timing,
    ));
    Ok(())
}
