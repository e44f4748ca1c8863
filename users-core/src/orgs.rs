//! Organizations: the model trait `#[org_model]` implements, its members and invitations, and
//! the roles members hold with their permissions.
//!
//! A member holds one organization role, by name. The built-in ones:
//!
//! | role | permissions |
//! |---|---|
//! | `owner` | every permission, the organization's own and the application's |
//! | `admin` | [`ORG_ADMIN_PERMISSIONS`]: rename, manage members who are not owners, invite and revoke invitations, read members and invitations |
//! | `member` | [`ORG_MEMBER_PERMISSIONS`]: read the members |
//!
//! Applications add permissions to these and declare roles of their own with
//! [`UsersConfig::org_role`](crate::UsersConfig::org_role); a role name is normalised and
//! validated as a global role's is. Only an owner deletes the organization or makes, demotes or
//! removes an owner, and the last owner can neither leave, nor be removed, nor be demoted.

use std::collections::BTreeMap;
use std::time::SystemTime;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::{normalize_permission, normalize_role_name, ModelId, UserModel, UsersError, Uuid};

/// An organization model, written by `#[org_model]`.
pub trait OrgModel: Clone + std::fmt::Debug + Send + Sync + Sized + 'static {
    /// The model's typed id.
    type Id: ModelId;

    /// The name of the model's table.
    const TABLE: &'static str;
    /// The name of the table of its members.
    const MEMBERS_TABLE: &'static str;
    /// The name of the table of its invitations.
    const INVITATIONS_TABLE: &'static str;

    /// A new organization. Every custom field starts at its `#[column(default = …)]` value, or
    /// at `Default::default()` where it has none; the store sets the timestamps.
    fn from_name(id: Self::Id, name: String, slug: String) -> Self;

    /// The organization's id.
    fn id(&self) -> Self::Id;
    /// Its display name.
    fn name(&self) -> &str;
    /// Renames it.
    fn set_name(&mut self, name: String);
    /// Its unique slug (normalised by [`normalize_org_slug`]).
    fn slug(&self) -> &str;
    /// Changes its slug.
    fn set_slug(&mut self, slug: String);
}

/// The role of an organization's owners.
pub const ORG_OWNER: &str = "owner";
/// The role of an organization's administrators.
pub const ORG_ADMIN: &str = "admin";
/// The role of an organization's plain members, and of an invitation that names none.
pub const ORG_MEMBER: &str = "member";

/// Rename the organization (`PATCH /orgs/{org_id}`).
pub const ORG_UPDATE: &str = "org.update";
/// Delete the organization: owners only.
pub const ORG_DELETE: &str = "org.delete";
/// List the members.
pub const MEMBERS_READ: &str = "members.read";
/// Change a member's role (not an owner's, nor to owner: owners only).
pub const MEMBERS_UPDATE: &str = "members.update";
/// Remove a member (not an owner: owners only).
pub const MEMBERS_REMOVE: &str = "members.remove";
/// Invite by email.
pub const INVITATIONS_CREATE: &str = "invitations.create";
/// List the pending invitations.
pub const INVITATIONS_READ: &str = "invitations.read";
/// Revoke an invitation.
pub const INVITATIONS_REVOKE: &str = "invitations.revoke";

/// The built-in permissions of `admin`.
pub const ORG_ADMIN_PERMISSIONS: &[&str] = &[
    ORG_UPDATE,
    MEMBERS_READ,
    MEMBERS_UPDATE,
    MEMBERS_REMOVE,
    INVITATIONS_CREATE,
    INVITATIONS_READ,
    INVITATIONS_REVOKE,
];
/// The built-in permissions of `member`.
pub const ORG_MEMBER_PERMISSIONS: &[&str] = &[MEMBERS_READ];

/// The longest organization name, in characters.
pub const MAX_ORG_NAME_CHARS: usize = 100;

/// One user's membership of one organization: a row of the members table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgMembership {
    /// The organization.
    pub org_id: Uuid,
    /// The member.
    pub user_id: Uuid,
    /// Their organization role (normalised).
    pub role: String,
    /// When they joined.
    pub joined_at: SystemTime,
}

/// An invitation to join an organization: a row of the invitations table. The token mailed
/// to the address is kept only as its digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgInvitation {
    /// The invitation's id (UUIDv7).
    pub id: Uuid,
    /// The organization.
    pub org_id: Uuid,
    /// The invited address, normalised.
    pub email: String,
    /// The role the invitee gets.
    pub role: String,
    /// Who invited; `None` once that user is deleted.
    pub invited_by: Option<Uuid>,
    /// SHA-256 of the token, base64url.
    pub token_digest: String,
    /// When it was made.
    pub created_at: SystemTime,
    /// After this it cannot be accepted.
    pub expires_at: SystemTime,
    /// When it was accepted; `None` while pending.
    pub accepted_at: Option<SystemTime>,
}

