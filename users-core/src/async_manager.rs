//! [`AsyncUsers`]: the operations of [`Users`], with the same names and semantics, over async
//! stores.
//!
//! Each operation drives an [`AsyncUserStore`] the way its sync twin drives a
//! [`UserStore`](crate::UserStore): the same loads, the same decisions (the public decision
//! methods of the wrapped [`Users`]), the same writes in the same transactions and the same
//! hooks. The decisions that cost an argon2 run (`registration_credentials`, `check_login`,
//! `prepare_password_change`, `prepare_new_password`, `finish_password_reset`) run on Tokio's
//! blocking pool, so a burst of logins does not stall the executor.

mod roles;

use std::fmt;
use std::future::{ready, Future};
use std::panic::resume_unwind;
use std::sync::Arc;

use scoped_futures::ScopedFutureExt;
use zeroize::Zeroizing;

use crate::manager::roles::deleted_or;
use crate::{
    AsyncUserStore, LoginOutcome, NoRoles, PasswordHasher, RoleModel, TokenPurpose, UserModel,
    Users, UsersConfig, UsersError, UsersHooks,
};

/// The user manager over async connections: every operation of [`Users`], with the same names,
/// semantics and errors, as `async fn`s whose futures are `Send`.
///
/// It wraps a [`Users`] in an [`Arc`], so cloning it is cheap: keep one in your web
/// framework's state. Each operation takes the connection as `&mut C`, for any async connection
/// `C` the model has an [`AsyncUserStore`] (and, for roles, an
/// [`AsyncRoleStore`](crate::AsyncRoleStore)) for; with users-diesel these are the connections
/// of `users_diesel::asynchronous`, and a pooled one is passed as `&mut *pooled`.
///
/// The operations must run inside a Tokio runtime: argon2 hashing and verification go to
/// [`tokio::task::spawn_blocking`], together with the decisions around them (the
/// `validate_password` hook included). The other hooks run on the executor, inside the
/// operation's transaction, as in [`Users`]: keep them quick.
///
/// ```
/// # use users_core::{AsyncUserStore, TransactionFuture, UserModel, Uuid};
/// # use users_core::scoped_futures::ScopedBoxFuture;
/// use users_core::{AsyncUsers, UsersConfig, UsersError};
///
/// # #[derive(Clone, Debug)]
/// # struct User { id: Uuid, email: String, password_hash: String, is_active: bool, is_verified: bool }
/// # impl UserModel for User {
/// #     type Id = Uuid;
/// #     const TABLE: &'static str = "users";
/// #     fn from_credentials(id: Uuid, email: String, password_hash: String) -> Self {
/// #         User { id, email, password_hash, is_active: true, is_verified: false }
/// #     }
/// #     fn id(&self) -> Uuid { self.id }
/// #     fn email(&self) -> &str { &self.email }
/// #     fn set_email(&mut self, email: String) { self.email = email }
/// #     fn password_hash(&self) -> &str { &self.password_hash }
/// #     fn set_password_hash(&mut self, hash: String) { self.password_hash = hash }
/// #     fn is_active(&self) -> bool { self.is_active }
/// #     fn set_active(&mut self, active: bool) { self.is_active = active }
/// #     fn is_verified(&self) -> bool { self.is_verified }
/// #     fn set_verified(&mut self, verified: bool) { self.is_verified = verified }
/// # }
/// # // A toy store; applications get theirs from `#[user_model]`.
/// # impl AsyncUserStore<Vec<User>> for User {
/// #     async fn insert(conn: &mut Vec<User>, user: &Self) -> Result<Self, UsersError> {
/// #         conn.push(user.clone());
/// #         Ok(user.clone())
/// #     }
/// #     async fn find(conn: &mut Vec<User>, id: Uuid) -> Result<Option<Self>, UsersError> {
/// #         Ok(conn.iter().find(|u| u.id == id).cloned())
/// #     }
/// #     async fn find_for_update(conn: &mut Vec<User>, id: Uuid) -> Result<Option<Self>, UsersError> {
/// #         Self::find(conn, id).await
/// #     }
/// #     async fn find_by_email(conn: &mut Vec<User>, email: &str) -> Result<Option<Self>, UsersError> {
/// #         Ok(conn.iter().find(|u| u.email == email).cloned())
/// #     }
/// #     async fn update(conn: &mut Vec<User>, user: &Self) -> Result<Self, UsersError> {
/// #         let row = conn.iter_mut().find(|u| u.id == user.id).ok_or(UsersError::UserNotFound)?;
/// #         *row = user.clone();
/// #         Ok(user.clone())
/// #     }
/// #     async fn delete(conn: &mut Vec<User>, id: Uuid) -> Result<bool, UsersError> {
/// #         let before = conn.len();
/// #         conn.retain(|u| u.id != id);
/// #         Ok(conn.len() < before)
/// #     }
/// #     fn transaction<'a, T, F>(conn: &'a mut Vec<User>, f: F) -> TransactionFuture<'a, T>
/// #     where
/// #         F: for<'r> FnOnce(&'r mut Vec<User>) -> ScopedBoxFuture<'a, 'r, Result<T, UsersError>>
/// #             + Send
/// #             + 'a,
/// #         T: Send + 'a,
/// #     {
/// #         Box::pin(f(conn))
/// #     }
/// # }
/// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # runtime.block_on(async {
/// # let mut conn = Vec::new();
/// # let secret = [7u8; 32];
/// let users = AsyncUsers::<User>::new(UsersConfig::new(secret)?);
/// let alice = users.register(&mut conn, "Alice@Example.COM", "correct horse battery staple").await?;
/// assert_eq!(alice.email, "alice@example.com");
///
/// let token = users.verification_token(&alice)?;
/// let alice = users.verify(&mut conn, &token).await?;
/// assert!(alice.is_verified);
///
/// users.authenticate(&mut conn, "alice@example.com", "correct horse battery staple").await?;
/// assert!(matches!(
///     users.authenticate(&mut conn, "alice@example.com", "wrong").await,
///     Err(UsersError::InvalidCredentials)
/// ));
/// # Ok::<(), UsersError>(())
/// # })?;
/// # Ok::<(), UsersError>(())
/// ```
pub struct AsyncUsers<U: UserModel, R: RoleModel = NoRoles> {
    users: Arc<Users<U, R>>,
}

