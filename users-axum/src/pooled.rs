//! The manager and the pool behind the routes, with the role model and the connection type
//! erased, so that routes, extractors and application state name only the user model.

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
    SessionCheck, SessionOrigin, SessionPolicy, SessionTokens, SignIns, StoredSession,
    TotpEnrollment, UserModel, UserQuery, UsersConfig, UsersError, Uuid,
};
#[cfg(feature = "oidc")]
use users_diesel::{OAuthAccountRecord, OAuthSignIn, ProviderIdentity};

use users_derive::erased;

use crate::ApiError;

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
    /// The manager, and a connection from the pool.
    async fn connection(&self) -> Result<(&AsyncUsers<U, R>, Object<C>), ApiError> {
        let conn = self
            .pool
            .get()
            .await
            .map_err(|error| ApiError::logged(&error))?;
        Ok((&self.users, conn))
    }

    /// The pool as the manager's `…_over` operations take it.
    fn pool_source(&self) -> FromPool<C> {
        FromPool(self.pool.clone())
    }

    /// The user with this id with the names of their roles (one query) and, if `sign_ins`,
    /// their sign-ins, read on `conn`; `None` if the user is gone.
    async fn with_roles(
        &self,
        conn: &mut C,
        id: U::Id,
        sign_ins: bool,
    ) -> Result<Option<(U, Vec<String>, Option<SignIns>)>, ApiError>
    where
        U::Events: users_diesel::AsyncEventStore<C>,
    {
        let Some((user, roles)) = self.users.user_with_roles(conn, id).await? else {
            return Ok(None);
        };
        let sign_ins = match sign_ins {
            true => Some(self.users.sign_ins(conn, &user).await?),
            false => None,
        };
        Ok(Some((user, role_names(&roles), sign_ins)))
    }
}

