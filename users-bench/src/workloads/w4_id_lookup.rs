//! W4: look users up by id.

use std::hint::black_box;

use users_diesel::{RoleStore, UserStore};

use super::{Bench, BenchConnection};
use crate::measure::{interleaved, slice_of, slices_for, Line};
use crate::models::framework::{Role, User};
use crate::Result;

pub fn run<C: BenchConnection>(bench: &mut Bench<C>) -> Result<()>
where
    User: UserStore<C>,
    users_diesel::Events<User>: users_diesel::EventStore<C>,
    Role: RoleStore<C, User = User>,
{
    let count = bench.sizes.id_lookups;
    let slices = slices_for(count);
    let timing = interleaved(
        bench,
        bench.rounds,
        slices,
        |_| Ok(()),
        |b, slice| {
            let seeds = &b.seeds.framework;
            for i in slice_of(count, slices, slice) {
                let found = b.users.get(&mut b.db.conn, seeds[i % seeds.len()].id)?;
                black_box(found.ok_or("a seeded user is missing")?);
            }
            Ok(())
        },
        |b, slice| {
            let seeds = &b.seeds.hand;
            for i in slice_of(count, slices, slice) {
                let found = b.db.conn.user_by_id(seeds[i % seeds.len()].id)?;
                black_box(found.ok_or("a seeded user is missing")?);
            }
            Ok(())
        },
    )?;
    bench.report(Line::throughput(
        format!("W4 find {count} by id"),
        count,
        timing,
    ));
    Ok(())
}
