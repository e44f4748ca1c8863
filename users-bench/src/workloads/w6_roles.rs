//! W6: roles. Ten roles, three each for the first users (a transaction per user), then
//! `has_role` checks, `roles_of` loads, and the roles of all those users loaded at once.

use std::hint::black_box;

use users_diesel::{Id, RoleStore, UserStore};

use super::{Bench, BenchConnection};
use crate::measure::{best_of, timed, Line};
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
    Role: RoleStore<C, User = User>,
{
    let sizes = bench.sizes;
    let names: Vec<String> = (0..ROLES).map(|k| format!("role-{k}")).collect();
    let fw_users = &bench.seeds.framework[..sizes.role_users];
    let hand_users = &bench.seeds.hand[..sizes.role_users];
    let Bench {
        framework,
        hand,
        users,
        rounds,
        ..
    } = bench;

    // Assignments: each round starts without roles, creates them (not timed), assigns (timed).
    let clear_roles = "DELETE FROM user_roles; DELETE FROM roles;";
    let (mut fw_roles, mut hand_roles) = (Vec::new(), Vec::new());
    let assign = best_of(
        *rounds,
        || {
            framework.conn.batch_execute(clear_roles)?;
            fw_roles = names
                .iter()
                .map(|name| users.create_role(&mut framework.conn, name, None))
                .collect::<Result<Vec<Role>, _>>()?;
            let assignments: Vec<[Role; 3]> = (0..fw_users.len())
                .map(|i| roles_of_user(i).map(|k| fw_roles[k].clone()))
                .collect();
            timed(|| {
                for (user, roles) in fw_users.iter().zip(&assignments) {
                    users.assign_roles(&mut framework.conn, user, roles)?;
                }
                Ok(())
            })
        },
        || {
            hand.conn.batch_execute(clear_roles)?;
            hand_roles = names
                .iter()
                .map(|name| {
                    let role = HandRole {
                        id: Id::new(),
                        name: name.clone(),
                        description: None,
                    };
                    hand.conn.insert_role(&role).map(|()| role)
                })
                .collect::<Result<Vec<HandRole>, _>>()?;
            timed(|| {
                for (i, user) in hand_users.iter().enumerate() {
                    hand.conn.transaction(|conn| {
                        roles_of_user(i)
                            .iter()
                            .try_for_each(|&k| conn.assign(user.id, hand_roles[k].id))
                    })?;
                }
                Ok(())
            })
        },
    )?;
    let assignments = 3 * fw_users.len();
    framework.conn.batch_execute(C::SETTLE)?;
    hand.conn.batch_execute(C::SETTLE)?;

    let checks = sizes.role_checks;
    let has_role = best_of(
        *rounds,
        || {
            timed(|| {
                for i in 0..checks {
                    let user = &fw_users[i % fw_users.len()];
                    black_box(users.has_role(&mut framework.conn, user, &names[i % ROLES])?);
                }
                Ok(())
            })
        },
        || {
            timed(|| {
                for i in 0..checks {
                    let user = &hand_users[i % hand_users.len()];
                    black_box(hand.conn.has_role(user.id, &names[i % ROLES])?);
                }
                Ok(())
            })
        },
    )?;

    let loads = sizes.roles_of;
    let roles_of = best_of(
        *rounds,
        || {
            timed(|| {
                for user in fw_users.iter().cycle().take(loads) {
                    black_box(users.roles_of(&mut framework.conn, user)?);
                }
                Ok(())
            })
        },
        || {
            timed(|| {
                for user in hand_users.iter().cycle().take(loads) {
                    black_box(hand.conn.roles_of(user.id)?);
                }
                Ok(())
            })
        },
    )?;

    let batches = sizes.roles_of_users;
    let roles_of_users = best_of(
        *rounds,
        || {
            timed(|| {
                for _ in 0..batches {
                    black_box(users.roles_of_users(&mut framework.conn, fw_users)?);
                }
                Ok(())
            })
        },
        || {
            timed(|| {
                for _ in 0..batches {
                    black_box(hand.conn.roles_of_users(hand_users)?);
                }
                Ok(())
            })
        },
    )?;

    let role_users = fw_users.len();
    bench.report(Line::throughput(
        format!("W6 assign {assignments} (3 per user)"),
        assignments,
        assign,
    ));
    bench.report(Line::throughput(
        format!("W6 has_role ×{checks}"),
        checks,
        has_role,
    ));
    bench.report(Line::throughput(
        format!("W6 roles_of ×{loads}"),
        loads,
        roles_of,
    ));
    bench.report(Line::throughput(
        format!("W6 roles_of_users ({role_users} users) ×{batches}"),
        batches,
        roles_of_users,
    ));
    Ok(())
}
