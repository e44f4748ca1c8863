//! The second-factor operations of the managers, written once, over the user model's
//! [`SecondFactorStore`](crate::SecondFactorStore) or `AsyncSecondFactorStore`
//! (`U::SecondFactors`). The parent module describes the helper macros and the flavors;
//! `crate::factors` the model.

use std::time::SystemTime;

use users_derive::flavors;
use uuid::Uuid;

use crate::factors::{check_totp, new_recovery_codes, new_totp, prove};
#[cfg(feature = "async")]
use crate::{AsyncEventStore, AsyncSecondFactorStore, AsyncUserStore, AsyncUsers};
use crate::{
    EventKind, EventStore, PasskeyRecord, Proof, RoleModel, SecondFactorChallenge,
    SecondFactorMethod, SecondFactorProof, SecondFactorRecord, SecondFactorStore, SecurityEvent,
    TokenPurpose, TotpEnrollment, UserModel, UserStore, Users, UsersError,
};

/// `value` if the factors' row was written; else [`UsersError::Conflict`] on `totp`: another
/// change to the user's factors won the race (the row's version moved on).
fn written_or_conflict<T>(written: bool, value: T) -> Result<T, UsersError> {
    if written {
        Ok(value)
    } else {
        Err(UsersError::Conflict { column: "totp" })
    }
}

