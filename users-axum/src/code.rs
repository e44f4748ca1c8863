//! [`ErrorCode`]: the `code` of every refusal. One list is the source of the wire format
//! (serde, `snake_case`), the OpenAPI document's enumeration, and the table of the crate
//! documentation (a test keeps that table equal to the list).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Declares the codes with their documentation, and [`ErrorCode::ALL`] and
/// [`ErrorCode::as_str`] from the same list.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal,)*) => {
        /// The stable code of a refusal, `error.code` of every answer that is not a success:
        /// for programs to tell refusals apart (the message is for people and may change).
        ///
        /// Serialized in `snake_case` (`ErrorCode::EmailTaken` is `"email_taken"`); the
        /// crate documentation's table says which status goes with each.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order of the crate documentation's table.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it goes on the wire: `"email_taken"`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                }
            }
        }
    };
}

error_codes! {
    /// A malformed email address.
    InvalidEmail = "invalid_email",
    /// A password that breaks the password rules (`error.reason` says which).
    InvalidPassword = "invalid_password",
    /// A registration or email change to an address that has an account.
    EmailTaken = "email_taken",
    /// A unique value of a custom column that another user has; a TOTP enrolment over a
    /// confirmed one, a confirmation or removal with nothing to confirm or remove.
    Conflict = "conflict",
    /// A wrong email or password; a wrong `current_password`; a wrong, replayed or used
    /// second-factor code; a passkey answer that does not check out.
    InvalidCredentials = "invalid_credentials",
    /// A login or a session of a deactivated user.
    InactiveUser = "inactive_user",
    /// An unverified user where verification is required; enrolling a factor or linking a
    /// provider before the address is verified.
    UnverifiedUser = "unverified_user",
    /// Verifying a verified user.
    AlreadyVerified = "already_verified",
    /// A bad, expired or used token: a verification or reset token (400), a session, refresh
    /// or pending-login token (401).
    InvalidToken = "invalid_token",
    /// A JSON member missing, unknown, repeated or mistyped, or whose value does not fit its
    /// column (a decimal too wide); a bad query parameter.
    InvalidField = "invalid_field",
    /// An unknown user in an admin route.
    UserNotFound = "user_not_found",
    /// A change that needs the current password.
    PasswordRequired = "password_required",
    /// Creating a role whose name is taken.
    RoleExists = "role_exists",
    /// Assigning, revoking, deleting or filtering by an unknown role.
    RoleNotFound = "role_not_found",
    /// A role name that is empty, too long or holds invisible characters.
    InvalidRoleName = "invalid_role_name",
    /// No session token.
    Unauthorized = "unauthorized",
    /// A session without the role a route needs; a state-changing request by cookie from
    /// another origin.
    Forbidden = "forbidden",
    /// A body that is not JSON, a bad path.
    BadRequest = "bad_request",
    /// No route has this path; no such session of the user; a session route with stateless
    /// sessions; a feature that is off.
    NotFound = "not_found",
    /// The route does not take this method.
    MethodNotAllowed = "method_not_allowed",
    /// A body over the limit.
    PayloadTooLarge = "payload_too_large",
    /// A proof of identity while its kind's failures lock the account or the client out; a
    /// mail route past the address's or the client's cap (with `Retry-After`).
    TooManyAttempts = "too_many_attempts",
    /// Every argon2 slot busy and its queue full; the throttle's memory full of live
    /// counters (with `Retry-After`).
    Overloaded = "overloaded",
    /// A failure of the server, logged and not described.
    Internal = "internal",
    /// Unlinking a provider that is the user's last way to sign in.
    LastSignInMethod = "last_sign_in_method",
    /// Deleting the administrators' role, or taking it from, deactivating or deleting its
    /// last active holder.
    LastAdmin = "last_admin",
    /// A provider callback whose flow this browser did not start, or that expired.
    InvalidState = "invalid_state",
    /// A provider's answer that does not check out.
    OauthRefused = "oauth_refused",
    /// The provider answered an error (the person declined).
    OauthDenied = "oauth_denied",
    /// Linking a provider account that another user has linked.
    OauthAccountTaken = "oauth_account_taken",
    /// Linking a second account of a provider the user has linked.
    OauthProviderLinked = "oauth_provider_linked",
    /// A provider that cannot be reached or answers nonsense.
    ProviderUnavailable = "provider_unavailable",
    /// An organization that does not exist or of which the user is not a member.
    OrgNotFound = "org_not_found",
    /// Creating or renaming an organization to a slug another has.
    OrgExists = "org_exists",
    /// An organization name or slug that is empty, too long or holds characters no name may.
    InvalidOrgName = "invalid_org_name",
    /// A member whose organization role does not give the permission the route needs.
    NotPermitted = "not_permitted",
    /// Leaving, removing or demoting an organization's last owner.
    LastOwner = "last_owner",
    /// Inviting or adding a member of the organization.
    AlreadyMember = "already_member",
    /// Revoking an invitation the organization does not have pending.
    InvitationNotFound = "invitation_not_found",
    /// Accepting or declining an invitation sent to another address.
    InvitationForAnotherAddress = "invitation_for_another_address",
    /// Inviting past the organization's or the inviter's cap of pending invitations.
    TooManyInvitations = "too_many_invitations",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_name_is_serdes_and_each_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str(), "{code:?}");
            let back: ErrorCode = serde_json::from_value(json).unwrap();
            assert_eq!(back, *code);
            assert!(seen.insert(code.as_str()), "{code} twice");
        }
    }

    #[test]
    fn the_crate_docs_table_lists_every_code_and_no_other() {
        let docs = include_str!("lib.rs");
        let table: Vec<&str> = docs
            .lines()
            .filter_map(|line| line.strip_prefix("//! | `"))
            .filter_map(|row| row.split_once('`').map(|(code, _)| code))
            .collect();
        for code in ErrorCode::ALL {
            assert!(table.contains(&code.as_str()), "{code} is not in the table");
        }
        for code in &table {
            assert!(
                ErrorCode::ALL.iter().any(|known| known == code),
                "the table's {code} is no ErrorCode"
            );
        }
    }
}
