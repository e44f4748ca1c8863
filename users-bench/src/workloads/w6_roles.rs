//! W6: roles. Ten roles, three each for the first users (a transaction per user), then
//! `has_role` checks, `roles_of` loads, and the roles of all those users loaded at once.

use std::cell::RefCell;
use std::hint::black_box;

use users_diesel::{Id, RoleStore, UserStore};

use super::{Bench, BenchConnection};
use crate::measure::{interleaved, slice_of, slices_for, Line};
use crate::models::framework::{Role, User};
use crate::models::hand::HandRole;
use crate::Result;

const ROLES: usize = 10;

/// The three roles (of ten) user `i` gets.
fn roles_of_user(i: usize) -> [usize; 3] {
    [i % ROLES, (i + 3) % ROLES, (i + 6) % ROLES]
}

pub fn run<C: BenchConnection>(bench: &mut Bench<C>) -> Result<()>
where
    User: UserStore<C>,
    users_diesel::Events<User>: users_diesel::EventStore<C>,
    Role: RoleStore<C, User = User>,
{
    let names: Vec<String> = (0..ROLES).map(|k| format!("role-{k}")).collect();
    assign(bench, &names)?;
    bench.settle()?;
    has_role(bench, &names)?;
    roles_of(bench)?;
    roles_of_users(bench)
}

/// Assignments: each round starts without roles and creates them (not timed); the timed part
/// gives each user its three roles in a transaction.
fn assign<C: BenchConnection>(bench: &mut Bench<C>, names: &[String]) -> Result<()>
where
    User: UserStore<C>,
    users_diesel::Events<User>: users_diesel::EventStore<C>,
    Role: RoleStore<C, User = User>,
{
    let (rounds, role_users) = (bench.rounds, bench.sizes.role_users);
    let fw_assignments = RefCell::new(Vec::<[Role; 3]>::new());
    let hand_assignments = RefCell::new(Vec::<[HandRole; 3]>::new());
    let slices = slices_for(role_users / 10);
    let assign = interleaved(
        bench,
        rounds,
        slices,
        |b| {
            b.db.clear_roles()?;
            let fw_roles = names
                .iter()
                .map(|name| b.users.create_role(&mut b.db.conn, name, None))
                .collect::<Result<Vec<Role>, _>>()?;
            let hand_roles = names
                .iter()
                .map(|name| {
                    let role = HandRole {
                        id: Id::new(),
                        name: name.clone(),
                        description: None,
                    };
                    b.db.conn.insert_role(&role).map(|()| role)
                })
                .collect::<Result<Vec<HandRole>, _>>()?;
            *fw_assignments.borrow_mut() = (0..role_users)
                .map(|i| roles_of_user(i).map(|k| fw_roles[k].clone()))
                .collect();
            *hand_assignments.borrow_mut() = (0..role_users)
                .map(|i| roles_of_user(i).map(|k| hand_roles[k].clone()))
                .collect();
            Ok(())
        },
        |b, slice| {
            let assignments = fw_assignments.borrow();
            for i in slice_of(role_users, slices, slice) {
                let user = &b.seeds.framework[i];
                b.users
                    .assign_roles(&mut b.db.conn, user, &assignments[i])?;
            }
            Ok(())
        },
        |b, slice| {
            let assignments = hand_assignments.borrow();
            for i in slice_of(role_users, slices, slice) {
                let user = &b.seeds.hand[i];
                b.db.conn.transaction(|conn| {
                    assignments[i]
                        .iter()
                        .try_for_each(|role| conn.assign(user.id, role.id))
                })?;
            }
            Ok(())
        },
    )?;
    bench.report(Line::throughput(
        format!("W6 assign {} (3 per user)", 3 * role_users),
        3 * role_users,
        assign,
    ));
    Ok(())
}

/// `has_role` checks, a name of ten for each user in turn.
fn has_role<C: BenchConnection>(bench: &mut Bench<C>, names: &[String]) -> Result<()>
where
    User: UserStore<C>,
    users_diesel::Events<User>: users_diesel::EventStore<C>,
    Role: RoleStore<C, User = User>,
{
    let (sizes, rounds, role_users) = (bench.sizes, bench.rounds, bench.sizes.role_users);
    let checks = sizes.role_checks;
    let slices = slices_for(checks);
    let has_role = interleaved(
        bench,
        rounds,
        slices,
        |_| Ok(()),
        |b, slice| {
            for i in slice_of(checks, slices, slice) {
                let user = &b.seeds.framework[i % role_users];
                let name = &names[i % ROLES];
                black_box(b.users.has_role(&mut b.db.conn, user, name)?);
            }
            Ok(())
        },
        |b, slice| {
            for i in slice_of(checks, slices, slice) {
                let user = &b.seeds.hand[i % role_users];
                black_box(b.db.conn.has_role(user.id, &names[i % ROLES])?);
            }
            Ok(())
        },
    )?;
    bench.report(Line::throughput(
        format!("W6 has_role ×{checks}"),
        checks,
        has_role,
    ));

    Ok(())
}

/// `roles_of` loads, a user at a time.
fn roles_of<C: BenchConnection>(bench: &mut Bench<C>) -> Result<()>
where
    User: UserStore<C>,
    users_diesel::Events<User>: users_diesel::EventStore<C>,
    Role: RoleStore<C, User = User>,
{
    let (sizes, rounds, role_users) = (bench.sizes, bench.rounds, bench.sizes.role_users);
    let loads = sizes.roles_of;
    let slices = slices_for(loads);
    let roles_of = interleaved(
        bench,
        rounds,
        slices,
        |_| Ok(()),
        |b, slice| {
            for i in slice_of(loads, slices, slice) {
                let user = &b.seeds.framework[i % role_users];
                black_box(b.users.roles_of(&mut b.db.conn, user)?);
            }
            Ok(())
        },
        |b, slice| {
            for i in slice_of(loads, slices, slice) {
                black_box(b.db.conn.roles_of(b.seeds.hand[i % role_users].id)?);
            }
            Ok(())
        },
    )?;
    bench.report(Line::throughput(
        format!("W6 roles_of ×{loads}"),
        loads,
        roles_of,
    ));

    Ok(())
}

/// The roles of all the users with roles, loaded at once.
fn roles_of_users<C: BenchConnection>(bench: &mut Bench<C>) -> Result<()>
where
    User: UserStore<C>,
    users_diesel::Events<User>: users_diesel::EventStore<C>,
    Role: RoleStore<C, User = User>,
{
    let (sizes, rounds, role_users) = (bench.sizes, bench.rounds, bench.sizes.role_users);
    let batches = sizes.roles_of_users;
    let roles_of_users = interleaved(
        bench,
        rounds,
        batches,
        |_| Ok(()),
        |b, _| {
            let users = &b.seeds.framework[..role_users];
            black_box(b.users.roles_of_users(&mut b.db.conn, users)?);
            Ok(())
        },
        |b, _| {
            black_box(b.db.conn.roles_of_users(&b.seeds.hand[..role_users])?);
            Ok(())
        },
    )?;
    bench.report(Line::throughput(
        format!("W6 roles_of_users ({role_users} users) ×{batches}"),
        batches,
        roles_of_users,
    ));
    Ok(())
}
