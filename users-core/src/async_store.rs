//! What [`AsyncUsers`](crate::AsyncUsers) needs from storage, per async connection type: the
//! same operations as [`UserStore`](crate::UserStore) and [`RoleStore`](crate::RoleStore),
//! method for method, returning futures.
//!
//! Every future is `Send`, so a web handler that awaits one stays `Send` too. Like the sync
//! traits, these are implemented on the *model* for each connection type, by the code that
//! `#[user_model]` and `#[role_model]` write when users-diesel's `async` feature is on.

use std::future::Future;
use std::pin::Pin;

use scoped_futures::ScopedBoxFuture;

use crate::{RoleModel, UserListing, UserModel, UsersError};

/// The future of [`AsyncUserStore::transaction`]. It is boxed, as diesel-async's own
/// transactions are: the type of an unboxed one would name the closure, whose higher-ranked
/// signature keeps the compiler from proving the futures that await it `Send`
/// (rust-lang/rust#64552), so they could not be spawned or awaited in a web handler.
pub type TransactionFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, UsersError>> + Send + 'a>>;

/// Storage of one user model over async connections of type `C`: the async twin of
/// [`UserStore`](crate::UserStore), with the same contract for each method.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no async user store for connections of type `{C}`",
    label = "not an async connection of an enabled backend",
    note = "pass `&mut` an AsyncPgConnection, AsyncMysqlConnection or AsyncSqliteConnection \
            (users_diesel::asynchronous) of an enabled backend, with users-diesel's `async` \
            feature on; for a pooled connection write `&mut *conn`"
)]
pub trait AsyncUserStore<C: Send>: UserModel {
    /// Inserts a new user and returns the stored row (timestamps set by the store).
    fn insert(conn: &mut C, user: &Self) -> impl Future<Output = Result<Self, UsersError>> + Send;

    /// Loads the user with this id.
    fn find(
        conn: &mut C,
        id: Self::Id,
    ) -> impl Future<Output = Result<Option<Self>, UsersError>> + Send;

    /// Loads the user with this id and locks its row until the transaction ends; call it inside
    /// [`AsyncUserStore::transaction`].
    fn find_for_update(
        conn: &mut C,
        id: Self::Id,
    ) -> impl Future<Output = Result<Option<Self>, UsersError>> + Send;

    /// Loads the user with this normalised email address.
    fn find_by_email(
        conn: &mut C,
        email: &str,
    ) -> impl Future<Output = Result<Option<Self>, UsersError>> + Send;

    /// Writes every field of `user` to its row and returns the stored row;
    /// [`UsersError::UserNotFound`] if the row does not exist.
    fn update(conn: &mut C, user: &Self) -> impl Future<Output = Result<Self, UsersError>> + Send;

    /// Deletes the user with this id; `false` if there was none.
    fn delete(conn: &mut C, id: Self::Id) -> impl Future<Output = Result<bool, UsersError>> + Send;

    /// The users that `listing` selects, by id, at most `listing.limit`. A store that cannot
    /// list keeps this default, which refuses.
    fn list(
        conn: &mut C,
        listing: &UserListing,
    ) -> impl Future<Output = Result<Vec<Self>, UsersError>> + Send {
        let _ = (conn, listing);
        async {
            Err(UsersError::Config(
                "this user store cannot list users".into(),
            ))
        }
    }

    /// Runs the future that `f` makes in a database transaction: committed if it resolves to
    /// `Ok`, rolled back otherwise. Inside a transaction already, it is a savepoint.
    ///
    /// `f` borrows the connection for the transaction's duration and returns its future boxed
    /// with [`ScopedFutureExt::scope_boxed`](scoped_futures::ScopedFutureExt::scope_boxed), as
    /// diesel-async's `AsyncConnection::transaction` takes it; the
    /// [`AsyncUsers`](crate::AsyncUsers) example has a toy store that implements it.
    ///
    /// Dropping the returned future before it finishes can leave the transaction open on the
    /// connection (a diesel-async limitation); pools discard such connections.
    fn transaction<'a, T, F>(conn: &'a mut C, f: F) -> TransactionFuture<'a, T>
    where
        F: for<'r> FnOnce(&'r mut C) -> ScopedBoxFuture<'a, 'r, Result<T, UsersError>> + Send + 'a,
        T: Send + 'a;
}

