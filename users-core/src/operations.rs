//! Every operation of the managers, written once: the sequence of store calls (load, decide,
//! write, run a hook, inside one transaction where more than one step is involved) that
//! [`Users`](crate::Users) runs over a [`UserStore`](crate::UserStore) and `AsyncUsers` over an
//! `AsyncUserStore`.
//!
//! `user_operations!` and `role_operations!` (in `roles`) hold the operations, with their docs;
//! `manager.rs` expands them in the `sync` flavor, `async_manager.rs` in the `async` one. The
//! decisions between the store calls are the plain methods of `manager/decisions.rs`, reached
//! through `self.decisions()`. The flavor changes these things, each in one helper macro here
//! that takes it as its first token:
//!
//! - `operation!`: the signature, `async` and with `C: Send` (which the async stores need) in
//!   the async flavor;
//! - `step!`: a store call or another operation, awaited in the async flavor;
//! - `transaction!`: a block run in a store transaction, as the boxed future the async stores
//!   take in the async flavor;
//! - `hashing!`: a decision that costs argon2 work, run once the argon2 gate lets it in, and
//!   sent with copies of the inputs it names to Tokio's blocking pool in the async flavor, so a
//!   burst of logins does not stall the executor;
//! - `blocking!`: a step of the throttle, whose store may block, sent to the blocking pool in
//!   the async flavor;
//! - `connect!` and `lend!`: a connection for the next step, from a
//!   [`Connections`](crate::Connections) source (`AsyncConnections`, awaited, in the async
//!   flavor).
//!
//! No argon2 run happens inside a transaction: `new_hash!` loads the row, hashes, then reloads
//! it locked and stores the hash only if the row's hash is still the one it loaded. An
//! operation that hashes is written with `operation_over!`, which makes two methods of one
//! body: one over `&mut C`, and its `…_over` twin over a connection source, which holds no
//! connection while argon2 runs.
//!
//! A new operation is one more entry in the list; both managers get it.

#[macro_use]
mod factors;
#[macro_use]
mod oauth;
#[macro_use]
mod roles;
#[macro_use]
mod sessions;

