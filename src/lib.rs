//! Test support for the users workspace (not published): a fresh, private database per test on
//! every enabled backend, and [`backend_tests!`] to run one test body on each of them.
//!
//! PostgreSQL and MySQL are reached at `USERS_TEST_POSTGRES_URL` and `USERS_TEST_MYSQL_URL`,
//! defaulting to the CI services `postgres://root@127.0.0.1:5432/test` and
//! `mysql://root@127.0.0.1:3306/test`. Each test gets a schema (PostgreSQL) or database (MySQL)
//! of its own, dropped when the test ends; SQLite tests use a private temporary file.
//!
//! With the `async` feature, [`manager_tests!`] runs the manager's behaviour tests on
//! `AsyncUsers` too, over async connections to the same databases.

use std::ops::{Deref, DerefMut};

use diesel::Connection;
use users_diesel::migrations::SupportedBackend;
use users_diesel::Dialect;

#[cfg(feature = "async")]
mod async_support;
#[cfg(feature = "async")]
pub use async_support::{AsyncBackend, BlockOn, BlockingConn};

/// Test bodies as ordinary functions in an inline module, handed to [`backend_tests!`] or
/// [`manager_tests!`]: `#[test_cases(backend_tests)] mod cases { fn name(conn: _, db: _) { … } }`.
pub use users_test_macros::test_cases;

/// The software passkey of users-axum's HTTP tests (`softpasskey`): an authenticator that runs
/// the real WebAuthn ceremonies.
#[cfg(feature = "passkeys")]
pub use webauthn_authenticator_rs;

/// The migration step of model `M`'s current state, to apply or revert on its own.
pub fn step_of<M: users_diesel::schema::ModelSchema, DB: SupportedBackend>(
) -> Box<dyn diesel::migration::Migration<DB>> {
    let steps = diesel::migration::MigrationSource::<DB>::migrations(
        &users_diesel::Migrations::new().with::<M>(),
    );
    steps.expect("the model's step").remove(0)
}

/// The versions recorded in `__diesel_schema_migrations`, sorted.
pub fn applied<DB: diesel::backend::Backend>(
    conn: &mut impl diesel_migrations::MigrationHarness<DB>,
) -> Vec<String> {
    let mut versions: Vec<String> = conn
        .applied_migrations()
        .expect("the applied migrations")
        .into_iter()
        .map(|version| version.to_string())
        .collect();
    versions.sort();
    versions
}

/// Checks the live schema against model `M`, panicking with the error's description.
pub fn verify<M: users_diesel::schema::ModelSchema, C: users_diesel::IntrospectSchema>(
    conn: &mut C,
) {
    if let Err(error) = users_diesel::verify_schema::<M, _>(conn) {
        panic!("{error}");
    }
}

/// A connection to a private test database, dropped with it.
pub struct TestDb<C: Connection> {
    conn: C,
    url: String,
    /// Run on every new connection.
    setup: fn(&mut C),
    /// Drops the private schema or database, over a connection of its own.
    cleanup: Option<Box<dyn FnOnce()>>,
}

impl<C: Connection> TestDb<C> {
    /// Another connection to the same private database.
    pub fn connect(&self) -> C {
        let mut conn = C::establish(&self.url).expect("connect to the test database");
        (self.setup)(&mut conn);
        conn
    }

    /// The URL of the private database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl<C: Connection> Deref for TestDb<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.conn
    }
}

impl<C: Connection> DerefMut for TestDb<C> {
    fn deref_mut(&mut self) -> &mut C {
        &mut self.conn
    }
}

impl<C: Connection> Drop for TestDb<C> {
    fn drop(&mut self) {
        if let Some(cleanup) = self.cleanup.take() {
            cleanup();
        }
    }
}

/// The DDL dialect of a connection's backend.
pub fn dialect_of<C>(_: &C) -> Dialect
where
    C: Connection,
    C::Backend: SupportedBackend,
{
    <C::Backend as SupportedBackend>::DIALECT
}

