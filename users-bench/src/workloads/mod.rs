//! The workloads, one module each, the framework side and the hand-written side next to each
//! other in each.
//!
//! | id | what | framework | hand-written |
//! |---|---|---|---|
//! | W1 | register users (argon2id, default costs) | `Users::register` | normalise, hash with `argon2`, `INSERT` |
//! | W2 | insert users with a precomputed hash, a transaction per batch | `UserStore::insert` in `UserStore::transaction` | `INSERT` in `Connection::transaction` |
//! | W3 | look users up by email, in case variants | `Users::find_by_email` | normalise, `SELECT … WHERE email = ?` |
//! | W4 | look users up by id | `Users::get` | `SELECT … WHERE id = ?` |
//! | W5 | logins: correct, wrong password, unknown email | `Users::authenticate` | normalise, `SELECT`, argon2 verify (a dummy one for an unknown email) |
//! | W6 | roles: assign, `has_role`, `roles_of`, `roles_of_users` | the `Users` role methods | the same joins in Diesel |

mod w1_register;
mod w2_insert;
mod w3_email_lookup;
mod w4_id_lookup;
mod w5_login;
mod w6_roles;

use argon2::Argon2;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use users_diesel::{Id, RoleStore, UserStore, Users};

use crate::db::Db;
use crate::measure::Line;
use crate::models::framework::{Role, User};
use crate::models::hand::{HandStore, HandUser};
use crate::Result;

/// The password of every benchmark user.
pub const PASSWORD: &str = "correct horse battery staple";

/// How many operations each workload runs; `--scale` multiplies them all.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub register: usize,
    pub insert: usize,
    pub batch: usize,
    pub email_lookups: usize,
    pub id_lookups: usize,
    pub logins: usize,
    pub role_users: usize,
    pub role_checks: usize,
    pub roles_of: usize,
    pub roles_of_users: usize,
}

impl Sizes {
    /// The sizes of issue #6, times `scale` (each at least 1).
    pub fn scaled(scale: f64) -> Self {
        let n = |full: usize| ((full as f64 * scale).round() as usize).max(1);
        let insert = n(10_000);
        Sizes {
            register: n(50),
            insert,
            batch: n(1_000),
            email_lookups: n(10_000),
            id_lookups: n(10_000),
            logins: n(20),
            role_users: n(1_000).min(insert),
            role_checks: n(10_000),
            roles_of: n(1_000),
            // One load of the roles of all `role_users` is short; repeat it to time it (ten
            // times at most: at a larger scale each load is already long).
            roles_of_users: ((10.0 * scale.min(1.0)).round() as usize).max(1),
        }
    }
}

/// A connection type the benchmark runs on: Diesel's, with the hand-written queries.
pub trait BenchConnection: Connection + HandStore + SimpleConnection + 'static {
    /// Run after a bulk write so both sides' planners and tables are in a steady state.
    const SETTLE: &'static str;
}

#[cfg(feature = "sqlite")]
impl BenchConnection for diesel::SqliteConnection {
    // No ANALYZE: with the STAT4 statistics of the bundled SQLite, every new bound value would
    // make a prepared statement re-prepare itself.
    const SETTLE: &'static str = "PRAGMA wal_checkpoint(TRUNCATE)";
}

#[cfg(feature = "postgres")]
impl BenchConnection for diesel::PgConnection {
    // Each write round deleted the previous round's rows: vacuum the dead ones away.
    const SETTLE: &'static str = "VACUUM ANALYZE";
}

#[cfg(feature = "mysql")]
impl BenchConnection for diesel::MysqlConnection {
    const SETTLE: &'static str =
        "ANALYZE TABLE users, roles, user_roles, hand_users, hand_roles, hand_user_roles";
}

/// The users W2 inserts, built once for both sides with the same ids, emails and hash.
pub struct Seeds {
    pub framework: Vec<User>,
    pub hand: Vec<HandUser>,
}

