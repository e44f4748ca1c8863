//! The organization operations of the managers, written once: organizations, their members
//! and invitations, over an [`OrgStore`](crate::OrgStore) or an `AsyncOrgStore`. The parent
//! module describes the flavors.
//!
//! Each operation by a member first reads that member's membership (one primary-key lookup)
//! and checks their role's permission ([`OrgRoles`](crate::OrgRoles)); someone who is not a
//! member gets [`UsersError::OrgNotFound`], as for an organization that does not exist. The
//! operations that can change who owns the organization (a role change, a removal, leaving,
//! accepting an invitation as owner) run in one transaction that first locks the
//! organization's row, so two of them at once are taken one after the other: two owners
//! demoting each other at once leave one owner.

use std::time::SystemTime;

use users_derive::flavors;

use crate::orgs::{invitation_token, org_name, to_micros};
use crate::{
    normalize_email, normalize_org_slug, normalize_permission, refresh_digest, EventStore,
    NewInvitation, OrgInvitation, OrgMemberOf, OrgMembership, OrgStore, OrgView, RoleModel,
    UserModel, UserStore, Users, UsersError, Uuid, INVITATIONS_CREATE, INVITATIONS_READ,
    INVITATIONS_REVOKE, MEMBERS_READ, MEMBERS_REMOVE, MEMBERS_UPDATE, ORG_DELETE, ORG_MEMBER,
    ORG_OWNER, ORG_UPDATE,
};
#[cfg(feature = "async")]
use crate::{AsyncEventStore, AsyncOrgStore, AsyncUserStore, AsyncUsers};

/// The permission that making, demoting or removing an owner needs: only owners hold it.
const OWNERS_MANAGE: &str = "owners.manage";

impl<U: UserModel, R: RoleModel> Users<U, R> {
    /// Refuses with [`UsersError::NotPermitted`] unless the organization role `role` holds
    /// `permission`.
    fn org_allows(&self, role: &str, permission: &str) -> Result<(), UsersError> {
        match self.config().org_roles().allows(role, permission) {
            true => Ok(()),
            false => Err(UsersError::NotPermitted {
                permission: permission.to_owned(),
            }),
        }
    }

    /// Refuses a change of `member` (holding `from`, to hold `to`) that touches an owner unless
    /// `actor` is one, and one that leaves no owner (`owners` is how many there are).
    fn owner_change(
        &self,
        actor: &str,
        from: &str,
        to: Option<&str>,
        owners: usize,
    ) -> Result<(), UsersError> {
        let touches_owner = from == ORG_OWNER || to == Some(ORG_OWNER);
        if touches_owner {
            self.org_allows(actor, OWNERS_MANAGE)?;
        }
        if from == ORG_OWNER && to != Some(ORG_OWNER) && owners <= 1 {
            return Err(UsersError::LastOwner);
        }
        Ok(())
    }
}

#[flavors(
    AsyncEventStore => EventStore,
    AsyncUsers => Users,
    AsyncUserStore => UserStore,
    AsyncOrgStore => OrgStore,
)]
impl<U: UserModel, R: RoleModel> AsyncUsers<U, R> {
    /// Creates an organization named `name` (trimmed; at most
    /// [`MAX_ORG_NAME_CHARS`](crate::MAX_ORG_NAME_CHARS) characters) whose slug is `slug`, or
    /// the name where `None`, normalised by [`normalize_org_slug`]; `creator` is its owner. One
    /// transaction.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidOrgName`], [`UsersError::OrgExists`] for a slug taken.
    pub async fn create_org<O, C: Send>(
        &self,
        conn: &mut C,
        creator: &U,
        name: &str,
        slug: Option<&str>,
    ) -> Result<O, UsersError>
    where
        U: AsyncUserStore<C>,
        O: AsyncOrgStore<C, User = U>,
    {
        let name = org_name(name)?;
        let slug = normalize_org_slug(slug.unwrap_or(&name))?;
        let org = O::from_name(Uuid::now_v7().into(), name, slug);
        let owner = OrgMembership {
            org_id: org.id().into(),
            user_id: creator.id().into(),
            role: ORG_OWNER.to_owned(),
            joined_at: SystemTime::now(),
        };
        transaction!(flavor, conn, |conn| {
            let org = O::insert(conn, &org).await?;
            O::add_member(conn, &owner).await?;
            Ok(org)
        })
    }