#[flavors(
    AsyncEventStore => EventStore,
    AsyncUsers => Users,
    AsyncUserStore => UserStore,
    AsyncSecondFactorStore => SecondFactorStore,
)]
impl<U: UserModel, R: RoleModel> AsyncUsers<U, R> {
    /// The user's second factors (an empty record if they have none).
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`].
    pub async fn second_factors<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
    ) -> Result<SecondFactorRecord, UsersError>
    where
        U::SecondFactors: AsyncSecondFactorStore<C>,
    {
        let user_id: Uuid = user.id().into();
        let record = U::SecondFactors::find_factors(conn, user_id).await?;
        Ok(record.unwrap_or_else(|| SecondFactorRecord::empty(user_id)))
    }

    /// Starts a TOTP enrolment for `user`: a new secret, stored sealed and
    /// unconfirmed (replacing an unconfirmed one), shown once as base32 and as an
    /// `otpauth://` URI naming `issuer` (your application) and the user's email. It
    /// is enforced once [`confirm_totp`](Self::confirm_totp) saw a first valid code.
    ///
    /// # Errors
    ///
    /// [`UsersError::UnverifiedUser`] if the user has not proved their address
    /// (a factor set up on an address someone else may own would outlive its
    /// owner's reset); [`UsersError::Conflict`] (column `totp`) if the user has a
    /// confirmed TOTP (remove it first); [`UsersError::Database`].
    pub async fn enroll_totp<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        issuer: &str,
    ) -> Result<TotpEnrollment, UsersError>
    where
        U::SecondFactors: AsyncSecondFactorStore<C>,
    {
        if !user.is_verified() {
            return Err(UsersError::UnverifiedUser);
        }
        let user_id: Uuid = user.id().into();
        let stored = U::SecondFactors::find_factors(conn, user_id).await?;
        if stored.as_ref().is_some_and(SecondFactorRecord::has_totp) {
            return Err(UsersError::Conflict { column: "totp" });
        }
        let (enrollment, sealed) =
            new_totp(self.decisions().sealer(), user_id, user.email(), issuer)?;
        let written = match stored {
            Some(stored) => {
                let mut record = stored.next();
                (
                    record.totp_secret,
                    record.totp_confirmed,
                    record.totp_last_step,
                ) = (Some(sealed), false, 0);
                U::SecondFactors::update_factors(conn, &record, stored.version).await?
            }
            None => {
                let mut record = SecondFactorRecord::empty(user_id);
                record.totp_secret = Some(sealed);
                U::SecondFactors::insert_factors(conn, &record).await?;
                true
            }
        };
        written_or_conflict(written, enrollment)
    }

    /// Confirms the user's TOTP enrolment with a first valid code (counted by the
    /// login throttle, as a password is): from now on a login asks for a code. Returns
    /// ten recovery codes to show the user once; only their digests are stored.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidCredentials`] for a wrong code;
    /// [`UsersError::TooManyAttempts`] while the account is locked out;
    /// [`UsersError::Conflict`] (column `totp`) if there is no enrolment to
    /// confirm; [`UsersError::Database`].
    pub async fn confirm_totp<C: Send>(
        &self,
        conn: &mut C,
        client: Option<&str>,
        user: &U,
        code: &str,
    ) -> Result<Vec<String>, UsersError>
    where
        U::SecondFactors: AsyncSecondFactorStore<C>,
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let record = self.second_factors(conn, user).await?;
        if record.totp_secret.is_none() || record.totp_confirmed {
            return Err(UsersError::Conflict { column: "totp" });
        }
        let sealer = self.decisions().sealer();
        let step = guarded!(
            flavor,
            self,
            Proof::SecondFactor,
            Some(user.email()),
            client,
            { check_totp(sealer, &record, code, SystemTime::now()) }
        )?;
        let (codes, digests) = new_recovery_codes();
        let mut confirmed = record.next();
        confirmed.totp_confirmed = true;
        confirmed.totp_last_step = step;
        confirmed.recovery_codes = digests;
        let written = recorded!(
            flavor,
            self.decisions(),
            conn,
            SecurityEvent::new(EventKind::TotpEnabled, user.id().into()).from_client(client),
            |conn| U::SecondFactors::update_factors(conn, &confirmed, record.version).await,
            |written| *written,
        );
        written_or_conflict(written, codes)
    }

    /// Checks a proof that the user is present (a TOTP code or a recovery code,
    /// each used up), as a change to their factors should ask for; counted by the
    /// login throttle.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidCredentials`] for a wrong, replayed or used code, or a
    /// user without a confirmed TOTP; [`UsersError::TooManyAttempts`] while
    /// locked out; the error of the `after_recovery_code` hook;
    /// [`UsersError::Database`].
    pub async fn check_second_factor<C: Send>(
        &self,
        conn: &mut C,
        client: Option<&str>,
        user: &U,
        proof: SecondFactorProof<'_>,
    ) -> Result<(), UsersError>
    where
        U::SecondFactors: AsyncSecondFactorStore<C>,
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let record = self.second_factors(conn, user).await?;
        self.prove_factor(
            conn,
            client,
            user,
            &record,
            proof,
            record.version,
            UsersError::InvalidCredentials,
        )
        .await?;
        Ok(())
    }

    /// Replaces the user's recovery codes with ten new ones, returned to show once;
    /// the old ones stop working. Ask for the password or a factor first.
    ///
    /// # Errors
    ///
    /// [`UsersError::Conflict`] (column `totp`) if the user has no confirmed TOTP,
    /// or another change won; [`UsersError::Database`].
    pub async fn regenerate_recovery_codes<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
    ) -> Result<Vec<String>, UsersError>
    where
        U::SecondFactors: AsyncSecondFactorStore<C>,
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let record = self.second_factors(conn, user).await?;
        if !record.has_totp() {
            return Err(UsersError::Conflict { column: "totp" });
        }
        let (codes, digests) = new_recovery_codes();
        let mut next = record.next();
        next.recovery_codes = digests;
        let written = recorded!(
            flavor,
            self.decisions(),
            conn,
            SecurityEvent::new(EventKind::RecoveryCodesRegenerated, user.id().into()),
            |conn| U::SecondFactors::update_factors(conn, &next, record.version).await,
            |written| *written,
        );
        written_or_conflict(written, codes)
    }

    /// Removes the user's TOTP and recovery codes: logins ask for the password
    /// alone again. Ask for the password or a factor first. `false` if the user
    /// had none.
    ///
    /// # Errors
    ///
    /// [`UsersError::Conflict`] (column `totp`) if another change won;
    /// [`UsersError::Database`].
    pub async fn remove_totp<C: Send>(&self, conn: &mut C, user: &U) -> Result<bool, UsersError>
    where
        U::SecondFactors: AsyncSecondFactorStore<C>,
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let record = self.second_factors(conn, user).await?;
        if record.totp_secret.is_none() {
            return Ok(false);
        }
        let mut next = record.next();
        (next.totp_secret, next.totp_confirmed, next.recovery_codes) = (None, false, String::new());
        let written = recorded!(
            flavor,
            self.decisions(),
            conn,
            SecurityEvent::new(EventKind::TotpRemoved, user.id().into()),
            |conn| U::SecondFactors::update_factors(conn, &next, record.version).await,
            |written| *written,
        );
        written_or_conflict(written, true)
    }

    /// What a login whose password was right must do next: `None` if the user has
    /// no second factor (start the session), else the "second factor pending" token
    /// (single-use, [`SECOND_FACTOR_TOKEN_LIFETIME`](crate::SECOND_FACTOR_TOKEN_LIFETIME),
    /// no session) and the methods that complete it
    /// ([`complete_second_factor`](Self::complete_second_factor)).
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`].
    pub async fn second_factor_challenge<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
    ) -> Result<Option<SecondFactorChallenge>, UsersError>
    where
        U::SecondFactors: AsyncSecondFactorStore<C>,
    {
        let record = self.second_factors(conn, user).await?;
        let mut methods = record.methods();
        if !U::SecondFactors::passkeys_of(conn, user.id().into())
            .await?
            .is_empty()
        {
            methods.push(SecondFactorMethod::Passkey);
        }
        if methods.is_empty() {
            return Ok(None);
        }
        let token = self.decisions().second_factor_token(user, record.version);
        Ok(Some(SecondFactorChallenge { token, methods }))
    }

    /// Completes a login with its "second factor pending" token and a TOTP code or a
    /// recovery code (each used up), counted by the login throttle of the account and
    /// `client`; returns the user, whose session the caller starts. The token works
    /// once: completing the login moves the user's factors to a new version.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`] for a bad, expired or used token, or one whose
    /// user changed their password since; [`UsersError::InvalidCredentials`] for a
    /// wrong, replayed or used code; [`UsersError::TooManyAttempts`] while locked
    /// out; [`UsersError::InactiveUser`]; the error of the `after_recovery_code`
    /// hook; [`UsersError::Database`].
    pub async fn complete_second_factor<C: Send>(
        &self,
        conn: &mut C,
        client: Option<&str>,
        token: &str,
        proof: SecondFactorProof<'_>,
    ) -> Result<U, UsersError>
    where
        U: AsyncUserStore<C>,
        U::SecondFactors: AsyncSecondFactorStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let (user, record) = self.pending_factors(conn, token).await?;
        let issued_at = record.version;
        self.prove_factor(
            conn,
            client,
            &user,
            &record,
            proof,
            issued_at,
            UsersError::InvalidToken,
        )
        .await?;
        Ok(user)
    }

    /// The user's passkeys, oldest first.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`].
    pub async fn passkeys<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
    ) -> Result<Vec<PasskeyRecord>, UsersError>
    where
        U::SecondFactors: AsyncSecondFactorStore<C>,
    {
        U::SecondFactors::passkeys_of(conn, user.id().into()).await
    }

    /// Stores a passkey the web side registered for `user` (`credential`: its
    /// serialized credential, `credential_id`: its id, base64url). From now on a login
    /// with the password asks for a second factor, which the passkey can give.
    ///
    /// # Errors
    ///
    /// [`UsersError::UnverifiedUser`] if the user has not proved their address;
    /// [`UsersError::Database`] (also for a credential id registered already).
    pub async fn add_passkey<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        credential_id: &str,
        credential: &str,
        name: Option<&str>,
    ) -> Result<PasskeyRecord, UsersError>
    where
        U::SecondFactors: AsyncSecondFactorStore<C>,
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        if !user.is_verified() {
            return Err(UsersError::UnverifiedUser);
        }
        let user_id: Uuid = user.id().into();
        // A second-factor login's token is bound to the factors' version: the row
        // must exist.
        if U::SecondFactors::find_factors(conn, user_id)
            .await?
            .is_none()
        {
            U::SecondFactors::insert_factors(conn, &SecondFactorRecord::empty(user_id)).await?;
        }
        let passkey = PasskeyRecord {
            id: Uuid::now_v7(),
            user_id,
            credential_id: credential_id.to_owned(),
            credential: credential.to_owned(),
            name: name.map(str::to_owned),
            created_at: SystemTime::now(),
            last_used_at: None,
        };
        let added = &passkey;
        recorded!(
            flavor,
            self.decisions(),
            conn,
            SecurityEvent::new(EventKind::PasskeyAdded, user_id).about(name.unwrap_or("passkey")),
            |conn| U::SecondFactors::insert_passkey(conn, added).await,
            |_inserted| true,
        );
        Ok(passkey)
    }

    /// Deletes the passkey `id` of `user`; `false` if they have none such. Ask for the
    /// password or a factor first.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`].
    pub async fn remove_passkey<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        id: Uuid,
    ) -> Result<bool, UsersError>
    where
        U::SecondFactors: AsyncSecondFactorStore<C>,
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let user_id: Uuid = user.id().into();
        Ok(recorded!(
            flavor,
            self.decisions(),
            conn,
            SecurityEvent::new(EventKind::PasskeyRemoved, user_id).about(id.to_string()),
            |conn| U::SecondFactors::delete_passkey(conn, user_id, id).await,
            |removed| *removed,
        ))
    }

    /// The user of a "second factor pending" token, checked (purpose, expiry,
    /// binding, not used yet), and the version of their factors it is bound to: for
    /// a factor the web side checks (a passkey), before
    /// [`complete_with_passkey`](Self::complete_with_passkey).
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`], [`UsersError::InactiveUser`],
    /// [`UsersError::Database`].
    pub async fn pending_login<C: Send>(
        &self,
        conn: &mut C,
        token: &str,
    ) -> Result<(U, i64), UsersError>
    where
        U: AsyncUserStore<C>,
        U::SecondFactors: AsyncSecondFactorStore<C>,
    {
        let (user, record) = self.pending_factors(conn, token).await?;
        Ok((user, record.version))
    }

    /// The user of a "second factor pending" token, checked, and their factors at
    /// the version the token is bound to.
    ///
    /// # Errors
    ///
    /// As [`pending_login`](Self::pending_login).
    async fn pending_factors<C: Send>(
        &self,
        conn: &mut C,
        token: &str,
    ) -> Result<(U, SecondFactorRecord), UsersError>
    where
        U: AsyncUserStore<C>,
        U::SecondFactors: AsyncSecondFactorStore<C>,
    {
        let users = self.decisions();
        let opened = users.open_token(token, TokenPurpose::SecondFactor)?;
        let stored = U::find(conn, opened.user_id().into()).await?;
        let user = users.token_user(&opened, TokenPurpose::SecondFactor, stored)?;
        let record = self.second_factors(conn, &user).await?;
        if opened.factors_version() != Some(record.version) {
            return Err(UsersError::InvalidToken);
        }
        Ok((user, record))
    }

    /// Completes the pending login of `user` (at factors version `version`, from
    /// [`pending_login`](Self::pending_login)) with a passkey the web side verified:
    /// stores its updated credential (`passkey`) and moves the factors to a new
    /// version, so the pending token works once.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`] if the token was used meanwhile;
    /// [`UsersError::Database`].
    pub async fn complete_with_passkey<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        version: i64,
        passkey: &PasskeyRecord,
    ) -> Result<(), UsersError>
    where
        U::SecondFactors: AsyncSecondFactorStore<C>,
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let record = self.second_factors(conn, user).await?;
        if !U::SecondFactors::update_factors(conn, &record.next(), version).await? {
            return Err(UsersError::InvalidToken);
        }
        self.passkey_used(conn, passkey).await
    }

    /// Stores a passkey's updated credential (its signature counter) after it signed
    /// a login, with the time.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`].
    pub async fn passkey_used<C: Send>(
        &self,
        conn: &mut C,
        passkey: &PasskeyRecord,
    ) -> Result<(), UsersError>
    where
        U::SecondFactors: AsyncSecondFactorStore<C>,
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let used = PasskeyRecord {
            last_used_at: Some(SystemTime::now()),
            ..passkey.clone()
        };
        let about = passkey.name.as_deref().unwrap_or("passkey");
        recorded!(
            flavor,
            self.decisions(),
            conn,
            SecurityEvent::new(EventKind::PasskeyUsed, passkey.user_id).about(about),
            |conn| U::SecondFactors::update_passkey(conn, &used).await,
            |_updated| true,
        );
        Ok(())
    }

    /// Proves a factor of `user` (the record `record`) with `proof`, through the guarded
    /// check (`guarded!`, kind [`Proof::SecondFactor`]). Writes the proved record over
    /// version `expected`; `raced` is the error if another write won. Runs the
    /// recovery-code hook. Returns the written record.
    #[allow(clippy::too_many_arguments)]
    async fn prove_factor<C: Send>(
        &self,
        conn: &mut C,
        client: Option<&str>,
        user: &U,
        record: &SecondFactorRecord,
        proof: SecondFactorProof<'_>,
        expected: i64,
        raced: UsersError,
    ) -> Result<SecondFactorRecord, UsersError>
    where
        U: AsyncUserStore<C>,
        U::SecondFactors: AsyncSecondFactorStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let users = self.decisions();
        let sealer = users.sealer();
        let proved = guarded!(
            flavor,
            self,
            Proof::SecondFactor,
            Some(user.email()),
            client,
            { prove(sealer, record, proof, SystemTime::now()) }
        );
        let user_id: Uuid = user.id().into();
        if matches!(proved, Err(UsersError::InvalidCredentials)) {
            let failed = SecurityEvent::new(EventKind::SecondFactorFailed, user_id);
            self.note(conn, failed.from_client(client)).await?;
        }
        let proved = proved?;
        let (kind, what) = match proved.recovery_codes_left {
            Some(_) => (EventKind::RecoveryCodeUsed, "recovery code"),
            None => (EventKind::SecondFactorPassed, "totp"),
        };
        let written = &proved.record;
        let stored = recorded!(
            flavor,
            users,
            conn,
            SecurityEvent::new(kind, user_id)
                .from_client(client)
                .about(what),
            |conn| U::SecondFactors::update_factors(conn, written, expected).await,
            |stored| *stored,
        );
        if !stored {
            return Err(raced);
        }
        if let Some(left) = proved.recovery_codes_left {
            users.hooks().after_recovery_code(user, left)?;
        }
        Ok(proved.record)
    }
}
