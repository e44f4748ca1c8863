//! The [`Users`] manager: registration, login, profile and password changes, verification and
//! password reset, over any store.
//!
//! The methods here only drive the store: load, call a decision, write, run a hook, inside one
//! transaction where more than one step is involved. The decisions themselves (normalise,
//! validate, hash, check credentials and tokens, decide a rehash) are plain public methods
//! (`prepare_registration`, `check_login`, `finish_verification`, …) over what the store
//! returned, so that a store which cannot implement [`UserStore`] (an async one) can drive
//! the same logic without a second copy.

mod decisions;
pub(crate) mod roles;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

pub use decisions::LoginOutcome;
use roles::deleted_or;

use crate::{
    normalize_email, NoHooks, NoRoles, PasswordHasher, RoleModel, TokenPurpose, TokenSigner,
    UserModel, UserStore, UsersConfig, UsersError, UsersHooks,
};

/// The user manager: every operation on users, for the user model `U` and the role model `R`.
///
/// An application without roles writes `Users<User>`. Each operation takes the connection as
/// `&mut C`, for any `C` the model has a store for; the manager itself holds no connection and
/// is cheap to clone.
///
/// ```
/// # use users_core::{UserModel, UserStore, Uuid};
/// use users_core::{Users, UsersConfig, UsersError};
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
/// # impl UserStore<Vec<User>> for User {
/// #     fn insert(conn: &mut Vec<User>, user: &Self) -> Result<Self, UsersError> {
/// #         conn.push(user.clone());
/// #         Ok(user.clone())
/// #     }
/// #     fn find(conn: &mut Vec<User>, id: Uuid) -> Result<Option<Self>, UsersError> {
/// #         Ok(conn.iter().find(|u| u.id == id).cloned())
/// #     }
/// #     fn find_for_update(conn: &mut Vec<User>, id: Uuid) -> Result<Option<Self>, UsersError> {
/// #         Self::find(conn, id)
/// #     }
/// #     fn find_by_email(conn: &mut Vec<User>, email: &str) -> Result<Option<Self>, UsersError> {
/// #         Ok(conn.iter().find(|u| u.email == email).cloned())
/// #     }
/// #     fn update(conn: &mut Vec<User>, user: &Self) -> Result<Self, UsersError> {
/// #         let row = conn.iter_mut().find(|u| u.id == user.id).ok_or(UsersError::UserNotFound)?;
/// #         *row = user.clone();
/// #         Ok(user.clone())
/// #     }
/// #     fn delete(conn: &mut Vec<User>, id: Uuid) -> Result<bool, UsersError> {
/// #         let before = conn.len();
/// #         conn.retain(|u| u.id != id);
/// #         Ok(conn.len() < before)
/// #     }
/// #     fn transaction<T, F>(conn: &mut Vec<User>, f: F) -> Result<T, UsersError>
/// #     where
/// #         F: FnOnce(&mut Vec<User>) -> Result<T, UsersError>,
/// #     {
/// #         f(conn)
/// #     }
/// # }
/// # let mut conn = Vec::new();
/// # let secret = [7u8; 32];
/// let users = Users::<User>::new(UsersConfig::new(secret)?);
/// let alice = users.register(&mut conn, "Alice@Example.COM", "correct horse battery staple")?;
/// assert_eq!(alice.email, "alice@example.com");
///
/// let token = users.verification_token(&alice)?;
/// let alice = users.verify(&mut conn, &token)?;
/// assert!(alice.is_verified);
///
/// users.authenticate(&mut conn, "alice@example.com", "correct horse battery staple")?;
/// assert!(matches!(
///     users.authenticate(&mut conn, "alice@example.com", "wrong"),
///     Err(UsersError::InvalidCredentials)
/// ));
/// # Ok::<(), UsersError>(())
/// ```
pub struct Users<U: UserModel, R: RoleModel = NoRoles> {
    config: UsersConfig,
    hasher: Arc<PasswordHasher>,
    tokens: TokenSigner,
    hooks: Arc<dyn UsersHooks<U> + Send + Sync>,
    roles: PhantomData<fn() -> R>,
}

impl<U: UserModel, R: RoleModel> Users<U, R> {
    /// A manager with `config` and no hooks.
    pub fn new(config: UsersConfig) -> Self {
        Users {
            hasher: Arc::new(PasswordHasher::new(&config)),
            tokens: TokenSigner::new(&config),
            config,
            hooks: Arc::new(NoHooks),
            roles: PhantomData,
        }
    }

    /// Replaces the hooks.
    pub fn with_hooks(mut self, hooks: impl UsersHooks<U> + Send + Sync + 'static) -> Self {
        self.hooks = Arc::new(hooks);
        self
    }