impl<U: UserModel, R: RoleModel> AsyncUsers<U, R> {
    /// A manager with `config` and no hooks.
    pub fn new(config: UsersConfig) -> Self {
        Users::new(config).into()
    }

    /// Replaces the hooks.
    pub fn with_hooks(self, hooks: impl UsersHooks<U> + Send + Sync + 'static) -> Self {
        Arc::unwrap_or_clone(self.users).with_hooks(hooks).into()
    }

    /// The sync manager inside, with the same configuration and hooks: for its decision
    /// methods, or for a sync connection.
    pub fn as_sync(&self) -> &Users<U, R> {
        &self.users
    }

    /// The configuration the manager was built with.
    pub fn config(&self) -> &UsersConfig {
        self.users.config()
    }

    /// The password hasher.
    pub fn hasher(&self) -> &PasswordHasher {
        self.users.hasher()
    }

    /// The hooks.
    pub fn hooks(&self) -> &(dyn UsersHooks<U> + Send + Sync) {
        self.users.hooks()
    }

    /// Registers a user with default custom fields; see [`register_with`](Self::register_with).
    ///
    /// # Errors
    ///
    /// As [`Users::register`].
    pub async fn register<C>(
        &self,
        conn: &mut C,
        email: &str,
        password: &str,
    ) -> Result<U, UsersError>
    where
        C: Send,
        U: AsyncUserStore<C>,
    {
        const { crate::model::assert_registrable::<U>() };
        self.register_with(conn, email, password, |_| {}).await
    }

    /// Registers a user after `customize` has set its custom fields, and returns the stored
    /// row; as [`Users::register_with`].
    ///
    /// # Errors
    ///
    /// As [`Users::register`].
    pub async fn register_with<C>(
        &self,
        conn: &mut C,
        email: &str,
        password: &str,
        customize: impl FnOnce(&mut U) + Send,
    ) -> Result<U, UsersError>
    where
        C: Send,
        U: AsyncUserStore<C>,
    {
        let (email, password) = (email.to_owned(), secret(password));
        let (email, password_hash) = self
            .blocking(move |users| users.registration_credentials(&email, &password))
            .await?;
        let user = self.users.registered_user(email, password_hash, customize);
        U::transaction(conn, move |conn| {
            async move {
                let user = U::insert(conn, &user).await?;
                self.hooks().after_register(&user)?;
                Ok(user)
            }
            .scope_boxed()
        })
        .await
    }

