//! The second-factor operations of the managers, written once, over the user model's
//! [`SecondFactorStore`](crate::SecondFactorStore) or `AsyncSecondFactorStore`
//! (`U::SecondFactors`). The parent module describes the helper macros and the flavors;
//! `crate::factors` the model.

/// Proves a factor of `$user` (the record `$record`) with `$proof`, through the guarded check
/// (`guarded!`, kind [`Proof::SecondFactor`](crate::Proof::SecondFactor)). Writes the
/// proved record over version `$expected`; `$raced` is the error if another write won. Runs
/// the recovery-code hook. Evaluates to the written record.
macro_rules! prove_factor {
    ($flavor:tt, $self:ident, $conn:expr, $client:expr, $user:expr, $record:expr, $proof:expr, $expected:expr, $raced:expr) => {{
        let sealer = $self.decisions().sealer();
        let proved = guarded!(
            $flavor,
            $self,
            Proof::SecondFactor,
            Some($user.email()),
            $client,
            { prove(sealer, &$record, $proof, SystemTime::now()) }
        )?;
        let written = step!(
            $flavor,
            U::SecondFactors::update_factors($conn, &proved.record, $expected)
        )?;
        if !written {
            return Err($raced);
        }
        if let Some(left) = proved.recovery_codes_left {
            $self
                .decisions()
                .hooks()
                .after_recovery_code(&$user, left)?;
        }
        proved.record
    }};
}

