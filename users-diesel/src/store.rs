//! Runtime pieces the generated store impls call: error mapping, transactions and the clock.
//! Reached by generated code through `users_diesel::__private`.

use chrono::{NaiveDateTime, SubsecRound, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::Connection;
use users_core::UsersError;

use crate::migrations::{foreign_key_name, unique_constraint_name};
use crate::schema::{ModelSchema, Table};

/// Maps a failed write to the table of user model `M`: a unique violation on its email column is
/// [`UsersError::EmailTaken`], one on another unique column [`UsersError::Conflict`], anything
/// else [`UsersError::Database`].
pub fn user_write_error<M: ModelSchema>(error: DieselError) -> UsersError {
    write_error(error, &M::TABLES[0], "email", UsersError::EmailTaken)
}

/// Maps a failed write to the table of role model `M`: a unique violation on its name column is
/// [`UsersError::RoleExists`], one on another unique column [`UsersError::Conflict`], anything
/// else [`UsersError::Database`].
pub fn role_write_error<M: ModelSchema>(error: DieselError) -> UsersError {
    write_error(error, &M::TABLES[0], "name", UsersError::RoleExists)
}

/// Maps a failed write to the table of organization model `M`: a unique violation on its slug
/// column is [`UsersError::OrgExists`], one on another unique column [`UsersError::Conflict`],
/// anything else [`UsersError::Database`].
pub fn org_write_error<M: ModelSchema>(error: DieselError) -> UsersError {
    write_error(error, &M::TABLES[0], "slug", UsersError::OrgExists)
}

fn write_error(error: DieselError, table: &Table, key: &str, taken: UsersError) -> UsersError {
    let violated = table
        .columns
        .iter()
        .filter(|column| column.unique)
        .find(|column| is_unique_violation_of(&error, table.name, column.name));
    match violated {
        Some(column) if column.name == key => taken,
        Some(column) => UsersError::Conflict {
            column: column.name,
        },
        None => UsersError::database(error),
    }
}

/// Maps a failed write to a join table: a row referencing a missing user, role or organization
/// is [`UsersError::UserNotFound`], [`UsersError::RoleNotFound`] or [`UsersError::OrgNotFound`],
/// anything else
/// [`UsersError::Database`]. Every backend names the violated constraint (SQLite through the
/// framework's own triggers).
pub fn join_write_error(error: DieselError, join_table: &str) -> UsersError {
    if let DieselError::DatabaseError(_, info) = &error {
        let names = |column: &str| {
            let constraint = foreign_key_name(join_table, column);
            info.constraint_name() == Some(constraint.as_str())
                || info.message().contains(&constraint)
        };
        if names("user_id") {
            return UsersError::UserNotFound;
        }
        if names("role_id") {
            return UsersError::RoleNotFound;
        }
        if names("org_id") {
            return UsersError::OrgNotFound;
        }
    }
    UsersError::database(error)
}

/// The most ids one generated statement binds: lists longer than this are read in chunks of
/// it. SQLite refuses a statement with more than 32,766 values; PostgreSQL and MySQL take 65,535.
pub const MAX_BOUND_IDS: usize = 10_000;

/// Maps a failed read to [`UsersError::Database`].
pub fn database_error(error: DieselError) -> UsersError {
    UsersError::database(error)
}

/// Whether `error` is a unique violation of the constraint the migrations put on
/// `table.column`, read from where each backend names it, never from a substring of the
/// message (whose quoted value the client chose):
///
/// - PostgreSQL names the constraint (`constraint_name`);
/// - MySQL and MariaDB end their message with the key: `Duplicate entry '…' for key 'name'`
///   (MySQL 8 writes `'table.name'`);
/// - SQLite lists the columns after its fixed prefix:
///   `UNIQUE constraint failed: table.column[, table.column…]`, and quotes no value.
fn is_unique_violation_of(error: &DieselError, table: &str, column: &str) -> bool {
    let DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) = error else {
        return false;
    };
    let constraint = unique_constraint_name(table, column);
    if let Some(name) = info.constraint_name() {
        return name == constraint;
    }
    let message = info.message();
    if let Some(key) = mysql_duplicate_key(message) {
        return key == constraint
            || key.strip_prefix(table).and_then(|k| k.strip_prefix('.'))
                == Some(constraint.as_str());
    }
    if let Some(columns) = message.strip_prefix("UNIQUE constraint failed: ") {
        let qualified = format!("{table}.{column}");
        return columns.split(", ").any(|c| c == qualified);
    }
    false
}

/// The key named at the end of a MySQL or MariaDB duplicate-entry message:
/// `Duplicate entry '<value>' for key '<key>'`. The value comes first and may hold anything,
/// so the key is what follows the *last* ` for key '`, up to the closing quote that ends the
/// message.
fn mysql_duplicate_key(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("Duplicate entry '")?;
    let (_, key) = rest.strip_suffix('\'')?.rsplit_once("' for key '")?;
    (!key.contains('\'')).then_some(key)
}

