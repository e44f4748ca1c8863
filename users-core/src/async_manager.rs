//! [`AsyncUsers`]: the operations of [`Users`], with the same names and semantics, over async
//! stores.
//!
//! The operations are the ones of [`Users`], expanded from `crate::operations` in their async
//! flavor: the same loads, the same decisions (the methods of the wrapped [`Users`]), the same
//! writes in the same transactions and the same hooks, each store call awaited. The decisions
//! that cost an argon2 run go to Tokio's blocking pool, so a burst of logins does not stall the
//! executor.

use std::fmt;
use std::panic::resume_unwind;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::Proof;
use crate::{
    NoRoles, PasswordHasher, RoleModel, ThrottleStore, UserModel, Users, UsersConfig, UsersError,
    UsersHooks,
};

/// The user manager over async connections: every operation of [`Users`], with the same names,
/// semantics and errors, as `async fn`s whose futures are `Send`.
///
/// It wraps a [`Users`] in an [`Arc`], so cloning it is cheap: keep one in your web
/// framework's state. Each operation takes the connection as `&mut C`, for any async connection
/// `C` the model has an [`AsyncUserStore`](crate::AsyncUserStore) (and, for roles, an
/// [`AsyncRoleStore`](crate::AsyncRoleStore)) for; with users-diesel these are the connections
/// of `users_diesel::asynchronous`, and a pooled one is passed as `&mut *pooled`.
///
/// The operations must run inside a Tokio runtime: argon2 hashing and verification go to
/// [`tokio::task::spawn_blocking`], together with the decisions around them (the
/// `validate_password` hook included). The other hooks run on the executor, inside the
/// operation's transaction, as in [`Users`]: keep them quick.
///
/// ```
/// # use users_core::{AsyncUserStore, TransactionFuture, UserListing, UserModel, Uuid};
/// # use users_core::scoped_futures::ScopedBoxFuture;
/// use users_core::{AsyncUsers, UsersConfig, UsersError};
///
/// # #[derive(Clone, Debug)]
/// # struct User { id: Uuid, email: String, password_hash: String, is_active: bool, is_verified: bool }
/// # impl UserModel for User {
/// #     type Id = Uuid;
/// #     type Sessions = users_core::NoStore;
/// #     type SecondFactors = users_core::NoStore;
/// #     type OAuthAccounts = users_core::NoStore;
/// #     type Events = users_core::NoStore;
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
/// #     async fn list(conn: &mut Vec<User>, listing: &UserListing) -> Result<Vec<Self>, UsersError> {
/// #         Ok(conn.iter().take(usize::try_from(listing.limit).unwrap_or(0)).cloned().collect())
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

    /// Sets what the first proof of an account's address clears; as
    /// [`Users::first_proof_clears`].
    pub fn first_proof_clears(self, clears: crate::FirstProofClears) -> Self {
        Arc::unwrap_or_clone(self.users)
            .first_proof_clears(clears)
            .into()
    }

    /// Records security events; as [`Users::record_events`].
    pub fn record_events(self) -> Self {
        Arc::unwrap_or_clone(self.users).record_events().into()
    }

    /// The same manager acting for the administrator `actor`; as [`Users::acting_for`].
    pub fn acting_for(self, actor: crate::Uuid) -> Self {
        Arc::unwrap_or_clone(self.users).acting_for(actor).into()
    }

    /// The same manager serving a client that says it is `user_agent`; as
    /// [`Users::with_user_agent`].
    pub fn with_user_agent(self, user_agent: Option<&str>) -> Self {
        Arc::unwrap_or_clone(self.users)
            .with_user_agent(user_agent)
            .into()
    }

    /// Whether the manager records security events; as [`Users::records_events`].
    pub fn records_events(&self) -> bool {
        self.users.records_events()
    }

    /// Sends each recorded event to `sink` too; as [`Users::event_sink`].
    pub fn event_sink(self, sink: impl crate::EventSink) -> Self {
        Arc::unwrap_or_clone(self.users).event_sink(sink).into()
    }

    /// Replaces the store of the throttle's counters; as [`Users::with_throttle_store`].
    pub fn with_throttle_store(self, store: impl ThrottleStore + 'static) -> Self {
        Arc::unwrap_or_clone(self.users)
            .with_throttle_store(store)
            .into()
    }

    /// Counts one mail to `address` against the mail cap; as [`Users::count_mail`], with the
    /// store's work on Tokio's blocking pool.
    ///
    /// # Errors
    ///
    /// [`UsersError::TooManyAttempts`], or the store's [`UsersError::Database`].
    pub async fn count_mail(&self, address: &str) -> Result<(), UsersError> {
        self.count_mail_from(None, address).await
    }

    /// Counts one mail to `address` asked for by `client` against the mail caps; as
    /// [`Users::count_mail_from`], with the store's work on Tokio's blocking pool.
    ///
    /// # Errors
    ///
    /// As [`Users::count_mail_from`].
    pub async fn count_mail_from(
        &self,
        client: Option<&str>,
        address: &str,
    ) -> Result<(), UsersError> {
        let client = client.map(str::to_owned);
        blocking!(async, self, [address], |users| users
            .count_mail_from(client.as_deref(), address))
    }

    /// The first half of the guarded check, for a check made outside users-core: as
    /// [`Users::check_guard`], on Tokio's blocking pool.
    ///
    /// # Errors
    ///
    /// [`UsersError::TooManyAttempts`] while locked out, or the store's.
    pub async fn check_guard(&self, keys: &crate::GuardKeys) -> Result<(), UsersError> {
        let keys = keys.clone();
        blocking!(async, self, [], |users| users.check_guard(&keys))
    }

    /// The second half of the guarded check: as [`Users::settle_guard`], on Tokio's blocking
    /// pool.
    ///
    /// # Errors
    ///
    /// The store's [`UsersError::Database`], or [`UsersError::Overloaded`].
    pub async fn settle_guard(
        &self,
        keys: &crate::GuardKeys,
        outcome: crate::ProofOutcome,
    ) -> Result<(), UsersError> {
        let keys = keys.clone();
        blocking!(async, self, [], |users| users.settle_guard(&keys, outcome))
    }

    /// The guarded check around `check`, a proof of kind `proof` for `account` from `client`
    /// made outside the manager's operations (users-axum's passkey assertions and tokens); as
    /// [`Users::guarded`], with the throttle store's work on Tokio's blocking pool.
    ///
    /// # Errors
    ///
    /// [`UsersError::TooManyAttempts`] while locked out, the error of `check`, or the store's.
    pub async fn guarded<T>(
        &self,
        proof: Proof,
        account: Option<&str>,
        client: Option<&str>,
        check: impl std::future::Future<Output = Result<T, UsersError>>,
    ) -> Result<T, UsersError> {
        guarded!(async, self, proof, account, client, check.await)
    }

    /// The sync manager inside, with the same configuration and hooks, for a sync connection.
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

    /// A token that verifies the user's current email address; as
    /// [`Users::verification_token`].
    ///
    /// # Errors
    ///
    /// [`UsersError::AlreadyVerified`] if the user is verified.
    pub fn verification_token(&self, user: &U) -> Result<String, UsersError> {
        self.users.verification_token(user)
    }

    /// A password reset token for `user`; as [`Users::password_reset_token_for`].
    pub fn password_reset_token_for(&self, user: &U) -> String {
        self.users.password_reset_token_for(user)
    }

    /// The manager whose decision methods the operations call: the wrapped one.
    pub(crate) fn decisions(&self) -> &Users<U, R> {
        &self.users
    }

    /// Runs a decision that costs argon2 work on Tokio's blocking pool. A panic in it resumes
    /// here, as it would have in a sync call.
    pub(crate) async fn blocking<T>(
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
                Err(error) => Err(UsersError::config(
                    "runtime",
                    format!("the password hashing task did not run: {error}"),
                )),
            },
        }
    }
}

/// A copy of a password (or of another input) for a blocking task, wiped when the task drops it.
pub(crate) fn secret(password: &str) -> Zeroizing<String> {
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