impl OrgInvitation {
    /// Whether it can still be accepted at `now`.
    pub fn is_pending(&self, now: SystemTime) -> bool {
        self.accepted_at.is_none() && now < self.expires_at
    }
}

/// A new invitation and its token, which only the mail carries.
#[derive(Clone, Debug)]
pub struct NewInvitation {
    /// The stored invitation.
    pub invitation: OrgInvitation,
    /// The single-use token to mail to the invited address: 256 random bits, base64url.
    pub token: String,
}

/// `time` to the whole microsecond: what every backend stores, so a value returned before it
/// is stored equals the one read back.
pub(crate) fn to_micros(time: SystemTime) -> SystemTime {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(since.as_micros() as u64)
}

/// A fresh invitation token and its digest.
pub(crate) fn invitation_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let digest = crate::refresh_digest(&token);
    (token, digest)
}

/// An organization's slug as stored and compared: [`normalize_role_name`]'s rules, then each
/// space as `-`; `"Acme Corp"` is `"acme-corp"`.
///
/// ```
/// use users_core::normalize_org_slug;
///
/// assert_eq!(normalize_org_slug(" Acme  Corp ").unwrap(), "acme-corp");
/// assert!(normalize_org_slug("").is_err());
/// ```
///
/// # Errors
///
/// [`UsersError::InvalidOrgName`] for a slug no role name could be.
pub fn normalize_org_slug(slug: &str) -> Result<String, UsersError> {
    normalize_role_name(slug)
        .map(|slug| slug.replace(' ', "-"))
        .map_err(|error| match error {
            UsersError::InvalidRoleName(reason) => UsersError::InvalidOrgName(reason),
            other => other,
        })
}

/// An organization's display name: trimmed, not empty, at most [`MAX_ORG_NAME_CHARS`]
/// characters, no control characters.
pub(crate) fn org_name(name: &str) -> Result<String, UsersError> {
    let name = name.trim();
    let invalid = |reason: &str| Err(UsersError::InvalidOrgName(reason.to_owned()));
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name.chars().count() > MAX_ORG_NAME_CHARS {
        return invalid("it is longer than 100 characters");
    }
    if name.chars().any(char::is_control) {
        return invalid("it holds a control character");
    }
    Ok(name.to_owned())
}

/// The organization roles an application declares beyond and on top of the built-in ones,
/// with their permissions: what [`UsersConfig::org_role`](crate::UsersConfig::org_role) builds.
#[derive(Clone, Debug, Default)]
pub struct OrgRoles {
    /// Role name → its permissions (beyond the built-in ones of a built-in role).
    declared: BTreeMap<String, Vec<String>>,
}

impl OrgRoles {
    /// Adds `permissions` to the role `name`, declaring it if it is not built in.
    pub(crate) fn declare(&mut self, name: &str, permissions: &[&str]) -> Result<(), UsersError> {
        let name = normalize_role_name(name)?;
        let permissions = permissions
            .iter()
            .map(|permission| normalize_permission(permission))
            .collect::<Result<Vec<_>, _>>()?;
        let held = self.declared.entry(name).or_default();
        for permission in permissions {
            if !held.contains(&permission) {
                held.push(permission);
            }
        }
        Ok(())
    }

    /// Whether `role` is one a member may hold: built in or declared.
    pub fn exists(&self, role: &str) -> bool {
        matches!(role, ORG_OWNER | ORG_ADMIN | ORG_MEMBER) || self.declared.contains_key(role)
    }

    /// Whether the (normalised) `role` holds the (normalised) `permission`.
    pub fn allows(&self, role: &str, permission: &str) -> bool {
        let built_in: &[&str] = match role {
            ORG_OWNER => return true,
            ORG_ADMIN => ORG_ADMIN_PERMISSIONS,
            ORG_MEMBER => ORG_MEMBER_PERMISSIONS,
            _ => &[],
        };
        built_in.contains(&permission)
            || self
                .declared
                .get(role)
                .is_some_and(|held| held.iter().any(|p| p == permission))
    }

    /// The (normalised) role name of `role`, refused with [`UsersError::RoleNotFound`] if no
    /// member may hold it.
    pub(crate) fn role(&self, role: &str) -> Result<String, UsersError> {
        let role = normalize_role_name(role)?;
        match self.exists(&role) {
            true => Ok(role),
            false => Err(UsersError::RoleNotFound),
        }
    }
}

/// An organization as one of its members sees it: the organization and their membership.
#[derive(Clone, Debug, PartialEq)]
pub struct OrgView<O> {
    /// The organization.
    pub org: O,
    /// The member's role in it.
    pub role: String,
    /// When they joined.
    pub joined_at: SystemTime,
}

/// A member of an organization: the user and their membership.
#[derive(Clone, Debug, PartialEq)]
pub struct OrgMemberOf<U: UserModel> {
    /// The member.
    pub user: U,
    /// Their membership.
    pub membership: OrgMembership,
}
