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
    user_store_methods!(async);

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

    role_store_methods!(async);
}
