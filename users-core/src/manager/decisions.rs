//! The manager's decisions, as plain methods over what the store returned.
//!
//! Nothing here touches a store: the operations (`crate::operations`) call these between their
//! loads and writes, in both managers; the async one runs the methods that hash
//! (`registration_credentials`, `check_login`, `prepare_password_change`, `prepare_new_password`,
//! `finish_password_reset`) on a blocking pool, since each costs an argon2 run or two. A stored
//! row that the store did not find is passed as `None`.

use std::time::SystemTime;

use uuid::Uuid;

use super::Users;
use crate::password::{check_length, check_strength, user_inputs};
use crate::sessions::{SessionPolicy, SessionTokens, StoredSession};
use crate::{
    normalize_email, normalize_role_name, refresh_digest, OpenedToken, PasswordProblem,
    PasswordVerification, ProviderIdentity, RoleModel, TokenPurpose, UserModel, UsersError,
};

/// What `Users::check_login` decided for a login whose password checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub(crate) enum LoginOutcome<U> {
    /// The stored hash is current: nothing to write.
    Current(U),
    /// The stored hash was outdated; the user carries a fresh one that the caller must store.
    Rehashed(U),
}

impl<U: UserModel, R: RoleModel> Users<U, R> {
    /// Checks a new password, for no user in particular: the configured length bounds, the
    /// strength estimate ([`UsersConfig::password_strength`](crate::UsersConfig::password_strength)),
    /// then the `validate_password` hook. The operations that set a password check it with
    /// [`validate_password_for`](Self::validate_password_for), which also counts the user's
    /// own words against it.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidPassword`], whose [`PasswordProblem`] never quotes the password.
    pub fn validate_password(&self, password: &str) -> Result<(), UsersError> {
        self.check_new_password(password, &[])
    }

    /// Checks a new password of `user`, as [`validate_password`](Self::validate_password) does,
    /// with the user's email address (whole, and its local part) and
    /// [profile words](UserModel::profile_words) counted by the strength estimate as easy to
    /// guess: "alice.smith@example.com" makes "alicesmith2024" weak.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidPassword`], whose [`PasswordProblem`] never quotes the password.
    pub fn validate_password_for(&self, password: &str, user: &U) -> Result<(), UsersError> {
        let words = user.profile_words();
        self.check_new_password(password, &user_inputs(user.email(), &words))
    }

    fn check_new_password(&self, password: &str, user_inputs: &[&str]) -> Result<(), UsersError> {
        check_length(
            password,
            self.config.password_min_chars(),
            self.config.password_max_bytes(),
        )
        .and_then(|()| check_strength(password, self.config.password_min_score(), user_inputs))
        .map_err(UsersError::InvalidPassword)?;
        self.hooks
            .validate_password(password)
            .map_err(|reason| UsersError::InvalidPassword(PasswordProblem::Rejected(reason)))
    }

    /// The part of a registration that costs an argon2 run: `user` (made by
    /// [`registered_user`](Self::registered_user)) with the hash of its validated password.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidPassword`].
    pub(crate) fn registration_credentials(
        &self,
        mut user: U,
        password: &str,
    ) -> Result<U, UsersError> {
        self.validate_password_for(password, &user)?;
        user.set_password_hash(self.hasher.hash(password)?);
        Ok(user)
    }

    /// The user to insert for a registration, but for its password: a fresh UUIDv7 id, the
    /// normalised `email`, the custom fields of [`UserModel::from_credentials`] as `customize`
    /// left them, active and unverified whatever `customize` does to those fields, and
    /// `password_hash` (for a registration, an unusable one that
    /// [`registration_credentials`](Self::registration_credentials) replaces).
    pub(crate) fn registered_user(
        &self,
        email: String,
        password_hash: String,
        customize: impl FnOnce(&mut U),
    ) -> U {
        let mut user = U::from_credentials(
            U::Id::from(Uuid::now_v7()),
            email.clone(),
            password_hash.clone(),
        );
        customize(&mut user);
        user.set_email(email);
        user.set_password_hash(password_hash);
        user.set_active(true);
        user.set_verified(false);
        user
    }

