//! An administration CLI: create the first administrator, roles and assignments from a shell.
//!
//! ```text
//! cargo run --example admin -- create-role admin --description "full access"
//! echo 'a long password' | cargo run --example admin -- create-user root@example.com --verified --role admin
//! cargo run --example admin -- assign-role alice@example.com admin
//! cargo run --example admin -- list-users
//! cargo run --example admin -- list-events alice@example.com
//! cargo run --example admin -- prune-events --older-than-days 365
//! ```
//!
//! It works on the database of `examples/axum_app.rs` (`users-app.sqlite` in the current
//! directory) unless `--database-url` or `DATABASE_URL` names another: a SQLite path, or with
//! the `postgres` / `mysql` features a `postgres://` or `mysql://` URL. The migrations run first,
//! so a new database is ready for use. It signs with the web example's secret: `USERS_SECRET`,
//! else the file `.users-secret` next to the SQLite database (or `USERS_SECRET_FILE`), made
//! with a random secret on the first run of either.

use std::error::Error;
use std::io::BufRead;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use users_diesel::prelude::*;
use users_diesel::{EventQuery, UserQuery, MAX_PAGE_SIZE};

#[path = "shared/models.rs"]
mod models;
#[path = "shared/secret.rs"]
mod secret;

use models::{migrations, Role, User};

/// Administer the users and roles of an application's database.
#[derive(Parser)]
#[command(name = "admin")]
struct Cli {
    /// The database: a SQLite file, or a postgres:// or mysql:// URL.
    #[arg(long, env = "DATABASE_URL", default_value = "users-app.sqlite")]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Register a user. The password is read from the first line of standard input, so it never
    /// shows in the process list or the shell history.
    CreateUser {
        /// The user's email address.
        email: String,
        /// Mark the email address as verified.
        #[arg(long)]
        verified: bool,
        /// Give the user this role (created if it does not exist); may be repeated.
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Create a role.
    CreateRole {
        /// The role's unique name, e.g. `admin`.
        name: String,
        /// What the role is for.
        #[arg(long)]
        description: Option<String>,
    },
    /// Give a user a role (nothing happens if they have it already).
    AssignRole {
        /// The user's email address.
        email: String,
        /// The role's name.
        role: String,
    },
    /// Take a role from a user.
    RevokeRole {
        /// The user's email address.
        email: String,
        /// The role's name.
        role: String,
    },
    /// List users with their roles, oldest first, a page at a time (the manager's
    /// `list_users`, as `GET /users` runs it).
    ListUsers {
        /// Only the users with this role.
        #[arg(long)]
        role: Option<String>,
        /// Only the users whose email address starts with this.
        #[arg(long)]
        email: Option<String>,
        /// Only active (`true`) or deactivated (`false`) users.
        #[arg(long)]
        active: Option<bool>,
        /// Only verified (`true`) or unverified (`false`) users.
        #[arg(long)]
        verified: Option<bool>,
    },
    /// List a user's security events, newest first (the manager's `events`, as
    /// `GET /users/{user_id}/events` runs it).
    ListEvents {
        /// The user's email address.
        email: String,
        /// At most this many events.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Delete the security events older than a retention period.
    PruneEvents {
        /// Keep the events of the last this many days.
        #[arg(long)]
        older_than_days: u64,
    },
}

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    // The CLI only hashes passwords; the secret signs tokens, which the web application issues.
    // The same secret as the web application's: USERS_SECRET, else the file they share.
    let url = cli.database_url.as_str();
    let secret = zeroize::Zeroizing::new(secret::load_secret(url)?);
    // The CLI's own changes are recorded too, as the web application's are.
    let users = Users::<User, Role>::new(UsersConfig::new(&*secret)?).record_events();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return Admin {
            conn: &mut PgConnection::establish(url)?,
            users: &users,
        }
        .run(cli.command);
        #[cfg(not(feature = "postgres"))]
        return Err("PostgreSQL needs `--features postgres`".into());
    }
    if url.starts_with("mysql://") {
        #[cfg(feature = "mysql")]
        return Admin {
            conn: &mut MysqlConnection::establish(url)?,
            users: &users,
        }
        .run(cli.command);
        #[cfg(not(feature = "mysql"))]
        return Err("MySQL needs `--features mysql`".into());
    }
    #[cfg(feature = "sqlite")]
    return Admin {
        conn: &mut SqliteConnection::establish(url)?,
        users: &users,
    }
    .run(cli.command);
    #[cfg(not(feature = "sqlite"))]
    return Err("SQLite needs `--features sqlite`".into());
}

