//! Runtime pieces the stores `#[org_model]` writes call: the rows of the members and
//! invitations tables as the stores read them, turned into users-core's types. Reached by
//! generated code through `users_diesel::__private`.

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use users_core::{OrgInvitation, OrgMembership};

use crate::sql_types::Portable;
use crate::Id;

/// A row of an organization's members table: organization, user, role, joined at.
pub type MemberRow<O, U> = (Id<O>, Id<U>, String, DateTime<Utc>);

/// A row of an organization's invitations table, in its columns' order.
pub type InvitationRow<O, U> = (
    Id<OrgInvitation>,
    Id<O>,
    String,
    String,
    Id<U>,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

/// The membership a members row holds.
pub fn membership<O, U>((org_id, user_id, role, joined_at): MemberRow<O, U>) -> OrgMembership {
    OrgMembership {
        org_id: org_id.uuid(),
        user_id: user_id.uuid(),
        role,
        joined_at: joined_at.into(),
    }
}

/// The invitation an invitations row holds.
pub fn invitation<O, U>(row: InvitationRow<O, U>) -> OrgInvitation {
    let (id, org_id, email, role, invited_by, token_digest, created_at, expires_at, accepted_at) =
        row;
    OrgInvitation {
        id: id.uuid(),
        org_id: org_id.uuid(),
        email,
        role,
        invited_by: Some(invited_by.uuid()),
        token_digest,
        created_at: created_at.into(),
        expires_at: expires_at.into(),
        accepted_at: accepted_at.map(Into::into),
    }
}

/// A point in time as the timestamp columns of these tables bind it.
pub fn at(time: SystemTime) -> Portable<DateTime<Utc>> {
    Portable(time.into())
}

/// Whether a failed insert of a membership is the members table's primary key: the user is
/// a member already.
pub fn is_duplicate(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