/// Runs `f` in a transaction (a savepoint when one is already open): committed on `Ok`,
/// rolled back on any error, whether from `f` or from the database.
pub fn transaction<C, T, F>(conn: &mut C, f: F) -> Result<T, UsersError>
where
    C: Connection,
    F: FnOnce(&mut C) -> Result<T, UsersError>,
{
    conn.transaction(|conn| f(conn).map_err(TransactionError::Users))
        .map_err(TransactionError::into_users_error)
}

/// [`transaction`] for SQLite, where the outermost transaction begins `IMMEDIATE`: it takes the
/// write lock up front (waiting up to the busy timeout), so a read-decide-write sequence sees the
/// latest committed rows and never fails half-way on a lock upgrade.
#[cfg(feature = "sqlite")]
pub fn sqlite_transaction<T, F>(conn: &mut diesel::SqliteConnection, f: F) -> Result<T, UsersError>
where
    F: FnOnce(&mut diesel::SqliteConnection) -> Result<T, UsersError>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};

    let depth = AnsiTransactionManager::transaction_manager_status_mut(conn).transaction_depth();
    if !matches!(depth, Ok(None)) {
        return transaction(conn, f);
    }
    conn.immediate_transaction(|conn| f(conn).map_err(TransactionError::Users))
        .map_err(TransactionError::into_users_error)
}

/// A transaction's error: the operation's own, or the database's while beginning, committing
/// or rolling back.
pub(crate) enum TransactionError {
    Users(UsersError),
    Database(DieselError),
}

impl TransactionError {
    pub(crate) fn into_users_error(self) -> UsersError {
        match self {
            TransactionError::Users(error) => error,
            TransactionError::Database(error) => UsersError::database(error),
        }
    }
}

impl From<DieselError> for TransactionError {
    fn from(error: DieselError) -> Self {
        TransactionError::Database(error)
    }
}

/// The current UTC time at the microsecond precision every backend stores, so a value read
/// back equals the value written. Timestamps are `NaiveDateTime` in UTC because Diesel has no
/// time-zone-aware type that all three backends share.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// Prepares a SQLite connection for concurrent use: waits up to five seconds for a lock instead
/// of failing at once, uses write-ahead logging (readers never block the writer), enforces
/// foreign keys, and lets the page cache grow to 32 MiB (SQLite's default is 2 MiB: a users table
/// of a few thousand rows outgrows it, and every lookup then evicts and re-reads pages through
/// the allocator). Call it once per connection, e.g. from an r2d2 `CustomizeConnection`.
///
/// The framework's own guarantees do not depend on it: its write transactions begin
/// `IMMEDIATE`, and its migrations enforce the join table's foreign keys with triggers.
#[cfg(feature = "sqlite")]
pub fn configure_sqlite(conn: &mut diesel::SqliteConnection) -> diesel::QueryResult<()> {
    use diesel::connection::SimpleConnection;

    conn.batch_execute(
        "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
         PRAGMA cache_size = -32768;",
    )
}

#[cfg(test)]
mod tests {
    use diesel::result::DatabaseErrorInformation;

    use super::*;

    /// A driver's answer: its message and, as PostgreSQL gives it, the constraint's name.
    struct Answer(&'static str, Option<&'static str>);

    impl DatabaseErrorInformation for Answer {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            self.1
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn violates(answer: Answer, column: &str) -> bool {
        let error =
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, Box::new(answer));
        is_unique_violation_of(&error, "users", column)
    }

    #[test]
    fn the_violated_constraint_is_read_where_each_backend_names_it() {
        let postgres = || {
            Answer(
                "duplicate key value violates unique constraint \"users_email_key\"",
                Some("users_email_backup_key"),
            )
        };
        assert!(violates(postgres(), "email_backup"));
        assert!(!violates(postgres(), "email"));
        for mysql in [
            "Duplicate entry 'a@b' for key 'users_email_backup_key'",
            "Duplicate entry 'a@b' for key 'users.users_email_backup_key'",
            // A value that quotes another key is still the value.
            "Duplicate entry 'x' for key 'users_email_key' for key 'users_email_backup_key'",
            "Duplicate entry 'x' for key 'users.users_email_key'' for key 'users_email_backup_key'",
        ] {
            assert!(violates(Answer(mysql, None), "email_backup"), "{mysql}");
            assert!(!violates(Answer(mysql, None), "email"), "{mysql}");
        }
        assert!(violates(
            Answer("Duplicate entry 'x' for key 'users_email_key'", None),
            "email"
        ));
        let sqlite = || Answer("UNIQUE constraint failed: users.email_backup", None);
        assert!(violates(sqlite(), "email_backup"));
        assert!(!violates(sqlite(), "email"));
        assert!(violates(
            Answer("UNIQUE constraint failed: users.a, users.email", None),
            "email"
        ));
        assert!(!violates(
            Answer(
                "users.email UNIQUE constraint failed: users.email_backup",
                None
            ),
            "email"
        ));
    }
}