/// One operation's signature and body in a flavor: as written for `sync`; for `async`, an
/// `async fn` whose connection type is `Send`.
macro_rules! operation {
    (sync, $(#[$attr:meta])* $vis:vis fn $name:ident $($rest:tt)*) => {
        $(#[$attr])* $vis fn $name $($rest)*
    };
    (async, $(#[$attr:meta])* $vis:vis fn $name:ident <C> $($rest:tt)*) => {
        $(#[$attr])* $vis async fn $name<C: Send> $($rest)*
    };
    (async, $(#[$attr:meta])* $vis:vis fn $name:ident <C, $S:ident> $($rest:tt)*) => {
        $(#[$attr])* $vis async fn $name<C: Send, $S> $($rest)*
    };
}

/// An operation that runs argon2 between database steps, as two methods from one body: `$name`
/// over one connection `$conn: &mut C`, and `$over` over any `$Connections` (a pool), which
/// takes a connection for each step (`connect!`) and none while argon2 runs. In `$name`, `$conn`
/// is lent again for each step by a plain wrapper rather than through `$Connections`, so that
/// its future is `Send` wherever it was before (a generic associated type in an async fn's
/// state trips rust-lang/rust#110338 in callers generic over the connection).
macro_rules! operation_over {
    (
        $flavor:tt, $Connections:ident,
        $(#[$attr:meta])*
        pub fn $name:ident<C>(&$this:ident, $conn:ident: &mut C, $($arg:ident: $ty:ty),* $(,)?)
            -> Result<$ret:ty, UsersError>
        where
            U: $UserStore:ident<C> $(, $Extra:ty: $ExtraBound:path)*;
        $(#[$over_attr:meta])*
        pub fn $over:ident;
        $body:block
    ) => {
        operation! { $flavor,
            $(#[$attr])*
            pub fn $name<C>(&$this, $conn: &mut C, $($arg: $ty),*) -> Result<$ret, UsersError>
            where
                U: $UserStore<C>,
                $($Extra: $ExtraBound,)*
            {
                #[allow(unused_mut)]
                let mut $conn = lend!($flavor, $conn);
                $body
            }
        }

        operation! { $flavor,
            $(#[$over_attr])*
            pub fn $over<C, S>(&$this, mut $conn: S, $($arg: $ty),*) -> Result<$ret, UsersError>
            where
                U: $UserStore<C>,
                $($Extra: $ExtraBound,)*
                S: $Connections<C>,
            $body
        }
    };
}

/// One connection, to be lent again for each step of an `operation_over!` body.
macro_rules! lend {
    (sync, $conn:expr) => {
        $crate::connections::Lend($conn)
    };
    (async, $conn:expr) => {
        $crate::connections::AsyncLend($conn)
    };
}

/// A store call, or a call of another operation: awaited in the async flavor.
macro_rules! step {
    (sync, $call:expr) => {
        $call
    };
    (async, $call:expr) => {
        $call.await
    };
}

/// A connection from `$connections` for the next database step (see
/// [`Connections`](crate::Connections)); it goes back when dropped.
macro_rules! connect {
    ($flavor:tt, $connections:expr) => {
        step!($flavor, $connections.connection())?
    };
}

/// Runs `$body` in a transaction of the user store over `$conn`, which it sees as `$inner`:
/// committed if it returns `Ok`, rolled back otherwise.
macro_rules! transaction {
    (sync, $conn:expr, |$inner:ident| $body:block) => {
        U::transaction($conn, move |$inner| $body)
    };
    (async, $conn:expr, |$inner:ident| $body:block) => {
        U::transaction($conn, move |$inner| {
            ::scoped_futures::ScopedFutureExt::scope_boxed(async move { $body })
        })
        .await
    };
}

/// Runs a decision that costs an argon2 run on the manager's [`Users`](crate::Users), which it
/// sees as `$users`, once the argon2 gate ([`Argon2Gate`](crate::Argon2Gate)) has let it in. In
/// the async flavor it runs on Tokio's blocking pool, which needs `'static` inputs: each of
/// `[$copy]` (a `&str`) is copied for it, into memory wiped when the task ends.
macro_rules! hashing {
    ($flavor:tt, $manager:expr, [$($copy:ident),*], |$users:ident| $decision:expr) => {
        blocking!($flavor, $manager, [$($copy),*], |$users| {
            let _slot = $users.hasher().gate().enter()?;
            $decision
        })
    };
}

/// Runs a step that may block (a throttle store's) on the manager's [`Users`](crate::Users),
/// which it sees as `$users`: on Tokio's blocking pool in the async flavor, with copies of
/// `[$copy]` as `hashing!` makes them.
macro_rules! blocking {
    (sync, $manager:expr, [$($copy:ident),*], |$users:ident| $step:expr) => {{
        let $users = $manager.decisions();
        $step
    }};
    (async, $manager:expr, [$($copy:ident),*], |$users:ident| $step:expr) => {{
        $(let $copy = $crate::async_manager::secret($copy);)*
        $manager.blocking(move |$users| $step).await
    }};
}

/// The guarded check ([`Users::check_guard`](crate::Users::check_guard), then
/// [`Users::count_guard`](crate::Users::count_guard)) around `$check`, a proof of kind
/// `$proof` for the account `$account` (an `Option<&str>`, the normalised email) from `$client`:
/// refused while locked out, its failure counted, its success forgiving the account's failures
/// of that kind. Evaluates to the check's result.
macro_rules! guarded {
    ($flavor:tt, $self:ident, $proof:expr, $account:expr, $client:expr, $check:expr) => {{
        let keys = $self.decisions().guard_keys($proof, $account, $client);
        let checked = keys.clone();
        blocking!($flavor, $self, [], |users| users.check_guard(&checked))?;
        let outcome = $check;
        let settled = keys.settled(&outcome);
        blocking!($flavor, $self, [], |users| users
            .settle_guard(&keys, settled))?;
        outcome
    }};
}

/// Gives user `$id` a new password hash without running argon2 in a transaction or holding a
/// connection of `$connections`: loads the row (`$loaded`, an `Option`) and gives the
/// connection back, lets the `hashing!` decision `$hash` turn it into the user with the new
/// hash, then, in one transaction on a connection taken again, reloads the row locked, lets
/// `$edit` change its other fields (stored as `update` stores them), stores the new hash on it
/// provided its hash is still the loaded one (else `$stale`, if `Some`, is the error), and runs
/// `$hook` on the stored row.
macro_rules! new_hash {
    (
        $flavor:tt, $decisions:expr, $connections:expr, $id:expr,
        |$loaded:ident| $hash:expr,
        edit: $edit:expr,
        stale: $stale:expr,
        |$updated:ident| $hook:expr $(,)?
    ) => {{
        let id = $id;
        let $loaded = step!($flavor, U::find(&mut *connect!($flavor, $connections), id))?;
        let loaded_hash = $loaded.as_ref().map(|user| user.password_hash().to_owned());
        let hashed: U = $hash?;
        let decisions = $decisions;
        let edit = $edit;
        modify!(
            $flavor,
            &mut *connect!($flavor, $connections),
            id,
            |stored| decisions.with_new_hash(stored, edit, loaded_hash.as_deref(), &hashed, $stale),
            |$updated| $hook,
        )
    }};
}

/// In one transaction: loads user `$id` with its row locked, lets `$decide` turn it (an
/// `Option`, `None` if there is no such user) into the row to store, stores that and runs
/// `$hook` on the stored row.
macro_rules! modify {
    (
        $flavor:tt, $conn:expr, $id:expr,
        |$stored:ident| $decide:expr,
        |$updated:ident| $hook:expr $(,)?
    ) => {{
        let id = $id;
        transaction!($flavor, $conn, |conn| {
            let $stored = step!($flavor, U::find_for_update(conn, id))?;
            let user = $decide?;
            let $updated = step!($flavor, U::update(conn, &user))?;
            $hook?;
            Ok($updated)
        })
    }};
}

/// Clears, on `$conn` (inside the transaction of a first proof of user `$user_id`'s address),
/// what `$clears` ([`FirstProofClears`](crate::FirstProofClears)) names: the user's sessions,
/// second factors (TOTP, recovery codes, passkeys) and provider links.
macro_rules! clear_unproven {
    ($flavor:tt, $conn:ident, $clears:expr, $user_id:expr) => {{
        let clears: $crate::FirstProofClears = $clears;
        let user_id: Uuid = $user_id;
        if clears.sessions {
            step!(
                $flavor,
                U::Sessions::delete_sessions_of($conn, user_id, None)
            )?;
        }
        if clears.second_factors {
            if let Some(record) = step!($flavor, U::SecondFactors::find_factors($conn, user_id))? {
                let mut cleared = record.next();
                (
                    cleared.totp_secret,
                    cleared.totp_confirmed,
                    cleared.recovery_codes,
                ) = (None, false, String::new());
                if !step!(
                    $flavor,
                    U::SecondFactors::update_factors($conn, &cleared, record.version)
                )? {
                    return Err(UsersError::Conflict { column: "totp" });
                }
            }
            for passkey in step!($flavor, U::SecondFactors::passkeys_of($conn, user_id))? {
                step!(
                    $flavor,
                    U::SecondFactors::delete_passkey($conn, user_id, passkey.id)
                )?;
            }
        }
        if clears.provider_links {
            for account in step!($flavor, U::OAuthAccounts::oauth_accounts_of($conn, user_id))? {
                step!(
                    $flavor,
                    U::OAuthAccounts::delete_oauth_account($conn, user_id, &account.provider)
                )?;
            }
        }
    }};
}

/// The user operations of a manager, over user stores named `$UserStore`.
macro_rules! user_operations {
    (
        $flavor:tt, $Manager:ident, $UserStore:ident, $Connections:ident,
        $SessionStore:ident, $FactorStore:ident, $AccountStore:ident
    ) => {
        impl<U: UserModel, R: RoleModel> $Manager<U, R> {
            operation! { $flavor,
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
                pub fn register<C>(
                    &self,
                    conn: &mut C,
                    email: &str,
                    password: &str,
                ) -> Result<U, UsersError>
                where
                    U: $UserStore<C>,
                {
                    const { crate::model::assert_registrable::<U>() };
                    step!($flavor, self.register_with(conn, email, password, |_| {}))
                }
            }

            operation_over! { $flavor, $Connections,
                /// Registers a user after `customize` has set its custom fields, and returns
                /// the stored row.
                ///
                /// The new user is active and unverified, whatever `customize` does to those
                /// flags, its email or its hash.
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
                    U: $UserStore<C>;
                /// As [`register_with`](Self::register_with), taking a connection from
                /// `conn` only to store the user, after argon2 has run: see
                /// [`Connections`](crate::Connections).
                ///
                /// # Errors
                ///
                /// As [`register`](Self::register), and the error of `conn`.
                pub fn register_over;
                {
                    let users = self.decisions();
                    // Customised before the password is checked: the strength estimate counts
                    // the new user's email and profile words against it.
                    let user = users.registered_user(
                        crate::normalize_email(email)?,
                        crate::unusable_password_hash(),
                        customize,
                    );
                    let user = hashing!($flavor, self, [password], |users| {
                        users.registration_credentials(user, &password)
                    })?;
                    transaction!($flavor, &mut *connect!($flavor, conn), |conn| {
                        let user = step!($flavor, U::insert(conn, &user))?;
                        users.hooks().after_register(&user)?;
                        Ok(user)
                    })
                }
            }

            operation! { $flavor,
                /// Logs a user in: checks the password, then that the account may log in; as
                /// [`authenticate_from`](Self::authenticate_from) with no client key, so only
                /// the account's failures are counted.
                ///
                /// # Errors
                ///
                /// As [`authenticate_from`](Self::authenticate_from).
                pub fn authenticate<C>(
                    &self,
                    conn: &mut C,
                    email: &str,
                    password: &str,
                ) -> Result<U, UsersError>
                where
                    U: $UserStore<C>,
                {
                    step!($flavor, self.authenticate_from(conn, None, email, password))
                }
            }

            operation_over! { $flavor, $Connections,
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
                pub fn authenticate_from<C>(
                    &self,
                    conn: &mut C,
                    client: Option<&str>,
                    email: &str,
                    password: &str,
                ) -> Result<U, UsersError>
                where
                    U: $UserStore<C>;
                /// As [`authenticate_from`](Self::authenticate_from), taking a connection from
                /// `conn` for each database step and none while argon2 runs: see
                /// [`Connections`](crate::Connections).
                ///
                /// # Errors
                ///
                /// As [`authenticate_from`](Self::authenticate_from), and the error of
                /// `conn`.
                pub fn authenticate_over;
                {
                    let users = self.decisions();
                    let email = users.login_email(email);
                    let keys = users.guard_keys(Proof::Password, email.as_deref(), client);
                    let checked = keys.clone();
                    blocking!($flavor, self, [], |users| users.check_guard(&checked))?;
                    let user = match &email {
                        Some(email) => step!(
                            $flavor,
                            U::find_by_email(&mut *connect!($flavor, conn), email)
                        )?,
                        None => None,
                    };
                    let verified_hash = user
                        .as_ref()
                        .map(|user| user.password_hash().to_owned())
                        .unwrap_or_default();
                    let outcome = hashing!($flavor, self, [password], |users| {
                        let outcome = users.check_login(user, &password);
                        users.settle_guard(&keys, keys.settled(&outcome))?;
                        outcome
                    })?;
                    match outcome {
                        LoginOutcome::Current(user) => {
                            users.hooks().after_login(&user)?;
                            Ok(user)
                        }
                        LoginOutcome::Rehashed(rehashed) => modify!(
                            $flavor, &mut *connect!($flavor, conn), rehashed.id(),
                            |stored| users.rehashed_row(stored, &verified_hash, &rehashed),
                            |user| users.hooks().after_login(&user),
                        ),
                    }
                }
            }

            operation! { $flavor,
                /// The user with this id, if any.
                ///
                /// # Errors
                ///
                /// [`UsersError::Database`] only.
                pub fn get<C>(&self, conn: &mut C, id: U::Id) -> Result<Option<U>, UsersError>
                where
                    U: $UserStore<C>,
                {
                    step!($flavor, U::find(conn, id))
                }
            }

            operation! { $flavor,
                /// The user with this email address, compared after normalisation, if any.
                ///
                /// # Errors
                ///
                /// [`UsersError::InvalidEmail`] for a malformed address.
                pub fn find_by_email<C>(
                    &self,
                    conn: &mut C,
                    email: &str,
                ) -> Result<Option<U>, UsersError>
                where
                    U: $UserStore<C>,
                {
                    let email = normalize_email(email)?;
                    step!($flavor, U::find_by_email(conn, &email))
                }
            }

            operation! { $flavor,
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
                pub fn update<C>(&self, conn: &mut C, user: &U) -> Result<U, UsersError>
                where
                    U: $UserStore<C>,
                {
                    let users = self.decisions();
                    modify!(
                        $flavor, conn, user.id(),
                        |stored| users.prepare_update(stored, user),
                        |updated| users.hooks().after_update(&updated),
                    )
                }
            }

            operation! { $flavor,
                /// Gives `user` the email `email` (normalised) at once, unverified if it
                /// changed: an administrator's operation, which asks for no password and
                /// sends nothing. Users change their own address with
                /// [`request_email_change`](Self::request_email_change).
                ///
                /// # Errors
                ///
                /// [`UsersError::UserNotFound`], [`UsersError::InvalidEmail`],
                /// [`UsersError::EmailTaken`], or the error of the `after_update` hook.
                pub fn set_email<C>(&self, conn: &mut C, user: &U, email: &str) -> Result<U, UsersError>
                where
                    U: $UserStore<C>,
                {
                    let users = self.decisions();
                    modify!(
                        $flavor, conn, user.id(),
                        |stored| users.with_email(stored, email),
                        |updated| users.hooks().after_update(&updated),
                    )
                }
            }

            operation_over! { $flavor, $Connections,
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
                pub fn request_email_change<C>(
                    &self,
                    conn: &mut C,
                    user: &U,
                    current: &str,
                    new_email: &str,
                ) -> Result<String, UsersError>
                where
                    U: $UserStore<C>;
                /// As [`request_email_change`](Self::request_email_change), taking a connection
                /// from `conn` for each database step and none while argon2 runs: see
                /// [`Connections`](crate::Connections).
                ///
                /// # Errors
                ///
                /// As [`request_email_change`](Self::request_email_change), and the error of
                /// `conn`.
                pub fn request_email_change_over;
                {
                    let users = self.decisions();
                    let new_email = users.new_email(user, new_email)?;
                    let rehashed = new_hash!(
                        $flavor, users, conn, user.id(),
                        |loaded| {
                            let rehashed = guarded!(
                                $flavor, self, Proof::Password, Some(user.email()), None,
                                hashing!($flavor, self, [current], |users| {
                                    users.prepare_email_change(loaded, &current)
                                })
                            )?;
                            // Only now, with the password proved, is anything said about the
                            // new address: no address oracle for a stolen session.
                            let taken = step!(
                                $flavor,
                                U::find_by_email(&mut *connect!($flavor, conn), &new_email)
                            )?;
                            match taken {
                                Some(_) => Err(UsersError::EmailTaken),
                                None => Ok(rehashed),
                            }
                        },
                        edit: None::<fn(&mut U) -> Result<(), UsersError>>,
                        stale: Some(UsersError::InvalidCredentials),
                        |updated| users.hooks().after_update(&updated),
                    )?;
                    users.email_change_token(&rehashed, &new_email)
                }
            }

            operation! { $flavor,
                /// Replaces the password of `user` after checking its current one; only the
                /// password hash of the stored row changes.
                ///
                /// # Errors
                ///
                /// [`UsersError::UserNotFound`], [`UsersError::InvalidCredentials`] if
                /// `current` is wrong (counted by the guarded check with the account's login
                /// failures), [`UsersError::TooManyAttempts`] while they lock it,
                /// [`UsersError::InvalidPassword`], or the error of the `after_update` hook.
                pub fn change_password<C>(
                    &self,
                    conn: &mut C,
                    user: &U,
                    current: &str,
                    new: &str,
                ) -> Result<U, UsersError>
                where
                    U: $UserStore<C>,
                {
                    step!($flavor, self.change_password_with(conn, user, current, new, |_| Ok(())))
                }
            }

            operation_over! { $flavor, $Connections,
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
                pub fn change_password_with<C>(&self, conn: &mut C, user: &U, current: &str, new: &str, edit: impl FnOnce(&mut U) -> Result<(), UsersError> + Send,
                ) -> Result<U, UsersError>
                where
                    U: $UserStore<C>;
                /// As [`change_password_with`](Self::change_password_with), taking a connection
                /// from `conn` for each database step and none while argon2 runs: see
                /// [`Connections`](crate::Connections).
                ///
                /// # Errors
                ///
                /// As [`change_password_with`](Self::change_password_with), and the error of
                /// `conn`.
                pub fn change_password_over;
                {
                    let users = self.decisions();
                    new_hash!(
                        $flavor, users, conn, user.id(),
                        |loaded| guarded!(
                            $flavor, self, Proof::Password, Some(user.email()), None,
                            hashing!($flavor, self, [current, new], |users| {
                                users.prepare_password_change(loaded, &current, &new)
                            })
                        ),
                        edit: Some(edit),
                        stale: Some(UsersError::InvalidCredentials),
                        |updated| users.hooks().after_update(&updated),
                    )
                }
            }

            operation_over! { $flavor, $Connections,
                /// Replaces the password of `user` without asking for the current one (an
                /// administrator's operation); only the password hash of the stored row changes.
                ///
                /// # Errors
                ///
                /// [`UsersError::UserNotFound`], [`UsersError::InvalidPassword`], or the error
                /// of the `after_update` hook.
                pub fn set_password<C>(
                    &self,
                    conn: &mut C,
                    user: &U,
                    new: &str,
                ) -> Result<U, UsersError>
                where
                    U: $UserStore<C>;
                /// As [`set_password`](Self::set_password), taking a connection from
                /// `conn` for each database step and none while argon2 runs: see
                /// [`Connections`](crate::Connections).
                ///
                /// # Errors
                ///
                /// As [`set_password`](Self::set_password), and the error of `conn`.
                pub fn set_password_over;
                {
                    let users = self.decisions();
                    new_hash!(
                        $flavor, users, conn, user.id(),
                        |loaded| hashing!($flavor, self, [new], |users| {
                            users.prepare_new_password(loaded, &new)
                        }),
                        edit: None::<fn(&mut U) -> Result<(), UsersError>>,
                        stale: None,
                        |updated| users.hooks().after_update(&updated),
                    )
                }
            }

            operation! { $flavor,
                /// Deletes the user with this id, after the `before_delete` hook.
                ///
                /// # Errors
                ///
                /// [`UsersError::UserNotFound`], or the error of the `before_delete` hook, in
                /// which case the user stays.
                pub fn delete<C>(&self, conn: &mut C, id: U::Id) -> Result<(), UsersError>
                where
                    U: $UserStore<C>,
                {
                    let users = self.decisions();
                    transaction!($flavor, conn, |conn| {
                        let user = step!($flavor, U::find_for_update(conn, id))?
                            .ok_or(UsersError::UserNotFound)?;
                        users.hooks().before_delete(&user)?;
                        deleted_or(step!($flavor, U::delete(conn, id))?, UsersError::UserNotFound)
                    })
                }
            }

            operation! { $flavor,
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
                pub fn verify<C>(&self, conn: &mut C, token: &str) -> Result<U, UsersError>
                where
                    U: $UserStore<C>,
                    U::Sessions: $SessionStore<C>,
                    U::SecondFactors: $FactorStore<C>,
                    U::OAuthAccounts: $AccountStore<C>,
                {
                    let users = self.decisions();
                    let token = users.open_address_token(token)?;
                    // A verification token is only ever good for an unverified account.
                    let first_proof = token.purpose() == TokenPurpose::Verification;
                    let clears = users.first_proof_clears;
                    let id = token.user_id().into();
                    transaction!($flavor, conn, |conn| {
                        let stored = step!($flavor, U::find_for_update(conn, id))?;
                        let user = users.finish_verification(&token, stored)?;
                        let verified = step!($flavor, U::update(conn, &user))?;
                        if first_proof {
                            clear_unproven!($flavor, conn, clears, verified.id().into());
                        }
                        users.hooks().after_verify(&verified)?;
                        Ok(verified)
                    })
                }
            }

            operation! { $flavor,
                /// A password reset token for the user with this email, or `None` if there is
                /// none or the user is deactivated.
                ///
                /// The application sends the token to that address, and should answer the same
                /// either way so as not to reveal which addresses have accounts.
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
                    U: $UserStore<C>,
                {
                    let user = step!($flavor, self.find_by_email(conn, email))?;
                    let user = user.filter(UserModel::is_active);
                    Ok(user.map(|user| self.decisions().password_reset_token_for(&user)))
                }
            }

            operation_over! { $flavor, $Connections,
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
                pub fn reset_password<C>(
                    &self,
                    conn: &mut C,
                    token: &str,
                    new: &str,
                ) -> Result<U, UsersError>
                where
                    U: $UserStore<C>,
                    U::Sessions: $SessionStore<C>,
                    U::SecondFactors: $FactorStore<C>,
                    U::OAuthAccounts: $AccountStore<C>;
                /// As [`reset_password`](Self::reset_password), taking a connection from
                /// `conn` for each database step and none while argon2 runs: see
                /// [`Connections`](crate::Connections).
                ///
                /// # Errors
                ///
                /// As [`reset_password`](Self::reset_password), and the error of
                /// `conn`.
                pub fn reset_password_over;
                {
                    let users = self.decisions();
                    let token = users.open_token(token, TokenPurpose::PasswordReset)?;
                    let id: U::Id = token.user_id().into();
                    let loaded = step!($flavor, U::find(&mut *connect!($flavor, conn), id))?;
                    let loaded_hash = loaded.as_ref().map(|user| user.password_hash().to_owned());
                    let first_proof = loaded.as_ref().is_some_and(|user| !user.is_verified());
                    let opened = token.clone();
                    let hashed: U = hashing!($flavor, self, [new], |users| {
                        users.finish_password_reset(&opened, loaded, &new)
                    })?;
                    let clears = users.first_proof_clears;
                    transaction!($flavor, &mut *connect!($flavor, conn), |conn| {
                        let stored = step!($flavor, U::find_for_update(conn, id))?;
                        let mut user = users.with_new_hash(
                            stored,
                            None::<fn(&mut U) -> Result<(), UsersError>>,
                            loaded_hash.as_deref(),
                            &hashed,
                            Some(UsersError::InvalidToken),
                        )?;
                        user.set_verified(true);
                        let updated = step!($flavor, U::update(conn, &user))?;
                        if first_proof {
                            clear_unproven!($flavor, conn, clears, id.into());
                        }
                        users.hooks().after_reset(&updated)?;
                        Ok(updated)
                    })
                }
            }
        }
    };
}
