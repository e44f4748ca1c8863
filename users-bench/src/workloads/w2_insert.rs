//! W2: insert users with a precomputed hash, committing every batch.

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
    let (count, batch) = (bench.sizes.insert, bench.sizes.batch);
    let Bench {
        framework,
        hand,
        seeds,
        rounds,
        ..
    } = bench;
    let timing = best_of(
        *rounds,
        || {
            framework.clear()?;
            timed(|| {
                for chunk in seeds.framework.chunks(batch) {
                    <User as UserStore<C>>::transaction(&mut framework.conn, |conn| {
                        chunk.iter().try_for_each(|user| {
                            <User as UserStore<C>>::insert(conn, user).map(drop)
                        })
                    })?;
                }
                Ok(())
            })
        },
        || {
            hand.clear()?;
            timed(|| {
                for chunk in seeds.hand.chunks(batch) {
                    hand.conn.transaction(|conn| {
                        chunk.iter().try_for_each(|user| conn.insert_user(user))
                    })?;
                }
                Ok(())
            })
        },
    )?;
    bench.report(Line::throughput(
        format!("W2 insert {count}, commit every {batch}"),
        count,
        timing,
    ));
    bench.settle()
}
