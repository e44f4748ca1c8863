//! Runtime pieces the generated async store impls call: transactions over diesel-async
//! connections. Error mapping and the clock are shared with the sync stores.

use diesel_async::AsyncConnection;
use users_core::scoped_futures::{ScopedBoxFuture, ScopedFutureExt};
use users_core::{TransactionFuture, UsersError};

use crate::store::TransactionError;

/// Runs the future that `f` makes in a transaction (a savepoint when one is already open):
/// committed on `Ok`, rolled back on any error, whether from `f` or from the database.
pub fn async_transaction<'a, C, T, F>(conn: &'a mut C, f: F) -> TransactionFuture<'a, T>
where
    C: AsyncConnection,
    F: for<'r> FnOnce(&'r mut C) -> ScopedBoxFuture<'a, 'r, Result<T, UsersError>> + Send + 'a,
    T: Send + 'a,
{
    let transaction = conn.transaction(move |conn| {
        async move { f(conn).await.map_err(TransactionError::Users) }.scope_boxed()
    });
    Box::pin(async move {
        transaction
            .await
            .map_err(TransactionError::into_users_error)
    })
}

/// [`async_transaction`] for SQLite, where the outermost transaction begins `IMMEDIATE`, as in
/// [`sqlite_transaction`](crate::store::sqlite_transaction).
#[cfg(feature = "sqlite")]
pub fn async_sqlite_transaction<'a, T, F>(
    conn: &'a mut crate::asynchronous::AsyncSqliteConnection,
    f: F,
) -> TransactionFuture<'a, T>
where
    F: for<'r> FnOnce(
            &'r mut crate::asynchronous::AsyncSqliteConnection,
        ) -> ScopedBoxFuture<'a, 'r, Result<T, UsersError>>
        + Send
        + 'a,
    T: Send + 'a,
{
    use diesel_async::TransactionManager;

    type Manager =
        <crate::asynchronous::AsyncSqliteConnection as AsyncConnection>::TransactionManager;
    let depth = Manager::transaction_manager_status_mut(conn).transaction_depth();
    if !matches!(depth, Ok(None)) {
        return async_transaction(conn, f);
    }
    Box::pin(async move {
        conn.immediate_transaction(move |conn| {
            async move { f(conn).await.map_err(TransactionError::Users) }.scope_boxed()
        })
        .await
        .map_err(TransactionError::into_users_error)
    })
}
