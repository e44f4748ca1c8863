//! The stored-session operations of the managers, written once, over the user model's
//! [`SessionStore`](crate::SessionStore) or `AsyncSessionStore` (`U::Sessions`). The parent
//! module describes the helper macros and the flavors; `crate::sessions` the model.

/// The session operations of a manager, over user stores named `$UserStore` and session
/// stores named `$SessionStore`.
macro_rules! session_operations {
    ($flavor:tt, $Manager:ident, $UserStore:ident, $SessionStore:ident) => {
        impl<U: UserModel, R: RoleModel> $Manager<U, R> {
            operation! { $flavor,
                /// Starts a stored session of `user`, who has just logged in, from `origin`:
                /// stores its row and returns it with its first access and refresh tokens.
                /// The user's sessions that have ended are deleted on the way.
                ///
                /// # Errors
                ///
                /// [`UsersError::Database`].
                pub fn start_session<C>(
                    &self,
                    conn: &mut C,
                    user: &U,
                    origin: SessionOrigin,
                    policy: &SessionPolicy,
                ) -> Result<SessionTokens, UsersError>
                where
                    U::Sessions: $SessionStore<C>,
                {
                    let now = SystemTime::now();
                    let user_id: Uuid = user.id().into();
                    for row in step!($flavor, U::Sessions::sessions_of(conn, user_id))? {
                        if !row.is_live(now) {
                            step!($flavor, U::Sessions::delete_session(conn, user_id, row.id))?;
                        }
                    }
                    let session = policy.start(Uuid::now_v7(), user_id, origin, now, String::new());
                    let tokens = self.decisions().session_tokens(user, session, policy, now);
                    step!($flavor, U::Sessions::insert_session(conn, &tokens.session))?;
                    Ok(tokens)
                }
            }

            operation! { $flavor,
                /// Checks the stored session of an access token that opened
                /// ([`TokenSigner::open`](crate::TokenSigner::open) with
                /// [`TokenPurpose::Session`](crate::TokenPurpose::Session)): one primary-key
                /// read; the last-seen time is written when due
                /// ([`SessionPolicy::touch_every`]), and a timed-out session is deleted.
                ///
                /// # Errors
                ///
                /// [`UsersError::Database`].
                pub fn check_session<C>(
                    &self,
                    conn: &mut C,
                    token: &OpenedToken,
                    policy: &SessionPolicy,
                ) -> Result<SessionCheck, UsersError>
                where
                    U::Sessions: $SessionStore<C>,
                {
                    let now = SystemTime::now();
                    let row = step!($flavor, U::Sessions::find_session(conn, token.id()))?;
                    let Some(mut row) = row.filter(|row| row.user_id == token.user_id()) else {
                        return Ok(SessionCheck::Ended);
                    };
                    if !row.is_live(now) {
                        step!($flavor, U::Sessions::delete_session(conn, row.user_id, row.id))?;
                        return Ok(SessionCheck::Ended);
                    }
                    if let Some((seen, idle)) = policy.touch(&row, now) {
                        step!($flavor, U::Sessions::touch_session(conn, row.id, seen, idle))?;
                        (row.last_seen_at, row.idle_expires_at) = (seen, idle);
                    }
                    Ok(SessionCheck::Live(row))
                }
            }

            operation! { $flavor,
                /// Swaps a refresh token for new tokens of its session, retiring it: the
                /// session's row then holds the new refresh token's digest, in a write that
                /// succeeds only if it still held this one's. A retired refresh token presented
                /// again (a replay: the token was stolen, or its owner's copy was) ends the
                /// whole session, so neither the thief nor the owner can refresh it any more.
                ///
                /// # Errors
                ///
                /// [`UsersError::InvalidToken`] for a malformed, forged or expired token, one
                /// whose user changed their password since, or whose session ended (a replay
                /// ends it first); [`UsersError::InactiveUser`] for a deactivated user;
                /// [`UsersError::Database`].
                pub fn refresh_session<C>(
                    &self,
                    conn: &mut C,
                    refresh_token: &str,
                    policy: &SessionPolicy,
                ) -> Result<SessionTokens, UsersError>
                where
                    U: $UserStore<C>,
                    U::Sessions: $SessionStore<C>,
                {
                    let users = self.decisions();
                    let opened = users.open_token(refresh_token, TokenPurpose::Refresh)?;
                    let stored = step!($flavor, U::find(conn, opened.user_id().into()))?;
                    let user = users.token_user(&opened, TokenPurpose::Refresh, stored)?;
                    let row = step!($flavor, U::Sessions::find_session(conn, opened.id()))?;
                    let now = SystemTime::now();
                    let reused = match (refresh_outcome(refresh_token, opened.user_id(), row.as_ref(), now), row) {
                        (RefreshOutcome::Rotate, Some(row)) => {
                            let old = row.refresh_digest.clone();
                            let (seen, idle) = (now, (now + policy.idle_timeout).min(row.expires_at));
                            let mut row = row;
                            (row.last_seen_at, row.idle_expires_at) = (seen, idle);
                            let tokens = users.session_tokens(&user, row, policy, now);
                            let new = &tokens.session.refresh_digest;
                            let swapped = step!($flavor, U::Sessions::rotate_refresh(conn, opened.id(), &old, new, seen, idle))?;
                            if swapped {
                                return Ok(tokens);
                            }
                            // Another refresh with the same token won the race: this one is
                            // a replay of a token retired a moment ago.
                            true
                        }
                        (RefreshOutcome::Reused, _) => true,
                        _ => false,
                    };
                    if reused {
                        step!($flavor, U::Sessions::delete_session(conn, opened.user_id(), opened.id()))?;
                    }
                    Err(UsersError::InvalidToken)
                }
            }

            operation! { $flavor,
                /// New tokens for the session `session` of `user` after the user's password
                /// hash changed (a password change, an email change request), which outdated
                /// every token issued before: ends every *other* session of the user, and gives
                /// this one a new access token and a new refresh token.
                ///
                /// # Errors
                ///
                /// [`UsersError::InvalidToken`] if `user` has no live session `session`;
                /// [`UsersError::Database`].
                pub fn renew_session<C>(
                    &self,
                    conn: &mut C,
                    user: &U,
                    session: Uuid,
                    policy: &SessionPolicy,
                ) -> Result<SessionTokens, UsersError>
                where
                    U::Sessions: $SessionStore<C>,
                {
                    let user_id: Uuid = user.id().into();
                    step!($flavor, U::Sessions::delete_sessions_of(conn, user_id, Some(session)))?;
                    let now = SystemTime::now();
                    let row = step!($flavor, U::Sessions::find_session(conn, session))?
                        .filter(|row| row.user_id == user_id && row.is_live(now))
                        .ok_or(UsersError::InvalidToken)?;
                    let old = row.refresh_digest.clone();
                    let tokens = self.decisions().session_tokens(user, row, policy, now);
                    let (seen, idle) = (tokens.session.last_seen_at, tokens.session.idle_expires_at);
                    let new = &tokens.session.refresh_digest;
                    if step!($flavor, U::Sessions::rotate_refresh(conn, session, &old, new, seen, idle))? {
                        Ok(tokens)
                    } else {
                        Err(UsersError::InvalidToken)
                    }
                }
            }

            operation! { $flavor,
                /// The user's live sessions, newest first: what "where am I logged in" lists.
                ///
                /// # Errors
                ///
                /// [`UsersError::Database`].
                pub fn sessions<C>(&self, conn: &mut C, user: &U) -> Result<Vec<StoredSession>, UsersError>
                where
                    U::Sessions: $SessionStore<C>,
                {
                    let now = SystemTime::now();
                    let rows = step!($flavor, U::Sessions::sessions_of(conn, user.id().into()))?;
                    Ok(rows.into_iter().filter(|row| row.is_live(now)).collect())
                }
            }

            operation! { $flavor,
                /// Ends the session `session` of `user` (a logout, or "log out that device");
                /// `false` if the user has no such session.
                ///
                /// # Errors
                ///
                /// [`UsersError::Database`].
                pub fn end_session<C>(&self, conn: &mut C, user: &U, session: Uuid) -> Result<bool, UsersError>
                where
                    U::Sessions: $SessionStore<C>,
                {
                    step!($flavor, U::Sessions::delete_session(conn, user.id().into(), session))
                }
            }

            operation! { $flavor,
                /// Ends every session of `user` but `keep` ("log out everywhere else"); how
                /// many it ended.
                ///
                /// # Errors
                ///
                /// [`UsersError::Database`].
                pub fn end_other_sessions<C>(&self, conn: &mut C, user: &U, keep: Uuid) -> Result<usize, UsersError>
                where
                    U::Sessions: $SessionStore<C>,
                {
                    step!($flavor, U::Sessions::delete_sessions_of(conn, user.id().into(), Some(keep)))
                }
            }

            operation! { $flavor,
                /// Ends every session of the user `user` (an administrator's "log out
                /// everywhere", a password reset); how many it ended.
                ///
                /// # Errors
                ///
                /// [`UsersError::Database`].
                pub fn end_all_sessions<C>(&self, conn: &mut C, user: U::Id) -> Result<usize, UsersError>
                where
                    U::Sessions: $SessionStore<C>,
                {
                    step!($flavor, U::Sessions::delete_sessions_of(conn, user.into(), None))
                }
            }
        }
    };
}
