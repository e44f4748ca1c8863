//! Role-based access control: the role operations of [`AsyncUsers`], each as its twin in
//! [`Users`](crate::Users).

use scoped_futures::ScopedFutureExt;

use super::AsyncUsers;
use crate::manager::roles::{deleted_or, distinct, new_role, renamed};
use crate::{AsyncRoleStore, AsyncUserStore, RoleModel, UserModel, UsersError};

impl<U: UserModel, R: RoleModel> AsyncUsers<U, R> {
    /// Creates a role.
    ///
    /// # Errors
    ///
    /// [`UsersError::RoleExists`] if a role already has this name.
    pub async fn create_role<C>(
        &self,
        conn: &mut C,
        name: &str,
        description: Option<&str>,
    ) -> Result<R, UsersError>
    where
        C: Send,
        R: AsyncRoleStore<C, User = U>,
    {
        R::insert(conn, &new_role(name, description)).await
    }

    /// The role with this name, if there is one.
    pub async fn find_role<C>(&self, conn: &mut C, name: &str) -> Result<Option<R>, UsersError>
    where
        C: Send,
        R: AsyncRoleStore<C, User = U>,
    {
        R::find_by_name(conn, name).await
    }

    /// The role with this name.
    ///
    /// # Errors
    ///
    /// [`UsersError::RoleNotFound`] if there is none.
    pub async fn role<C>(&self, conn: &mut C, name: &str) -> Result<R, UsersError>
    where
        C: Send,
        R: AsyncRoleStore<C, User = U>,
    {
        R::find_by_name(conn, name)
            .await?
            .ok_or(UsersError::RoleNotFound)
    }

    /// Writes a role's fields (its name, description and custom fields) and returns it.
    ///
    /// # Errors
    ///
    /// [`UsersError::RoleExists`] if another role has the new name,
    /// [`UsersError::RoleNotFound`] if the role is gone.
    pub async fn update_role<C>(&self, conn: &mut C, role: &R) -> Result<R, UsersError>
    where
        C: Send,
        R: AsyncRoleStore<C, User = U>,
    {
        R::update(conn, role).await
    }

    /// Renames a role; its assignments stay.
    ///
    /// # Errors
    ///
    /// As [`update_role`](Self::update_role).
    pub async fn rename_role<C>(&self, conn: &mut C, role: &R, name: &str) -> Result<R, UsersError>
    where
        C: Send,
        R: AsyncRoleStore<C, User = U>,
    {
        R::update(conn, &renamed(role, name)).await
    }

    /// Deletes a role and every assignment of it.
    ///
    /// # Errors
    ///
    /// [`UsersError::RoleNotFound`] if there is no such role.
    pub async fn delete_role<C>(&self, conn: &mut C, role: &R) -> Result<(), UsersError>
    where
        C: Send,
        R: AsyncRoleStore<C, User = U>,
    {
        deleted_or(R::delete(conn, role.id()).await?, UsersError::RoleNotFound)
    }

    /// Gives `user` the role; assigning it again is `Ok` and changes nothing.
    ///
    /// # Errors
    ///
    /// [`UsersError::UserNotFound`] or [`UsersError::RoleNotFound`] if either is gone.
    pub async fn assign_role<C>(&self, conn: &mut C, user: &U, role: &R) -> Result<(), UsersError>
    where
        C: Send,
        R: AsyncRoleStore<C, User = U>,
    {
        R::assign(conn, user.id(), role.id()).await
    }

    /// Gives `user` every role in `roles`, all or none: if one assignment fails, none is kept.
    ///
    /// # Errors
    ///
    /// As [`assign_role`](Self::assign_role), for the first assignment that fails.
    pub async fn assign_roles<C>(
        &self,
        conn: &mut C,
        user: &U,
        roles: &[R],
    ) -> Result<(), UsersError>
    where
        C: Send,
        U: AsyncUserStore<C>,
        R: AsyncRoleStore<C, User = U>,
    {
        U::transaction(conn, move |conn| {
            async move {
                for role in roles {
                    R::assign(conn, user.id(), role.id()).await?;
                }
                Ok(())
            }
            .scope_boxed()
        })
        .await
    }

    /// Takes the role from `user`; `Ok` whether or not the user had it.
    pub async fn revoke_role<C>(&self, conn: &mut C, user: &U, role: &R) -> Result<(), UsersError>
    where
        C: Send,
        R: AsyncRoleStore<C, User = U>,
    {
        R::revoke(conn, user.id(), role.id()).await.map(drop)
    }

    /// Whether `user` has the role called `name`, in one indexed query. An unknown name is
    /// simply a role the user does not have.
    pub async fn has_role<C>(&self, conn: &mut C, user: &U, name: &str) -> Result<bool, UsersError>
    where
        C: Send,
        R: AsyncRoleStore<C, User = U>,
    {
        R::has_any_role(conn, user.id(), &[name]).await
    }

    /// Whether `user` has at least one of the roles named, in one query; `false` for none.
    pub async fn has_any_role<C>(
        &self,
        conn: &mut C,
        user: &U,
        names: &[&str],
    ) -> Result<bool, UsersError>
    where
        C: Send,
        R: AsyncRoleStore<C, User = U>,
    {
        if names.is_empty() {
            return Ok(false);
        }
        R::has_any_role(conn, user.id(), names).await
    }

    /// Whether `user` has every one of the roles named, in one query; `true` for none.
    pub async fn has_all_roles<C>(
        &self,
        conn: &mut C,
        user: &U,
        names: &[&str],
    ) -> Result<bool, UsersError>
    where
        C: Send,
        R: AsyncRoleStore<C, User = U>,
    {
        let distinct = distinct(names);
        if distinct.is_empty() {
            return Ok(true);
        }
        Ok(R::count_roles_named(conn, user.id(), &distinct).await? == distinct.len())
    }

    /// The roles of `user`, by name.
    pub async fn roles_of<C>(&self, conn: &mut C, user: &U) -> Result<Vec<R>, UsersError>
    where
        C: Send,
        R: AsyncRoleStore<C, User = U>,
    {
        R::roles_of(conn, user.id()).await
    }

    /// The roles of each of `users`, in the same order, loaded in one query (no N+1).
    pub async fn roles_of_users<C>(
        &self,
        conn: &mut C,
        users: &[U],
    ) -> Result<Vec<Vec<R>>, UsersError>
    where
        C: Send,
        R: AsyncRoleStore<C, User = U>,
    {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        R::roles_of_users(conn, users).await
    }

    /// The users who have the role called `name`, oldest first.
    ///
    /// # Errors
    ///
    /// [`UsersError::RoleNotFound`] if no role has this name.
    pub async fn users_with_role<C>(&self, conn: &mut C, name: &str) -> Result<Vec<U>, UsersError>
    where
        C: Send,
        R: AsyncRoleStore<C, User = U>,
    {
        let users = R::users_with_role(conn, name).await?;
        // Only an empty answer can hide an unknown name; ask once more only then.
        if users.is_empty() && R::find_by_name(conn, name).await?.is_none() {
            return Err(UsersError::RoleNotFound);
        }
        Ok(users)
    }
}
