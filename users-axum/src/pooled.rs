//! The manager and the pool behind the routes, with the role model and the connection type
//! erased, so that routes, extractors and application state name only the user model.

use std::future::Future;
use std::sync::Arc;

use deadpool::managed::Manager;
use serde::Serialize;
use users_diesel::asynchronous::deadpool::{Object, Pool};
use users_diesel::asynchronous::diesel_async::pooled_connection::PoolError;
use users_diesel::asynchronous::AsyncDieselConnectionManager;
use users_diesel::scoped_futures::ScopedFutureExt;
#[cfg(feature = "passkeys")]
use users_diesel::PasskeyRecord;
use users_diesel::{
    AsyncConnections, AsyncOAuthAccountStore, AsyncRoleStore, AsyncSecondFactorStore,
    AsyncSessionStore, AsyncUserStore, AsyncUsers, FirstProofClears, GuardKeys, OpenedToken,
    ProofOutcome, RoleModel, SecondFactorChallenge, SecondFactorProof, SecondFactorRecord,
    SessionCheck, SessionOrigin, SessionPolicy, SessionTokens, StoredSession, TotpEnrollment,
    UserModel, UserQuery, UsersConfig, UsersError, Uuid,
};
#[cfg(feature = "oidc")]
use users_diesel::{OAuthAccountRecord, OAuthSignIn, ProviderIdentity};

use crate::{ApiError, BoxFuture};

/// A change to a user, made on the row as it is inside the transaction.
pub(crate) type Edit<'a, U> = Box<dyn FnOnce(&mut U) -> Result<(), UsersError> + Send + 'a>;