impl Seeds {
    fn new(count: usize, password_hash: &str) -> Self {
        let (framework, hand) = (0..count)
            .map(|i| {
                let id = uuid::Uuid::now_v7();
                let email = format!("user{i}@example.com");
                let display_name = (i % 2 == 0).then(|| format!("User {i}"));
                let framework = User {
                    id: Id::from_uuid(id),
                    email: email.clone(),
                    password_hash: password_hash.to_owned(),
                    is_active: true,
                    is_verified: false,
                    display_name: display_name.clone(),
                };
                let hand = HandUser {
                    id: Id::from_uuid(id),
                    email,
                    password_hash: password_hash.to_owned(),
                    is_active: true,
                    is_verified: false,
                    display_name,
                };
                (framework, hand)
            })
            .unzip();
        Seeds { framework, hand }
    }
}

/// Everything one backend's workloads need: the private database both sides share, the
/// framework's manager, the hand-written side's argon2, the sizes and the seed users.
pub struct Bench<C> {
    pub backend: &'static str,
    pub db: Db<C>,
    pub users: Users<User, Role>,
    /// The hand-written side's hasher: argon2id at the framework's default costs.
    pub argon2: Argon2<'static>,
    /// The hand-written side's hash to verify an unknown email's password against.
    pub dummy_hash: String,
    pub seeds: Seeds,
    pub sizes: Sizes,
    pub rounds: usize,
}

impl<C: BenchConnection> Bench<C>
where
    User: UserStore<C>,
    users_diesel::Events<User>: users_diesel::EventStore<C>,
    Role: RoleStore<C, User = User>,
{
    /// A bench on a fresh private database.
    pub fn new(
        backend: &'static str,
        connect: fn() -> Result<Db<C>>,
        shared: &Shared,
    ) -> Result<Self> {
        Ok(Bench {
            backend,
            db: connect()?,
            users: Users::new(users_diesel::UsersConfig::new(shared.secret)?),
            argon2: shared.argon2.clone(),
            dummy_hash: shared.dummy_hash.clone(),
            seeds: Seeds::new(shared.sizes.insert, &shared.password_hash),
            sizes: shared.sizes,
            rounds: shared.rounds,
        })
    }

    /// Runs the workloads whose ids `selected` accepts, printing a line for each measurement.
    pub fn run(&mut self, selected: &dyn Fn(&str) -> bool) -> Result<()> {
        if selected("W1") {
            w1_register::run(self)?;
        }
        // W2 leaves the users the later workloads read; it always runs.
        w2_insert::run(self)?;
        if selected("W3") {
            w3_email_lookup::run(self)?;
        }
        if selected("W4") {
            w4_id_lookup::run(self)?;
        }
        if selected("W5") {
            w5_login::run(self)?;
        }
        if selected("W6") {
            w6_roles::run(self)?;
        }
        Ok(())
    }

    /// Brings both sides' tables to a steady state after bulk writes (not timed).
    fn settle(&mut self) -> Result<()> {
        self.db.conn.batch_execute(C::SETTLE)?;
        Ok(())
    }

    fn report(&self, line: Line) {
        println!("{}", line.row(self.backend));
        if let Some(note) = line.faults_note() {
            self.note(note);
        }
    }

    fn note(&self, note: impl std::fmt::Display) {
        println!("|          | {note}");
    }
}

/// What every backend's bench shares: the secret, the hashes made once, sizes and rounds.
pub struct Shared {
    pub secret: [u8; 32],
    pub argon2: Argon2<'static>,
    pub password_hash: String,
    pub dummy_hash: String,
    pub sizes: Sizes,
    pub rounds: usize,
}

/// The hand-written side's email normalisation, as a careful engineer writes it: trim,
/// lowercase, and refuse what cannot be an address.
pub fn normalize_email_by_hand(email: &str) -> Option<String> {
    let email = email.trim();
    let (local, domain) = email.split_once('@')?;
    let well_formed = !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    well_formed.then(|| email.to_lowercase())
}
