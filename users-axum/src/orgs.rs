//! Organizations over HTTP: the manager's organization operations over a pool, with the
//! organization model, the role model and the connection type erased
//! ([`UsersState::organizations`]), and the extractors [`OrgMember`] and [`HasOrgPermission`].

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use axum::extract::{FromRef, FromRequestParts, Path};
use axum::http::request::Parts;
use deadpool::managed::Manager;
use serde::Serialize;
use users_derive::erased;
use users_diesel::asynchronous::deadpool::Pool;
use users_diesel::asynchronous::diesel_async::pooled_connection::PoolError;
use users_diesel::asynchronous::AsyncDieselConnectionManager;
use users_diesel::{
    AsyncOrgStore, AsyncUserStore, AsyncUsers, OrgInvitation, OrgModel, OrgView, RoleModel,
    UserModel, UsersError, Uuid,
};
use utoipa::ToSchema;

use crate::answer::{parse_uuid, rfc3339};
use crate::extract::PermissionName;
use crate::{ApiError, CurrentUser, UsersState};

/// An organization as one of its members sees it.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Org)]
pub(crate) struct OrgAnswer {
    #[schema(format = "uuid")]
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) slug: String,
    /// the caller's organization role
    pub(crate) role: String,
    /// when the caller joined
    #[schema(format = DateTime)]
    pub(crate) joined_at: String,
}

impl OrgAnswer {
    fn of<O: OrgModel>(view: &OrgView<O>) -> Self {
        OrgAnswer {
            id: Into::<Uuid>::into(view.org.id()).to_string(),
            name: view.org.name().to_owned(),
            slug: view.org.slug().to_owned(),
            role: view.role.clone(),
            joined_at: rfc3339(view.joined_at),
        }
    }
}

/// A member of an organization.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OrgMember)]
pub(crate) struct MemberAnswer {
    #[schema(format = "uuid")]
    pub(crate) user_id: String,
    #[schema(format = "email")]
    pub(crate) email: String,
    pub(crate) role: String,
    #[schema(format = DateTime)]
    pub(crate) joined_at: String,
}

/// A pending invitation, without its token.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OrgInvitation)]
pub(crate) struct InvitationAnswer {
    #[schema(format = "uuid")]
    pub(crate) id: String,
    #[schema(format = "email")]
    pub(crate) email: String,
    pub(crate) role: String,
    #[schema(format = "uuid", required = true)]
    pub(crate) invited_by: Option<String>,
    #[schema(format = DateTime)]
    pub(crate) expires_at: String,
}

impl InvitationAnswer {
    pub(crate) fn of(invitation: &OrgInvitation) -> Self {
        InvitationAnswer {
            id: invitation.id.to_string(),
            email: invitation.email.clone(),
            role: invitation.role.clone(),
            invited_by: invitation.invited_by.map(|id| id.to_string()),
            expires_at: rfc3339(invitation.expires_at),
        }
    }
}

/// What an invitation made: the stored invitation, the organization's name and the token to
/// mail.
pub(crate) struct Invited {
    pub(crate) invitation: OrgInvitation,
    pub(crate) org_name: String,
    pub(crate) token: String,
}

/// The manager's organization operations for the organization model `O`, over a pool.
pub(crate) struct PooledOrgs<U: UserModel, R: RoleModel, O, C>
where
    AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
{
    pub(crate) users: AsyncUsers<U, R>,
    pub(crate) pool: Pool<C>,
    pub(crate) org: PhantomData<fn() -> O>,
}

