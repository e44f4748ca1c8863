//! Application hooks into the manager's operations.

use crate::{UserModel, UsersError};

/// Application code that runs at fixed points of the [`Users`](crate::Users) operations.
///
/// Every method has a no-op default, so an implementation overrides only what it needs. The
/// `after_*` and `before_delete` hooks run inside the operation's store transaction, after its
/// write (before it, for a delete): returning an error rolls the operation back and the caller
/// receives that error.
///
/// ```
/// use users_core::{UserModel, UsersError, UsersHooks};
///
/// struct RequireDigit;
///
/// impl<U: UserModel> UsersHooks<U> for RequireDigit {
///     fn validate_password(&self, password: &str) -> Result<(), String> {
///         if password.chars().any(|c| c.is_ascii_digit()) {
///             Ok(())
///         } else {
///             Err("it must contain a digit".to_owned())
///         }
///     }
///
///     fn after_register(&self, user: &U) -> Result<(), UsersError> {
///         println!("welcome, {}", user.email());
///         Ok(())
///     }
/// }
/// ```
pub trait UsersHooks<U: UserModel> {
    /// An extra password rule, checked after the length bounds whenever a password is set.
    /// An `Err` becomes [`UsersError::InvalidPassword`] with that reason, which must not quote
    /// the password.
    fn validate_password(&self, password: &str) -> Result<(), String> {
        let _ = password;
        Ok(())
    }

    /// Runs after a user was inserted by `register` or `register_with`.
    fn after_register(&self, user: &U) -> Result<(), UsersError> {
        let _ = user;
        Ok(())
    }

    /// Runs after a successful `authenticate` (and after storing an upgraded hash, if any).
    fn after_login(&self, user: &U) -> Result<(), UsersError> {
        let _ = user;
        Ok(())
    }

    /// Runs after `verify` marked the user as verified.
    fn after_verify(&self, user: &U) -> Result<(), UsersError> {
        let _ = user;
        Ok(())
    }

    /// Runs after `reset_password` stored the new password.
    fn after_reset(&self, user: &U) -> Result<(), UsersError> {
        let _ = user;
        Ok(())
    }

    /// Runs after `update`, `change_password` or `set_password` stored the user.
    fn after_update(&self, user: &U) -> Result<(), UsersError> {
        let _ = user;
        Ok(())
    }

    /// Runs after a recovery code completed a login or proved the user present, with how
    /// many codes are left: the place to log it, and to tell the user (a recovery code used
    /// by someone else means their second factor is known). It runs after the code was used
    /// up (no transaction holds that write): an error is the caller's, the code stays used.
    fn after_recovery_code(&self, user: &U, codes_left: usize) -> Result<(), UsersError> {
        let _ = (user, codes_left);
        Ok(())
    }

    /// Runs before `delete` removes the user; an error keeps the user.
    fn before_delete(&self, user: &U) -> Result<(), UsersError> {
        let _ = user;
        Ok(())
    }
}

/// The hooks of a manager without application hooks: every method is the no-op default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoHooks;

impl<U: UserModel> UsersHooks<U> for NoHooks {}
