//! The throttle's side of the operations: which counters a login or a mail touches, whether
//! they refuse it, and what a failure or a success does to them.
//!
//! These touch the [`ThrottleStore`](crate::ThrottleStore), which may block; the async manager
//! runs them on Tokio's blocking pool.

use std::time::SystemTime;

use super::Users;
use crate::text::cut;
use crate::{normalize_email, RoleModel, UserModel, UsersError};

/// The longest client key the throttle keeps: a longer one is cut (at a character boundary),
/// so that an application's key cannot grow the counters' keys without bound. An IPv6 address
/// takes at most 45 bytes.
pub const MAX_CLIENT_KEY_BYTES: usize = 48;

/// The counters of one login: the account's (if the address is well-formed) and the client's
/// (if the caller named one), each with its limit.
#[derive(Clone, Debug)]
pub(crate) struct LoginKeys {
    account: Option<String>,
    client: Option<String>,
}

impl<U: UserModel, R: RoleModel> Users<U, R> {
    /// The counters a login with the normalised `email` from `client` touches.
    pub(crate) fn login_keys(&self, email: Option<&str>, client: Option<&str>) -> LoginKeys {
        LoginKeys {
            account: email.map(|email| format!("login:account:{email}")),
            client: client
                .map(|client| format!("login:client:{}", cut(client, MAX_CLIENT_KEY_BYTES))),
        }
    }

    /// Each counter of a login with its limit.
    fn login_counters<'k>(&self, keys: &'k LoginKeys) -> impl Iterator<Item = (&'k str, u32)> {
        let limits = &self.config.login_throttle;
        let account = keys.account.as_deref().map(|key| (key, limits.per_account));
        let client = keys.client.as_deref().map(|key| (key, limits.per_client));
        account.into_iter().chain(client)
    }

    /// Refuses a login while any of its counters is locked out, with the longest wait.
    ///
    /// # Errors
    ///
    /// [`UsersError::TooManyAttempts`], or the store's [`UsersError::Database`].
    pub(crate) fn check_login_throttle(&self, keys: &LoginKeys) -> Result<(), UsersError> {
        let now = SystemTime::now();
        let policy = &self.config.login_throttle;
        let mut wait = None;
        for (key, limit) in self.login_counters(keys) {
            if let Some(counter) = self.throttle.get(key, now)? {
                wait = wait.max(policy.locked_for(&counter, limit, now));
            }
        }
        match wait {
            Some(retry_after) => Err(UsersError::TooManyAttempts { retry_after }),
            None => Ok(()),
        }
    }

    /// Counts a login's outcome: a wrong password is a hit on every counter (locking those that
    /// reach their limit), a right one clears the account's counter. Other refusals (an
    /// inactive account, the gate full) count for nothing.
    ///
    /// # Errors
    ///
    /// The store's [`UsersError::Database`].
    pub(crate) fn count_login<T>(
        &self,
        keys: &LoginKeys,
        outcome: &Result<T, UsersError>,
    ) -> Result<(), UsersError> {
        let policy = &self.config.login_throttle;
        match outcome {
            Err(UsersError::InvalidCredentials) => {
                let now = SystemTime::now();
                for (key, limit) in self.login_counters(keys) {
                    let counter = self.throttle.hit(key, now, policy.window)?;
                    if let Some(lockout) = policy.lockout(counter.hits, limit) {
                        self.throttle.hold(key, counter.last_at + lockout)?;
                    }
                }
            }
            Ok(_) | Err(UsersError::InactiveUser | UsersError::UnverifiedUser) => {
                // The password was right; the client's counter stays, so that one good account
                // does not reset a client guessing at others.
                if let Some(account) = &keys.account {
                    self.throttle.clear(account)?;
                }
            }
            Err(_) => {}
        }
        Ok(())
    }

    /// Counts one mail to `address` (normalised first) against the mail cap, and refuses it if
    /// the address has had its share of the window: what the mail-sending routes call before
    /// they do anything, for every request, whether or not the address has an account.
    ///
    /// A malformed address is not counted (nothing can be sent to it).
    ///
    /// # Errors
    ///
    /// [`UsersError::TooManyAttempts`] with the time until the window ends, or the store's
    /// [`UsersError::Database`].
    pub fn count_mail(&self, address: &str) -> Result<(), UsersError> {
        let Ok(address) = normalize_email(address) else {
            return Ok(());
        };
        let key = format!("mail:{address}");
        let now = SystemTime::now();
        let cap = &self.config.mail_throttle;
        if let Some(counter) = self.throttle.get(&key, now)? {
            if counter.hits >= cap.per_address {
                let retry_after = counter.expires_at.duration_since(now).unwrap_or_default();
                return Err(UsersError::TooManyAttempts { retry_after });
            }
        }
        self.throttle.hit(&key, now, cap.window)?;
        Ok(())
    }
}