/// A role as the routes show it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Role)]
pub(crate) struct RoleView {
    #[schema(format = "uuid")]
    pub(crate) id: String,
    pub(crate) name: String,
    #[schema(required = true)]
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

/// The body of a [`PooledUsers`] operation on [`Pooled`]: on a connection taken first, or
/// (`over`) on the pool itself.
macro_rules! pooled_body {
    ($pooled:ident, |$users:ident, $conn:ident| $body:expr) => {
        $pooled.with_conn(move |$users, mut $conn| async move { $body })
    };
    ($pooled:ident, over |$users:ident, $pool:ident| $body:expr) => {{
        let $users = &$pooled.users;
        #[allow(unused_mut)] // Only some operations take a connection of their own.
        let mut $pool = FromPool($pooled.pool.clone());
        Box::pin(async move { $body })
    }};
}

/// A deadpool [`Pool`] (a handle to it, as cheap to clone as an `Arc`) as the manager's `…_over`
/// operations take it: a pooled connection for each database step, given back in between.
struct FromPool<C>(Pool<C>)
where
    AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>;

impl<C> AsyncConnections<C> for FromPool<C>
where
    C: Send + 'static,
    AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
{
    type Connection<'a>
        = Object<C>
    where
        Self: 'a;

    async fn connection(&mut self) -> Result<Object<C>, UsersError> {
        self.0.get().await.map_err(UsersError::database)
    }
}

/// Declares each database operation of the routes once: its line in the [`PooledUsers`] trait
/// and its body over the manager and a pooled connection in the impl for [`Pooled`].
///
/// An operation written `= |users, conn| body` runs on a connection taken before it starts; one
/// written `= over |users, pool| body` is given the pool as
/// [`AsyncConnections`](users_diesel::AsyncConnections), for the manager's `…_over`
/// operations, which take a connection only for each database step and none while argon2 runs.
macro_rules! pooled_operations {
    ($(
        $(#[$doc:meta])*
        fn $name:ident<$a:lifetime>($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty
            = $($over:ident)? |$users:ident, $conn:ident| $body:expr;
    )*) => {
        /// What the routes and extractors do with the database, each operation on a pooled
        /// connection; the manager's own settings and tokens, which need none.
        pub(crate) trait PooledUsers<U: UserModel>: Send + Sync + 'static {
            fn config(&self) -> &UsersConfig;
            fn verification_token(&self, user: &U) -> Result<String, UsersError>;
            fn reset_token(&self, user: &U) -> String;
            fn count_mail<'a>(&'a self, client: Option<&'a str>, address: &'a str) -> BoxFuture<'a, Result<(), ApiError>>;
            fn check_guard<'a>(&'a self, keys: &'a GuardKeys) -> BoxFuture<'a, Result<(), ApiError>>;
            fn settle_guard<'a>(&'a self, keys: &'a GuardKeys, outcome: ProofOutcome) -> BoxFuture<'a, Result<(), ApiError>>;
            /// The same operations over a manager that clears `clears` at an address's first
            /// proof.
            fn first_proof_clears(&self, clears: FirstProofClears) -> Arc<dyn PooledUsers<U>>;
            /// Whether the manager records security events.
            fn records_events(&self) -> bool;
            /// The same operations over a manager acting for the administrator `actor`.
            fn acting_for(&self, actor: Uuid) -> Arc<dyn PooledUsers<U>>;
            /// The same operations over a manager serving a client of this user agent.
            fn with_user_agent(&self, user_agent: Option<&str>) -> Arc<dyn PooledUsers<U>>;

            $(
                $(#[$doc])*
                fn $name<$a>(&$a self, $($arg: $ty),*) -> BoxFuture<$a, Result<$ret, ApiError>>;
            )*
        }

        impl<U, R, C> PooledUsers<U> for Pooled<U, R, C>
        where
            U: AsyncUserStore<C>,
            U::Sessions: AsyncSessionStore<C>,
            U::SecondFactors: AsyncSecondFactorStore<C>,
            U::OAuthAccounts: AsyncOAuthAccountStore<C>,
            U::Events: users_diesel::AsyncEventStore<C>,
        U::Events: users_diesel::AsyncEventStore<C>,
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

            fn count_mail<'a>(&'a self, client: Option<&'a str>, address: &'a str) -> BoxFuture<'a, Result<(), ApiError>> {
                Box::pin(async move { Ok(self.users.count_mail_from(client, address).await?) })
            }

            fn check_guard<'a>(&'a self, keys: &'a GuardKeys) -> BoxFuture<'a, Result<(), ApiError>> {
                Box::pin(async move { Ok(self.users.check_guard(keys).await?) })
            }

            fn settle_guard<'a>(&'a self, keys: &'a GuardKeys, outcome: ProofOutcome) -> BoxFuture<'a, Result<(), ApiError>> {
                Box::pin(async move { Ok(self.users.settle_guard(keys, outcome).await?) })
            }

            fn records_events(&self) -> bool {
                self.users.records_events()
            }

            fn with_user_agent(&self, user_agent: Option<&str>) -> Arc<dyn PooledUsers<U>> {
                Arc::new(Pooled {
                    users: self.users.clone().with_user_agent(user_agent),
                    pool: self.pool.clone(),
                })
            }

            fn acting_for(&self, actor: Uuid) -> Arc<dyn PooledUsers<U>> {
                Arc::new(Pooled {
                    users: self.users.clone().acting_for(actor),
                    pool: self.pool.clone(),
                })
            }

            fn first_proof_clears(&self, clears: FirstProofClears) -> Arc<dyn PooledUsers<U>> {
                Arc::new(Pooled {
                    users: self.users.clone().first_proof_clears(clears),
                    pool: self.pool.clone(),
                })
            }

            $(
                $(#[$doc])*
                fn $name<$a>(&$a self, $($arg: $ty),*) -> BoxFuture<$a, Result<$ret, ApiError>> {
                    pooled_body!(self, $($over)? |$users, $conn| $body)
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
    ) -> U = over |users, pool| {
        Ok(users.register_over(pool, email, password, customize).await?)
    };

    fn authenticate<'a>(client: Option<&'a str>, email: &'a str, password: &'a str) -> U = over |users, pool| {
        Ok(users.authenticate_over(pool, client, email, password).await?)
    };

    fn get<'a>(id: U::Id) -> Option<U> = |users, conn| Ok(users.get(&mut *conn, id).await?);

    fn find_by_email<'a>(email: &'a str) -> Option<U> = |users, conn| {
        Ok(users.find_by_email(&mut *conn, email).await?)
    };

    /// In one transaction: applies `edit` (if any) to the locked row of `user` and stores it as
    /// the manager's `update` does, then gives it the email `email` (if any: an administrator's
    /// change, by `set_email`); or, with a new password, `edit` and the password change, the
    /// password checked and hashed by `change_password_over` before the transaction, holding no
    /// connection meanwhile (a user's own change, which never carries an `email`).
    fn edit<'a>(
        user: &'a U,
        edit: Option<Edit<'a, U>>,
        password: Option<(&'a str, &'a str)>,
        email: Option<&'a str>,
    ) -> U = over |users, pool| {
        if let Some((current, new)) = password {
            let edit = edit.unwrap_or_else(|| Box::new(|_| Ok(())));
            return Ok(users.change_password_over(pool, user, current, new, edit).await?);
        }
        let id = user.id();
        let mut conn = pool.connection().await?;
        let edited = U::transaction(&mut *conn, move |conn| {
            async move {
                let mut user = U::find_for_update(conn, id)
                    .await?
                    .ok_or(UsersError::UserNotFound)?;
                if let Some(edit) = edit {
                    edit(&mut user)?;
                    user = users.update(conn, &user).await?;
                }
                if let Some(email) = email {
                    user = users.set_email(conn, &user, email).await?;
                }
                Ok(user)
            }
            .scope_boxed()
        });
        Ok(edited.await?)
    };