    /// The user a provider sign-in signs in, if the account may sign in: active, and verified
    /// where the configuration requires it.
    pub(crate) fn provider_user(&self, user: U) -> Result<U, UsersError> {
        if !user.is_active() {
            return Err(UsersError::InactiveUser);
        }
        if self.config.requires_verified() && !user.is_verified() {
            return Err(UsersError::UnverifiedUser);
        }
        Ok(user)
    }

    /// The normalised address a provider gave, for an account it has not linked yet.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidEmail`] if it gave none or a malformed one.
    pub(crate) fn provider_email(&self, identity: &ProviderIdentity) -> Result<String, UsersError> {
        let email = identity
            .email
            .as_deref()
            .ok_or_else(|| UsersError::InvalidEmail(crate::EmailProblem::Missing))?;
        normalize_email(email)
    }

    /// The normalised address to look a login up by, or `None` for a malformed one: it belongs
    /// to nobody, so the login takes the unknown-email path and fails like a wrong password.
    pub(crate) fn login_email(&self, email: &str) -> Option<String> {
        normalize_email(email).ok()
    }

    /// Decides a login for the user found by email (`None` if there was none).
    ///
    /// Exactly one argon2 verification runs either way, so the two failures take the same
    /// time. The account's state is only revealed to a caller who knows the password.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidCredentials`], then [`UsersError::InactiveUser`], then
    /// [`UsersError::UnverifiedUser`] where verified users are required.
    pub(crate) fn check_login(
        &self,
        user: Option<U>,
        password: &str,
    ) -> Result<LoginOutcome<U>, UsersError> {
        // Registration refuses such a password, so no account has one; argon2 is not made to
        // chew on megabytes to say so.
        if password.len() > self.config.password_max_bytes() {
            return Err(UsersError::InvalidCredentials);
        }
        let Some(mut user) = user else {
            self.hasher.dummy_verify(password);
            return Err(UsersError::InvalidCredentials);
        };
        let verification = self.hasher.verify(password, user.password_hash());
        if !verification.is_valid() {
            return Err(UsersError::InvalidCredentials);
        }
        let hidden = |state| {
            if self.config.hides_account_state() {
                UsersError::InvalidCredentials
            } else {
                state
            }
        };
        if !user.is_active() {
            return Err(hidden(UsersError::InactiveUser));
        }
        if self.config.requires_verified() && !user.is_verified() {
            return Err(hidden(UsersError::UnverifiedUser));
        }
        if verification == PasswordVerification::ValidButOutdated {
            user.set_password_hash(self.hasher.hash(password)?);
            return Ok(LoginOutcome::Rehashed(user));
        }
        Ok(LoginOutcome::Current(user))
    }

    /// The row to store after a login rehashed the password: `stored`, the user as it is now,
    /// with the fresh hash of `rehashed`, provided its hash is still `verified_hash`, the one
    /// the password was checked against. A password changed meanwhile wins over the upgrade.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidCredentials`] if the user is gone.
    pub(crate) fn rehashed_row(
        &self,
        stored: Option<U>,
        verified_hash: &str,
        rehashed: &U,
    ) -> Result<U, UsersError> {
        let mut stored = stored.ok_or(UsersError::InvalidCredentials)?;
        if stored.password_hash() == verified_hash {
            stored.set_password_hash(rehashed.password_hash().to_owned());
        }
        Ok(stored)
    }

