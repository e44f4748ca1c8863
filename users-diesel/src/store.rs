//! Runtime pieces the generated store impls call: error mapping, transactions and the clock.
//! Reached by generated code through `users_diesel::__private`.

use chrono::{NaiveDateTime, SubsecRound, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::Connection;
use users_core::UsersError;

use crate::migrations::{foreign_key_name, unique_constraint_name};

/// Maps a failed write to a user table: a unique violation on its email column is
/// [`UsersError::EmailTaken`], anything else [`UsersError::Database`].
pub fn user_write_error(error: DieselError, table: &str) -> UsersError {
    if is_unique_violation_of(&error, table, "email") {
        UsersError::EmailTaken
    } else {
        UsersError::database(error)
    }
}

/// Maps a failed write to a role table: a unique violation on its name column is
/// [`UsersError::RoleExists`], anything else [`UsersError::Database`].
pub fn role_write_error(error: DieselError, table: &str) -> UsersError {
    if is_unique_violation_of(&error, table, "name") {
        UsersError::RoleExists
    } else {
        UsersError::database(error)
    }
}

/// Maps a failed write to a join table: a row referencing a missing user or role is
/// [`UsersError::UserNotFound`] or [`UsersError::RoleNotFound`], anything else
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
    }
    UsersError::database(error)
}

/// Maps a failed read to [`UsersError::Database`].
pub fn database_error(error: DieselError) -> UsersError {
    UsersError::database(error)
}

/// Whether `error` is a unique violation of the constraint the migrations put on
/// `table.column`. Each backend reports it its own way: PostgreSQL names the constraint,
/// MySQL names the key in its message, SQLite names `table.column` in its message.
fn is_unique_violation_of(error: &DieselError, table: &str, column: &str) -> bool {
    let DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) = error else {
        return false;
    };
    let constraint = unique_constraint_name(table, column);
    info.constraint_name() == Some(constraint.as_str())
        || info.message().contains(&format!("{constraint}'"))
        || info.message().contains(&format!("{table}.{column}"))
}

/// Runs `f` in a transaction (a savepoint when one is already open): committed on `Ok`,
/// rolled back on any error, whether from `f` or from the database.
pub fn transaction<C, T, F>(conn: &mut C, f: F) -> Result<T, UsersError>
where
    C: Connection,
    F: FnOnce(&mut C) -> Result<T, UsersError>,
{
    conn.transaction(|conn| f(conn).map_err(TransactionError::Users))
        .map_err(|error| match error {
            TransactionError::Users(error) => error,
            TransactionError::Database(error) => UsersError::database(error),
        })
}

enum TransactionError {
    Users(UsersError),
    Database(DieselError),
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
