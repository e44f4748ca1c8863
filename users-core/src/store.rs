//! What the manager needs from storage, per connection type.
//!
//! The traits are implemented on the *model* for each connection type `C` of an enabled
//! backend (`impl UserStore<SqliteConnection> for User`), by code that `#[user_model]` writes.
//! That keeps the orphan rule happy and keeps Diesel trait bounds out of application code: the
//! manager asks for `U: UserStore<C>` and nothing else.

use crate::{UserModel, UsersError};

/// Storage of one user model over connections of type `C`.
///
/// Emails passed in are already normalised; the store compares them with plain `=` on the
/// unique index. Implementations map a unique violation on the email column to
/// [`UsersError::EmailTaken`] and every other database failure to [`UsersError::Database`].
pub trait UserStore<C>: UserModel {
    /// Inserts a new user and returns the stored row (timestamps set by the store).
    fn insert(conn: &mut C, user: &Self) -> Result<Self, UsersError>;

    /// Loads the user with this id.
    fn find(conn: &mut C, id: Self::Id) -> Result<Option<Self>, UsersError>;

    /// Loads the user with this normalised email address.
    fn find_by_email(conn: &mut C, email: &str) -> Result<Option<Self>, UsersError>;

    /// Writes every field of `user` to its row and returns the stored row;
    /// [`UsersError::UserNotFound`] if the row does not exist.
    fn update(conn: &mut C, user: &Self) -> Result<Self, UsersError>;

    /// Deletes the user with this id; `false` if there was none.
    fn delete(conn: &mut C, id: Self::Id) -> Result<bool, UsersError>;

    /// Runs `f` in a database transaction: committed if it returns `Ok`, rolled back otherwise.
    fn transaction<T, F>(conn: &mut C, f: F) -> Result<T, UsersError>
    where
        F: FnOnce(&mut C) -> Result<T, UsersError>;
}
