//! A private database per backend, created for the run and dropped after it: a temporary file
//! on SQLite, a schema on PostgreSQL, a database on MySQL/MariaDB.
//!
//! Both sides' tables live in it, the framework's (`users`, `roles`, `user_roles`, made by its
//! migrations) and the hand-written ones (`hand_users`, …), with the same history (the same rows
//! inserted and deleted in the same order), and both sides use one connection. One connection
//! means one server thread or process on PostgreSQL and MySQL: with a connection per side, the
//! scheduler placed the server's two threads differently on a two-core virtual machine, and
//! whichever side's thread had to be woken on the other core ran up to three times slower, for
//! stretches of a run, with no difference in the code.

#[cfg(any(feature = "postgres", feature = "mysql"))]
use diesel::connection::SimpleConnection;
use diesel::Connection;
use diesel_migrations::MigrationHarness;
use users_diesel::Migrations;

use crate::models::framework::{Role, User};
use crate::models::hand;
use crate::Result;

/// A connection to a private database, dropped with it.
pub struct Db<C> {
    /// The connection both sides of every workload use.
    pub conn: C,
    /// Drops the private schema or database.
    cleanup: Option<Box<dyn FnOnce()>>,
}

impl<C> Drop for Db<C> {
    fn drop(&mut self) {
        if let Some(cleanup) = self.cleanup.take() {
            cleanup();
        }
    }
}

impl<C: Connection> Db<C> {
    /// Deletes every row of both sides, so a write workload's next round starts from empty
    /// tables.
    pub fn clear(&mut self) -> Result<()> {
        self.clear_roles()?;
        self.conn
            .batch_execute("DELETE FROM users; DELETE FROM hand_users;")?;
        Ok(())
    }

    /// Deletes both sides' roles and role assignments.
    pub fn clear_roles(&mut self) -> Result<()> {
        self.conn.batch_execute(
            "DELETE FROM user_roles; DELETE FROM roles; \
             DELETE FROM hand_user_roles; DELETE FROM hand_roles;",
        )?;
        Ok(())
    }
}

fn unique_name() -> String {
    format!("users_bench_{}", uuid::Uuid::now_v7().simple())
}

/// Creates both sides' tables: the framework's migrations, and the hand-written DDL.
fn create_tables<C>(conn: &mut C, hand_ddl: &str) -> Result<()>
where
    C: Connection + MigrationHarness<C::Backend>,
    C::Backend: users_diesel::migrations::SupportedBackend,
{
    conn.run_pending_migrations(Migrations::new().with::<User>().with::<Role>())?;
    conn.batch_execute(hand_ddl)?;
    Ok(())
}

/// A private SQLite file set up by `configure_sqlite` (WAL mode, a busy timeout, foreign keys
/// on, a 32 MiB page cache), the set-up the README recommends.
#[cfg(feature = "sqlite")]
pub fn sqlite() -> Result<Db<diesel::SqliteConnection>> {
    let path = std::env::temp_dir().join(format!("{}.sqlite", unique_name()));
    let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())?;
    users_diesel::configure_sqlite(&mut conn)?;
    create_tables(&mut conn, &hand::ddl("BLOB", "TEXT", "TEXT", ""))?;
    Ok(Db {
        conn,
        cleanup: Some(Box::new(move || {
            for suffix in ["", "-wal", "-shm"] {
                let mut file = path.clone().into_os_string();
                file.push(suffix);
                let _ = std::fs::remove_file(file);
            }
        })),
    })
}

/// A private schema on the PostgreSQL server at `USERS_TEST_POSTGRES_URL`.
#[cfg(feature = "postgres")]
pub fn postgres() -> Result<Db<diesel::PgConnection>> {
    let base = std::env::var("USERS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_owned());
    let schema = unique_name();
    let mut admin = diesel::PgConnection::establish(&base)
        .map_err(|e| format!("PostgreSQL at {base} is not reachable: {e}"))?;
    admin.batch_execute(&format!("CREATE SCHEMA {schema}"))?;
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
    let mut db = Db {
        conn: diesel::PgConnection::establish(&url)?,
        cleanup: Some(Box::new(move || {
            let _ = admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
        })),
    };
    create_tables(&mut db.conn, &hand::ddl("UUID", "TEXT", "TEXT", ""))?;
    Ok(db)
}

/// A private database on the MySQL/MariaDB server at `USERS_TEST_MYSQL_URL`.
#[cfg(feature = "mysql")]
pub fn mysql() -> Result<Db<diesel::MysqlConnection>> {
    let base = std::env::var("USERS_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
    let database = unique_name();
    let mut admin = diesel::MysqlConnection::establish(&base)
        .map_err(|e| format!("MySQL at {base} is not reachable: {e}"))?;
    admin.batch_execute(&format!("CREATE DATABASE {database}"))?;
    let server = base
        .rsplit_once('/')
        .map_or(base.as_str(), |(server, _)| server);
    let url = format!("{server}/{database}");
    let mut db = Db {
        conn: diesel::MysqlConnection::establish(&url)?,
        cleanup: Some(Box::new(move || {
            let _ = admin.batch_execute(&format!("DROP DATABASE {database}"));
        })),
    };
    create_tables(
        &mut db.conn,
        &hand::ddl(
            "BINARY(16)",
            "VARCHAR(254)",
            "VARCHAR(255)",
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        ),
    )?;
    Ok(db)
}
