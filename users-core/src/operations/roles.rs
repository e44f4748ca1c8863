//! The role operations of the managers, written once: role-based access control over a
//! [`RoleStore`](crate::RoleStore) or an `AsyncRoleStore`. The parent module describes the
//! helper macros and the flavors.

use users_derive::flavors;

use crate::listing::page_of;
use crate::manager::decisions::{all_names, any_names, deleted_or, lookup_name, new_role, renamed};
#[cfg(feature = "async")]
use crate::{AsyncEventStore, AsyncRoleStore, AsyncUserStore, AsyncUsers};
use crate::{
    EventKind, EventStore, RoleModel, RoleStore, SecurityEvent, UserListing, UserModel, UserPage,
    UserQuery, UserStore, Users, UsersError,
};

#[flavors(
    AsyncEventStore => EventStore,
    AsyncUsers => Users,
    AsyncUserStore => UserStore,
    AsyncRoleStore => RoleStore,
)]
impl<U: UserModel, R: RoleModel> AsyncUsers<U, R> {
    /// Creates a role, with its name normalised by
    /// [`normalize_role_name`](crate::normalize_role_name).
    ///
    /// # Errors
    ///
    /// [`UsersError::RoleExists`] if a role already has this name (compared after
    /// normalisation: `"ADMIN"` and `"admin "` are `"admin"`),
    /// [`UsersError::InvalidRoleName`] for a name no role may have.
    pub async fn create_role<C: Send>(
        &self,
        conn: &mut C,
        name: &str,
        description: Option<&str>,
    ) -> Result<R, UsersError>
    where
        R: AsyncRoleStore<C, User = U>,
    {
        R::insert(conn, &new_role(name, description)?).await
    }

    /// The role with this name (compared after normalisation), if there is one.
    pub async fn find_role<C: Send>(
        &self,
        conn: &mut C,
        name: &str,
    ) -> Result<Option<R>, UsersError>
    where
        R: AsyncRoleStore<C, User = U>,
    {
        match lookup_name(name) {
            Some(name) => R::find_by_name(conn, &name).await,
            None => Ok(None),
        }
    }

    /// The role with this name (compared after normalisation).
    ///
    /// # Errors
    ///
    /// [`UsersError::RoleNotFound`] if there is none.
    pub async fn role<C: Send>(&self, conn: &mut C, name: &str) -> Result<R, UsersError>
    where
        R: AsyncRoleStore<C, User = U>,
    {
        self.find_role(conn, name)
            .await?
            .ok_or(UsersError::RoleNotFound)
    }

    /// Writes a role's fields (its name, normalised, description and custom fields)
    /// and returns it.
    ///
    /// # Errors
    ///
    /// [`UsersError::RoleExists`] if another role has the new name,
    /// [`UsersError::InvalidRoleName`], [`UsersError::RoleNotFound`] if the role is
    /// gone.
    pub async fn update_role<C: Send>(&self, conn: &mut C, role: &R) -> Result<R, UsersError>
    where
        R: AsyncRoleStore<C, User = U>,
    {
        R::update(conn, &renamed(role, role.name())?).await
    }

    /// Renames a role; its assignments stay.
    ///
    /// # Errors
    ///
    /// As [`update_role`](Self::update_role).
    pub async fn rename_role<C: Send>(
        &self,
        conn: &mut C,
        role: &R,
        name: &str,
    ) -> Result<R, UsersError>
    where
        R: AsyncRoleStore<C, User = U>,
    {
        R::update(conn, &renamed(role, name)?).await
    }

    /// Deletes a role and every assignment of it.
    ///
    /// # Errors
    ///
    /// [`UsersError::RoleNotFound`] if there is no such role.
    pub async fn delete_role<C: Send>(&self, conn: &mut C, role: &R) -> Result<(), UsersError>
    where
        R: AsyncRoleStore<C, User = U>,
    {
        deleted_or(R::delete(conn, role.id()).await?, UsersError::RoleNotFound)
    }

