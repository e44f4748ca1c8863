//! The manager and the pool behind the routes, with the role model and the connection type
//! erased, so that routes, extractors and application state name only the user model.

use std::future::Future;

use deadpool::managed::Manager;
use serde::Serialize;
use users_diesel::asynchronous::deadpool::Pool;
use users_diesel::asynchronous::diesel_async::pooled_connection::PoolError;
use users_diesel::asynchronous::AsyncDieselConnectionManager;
use users_diesel::scoped_futures::ScopedFutureExt;
use users_diesel::{
    AsyncRoleStore, AsyncUserStore, AsyncUsers, RoleModel, UserModel, UsersConfig, UsersError, Uuid,
};

use crate::{ApiError, BoxFuture};

/// A change to a user, made on the row as it is inside the transaction.
pub(crate) type Edit<'a, U> = Box<dyn FnOnce(&mut U) -> Result<(), UsersError> + Send + 'a>;

/// A role as the routes show it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct RoleView {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
}

/// What the routes and extractors do with the database, each operation on a pooled connection.
pub(crate) trait Backend<U: UserModel>: Send + Sync + 'static {
    fn config(&self) -> &UsersConfig;
    fn verification_token(&self, user: &U) -> Result<String, UsersError>;
    fn reset_token(&self, user: &U) -> String;

    fn register<'a>(
        &'a self,
        email: &'a str,
        password: &'a str,
        customize: Box<dyn FnOnce(&mut U) + Send + 'a>,
    ) -> BoxFuture<'a, Result<U, ApiError>>;
    fn authenticate<'a>(
        &'a self,
        email: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<U, ApiError>>;
    fn get(&self, id: U::Id) -> BoxFuture<'_, Result<Option<U>, ApiError>>;
    fn find_by_email<'a>(&'a self, email: &'a str) -> BoxFuture<'a, Result<Option<U>, ApiError>>;
    /// In one transaction: applies `edit` (if any) to the locked row and stores it with the
    /// manager's `update`, then changes the password (if asked) with `change_password`.
    fn edit<'a>(
        &'a self,
        id: U::Id,
        edit: Option<Edit<'a, U>>,
        password: Option<(&'a str, &'a str)>,
    ) -> BoxFuture<'a, Result<U, ApiError>>;
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<U, ApiError>>;
    fn reset_password<'a>(
        &'a self,
        token: &'a str,
        new: &'a str,
    ) -> BoxFuture<'a, Result<U, ApiError>>;

    fn create_role<'a>(
        &'a self,
        name: &'a str,
        description: Option<&'a str>,
    ) -> BoxFuture<'a, Result<RoleView, ApiError>>;
    /// Assigns (`assign`) or revokes the role called `role` to or from user `user`.
    fn set_role<'a>(
        &'a self,
        role: &'a str,
        user: U::Id,
        assign: bool,
    ) -> BoxFuture<'a, Result<(), ApiError>>;
    /// Whether `user` has all (`all`) or any of the roles named.
    fn has_roles<'a>(
        &'a self,
        user: &'a U,
        names: &'a [&'a str],
        all: bool,
    ) -> BoxFuture<'a, Result<bool, ApiError>>;
    fn role_names<'a>(&'a self, user: &'a U) -> BoxFuture<'a, Result<Vec<String>, ApiError>>;
}

/// [`AsyncUsers`] over a deadpool [`Pool`] of connections `C`.
pub(crate) struct Pooled<U: UserModel, R: RoleModel, C>
where
    AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
{
    pub(crate) users: AsyncUsers<U, R>,
    pub(crate) pool: Pool<C>,
}

impl<U, R, C> Pooled<U, R, C>
where
    U: AsyncUserStore<C>,
    R: AsyncRoleStore<C, User = U>,
    C: Send + 'static,
    AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
{
    /// Runs `work` on a connection from the pool.
    fn with_conn<'a, T, F, Fut>(&'a self, work: F) -> BoxFuture<'a, Result<T, ApiError>>
    where
        T: Send + 'a,
        F: FnOnce(&'a AsyncUsers<U, R>, users_diesel::asynchronous::deadpool::Object<C>) -> Fut
            + Send
            + 'a,
        Fut: Future<Output = Result<T, ApiError>> + Send + 'a,
    {
        Box::pin(async move {
            let conn = self
                .pool
                .get()
                .await
                .map_err(|error| ApiError::logged(&error))?;
            work(&self.users, conn).await
        })
    }
}

