//! What the manager needs from storage, per connection type.
//!
//! The traits are implemented on the *model* for each connection type `C` of an enabled
//! backend (`impl UserStore<SqliteConnection> for User`), by code that `#[user_model]` writes.
//! That keeps the orphan rule happy and keeps Diesel trait bounds out of application code: the
//! manager asks for `U: UserStore<C>` and nothing else.

use crate::{RoleModel, UserListing, UserModel, UsersError};

/// Declares store methods once for both flavours of store trait: `sync` methods return
/// `Result<T, UsersError>`, `async` ones a `Send` future of it. [`user_store_methods!`] and
/// [`role_store_methods!`] list the methods; each trait adds only its `transaction`, whose
/// signatures differ.
macro_rules! store_methods {
    (sync: $($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty;)*) => {
        $($(#[$doc])* fn $name($($arg: $ty),*) -> Result<$ret, UsersError>;)*
    };
    (async: $($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty;)*) => {
        $(
            $(#[$doc])*
            fn $name($($arg: $ty),*)
                -> impl std::future::Future<Output = Result<$ret, UsersError>> + Send;
        )*
    };
}

/// The methods of [`UserStore`] and [`AsyncUserStore`](crate::AsyncUserStore), in one list.
macro_rules! user_store_methods {
    ($flavor:ident) => {
        store_methods! { $flavor:
            /// Inserts a new user and returns the stored row (timestamps set by the store).
            fn insert(conn: &mut C, user: &Self) -> Self;

            /// Loads the user with this id.
            fn find(conn: &mut C, id: Self::Id) -> Option<Self>;

            /// Loads the user with this id and locks its row until the transaction ends, so
            /// that a read-decide-write sequence (a password reset, an email change) cannot
            /// interleave with another one on the same user. Call it inside the store's
            /// `transaction`.
            fn find_for_update(conn: &mut C, id: Self::Id) -> Option<Self>;

            /// Loads the user with this normalised email address.
            fn find_by_email(conn: &mut C, email: &str) -> Option<Self>;

            /// Writes every field of `user` to its row and returns the stored row;
            /// [`UsersError::UserNotFound`] if the row does not exist.
            fn update(conn: &mut C, user: &Self) -> Self;

            /// Deletes the user with this id; `false` if there was none.
            fn delete(conn: &mut C, id: Self::Id) -> bool;

            /// The users that `listing` selects, by id, at most `listing.limit`.
            fn list(conn: &mut C, listing: &UserListing) -> Vec<Self>;
        }
    };
}

/// The methods of [`RoleStore`] and [`AsyncRoleStore`](crate::AsyncRoleStore), in one list.
macro_rules! role_store_methods {
    ($flavor:ident) => {
        store_methods! { $flavor:
            /// Inserts a new role and returns it.
            fn insert(conn: &mut C, role: &Self) -> Self;

            /// Loads the role with this id.
            fn find(conn: &mut C, id: Self::Id) -> Option<Self>;

            /// Loads the role with this name.
            fn find_by_name(conn: &mut C, name: &str) -> Option<Self>;

            /// Writes every field of `role` to its row; [`UsersError::RoleNotFound`] if there
            /// is none.
            fn update(conn: &mut C, role: &Self) -> Self;

            /// Deletes the role with this id, and its assignments; `false` if there was none.
            fn delete(conn: &mut C, id: Self::Id) -> bool;

            /// Gives the user the role; doing it again changes nothing.
            fn assign(conn: &mut C, user: <Self::User as UserModel>::Id, role: Self::Id) -> ();

            /// Takes the role from the user; `false` if the user did not have it.
            fn revoke(conn: &mut C, user: <Self::User as UserModel>::Id, role: Self::Id) -> bool;

            /// Whether the user has at least one of the roles with these names.
            fn has_any_role(
                conn: &mut C,
                user: <Self::User as UserModel>::Id,
                names: &[&str],
            ) -> bool;

            /// How many of the roles with these (distinct) names the user has.
            fn count_roles_named(
                conn: &mut C,
                user: <Self::User as UserModel>::Id,
                names: &[&str],
            ) -> usize;

            /// The user's roles, by name.
            fn roles_of(conn: &mut C, user: <Self::User as UserModel>::Id) -> Vec<Self>;

            /// The roles of each of `users`, in the same order, in one query.
            fn roles_of_users(conn: &mut C, users: &[Self::User]) -> Vec<Vec<Self>>;

            /// The users who have the role with this name, oldest first.
            fn users_with_role(conn: &mut C, name: &str) -> Vec<Self::User>;

            /// Every role, by name.
            fn all(conn: &mut C) -> Vec<Self>;
        }
    };
}

/// Storage of one user model over connections of type `C`.
///
/// Emails passed in are already normalised; the store compares them with plain `=` on the
/// unique index. Implementations map a unique violation on the email column to
/// [`UsersError::EmailTaken`] and every other database failure to [`UsersError::Database`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no user store for connections of type `{C}`",
    label = "not a connection of an enabled backend",
    note = "pass `&mut` a SqliteConnection, PgConnection or MysqlConnection whose backend feature \
            of users-diesel is enabled; for a pooled connection write `&mut *conn`"
)]
pub trait UserStore<C>: UserModel {
    user_store_methods!(sync);

    /// Runs `f` in a database transaction: committed if it returns `Ok`, rolled back otherwise.
    /// Inside a transaction already, it is a savepoint.
    fn transaction<T, F>(conn: &mut C, f: F) -> Result<T, UsersError>
    where
        F: FnOnce(&mut C) -> Result<T, UsersError>;
}

/// Storage of one role model, and of its join table with the user model, over connections of
/// type `C`. Written by `#[role_model]`.
///
/// Each query is one statement: `has_any_role` and `count_roles_named` use the join
/// table's primary key and the unique index on the role name; `roles_of_users` loads the roles of
/// many users in one query. Implementations map a unique violation on the role name to
/// [`UsersError::RoleExists`], and a missing user or role behind a join row to
/// [`UsersError::UserNotFound`] or [`UsersError::RoleNotFound`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no role store for connections of type `{C}`",
    label = "not a connection of an enabled backend",
    note = "pass `&mut` a SqliteConnection, PgConnection or MysqlConnection whose backend feature \
            of users-diesel is enabled; for a pooled connection write `&mut *conn`",
    note = "`Users<U, R>` needs `R` to be a `#[role_model]` whose `user = …` is `U`"
)]
pub trait RoleStore<C>: RoleModel {
    /// The user model the roles are assigned to.
    type User: UserModel;

    role_store_methods!(sync);
}