    /// The configuration the manager was built with.
    pub fn config(&self) -> &UsersConfig {
        &self.config
    }

    /// The password hasher, for a driver that runs argon2 on a blocking pool.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// The hooks, for a store driver that runs them in its own transactions.
    pub fn hooks(&self) -> &(dyn UsersHooks<U> + Send + Sync) {
        &*self.hooks
    }

    /// Registers a user with default custom fields; see [`register_with`](Self::register_with).
    ///
    /// A model with a custom field that is neither an `Option` nor given a
    /// `#[column(default = …)]` does not compile with `register`: use `register_with` and set it.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidEmail`], [`UsersError::InvalidPassword`], [`UsersError::EmailTaken`]
    /// (also for an address differing only in case), or the error of the `after_register` hook,
    /// in which case no user is stored.
    pub fn register<C>(&self, conn: &mut C, email: &str, password: &str) -> Result<U, UsersError>
    where
        U: UserStore<C>,
    {
        const { crate::model::assert_registrable::<U>() };
        self.register_with(conn, email, password, |_| {})
    }

    /// Registers a user after `customize` has set its custom fields, and returns the stored row.
    ///
    /// The new user is active and unverified, whatever `customize` does to those flags, its
    /// email or its hash.
    ///
    /// # Errors
    ///
    /// As [`register`](Self::register).
    pub fn register_with<C>(
        &self,
        conn: &mut C,
        email: &str,
        password: &str,
        customize: impl FnOnce(&mut U),
    ) -> Result<U, UsersError>
    where
        U: UserStore<C>,
    {
        let user = self.prepare_registration(email, password, customize)?;
        U::transaction(conn, |conn| {
            let user = U::insert(conn, &user)?;
            self.hooks.after_register(&user)?;
            Ok(user)
        })
    }

    /// Logs a user in: checks the password, then that the account may log in.
    ///
    /// An unknown (or malformed) email and a wrong password both take one argon2 verification
    /// and both fail with [`UsersError::InvalidCredentials`]. A hash made with outdated
    /// parameters is replaced by one with the current parameters before returning.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidCredentials`]; with the right password only,
    /// [`UsersError::InactiveUser`], then [`UsersError::UnverifiedUser`] where the
    /// configuration requires verified users; or the error of the `after_login` hook.
    pub fn authenticate<C>(
        &self,
        conn: &mut C,
        email: &str,
        password: &str,
    ) -> Result<U, UsersError>
    where
        U: UserStore<C>,
    {
        let user = match self.login_email(email) {
            Some(email) => U::find_by_email(conn, &email)?,
            None => None,
        };
        let verified_hash = user
            .as_ref()
            .map(|u| u.password_hash().to_owned())
            .unwrap_or_default();
        match self.check_login(user, password)? {
            LoginOutcome::Current(user) => {
                self.hooks.after_login(&user)?;
                Ok(user)
            }
            LoginOutcome::Rehashed(rehashed) => self.modify(
                conn,
                rehashed.id(),
                |stored| self.rehashed_row(stored, &verified_hash, &rehashed),
                |user| self.hooks.after_login(user),
            ),
        }
    }

    /// The user with this id, if any.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`] only.
    pub fn get<C>(&self, conn: &mut C, id: U::Id) -> Result<Option<U>, UsersError>
    where
        U: UserStore<C>,
    {
        U::find(conn, id)
    }

    /// The user with this email address, compared after normalisation, if any.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidEmail`] for a malformed address.
    pub fn find_by_email<C>(&self, conn: &mut C, email: &str) -> Result<Option<U>, UsersError>
    where
        U: UserStore<C>,
    {
        U::find_by_email(conn, &normalize_email(email)?)
    }

    /// Stores every field of `user` except the password hash, and returns the stored row.
    ///
    /// The email is normalised; if it changed, the user is no longer verified. The password
    /// only changes through [`change_password`](Self::change_password),
    /// [`set_password`](Self::set_password) or [`reset_password`](Self::reset_password).
    ///
    /// # Errors
    ///
    /// [`UsersError::UserNotFound`], [`UsersError::InvalidEmail`], [`UsersError::EmailTaken`],
    /// or the error of the `after_update` hook, in which case nothing changes.
    pub fn update<C>(&self, conn: &mut C, user: &U) -> Result<U, UsersError>
    where
        U: UserStore<C>,
    {
        self.modify(
            conn,
            user.id(),
            |stored| self.prepare_update(stored, user),
            |updated| self.hooks.after_update(updated),
        )
    }

