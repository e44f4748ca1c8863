//! Organizations: creating and listing them, their members and invitations, and accepting an
//! invitation. Served where [`UsersState::organizations`] names the organization model;
//! elsewhere each answers 404 `not_found`. Someone outside an organization gets 404
//! `org_not_found` for it, as for one that does not exist.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use users_diesel::{Proof, Uuid};

use crate::answer::parse_uuid;
use crate::api::{endpoint, route, Delete, Doc, Endpoint, Get, Patch, Post, Session};
use crate::error::PathParams;
use crate::orgs::{InvitationAnswer, MemberAnswer, OrgAnswer};
use crate::{ApiError, CurrentUser, ErrorCode, JsonBody, Mail, Profile, UsersState};

/// The typed bodies and answers of these routes, for the OpenAPI document.
pub(crate) fn schemas() -> Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::Schema>)> {
    use crate::schema::typed;
    vec![
        typed::<OrgAnswer>(),
        typed::<OrgList>(),
        typed::<MemberAnswer>(),
        typed::<MemberList>(),
        typed::<InvitationAnswer>(),
        typed::<InvitationList>(),
        typed::<NewOrg>(),
        typed::<OrgChange>(),
        typed::<RoleChange>(),
        typed::<NewInvitation>(),
        typed::<Acceptance>(),
    ]
}

/// The organization routes, each with its handler and its description.
pub(crate) fn endpoints<U: Profile>() -> Vec<Endpoint<U>> {
    vec![
        endpoint(create_org::<U>, CREATE_ORG),
        endpoint(my_orgs::<U>, MY_ORGS),
        endpoint(get_org::<U>, GET_ORG),
        endpoint(rename_org::<U>, RENAME_ORG),
        endpoint(delete_org::<U>, DELETE_ORG),
        endpoint(members::<U>, MEMBERS),
        endpoint(change_member::<U>, CHANGE_MEMBER),
        endpoint(remove_member::<U>, REMOVE_MEMBER),
        endpoint(invite::<U>, INVITE),
        endpoint(invitations::<U>, INVITATIONS),
        endpoint(revoke::<U>, REVOKE),
        endpoint(accept::<U>, ACCEPT),
    ]
}

/// A new organization.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewOrg {
    /// its display name (at most 100 characters)
    name: String,
    /// its slug; the name's by default (`"Acme Corp"`: `acme-corp`)
    #[serde(default)]
    slug: Option<String>,
}

/// A new name (and slug) for an organization.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrgChange {
    name: String,
    #[serde(default)]
    slug: Option<String>,
}

/// A member's new organization role.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleChange {
    /// `owner`, `admin`, `member` or a role the application declared
    role: String,
}

/// An invitation to make.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewInvitation {
    #[schema(format = "email")]
    email: String,
    /// the role the invitee gets; `member` by default
    #[serde(default)]
    role: Option<String>,
}

/// An invitation's token, as it was mailed.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Acceptance {
    token: String,
}

/// The organizations the session user belongs to.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrgList {
    orgs: Vec<OrgAnswer>,
}

/// An organization's members.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemberList {
    members: Vec<MemberAnswer>,
}

/// An organization's pending invitations.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InvitationList {
    invitations: Vec<InvitationAnswer>,
}

/// The organization id of a path.
fn org_id(text: &str) -> Result<Uuid, ApiError> {
    parse_uuid(text).ok_or_else(|| ApiError::bad_request("`org_id` must be a UUID"))
}

/// A second id of a path, named `name`.
fn path_id(text: &str, name: &str) -> Result<Uuid, ApiError> {
    parse_uuid(text).ok_or_else(|| ApiError::bad_request(format!("`{name}` must be a UUID")))
}

/// The refusals of every route about one organization.
const NOT_A_MEMBER: (u16, &[ErrorCode]) = (404, &[ErrorCode::OrgNotFound, ErrorCode::NotFound]);

const CREATE_ORG: Doc = route(
    Post,
    "/orgs",
    "Create an organization, owned by the session user",
    Session,
    Some("NewOrg"),
    (201, "the organization", Some("Org")),
    &[
        (404, &[ErrorCode::NotFound]),
        (409, &[ErrorCode::OrgExists]),
        (422, &[ErrorCode::InvalidOrgName]),
    ],
);

async fn create_org<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
    JsonBody(body): JsonBody<NewOrg>,
) -> Result<Response, ApiError> {
    let org = users
        .orgs()?
        .create(&current.user, &body.name, body.slug.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(org)).into_response())
}