    /// The organization as its member `user` sees it, in one query.
    ///
    /// # Errors
    ///
    /// [`UsersError::OrgNotFound`] if it does not exist or `user` is not a member.
    pub async fn org<O, C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        org: O::Id,
    ) -> Result<OrgView<O>, UsersError>
    where
        O: AsyncOrgStore<C, User = U>,
    {
        O::org_of_member(conn, org, user.id())
            .await?
            .ok_or(UsersError::OrgNotFound)
    }

    /// The organizations `user` belongs to, by name, with their role in each: one query.
    pub async fn orgs<O, C: Send>(
        &self,
        conn: &mut C,
        user: &U,
    ) -> Result<Vec<OrgView<O>>, UsersError>
    where
        O: AsyncOrgStore<C, User = U>,
    {
        O::orgs_of(conn, user.id()).await
    }

    /// Whether `user` is a member of the organization whose role holds `permission` (compared
    /// after normalisation): one primary-key lookup of the membership, the role's permissions
    /// being the configuration's ([`UsersConfig::org_role`](crate::UsersConfig::org_role)).
    /// `false` for a non-member and for a name no permission may have.
    pub async fn has_org_permission<O, C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        org: O::Id,
        permission: &str,
    ) -> Result<bool, UsersError>
    where
        O: AsyncOrgStore<C, User = U>,
    {
        let Ok(permission) = normalize_permission(permission) else {
            return Ok(false);
        };
        let membership = O::membership(conn, org, user.id()).await?;
        Ok(membership.is_some_and(|m| self.config().org_roles().allows(&m.role, &permission)))
    }

    /// Renames the organization and, if `slug` is given, changes its slug; `actor` needs
    /// `org.update`.
    ///
    /// # Errors
    ///
    /// [`UsersError::OrgNotFound`], [`UsersError::NotPermitted`],
    /// [`UsersError::InvalidOrgName`], [`UsersError::OrgExists`].
    pub async fn rename_org<O, C: Send>(
        &self,
        conn: &mut C,
        actor: &U,
        org: O::Id,
        name: &str,
        slug: Option<&str>,
    ) -> Result<O, UsersError>
    where
        O: AsyncOrgStore<C, User = U>,
    {
        let name = org_name(name)?;
        let slug = slug.map(normalize_org_slug).transpose()?;
        let mut view = self.org::<O, C>(conn, actor, org).await?;
        self.decisions().org_allows(&view.role, ORG_UPDATE)?;
        view.org.set_name(name);
        if let Some(slug) = slug {
            view.org.set_slug(slug);
        }
        O::update(conn, &view.org).await
    }

    /// Deletes the organization with its members and invitations; `actor` must be an owner.
    ///
    /// # Errors
    ///
    /// [`UsersError::OrgNotFound`], [`UsersError::NotPermitted`].
    pub async fn delete_org<O, C: Send>(
        &self,
        conn: &mut C,
        actor: &U,
        org: O::Id,
    ) -> Result<(), UsersError>
    where
        O: AsyncOrgStore<C, User = U>,
    {
        Self::member_of::<O, C>(conn, self.decisions(), org, actor.id(), Some(ORG_DELETE)).await?;
        O::delete(conn, org).await?;
        Ok(())
    }

    /// The members of the organization, in the order they joined, with their roles: one query
    /// after the check that `actor` holds `members.read`.
    ///
    /// # Errors
    ///
    /// [`UsersError::OrgNotFound`], [`UsersError::NotPermitted`].
    pub async fn org_members<O, C: Send>(
        &self,
        conn: &mut C,
        actor: &U,
        org: O::Id,
    ) -> Result<Vec<OrgMemberOf<U>>, UsersError>
    where
        O: AsyncOrgStore<C, User = U>,
    {
        Self::member_of::<O, C>(conn, self.decisions(), org, actor.id(), Some(MEMBERS_READ))
            .await?;
        O::members(conn, org).await
    }

    /// Gives `member` the organization role `role`; `actor` needs `members.update`, and must be
    /// an owner to make or demote an owner. The last owner cannot be demoted. One transaction,
    /// the organization's row locked first.
    ///
    /// # Errors
    ///
    /// [`UsersError::OrgNotFound`], [`UsersError::NotPermitted`], [`UsersError::UserNotFound`]
    /// if `member` is not a member, [`UsersError::RoleNotFound`] for a role no member may hold,
    /// [`UsersError::LastOwner`].
    pub async fn set_org_role<O, C: Send>(
        &self,
        conn: &mut C,
        actor: &U,
        org: O::Id,
        member: U::Id,
        role: &str,
    ) -> Result<(), UsersError>
    where
        U: AsyncUserStore<C>,
        O: AsyncOrgStore<C, User = U>,
    {
        let users = self.decisions();
        let role = users.config().org_roles().role(role)?;
        let actor = actor.id();
        transaction!(flavor, conn, |conn| {
            O::find_for_update(conn, org)
                .await?
                .ok_or(UsersError::OrgNotFound)?;
            let mine =
                Self::member_of::<O, C>(conn, users, org, actor, Some(MEMBERS_UPDATE)).await?;
            let theirs = O::membership(conn, org, member)
                .await?
                .ok_or(UsersError::UserNotFound)?;
            let owners = O::count_role(conn, org, ORG_OWNER).await?;
            users.owner_change(&mine.role, &theirs.role, Some(&role), owners)?;
            O::set_member_role(conn, org, member, &role).await?;
            Ok(())
        })
    }

    /// Removes `member` from the organization; `actor` needs `members.remove`, and must be an
    /// owner to remove an owner. The last owner cannot be removed. One transaction, the
    /// organization's row locked first. A member removing themselves is
    /// [`leave_org`](Self::leave_org).
    ///
    /// # Errors
    ///
    /// As [`set_org_role`](Self::set_org_role).
    pub async fn remove_org_member<O, C: Send>(
        &self,
        conn: &mut C,
        actor: &U,
        org: O::Id,
        member: U::Id,
    ) -> Result<(), UsersError>
    where
        U: AsyncUserStore<C>,
        O: AsyncOrgStore<C, User = U>,
    {
        let users = self.decisions();
        let actor = actor.id();
        transaction!(flavor, conn, |conn| {
            O::find_for_update(conn, org)
                .await?
                .ok_or(UsersError::OrgNotFound)?;
            // Leaving needs no permission.
            let needs = (actor != member).then_some(MEMBERS_REMOVE);
            let mine = Self::member_of::<O, C>(conn, users, org, actor, needs).await?;
            let theirs = O::membership(conn, org, member)
                .await?
                .ok_or(UsersError::UserNotFound)?;
            let owners = O::count_role(conn, org, ORG_OWNER).await?;
            let actor_role = match actor == member {
                // Leaving needs no permission; the last owner still cannot.
                true => ORG_OWNER,
                false => mine.role.as_str(),
            };
            users.owner_change(actor_role, &theirs.role, None, owners)?;
            O::remove_member(conn, org, member).await?;
            Ok(())
        })
    }

    /// `user` leaves the organization; the last owner cannot.
    ///
    /// # Errors
    ///
    /// [`UsersError::OrgNotFound`] if `user` is not a member, [`UsersError::LastOwner`].
    pub async fn leave_org<O, C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        org: O::Id,
    ) -> Result<(), UsersError>
    where
        U: AsyncUserStore<C>,
        O: AsyncOrgStore<C, User = U>,
    {
        self.remove_org_member::<O, C>(conn, user, org, user.id())
            .await
    }

    /// Invites `email` to the organization as `role` (`member` where `None`): a pending
    /// invitation stored with the digest of a single-use token that expires after
    /// [`UsersConfig::invitation_lifetime`](crate::UsersConfig::invitation_lifetime), and the
    /// token, to mail to the address. `actor` needs `invitations.create`, and must be an owner
    /// to invite an owner. At most as many pending invitations per organization and per
    /// inviter as [`UsersConfig::invitation_limits`](crate::UsersConfig::invitation_limits)
    /// allows, counted with the organization's row locked.
    ///
    /// # Errors
    ///
    /// [`UsersError::OrgNotFound`], [`UsersError::NotPermitted`],
    /// [`UsersError::InvalidEmail`], [`UsersError::RoleNotFound`],
    /// [`UsersError::AlreadyMember`] if the address is a member's,
    /// [`UsersError::TooManyInvitations`].
    pub async fn invite_to_org<O, C: Send>(
        &self,
        conn: &mut C,
        actor: &U,
        org: O::Id,
        email: &str,
        role: Option<&str>,
    ) -> Result<NewInvitation, UsersError>
    where
        U: AsyncUserStore<C>,
        O: AsyncOrgStore<C, User = U>,
    {
        let users = self.decisions();
        let config = users.config();
        let email = normalize_email(email)?;
        let role = config.org_roles().role(role.unwrap_or(ORG_MEMBER))?;
        let (per_org, per_inviter) = config.invitation_caps();
        let now = to_micros(SystemTime::now());
        let (token, token_digest) = invitation_token();
        let invitation = OrgInvitation {
            id: Uuid::now_v7(),
            org_id: org.into(),
            email,
            role,
            invited_by: Some(actor.id().into()),
            token_digest,
            created_at: now,
            expires_at: to_micros(now + config.invitation_ttl()),
            accepted_at: None,
        };
        let actor = actor.id();
        let stored = &invitation;
        transaction!(flavor, conn, |conn| {
            O::find_for_update(conn, org)
                .await?
                .ok_or(UsersError::OrgNotFound)?;
            let mine =
                Self::member_of::<O, C>(conn, users, org, actor, Some(INVITATIONS_CREATE)).await?;
            if stored.role == ORG_OWNER {
                users.org_allows(&mine.role, OWNERS_MANAGE)?;
            }
            if let Some(invitee) = U::find_by_email(conn, &stored.email).await? {
                if O::membership(conn, org, invitee.id()).await?.is_some() {
                    return Err(UsersError::AlreadyMember);
                }
            }
            let (pending, mine) = O::count_pending_invitations(conn, org, actor, now).await?;
            if pending >= per_org || mine >= per_inviter {
                return Err(UsersError::TooManyInvitations);
            }
            O::insert_invitation(conn, stored).await
        })?;
        Ok(NewInvitation { invitation, token })
    }

    /// The organization's pending invitations, oldest first; `actor` needs
    /// `invitations.read`.
    ///
    /// # Errors
    ///
    /// [`UsersError::OrgNotFound`], [`UsersError::NotPermitted`].
    pub async fn org_invitations<O, C: Send>(
        &self,
        conn: &mut C,
        actor: &U,
        org: O::Id,
    ) -> Result<Vec<OrgInvitation>, UsersError>
    where
        O: AsyncOrgStore<C, User = U>,
    {
        Self::member_of::<O, C>(
            conn,
            self.decisions(),
            org,
            actor.id(),
            Some(INVITATIONS_READ),
        )
        .await?;
        O::pending_invitations(conn, org, SystemTime::now()).await
    }

    /// Revokes a pending invitation of the organization, so its token no longer works;
    /// `actor` needs `invitations.revoke`.
    ///
    /// # Errors
    ///
    /// [`UsersError::OrgNotFound`], [`UsersError::NotPermitted`],
    /// [`UsersError::InvitationNotFound`] if the organization has no pending invitation with
    /// this id.
    pub async fn revoke_invitation<O, C: Send>(
        &self,
        conn: &mut C,
        actor: &U,
        org: O::Id,
        invitation: Uuid,
    ) -> Result<(), UsersError>
    where
        O: AsyncOrgStore<C, User = U>,
    {
        Self::member_of::<O, C>(
            conn,
            self.decisions(),
            org,
            actor.id(),
            Some(INVITATIONS_REVOKE),
        )
        .await?;
        let found = O::invitation(conn, org, invitation).await?;
        if !found.is_some_and(|found| found.is_pending(SystemTime::now())) {
            return Err(UsersError::InvitationNotFound);
        }
        O::delete_invitation(conn, invitation).await?;
        Ok(())
    }

    /// The pending invitation whose token is `token`.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`] for a token of no invitation, or of one accepted,
    /// declined, revoked or expired.
    pub async fn invitation_of<O, C: Send>(
        &self,
        conn: &mut C,
        token: &str,
    ) -> Result<OrgInvitation, UsersError>
    where
        O: AsyncOrgStore<C, User = U>,
    {
        let invitation = O::invitation_by_digest(conn, &refresh_digest(token)).await?;
        invitation
            .filter(|invitation| invitation.is_pending(SystemTime::now()))
            .ok_or(UsersError::InvalidToken)
    }

    /// `user` accepts the invitation whose token is `token`: they become a member with its
    /// role, and the token is used up. The invitation must have been sent to `user`'s address,
    /// and that address verified. One transaction: of two acceptances of one token at once,
    /// one makes the membership and the other fails.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`] (see [`invitation_of`](Self::invitation_of), and for a
    /// token another acceptance used first), [`UsersError::InvitationForAnotherAddress`],
    /// [`UsersError::UnverifiedUser`], [`UsersError::AlreadyMember`] (the invitation stays
    /// pending).
    pub async fn accept_invitation<O, C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        token: &str,
    ) -> Result<OrgView<O>, UsersError>
    where
        U: AsyncUserStore<C>,
        O: AsyncOrgStore<C, User = U>,
    {
        let invitation = self.invitation_of::<O, C>(conn, token).await?;
        if invitation.email != user.email() {
            return Err(UsersError::InvitationForAnotherAddress);
        }
        if !user.is_verified() {
            return Err(UsersError::UnverifiedUser);
        }
        self.join_by_invitation::<O, C>(conn, &invitation, user, false)
            .await
    }

    /// The invitee declines the invitation whose token is `token`: it is deleted. The
    /// invitation must have been sent to `user`'s address.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`], [`UsersError::InvitationForAnotherAddress`].
    pub async fn decline_invitation<O, C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        token: &str,
    ) -> Result<(), UsersError>
    where
        O: AsyncOrgStore<C, User = U>,
    {
        let invitation = self.invitation_of::<O, C>(conn, token).await?;
        if invitation.email != user.email() {
            return Err(UsersError::InvitationForAnotherAddress);
        }
        O::delete_invitation(conn, invitation.id).await?;
        Ok(())
    }

    /// Registers a new user through the invitation whose token is `token`, at its address and
    /// with `password`, and makes them a member: the token, mailed to that address, proves it,
    /// so the new user is verified. The user is stored first (argon2 runs outside any
    /// transaction), then verified and made a member in one transaction with the token used up.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`], [`UsersError::EmailTaken`] if the address has an account
    /// (its owner signs in and accepts), the errors of [`register`](Self::register).
    pub async fn register_from_invitation<O, C: Send>(
        &self,
        conn: &mut C,
        token: &str,
        password: &str,
    ) -> Result<(U, OrgView<O>), UsersError>
    where
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
        O: AsyncOrgStore<C, User = U>,
    {
        let invitation = self.invitation_of::<O, C>(conn, token).await?;
        let mut user = self.register(conn, &invitation.email, password).await?;
        user.set_verified(true);
        let view = self
            .join_by_invitation::<O, C>(conn, &invitation, &user, true)
            .await?;
        Ok((user, view))
    }

    /// The membership of `actor` in the organization, provided their role holds `permission`
    /// (where one is needed): one primary-key read.
    ///
    /// # Errors
    ///
    /// [`UsersError::OrgNotFound`] for a non-member (as for no organization),
    /// [`UsersError::NotPermitted`].
    async fn member_of<O, C: Send>(
        conn: &mut C,
        users: &Users<U, R>,
        org: O::Id,
        actor: U::Id,
        permission: Option<&str>,
    ) -> Result<OrgMembership, UsersError>
    where
        O: AsyncOrgStore<C, User = U>,
    {
        let membership = O::membership(conn, org, actor)
            .await?
            .ok_or(UsersError::OrgNotFound)?;
        if let Some(permission) = permission {
            users.org_allows(&membership.role, permission)?;
        }
        Ok(membership)
    }

    /// Makes `user` a member by `invitation`, in one transaction with the organization's row
    /// locked: the invitation is marked accepted if still pending (else
    /// [`UsersError::InvalidToken`]: another acceptance came first), the membership added
    /// (else [`UsersError::AlreadyMember`], and nothing changed), and, if `verify`, `user`
    /// (already marked verified) stored.
    async fn join_by_invitation<O, C: Send>(
        &self,
        conn: &mut C,
        invitation: &OrgInvitation,
        user: &U,
        verify: bool,
    ) -> Result<OrgView<O>, UsersError>
    where
        U: AsyncUserStore<C>,
        O: AsyncOrgStore<C, User = U>,
    {
        let org = invitation.org_id.into();
        transaction!(flavor, conn, |conn| {
            O::find_for_update(conn, org)
                .await?
                .ok_or(UsersError::InvalidToken)?;
            let now = SystemTime::now();
            if !O::accept_invitation(conn, invitation.id, now).await? {
                return Err(UsersError::InvalidToken);
            }
            let membership = OrgMembership {
                org_id: invitation.org_id,
                user_id: user.id().into(),
                role: invitation.role.clone(),
                joined_at: now,
            };
            if !O::add_member(conn, &membership).await? {
                return Err(UsersError::AlreadyMember);
            }
            if verify {
                U::update(conn, user).await?;
            }
            O::org_of_member(conn, org, user.id())
                .await?
                .ok_or(UsersError::OrgNotFound)
        })
    }
}
