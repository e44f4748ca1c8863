//! Where the operations that run argon2 take their database connections from.
//!
//! Each of them ([`register_over`](crate::Users::register_over),
//! [`authenticate_over`](crate::Users::authenticate_over),
//! [`change_password_over`](crate::Users::change_password_over),
//! [`set_password_over`](crate::Users::set_password_over),
//! [`reset_password_over`](crate::Users::reset_password_over),
//! [`request_email_change_over`](crate::Users::request_email_change_over), and their twins in
//! `AsyncUsers`) takes a connection for each database step and gives it back before hashing:
//! load, give back, hash, take one again and re-check. Over `&mut C`, one connection, that
//! changes nothing; over a pool, no pooled connection waits on argon2 (a tenth of a second per
//! run, more under load), so a burst of wrong-password logins cannot empty the pool that every
//! other request needs.

use std::ops::DerefMut;

use crate::UsersError;

/// Where an operation takes a connection `C` from, once for each database step: one
/// connection (`&mut C`) or a pool.
///
/// A pool implements it for a handle of its own (the pool's types are not this crate's); its
/// connections go back to the pool when dropped.
///
/// ```
/// use std::ops::DerefMut;
/// use std::sync::{Mutex, MutexGuard};
/// use users_core::{Connections, UsersError};
///
/// /// A "pool" of one connection behind a mutex.
/// struct Shared<'p, C>(&'p Mutex<C>);
///
/// impl<C> Connections<C> for Shared<'_, C> {
///     type Connection<'a> = MutexGuard<'a, C> where Self: 'a;
///
///     fn connection(&mut self) -> Result<MutexGuard<'_, C>, UsersError> {
///         self.0.lock().map_err(|_| UsersError::config("connections", "poisoned"))
///     }
/// }
///
/// let shared = Mutex::new(vec![1]);
/// let mut source = Shared(&shared);
/// source.connection()?.push(2);
/// assert_eq!(*shared.lock().unwrap(), [1, 2]);
/// # Ok::<(), UsersError>(())
/// ```
pub trait Connections<C> {
    /// A connection taken from here; it goes back when dropped.
    type Connection<'a>: DerefMut<Target = C>
    where
        Self: 'a;

    /// A connection for the next database step.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`] if none can be had (a pool's timeout).
    fn connection(&mut self) -> Result<Self::Connection<'_>, UsersError>;
}

/// One connection, lent again for each step.
impl<C> Connections<C> for &mut C {
    type Connection<'a>
        = &'a mut C
    where
        Self: 'a;

    fn connection(&mut self) -> Result<&mut C, UsersError> {
        Ok(&mut **self)
    }
}

/// Where an async operation takes a connection `C` from, once for each database step: one
/// connection (`&mut C`) or a pool; the async twin of [`Connections`].
///
/// users-axum implements it for its deadpool pool.
#[cfg(feature = "async")]
pub trait AsyncConnections<C: Send>: Send {
    /// A connection taken from here; it goes back when dropped.
    type Connection<'a>: DerefMut<Target = C> + Send
    where
        Self: 'a;

    /// A connection for the next database step.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`] if none can be had (a pool's timeout).
    fn connection(
        &mut self,
    ) -> impl std::future::Future<Output = Result<Self::Connection<'_>, UsersError>> + Send;
}

/// One connection, lent again for each step.
#[cfg(feature = "async")]
impl<C: Send> AsyncConnections<C> for &mut C {
    type Connection<'a>
        = &'a mut C
    where
        Self: 'a;

    fn connection(
        &mut self,
    ) -> impl std::future::Future<Output = Result<&mut C, UsersError>> + Send {
        std::future::ready(Ok(&mut **self))
    }
}

/// One connection as the operations over connections take it, lent again for each step by an
/// inherent method (no trait, so no generic associated type in an operation's state).
pub(crate) struct Lend<'c, C>(pub(crate) &'c mut C);

impl<C> Lend<'_, C> {
    /// The connection, again.
    #[allow(clippy::unnecessary_wraps)] // As `Connections::connection`.
    pub(crate) fn connection(&mut self) -> Result<&mut C, UsersError> {
        Ok(&mut *self.0)
    }
}

/// One connection as the async operations over connections take it; as [`Lend`].
#[cfg(feature = "async")]
pub(crate) struct AsyncLend<'c, C>(pub(crate) &'c mut C);

#[cfg(feature = "async")]
impl<C> AsyncLend<'_, C> {
    /// The connection, again.
    pub(crate) fn connection(&mut self) -> std::future::Ready<Result<&mut C, UsersError>> {
        std::future::ready(Ok(&mut *self.0))
    }
}
