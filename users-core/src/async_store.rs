//! The future of an async store's transaction. The async store traits themselves
//! ([`AsyncUserStore`](crate::AsyncUserStore), [`AsyncRoleStore`](crate::AsyncRoleStore)) are
//! declared beside their sync twins in `store.rs`: the same operations, method for method,
//! each returning a `Send` future, so a web handler that awaits one stays `Send` too.

use std::future::Future;
use std::pin::Pin;

use crate::UsersError;

/// The future of [`AsyncUserStore::transaction`](crate::AsyncUserStore::transaction). It is boxed, as diesel-async's own
/// transactions are: the type of an unboxed one would name the closure, whose higher-ranked
/// signature keeps the compiler from proving the futures that await it `Send`
/// (rust-lang/rust#64552), so they could not be spawned or awaited in a web handler.
pub type TransactionFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, UsersError>> + Send + 'a>>;