/// What the organization routes and extractors do, each on a pooled connection, with the
/// organization model erased: the one implementation is [`PooledOrgs`].
#[erased(pub(crate) trait Orgs<U: UserModel>: Send + Sync + 'static {})]
impl<U, R, O, C> PooledOrgs<U, R, O, C>
where
    U: AsyncUserStore<C>,
    U::Events: users_diesel::AsyncEventStore<C>,
    R: RoleModel,
    O: AsyncOrgStore<C, User = U>,
    C: Send + 'static,
    AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
{
    async fn create<'a>(
        &'a self,
        creator: &'a U,
        name: &'a str,
        slug: Option<&'a str>,
    ) -> Result<OrgAnswer, ApiError> {
        let mut conn = self.connection().await?;
        let org: O = self
            .users
            .create_org(&mut *conn, creator, name, slug)
            .await?;
        let view = self
            .users
            .org::<O, C>(&mut *conn, creator, org.id())
            .await?;
        Ok(OrgAnswer::of(&view))
    }

    async fn org<'a>(&'a self, user: &'a U, org: Uuid) -> Result<OrgAnswer, ApiError> {
        let mut conn = self.connection().await?;
        let view = self.users.org::<O, C>(&mut *conn, user, org.into()).await?;
        Ok(OrgAnswer::of(&view))
    }

    async fn orgs<'a>(&'a self, user: &'a U) -> Result<Vec<OrgAnswer>, ApiError> {
        let mut conn = self.connection().await?;
        let views = self.users.orgs::<O, C>(&mut *conn, user).await?;
        Ok(views.iter().map(OrgAnswer::of).collect())
    }

    async fn rename<'a>(
        &'a self,
        actor: &'a U,
        org: Uuid,
        name: &'a str,
        slug: Option<&'a str>,
    ) -> Result<OrgAnswer, ApiError> {
        let mut conn = self.connection().await?;
        let org = org.into();
        self.users
            .rename_org::<O, C>(&mut *conn, actor, org, name, slug)
            .await?;
        let view = self.users.org::<O, C>(&mut *conn, actor, org).await?;
        Ok(OrgAnswer::of(&view))
    }

    async fn delete<'a>(&'a self, actor: &'a U, org: Uuid) -> Result<(), ApiError> {
        let mut conn = self.connection().await?;
        Ok(self
            .users
            .delete_org::<O, C>(&mut *conn, actor, org.into())
            .await?)
    }

    async fn members<'a>(&'a self, actor: &'a U, org: Uuid) -> Result<Vec<MemberAnswer>, ApiError> {
        let mut conn = self.connection().await?;
        let members = self
            .users
            .org_members::<O, C>(&mut *conn, actor, org.into())
            .await?;
        Ok(members
            .iter()
            .map(|member| MemberAnswer {
                user_id: member.membership.user_id.to_string(),
                email: member.user.email().to_owned(),
                role: member.membership.role.clone(),
                joined_at: rfc3339(member.membership.joined_at),
            })
            .collect())
    }

    async fn set_role<'a>(
        &'a self,
        actor: &'a U,
        org: Uuid,
        member: Uuid,
        role: &'a str,
    ) -> Result<(), ApiError> {
        let mut conn = self.connection().await?;
        Ok(self
            .users
            .set_org_role::<O, C>(&mut *conn, actor, org.into(), member.into(), role)
            .await?)
    }

    async fn remove<'a>(&'a self, actor: &'a U, org: Uuid, member: Uuid) -> Result<(), ApiError> {
        let mut conn = self.connection().await?;
        Ok(self
            .users
            .remove_org_member::<O, C>(&mut *conn, actor, org.into(), member.into())
            .await?)
    }

    async fn invite<'a>(
        &'a self,
        actor: &'a U,
        org: Uuid,
        email: &'a str,
        role: Option<&'a str>,
    ) -> Result<Invited, ApiError> {
        let mut conn = self.connection().await?;
        let org = org.into();
        let new = self
            .users
            .invite_to_org::<O, C>(&mut *conn, actor, org, email, role)
            .await?;
        let view = self.users.org::<O, C>(&mut *conn, actor, org).await?;
        Ok(Invited {
            invitation: new.invitation,
            org_name: view.org.name().to_owned(),
            token: new.token,
        })
    }

    async fn invitations<'a>(
        &'a self,
        actor: &'a U,
        org: Uuid,
    ) -> Result<Vec<InvitationAnswer>, ApiError> {
        let mut conn = self.connection().await?;
        let invitations = self
            .users
            .org_invitations::<O, C>(&mut *conn, actor, org.into())
            .await?;
        Ok(invitations.iter().map(InvitationAnswer::of).collect())
    }

    async fn revoke<'a>(
        &'a self,
        actor: &'a U,
        org: Uuid,
        invitation: Uuid,
    ) -> Result<(), ApiError> {
        let mut conn = self.connection().await?;
        Ok(self
            .users
            .revoke_invitation::<O, C>(&mut *conn, actor, org.into(), invitation)
            .await?)
    }

    async fn accept<'a>(&'a self, user: &'a U, token: &'a str) -> Result<OrgAnswer, ApiError> {
        let mut conn = self.connection().await?;
        let view = self
            .users
            .accept_invitation::<O, C>(&mut *conn, user, token)
            .await?;
        Ok(OrgAnswer::of(&view))
    }

    /// Deletes an invitation that could not be mailed.
    async fn withdraw<'a>(&'a self, invitation: Uuid) -> Result<(), ApiError> {
        let mut conn = self.connection().await?;
        O::delete_invitation(&mut *conn, invitation).await?;
        Ok(())
    }

    /// The user's organization role, if they are a member: one primary-key read.
    async fn role_of<'a>(&'a self, user: &'a U, org: Uuid) -> Result<Option<String>, ApiError> {
        let mut conn = self.connection().await?;
        let membership = O::membership(&mut *conn, org.into(), user.id()).await?;
        Ok(membership.map(|membership| membership.role))
    }

    /// Whether the organization role `role` holds `permission`.
    fn allows(&self, role: &str, permission: &str) -> bool {
        users_diesel::normalize_permission(permission)
            .is_ok_and(|permission| self.users.config().org_roles().allows(role, &permission))
    }
}