const MY_ORGS: Doc = route(
    Get,
    "/orgs",
    "The session user's organizations, by name, with their role in each",
    Session,
    None,
    (200, "the organizations", Some("OrgList")),
    &[(404, &[ErrorCode::NotFound])],
);

async fn my_orgs<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
) -> Result<Json<OrgList>, ApiError> {
    let orgs = users.orgs()?.orgs(&current.user).await?;
    Ok(Json(OrgList { orgs }))
}

const GET_ORG: Doc = route(
    Get,
    "/orgs/{org_id}",
    "An organization of the session user",
    Session,
    None,
    (200, "the organization", Some("Org")),
    &[NOT_A_MEMBER],
);

async fn get_org<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
    PathParams(id): PathParams<String>,
) -> Result<Json<OrgAnswer>, ApiError> {
    let org = users.orgs()?.org(&current.user, org_id(&id)?).await?;
    Ok(Json(org))
}

const RENAME_ORG: Doc = route(
    Patch,
    "/orgs/{org_id}",
    "Rename an organization (and change its slug): `org.update`",
    Session,
    Some("OrgChange"),
    (200, "the organization", Some("Org")),
    &[
        (403, &[ErrorCode::NotPermitted]),
        NOT_A_MEMBER,
        (409, &[ErrorCode::OrgExists]),
        (422, &[ErrorCode::InvalidOrgName]),
    ],
);

async fn rename_org<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<OrgChange>,
) -> Result<Json<OrgAnswer>, ApiError> {
    let org = users
        .orgs()?
        .rename(
            &current.user,
            org_id(&id)?,
            &body.name,
            body.slug.as_deref(),
        )
        .await?;
    Ok(Json(org))
}

const DELETE_ORG: Doc = route(
    Delete,
    "/orgs/{org_id}",
    "Delete an organization with its members and invitations: owners only",
    Session,
    None,
    (204, "the organization is gone", None),
    &[(403, &[ErrorCode::NotPermitted]), NOT_A_MEMBER],
);

async fn delete_org<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
    PathParams(id): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    users.orgs()?.delete(&current.user, org_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

const MEMBERS: Doc = route(
    Get,
    "/orgs/{org_id}/members",
    "An organization's members, in the order they joined: `members.read`",
    Session,
    None,
    (200, "the members", Some("MemberList")),
    &[(403, &[ErrorCode::NotPermitted]), NOT_A_MEMBER],
);

async fn members<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
    PathParams(id): PathParams<String>,
) -> Result<Json<MemberList>, ApiError> {
    let members = users.orgs()?.members(&current.user, org_id(&id)?).await?;
    Ok(Json(MemberList { members }))
}

const CHANGE_MEMBER: Doc = route(
    Patch,
    "/orgs/{org_id}/members/{user_id}",
    "Give a member another organization role: `members.update` (owners only to or from `owner`)",
    Session,
    Some("RoleChange"),
    (204, "the member has the role", None),
    &[
        (403, &[ErrorCode::NotPermitted]),
        (
            404,
            &[
                ErrorCode::OrgNotFound,
                ErrorCode::UserNotFound,
                ErrorCode::RoleNotFound,
                ErrorCode::NotFound,
            ],
        ),
        (409, &[ErrorCode::LastOwner]),
        (422, &[ErrorCode::InvalidRoleName]),
    ],
);