/// The names of `roles`.
fn role_names<R: RoleModel>(roles: &[R]) -> Vec<String> {
    roles.iter().map(|role| role.name().to_owned()).collect()
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

/// What the routes and extractors do with the database, each operation on a pooled connection
/// (or, for the manager's `…_over` operations, which take a connection only for each database step
/// and none while argon2 runs, on the pool itself); and the manager's own settings and tokens,
/// which need none. Written as the methods of its one implementation, [`Pooled`].
#[erased(pub(crate) trait PooledUsers<U: UserModel>: Send + Sync + 'static {})]
impl<U, R, C> Pooled<U, R, C>
where
    U: AsyncUserStore<C>,
    U::Sessions: AsyncSessionStore<C>,
    U::SecondFactors: AsyncSecondFactorStore<C>,
    U::OAuthAccounts: AsyncOAuthAccountStore<C>,
    U::Events: users_diesel::AsyncEventStore<C>,
    R: AsyncRoleStore<C, User = U>,
    C: Send + 'static,
    AsyncDieselConnectionManager<C>: Manager<Type = C, Error = PoolError>,
{
    /// The manager's settings.
    fn config(&self) -> &UsersConfig {
        self.users.config()
    }

    /// A verification token for `user`.
    fn verification_token(&self, user: &U) -> Result<String, UsersError> {
        self.users.verification_token(user)
    }

    /// A password reset token for `user`.
    fn reset_token(&self, user: &U) -> String {
        self.users.password_reset_token_for(user)
    }

    /// Counts a mail to `address` asked by `client`; refused past the mail limits.
    async fn count_mail<'a>(
        &'a self,
        client: Option<&'a str>,
        address: &'a str,
    ) -> Result<(), ApiError> {
        Ok(self.users.count_mail_from(client, address).await?)
    }

    /// Refuses a proof the guard holds back (see the manager's `check_guard`).
    async fn check_guard<'a>(&'a self, keys: &'a GuardKeys) -> Result<(), ApiError> {
        Ok(self.users.check_guard(keys).await?)
    }

    /// Records a proof's outcome with the guard (see the manager's `settle_guard`).
    async fn settle_guard<'a>(
        &'a self,
        keys: &'a GuardKeys,
        outcome: ProofOutcome,
    ) -> Result<(), ApiError> {
        Ok(self.users.settle_guard(keys, outcome).await?)
    }

    /// Whether the manager records security events.
    fn records_events(&self) -> bool {
        self.users.records_events()
    }

    /// The same operations over a manager serving a client of this user agent.
    fn with_user_agent(&self, user_agent: Option<&str>) -> Arc<dyn PooledUsers<U>> {
        Arc::new(Pooled {
            users: self.users.clone().with_user_agent(user_agent),
            pool: self.pool.clone(),
        })
    }

    /// The same operations over a manager acting for the administrator `actor`.
    fn acting_for(&self, actor: Uuid) -> Arc<dyn PooledUsers<U>> {
        Arc::new(Pooled {
            users: self.users.clone().acting_for(actor),
            pool: self.pool.clone(),
        })
    }

    /// The same operations over a manager that clears `clears` at an address's first
    /// proof.
    fn first_proof_clears(&self, clears: FirstProofClears) -> Arc<dyn PooledUsers<U>> {
        Arc::new(Pooled {
            users: self.users.clone().first_proof_clears(clears),
            pool: self.pool.clone(),
        })
    }

    async fn register<'a>(
        &'a self,
        email: &'a str,
        password: &'a str,
        customize: Box<dyn FnOnce(&mut U) + Send + 'a>,
    ) -> Result<U, ApiError> {
        let users = &self.users;
        let pool = self.pool_source();
        Ok(users
            .register_over(pool, email, password, customize)
            .await?)
    }

    async fn authenticate<'a>(
        &'a self,
        client: Option<&'a str>,
        email: &'a str,
        password: &'a str,
    ) -> Result<U, ApiError> {
        let users = &self.users;
        let pool = self.pool_source();
        Ok(users
            .authenticate_over(pool, client, email, password)
            .await?)
    }

    async fn get<'a>(&'a self, id: U::Id) -> Result<Option<U>, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.get(&mut *conn, id).await?)
    }

    async fn find_by_email<'a>(&'a self, email: &'a str) -> Result<Option<U>, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.find_by_email(&mut *conn, email).await?)
    }

    /// In one transaction: applies `edit` (if any) to the locked row of `user` and stores it as
    /// the manager's `update` does, then gives it the email `email` (if any: an administrator's
    /// change, by `set_email`); or, with a new password, `edit` and the password change, the
    /// password checked and hashed by `change_password_over` before the transaction, holding no
    /// connection meanwhile (a user's own change, which never carries an `email`).
    async fn edit<'a>(
        &'a self,
        user: &'a U,
        edit: Option<Edit<'a, U>>,
        password: Option<(&'a str, &'a str)>,
        email: Option<&'a str>,
    ) -> Result<U, ApiError> {
        let users = &self.users;
        let mut pool = self.pool_source();
        if let Some((current, new)) = password {
            let edit = edit.unwrap_or_else(|| Box::new(|_| Ok(())));
            return Ok(users
                .change_password_over(pool, user, current, new, edit)
                .await?);
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
    }

    /// Checks the current password of `user` and returns the token that makes `new_email` its
    /// address once used; see the manager's `request_email_change`.
    async fn request_email_change<'a>(
        &'a self,
        user: &'a U,
        current: &'a str,
        new_email: &'a str,
    ) -> Result<String, ApiError> {
        let users = &self.users;
        let pool = self.pool_source();
        Ok(users
            .request_email_change_over(pool, user, current, new_email)
            .await?)
    }

    async fn delete<'a>(&'a self, id: U::Id) -> Result<(), ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.delete(&mut *conn, id).await?)
    }

    /// Deletes the role called `name` and its assignments.
    async fn delete_role<'a>(&'a self, name: &'a str) -> Result<(), ApiError> {
        let (users, mut conn) = self.connection().await?;
        let role = users.role(&mut *conn, name).await?;
        Ok(users.delete_role(&mut *conn, &role).await?)
    }

    async fn verify<'a>(&'a self, token: &'a str) -> Result<U, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.verify(&mut *conn, token).await?)
    }

    async fn reset_password<'a>(&'a self, token: &'a str, new: &'a str) -> Result<U, ApiError> {
        let users = &self.users;
        let pool = self.pool_source();
        Ok(users.reset_password_over(pool, token, new).await?)
    }

    async fn create_role<'a>(
        &'a self,
        name: &'a str,
        description: Option<&'a str>,
    ) -> Result<RoleView, ApiError> {
        let (users, mut conn) = self.connection().await?;
        let role = users.create_role(&mut *conn, name, description).await?;
        Ok(RoleView::of(&role))
    }

    /// Whether user `user` is the only active user with the role called `role`.
    async fn sole_holder<'a>(&'a self, role: &'a str, user: U::Id) -> Result<bool, ApiError> {
        let (users, mut conn) = self.connection().await?;
        let holders = match users.users_with_role(&mut *conn, role).await {
            Err(UsersError::RoleNotFound) => return Ok(false),
            holders => holders?,
        };
        let mut active = holders.iter().filter(|holder| holder.is_active());
        Ok(matches!((active.next(), active.next()), (Some(only), None) if only.id() == user))
    }

    /// Assigns (`assign`) or revokes the role called `role` to or from user `user`.
    async fn set_role<'a>(
        &'a self,
        role: &'a str,
        user: U::Id,
        assign: bool,
    ) -> Result<(), ApiError> {
        let (users, mut conn) = self.connection().await?;
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
    }

    /// Whether `user` has all (`all`) or any of the roles named.
    async fn has_roles<'a>(
        &'a self,
        user: &'a U,
        names: &'a [&'a str],
        all: bool,
    ) -> Result<bool, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(if all {
            users.has_all_roles(&mut *conn, user, names).await?
        } else {
            users.has_any_role(&mut *conn, user, names).await?
        })
    }

    /// Whether one of `user`'s roles has the permission `name`.
    async fn has_permission<'a>(&'a self, user: &'a U, name: &'a str) -> Result<bool, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.has_permission(&mut *conn, user, name).await?)
    }

    /// A page of users, each with the names of their roles.
    async fn list_users<'a>(
        &'a self,
        query: &'a UserQuery,
    ) -> Result<(Vec<(U, Vec<String>)>, Option<Uuid>), ApiError> {
        let (users, mut conn) = self.connection().await?;
        let page = users.list_users(&mut *conn, query).await?;
        let users = page
            .users
            .into_iter()
            .map(|(user, roles)| (user, role_names(&roles)))
            .collect();
        Ok((users, page.next))
    }

    async fn all_roles<'a>(&'a self) -> Result<Vec<RoleView>, ApiError> {
        let (users, mut conn) = self.connection().await?;
        let roles = users.all_roles(&mut *conn).await?;
        Ok(roles.iter().map(RoleView::of).collect())
    }

    /// Starts a stored session of `user`, who has just logged in.
    async fn start_session<'a>(
        &'a self,
        user: &'a U,
        origin: SessionOrigin,
        policy: &'a SessionPolicy,
    ) -> Result<SessionTokens, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users
            .start_session(&mut *conn, user, origin, policy)
            .await?)
    }

    /// The user of a stored session's access token, on one connection: the session's row
    /// (checked, touched when due), then the user; `None` if the session or the user is gone.
    async fn session_user<'a>(
        &'a self,
        token: &'a OpenedToken,
        policy: &'a SessionPolicy,
    ) -> Result<Option<U>, ApiError> {
        let (users, mut conn) = self.connection().await?;
        match users.check_session(&mut *conn, token, policy).await? {
            SessionCheck::Live(_) => Ok(users.get(&mut *conn, token.user_id().into()).await?),
            SessionCheck::Ended => Ok(None),
        }
    }

    /// [`session_user`](PooledUsers::session_user), the names of the user's roles and, if
    /// `sign_ins`, their sign-ins, on the same connection: what `GET /users/me` answers, with
    /// one pool checkout.
    async fn session_user_roles<'a>(
        &'a self,
        token: &'a OpenedToken,
        policy: &'a SessionPolicy,
        sign_ins: bool,
    ) -> Result<Option<(U, Vec<String>, Option<SignIns>)>, ApiError> {
        let (users, mut conn) = self.connection().await?;
        match users.check_session(&mut *conn, token, policy).await? {
            SessionCheck::Live(_) => {
                self.with_roles(&mut conn, token.user_id().into(), sign_ins)
                    .await
            }
            SessionCheck::Ended => Ok(None),
        }
    }

    /// The user with this id, the names of their roles and, if `sign_ins`, their sign-ins, on
    /// one connection.
    async fn user_roles<'a>(
        &'a self,
        id: U::Id,
        sign_ins: bool,
    ) -> Result<Option<(U, Vec<String>, Option<SignIns>)>, ApiError> {
        let (_, mut conn) = self.connection().await?;
        self.with_roles(&mut conn, id, sign_ins).await
    }

    /// Swaps a refresh token for new tokens of its session.
    async fn refresh_session<'a>(
        &'a self,
        token: &'a str,
        policy: &'a SessionPolicy,
    ) -> Result<SessionTokens, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.refresh_session(&mut *conn, token, policy).await?)
    }

    /// Ends every other session of `user` and renews `session`'s tokens.
    async fn renew_session<'a>(
        &'a self,
        user: &'a U,
        session: Uuid,
        policy: &'a SessionPolicy,
    ) -> Result<SessionTokens, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users
            .renew_session(&mut *conn, user, session, policy)
            .await?)
    }

    async fn events<'a>(
        &'a self,
        query: &'a users_diesel::EventQuery,
    ) -> Result<Vec<users_diesel::SecurityEvent>, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.events(&mut *conn, query).await?)
    }

    async fn sign_ins<'a>(&'a self, user: &'a U) -> Result<SignIns, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.sign_ins(&mut *conn, user).await?)
    }

    async fn sessions<'a>(&'a self, user: &'a U) -> Result<Vec<StoredSession>, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.sessions(&mut *conn, user).await?)
    }

    async fn end_session<'a>(&'a self, user: &'a U, session: Uuid) -> Result<bool, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.end_session(&mut *conn, user, session).await?)
    }

    async fn end_other_sessions<'a>(&'a self, user: &'a U, keep: Uuid) -> Result<usize, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.end_other_sessions(&mut *conn, user, keep).await?)
    }

    async fn end_all_sessions<'a>(&'a self, user: U::Id) -> Result<usize, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.end_all_sessions(&mut *conn, user).await?)
    }

    async fn second_factors<'a>(&'a self, user: &'a U) -> Result<SecondFactorRecord, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.second_factors(&mut *conn, user).await?)
    }

    async fn enroll_totp<'a>(
        &'a self,
        user: &'a U,
        issuer: &'a str,
    ) -> Result<TotpEnrollment, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.enroll_totp(&mut *conn, user, issuer).await?)
    }

    async fn confirm_totp<'a>(
        &'a self,
        client: Option<&'a str>,
        user: &'a U,
        code: &'a str,
    ) -> Result<Vec<String>, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.confirm_totp(&mut *conn, client, user, code).await?)
    }

    async fn check_second_factor<'a>(
        &'a self,
        client: Option<&'a str>,
        user: &'a U,
        proof: SecondFactorProof<'a>,
    ) -> Result<(), ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users
            .check_second_factor(&mut *conn, client, user, proof)
            .await?)
    }

    async fn regenerate_recovery_codes<'a>(&'a self, user: &'a U) -> Result<Vec<String>, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.regenerate_recovery_codes(&mut *conn, user).await?)
    }

    async fn remove_totp<'a>(&'a self, user: &'a U) -> Result<bool, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.remove_totp(&mut *conn, user).await?)
    }

    async fn second_factor_challenge<'a>(
        &'a self,
        user: &'a U,
    ) -> Result<Option<SecondFactorChallenge>, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.second_factor_challenge(&mut *conn, user).await?)
    }

    async fn complete_second_factor<'a>(
        &'a self,
        client: Option<&'a str>,
        token: &'a str,
        proof: SecondFactorProof<'a>,
    ) -> Result<U, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users
            .complete_second_factor(&mut *conn, client, token, proof)
            .await?)
    }

    #[cfg(feature = "passkeys")]
    async fn passkeys<'a>(&'a self, user: &'a U) -> Result<Vec<PasskeyRecord>, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.passkeys(&mut *conn, user).await?)
    }

    #[cfg(feature = "passkeys")]
    async fn add_passkey<'a>(
        &'a self,
        user: &'a U,
        credential_id: &'a str,
        credential: &'a str,
        name: Option<&'a str>,
    ) -> Result<PasskeyRecord, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users
            .add_passkey(&mut *conn, user, credential_id, credential, name)
            .await?)
    }

    #[cfg(feature = "passkeys")]
    async fn remove_passkey<'a>(&'a self, user: &'a U, id: Uuid) -> Result<bool, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.remove_passkey(&mut *conn, user, id).await?)
    }

    #[cfg(feature = "passkeys")]
    async fn pending_login<'a>(&'a self, token: &'a str) -> Result<(U, i64), ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.pending_login(&mut *conn, token).await?)
    }

    #[cfg(feature = "passkeys")]
    async fn complete_with_passkey<'a>(
        &'a self,
        user: &'a U,
        version: i64,
        passkey: &'a PasskeyRecord,
    ) -> Result<(), ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users
            .complete_with_passkey(&mut *conn, user, version, passkey)
            .await?)
    }

    /// Signs in with a checked provider account; the refusals said for the provider.
    #[cfg(feature = "oidc")]
    async fn oauth_sign_in<'a>(
        &'a self,
        identity: &'a ProviderIdentity,
    ) -> Result<OAuthSignIn<U>, ApiError> {
        let (users, mut conn) = self.connection().await?;
        users
            .oauth_sign_in_with(&mut *conn, identity, |_| {})
            .await
            .map_err(|error| crate::error::sign_in_refused(&identity.provider, error))
    }

    /// Links a checked provider account to `user`; the refusals said for the provider.
    #[cfg(feature = "oidc")]
    async fn link_oauth<'a>(
        &'a self,
        user: &'a U,
        identity: &'a ProviderIdentity,
    ) -> Result<OAuthAccountRecord, ApiError> {
        let (users, mut conn) = self.connection().await?;
        users
            .link_oauth(&mut *conn, user, identity)
            .await
            .map_err(|error| crate::error::sign_in_refused(&identity.provider, error))
    }

    #[cfg(feature = "oidc")]
    async fn unlink_oauth<'a>(&'a self, user: &'a U, provider: &'a str) -> Result<bool, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.unlink_oauth(&mut *conn, user, provider).await?)
    }

    #[cfg(feature = "oidc")]
    async fn oauth_accounts<'a>(
        &'a self,
        user: &'a U,
    ) -> Result<Vec<OAuthAccountRecord>, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(users.oauth_accounts(&mut *conn, user).await?)
    }

    async fn role_names<'a>(&'a self, user: &'a U) -> Result<Vec<String>, ApiError> {
        let (users, mut conn) = self.connection().await?;
        Ok(role_names(&users.roles_of(&mut *conn, user).await?))
    }
}