    /// `stored`, the user as it is now, changed by `edit` (if any; stored as
    /// [`prepare_update`](Self::prepare_update) makes a row) and with the new hash of `hashed`,
    /// which was hashed outside the transaction for the row whose hash was `loaded_hash`. With
    /// `stale`, the hash must not have changed meanwhile (a password checked, or a token
    /// issued, against the old hash must not replace a newer one); without, the last change
    /// wins.
    ///
    /// # Errors
    ///
    /// `stale` if the row is gone or its hash changed, [`UsersError::UserNotFound`] if the row
    /// is gone and there is no `stale`, or the error of `edit` or of the update.
    pub(crate) fn with_new_hash(
        &self,
        stored: Option<U>,
        edit: Option<impl FnOnce(&mut U) -> Result<(), UsersError>>,
        loaded_hash: Option<&str>,
        hashed: &U,
        stale: Option<UsersError>,
    ) -> Result<U, UsersError> {
        let still_loaded = |user: &U| loaded_hash == Some(user.password_hash());
        let user = match (stored, stale) {
            (Some(user), None) => user,
            (Some(user), Some(_)) if still_loaded(&user) => user,
            (_, Some(stale)) => return Err(stale),
            (None, None) => return Err(UsersError::UserNotFound),
        };
        let mut user = match edit {
            Some(edit) => {
                let mut edited = user.clone();
                edit(&mut edited)?;
                self.prepare_update(Some(user), &edited)?
            }
            None => user,
        };
        user.set_password_hash(hashed.password_hash().to_owned());
        Ok(user)
    }

    /// The row to store for an update of `stored` to `requested`: every field of `requested`
    /// but the email and the password hash, which stay as stored.
    ///
    /// # Errors
    ///
    /// [`UsersError::UserNotFound`], [`UsersError::InvalidEmail`] for a malformed email, or
    /// [`UsersError::PasswordRequired`] for another email than the stored one (compared after
    /// normalisation).
    pub(crate) fn prepare_update(&self, stored: Option<U>, requested: &U) -> Result<U, UsersError> {
        let stored = stored.ok_or(UsersError::UserNotFound)?;
        if normalize_email(requested.email())? != stored.email() {
            return Err(UsersError::PasswordRequired);
        }
        let mut user = requested.clone();
        user.set_email(stored.email().to_owned());
        user.set_password_hash(stored.password_hash().to_owned());
        Ok(user)
    }

    /// `stored` with the email `email` (normalised), unverified if it changed: an
    /// administrator's change.
    ///
    /// # Errors
    ///
    /// [`UsersError::UserNotFound`] or [`UsersError::InvalidEmail`].
    pub(crate) fn with_email(&self, stored: Option<U>, email: &str) -> Result<U, UsersError> {
        let mut user = stored.ok_or(UsersError::UserNotFound)?;
        let email = normalize_email(email)?;
        if email != user.email() {
            user.set_email(email);
            user.set_verified(false);
        }
        Ok(user)
    }

    /// The part of an email change request that costs argon2 work: `stored` (the loaded user)
    /// with its password checked against `current` and hashed again with a fresh salt. The new
    /// hash moves what tokens are bound to: the verification and reset tokens issued before,
    /// and every session, die with it.
    ///
    /// # Errors
    ///
    /// [`UsersError::UserNotFound`], [`UsersError::InvalidCredentials`], or
    /// [`UsersError::InactiveUser`].
    pub(crate) fn prepare_email_change(
        &self,
        stored: Option<U>,
        current: &str,
    ) -> Result<U, UsersError> {
        let mut user = self.with_current_password(stored, current)?;
        if !user.is_active() {
            return Err(UsersError::InactiveUser);
        }
        user.set_password_hash(self.hasher.hash(current)?);
        Ok(user)
    }

    /// The normalised new address of an email change for `user`.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidEmail`], including for the user's current address.
    pub(crate) fn new_email(&self, user: &U, email: &str) -> Result<String, UsersError> {
        let email = normalize_email(email)?;
        if email == user.email() {
            return Err(UsersError::InvalidEmail(crate::EmailProblem::Unchanged));
        }
        Ok(email)
    }

    /// A token that changes the email of `user` (as stored after its
    /// [`prepare_email_change`](Self::prepare_email_change)) to `email` once used; it goes to
    /// that address, valid for the verification lifetime.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidEmail`] for an overlong address.
    pub(crate) fn email_change_token(&self, user: &U, email: &str) -> Result<String, UsersError> {
        self.tokens.issue_email_change(
            user,
            email,
            SystemTime::now(),
            self.config.verification_token_ttl(),
        )
    }