async fn change_member<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
    PathParams((id, user_id)): PathParams<(String, String)>,
    JsonBody(body): JsonBody<RoleChange>,
) -> Result<StatusCode, ApiError> {
    let (org, member) = (org_id(&id)?, path_id(&user_id, "user_id")?);
    users
        .orgs()?
        .set_role(&current.user, org, member, &body.role)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

const REMOVE_MEMBER: Doc = route(
    Delete,
    "/orgs/{org_id}/members/{user_id}",
    "Remove a member (`members.remove`; owners only for an owner), or leave with one's own id",
    Session,
    None,
    (204, "the user is no longer a member", None),
    &[
        (403, &[ErrorCode::NotPermitted]),
        (
            404,
            &[
                ErrorCode::OrgNotFound,
                ErrorCode::UserNotFound,
                ErrorCode::NotFound,
            ],
        ),
        (409, &[ErrorCode::LastOwner]),
    ],
);

async fn remove_member<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
    PathParams((id, user_id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (org, member) = (org_id(&id)?, path_id(&user_id, "user_id")?);
    users.orgs()?.remove(&current.user, org, member).await?;
    Ok(StatusCode::NO_CONTENT)
}

const INVITE: Doc = route(
    Post,
    "/orgs/{org_id}/invitations",
    "Invite an address with a role (`invitations.create`): a single-use token is mailed to it",
    Session,
    Some("NewInvitation"),
    (
        201,
        "the pending invitation (its token only in the mail)",
        Some("OrgInvitation"),
    ),
    &[
        (403, &[ErrorCode::NotPermitted]),
        (
            404,
            &[
                ErrorCode::OrgNotFound,
                ErrorCode::RoleNotFound,
                ErrorCode::NotFound,
            ],
        ),
        (409, &[ErrorCode::AlreadyMember]),
        (422, &[ErrorCode::InvalidEmail, ErrorCode::InvalidRoleName]),
        (
            429,
            &[ErrorCode::TooManyInvitations, ErrorCode::TooManyAttempts],
        ),
    ],
);

async fn invite<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
    parts: Parts,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<NewInvitation>,
) -> Result<Response, ApiError> {
    let orgs = users.orgs()?;
    let invited = orgs
        .invite(
            &current.user,
            org_id(&id)?,
            &body.email,
            body.role.as_deref(),
        )
        .await?;
    let to = invited.invitation.email.clone();
    // The invited address's mail cap, as for every mail the routes send: over it, the
    // invitation is withdrawn, so no token is pending that nobody received.
    let client = users.client(&parts);
    if let Err(error) = users.pooled().count_mail(client.as_deref(), &to).await {
        orgs.withdraw(invited.invitation.id).await?;
        return Err(error);
    }
    let answer = InvitationAnswer::of(&invited.invitation);
    users.mail(Mail::invitation(
        current.user.clone(),
        to,
        invited.org_name,
        invited.token,
    ));
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

const INVITATIONS: Doc = route(
    Get,
    "/orgs/{org_id}/invitations",
    "An organization's pending invitations, oldest first: `invitations.read`",
    Session,
    None,
    (200, "the invitations", Some("InvitationList")),
    &[(403, &[ErrorCode::NotPermitted]), NOT_A_MEMBER],
);

async fn invitations<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
    PathParams(id): PathParams<String>,
) -> Result<Json<InvitationList>, ApiError> {
    let invitations = users
        .orgs()?
        .invitations(&current.user, org_id(&id)?)
        .await?;
    Ok(Json(InvitationList { invitations }))
}

const REVOKE: Doc = route(
    Delete,
    "/orgs/{org_id}/invitations/{invitation_id}",
    "Revoke a pending invitation: `invitations.revoke`",
    Session,
    None,
    (204, "the invitation's token no longer works", None),
    &[
        (403, &[ErrorCode::NotPermitted]),
        (
            404,
            &[
                ErrorCode::OrgNotFound,
                ErrorCode::InvitationNotFound,
                ErrorCode::NotFound,
            ],
        ),
    ],
);

async fn revoke<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
    PathParams((id, invitation)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (org, invitation) = (org_id(&id)?, path_id(&invitation, "invitation_id")?);
    users.orgs()?.revoke(&current.user, org, invitation).await?;
    Ok(StatusCode::NO_CONTENT)
}

const ACCEPT: Doc = route(
    Post,
    "/invitations/accept",
    "Accept an invitation with its mailed token: the session user's verified address must be the invited one",
    Session,
    Some("Acceptance"),
    (200, "the organization joined", Some("Org")),
    &[
        (400, &[ErrorCode::InvalidToken]),
        (
            403,
            &[
                ErrorCode::InvitationForAnotherAddress,
                ErrorCode::UnverifiedUser,
            ],
        ),
        (404, &[ErrorCode::NotFound]),
        (409, &[ErrorCode::AlreadyMember]),
        (429, &[ErrorCode::TooManyAttempts]),
    ],
);

async fn accept<U: Profile>(
    State(users): State<UsersState<U>>,
    current: CurrentUser<U>,
    parts: Parts,
    JsonBody(body): JsonBody<Acceptance>,
) -> Result<Json<OrgAnswer>, ApiError> {
    let orgs = users.orgs()?;
    // A token is a proof: its failures are counted per client, as the other tokens'.
    let accepted = orgs.accept(&current.user, &body.token);
    let org = users.guarded(Proof::Token, None, &parts, accepted).await?;
    Ok(Json(org))
}