    /// Logs a user in, as [`Users::authenticate`]: an unknown email and a wrong password both
    /// cost one argon2 verification and both fail with [`UsersError::InvalidCredentials`].
    ///
    /// # Errors
    ///
    /// As [`Users::authenticate`].
    pub async fn authenticate<C>(
        &self,
        conn: &mut C,
        email: &str,
        password: &str,
    ) -> Result<U, UsersError>
    where
        C: Send,
        U: AsyncUserStore<C>,
    {
        let user = match self.users.login_email(email) {
            Some(email) => U::find_by_email(conn, &email).await?,
            None => None,
        };
        let verified_hash = user
            .as_ref()
            .map(|u| u.password_hash().to_owned())
            .unwrap_or_default();
        let password = secret(password);
        match self
            .blocking(move |users| users.check_login(user, &password))
            .await?
        {
            LoginOutcome::Current(user) => {
                self.hooks().after_login(&user)?;
                Ok(user)
            }
            LoginOutcome::Rehashed(rehashed) => {
                self.modify(
                    conn,
                    rehashed.id(),
                    |stored| ready(self.users.rehashed_row(stored, &verified_hash, &rehashed)),
                    |user| self.hooks().after_login(user),
                )
                .await
            }
        }
    }

    /// The user with this id, if any.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`] only.
    pub async fn get<C>(&self, conn: &mut C, id: U::Id) -> Result<Option<U>, UsersError>
    where
        C: Send,
        U: AsyncUserStore<C>,
    {
        U::find(conn, id).await
    }

    /// The user with this email address, compared after normalisation, if any.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidEmail`] for a malformed address.
    pub async fn find_by_email<C>(&self, conn: &mut C, email: &str) -> Result<Option<U>, UsersError>
    where
        C: Send,
        U: AsyncUserStore<C>,
    {
        let email = crate::normalize_email(email)?;
        U::find_by_email(conn, &email).await
    }

    /// Stores every field of `user` except the password hash, and returns the stored row; as
    /// [`Users::update`].
    ///
    /// # Errors
    ///
    /// As [`Users::update`].
    pub async fn update<C>(&self, conn: &mut C, user: &U) -> Result<U, UsersError>
    where
        C: Send,
        U: AsyncUserStore<C>,
    {
        self.modify(
            conn,
            user.id(),
            |stored| ready(self.users.prepare_update(stored, user)),
            |updated| self.hooks().after_update(updated),
        )
        .await
    }

    /// Replaces the password of `user` after checking its current one; as
    /// [`Users::change_password`].
    ///
    /// # Errors
    ///
    /// As [`Users::change_password`].
    pub async fn change_password<C>(
        &self,
        conn: &mut C,
        user: &U,
        current: &str,
        new: &str,
    ) -> Result<U, UsersError>
    where
        C: Send,
        U: AsyncUserStore<C>,
    {
        let (current, new) = (secret(current), secret(new));
        self.modify(
            conn,
            user.id(),
            |stored| {
                self.blocking(move |users| users.prepare_password_change(stored, &current, &new))
            },
            |updated| self.hooks().after_update(updated),
        )
        .await
    }

    /// Replaces the password of `user` without asking for the current one; as
    /// [`Users::set_password`].
    ///
    /// # Errors
    ///
    /// As [`Users::set_password`].
    pub async fn set_password<C>(&self, conn: &mut C, user: &U, new: &str) -> Result<U, UsersError>
    where
        C: Send,
        U: AsyncUserStore<C>,
    {
        let new = secret(new);
        self.modify(
            conn,
            user.id(),
            |stored| self.blocking(move |users| users.prepare_new_password(stored, &new)),
            |updated| self.hooks().after_update(updated),
        )
        .await
    }

    /// Deletes the user with this id, after the `before_delete` hook.
    ///
    /// # Errors
    ///
    /// As [`Users::delete`].
    pub async fn delete<C>(&self, conn: &mut C, id: U::Id) -> Result<(), UsersError>
    where
        C: Send,
        U: AsyncUserStore<C>,
    {
        U::transaction(conn, move |conn| {
            async move {
                let user = U::find_for_update(conn, id)
                    .await?
                    .ok_or(UsersError::UserNotFound)?;
                self.hooks().before_delete(&user)?;
                deleted_or(U::delete(conn, id).await?, UsersError::UserNotFound)
            }
            .scope_boxed()
        })
        .await
    }

    /// A token that verifies the user's current email address; as
    /// [`Users::verification_token`].
    ///
    /// # Errors
    ///
    /// [`UsersError::AlreadyVerified`] if the user is verified.
    pub fn verification_token(&self, user: &U) -> Result<String, UsersError> {
        self.users.verification_token(user)
    }

