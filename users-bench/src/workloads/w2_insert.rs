//! W2: insert users with a precomputed hash, committing every batch.

use users_diesel::{RoleStore, UserStore};

use super::{Bench, BenchConnection};
use crate::measure::{interleaved, Line};
use crate::models::framework::{Role, User};
use crate::Result;

pub fn run<C: BenchConnection>(bench: &mut Bench<C>) -> Result<()>
where
    User: UserStore<C>,
    users_diesel::Events<User>: users_diesel::EventStore<C>,
    Role: RoleStore<C, User = User>,
{
    let (count, batch) = (bench.sizes.insert, bench.sizes.batch);
    let batch_of = |i: usize| i * batch..((i + 1) * batch).min(count);
    let timing = interleaved(
        bench,
        bench.rounds,
        count.div_ceil(batch),
        |b| b.db.clear(),
        |b, i| {
            let users = &b.seeds.framework[batch_of(i)];
            <User as UserStore<C>>::transaction(&mut b.db.conn, |conn| {
                users
                    .iter()
                    .try_for_each(|user| <User as UserStore<C>>::insert(conn, user).map(drop))
            })?;
            Ok(())
        },
        |b, i| {
            let users = &b.seeds.hand[batch_of(i)];
            b.db.conn
                .transaction(|conn| users.iter().try_for_each(|user| conn.insert_user(user)))?;
            Ok(())
        },
    )?;
    bench.report(Line::throughput(
        format!("W2 insert {count}, commit every {batch}"),
        count,
        timing,
    ));
    bench.settle()
}
