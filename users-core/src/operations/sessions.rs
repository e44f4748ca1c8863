//! The stored-session operations of the managers, written once, over the user model's
//! [`SessionStore`](crate::SessionStore) or `AsyncSessionStore` (`U::Sessions`). The parent
//! module describes the helper macros and the flavors; `crate::sessions` the model.

use std::time::SystemTime;

use users_derive::flavors;
use uuid::Uuid;

use crate::sessions::{refresh_outcome, RefreshOutcome};
#[cfg(feature = "async")]
use crate::{AsyncEventStore, AsyncSessionStore, AsyncUserStore, AsyncUsers};
use crate::{
    EventKind, EventStore, OpenedToken, RoleModel, SecurityEvent, SessionCheck, SessionOrigin,
    SessionPolicy, SessionStore, SessionTokens, StoredSession, TokenPurpose, UserModel, UserStore,
    Users, UsersError,
};

#[flavors(
    AsyncUsers => Users,
    AsyncUserStore => UserStore,
    AsyncSessionStore => SessionStore,
    AsyncEventStore => EventStore,
)]
impl<U: UserModel, R: RoleModel> AsyncUsers<U, R> {
    /// Starts a stored session of `user`, who has just logged in, from `origin`:
    /// stores its row and returns it with its first access and refresh tokens.
    /// The user's sessions that have ended are deleted on the way.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`].
    pub async fn start_session<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        origin: SessionOrigin,
        policy: &SessionPolicy,
    ) -> Result<SessionTokens, UsersError>
    where
        U::Sessions: AsyncSessionStore<C>,
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let now = SystemTime::now();
        let user_id: Uuid = user.id().into();
        // One statement, however many sessions the user has (a script that logs in again and
        // again must not make each login read them all).
        U::Sessions::delete_ended_sessions(conn, user_id, now).await?;
        let event = SecurityEvent::new(EventKind::SessionStarted, user_id)
            .from_client(origin.client.as_deref())
            .with_user_agent(origin.user_agent.as_deref());
        let users = self.decisions();
        let session = policy.start(Uuid::now_v7(), user_id, origin, now, String::new());
        let tokens = users.session_tokens(user, session, policy, now);
        let started = &tokens.session;
        recorded!(
            flavor,
            users,
            conn,
            event,
            |conn| U::Sessions::insert_session(conn, started).await,
            |_inserted| true,
        );
        Ok(tokens)
    }

    /// Checks the stored session of an access token that opened
    /// ([`TokenSigner::open`](crate::TokenSigner::open) with
    /// [`TokenPurpose::Session`](crate::TokenPurpose::Session)): one primary-key
    /// read; the last-seen time is written when due
    /// ([`SessionPolicy::touch_every`]), and a timed-out session is deleted.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`].
    pub async fn check_session<C: Send>(
        &self,
        conn: &mut C,
        token: &OpenedToken,
        policy: &SessionPolicy,
    ) -> Result<SessionCheck, UsersError>
    where
        U::Sessions: AsyncSessionStore<C>,
    {
        let now = SystemTime::now();
        let row = U::Sessions::find_session(conn, token.id()).await?;
        let Some(mut row) = row.filter(|row| row.user_id == token.user_id()) else {
            return Ok(SessionCheck::Ended);
        };
        if !row.is_live(now) {
            U::Sessions::delete_session(conn, row.user_id, row.id).await?;
            return Ok(SessionCheck::Ended);
        }
        if let Some((seen, idle)) = policy.touch(&row, now) {
            U::Sessions::touch_session(conn, row.id, seen, idle).await?;
            (row.last_seen_at, row.idle_expires_at) = (seen, idle);
        }
        Ok(SessionCheck::Live(row))
    }

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
    pub async fn refresh_session<C: Send>(
        &self,
        conn: &mut C,
        refresh_token: &str,
        policy: &SessionPolicy,
    ) -> Result<SessionTokens, UsersError>
    where
        U: AsyncUserStore<C>,
        U::Sessions: AsyncSessionStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let users = self.decisions();
        let opened = users.open_token(refresh_token, TokenPurpose::Refresh)?;
        let stored = U::find(conn, opened.user_id().into()).await?;
        let user = users.token_user(&opened, TokenPurpose::Refresh, stored)?;
        let row = U::Sessions::find_session(conn, opened.id()).await?;
        let now = SystemTime::now();
        let reused = match (
            refresh_outcome(refresh_token, opened.user_id(), row.as_ref(), now),
            row,
        ) {
            (RefreshOutcome::Rotate, Some(row)) => {
                let old = row.refresh_digest.clone();
                let (seen, idle) = (now, (now + policy.idle_timeout).min(row.expires_at));
                let mut row = row;
                (row.last_seen_at, row.idle_expires_at) = (seen, idle);
                let tokens = users.session_tokens(&user, row, policy, now);
                let new = &tokens.session.refresh_digest;
                let id = opened.id();
                let swapped = recorded!(
                    flavor,
                    users,
                    conn,
                    SecurityEvent::new(EventKind::SessionRefreshed, opened.user_id()),
                    |conn| U::Sessions::rotate_refresh(conn, id, &old, new, seen, idle).await,
                    |swapped| *swapped,
                );
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
            let (user_id, id) = (opened.user_id(), opened.id());
            recorded!(
                flavor,
                users,
                conn,
                SecurityEvent::new(EventKind::RefreshReplayed, user_id),
                |conn| U::Sessions::delete_session(conn, user_id, id).await,
                |_deleted| true,
            );
        }
        Err(UsersError::InvalidToken)
    }

    /// New tokens for the session `session` of `user` after the user's password
    /// hash changed (a password change, an email change request), which outdated
    /// every token issued before: ends every *other* session of the user, and gives
    /// this one a new access token and a new refresh token.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`] if `user` has no live session `session`;
    /// [`UsersError::Database`].
    pub async fn renew_session<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        session: Uuid,
        policy: &SessionPolicy,
    ) -> Result<SessionTokens, UsersError>
    where
        U::Sessions: AsyncSessionStore<C>,
    {
        let user_id: Uuid = user.id().into();
        U::Sessions::delete_sessions_of(conn, user_id, Some(session)).await?;
        let now = SystemTime::now();
        let row = U::Sessions::find_session(conn, session)
            .await?
            .filter(|row| row.user_id == user_id && row.is_live(now))
            .ok_or(UsersError::InvalidToken)?;
        let old = row.refresh_digest.clone();
        let tokens = self.decisions().session_tokens(user, row, policy, now);
        let (seen, idle) = (tokens.session.last_seen_at, tokens.session.idle_expires_at);
        let new = &tokens.session.refresh_digest;
        if U::Sessions::rotate_refresh(conn, session, &old, new, seen, idle).await? {
            Ok(tokens)
        } else {
            Err(UsersError::InvalidToken)
        }
    }

    /// The user's live sessions, newest first: what "where am I logged in" lists.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`].
    pub async fn sessions<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
    ) -> Result<Vec<StoredSession>, UsersError>
    where
        U::Sessions: AsyncSessionStore<C>,
    {
        let now = SystemTime::now();
        let rows = U::Sessions::sessions_of(conn, user.id().into()).await?;
        Ok(rows.into_iter().filter(|row| row.is_live(now)).collect())
    }

    /// Ends the session `session` of `user` (a logout, or "log out that device");
    /// `false` if the user has no such session.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`].
    pub async fn end_session<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        session: Uuid,
    ) -> Result<bool, UsersError>
    where
        U::Sessions: AsyncSessionStore<C>,
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let users = self.decisions();
        let user_id: Uuid = user.id().into();
        Ok(recorded!(
            flavor,
            users,
            conn,
            SecurityEvent::new(EventKind::SessionEnded, user_id).about("this session"),
            |conn| U::Sessions::delete_session(conn, user_id, session).await,
            |ended| *ended,
        ))
    }

    /// Ends every session of `user` but `keep` ("log out everywhere else"); how
    /// many it ended.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`].
    pub async fn end_other_sessions<C: Send>(
        &self,
        conn: &mut C,
        user: &U,
        keep: Uuid,
    ) -> Result<usize, UsersError>
    where
        U::Sessions: AsyncSessionStore<C>,
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        self.end_sessions(conn, user.id().into(), Some(keep)).await
    }

    /// Ends every session of the user `user` (an administrator's "log out
    /// everywhere", a password reset); how many it ended.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`].
    pub async fn end_all_sessions<C: Send>(
        &self,
        conn: &mut C,
        user: U::Id,
    ) -> Result<usize, UsersError>
    where
        U::Sessions: AsyncSessionStore<C>,
        U: AsyncUserStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        self.end_sessions(conn, user.into(), None).await
    }

    /// Ends every session of the user `user_id` but `keep`, recording how many ended.
    async fn end_sessions<C: Send>(
        &self,
        conn: &mut C,
        user_id: Uuid,
        keep: Option<Uuid>,
    ) -> Result<usize, UsersError>
    where
        U: AsyncUserStore<C>,
        U::Sessions: AsyncSessionStore<C>,
        U::Events: AsyncEventStore<C>,
    {
        let users = self.decisions();
        let what = if keep.is_some() {
            "every other session"
        } else {
            "every session"
        };
        Ok(recorded!(
            flavor,
            users,
            conn,
            SecurityEvent::new(EventKind::SessionEnded, user_id).about(what),
            |conn| U::Sessions::delete_sessions_of(conn, user_id, keep).await,
            |ended| *ended > 0,
        ))
    }
}
