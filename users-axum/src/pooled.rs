//! The manager and the pool behind the routes, with the role model and the connection type
//! erased, so that routes, extractors and application state name only the user model.

use std::future::Future;

use deadpool::managed::Manager;
use serde::Serialize;
use users_diesel::asynchronous::deadpool::{Object, Pool};
use users_diesel::asynchronous::diesel_async::pooled_connection::PoolError;
use users_diesel::asynchronous::AsyncDieselConnectionManager;
use users_diesel::scoped_futures::ScopedFutureExt;
use users_diesel::{
    AsyncRoleStore, AsyncUserStore, AsyncUsers, RoleModel, UserModel, UserQuery, UsersConfig,
    UsersError, Uuid,
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

impl RoleView {
    fn of<R: RoleModel>(role: &R) -> RoleView {
        RoleView {
            id: Into::<Uuid>::into(role.id()).to_string(),
            name: role.name().to_owned(),
            description: role.description().map(str::to_owned),
        }
    }
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
        F: FnOnce(&'a AsyncUsers<U, R>, Object<C>) -> Fut + Send + 'a,
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

/// Declares each database operation of the routes once: its line in the [`PooledUsers`] trait
/// and its body over the manager and a pooled connection in the impl for [`Pooled`].
macro_rules! pooled_operations {
    ($(
        $(#[$doc:meta])*
        fn $name:ident<$a:lifetime>($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty
            = |$users:ident, $conn:ident| $body:expr;
    )*) => {
        /// What the routes and extractors do with the database, each operation on a pooled
        /// connection; the manager's own settings and tokens, which need none.
        pub(crate) trait PooledUsers<U: UserModel>: Send + Sync + 'static {
            fn config(&self) -> &UsersConfig;
            fn verification_token(&self, user: &U) -> Result<String, UsersError>;
            fn reset_token(&self, user: &U) -> String;
            fn count_mail<'a>(&'a self, address: &'a str) -> BoxFuture<'a, Result<(), ApiError>>;

            $(
                $(#[$doc])*
                fn $name<$a>(&$a self, $($arg: $ty),*) -> BoxFuture<$a, Result<$ret, ApiError>>;
            )*
        }

        impl<U, R, C> PooledUsers<U> for Pooled<U, R, C>
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
                self.users.password_reset_token_for(user)
            }

            fn count_mail<'a>(&'a self, address: &'a str) -> BoxFuture<'a, Result<(), ApiError>> {
                Box::pin(async move { Ok(self.users.count_mail(address).await?) })
            }

            $(
                fn $name<$a>(&$a self, $($arg: $ty),*) -> BoxFuture<$a, Result<$ret, ApiError>> {
                    self.with_conn(move |$users, mut $conn| async move { $body })
                }
            )*
        }
    };
}

pooled_operations! {
    fn register<'a>(
        email: &'a str,
        password: &'a str,
        customize: Box<dyn FnOnce(&mut U) + Send + 'a>,
    ) -> U = |users, conn| {
        Ok(users.register_with(&mut *conn, email, password, customize).await?)
    };

    fn authenticate<'a>(client: Option<&'a str>, email: &'a str, password: &'a str) -> U = |users, conn| {
        Ok(users.authenticate_from(&mut *conn, client, email, password).await?)
    };

    fn get<'a>(id: U::Id) -> Option<U> = |users, conn| Ok(users.get(&mut *conn, id).await?);

    fn find_by_email<'a>(email: &'a str) -> Option<U> = |users, conn| {
        Ok(users.find_by_email(&mut *conn, email).await?)
    };

    /// In one transaction: applies `edit` (if any) to the locked row and stores it with the
    /// manager's `update`, then changes the password (if asked) with `change_password`.
    fn edit<'a>(
        id: U::Id,
        edit: Option<Edit<'a, U>>,
        password: Option<(&'a str, &'a str)>,
    ) -> U = |users, conn| {
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
    };

    fn delete<'a>(id: U::Id) -> () = |users, conn| Ok(users.delete(&mut *conn, id).await?);

    /// Deletes the role called `name` and its assignments.
    fn delete_role<'a>(name: &'a str) -> () = |users, conn| {
        let role = users.role(&mut *conn, name).await?;
        Ok(users.delete_role(&mut *conn, &role).await?)
    };

    fn verify<'a>(token: &'a str) -> U = |users, conn| Ok(users.verify(&mut *conn, token).await?);

    fn reset_password<'a>(token: &'a str, new: &'a str) -> U = |users, conn| {
        Ok(users.reset_password(&mut *conn, token, new).await?)
    };

    fn create_role<'a>(name: &'a str, description: Option<&'a str>) -> RoleView = |users, conn| {
        let role = users.create_role(&mut *conn, name, description).await?;
        Ok(RoleView::of(&role))
    };

    /// Assigns (`assign`) or revokes the role called `role` to or from user `user`.
    fn set_role<'a>(role: &'a str, user: U::Id, assign: bool) -> () = |users, conn| {
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
    };

    /// Whether `user` has all (`all`) or any of the roles named.
    fn has_roles<'a>(user: &'a U, names: &'a [&'a str], all: bool) -> bool = |users, conn| {
        Ok(if all {
            users.has_all_roles(&mut *conn, user, names).await?
        } else {
            users.has_any_role(&mut *conn, user, names).await?
        })
    };

    /// A page of users, each with the names of their roles.
    fn list_users<'a>(query: &'a UserQuery) -> (Vec<(U, Vec<String>)>, Option<Uuid>) = |users, conn| {
        let page = users.list_users(&mut *conn, query).await?;
        let users = page
            .users
            .into_iter()
            .map(|(user, roles)| (user, roles.iter().map(|role| role.name().to_owned()).collect()))
            .collect();
        Ok((users, page.next))
    };

    fn all_roles<'a>() -> Vec<RoleView> = |users, conn| {
        let roles = users.all_roles(&mut *conn).await?;
        Ok(roles.iter().map(RoleView::of).collect())
    };

    fn role_names<'a>(user: &'a U) -> Vec<String> = |users, conn| {
        let roles = users.roles_of(&mut *conn, user).await?;
        Ok(roles.iter().map(|role| role.name().to_owned()).collect())
    };
}