    /// `stored` with the hash of `new`, provided `current` is its password.
    ///
    /// # Errors
    ///
    /// [`UsersError::UserNotFound`], [`UsersError::InvalidCredentials`] or
    /// [`UsersError::InvalidPassword`].
    pub(crate) fn prepare_password_change(
        &self,
        stored: Option<U>,
        current: &str,
        new: &str,
    ) -> Result<U, UsersError> {
        let stored = self.with_current_password(stored, current)?;
        self.prepare_new_password(Some(stored), new)
    }

    /// `stored`, provided `current` is its password.
    ///
    /// # Errors
    ///
    /// [`UsersError::UserNotFound`] or [`UsersError::InvalidCredentials`].
    fn with_current_password(&self, stored: Option<U>, current: &str) -> Result<U, UsersError> {
        let user = stored.ok_or(UsersError::UserNotFound)?;
        if !self.hasher.verify(current, user.password_hash()).is_valid() {
            return Err(UsersError::InvalidCredentials);
        }
        Ok(user)
    }

    /// `stored` with the hash of `new`.
    ///
    /// # Errors
    ///
    /// [`UsersError::UserNotFound`] or [`UsersError::InvalidPassword`].
    pub(crate) fn prepare_new_password(
        &self,
        stored: Option<U>,
        new: &str,
    ) -> Result<U, UsersError> {
        let mut user = stored.ok_or(UsersError::UserNotFound)?;
        self.validate_password_for(new, &user)?;
        user.set_password_hash(self.hasher.hash(new)?);
        Ok(user)
    }

    /// A token that verifies the user's current email address, valid for the configured
    /// verification lifetime; [`Users::verify`] consumes it.
    ///
    /// # Errors
    ///
    /// [`UsersError::AlreadyVerified`] if the user is verified.
    pub fn verification_token(&self, user: &U) -> Result<String, UsersError> {
        if user.is_verified() {
            return Err(UsersError::AlreadyVerified);
        }
        Ok(self.tokens.issue(
            TokenPurpose::Verification,
            user,
            SystemTime::now(),
            self.config.verification_token_ttl(),
        ))
    }

    /// A password reset token for `user`, valid for the configured reset lifetime and until its
    /// password hash changes: for an application that has loaded the user already;
    /// [`Users::password_reset_token`] looks it up by email.
    pub fn password_reset_token_for(&self, user: &U) -> String {
        self.tokens.issue(
            TokenPurpose::PasswordReset,
            user,
            SystemTime::now(),
            self.config.reset_token_ttl(),
        )
    }