    /// Gives `user` the role; assigning it again is `Ok` and changes nothing.
    ///
    /// # Errors
    ///
    /// [`UsersError::UserNotFound`] or [`UsersError::RoleNotFound`] if either is
    /// gone.
    pub async fn assign_role<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        role: &R,
    ) -> Result<(), UsersError>
    where
        U: AsyncUserStore<C>,
        R: AsyncRoleStore<C, User = U>,
        U::Events: AsyncEventStore<C>,
    {
        let users = self.decisions();
        let (user_id, role_id) = (user.id(), role.id());
        recorded!(
            flavor,
            users,
            conn,
            SecurityEvent::new(EventKind::RoleGranted, user_id.into()).about(role.name()),
            |conn| R::assign(conn, user_id, role_id).await,
            |_assigned| true,
        );
        Ok(())
    }

    /// Gives `user` every role in `roles`, all or none: if one assignment fails,
    /// none is kept.
    ///
    /// # Errors
    ///
    /// As [`assign_role`](Self::assign_role), for the first assignment that fails.
    pub async fn assign_roles<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        roles: &[R],
    ) -> Result<(), UsersError>
    where
        U: AsyncUserStore<C>,
        R: AsyncRoleStore<C, User = U>,
    {
        transaction!(flavor, conn, |conn| {
            for role in roles {
                R::assign(conn, user.id(), role.id()).await?;
            }
            Ok(())
        })
    }

    /// Takes the role from `user`; `Ok` whether or not the user had it.
    pub async fn revoke_role<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        role: &R,
    ) -> Result<(), UsersError>
    where
        U: AsyncUserStore<C>,
        R: AsyncRoleStore<C, User = U>,
        U::Events: AsyncEventStore<C>,
    {
        let users = self.decisions();
        let (user_id, role_id) = (user.id(), role.id());
        recorded!(
            flavor,
            users,
            conn,
            SecurityEvent::new(EventKind::RoleRevoked, user_id.into()).about(role.name()),
            |conn| R::revoke(conn, user_id, role_id).await,
            |revoked| *revoked,
        );
        Ok(())
    }

    /// Whether `user` has the role called `name` (compared after normalisation), in
    /// one indexed query. An unknown name, or one no role may have, is simply a role
    /// the user does not have.
    pub async fn has_role<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        name: &str,
    ) -> Result<bool, UsersError>
    where
        R: AsyncRoleStore<C, User = U>,
    {
        let Some(name) = lookup_name(name) else {
            return Ok(false);
        };
        R::has_any_role(conn, user.id(), &[name.as_str()]).await
    }

    /// Whether `user` has at least one of the roles named (compared after
    /// normalisation), in one query; `false` for none.
    pub async fn has_any_role<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        names: &[&str],
    ) -> Result<bool, UsersError>
    where
        R: AsyncRoleStore<C, User = U>,
    {
        let names = any_names(names);
        if names.is_empty() {
            return Ok(false);
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        R::has_any_role(conn, user.id(), &names).await
    }

    /// Whether `user` has every one of the roles named (compared after
    /// normalisation), in one query; `true` for none, `false` if one is a name no
    /// role may have.
    pub async fn has_all_roles<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        names: &[&str],
    ) -> Result<bool, UsersError>
    where
        R: AsyncRoleStore<C, User = U>,
    {
        let Some(distinct) = all_names(names) else {
            return Ok(false);
        };
        if distinct.is_empty() {
            return Ok(true);
        }
        let distinct: Vec<&str> = distinct.iter().map(String::as_str).collect();
        let count = R::count_roles_named(conn, user.id(), &distinct).await?;
        Ok(count == distinct.len())
    }

    /// The roles of `user`, by name.
    pub async fn roles_of<C: Send>(&self, conn: &mut C, user: &U) -> Result<Vec<R>, UsersError>
    where
        R: AsyncRoleStore<C, User = U>,
    {
        R::roles_of(conn, user.id()).await
    }

    /// The user with this id and their roles, by name, read in one query: what a
    /// request that shows or checks the user's roles needs, where
    /// [`get`](Self::get) and [`roles_of`](Self::roles_of) would take two.
    #[allow(clippy::type_complexity)]
    pub async fn user_with_roles<C: Send>(
        &self,
        conn: &mut C,
        id: U::Id,
    ) -> Result<Option<(U, Vec<R>)>, UsersError>
    where
        R: AsyncRoleStore<C, User = U>,
    {
        R::user_with_roles(conn, id).await
    }

    /// The roles of each of `users`, in the same order, loaded in one query (no
    /// N+1).
    pub async fn roles_of_users<C: Send>(
        &self,
        conn: &mut C,
        users: &[U],
    ) -> Result<Vec<Vec<R>>, UsersError>
    where
        R: AsyncRoleStore<C, User = U>,
    {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        R::roles_of_users(conn, users).await
    }

    /// A page of users with their roles: those after `query.after`, oldest first,
    /// that pass its filters; the roles of the whole page come in one query. Pass
    /// the page's `next` as the following query's `after`.
    ///
    /// # Errors
    ///
    /// [`UsersError::RoleNotFound`] if the query's role does not exist,
    /// [`UsersError::InvalidEmail`] for an email prefix with whitespace.
    pub async fn list_users<C: Send>(
        &self,
        conn: &mut C,
        query: &UserQuery,
    ) -> Result<UserPage<U, R>, UsersError>
    where
        U: AsyncUserStore<C>,
        R: AsyncRoleStore<C, User = U>,
    {
        let role = match &query.role {
            Some(name) => {
                let role = self.role(conn, name).await?;
                Some((R::JOIN_TABLE, role.id().into()))
            }
            None => None,
        };
        let listing = UserListing::new(query, role)?;
        let rows = U::list(conn, &listing).await?;
        let (users, next) = page_of(rows, &listing, |user: &U| user.id().into());
        let roles = self.roles_of_users(conn, &users).await?;
        Ok(UserPage {
            users: users.into_iter().zip(roles).collect(),
            next,
        })
    }

    /// Every role, by name.
    pub async fn all_roles<C: Send>(&self, conn: &mut C) -> Result<Vec<R>, UsersError>
    where
        R: AsyncRoleStore<C, User = U>,
    {
        R::all(conn).await
    }

    /// The users who have the role called `name` (compared after normalisation),
    /// oldest first.
    ///
    /// # Errors
    ///
    /// [`UsersError::RoleNotFound`] if no role has this name.
    pub async fn users_with_role<C: Send>(
        &self,
        conn: &mut C,
        name: &str,
    ) -> Result<Vec<U>, UsersError>
    where
        R: AsyncRoleStore<C, User = U>,
    {
        let name = lookup_name(name).ok_or(UsersError::RoleNotFound)?;
        let users = R::users_with_role(conn, &name).await?;
        // Only an empty answer can hide an unknown name; ask once more only then.
        if users.is_empty() && R::find_by_name(conn, &name).await?.is_none() {
            return Err(UsersError::RoleNotFound);
        }
        Ok(users)
    }
}
