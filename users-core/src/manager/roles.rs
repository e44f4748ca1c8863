//! Role-based access control: the role operations of [`Users`].

use super::Users;
use crate::{RoleModel, RoleStore, UserModel, UserStore, UsersError};

/// A new role with a fresh UUIDv7 id.
pub(crate) fn new_role<R: RoleModel>(name: &str, description: Option<&str>) -> R {
    R::from_name(
        uuid::Uuid::now_v7().into(),
        name.to_owned(),
        description.map(str::to_owned),
    )
}

/// `role` with a new name.
pub(crate) fn renamed<R: RoleModel>(role: &R, name: &str) -> R {
    let mut renamed = role.clone();
    renamed.set_name(name.to_owned());
    renamed
}

/// The names of a `has_all_roles` check, each once.
pub(crate) fn distinct<'n>(names: &[&'n str]) -> Vec<&'n str> {
    let mut distinct = names.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    distinct
}

/// `Ok` if a delete found its row, `missing` otherwise.
pub(crate) fn deleted_or(deleted: bool, missing: UsersError) -> Result<(), UsersError> {
    if deleted {
        Ok(())
    } else {
        Err(missing)
    }
}

impl<U: UserModel, R: RoleModel> Users<U, R> {
    /// Creates a role.
    ///
    /// # Errors
    ///
    /// [`UsersError::RoleExists`] if a role already has this name.
    pub fn create_role<C>(
        &self,
        conn: &mut C,
        name: &str,
        description: Option<&str>,
    ) -> Result<R, UsersError>
    where
        R: RoleStore<C, User = U>,
    {
        R::insert(conn, &new_role(name, description))
    }

    /// The role with this name, if there is one.
    pub fn find_role<C>(&self, conn: &mut C, name: &str) -> Result<Option<R>, UsersError>
    where
        R: RoleStore<C, User = U>,
    {
        R::find_by_name(conn, name)
    }

    /// The role with this name.
    ///
    /// # Errors
    ///
    /// [`UsersError::RoleNotFound`] if there is none.
    pub fn role<C>(&self, conn: &mut C, name: &str) -> Result<R, UsersError>
    where
        R: RoleStore<C, User = U>,
    {
        R::find_by_name(conn, name)?.ok_or(UsersError::RoleNotFound)
    }

    /// Writes a role's fields (its name, description and custom fields) and returns it.
    ///
    /// # Errors
    ///
    /// [`UsersError::RoleExists`] if another role has the new name,
    /// [`UsersError::RoleNotFound`] if the role is gone.
    pub fn update_role<C>(&self, conn: &mut C, role: &R) -> Result<R, UsersError>
    where
        R: RoleStore<C, User = U>,
    {
        R::update(conn, role)
    }

    /// Renames a role; its assignments stay.
    ///
    /// # Errors
    ///
    /// As [`update_role`](Self::update_role).
    pub fn rename_role<C>(&self, conn: &mut C, role: &R, name: &str) -> Result<R, UsersError>
    where
        R: RoleStore<C, User = U>,
    {
        R::update(conn, &renamed(role, name))
    }

    /// Deletes a role and every assignment of it.
    ///
    /// # Errors
    ///
    /// [`UsersError::RoleNotFound`] if there is no such role.
    pub fn delete_role<C>(&self, conn: &mut C, role: &R) -> Result<(), UsersError>
    where
        R: RoleStore<C, User = U>,
    {
        deleted_or(R::delete(conn, role.id())?, UsersError::RoleNotFound)
    }

    /// Gives `user` the role; assigning it again is `Ok` and changes nothing.
    ///
    /// # Errors
    ///
    /// [`UsersError::UserNotFound`] or [`UsersError::RoleNotFound`] if either is gone.
    pub fn assign_role<C>(&self, conn: &mut C, user: &U, role: &R) -> Result<(), UsersError>
    where
        R: RoleStore<C, User = U>,
    {
        R::assign(conn, user.id(), role.id())
    }

    /// Gives `user` every role in `roles`, all or none: if one assignment fails, none is kept.
    ///
    /// # Errors
    ///
    /// As [`assign_role`](Self::assign_role), for the first assignment that fails.
    pub fn assign_roles<C>(&self, conn: &mut C, user: &U, roles: &[R]) -> Result<(), UsersError>
    where
        U: UserStore<C>,
        R: RoleStore<C, User = U>,
    {
        U::transaction(conn, |conn| {
            roles
                .iter()
                .try_for_each(|role| R::assign(conn, user.id(), role.id()))
        })
    }

    /// Takes the role from `user`; `Ok` whether or not the user had it.
    pub fn revoke_role<C>(&self, conn: &mut C, user: &U, role: &R) -> Result<(), UsersError>
    where
        R: RoleStore<C, User = U>,
    {
        R::revoke(conn, user.id(), role.id()).map(drop)
    }

    /// Whether `user` has the role called `name`, in one indexed query. An unknown name is
    /// simply a role the user does not have.
    pub fn has_role<C>(&self, conn: &mut C, user: &U, name: &str) -> Result<bool, UsersError>
    where
        R: RoleStore<C, User = U>,
    {
        R::has_any_role(conn, user.id(), &[name])
    }

    /// Whether `user` has at least one of the roles named, in one query; `false` for none.
    pub fn has_any_role<C>(
        &self,
        conn: &mut C,
        user: &U,
        names: &[&str],
    ) -> Result<bool, UsersError>
    where
        R: RoleStore<C, User = U>,
    {
        if names.is_empty() {
            return Ok(false);
        }
        R::has_any_role(conn, user.id(), names)
    }

    /// Whether `user` has every one of the roles named, in one query; `true` for none.
    pub fn has_all_roles<C>(
        &self,
        conn: &mut C,
        user: &U,
        names: &[&str],
    ) -> Result<bool, UsersError>
    where
        R: RoleStore<C, User = U>,
    {
        let distinct = distinct(names);
        if distinct.is_empty() {
            return Ok(true);
        }
        Ok(R::count_roles_named(conn, user.id(), &distinct)? == distinct.len())
    }

    /// The roles of `user`, by name.
    pub fn roles_of<C>(&self, conn: &mut C, user: &U) -> Result<Vec<R>, UsersError>
    where
        R: RoleStore<C, User = U>,
    {
        R::roles_of(conn, user.id())
    }

    /// The roles of each of `users`, in the same order, loaded in one query (no N+1).
    pub fn roles_of_users<C>(&self, conn: &mut C, users: &[U]) -> Result<Vec<Vec<R>>, UsersError>
    where
        R: RoleStore<C, User = U>,
    {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        R::roles_of_users(conn, users)
    }

    /// The users who have the role called `name`, oldest first.
    ///
    /// # Errors
    ///
    /// [`UsersError::RoleNotFound`] if no role has this name.
    pub fn users_with_role<C>(&self, conn: &mut C, name: &str) -> Result<Vec<U>, UsersError>
    where
        R: RoleStore<C, User = U>,
    {
        let users = R::users_with_role(conn, name)?;
        // Only an empty answer can hide an unknown name; ask once more only then.
        if users.is_empty() && R::find_by_name(conn, name)?.is_none() {
            return Err(UsersError::RoleNotFound);
        }
        Ok(users)
    }
}