impl<U, R, O, C> PooledOrgs<U, R, O, C>
where
    U: UserModel,
    R: RoleModel,
    AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
{
    async fn connection(
        &self,
    ) -> Result<users_diesel::asynchronous::deadpool::Object<C>, ApiError> {
        self.pool
            .get()
            .await
            .map_err(|error| ApiError::logged(&error))
    }
}

/// The organization of a request's path (`{org_id}`), and the session user, who is a member
/// of it: `async fn handler(member: OrgMember<User>)`. Someone who is not a member gets 404
/// `org_not_found`, as for an organization that does not exist; without organizations
/// configured ([`UsersState::organizations`]), 404 `not_found`.
#[derive(Clone)]
pub struct OrgMember<U: UserModel> {
    /// The session user.
    pub user: CurrentUser<U>,
    /// The organization's id.
    pub org_id: Uuid,
    /// The user's organization role.
    pub role: String,
}

impl<U: UserModel> Deref for OrgMember<U> {
    type Target = U;

    fn deref(&self) -> &U {
        &self.user.user
    }
}

impl<U: UserModel> fmt::Debug for OrgMember<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrgMember")
            .field("user", &self.user)
            .field("org_id", &self.org_id)
            .field("role", &self.role)
            .finish()
    }
}

impl<U, S> FromRequestParts<S> for OrgMember<U>
where
    U: UserModel,
    UsersState<U>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let users = UsersState::<U>::from_ref(state);
        let orgs = users.orgs()?;
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::bad_request("the path has no `org_id`"))?;
        let org_id = params
            .get("org_id")
            .and_then(|id| parse_uuid(id))
            .ok_or_else(|| ApiError::bad_request("`org_id` must be a UUID"))?;
        let user =
            <CurrentUser<U> as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        let role = orgs
            .role_of(&user.user, org_id)
            .await?
            .ok_or(UsersError::OrgNotFound)?;
        Ok(OrgMember { user, org_id, role })
    }
}

/// The [`OrgMember`] of the path's organization, provided their organization role holds the
/// permission `P` (see [`OrgRoles`](users_diesel::OrgRoles)); otherwise 403 `not_permitted`:
/// `async fn handler(editor: HasOrgPermission<PublishPosts, User>)`. One primary-key read.
pub struct HasOrgPermission<P, U: UserModel> {
    /// The member, whose role holds the permission.
    pub member: OrgMember<U>,
    permission: PhantomData<fn() -> P>,
}

impl<P, U: UserModel> Deref for HasOrgPermission<P, U> {
    type Target = U;

    fn deref(&self) -> &U {
        &self.member.user.user
    }
}

impl<P: PermissionName, U: UserModel> fmt::Debug for HasOrgPermission<P, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HasOrgPermission")
            .field("permission", &P::NAME)
            .field("member", &self.member)
            .finish()
    }
}

impl<P, U, S> FromRequestParts<S> for HasOrgPermission<P, U>
where
    P: PermissionName,
    U: UserModel,
    UsersState<U>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let member = OrgMember::<U>::from_request_parts(parts, state).await?;
        let users = UsersState::<U>::from_ref(state);
        if !users.orgs()?.allows(&member.role, P::NAME) {
            return Err(UsersError::NotPermitted {
                permission: P::NAME.to_owned(),
            }
            .into());
        }
        Ok(HasOrgPermission {
            member,
            permission: PhantomData,
        })
    }
}