fn unique_name() -> String {
    format!("users_test_{}", uuid::Uuid::now_v7().simple())
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
fn no_setup<C>(_: &mut C) {}

/// A private SQLite database in a temporary file, in WAL mode with a busy timeout, so that
/// several connections can use it at once as they would in an application.
#[cfg(feature = "sqlite")]
pub fn sqlite() -> TestDb<diesel::SqliteConnection> {
    let path = std::env::temp_dir().join(format!("{}.sqlite", unique_name()));
    let url = path.to_string_lossy().into_owned();
    let setup = |conn: &mut diesel::SqliteConnection| {
        users_diesel::configure_sqlite(conn).expect("configure SQLite");
    };
    let mut conn = diesel::SqliteConnection::establish(&url).expect("open SQLite");
    setup(&mut conn);
    TestDb {
        conn,
        url,
        setup,
        cleanup: Some(Box::new(move || {
            for suffix in ["", "-wal", "-shm"] {
                let mut file = path.clone().into_os_string();
                file.push(suffix);
                let _ = std::fs::remove_file(file);
            }
        })),
    }
}

/// A private schema in the PostgreSQL test database; every connection to [`TestDb::url`] has
/// it as its search path.
#[cfg(feature = "postgres")]
pub fn postgres() -> TestDb<diesel::PgConnection> {
    use diesel::connection::SimpleConnection;

    let base = std::env::var("USERS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_owned());
    let schema = unique_name();
    let mut admin = diesel::PgConnection::establish(&base)
        .unwrap_or_else(|e| panic!("PostgreSQL at {base} is not reachable: {e}"));
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .expect("create test schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
    TestDb {
        conn: diesel::PgConnection::establish(&url).expect("connect to the test schema"),
        url,
        setup: no_setup,
        cleanup: Some(Box::new(move || {
            let _ = admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
        })),
    }
}

/// A private database on the MySQL/MariaDB test server.
#[cfg(feature = "mysql")]
pub fn mysql() -> TestDb<diesel::MysqlConnection> {
    use diesel::connection::SimpleConnection;

    let base = std::env::var("USERS_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
    let database = unique_name();
    let mut admin = diesel::MysqlConnection::establish(&base)
        .unwrap_or_else(|e| panic!("MySQL at {base} is not reachable: {e}"));
    admin
        .batch_execute(&format!("CREATE DATABASE {database}"))
        .expect("create test database");
    let server = base
        .rsplit_once('/')
        .map_or(base.as_str(), |(server, _)| server);
    let url = format!("{server}/{database}");
    TestDb {
        conn: diesel::MysqlConnection::establish(&url).expect("connect to the test database"),
        url,
        setup: no_setup,
        cleanup: Some(Box::new(move || {
            let _ = admin.batch_execute(&format!("DROP DATABASE {database}"));
        })),
    }
}

/// Runs each test body once per enabled backend, as `sqlite::name`, `postgres::name` and
/// `mysql::name`, with `$conn` bound to a `&mut` connection to a private database and `$db` to
/// its [`TestDb`]. The body can open a second private database with `fresh_db()`.
///
/// The suites write the bodies as ordinary functions through [`test_cases`]:
///
/// ```ignore
/// #[test_cases(backend_tests)]
/// mod cases {
///     fn inserts_a_user(conn: _, db: _) { /* … */ }
/// }
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($(fn $name:ident($conn:ident, $db:ident) $body:block)*) => {
        $crate::backend_tests!(@backend "sqlite", sqlite, $(fn $name($conn, $db) $body)*);
        $crate::backend_tests!(@backend "postgres", postgres, $(fn $name($conn, $db) $body)*);
        $crate::backend_tests!(@backend "mysql", mysql, $(fn $name($conn, $db) $body)*);
    };
    (@backend $feature:literal, $backend:ident, $(fn $name:ident($conn:ident, $db:ident) $body:block)*) => {
        #[cfg(feature = $feature)]
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            /// Another private database on the same backend, for tests that compare two.
            #[allow(unused_imports)]
            use $crate::$backend as fresh_db;
            $(
                #[test]
                fn $name() {
                    #[allow(unused_mut, unused_variables)]
                    let mut $db = $crate::$backend();
                    #[allow(unused_variables)]
                    let $conn = &mut *$db;
                    $body
                }
            )*
        }
    };
}

/// Runs each manager test body with the sync manager and with the async one, on every enabled
/// backend: as `sqlite::name` (`Users` over a `SqliteConnection`) and `sqlite_async::name`
/// (`AsyncUsers` over an `AsyncSqliteConnection`, through [`BlockOn`]), and likewise for
/// `postgres` and `mysql`.
///
/// In a body, `$conn` is the manager's connection, `$db` a `&mut` sync connection to the same
/// private database for migrations and plain Diesel, and `drive(users)` turns a `Users` into
/// the manager under test (itself, or a [`BlockOn`]).
///
/// The suites write the bodies as ordinary functions through [`test_cases`]:
///
/// ```ignore
/// #[test_cases(manager_tests)]
/// mod cases {
///     fn registers(conn: _, db: _) {
///         migrate(db);
///         let users = drive(manager());
///         users.register(conn, "alice@example.com", "a long password").unwrap();
///     }
/// }
/// ```
#[macro_export]
macro_rules! manager_tests {
    ($(fn $name:ident($conn:ident, $db:ident) $body:block)*) => {
        $crate::manager_tests!(@backend "sqlite", sqlite, sqlite_async, $(fn $name($conn, $db) $body)*);
        $crate::manager_tests!(@backend "postgres", postgres, postgres_async, $(fn $name($conn, $db) $body)*);
        $crate::manager_tests!(@backend "mysql", mysql, mysql_async, $(fn $name($conn, $db) $body)*);
    };
    (@backend $feature:literal, $backend:ident, $async_backend:ident, $(fn $name:ident($conn:ident, $db:ident) $body:block)*) => {
        #[cfg(feature = $feature)]
        mod $backend {
            #[allow(unused_imports)]
            use super::*;

            /// The sync manager is tested as it is.
            #[allow(dead_code)]
            fn drive<U: UserModel, R: RoleModel>(users: Users<U, R>) -> Users<U, R> {
                users
            }

            $(
                #[test]
                fn $name() {
                    let mut test_db = $crate::$backend();
                    let mut manager_conn = test_db.connect();
                    #[allow(unused_variables)]
                    let $conn = &mut manager_conn;
                    #[allow(unused_variables)]
                    let $db = &mut *test_db;
                    $body
                }
            )*
        }

        #[cfg(all(feature = $feature, feature = "async"))]
        mod $async_backend {
            #[allow(unused_imports)]
            use super::*;

            /// The async manager is tested through the sync signatures of `BlockOn`.
            #[allow(dead_code)]
            fn drive<U: UserModel, R: RoleModel>(users: Users<U, R>) -> $crate::BlockOn<U, R> {
                users.into()
            }

            $(
                #[test]
                fn $name() {
                    let mut test_db = $crate::$backend();
                    let mut manager_conn = test_db.connect_blocking();
                    #[allow(unused_variables)]
                    let $conn = &mut manager_conn;
                    #[allow(unused_variables)]
                    let $db = &mut *test_db;
                    $body
                }
            )*
        }
    };
}

/// `alice@example.com` with the letters' case chosen by the bits of `i`: the racing
/// registrations of the concurrency tests, all the same address once normalised.
pub fn case_variant(i: usize) -> String {
    "alice@example.com"
        .chars()
        .enumerate()
        .map(|(n, c)| {
            if i >> (n % 6) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

/// Counting the rows of a table by name, on any enabled backend.
pub trait CountRows {
    /// `SELECT COUNT(*) FROM <table>`.
    fn count_rows(&mut self, table: &str) -> i64;
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}

macro_rules! count_rows_on {
    ($($feature:literal => $connection:ty),*) => {$(
        #[cfg(feature = $feature)]
        impl CountRows for $connection {
            fn count_rows(&mut self, table: &str) -> i64 {
                use diesel::RunQueryDsl;
                diesel::sql_query(format!("SELECT COUNT(*) AS count FROM {table}"))
                    .get_result::<Count>(self)
                    .expect("count rows")
                    .count
            }
        }
    )*};
}

count_rows_on!(
    "sqlite" => diesel::SqliteConnection,
    "postgres" => diesel::PgConnection,
    "mysql" => diesel::MysqlConnection
);

/// The DDL as the database itself describes it, in a stable order, with the private schema's
/// name taken out so two databases compare equal.
pub trait DescribeSchema {
    /// Tables, columns, constraints and indexes, one line each, in a stable order.
    fn describe(&mut self) -> Vec<String>;
}

#[derive(diesel::QueryableByName)]
struct Line {
    #[diesel(sql_type = diesel::sql_types::Text)]
    line: String,
}

fn lines<C>(conn: &mut C, sql: &str) -> Vec<String>
where
    C: Connection,
    diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'static, C, Line>,
{
    use diesel::RunQueryDsl;
    diesel::sql_query(sql)
        .load::<Line>(conn)
        .expect("describe the schema")
        .into_iter()
        .map(|l| l.line)
        .collect()
}

#[cfg(feature = "sqlite")]
impl DescribeSchema for diesel::SqliteConnection {
    fn describe(&mut self) -> Vec<String> {
        // Tables, indexes and the foreign-key triggers, exactly as they were created.
        lines(
            self,
            "SELECT type || ' ' || name || ': ' || coalesce(sql, '') AS line FROM sqlite_master \
             WHERE name NOT LIKE '\\_\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite_%' ORDER BY type, name",
        )
    }
}

#[cfg(feature = "postgres")]
impl DescribeSchema for diesel::PgConnection {
    fn describe(&mut self) -> Vec<String> {
        let mut described = lines(
            self,
            "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable \
                 || ' ' || coalesce(column_default, '') || ' ' \
                 || coalesce(character_maximum_length::text, '') AS line \
             FROM information_schema.columns WHERE table_schema = current_schema() \
                 AND table_name NOT LIKE '\\_\\_%' \
             ORDER BY table_name, ordinal_position",
        );
        described.extend(lines(
            self,
            "SELECT conrelid::regclass::text || ' ' || conname || ' ' \
                 || pg_get_constraintdef(oid) AS line \
             FROM pg_constraint WHERE connamespace = current_schema()::regnamespace \
                 AND conrelid::regclass::text NOT LIKE '\\_\\_%' \
             ORDER BY conrelid::regclass::text, conname",
        ));
        described.extend(lines(
            self,
            "SELECT replace(indexdef, current_schema() || '.', '') AS line FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename NOT LIKE '\\_\\_%' \
             ORDER BY indexname",
        ));
        described
    }
}

#[cfg(feature = "mysql")]
impl DescribeSchema for diesel::MysqlConnection {
    fn describe(&mut self) -> Vec<String> {
        let tables = lines(
            self,
            "SELECT CAST(table_name AS CHAR) AS line FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name NOT LIKE '\\_\\_%' \
             ORDER BY table_name",
        );
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct CreateTable {
            #[diesel(sql_type = diesel::sql_types::Text, column_name = "Create Table")]
            sql: String,
        }
        tables
            .iter()
            .map(|table| {
                diesel::sql_query(format!("SHOW CREATE TABLE `{table}`"))
                    .get_result::<CreateTable>(self)
                    .expect("SHOW CREATE TABLE")
                    .sql
            })
            .collect()
    }
}

/// The README's Rust code blocks (those not marked `ignore`), compiled and run by `cargo test`.
#[cfg(all(doctest, feature = "sqlite"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