    /// Replaces the password of `user` after checking its current one; only the password hash
    /// of the stored row changes.
    ///
    /// # Errors
    ///
    /// [`UsersError::UserNotFound`], [`UsersError::InvalidCredentials`] if `current` is wrong,
    /// [`UsersError::InvalidPassword`], or the error of the `after_update` hook.
    pub fn change_password<C>(
        &self,
        conn: &mut C,
        user: &U,
        current: &str,
        new: &str,
    ) -> Result<U, UsersError>
    where
        U: UserStore<C>,
    {
        self.modify(
            conn,
            user.id(),
            |stored| self.prepare_password_change(stored, current, new),
            |updated| self.hooks.after_update(updated),
        )
    }

    /// Replaces the password of `user` without asking for the current one (an administrator's
    /// operation); only the password hash of the stored row changes.
    ///
    /// # Errors
    ///
    /// [`UsersError::UserNotFound`], [`UsersError::InvalidPassword`], or the error of the
    /// `after_update` hook.
    pub fn set_password<C>(&self, conn: &mut C, user: &U, new: &str) -> Result<U, UsersError>
    where
        U: UserStore<C>,
    {
        self.modify(
            conn,
            user.id(),
            |stored| self.prepare_new_password(stored, new),
            |updated| self.hooks.after_update(updated),
        )
    }

    /// Deletes the user with this id, after the `before_delete` hook.
    ///
    /// # Errors
    ///
    /// [`UsersError::UserNotFound`], or the error of the `before_delete` hook, in which case
    /// the user stays.
    pub fn delete<C>(&self, conn: &mut C, id: U::Id) -> Result<(), UsersError>
    where
        U: UserStore<C>,
    {
        U::transaction(conn, |conn| {
            let user = U::find_for_update(conn, id)?.ok_or(UsersError::UserNotFound)?;
            self.hooks.before_delete(&user)?;
            deleted_or(U::delete(conn, id)?, UsersError::UserNotFound)
        })
    }

    /// Marks the user of a verification token as verified.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`] if the token is not an intact, unexpired verification token
    /// of this secret, or its user is gone or has changed email since;
    /// [`UsersError::AlreadyVerified`]; or the error of the `after_verify` hook.
    pub fn verify<C>(&self, conn: &mut C, token: &str) -> Result<U, UsersError>
    where
        U: UserStore<C>,
    {
        let token = self.open_token(token, TokenPurpose::Verification)?;
        self.modify(
            conn,
            token.user_id().into(),
            |stored| self.finish_verification(&token, stored),
            |verified| self.hooks.after_verify(verified),
        )
    }

    /// A password reset token for the user with this email, or `None` if there is none.
    ///
    /// The application sends the token to that address, and should answer the same either
    /// way so as not to reveal which addresses have accounts.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidEmail`] for a malformed address.
    pub fn password_reset_token<C>(
        &self,
        conn: &mut C,
        email: &str,
    ) -> Result<Option<String>, UsersError>
    where
        U: UserStore<C>,
    {
        let user = U::find_by_email(conn, &normalize_email(email)?)?;
        Ok(user.map(|user| self.password_reset_token_for(&user)))
    }

    /// Sets a new password with a reset token; the token dies with the old password hash.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`] if the token is not an intact, unexpired reset token of
    /// this secret, or its user is gone or has changed password since;
    /// [`UsersError::InvalidPassword`] (the token stays usable); or the error of the
    /// `after_reset` hook.
    pub fn reset_password<C>(&self, conn: &mut C, token: &str, new: &str) -> Result<U, UsersError>
    where
        U: UserStore<C>,
    {
        let token = self.open_token(token, TokenPurpose::PasswordReset)?;
        self.modify(
            conn,
            token.user_id().into(),
            |stored| self.finish_password_reset(&token, stored, new),
            |updated| self.hooks.after_reset(updated),
        )
    }

    /// In one transaction: loads user `id`, lets `decide` turn it into the row to store, stores
    /// that and runs `hook` on the stored row.
    fn modify<C>(
        &self,
        conn: &mut C,
        id: U::Id,
        decide: impl FnOnce(Option<U>) -> Result<U, UsersError>,
        hook: impl FnOnce(&U) -> Result<(), UsersError>,
    ) -> Result<U, UsersError>
    where
        U: UserStore<C>,
    {
        U::transaction(conn, |conn| {
            let user = decide(U::find_for_update(conn, id)?)?;
            let user = U::update(conn, &user)?;
            hook(&user)?;
            Ok(user)
        })
    }
}

impl<U: UserModel, R: RoleModel> Clone for Users<U, R> {
    fn clone(&self) -> Self {
        Users {
            config: self.config.clone(),
            hasher: Arc::clone(&self.hasher),
            tokens: self.tokens.clone(),
            hooks: Arc::clone(&self.hooks),
            roles: PhantomData,
        }
    }
}

impl<U: UserModel, R: RoleModel> fmt::Debug for Users<U, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Users")
            .field("user_table", &U::TABLE)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