/// Storage of one role model, and of its join table with the user model, over async
/// connections of type `C`: the async twin of [`RoleStore`](crate::RoleStore), with the same
/// contract for each method. Written by `#[role_model]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no async role store for connections of type `{C}`",
    label = "not an async connection of an enabled backend",
    note = "pass `&mut` an AsyncPgConnection, AsyncMysqlConnection or AsyncSqliteConnection \
            (users_diesel::asynchronous) of an enabled backend, with users-diesel's `async` \
            feature on; for a pooled connection write `&mut *conn`",
    note = "`AsyncUsers<U, R>` needs `R` to be a `#[role_model]` whose `user = …` is `U`"
)]
pub trait AsyncRoleStore<C: Send>: RoleModel {
    /// The user model the roles are assigned to.
    type User: UserModel;

    /// Inserts a new role and returns it.
    fn insert(conn: &mut C, role: &Self) -> impl Future<Output = Result<Self, UsersError>> + Send;

    /// Loads the role with this id.
    fn find(
        conn: &mut C,
        id: Self::Id,
    ) -> impl Future<Output = Result<Option<Self>, UsersError>> + Send;

    /// Loads the role with this name.
    fn find_by_name(
        conn: &mut C,
        name: &str,
    ) -> impl Future<Output = Result<Option<Self>, UsersError>> + Send;

    /// Writes every field of `role` to its row; [`UsersError::RoleNotFound`] if there is none.
    fn update(conn: &mut C, role: &Self) -> impl Future<Output = Result<Self, UsersError>> + Send;

    /// Deletes the role with this id, and its assignments; `false` if there was none.
    fn delete(conn: &mut C, id: Self::Id) -> impl Future<Output = Result<bool, UsersError>> + Send;

    /// Gives the user the role; doing it again changes nothing.
    fn assign(
        conn: &mut C,
        user: <Self::User as UserModel>::Id,
        role: Self::Id,
    ) -> impl Future<Output = Result<(), UsersError>> + Send;

    /// Takes the role from the user; `false` if the user did not have it.
    fn revoke(
        conn: &mut C,
        user: <Self::User as UserModel>::Id,
        role: Self::Id,
    ) -> impl Future<Output = Result<bool, UsersError>> + Send;

    /// Whether the user has at least one of the roles with these names.
    fn has_any_role(
        conn: &mut C,
        user: <Self::User as UserModel>::Id,
        names: &[&str],
    ) -> impl Future<Output = Result<bool, UsersError>> + Send;

    /// How many of the roles with these (distinct) names the user has.
    fn count_roles_named(
        conn: &mut C,
        user: <Self::User as UserModel>::Id,
        names: &[&str],
    ) -> impl Future<Output = Result<usize, UsersError>> + Send;

    /// The user's roles, by name.
    fn roles_of(
        conn: &mut C,
        user: <Self::User as UserModel>::Id,
    ) -> impl Future<Output = Result<Vec<Self>, UsersError>> + Send;

    /// The roles of each of `users`, in the same order, in one query.
    fn roles_of_users(
        conn: &mut C,
        users: &[Self::User],
    ) -> impl Future<Output = Result<Vec<Vec<Self>>, UsersError>> + Send;

    /// The users who have the role with this name, oldest first.
    fn users_with_role(
        conn: &mut C,
        name: &str,
    ) -> impl Future<Output = Result<Vec<Self::User>, UsersError>> + Send;

    /// Every role, by name.
    fn all(conn: &mut C) -> impl Future<Output = Result<Vec<Self>, UsersError>> + Send;
}
