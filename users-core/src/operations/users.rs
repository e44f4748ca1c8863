//! The user operations of the managers, written once: registration, login, profile and
//! password changes, verification and reset. The parent module describes the flavors and the
//! helper macros.

use users_derive::flavors;
use uuid::Uuid;

use crate::manager::decisions::{deleted_or, LoginOutcome};
use crate::{
    normalize_email, Connections, EventKind, EventStore, FirstProofClears, OAuthAccountStore,
    Proof, RoleModel, SecondFactorStore, SecurityEvent, SessionStore, TokenPurpose, UserModel,
    UserStore, Users, UsersError,
};
#[cfg(feature = "async")]
use crate::{
    AsyncConnections, AsyncEventStore, AsyncOAuthAccountStore, AsyncSecondFactorStore,
    AsyncSessionStore, AsyncUserStore, AsyncUsers,
};

#[flavors(
    AsyncUsers => Users,
    AsyncUserStore => UserStore,
    AsyncConnections => Connections,
    AsyncSessionStore => SessionStore,
    AsyncSecondFactorStore => SecondFactorStore,
    AsyncOAuthAccountStore => OAuthAccountStore,
    AsyncEventStore => EventStore,
)]
impl<U: UserModel, R: RoleModel> AsyncUsers<U, R> {
    /// Registers a user with default custom fields; see
    /// [`register_with`](Self::register_with).
    ///
    /// A model with a custom field that is neither an `Option` nor given a
    /// `#[column(default = …)]` does not compile with `register`: use
    /// `register_with` and set it.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidEmail`], [`UsersError::InvalidPassword`],
    /// [`UsersError::EmailTaken`] (also for an address differing only in case), or
    /// the error of the `after_register` hook, in which case no user is stored.
    pub async fn register<C: Send>(
        &self,
        conn: &mut C,
        email: &str,
        password: &str,
    ) -> Result<U, UsersError>
    where
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        const { crate::model::assert_registrable::<U>() };
        self.register_with(conn, email, password, |_| {}).await
    }

    /// Registers a user after `customize` has set its custom fields, and returns
    /// the stored row.
    ///
    /// The new user is active and unverified, whatever `customize` does to those
    /// flags, its email or its hash.
    ///
    /// # Errors
    ///
    /// As [`register`](Self::register).
    #[over(
        /// As [`register_with`](Self::register_with), taking a connection from
        /// `conn` only to store the user, after argon2 has run: see
        /// [`Connections`](crate::Connections).
        ///
        /// # Errors
        ///
        /// As [`register`](Self::register), and the error of `conn`.
        fn register_over(conn: impl AsyncConnections<C>)
    )]
    pub async fn register_with<C: Send>(
        &self,
        conn: &mut C,
        email: &str,
        password: &str,
        customize: impl FnOnce(&mut U),
    ) -> Result<U, UsersError>
    where
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let users = self.decisions();
        // Customised before the password is checked: the strength estimate counts
        // the new user's email and profile words against it.
        let user = users.registered_user(
            crate::normalize_email(email)?,
            crate::unusable_password_hash(),
            customize,
        );
        let user = hashing!(flavor, self, [password], |users| {
            users.registration_credentials(user, password)
        })?;
        let event = SecurityEvent::new(EventKind::Registered, user.id().into());
        let recorded = &event;
        let user = transaction!(flavor, &mut *connect!(flavor, conn), |conn| {
            let user = U::insert(conn, &user).await?;
            Self::record(conn, users, recorded).await?;
            users.hooks().after_register(&user)?;
            Ok(user)
        })?;
        users.publish(event);
        Ok(user)
    }

    /// Logs a user in: checks the password, then that the account may log in; as
    /// [`authenticate_from`](Self::authenticate_from) with no client key, so only
    /// the account's failures are counted.
    ///
    /// # Errors
    ///
    /// As [`authenticate_from`](Self::authenticate_from).
    pub async fn authenticate<C: Send>(
        &self,
        conn: &mut C,
        email: &str,
        password: &str,
    ) -> Result<U, UsersError>
    where
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        self.authenticate_from(conn, None, email, password).await
    }

    /// Logs a user in from `client` (a key for the client, such as its IP address):
    /// checks the throttle, the password, then that the account may log in.
    ///
    /// While the account (the normalised email, whether or not a user has it) or
    /// the client is locked out after too many failed logins
    /// ([`UsersConfig::login_limits`](crate::UsersConfig::login_limits)), the login
    /// is refused before any lookup or argon2 run, even with the right password.
    /// Otherwise an unknown (or malformed) email and a wrong password both take one
    /// argon2 verification, both fail with [`UsersError::InvalidCredentials`] and
    /// both count as a failure of the account and the client; a password longer
    /// than the configured maximum fails the same way without an argon2 run. A
    /// right password clears the account's failures. A hash made with outdated
    /// parameters is replaced by one with the current parameters before returning,
    /// hashed outside the transaction that stores it.
    ///
    /// # Errors
    ///
    /// [`UsersError::TooManyAttempts`] while locked out;
    /// [`UsersError::Overloaded`] if the argon2 gate's queue is full;
    /// [`UsersError::InvalidCredentials`]; with the right password only,
    /// [`UsersError::InactiveUser`], then [`UsersError::UnverifiedUser`] where the
    /// configuration requires verified users; or the error of the `after_login`
    /// hook.
    #[over(
        /// As [`authenticate_from`](Self::authenticate_from), taking a connection from
        /// `conn` for each database step and none while argon2 runs: see
        /// [`Connections`](crate::Connections).
        ///
        /// # Errors
        ///
        /// As [`authenticate_from`](Self::authenticate_from), and the error of
        /// `conn`.
        fn authenticate_over(conn: impl AsyncConnections<C>)
    )]
    pub async fn authenticate_from<C: Send>(
        &self,
        conn: &mut C,
        client: Option<&str>,
        email: &str,
        password: &str,
    ) -> Result<U, UsersError>
    where
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let users = self.decisions();
        let email = users.login_email(email);
        let keys = users.guard_keys(Proof::Password, email.as_deref(), client);
        let checked = keys.clone();
        blocking!(flavor, self, [], |users| users.check_guard(&checked))?;
        let user = match &email {
            Some(email) => U::find_by_email(&mut *connect!(flavor, conn), email).await?,
            None => None,
        };
        let verified_hash = user
            .as_ref()
            .map(|user| user.password_hash().to_owned())
            .unwrap_or_default();
        let user_id: Option<Uuid> = user.as_ref().map(|user| user.id().into());
        let counted = keys.clone();
        let outcome = hashing!(flavor, self, [password], |users| {
            let outcome = users.check_login(user, password);
            users.settle_guard(&keys, keys.settled(&outcome))?;
            outcome
        });
        if let (Err(UsersError::InvalidCredentials), Some(user_id)) = (&outcome, user_id) {
            let failed = SecurityEvent::new(EventKind::LoginFailed, user_id).from_client(client);
            note_over!(flavor, self, conn, failed.about("password"));
            // The failure that locks the account (or its client) out is an event too; the
            // attempts refused while locked are refused unlooked-up, and not recorded.
            if users.records_events() {
                let locked = blocking!(flavor, self, [], |users| users.check_guard(&counted));
                if let Err(UsersError::TooManyAttempts { .. }) = locked {
                    let event = SecurityEvent::new(EventKind::LockedOut, user_id);
                    note_over!(
                        flavor,
                        self,
                        conn,
                        event.from_client(client).about("password")
                    );
                }
            }
        }
        let user = match outcome? {
            LoginOutcome::Current(user) => {
                users.hooks().after_login(&user)?;
                user
            }
            LoginOutcome::Rehashed(rehashed) => modify!(
                flavor,
                &mut *connect!(flavor, conn),
                rehashed.id(),
                |stored| users.rehashed_row(stored, &verified_hash, &rehashed),
                |conn, user| users.hooks().after_login(&user),
            )?,
        };
        let succeeded = SecurityEvent::new(EventKind::LoginSucceeded, user.id().into());
        note_over!(
            flavor,
            self,
            conn,
            succeeded.from_client(client).about("password")
        );
        Ok(user)
    }

    /// The user with this id, if any.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`] only.
    pub async fn get<C: Send>(&self, conn: &mut C, id: U::Id) -> Result<Option<U>, UsersError>
    where
        U: AsyncUserStore<C>,
    {
        U::find(conn, id).await
    }

    /// The user with this email address, compared after normalisation, if any.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidEmail`] for a malformed address.
    pub async fn find_by_email<C: Send>(
        &self,
        conn: &mut C,
        email: &str,
    ) -> Result<Option<U>, UsersError>
    where
        U: AsyncUserStore<C>,
    {
        let email = normalize_email(email)?;
        U::find_by_email(conn, &email).await
    }

    /// Stores every field of `user` except the email and the password hash, and
    /// returns the stored row.
    ///
    /// The email changes through [`request_email_change`](Self::request_email_change)
    /// (with the current password, then the new address's verification), or by an
    /// administrator through [`set_email`](Self::set_email); the password through
    /// [`change_password`](Self::change_password),
    /// [`set_password`](Self::set_password) or
    /// [`reset_password`](Self::reset_password).
    ///
    /// # Errors
    ///
    /// [`UsersError::UserNotFound`], [`UsersError::PasswordRequired`] if `user` has
    /// another email than the stored one, [`UsersError::Conflict`] for a taken
    /// value of a unique custom column, or the error of the `after_update` hook, in
    /// which case nothing changes.
    pub async fn update<C: Send>(&self, conn: &mut C, user: &U) -> Result<U, UsersError>
    where
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let users = self.decisions();
        // Whether the account was active: a change of it is an event (looked up only where
        // events are recorded).
        let was_active = match users.records_events() {
            true => U::find(conn, user.id())
                .await?
                .map(|stored| stored.is_active()),
            false => None,
        };
        let event = match user.is_active() {
            true => SecurityEvent::new(EventKind::Reactivated, user.id().into()),
            false => SecurityEvent::new(EventKind::Deactivated, user.id().into()),
        };
        let recorded = &event;
        let flipped = |updated: &U| was_active.is_some_and(|was| was != updated.is_active());
        let updated = modify!(
            flavor,
            conn,
            user.id(),
            |stored| users.prepare_update(stored, user),
            |conn, updated| {
                let event = flipped(&updated).then_some(recorded);
                Self::updated(conn, users, event, &updated).await
            },
        )?;
        if flipped(&updated) {
            users.publish(event);
        }
        Ok(updated)
    }

    /// Gives `user` the email `email` (normalised) at once, unverified if it
    /// changed: an administrator's operation, which asks for no password and
    /// sends nothing. Users change their own address with
    /// [`request_email_change`](Self::request_email_change).
    ///
    /// # Errors
    ///
    /// [`UsersError::UserNotFound`], [`UsersError::InvalidEmail`],
    /// [`UsersError::EmailTaken`], or the error of the `after_update` hook.
    pub async fn set_email<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        email: &str,
    ) -> Result<U, UsersError>
    where
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let users = self.decisions();
        let event = SecurityEvent::new(EventKind::EmailChanged, user.id().into())
            .about("set without a confirmation");
        let recorded = &event;
        let changed = modify!(
            flavor,
            conn,
            user.id(),
            |stored| users.with_email(stored, email),
            |conn, updated| {
                let event = (updated.email() != user.email()).then_some(recorded);
                Self::updated(conn, users, event, &updated).await
            },
        )?;
        if changed.email() != user.email() {
            users.publish(event);
        }
        Ok(changed)
    }

    /// Starts a change of the email of `user` to `new_email`, after checking its
    /// current password: returns a token to send to the new address, whose use
    /// through [`verify`](Self::verify) makes that address the user's verified
    /// email (the account keeps its current address until then, as Devise's
    /// `reconfirmable`). The application should also tell the current address.
    ///
    /// The request hashes the password again with a fresh salt, which ends every
    /// session and kills the verification, reset and email change tokens issued
    /// before: a token from before an email change never works after it. It costs
    /// two argon2 runs.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidEmail`] (also for the current address),
    /// [`UsersError::EmailTaken`], [`UsersError::UserNotFound`],
    /// [`UsersError::InvalidCredentials`] for a wrong password (or one changed
    /// meanwhile), [`UsersError::TooManyAttempts`] while the account's password
    /// failures lock it (the password goes through the guarded check, as at
    /// login, before anything is said about the new address),
    /// [`UsersError::InactiveUser`], [`UsersError::Overloaded`], or the
    /// error of the `after_update` hook; on any of them nothing changes.
    #[over(
        /// As [`request_email_change`](Self::request_email_change), taking a connection
        /// from `conn` for each database step and none while argon2 runs: see
        /// [`Connections`](crate::Connections).
        ///
        /// # Errors
        ///
        /// As [`request_email_change`](Self::request_email_change), and the error of
        /// `conn`.
        fn request_email_change_over(conn: impl AsyncConnections<C>)
    )]
    pub async fn request_email_change<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        current: &str,
        new_email: &str,
    ) -> Result<String, UsersError>
    where
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let users = self.decisions();
        let new_email = users.new_email(user, new_email)?;
        let event = SecurityEvent::new(EventKind::EmailChangeRequested, user.id().into());
        let recorded = &event;
        let rehashed = new_hash!(
            flavor,
            users,
            conn,
            user.id(),
            |loaded| {
                let rehashed = guarded!(
                    flavor,
                    self,
                    Proof::Password,
                    Some(user.email()),
                    None,
                    hashing!(flavor, self, [current], |users| {
                        users.prepare_email_change(loaded, current)
                    })
                )?;
                // Only now, with the password proved, is anything said about the
                // new address: no address oracle for a stolen session.
                let taken = U::find_by_email(&mut *connect!(flavor, conn), &new_email).await?;
                match taken {
                    Some(_) => Err(UsersError::EmailTaken),
                    None => Ok(rehashed),
                }
            },
            None::<fn(&mut U) -> Result<(), UsersError>>,
            Some(UsersError::InvalidCredentials),
            |conn, updated| Self::updated(conn, users, Some(recorded), &updated).await,
        )?;
        users.publish(event);
        users.email_change_token(&rehashed, &new_email)
    }

    /// Replaces the password of `user` after checking its current one; only the
    /// password hash of the stored row changes.
    ///
    /// # Errors
    ///
    /// [`UsersError::UserNotFound`], [`UsersError::InvalidCredentials`] if
    /// `current` is wrong (counted by the guarded check with the account's login
    /// failures), [`UsersError::TooManyAttempts`] while they lock it,
    /// [`UsersError::InvalidPassword`], or the error of the `after_update` hook.
    pub async fn change_password<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        current: &str,
        new: &str,
    ) -> Result<U, UsersError>
    where
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        self.change_password_with(conn, user, current, new, |_| Ok(()))
            .await
    }

    /// As [`change_password`](Self::change_password), and applies `edit` to the row
    /// as it is in the transaction that stores the new hash: a change of other fields
    /// that stands or falls with the password change, stored as
    /// [`update`](Self::update) stores a row.
    ///
    /// # Errors
    ///
    /// As [`change_password`](Self::change_password) and
    /// [`update`](Self::update), or the error of `edit`; on any of them nothing
    /// changes.
    #[over(
        /// As [`change_password_with`](Self::change_password_with), taking a connection
        /// from `conn` for each database step and none while argon2 runs: see
        /// [`Connections`](crate::Connections).
        ///
        /// # Errors
        ///
        /// As [`change_password_with`](Self::change_password_with), and the error of
        /// `conn`.
        fn change_password_over(conn: impl AsyncConnections<C>)
    )]
    pub async fn change_password_with<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        current: &str,
        new: &str,
        edit: impl FnOnce(&mut U) -> Result<(), UsersError> + Send,
    ) -> Result<U, UsersError>
    where
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let users = self.decisions();
        let event = SecurityEvent::new(EventKind::PasswordChanged, user.id().into());
        let recorded = &event;
        let changed = new_hash!(
            flavor,
            users,
            conn,
            user.id(),
            |loaded| guarded!(
                flavor,
                self,
                Proof::Password,
                Some(user.email()),
                None,
                hashing!(flavor, self, [current, new], |users| {
                    users.prepare_password_change(loaded, current, new)
                })
            ),
            Some(edit),
            Some(UsersError::InvalidCredentials),
            |conn, updated| Self::updated(conn, users, Some(recorded), &updated).await,
        )?;
        users.publish(event);
        Ok(changed)
    }

    /// Replaces the password of `user` without asking for the current one (an
    /// administrator's operation); only the password hash of the stored row changes.
    ///
    /// # Errors
    ///
    /// [`UsersError::UserNotFound`], [`UsersError::InvalidPassword`], or the error
    /// of the `after_update` hook.
    #[over(
        /// As [`set_password`](Self::set_password), taking a connection from
        /// `conn` for each database step and none while argon2 runs: see
        /// [`Connections`](crate::Connections).
        ///
        /// # Errors
        ///
        /// As [`set_password`](Self::set_password), and the error of `conn`.
        fn set_password_over(conn: impl AsyncConnections<C>)
    )]
    pub async fn set_password<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        new: &str,
    ) -> Result<U, UsersError>
    where
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let users = self.decisions();
        let event = SecurityEvent::new(EventKind::PasswordChanged, user.id().into())
            .about("set without the current password");
        let recorded = &event;
        let changed = new_hash!(
            flavor,
            users,
            conn,
            user.id(),
            |loaded| hashing!(flavor, self, [new], |users| {
                users.prepare_new_password(loaded, new)
            }),
            None::<fn(&mut U) -> Result<(), UsersError>>,
            None,
            |conn, updated| Self::updated(conn, users, Some(recorded), &updated).await,
        )?;
        users.publish(event);
        Ok(changed)
    }

    /// Deletes the user with this id, after the `before_delete` hook.
    ///
    /// # Errors
    ///
    /// [`UsersError::UserNotFound`], or the error of the `before_delete` hook, in
    /// which case the user stays.
    pub async fn delete<C: Send>(&self, conn: &mut C, id: U::Id) -> Result<(), UsersError>
    where
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let users = self.decisions();
        let event = SecurityEvent::new(EventKind::Deleted, id.into());
        let recorded = &event;
        transaction!(flavor, conn, |conn| {
            let user = U::find_for_update(conn, id)
                .await?
                .ok_or(UsersError::UserNotFound)?;
            users.hooks().before_delete(&user)?;
            deleted_or(U::delete(conn, id).await?, UsersError::UserNotFound)?;
            Self::record(conn, users, recorded).await
        })?;
        users.publish(event);
        Ok(())
    }

    /// Marks the user of a verification token as verified; for the token of an
    /// email change ([`request_email_change`](Self::request_email_change)), makes
    /// its new address the user's verified email.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`] if the token is not an intact, unexpired
    /// verification or email change token of this secret (or a previous one), or
    /// its user is gone or has changed email or password since;
    /// [`UsersError::InactiveUser`] for a deactivated user;
    /// [`UsersError::AlreadyVerified`]; [`UsersError::EmailTaken`] if another
    /// account took the new address meanwhile; or the error of the `after_verify`
    /// hook.
    ///
    /// The verification of an unverified account is the first proof of its
    /// address: in the same transaction it clears what
    /// [`Users::first_proof_clears`](crate::Users::first_proof_clears) names (what
    /// someone who registered the address without owning it may have set up).
    pub async fn verify<C: Send>(&self, conn: &mut C, token: &str) -> Result<U, UsersError>
    where
        U: AsyncUserStore<C>,
        U::Sessions: AsyncSessionStore<C>,
        U::SecondFactors: AsyncSecondFactorStore<C>,
        U::OAuthAccounts: AsyncOAuthAccountStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let users = self.decisions();
        let token = users.open_address_token(token)?;
        // A verification token is only ever good for an unverified account.
        let first_proof = token.purpose() == TokenPurpose::Verification;
        let clears = users.first_proof_clears;
        let id = token.user_id().into();
        let kind = if first_proof {
            EventKind::Verified
        } else {
            EventKind::EmailChanged
        };
        let event = SecurityEvent::new(kind, token.user_id());
        let recorded = &event;
        let verified = transaction!(flavor, conn, |conn| {
            let stored = U::find_for_update(conn, id).await?;
            let user = users.finish_verification(&token, stored)?;
            let verified = U::update(conn, &user).await?;
            if first_proof {
                Self::clear_unproven(conn, clears, verified.id().into()).await?;
            }
            Self::record(conn, users, recorded).await?;
            users.hooks().after_verify(&verified)?;
            Ok(verified)
        })?;
        users.publish(event);
        Ok(verified)
    }

    /// A password reset token for the user with this email, or `None` if there is
    /// none or the user is deactivated.
    ///
    /// The application sends the token to that address, and should answer the same
    /// either way so as not to reveal which addresses have accounts.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidEmail`] for a malformed address.
    pub async fn password_reset_token<C: Send>(
        &self,
        conn: &mut C,
        email: &str,
    ) -> Result<Option<String>, UsersError>
    where
        U: AsyncUserStore<C>,
    {
        let user = self.find_by_email(conn, email).await?;
        let user = user.filter(UserModel::is_active);
        Ok(user.map(|user| self.decisions().password_reset_token_for(&user)))
    }

    /// Sets a new password with a reset token; the token dies with the old password
    /// hash. The reset proves the address it was sent to: the account is verified
    /// afterwards. The reset of an unverified account is the first proof of its
    /// address and, in the same transaction, clears what
    /// [`Users::first_proof_clears`](crate::Users::first_proof_clears) names; a
    /// verified account keeps its second factors, so the next login still asks for
    /// one.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`] if the token is not an intact, unexpired reset
    /// token of this secret (or a previous one), or its user is gone or has changed
    /// email or password since; [`UsersError::InactiveUser`] for a deactivated
    /// user; [`UsersError::InvalidPassword`] (the token stays usable); or the error
    /// of the `after_reset` hook.
    #[over(
        /// As [`reset_password`](Self::reset_password), taking a connection from
        /// `conn` for each database step and none while argon2 runs: see
        /// [`Connections`](crate::Connections).
        ///
        /// # Errors
        ///
        /// As [`reset_password`](Self::reset_password), and the error of
        /// `conn`.
        fn reset_password_over(conn: impl AsyncConnections<C>)
    )]
    pub async fn reset_password<C: Send>(
        &self,
        conn: &mut C,
        token: &str,
        new: &str,
    ) -> Result<U, UsersError>
    where
        U: AsyncUserStore<C>,
        U::Sessions: AsyncSessionStore<C>,
        U::SecondFactors: AsyncSecondFactorStore<C>,
        U::OAuthAccounts: AsyncOAuthAccountStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let users = self.decisions();
        let token = users.open_token(token, TokenPurpose::PasswordReset)?;
        let id: U::Id = token.user_id().into();
        let loaded = U::find(&mut *connect!(flavor, conn), id).await?;
        let loaded_hash = loaded.as_ref().map(|user| user.password_hash().to_owned());
        let first_proof = loaded.as_ref().is_some_and(|user| !user.is_verified());
        let opened = token.clone();
        let hashed: U = hashing!(flavor, self, [new], |users| {
            users.finish_password_reset(&opened, loaded, new)
        })?;
        let clears = users.first_proof_clears;
        let event = SecurityEvent::new(EventKind::PasswordReset, token.user_id());
        let recorded = &event;
        let reset = transaction!(flavor, &mut *connect!(flavor, conn), |conn| {
            let stored = U::find_for_update(conn, id).await?;
            let mut user = users.with_new_hash(
                stored,
                None::<fn(&mut U) -> Result<(), UsersError>>,
                loaded_hash.as_deref(),
                &hashed,
                Some(UsersError::InvalidToken),
            )?;
            user.set_verified(true);
            let updated = U::update(conn, &user).await?;
            if first_proof {
                Self::clear_unproven(conn, clears, id.into()).await?;
            }
            Self::record(conn, users, recorded).await?;
            users.hooks().after_reset(&updated)?;
            Ok(updated)
        })?;
        users.publish(event);
        Ok(reset)
    }

    /// The end of an update's transaction: records `event`, if any, on its connection `conn`,
    /// then runs the `after_update` hook on the stored row `updated`.
    async fn updated<C: Send>(
        conn: &mut C,
        users: &Users<U, R>,
        event: Option<&SecurityEvent>,
        updated: &U,
    ) -> Result<(), UsersError>
    where
        U::Events: AsyncEventStore<C>,
    {
        if let Some(event) = event {
            Self::record(conn, users, event).await?;
        }
        users.hooks().after_update(updated)
    }

    /// Clears, on `conn` (inside the transaction of a first proof of user `user_id`'s
    /// address), what `clears` names: the user's sessions, second factors (TOTP, recovery
    /// codes, passkeys) and provider links.
    async fn clear_unproven<C: Send>(
        conn: &mut C,
        clears: FirstProofClears,
        user_id: Uuid,
    ) -> Result<(), UsersError>
    where
        U: AsyncUserStore<C>,
        U::Sessions: AsyncSessionStore<C>,
        U::SecondFactors: AsyncSecondFactorStore<C>,
        U::OAuthAccounts: AsyncOAuthAccountStore<C>,
    {
        if clears.sessions {
            U::Sessions::delete_sessions_of(conn, user_id, None).await?;
        }
        if clears.second_factors {
            if let Some(record) = U::SecondFactors::find_factors(conn, user_id).await? {
                let mut cleared = record.next();
                (
                    cleared.totp_secret,
                    cleared.totp_confirmed,
                    cleared.recovery_codes,
                ) = (None, false, String::new());
                if !U::SecondFactors::update_factors(conn, &cleared, record.version).await? {
                    return Err(UsersError::Conflict { column: "totp" });
                }
            }
            for passkey in U::SecondFactors::passkeys_of(conn, user_id).await? {
                U::SecondFactors::delete_passkey(conn, user_id, passkey.id).await?;
            }
        }
        if clears.provider_links {
            for account in U::OAuthAccounts::oauth_accounts_of(conn, user_id).await? {
                U::OAuthAccounts::delete_oauth_account(conn, user_id, &account.provider).await?;
            }
        }
        Ok(())
    }
}