impl<U, R, C> Backend<U> for Pooled<U, R, C>
where
    U: AsyncUserStore<C>,
    R: AsyncRoleStore<C, User = U>,
    C: Send + 'static,
    AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
{
    fn config(&self) -> &UsersConfig {
        self.users.config()
    }

    fn verification_token(&self, user: &U) -> Result<String, UsersError> {
        self.users.verification_token(user)
    }

    fn reset_token(&self, user: &U) -> String {
        self.users.as_sync().password_reset_token_for(user)
    }

    fn register<'a>(
        &'a self,
        email: &'a str,
        password: &'a str,
        customize: Box<dyn FnOnce(&mut U) + Send + 'a>,
    ) -> BoxFuture<'a, Result<U, ApiError>> {
        self.with_conn(move |users, mut conn| async move {
            Ok(users
                .register_with(&mut *conn, email, password, customize)
                .await?)
        })
    }

    fn authenticate<'a>(
        &'a self,
        email: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<U, ApiError>> {
        self.with_conn(move |users, mut conn| async move {
            Ok(users.authenticate(&mut *conn, email, password).await?)
        })
    }

    fn get(&self, id: U::Id) -> BoxFuture<'_, Result<Option<U>, ApiError>> {
        self.with_conn(move |users, mut conn| async move { Ok(users.get(&mut *conn, id).await?) })
    }

    fn find_by_email<'a>(&'a self, email: &'a str) -> BoxFuture<'a, Result<Option<U>, ApiError>> {
        self.with_conn(move |users, mut conn| async move {
            Ok(users.find_by_email(&mut *conn, email).await?)
        })
    }

    fn edit<'a>(
        &'a self,
        id: U::Id,
        edit: Option<Edit<'a, U>>,
        password: Option<(&'a str, &'a str)>,
    ) -> BoxFuture<'a, Result<U, ApiError>> {
        self.with_conn(move |users, mut conn| async move {
            let edited = U::transaction(&mut *conn, move |conn| {
                async move {
                    let mut user = U::find_for_update(conn, id)
                        .await?
                        .ok_or(UsersError::UserNotFound)?;
                    if let Some(edit) = edit {
                        edit(&mut user)?;
                        user = users.update(conn, &user).await?;
                    }
                    if let Some((current, new)) = password {
                        user = users.change_password(conn, &user, current, new).await?;
                    }
                    Ok(user)
                }
                .scope_boxed()
            });
            Ok(edited.await?)
        })
    }

    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<U, ApiError>> {
        self.with_conn(
            move |users, mut conn| async move { Ok(users.verify(&mut *conn, token).await?) },
        )
    }

    fn reset_password<'a>(
        &'a self,
        token: &'a str,
        new: &'a str,
    ) -> BoxFuture<'a, Result<U, ApiError>> {
        self.with_conn(move |users, mut conn| async move {
            Ok(users.reset_password(&mut *conn, token, new).await?)
        })
    }

    fn create_role<'a>(
        &'a self,
        name: &'a str,
        description: Option<&'a str>,
    ) -> BoxFuture<'a, Result<RoleView, ApiError>> {
        self.with_conn(move |users, mut conn| async move {
            let role = users.create_role(&mut *conn, name, description).await?;
            Ok(RoleView {
                id: Into::<Uuid>::into(role.id()).to_string(),
                name: role.name().to_owned(),
                description: role.description().map(str::to_owned),
            })
        })
    }

    fn set_role<'a>(
        &'a self,
        role: &'a str,
        user: U::Id,
        assign: bool,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        self.with_conn(move |users, mut conn| async move {
            let role = users.role(&mut *conn, role).await?;
            let user = users
                .get(&mut *conn, user)
                .await?
                .ok_or(UsersError::UserNotFound)?;
            if assign {
                users.assign_role(&mut *conn, &user, &role).await?;
            } else {
                users.revoke_role(&mut *conn, &user, &role).await?;
            }
            Ok(())
        })
    }

    fn has_roles<'a>(
        &'a self,
        user: &'a U,
        names: &'a [&'a str],
        all: bool,
    ) -> BoxFuture<'a, Result<bool, ApiError>> {
        self.with_conn(move |users, mut conn| async move {
            Ok(if all {
                users.has_all_roles(&mut *conn, user, names).await?
            } else {
                users.has_any_role(&mut *conn, user, names).await?
            })
        })
    }

    fn role_names<'a>(&'a self, user: &'a U) -> BoxFuture<'a, Result<Vec<String>, ApiError>> {
        self.with_conn(move |users, mut conn| async move {
            let roles = users.roles_of(&mut *conn, user).await?;
            Ok(roles.iter().map(|role| role.name().to_owned()).collect())
        })
    }
}
