//! The permission operations of the managers, written once: permissions granted to roles and
//! checked for users, over a [`RoleStore`](crate::RoleStore) or an `AsyncRoleStore`. The parent
//! module describes the flavors.

use users_derive::flavors;

use crate::text::normalize_permission;
#[cfg(feature = "async")]
use crate::{AsyncRoleStore, AsyncUsers};
use crate::{RoleModel, RoleStore, UserModel, Users, UsersError};

#[flavors(
    AsyncUsers => Users,
    AsyncRoleStore => RoleStore,
)]
impl<U: UserModel, R: RoleModel> AsyncUsers<U, R> {
    /// Grants `role` the permission `name` (e.g. `"posts.edit"`), normalised by
    /// [`normalize_permission`](crate::normalize_permission); granting it again changes nothing.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidPermission`] for a name no permission may have,
    /// [`UsersError::RoleNotFound`] if the role is gone.
    pub async fn grant_permission<C: Send>(
        &self,
        conn: &mut C,
        role: &R,
        name: &str,
    ) -> Result<(), UsersError>
    where
        R: AsyncRoleStore<C, User = U>,
    {
        let permission = normalize_permission(name)?;
        R::grant_permission(conn, role.id(), &permission).await
    }

    /// Takes the permission `name` (compared after normalisation) from `role`; `false` if the
    /// role did not have it.
    pub async fn revoke_permission<C: Send>(
        &self,
        conn: &mut C,
        role: &R,
        name: &str,
    ) -> Result<bool, UsersError>
    where
        R: AsyncRoleStore<C, User = U>,
    {
        match normalize_permission(name) {
            Ok(permission) => R::revoke_permission(conn, role.id(), &permission).await,
            Err(_) => Ok(false),
        }
    }

    /// The permissions of `role`, by name.
    pub async fn permissions<C: Send>(
        &self,
        conn: &mut C,
        role: &R,
    ) -> Result<Vec<String>, UsersError>
    where
        R: AsyncRoleStore<C, User = U>,
    {
        R::permissions_of(conn, role.id()).await
    }

    /// Whether one of `user`'s roles has the permission `name` (compared after normalisation),
    /// in one indexed query; `false` for a name no permission may have.
    pub async fn has_permission<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        name: &str,
    ) -> Result<bool, UsersError>
    where
        R: AsyncRoleStore<C, User = U>,
    {
        match normalize_permission(name) {
            Ok(permission) => R::has_permission(conn, user.id(), &permission).await,
            Err(_) => Ok(false),
        }
    }
}