    /// Checks a token's signature, purpose and expiry; the caller then loads the user with
    /// [`OpenedToken::user_id`] and passes it on to [`finish_verification`](Self::finish_verification)
    /// or [`finish_password_reset`](Self::finish_password_reset).
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`].
    pub(crate) fn open_token(
        &self,
        token: &str,
        purpose: TokenPurpose,
    ) -> Result<OpenedToken, UsersError> {
        self.tokens.open(token, purpose, SystemTime::now())
    }

    /// Opens a token that proves an address: a verification token, or an email change token.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`].
    pub(crate) fn open_address_token(&self, token: &str) -> Result<OpenedToken, UsersError> {
        self.open_token(token, TokenPurpose::Verification)
            .or_else(|_| self.open_token(token, TokenPurpose::EmailChange))
    }

    /// `stored`, the user of an opened verification token, marked as verified; for an email
    /// change token, with the new address as its verified email.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`] if the user is gone or its email or password hash changed
    /// since the token was issued, [`UsersError::InactiveUser`] if it is deactivated,
    /// [`UsersError::AlreadyVerified`] for a verification of a verified user.
    pub(crate) fn finish_verification(
        &self,
        token: &OpenedToken,
        stored: Option<U>,
    ) -> Result<U, UsersError> {
        let mut user = self.token_user(token, token.purpose(), stored)?;
        match (token.purpose(), token.new_email()) {
            (TokenPurpose::EmailChange, Some(email)) => user.set_email(email.to_owned()),
            (TokenPurpose::Verification, None) if user.is_verified() => {
                return Err(UsersError::AlreadyVerified)
            }
            (TokenPurpose::Verification, None) => {}
            _ => return Err(UsersError::InvalidToken),
        }
        user.set_verified(true);
        Ok(user)
    }

    /// `stored`, the user of an opened reset token, with the hash of `new`.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`] if the user is gone or its email or password changed since
    /// the token was issued, [`UsersError::InactiveUser`] if it is deactivated,
    /// [`UsersError::InvalidPassword`].
    pub(crate) fn finish_password_reset(
        &self,
        token: &OpenedToken,
        stored: Option<U>,
        new: &str,
    ) -> Result<U, UsersError> {
        let user = self.token_user(token, TokenPurpose::PasswordReset, stored)?;
        self.prepare_new_password(Some(user), new)
    }

    /// The user of an opened token, loaded as `stored`: the token's purpose, the binding to
    /// the user's state, and that the user is active.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`], [`UsersError::InactiveUser`].
    pub(crate) fn token_user(
        &self,
        token: &OpenedToken,
        purpose: TokenPurpose,
        stored: Option<U>,
    ) -> Result<U, UsersError> {
        let user = stored.ok_or(UsersError::InvalidToken)?;
        if token.purpose() != purpose {
            return Err(UsersError::InvalidToken);
        }
        self.tokens.check_user(token, &user)?;
        if !user.is_active() {
            return Err(UsersError::InactiveUser);
        }
        Ok(user)
    }

    /// New tokens for the stored session `session` of `user` at `now`: an access token, and a
    /// refresh token whose digest the returned row holds (the caller stores it).
    pub(crate) fn session_tokens(
        &self,
        user: &U,
        mut session: StoredSession,
        policy: &SessionPolicy,
        now: SystemTime,
    ) -> SessionTokens {
        let expires_in = policy.access_lifetime(&session, now);
        let refresh_lifetime = policy.refresh_lifetime(&session, now);
        let refresh_token = self
            .tokens
            .issue_refresh(user, session.id, now, refresh_lifetime);
        session.refresh_digest = refresh_digest(&refresh_token);
        SessionTokens {
            access_token: self.tokens.issue_session(user, session.id, now, expires_in),
            expires_in,
            refresh_token,
            session,
        }
    }
}

/// A new role with a fresh UUIDv7 id and the normalised name.
///
/// # Errors
///
/// [`UsersError::InvalidRoleName`].
pub(crate) fn new_role<R: RoleModel>(
    name: &str,
    description: Option<&str>,
) -> Result<R, UsersError> {
    Ok(R::from_name(
        Uuid::now_v7().into(),
        normalize_role_name(name)?,
        description.map(str::to_owned),
    ))
}

/// `role` with `name`, normalised, as its name.
///
/// # Errors
///
/// [`UsersError::InvalidRoleName`].
pub(crate) fn renamed<R: RoleModel>(role: &R, name: &str) -> Result<R, UsersError> {
    let mut renamed = role.clone();
    renamed.set_name(normalize_role_name(name)?);
    Ok(renamed)
}

/// The normalised name to look a role up by, or `None` for a name no role can have.
pub(crate) fn lookup_name(name: &str) -> Option<String> {
    normalize_role_name(name).ok()
}

/// The normalised names of a `has_any_role` check, each once, without those no role can have.
pub(crate) fn any_names(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().filter_map(|name| lookup_name(name)).collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The normalised names of a `has_all_roles` check, each once, or `None` if one of them is a
/// name no role can have (so the user cannot have them all).
pub(crate) fn all_names(names: &[&str]) -> Option<Vec<String>> {
    let mut names: Vec<String> = names
        .iter()
        .map(|name| lookup_name(name))
        .collect::<Option<_>>()?;
    names.sort_unstable();
    names.dedup();
    Some(names)
}

/// `Ok` if a delete found its row, `missing` otherwise.
pub(crate) fn deleted_or(deleted: bool, missing: UsersError) -> Result<(), UsersError> {
    if deleted {
        Ok(())
    } else {
        Err(missing)
    }
}
