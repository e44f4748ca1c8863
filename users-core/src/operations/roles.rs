//! The role operations of the managers, written once: role-based access control over a
//! [`RoleStore`](crate::RoleStore) or an `AsyncRoleStore`. The parent module describes the
//! helper macros and the flavors.

/// The role operations of a manager, over user stores named `$UserStore` and role stores named
/// `$RoleStore`.
macro_rules! role_operations {
    ($flavor:tt, $Manager:ident, $UserStore:ident, $RoleStore:ident) => {
        impl<U: UserModel, R: RoleModel> $Manager<U, R> {
            operation! { $flavor,
                /// Creates a role, with its name normalised by
                /// [`normalize_role_name`](crate::normalize_role_name).
                ///
                /// # Errors
                ///
                /// [`UsersError::RoleExists`] if a role already has this name (compared after
                /// normalisation: `"ADMIN"` and `"admin "` are `"admin"`),
                /// [`UsersError::InvalidRoleName`] for a name no role may have.
                pub fn create_role<C>(
                    &self,
                    conn: &mut C,
                    name: &str,
                    description: Option<&str>,
                ) -> Result<R, UsersError>
                where
                    R: $RoleStore<C, User = U>,
                {
                    step!($flavor, R::insert(conn, &new_role(name, description)?))
                }
            }

            operation! { $flavor,
                /// The role with this name (compared after normalisation), if there is one.
                pub fn find_role<C>(&self, conn: &mut C, name: &str) -> Result<Option<R>, UsersError>
                where
                    R: $RoleStore<C, User = U>,
                {
                    match lookup_name(name) {
                        Some(name) => step!($flavor, R::find_by_name(conn, &name)),
                        None => Ok(None),
                    }
                }
            }

            operation! { $flavor,
                /// The role with this name (compared after normalisation).
                ///
                /// # Errors
                ///
                /// [`UsersError::RoleNotFound`] if there is none.
                pub fn role<C>(&self, conn: &mut C, name: &str) -> Result<R, UsersError>
                where
                    R: $RoleStore<C, User = U>,
                {
                    step!($flavor, self.find_role(conn, name))?.ok_or(UsersError::RoleNotFound)
                }
            }

            operation! { $flavor,
                /// Writes a role's fields (its name, normalised, description and custom fields)
                /// and returns it.
                ///
                /// # Errors
                ///
                /// [`UsersError::RoleExists`] if another role has the new name,
                /// [`UsersError::InvalidRoleName`], [`UsersError::RoleNotFound`] if the role is
                /// gone.
                pub fn update_role<C>(&self, conn: &mut C, role: &R) -> Result<R, UsersError>
                where
                    R: $RoleStore<C, User = U>,
                {
                    step!($flavor, R::update(conn, &renamed(role, role.name())?))
                }
            }

            operation! { $flavor,
                /// Renames a role; its assignments stay.
                ///
                /// # Errors
                ///
                /// As [`update_role`](Self::update_role).
                pub fn rename_role<C>(&self, conn: &mut C, role: &R, name: &str) -> Result<R, UsersError>
                where
                    R: $RoleStore<C, User = U>,
                {
                    step!($flavor, R::update(conn, &renamed(role, name)?))
                }
            }

            operation! { $flavor,
                /// Deletes a role and every assignment of it.
                ///
                /// # Errors
                ///
                /// [`UsersError::RoleNotFound`] if there is no such role.
                pub fn delete_role<C>(&self, conn: &mut C, role: &R) -> Result<(), UsersError>
                where
                    R: $RoleStore<C, User = U>,
                {
                    deleted_or(step!($flavor, R::delete(conn, role.id()))?, UsersError::RoleNotFound)
                }
            }

            operation! { $flavor,
                /// Gives `user` the role; assigning it again is `Ok` and changes nothing.
                ///
                /// # Errors
                ///
                /// [`UsersError::UserNotFound`] or [`UsersError::RoleNotFound`] if either is
                /// gone.
                pub fn assign_role<C>(&self, conn: &mut C, user: &U, role: &R) -> Result<(), UsersError>
                where
                    R: $RoleStore<C, User = U>,
                {
                    step!($flavor, R::assign(conn, user.id(), role.id()))
                }
            }

            operation! { $flavor,
                /// Gives `user` every role in `roles`, all or none: if one assignment fails,
                /// none is kept.
                ///
                /// # Errors
                ///
                /// As [`assign_role`](Self::assign_role), for the first assignment that fails.
                pub fn assign_roles<C>(
                    &self,
                    conn: &mut C,
                    user: &U,
                    roles: &[R],
                ) -> Result<(), UsersError>
                where
                    U: $UserStore<C>,
                    R: $RoleStore<C, User = U>,
                {
                    transaction!($flavor, conn, |conn| {
                        for role in roles {
                            step!($flavor, R::assign(conn, user.id(), role.id()))?;
                        }
                        Ok(())
                    })
                }
            }

            operation! { $flavor,
                /// Takes the role from `user`; `Ok` whether or not the user had it.
                pub fn revoke_role<C>(&self, conn: &mut C, user: &U, role: &R) -> Result<(), UsersError>
                where
                    R: $RoleStore<C, User = U>,
                {
                    step!($flavor, R::revoke(conn, user.id(), role.id())).map(drop)
                }
            }

            operation! { $flavor,
                /// Whether `user` has the role called `name` (compared after normalisation), in
                /// one indexed query. An unknown name, or one no role may have, is simply a role
                /// the user does not have.
                pub fn has_role<C>(&self, conn: &mut C, user: &U, name: &str) -> Result<bool, UsersError>
                where
                    R: $RoleStore<C, User = U>,
                {
                    let Some(name) = lookup_name(name) else {
                        return Ok(false);
                    };
                    step!($flavor, R::has_any_role(conn, user.id(), &[name.as_str()]))
                }
            }

            operation! { $flavor,
                /// Whether `user` has at least one of the roles named (compared after
                /// normalisation), in one query; `false` for none.
                pub fn has_any_role<C>(
                    &self,
                    conn: &mut C,
                    user: &U,
                    names: &[&str],
                ) -> Result<bool, UsersError>
                where
                    R: $RoleStore<C, User = U>,
                {
                    let names = any_names(names);
                    if names.is_empty() {
                        return Ok(false);
                    }
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    step!($flavor, R::has_any_role(conn, user.id(), &names))
                }
            }

            operation! { $flavor,
                /// Whether `user` has every one of the roles named (compared after
                /// normalisation), in one query; `true` for none, `false` if one is a name no
                /// role may have.
                pub fn has_all_roles<C>(
                    &self,
                    conn: &mut C,
                    user: &U,
                    names: &[&str],
                ) -> Result<bool, UsersError>
                where
                    R: $RoleStore<C, User = U>,
                {
                    let Some(distinct) = all_names(names) else {
                        return Ok(false);
                    };
                    if distinct.is_empty() {
                        return Ok(true);
                    }
                    let distinct: Vec<&str> = distinct.iter().map(String::as_str).collect();
                    let count = step!($flavor, R::count_roles_named(conn, user.id(), &distinct))?;
                    Ok(count == distinct.len())
                }
            }

            operation! { $flavor,
                /// The roles of `user`, by name.
                pub fn roles_of<C>(&self, conn: &mut C, user: &U) -> Result<Vec<R>, UsersError>
                where
                    R: $RoleStore<C, User = U>,
                {
                    step!($flavor, R::roles_of(conn, user.id()))
                }
            }

            operation! { $flavor,
                /// The roles of each of `users`, in the same order, loaded in one query (no
                /// N+1).
                pub fn roles_of_users<C>(
                    &self,
                    conn: &mut C,
                    users: &[U],
                ) -> Result<Vec<Vec<R>>, UsersError>
                where
                    R: $RoleStore<C, User = U>,
                {
                    if users.is_empty() {
                        return Ok(Vec::new());
                    }
                    step!($flavor, R::roles_of_users(conn, users))
                }
            }

            operation! { $flavor,
                /// A page of users with their roles: those after `query.after`, oldest first,
                /// that pass its filters; the roles of the whole page come in one query. Pass
                /// the page's `next` as the following query's `after`.
                ///
                /// # Errors
                ///
                /// [`UsersError::RoleNotFound`] if the query's role does not exist,
                /// [`UsersError::InvalidEmail`] for an email prefix with whitespace.
                pub fn list_users<C>(
                    &self,
                    conn: &mut C,
                    query: &UserQuery,
                ) -> Result<UserPage<U, R>, UsersError>
                where
                    U: $UserStore<C>,
                    R: $RoleStore<C, User = U>,
                {
                    let role = match &query.role {
                        Some(name) => {
                            let role = step!($flavor, self.role(conn, name))?;
                            Some((R::JOIN_TABLE, role.id().into()))
                        }
                        None => None,
                    };
                    let listing = UserListing::new(query, role)?;
                    let rows = step!($flavor, U::list(conn, &listing))?;
                    let (users, next) = page_of(rows, &listing, |user: &U| user.id().into());
                    let roles = step!($flavor, self.roles_of_users(conn, &users))?;
                    Ok(UserPage { users: users.into_iter().zip(roles).collect(), next })
                }
            }

            operation! { $flavor,
                /// Every role, by name.
                pub fn all_roles<C>(&self, conn: &mut C) -> Result<Vec<R>, UsersError>
                where
                    R: $RoleStore<C, User = U>,
                {
                    step!($flavor, R::all(conn))
                }
            }

            operation! { $flavor,
                /// The users who have the role called `name` (compared after normalisation),
                /// oldest first.
                ///
                /// # Errors
                ///
                /// [`UsersError::RoleNotFound`] if no role has this name.
                pub fn users_with_role<C>(&self, conn: &mut C, name: &str) -> Result<Vec<U>, UsersError>
                where
                    R: $RoleStore<C, User = U>,
                {
                    let name = lookup_name(name).ok_or(UsersError::RoleNotFound)?;
                    let users = step!($flavor, R::users_with_role(conn, &name))?;
                    // Only an empty answer can hide an unknown name; ask once more only then.
                    if users.is_empty() && step!($flavor, R::find_by_name(conn, &name))?.is_none() {
                        return Err(UsersError::RoleNotFound);
                    }
                    Ok(users)
                }
            }
        }
    };
}