    /// Marks the user of a verification token as verified; as [`Users::verify`].
    ///
    /// # Errors
    ///
    /// As [`Users::verify`].
    pub async fn verify<C>(&self, conn: &mut C, token: &str) -> Result<U, UsersError>
    where
        C: Send,
        U: AsyncUserStore<C>,
    {
        let token = self.users.open_token(token, TokenPurpose::Verification)?;
        self.modify(
            conn,
            token.user_id().into(),
            |stored| ready(self.users.finish_verification(&token, stored)),
            |verified| self.hooks().after_verify(verified),
        )
        .await
    }

    /// A password reset token for the user with this email, or `None` if there is none; as
    /// [`Users::password_reset_token`].
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidEmail`] for a malformed address.
    pub async fn password_reset_token<C>(
        &self,
        conn: &mut C,
        email: &str,
    ) -> Result<Option<String>, UsersError>
    where
        C: Send,
        U: AsyncUserStore<C>,
    {
        let user = self.find_by_email(conn, email).await?;
        Ok(user.map(|user| self.users.password_reset_token_for(&user)))
    }

    /// Sets a new password with a reset token; as [`Users::reset_password`].
    ///
    /// # Errors
    ///
    /// As [`Users::reset_password`].
    pub async fn reset_password<C>(
        &self,
        conn: &mut C,
        token: &str,
        new: &str,
    ) -> Result<U, UsersError>
    where
        C: Send,
        U: AsyncUserStore<C>,
    {
        let token = self.users.open_token(token, TokenPurpose::PasswordReset)?;
        let new = secret(new);
        self.modify(
            conn,
            token.user_id().into(),
            |stored| self.blocking(move |users| users.finish_password_reset(&token, stored, &new)),
            |updated| self.hooks().after_reset(updated),
        )
        .await
    }

    /// In one transaction: loads user `id` with its row locked, lets `decide` turn it into the
    /// row to store, stores that and runs `hook` on the stored row.
    async fn modify<C, D, Decided>(
        &self,
        conn: &mut C,
        id: U::Id,
        decide: D,
        hook: impl FnOnce(&U) -> Result<(), UsersError> + Send,
    ) -> Result<U, UsersError>
    where
        C: Send,
        U: AsyncUserStore<C>,
        D: FnOnce(Option<U>) -> Decided + Send,
        Decided: Future<Output = Result<U, UsersError>> + Send,
    {
        U::transaction(conn, move |conn| {
            async move {
                let user = decide(U::find_for_update(conn, id).await?).await?;
                let user = U::update(conn, &user).await?;
                hook(&user)?;
                Ok(user)
            }
            .scope_boxed()
        })
        .await
    }

    /// Runs a decision that costs argon2 work on Tokio's blocking pool. A panic in it resumes
    /// here, as it would have in a sync call.
    async fn blocking<T>(
        &self,
        decision: impl FnOnce(&Users<U, R>) -> Result<T, UsersError> + Send + 'static,
    ) -> Result<T, UsersError>
    where
        T: Send + 'static,
    {
        let users = Arc::clone(&self.users);
        match tokio::task::spawn_blocking(move || decision(&users)).await {
            Ok(result) => result,
            Err(error) => match error.try_into_panic() {
                Ok(panic) => resume_unwind(panic),
                // Only a runtime shutting down cancels a blocking task.
                Err(error) => Err(UsersError::Config(format!(
                    "the password hashing task did not run: {error}"
                ))),
            },
        }
    }
}

/// A copy of a password for a blocking task, wiped when the task drops it.
fn secret(password: &str) -> Zeroizing<String> {
    Zeroizing::new(password.to_owned())
}

impl<U: UserModel, R: RoleModel> From<Users<U, R>> for AsyncUsers<U, R> {
    fn from(users: Users<U, R>) -> Self {
        AsyncUsers {
            users: Arc::new(users),
        }
    }
}

impl<U: UserModel, R: RoleModel> Clone for AsyncUsers<U, R> {
    fn clone(&self) -> Self {
        AsyncUsers {
            users: Arc::clone(&self.users),
        }
    }
}

impl<U: UserModel, R: RoleModel> fmt::Debug for AsyncUsers<U, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncUsers")
            .field("user_table", &U::TABLE)
            .field("config", self.config())
            .finish_non_exhaustive()
    }
}
