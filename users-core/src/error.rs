//! The one error type of the framework.

use std::error::Error as StdError;
use std::time::Duration;

/// Everything that can go wrong in the users framework.
///
/// Messages are safe to log: none of them contains a password, a password hash or a token.
/// A failure of the database itself is [`UsersError::Database`]; a unique violation on the email
/// column is never reported that way but as [`UsersError::EmailTaken`], and one on another unique
/// column as [`UsersError::Conflict`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsersError {
    /// The email address is malformed; the [`EmailProblem`](crate::EmailProblem) says which
    /// rule it broke.
    #[error("invalid email address: {0}")]
    InvalidEmail(crate::EmailProblem),
    /// The new password breaks a password rule: the length bounds, the strength estimate or
    /// an application hook; the [`PasswordProblem`](crate::PasswordProblem) says which.
    #[error("invalid password: {0}")]
    InvalidPassword(crate::PasswordProblem),
    /// Another user already has this email address (compared after normalisation).
    #[error("a user with this email address already exists")]
    EmailTaken,
    /// Another row already holds this value of a unique custom column (the SQL name in
    /// `column`), e.g. a taken `username`. The email column is [`UsersError::EmailTaken`] and a
    /// role's name [`UsersError::RoleExists`] instead.
    #[error("the value of `{column}` is already taken")]
    Conflict {
        /// The SQL name of the unique column.
        column: &'static str,
    },
    /// A value does not fit its column (a decimal with more digits before the point than its
    /// `NUMERIC(P, S)` column holds), the same way on every backend. Nothing was stored.
    #[error("the value of `{column}` does not fit its column: {reason}")]
    OutOfRange {
        /// The SQL name of the column.
        column: &'static str,
        /// What does not fit: the value and the column's type.
        reason: String,
    },
    /// A permission name that is empty, too long or holds invisible characters (the rules of
    /// role names); the text says which.
    #[error("invalid permission name: {0}")]
    InvalidPermission(String),
    /// Unknown email or wrong password: deliberately indistinguishable.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// The credentials are right but the account is deactivated.
    #[error("the user is not active")]
    InactiveUser,
    /// The credentials are right but the configuration requires a verified email address.
    #[error("the user has not verified their email address")]
    UnverifiedUser,
    /// A verification token was requested, or used, for a user who is already verified.
    #[error("the user is already verified")]
    AlreadyVerified,
    /// The token is malformed, tampered with, expired, of the wrong purpose, signed with another
    /// secret, or no longer valid because the email or password it was issued for has changed.
    #[error("invalid or expired token")]
    InvalidToken,
    /// The change needs the user's current password: an email changes through
    /// `request_email_change` (and the verification of the new address), or by an
    /// administrator through `set_email`, never through `update`.
    #[error("changing the email needs the current password: use `request_email_change`")]
    PasswordRequired,
    /// No user has the given id.
    #[error("user not found")]
    UserNotFound,
    /// A role with this name already exists.
    #[error("a role with this name already exists")]
    RoleExists,
    /// The role name is empty, longer than [`MAX_ROLE_NAME_CHARS`](crate::MAX_ROLE_NAME_CHARS)
    /// characters or holds an invisible, control or whitespace character; the reason says which
    /// ([`normalize_role_name`](crate::normalize_role_name) lists the rules).
    #[error("invalid role name: {0}")]
    InvalidRoleName(String),
    /// No role has the given name or id.
    #[error("role not found")]
    RoleNotFound,
    /// Too many failed logins for this account or client, or too many mails to this address:
    /// refused without an argon2 run or a mail until `retry_after` has passed.
    #[error("too many attempts, retry in {} s", retry_after.as_secs().max(1))]
    TooManyAttempts {
        /// How long until the attempt is allowed again.
        retry_after: Duration,
    },
    /// Every argon2 slot is busy and the queue for them is full: the work was refused rather
    /// than queued without bound. Retrying after a second is reasonable.
    #[error("the server is busy hashing passwords, retry shortly")]
    Overloaded,
    /// The configuration is unusable (for example a secret shorter than 32 bytes), or the
    /// deployment cannot do what was asked (no store for sessions, no blocking pool); the
    /// [`ConfigError`] names the setting and says why.
    #[error("invalid configuration: {0}")]
    Config(ConfigError),
    /// Unlinking this provider account would leave the user no way to sign in (no usable
    /// password, no other linked account, no passkey): set a password (the reset flow) or link
    /// another provider first.
    #[error("this is the last way to sign in: set a password or link another provider first")]
    LastSignInMethod,
    /// The organization does not exist, or the user is not one of its members (who cannot
    /// tell the two apart).
    #[error("organization not found")]
    OrgNotFound,
    /// Another organization already has this slug (compared after normalisation).
    #[error("an organization with this slug already exists")]
    OrgExists,
    /// An organization name or slug that is empty, too long or holds characters no name may
    /// hold; the text says which.
    #[error("invalid organization name: {0}")]
    InvalidOrgName(String),
    /// The member's organization role does not give the permission the operation needs.
    #[error("your role in this organization does not allow this ({permission})")]
    NotPermitted {
        /// The permission that was needed.
        permission: String,
    },
    /// The change would leave the organization without an owner: the last owner cannot leave,
    /// be removed or be given another role. Make another member an owner first.
    #[error("the organization's last owner cannot leave, be removed or be demoted")]
    LastOwner,
    /// The user is already a member of the organization.
    #[error("already a member of this organization")]
    AlreadyMember,
    /// No pending invitation of the organization has this id.
    #[error("invitation not found")]
    InvitationNotFound,
    /// The invitation was sent to another address than the user's.
    #[error("this invitation was sent to another address")]
    InvitationForAnotherAddress,
    /// The organization, or the inviter, has as many pending invitations as allowed
    /// ([`UsersConfig::invitation_limits`](crate::UsersConfig::invitation_limits)); revoke some
    /// or wait for them to be accepted or to expire.
    #[error("too many pending invitations")]
    TooManyInvitations,
    /// The database failed; the source is the driver's error.
    #[error("database error: {0}")]
    Database(#[source] Box<dyn StdError + Send + Sync>),
}

impl UsersError {
    /// A [`UsersError::Config`] about `setting`: see [`ConfigError::new`].
    pub fn config(setting: &'static str, reason: impl Into<String>) -> Self {
        UsersError::Config(ConfigError::new(setting, reason))
    }

    /// Wraps a database driver's error as [`UsersError::Database`].
    pub fn database(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        UsersError::Database(error.into())
    }
}

/// What is wrong with the configuration: the setting it concerns (a builder method such as
/// `"argon2_params"`, or an area such as `"oauth"` or `"stores"`) and why, in words safe to log.
///
/// ```
/// # use users_core::{UsersConfig, UsersError};
/// let Err(UsersError::Config(error)) = UsersConfig::new(b"short") else { unreachable!() };
/// assert_eq!(error.setting(), "secret");
/// assert!(error.reason().contains("at least 32"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {reason}")]
pub struct ConfigError {
    setting: &'static str,
    reason: String,
}

impl ConfigError {
    /// The error of `setting`, for `reason`. Hooks and stores of an application may use it
    /// too, for what their own setting forbids.
    pub fn new(setting: &'static str, reason: impl Into<String>) -> Self {
        ConfigError {
            setting,
            reason: reason.into(),
        }
    }

    /// The setting (or area) at fault.
    pub fn setting(&self) -> &'static str {
        self.setting
    }

    /// Why it is at fault.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}