/// The second-factor operations of a manager, over user stores named `$UserStore` and
/// second-factor stores named `$FactorStore`.
macro_rules! factor_operations {
    ($flavor:tt, $Manager:ident, $UserStore:ident, $FactorStore:ident) => {
        impl<U: UserModel, R: RoleModel> $Manager<U, R> {
            operation! { $flavor,
                /// The user's second factors (an empty record if they have none).
                ///
                /// # Errors
                ///
                /// [`UsersError::Database`].
                pub fn second_factors<C>(&self, conn: &mut C, user: &U) -> Result<SecondFactorRecord, UsersError>
                where
                    U::SecondFactors: $FactorStore<C>,
                {
                    let user_id: Uuid = user.id().into();
                    let record = step!($flavor, U::SecondFactors::find_factors(conn, user_id))?;
                    Ok(record.unwrap_or_else(|| SecondFactorRecord::empty(user_id)))
                }
            }

            operation! { $flavor,
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
                pub fn enroll_totp<C>(&self, conn: &mut C, user: &U, issuer: &str) -> Result<TotpEnrollment, UsersError>
                where
                    U::SecondFactors: $FactorStore<C>,
                {
                    if !user.is_verified() {
                        return Err(UsersError::UnverifiedUser);
                    }
                    let user_id: Uuid = user.id().into();
                    let stored = step!($flavor, U::SecondFactors::find_factors(conn, user_id))?;
                    if stored.as_ref().is_some_and(SecondFactorRecord::has_totp) {
                        return Err(UsersError::Conflict { column: "totp" });
                    }
                    let (enrollment, sealed) = new_totp(self.decisions().sealer(), user_id, user.email(), issuer)?;
                    let written = match stored {
                        Some(stored) => {
                            let mut record = stored.next();
                            (record.totp_secret, record.totp_confirmed, record.totp_last_step) = (Some(sealed), false, 0);
                            step!($flavor, U::SecondFactors::update_factors(conn, &record, stored.version))?
                        }
                        None => {
                            let mut record = SecondFactorRecord::empty(user_id);
                            record.totp_secret = Some(sealed);
                            step!($flavor, U::SecondFactors::insert_factors(conn, &record))?;
                            true
                        }
                    };
                    if written {
                        Ok(enrollment)
                    } else {
                        Err(UsersError::Conflict { column: "totp" })
                    }
                }
            }

            operation! { $flavor,
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
                pub fn confirm_totp<C>(&self, conn: &mut C, client: Option<&str>, user: &U, code: &str) -> Result<Vec<String>, UsersError>
                where
                    U::SecondFactors: $FactorStore<C>,
                {
                    let record = step!($flavor, self.second_factors(conn, user))?;
                    if record.totp_secret.is_none() || record.totp_confirmed {
                        return Err(UsersError::Conflict { column: "totp" });
                    }
                    let sealer = self.decisions().sealer();
                    let step = guarded!($flavor, self, Proof::SecondFactor, Some(user.email()), client, {
                        check_totp(sealer, &record, code, SystemTime::now())
                    })?;
                    let (codes, digests) = new_recovery_codes();
                    let mut confirmed = record.next();
                    confirmed.totp_confirmed = true;
                    confirmed.totp_last_step = step;
                    confirmed.recovery_codes = digests;
                    if step!($flavor, U::SecondFactors::update_factors(conn, &confirmed, record.version))? {
                        Ok(codes)
                    } else {
                        Err(UsersError::Conflict { column: "totp" })
                    }
                }
            }

            operation! { $flavor,
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
                pub fn check_second_factor<C>(&self, conn: &mut C, client: Option<&str>, user: &U, proof: SecondFactorProof<'_>) -> Result<(), UsersError>
                where
                    U::SecondFactors: $FactorStore<C>,
                {
                    let record = step!($flavor, self.second_factors(conn, user))?;
                    prove_factor!($flavor, self, conn, client, user, record, proof, record.version, UsersError::InvalidCredentials);
                    Ok(())
                }
            }

            operation! { $flavor,
                /// Replaces the user's recovery codes with ten new ones, returned to show once;
                /// the old ones stop working. Ask for the password or a factor first.
                ///
                /// # Errors
                ///
                /// [`UsersError::Conflict`] (column `totp`) if the user has no confirmed TOTP,
                /// or another change won; [`UsersError::Database`].
                pub fn regenerate_recovery_codes<C>(&self, conn: &mut C, user: &U) -> Result<Vec<String>, UsersError>
                where
                    U::SecondFactors: $FactorStore<C>,
                {
                    let record = step!($flavor, self.second_factors(conn, user))?;
                    if !record.has_totp() {
                        return Err(UsersError::Conflict { column: "totp" });
                    }
                    let (codes, digests) = new_recovery_codes();
                    let mut next = record.next();
                    next.recovery_codes = digests;
                    if step!($flavor, U::SecondFactors::update_factors(conn, &next, record.version))? {
                        Ok(codes)
                    } else {
                        Err(UsersError::Conflict { column: "totp" })
                    }
                }
            }

            operation! { $flavor,
                /// Removes the user's TOTP and recovery codes: logins ask for the password
                /// alone again. Ask for the password or a factor first. `false` if the user
                /// had none.
                ///
                /// # Errors
                ///
                /// [`UsersError::Conflict`] (column `totp`) if another change won;
                /// [`UsersError::Database`].
                pub fn remove_totp<C>(&self, conn: &mut C, user: &U) -> Result<bool, UsersError>
                where
                    U::SecondFactors: $FactorStore<C>,
                {
                    let record = step!($flavor, self.second_factors(conn, user))?;
                    if record.totp_secret.is_none() {
                        return Ok(false);
                    }
                    let mut next = record.next();
                    (next.totp_secret, next.totp_confirmed, next.recovery_codes) = (None, false, String::new());
                    if step!($flavor, U::SecondFactors::update_factors(conn, &next, record.version))? {
                        Ok(true)
                    } else {
                        Err(UsersError::Conflict { column: "totp" })
                    }
                }
            }

            operation! { $flavor,
                /// What a login whose password was right must do next: `None` if the user has
                /// no second factor (start the session), else the "second factor pending" token
                /// (single-use, [`SECOND_FACTOR_TOKEN_LIFETIME`](crate::SECOND_FACTOR_TOKEN_LIFETIME),
                /// no session) and the methods that complete it
                /// ([`complete_second_factor`](Self::complete_second_factor)).
                ///
                /// # Errors
                ///
                /// [`UsersError::Database`].
                pub fn second_factor_challenge<C>(&self, conn: &mut C, user: &U) -> Result<Option<SecondFactorChallenge>, UsersError>
                where
                    U::SecondFactors: $FactorStore<C>,
                {
                    let record = step!($flavor, self.second_factors(conn, user))?;
                    let mut methods = record.methods();
                    if !step!($flavor, U::SecondFactors::passkeys_of(conn, user.id().into()))?.is_empty() {
                        methods.push(SecondFactorMethod::Passkey);
                    }
                    if methods.is_empty() {
                        return Ok(None);
                    }
                    let token = self.decisions().second_factor_token(user, record.version);
                    Ok(Some(SecondFactorChallenge { token, methods }))
                }
            }

            operation! { $flavor,
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
                pub fn complete_second_factor<C>(&self, conn: &mut C, client: Option<&str>, token: &str, proof: SecondFactorProof<'_>) -> Result<U, UsersError>
                where
                    U: $UserStore<C>,
                    U::SecondFactors: $FactorStore<C>,
                {
                    let (user, record) = step!($flavor, self.pending_factors(conn, token))?;
                    let issued_at = record.version;
                    prove_factor!($flavor, self, conn, client, user, record, proof, issued_at, UsersError::InvalidToken);
                    Ok(user)
                }
            }

            operation! { $flavor,
                /// The user's passkeys, oldest first.
                ///
                /// # Errors
                ///
                /// [`UsersError::Database`].
                pub fn passkeys<C>(&self, conn: &mut C, user: &U) -> Result<Vec<PasskeyRecord>, UsersError>
                where
                    U::SecondFactors: $FactorStore<C>,
                {
                    step!($flavor, U::SecondFactors::passkeys_of(conn, user.id().into()))
                }
            }

            operation! { $flavor,
                /// Stores a passkey the web side registered for `user` (`credential`: its
                /// serialized credential, `credential_id`: its id, base64url). From now on a login
                /// with the password asks for a second factor, which the passkey can give.
                ///
                /// # Errors
                ///
                /// [`UsersError::UnverifiedUser`] if the user has not proved their address;
                /// [`UsersError::Database`] (also for a credential id registered already).
                pub fn add_passkey<C>(&self, conn: &mut C, user: &U, credential_id: &str, credential: &str, name: Option<&str>) -> Result<PasskeyRecord, UsersError>
                where
                    U::SecondFactors: $FactorStore<C>,
                {
                    if !user.is_verified() {
                        return Err(UsersError::UnverifiedUser);
                    }
                    let user_id: Uuid = user.id().into();
                    // A second-factor login's token is bound to the factors' version: the row
                    // must exist.
                    if step!($flavor, U::SecondFactors::find_factors(conn, user_id))?.is_none() {
                        step!($flavor, U::SecondFactors::insert_factors(conn, &SecondFactorRecord::empty(user_id)))?;
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
                    step!($flavor, U::SecondFactors::insert_passkey(conn, &passkey))?;
                    Ok(passkey)
                }
            }

            operation! { $flavor,
                /// Deletes the passkey `id` of `user`; `false` if they have none such. Ask for the
                /// password or a factor first.
                ///
                /// # Errors
                ///
                /// [`UsersError::Database`].
                pub fn remove_passkey<C>(&self, conn: &mut C, user: &U, id: Uuid) -> Result<bool, UsersError>
                where
                    U::SecondFactors: $FactorStore<C>,
                {
                    step!($flavor, U::SecondFactors::delete_passkey(conn, user.id().into(), id))
                }
            }

            operation! { $flavor,
                /// The user of a "second factor pending" token, checked (purpose, expiry,
                /// binding, not used yet), and the version of their factors it is bound to: for
                /// a factor the web side checks (a passkey), before
                /// [`complete_with_passkey`](Self::complete_with_passkey).
                ///
                /// # Errors
                ///
                /// [`UsersError::InvalidToken`], [`UsersError::InactiveUser`],
                /// [`UsersError::Database`].
                pub fn pending_login<C>(&self, conn: &mut C, token: &str) -> Result<(U, i64), UsersError>
                where
                    U: $UserStore<C>,
                    U::SecondFactors: $FactorStore<C>,
                {
                    let (user, record) = step!($flavor, self.pending_factors(conn, token))?;
                    Ok((user, record.version))
                }
            }

            operation! { $flavor,
                /// The user of a "second factor pending" token, checked, and their factors at
                /// the version the token is bound to.
                ///
                /// # Errors
                ///
                /// As [`pending_login`](Self::pending_login).
                fn pending_factors<C>(&self, conn: &mut C, token: &str) -> Result<(U, SecondFactorRecord), UsersError>
                where
                    U: $UserStore<C>,
                    U::SecondFactors: $FactorStore<C>,
                {
                    let users = self.decisions();
                    let opened = users.open_token(token, TokenPurpose::SecondFactor)?;
                    let stored = step!($flavor, U::find(conn, opened.user_id().into()))?;
                    let user = users.token_user(&opened, TokenPurpose::SecondFactor, stored)?;
                    let record = step!($flavor, self.second_factors(conn, &user))?;
                    if opened.factors_version() != Some(record.version) {
                        return Err(UsersError::InvalidToken);
                    }
                    Ok((user, record))
                }
            }

            operation! { $flavor,
                /// Completes the pending login of `user` (at factors version `version`, from
                /// [`pending_login`](Self::pending_login)) with a passkey the web side verified:
                /// stores its updated credential (`passkey`) and moves the factors to a new
                /// version, so the pending token works once.
                ///
                /// # Errors
                ///
                /// [`UsersError::InvalidToken`] if the token was used meanwhile;
                /// [`UsersError::Database`].
                pub fn complete_with_passkey<C>(&self, conn: &mut C, user: &U, version: i64, passkey: &PasskeyRecord) -> Result<(), UsersError>
                where
                    U::SecondFactors: $FactorStore<C>,
                {
                    let record = step!($flavor, self.second_factors(conn, user))?;
                    if !step!($flavor, U::SecondFactors::update_factors(conn, &record.next(), version))? {
                        return Err(UsersError::InvalidToken);
                    }
                    step!($flavor, self.passkey_used(conn, passkey))
                }
            }

            operation! { $flavor,
                /// Stores a passkey's updated credential (its signature counter) after it signed
                /// a login, with the time.
                ///
                /// # Errors
                ///
                /// [`UsersError::Database`].
                pub fn passkey_used<C>(&self, conn: &mut C, passkey: &PasskeyRecord) -> Result<(), UsersError>
                where
                    U::SecondFactors: $FactorStore<C>,
                {
                    let used = PasskeyRecord { last_used_at: Some(SystemTime::now()), ..passkey.clone() };
                    step!($flavor, U::SecondFactors::update_passkey(conn, &used))
                }
            }
        }
    };
}