    /// Checks the current password of `user` and returns the token that makes `new_email` its
    /// address once used; see the manager's `request_email_change`.
    fn request_email_change<'a>(user: &'a U, current: &'a str, new_email: &'a str) -> String
        = over |users, pool| {
        Ok(users.request_email_change_over(pool, user, current, new_email).await?)
    };

    fn delete<'a>(id: U::Id) -> () = |users, conn| Ok(users.delete(&mut *conn, id).await?);

    /// Deletes the role called `name` and its assignments.
    fn delete_role<'a>(name: &'a str) -> () = |users, conn| {
        let role = users.role(&mut *conn, name).await?;
        Ok(users.delete_role(&mut *conn, &role).await?)
    };

    fn verify<'a>(token: &'a str) -> U = |users, conn| Ok(users.verify(&mut *conn, token).await?);

    fn reset_password<'a>(token: &'a str, new: &'a str) -> U = over |users, pool| {
        Ok(users.reset_password_over(pool, token, new).await?)
    };

    fn create_role<'a>(name: &'a str, description: Option<&'a str>) -> RoleView = |users, conn| {
        let role = users.create_role(&mut *conn, name, description).await?;
        Ok(RoleView::of(&role))
    };

    /// Whether user `user` is the only active user with the role called `role`.
    fn sole_holder<'a>(role: &'a str, user: U::Id) -> bool = |users, conn| {
        let holders = match users.users_with_role(&mut *conn, role).await {
            Err(UsersError::RoleNotFound) => return Ok(false),
            holders => holders?,
        };
        let mut active = holders.iter().filter(|holder| holder.is_active());
        Ok(matches!((active.next(), active.next()), (Some(only), None) if only.id() == user))
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

    /// Starts a stored session of `user`, who has just logged in.
    fn start_session<'a>(user: &'a U, origin: SessionOrigin, policy: &'a SessionPolicy) -> SessionTokens
        = |users, conn| Ok(users.start_session(&mut *conn, user, origin, policy).await?);

    /// The user of a stored session's access token, on one connection: the session's row
    /// (checked, touched when due), then the user; `None` if the session or the user is gone.
    fn session_user<'a>(token: &'a OpenedToken, policy: &'a SessionPolicy) -> Option<U> = |users, conn| {
        match users.check_session(&mut *conn, token, policy).await? {
            SessionCheck::Live(_) => Ok(users.get(&mut *conn, token.user_id().into()).await?),
            SessionCheck::Ended => Ok(None),
        }
    };

    /// [`session_user`](PooledUsers::session_user) and the names of the user's roles, on the
    /// same connection: what `GET /users/me` answers, with one pool checkout.
    fn session_user_roles<'a>(token: &'a OpenedToken, policy: &'a SessionPolicy) -> Option<(U, Vec<String>)> = |users, conn| {
        let user = match users.check_session(&mut *conn, token, policy).await? {
            SessionCheck::Live(_) => users.get(&mut *conn, token.user_id().into()).await?,
            SessionCheck::Ended => None,
        };
        match user {
            Some(user) => {
                let roles = users.roles_of(&mut *conn, &user).await?;
                let names = roles.iter().map(|role| role.name().to_owned()).collect();
                Ok(Some((user, names)))
            }
            None => Ok(None),
        }
    };

    /// The user with this id and the names of their roles, on one connection.
    fn user_roles<'a>(id: U::Id) -> Option<(U, Vec<String>)> = |users, conn| {
        match users.get(&mut *conn, id).await? {
            Some(user) => {
                let roles = users.roles_of(&mut *conn, &user).await?;
                let names = roles.iter().map(|role| role.name().to_owned()).collect();
                Ok(Some((user, names)))
            }
            None => Ok(None),
        }
    };

    /// Swaps a refresh token for new tokens of its session.
    fn refresh_session<'a>(token: &'a str, policy: &'a SessionPolicy) -> SessionTokens
        = |users, conn| Ok(users.refresh_session(&mut *conn, token, policy).await?);

    /// Ends every other session of `user` and renews `session`'s tokens.
    fn renew_session<'a>(user: &'a U, session: Uuid, policy: &'a SessionPolicy) -> SessionTokens
        = |users, conn| Ok(users.renew_session(&mut *conn, user, session, policy).await?);

    fn events<'a>(query: &'a users_diesel::EventQuery) -> Vec<users_diesel::SecurityEvent>
        = |users, conn| Ok(users.events(&mut *conn, query).await?);

    fn sign_ins<'a>(user: &'a U) -> users_diesel::SignIns
        = |users, conn| Ok(users.sign_ins(&mut *conn, user).await?);

    fn sessions<'a>(user: &'a U) -> Vec<StoredSession> = |users, conn| {
        Ok(users.sessions(&mut *conn, user).await?)
    };

    fn end_session<'a>(user: &'a U, session: Uuid) -> bool = |users, conn| {
        Ok(users.end_session(&mut *conn, user, session).await?)
    };

    fn end_other_sessions<'a>(user: &'a U, keep: Uuid) -> usize = |users, conn| {
        Ok(users.end_other_sessions(&mut *conn, user, keep).await?)
    };

    fn end_all_sessions<'a>(user: U::Id) -> usize = |users, conn| {
        Ok(users.end_all_sessions(&mut *conn, user).await?)
    };

    fn second_factors<'a>(user: &'a U) -> SecondFactorRecord = |users, conn| {
        Ok(users.second_factors(&mut *conn, user).await?)
    };

    fn enroll_totp<'a>(user: &'a U, issuer: &'a str) -> TotpEnrollment = |users, conn| {
        Ok(users.enroll_totp(&mut *conn, user, issuer).await?)
    };

    fn confirm_totp<'a>(client: Option<&'a str>, user: &'a U, code: &'a str) -> Vec<String>
        = |users, conn| Ok(users.confirm_totp(&mut *conn, client, user, code).await?);

    fn check_second_factor<'a>(client: Option<&'a str>, user: &'a U, proof: SecondFactorProof<'a>) -> ()
        = |users, conn| Ok(users.check_second_factor(&mut *conn, client, user, proof).await?);

    fn regenerate_recovery_codes<'a>(user: &'a U) -> Vec<String> = |users, conn| {
        Ok(users.regenerate_recovery_codes(&mut *conn, user).await?)
    };

    fn remove_totp<'a>(user: &'a U) -> bool = |users, conn| Ok(users.remove_totp(&mut *conn, user).await?);

    fn second_factor_challenge<'a>(user: &'a U) -> Option<SecondFactorChallenge> = |users, conn| {
        Ok(users.second_factor_challenge(&mut *conn, user).await?)
    };

    fn complete_second_factor<'a>(client: Option<&'a str>, token: &'a str, proof: SecondFactorProof<'a>) -> U
        = |users, conn| Ok(users.complete_second_factor(&mut *conn, client, token, proof).await?);

    #[cfg(feature = "passkeys")]
    fn passkeys<'a>(user: &'a U) -> Vec<PasskeyRecord> = |users, conn| {
        Ok(users.passkeys(&mut *conn, user).await?)
    };

    #[cfg(feature = "passkeys")]
    fn add_passkey<'a>(user: &'a U, credential_id: &'a str, credential: &'a str, name: Option<&'a str>) -> PasskeyRecord
        = |users, conn| Ok(users.add_passkey(&mut *conn, user, credential_id, credential, name).await?);

    #[cfg(feature = "passkeys")]
    fn remove_passkey<'a>(user: &'a U, id: Uuid) -> bool = |users, conn| {
        Ok(users.remove_passkey(&mut *conn, user, id).await?)
    };

    #[cfg(feature = "passkeys")]
    fn pending_login<'a>(token: &'a str) -> (U, i64) = |users, conn| {
        Ok(users.pending_login(&mut *conn, token).await?)
    };

    #[cfg(feature = "passkeys")]
    fn complete_with_passkey<'a>(user: &'a U, version: i64, passkey: &'a PasskeyRecord) -> ()
        = |users, conn| Ok(users.complete_with_passkey(&mut *conn, user, version, passkey).await?);

    /// Signs in with a checked provider account; the refusals said for the provider.
    #[cfg(feature = "oidc")]
    fn oauth_sign_in<'a>(identity: &'a ProviderIdentity) -> OAuthSignIn<U> = |users, conn| {
        users
            .oauth_sign_in_with(&mut *conn, identity, |_| {})
            .await
            .map_err(|error| crate::error::sign_in_refused(&identity.provider, error))
    };

    /// Links a checked provider account to `user`; the refusals said for the provider.
    #[cfg(feature = "oidc")]
    fn link_oauth<'a>(user: &'a U, identity: &'a ProviderIdentity) -> OAuthAccountRecord = |users, conn| {
        users
            .link_oauth(&mut *conn, user, identity)
            .await
            .map_err(|error| crate::error::sign_in_refused(&identity.provider, error))
    };

    #[cfg(feature = "oidc")]
    fn unlink_oauth<'a>(user: &'a U, provider: &'a str) -> bool = |users, conn| {
        Ok(users.unlink_oauth(&mut *conn, user, provider).await?)
    };

    #[cfg(feature = "oidc")]
    fn oauth_accounts<'a>(user: &'a U) -> Vec<OAuthAccountRecord> = |users, conn| {
        Ok(users.oauth_accounts(&mut *conn, user).await?)
    };

    fn role_names<'a>(user: &'a U) -> Vec<String> = |users, conn| {
        let roles = users.roles_of(&mut *conn, user).await?;
        Ok(roles.iter().map(|role| role.name().to_owned()).collect())
    };
}