/// The commands on a connection of any backend (the stores of the users, roles and events are
/// implemented for each backend's connection).
struct Admin<'a, C> {
    conn: &'a mut C,
    users: &'a Users<User, Role>,
}

impl<C> Admin<'_, C>
where
    C: Connection + MigrationHarness<C::Backend>,
    User: UserStore<C>,
    Role: RoleStore<C, User = User>,
    users_diesel::Events<User>: users_diesel::EventStore<C>,
    users_diesel::Migrations: diesel::migration::MigrationSource<C::Backend>,
{
    /// Brings the database up to date and runs one command on it.
    fn run(mut self, command: Command) -> Result<()> {
        self.conn.run_pending_migrations(migrations())?;
        let (conn, users) = (&mut *self.conn, self.users);
        match command {
            Command::CreateUser {
                email,
                verified,
                roles,
            } => {
                let password = read_password()?;
                let user = self.create_user(&email, &password, verified, &roles)?;
                println!("created {} ({})", user.email, user.id);
            }
            Command::CreateRole { name, description } => {
                let role = users.create_role(conn, &name, description.as_deref())?;
                println!("created role {} ({})", role.name, role.id);
            }
            Command::AssignRole { email, role } => {
                let user = user_by_email(users, conn, &email)?;
                let found = users.role(conn, &role)?;
                users.assign_role(conn, &user, &found)?;
                println!("{} has role {role}", user.email);
            }
            Command::RevokeRole { email, role } => {
                let user = user_by_email(users, conn, &email)?;
                let found = users.role(conn, &role)?;
                users.revoke_role(conn, &user, &found)?;
                println!("{} no longer has role {role}", user.email);
            }
            Command::ListUsers {
                role,
                email,
                active,
                verified,
            } => self.list_users(UserQuery {
                role,
                email_prefix: email,
                is_active: active,
                is_verified: verified,
                limit: MAX_PAGE_SIZE,
                ..UserQuery::default()
            })?,
            Command::ListEvents { email, limit } => self.list_events(&email, limit)?,
            Command::PruneEvents { older_than_days } => {
                let age = std::time::Duration::from_secs(older_than_days * 24 * 60 * 60);
                let before = std::time::SystemTime::now() - age;
                println!("deleted {}", users.delete_events_before(conn, before)?);
            }
        }
        Ok(())
    }

    /// Registers a user with the roles named (creating those that do not exist), all or
    /// nothing: a failed role leaves no user behind.
    fn create_user(
        &mut self,
        email: &str,
        password: &str,
        verified: bool,
        roles: &[String],
    ) -> Result<User> {
        let users = self.users;
        self.conn.transaction(|conn| {
            let mut user = users.register(conn, email, password)?;
            if verified {
                user.is_verified = true;
                user = users.update(conn, &user)?;
            }
            for name in roles {
                let role = match users.find_role(conn, name)? {
                    Some(role) => role,
                    None => users.create_role(conn, name, None)?,
                };
                users.assign_role(conn, &user, &role)?;
            }
            Ok(user)
        })
    }

    /// Prints the users `query` selects with their roles, a page at a time.
    fn list_users(&mut self, mut query: UserQuery) -> Result<()> {
        loop {
            let page = self.users.list_users(self.conn, &query)?;
            for (user, roles) in page.users {
                let roles: Vec<String> = roles.into_iter().map(|r| r.name).collect();
                println!(
                    "{}\t{}\tactive={}\tverified={}\troles={}",
                    user.id,
                    user.email,
                    user.is_active,
                    user.is_verified,
                    roles.join(",")
                );
            }
            match page.next {
                Some(next) => query.after = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Prints the newest `limit` security events of the user with `email`.
    fn list_events(&mut self, email: &str, limit: usize) -> Result<()> {
        let user = user_by_email(self.users, self.conn, email)?;
        let query = EventQuery {
            user_id: Some(user.id.into()),
            limit,
            ..EventQuery::default()
        };
        for event in self.users.events(self.conn, &query)? {
            let at: chrono::DateTime<chrono::Utc> = event.at.into();
            println!(
                "{}\t{}\tclient={}\tdetail={}\tcount={}",
                at.to_rfc3339(),
                event.kind,
                event.client.as_deref().unwrap_or("-"),
                event.detail.as_deref().unwrap_or("-"),
                event.count
            );
        }
        Ok(())
    }
}

fn user_by_email<C>(users: &Users<User, Role>, conn: &mut C, email: &str) -> Result<User>
where
    User: UserStore<C>,
{
    users
        .find_by_email(conn, email)?
        .ok_or_else(|| format!("no user with email {email}").into())
}

fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(
            "give the password on standard input, e.g. `echo '…' | admin create-user …`".into(),
        );
    }
    Ok(password.to_owned())
}
