//! Stored login sessions: one row per login, checked on every request, so that a logout, an
//! ended session or an idle timeout holds in every process and across restarts; and refresh
//! tokens with rotation and reuse detection (OAuth 2.0 Security BCP §4.14).
//!
//! A session's row ([`StoredSession`]) lives in the table of the user model's
//! [`UserModel::Sessions`](crate::UserModel::Sessions) store (`users_diesel::Sessions<User>`,
//! the `users_sessions` table).
//! Its *access tokens* are short-lived signed tokens ([`TokenPurpose::Session`]) whose token id
//! is the session's id; its *refresh token* ([`TokenPurpose::Refresh`]) is long-lived, and the
//! row keeps only its SHA-256 digest ([`refresh_digest`]). Swapping a refresh token
//! ([`Users::refresh_session`](crate::Users::refresh_session)) replaces the digest with the
//! next token's, in one conditional write, so each refresh token works once; presenting a
//! retired one again (a stolen token, replayed) ends the session, its thief's copy and its
//! owner's alike.
//!
//! [`SessionPolicy`] holds the two limits: an absolute lifetime from login, and an idle
//! timeout (Devise's `:timeoutable`) that each request pushes back, written at most once a
//! minute ([`SessionPolicy::touch_every`]) so that a busy session costs one primary-key read
//! per request and a write a minute.

use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::text::cut;
use users_derive::store_trait;

use crate::{UsersError, MAX_CLIENT_KEY_BYTES};

/// The longest user agent a session row keeps, in bytes; a longer one is cut.
pub const MAX_USER_AGENT_BYTES: usize = 512;

/// One stored login session, as its row holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    /// The session's id, which its access tokens carry as their token id.
    pub id: Uuid,
    /// The user's id.
    pub user_id: Uuid,
    /// When the user logged in.
    pub created_at: SystemTime,
    /// When a request last used the session (written at most once a minute).
    pub last_seen_at: SystemTime,
    /// The absolute end: the session ends then, however busy.
    pub expires_at: SystemTime,
    /// The idle deadline: the session ends then unless a request comes first.
    pub idle_expires_at: SystemTime,
    /// The `User-Agent` the login came with, if the application passed it.
    pub user_agent: Option<String>,
    /// The client key the login came with (an IP address, by default), if any.
    pub client: Option<String>,
    /// The digest of the current refresh token ([`refresh_digest`]); never the token.
    pub refresh_digest: String,
}

impl StoredSession {
    /// Whether the session is still live at `now`: before both its absolute end and its idle
    /// deadline.
    pub fn is_live(&self, now: SystemTime) -> bool {
        now < self.expires_at && now < self.idle_expires_at
    }
}

/// Where a new session comes from, as the login request tells: kept on the row for the
/// user's list of sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionOrigin {
    /// The request's `User-Agent` (cut to [`MAX_USER_AGENT_BYTES`]).
    pub user_agent: Option<String>,
    /// The request's client key (see `UsersState::client_key` in users-axum).
    pub client: Option<String>,
}

/// How long stored sessions and their tokens last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// The absolute lifetime of a session from login; also the refresh tokens' lifetime.
    pub lifetime: Duration,
    /// How long a session may go unused before it ends.
    pub idle_timeout: Duration,
    /// The lifetime of each access token.
    pub access_token_lifetime: Duration,
}

impl Default for SessionPolicy {
    /// Sessions of at most 30 days that end after 24 hours unused, with 15-minute access
    /// tokens.
    fn default() -> Self {
        SessionPolicy {
            lifetime: Duration::from_secs(30 * 24 * 60 * 60),
            idle_timeout: Duration::from_secs(24 * 60 * 60),
            access_token_lifetime: Duration::from_secs(15 * 60),
        }
    }
}

impl SessionPolicy {
    /// The longest a busy session's last-seen time goes unwritten: a minute, or a quarter of
    /// the idle timeout if that is shorter. The idle deadline it pushes back is so much early
    /// at worst.
    pub fn touch_every(&self) -> Duration {
        (self.idle_timeout / 4).min(Duration::from_secs(60))
    }

    /// A new session of `user_id` from `origin` at `now`, with the digest of its first refresh
    /// token.
    pub fn start(
        &self,
        id: Uuid,
        user_id: Uuid,
        origin: SessionOrigin,
        now: SystemTime,
        refresh_digest: String,
    ) -> StoredSession {
        let expires_at = now + self.lifetime;
        StoredSession {
            id,
            user_id,
            created_at: now,
            last_seen_at: now,
            expires_at,
            idle_expires_at: (now + self.idle_timeout).min(expires_at),
            user_agent: origin
                .user_agent
                .map(|agent| cut(&agent, MAX_USER_AGENT_BYTES).to_owned()),
            // The throttle's bound, which the session table's column holds.
            client: origin
                .client
                .map(|client| cut(&client, MAX_CLIENT_KEY_BYTES).to_owned()),
            refresh_digest,
        }
    }

    /// The new last-seen time and idle deadline of `session` used at `now`, if they are due
    /// to be written (see [`touch_every`](Self::touch_every)).
    pub fn touch(
        &self,
        session: &StoredSession,
        now: SystemTime,
    ) -> Option<(SystemTime, SystemTime)> {
        let due = session.last_seen_at + self.touch_every();
        (now >= due).then(|| (now, (now + self.idle_timeout).min(session.expires_at)))
    }

    /// How long an access token issued at `now` for `session` lasts: the access token
    /// lifetime, but never past the session's end.
    pub fn access_lifetime(&self, session: &StoredSession, now: SystemTime) -> Duration {
        let left = session.expires_at.duration_since(now).unwrap_or_default();
        self.access_token_lifetime.min(left)
    }

    /// How long a refresh token issued at `now` for `session` lasts: to the session's end.
    pub fn refresh_lifetime(&self, session: &StoredSession, now: SystemTime) -> Duration {
        session.expires_at.duration_since(now).unwrap_or_default()
    }
}

/// What a stored session answers a request's access token: the live row, or why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionCheck {
    /// The session is live (its last-seen time written if it was due).
    Live(StoredSession),
    /// No such session (ended, or never stored), or it belongs to another user, or it timed
    /// out (then its row is deleted).
    Ended,
}

/// The tokens of a session: what a login, a refresh or a password change answers with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionTokens {
    /// The session's row as stored.
    pub session: StoredSession,
    /// A new access token ([`TokenPurpose::Session`](crate::TokenPurpose::Session)).
    pub access_token: String,
    /// How long the access token lasts.
    pub expires_in: Duration,
    /// The session's current refresh token; the row holds its digest only.
    pub refresh_token: String,
}

/// The digest a session's row keeps of its current refresh token: SHA-256, base64url (43
/// characters). A refresh token carries a 256-bit MAC, so a plain hash suffices: nothing
/// about it can be guessed from the digest, and a copy of the table yields no usable token.
pub fn refresh_digest(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` is the refresh token whose digest a row holds, compared in constant time.
pub(crate) fn is_current_refresh(token: &str, stored_digest: &str) -> bool {
    refresh_digest(token)
        .as_bytes()
        .ct_eq(stored_digest.as_bytes())
        .into()
}

/// What [`refresh_session`](crate::Users::refresh_session) decided for a refresh token that
/// opened (signature, purpose, expiry) and whose session row was loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RefreshOutcome {
    /// The token is the session's current one: swap it.
    Rotate,
    /// The token was issued for this session but retired: a replay. End the session.
    Reused,
    /// No live session of this token's user: refuse, change nothing.
    Refused,
}

/// Decides a refresh: see [`RefreshOutcome`].
pub(crate) fn refresh_outcome(
    token: &str,
    user_id: Uuid,
    row: Option<&StoredSession>,
    now: SystemTime,
) -> RefreshOutcome {
    match row {
        Some(row) if row.user_id == user_id && row.is_live(now) => {
            if is_current_refresh(token, &row.refresh_digest) {
                RefreshOutcome::Rotate
            } else {
                RefreshOutcome::Reused
            }
        }
        _ => RefreshOutcome::Refused,
    }
}

#[store_trait(
    /// The async twin of [`SessionStore`], over async connections of type `C`.
    #[cfg(feature = "async")]
    #[diagnostic::on_unimplemented(
        message = "`{Self}` stores no sessions over async connections of type `{C}`",
        label = "not an async connection of an enabled backend",
        note = "pass `&mut` an AsyncPgConnection, AsyncMysqlConnection or AsyncSqliteConnection \
                (users_diesel::asynchronous) of an enabled backend, with users-diesel's `async` \
                feature on; for a pooled connection write `&mut *conn`"
    )]
    pub trait AsyncSessionStore<C: Send> {},
    unstored: NoStore => no_store()
)]
/// Storage of the login sessions of one user model over connections of type `C`: the
/// [`UserModel::Sessions`](crate::UserModel::Sessions) of a `#[user_model]`
/// (`users_diesel::Sessions<User>`) implements it for each enabled backend. Seven statements,
/// each one round trip, none comparing times (the managers decide what has ended); an
/// application can store sessions elsewhere by implementing them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` stores no sessions over connections of type `{C}`",
    label = "not a connection of an enabled backend",
    note = "pass `&mut` a SqliteConnection, PgConnection or MysqlConnection whose backend feature \
            of users-diesel is enabled; for a pooled connection write `&mut *conn`"
)]
pub trait SessionStore<C> {
    /// Stores a new session.
    fn insert_session(conn: &mut C, session: &StoredSession) -> Result<(), UsersError>;

    /// Loads the session with this id (live or not).
    fn find_session(conn: &mut C, id: Uuid) -> Result<Option<StoredSession>, UsersError>;

    /// Writes the session's last-seen time and idle deadline.
    fn touch_session(
        conn: &mut C,
        id: Uuid,
        last_seen_at: SystemTime,
        idle_expires_at: SystemTime,
    ) -> Result<(), UsersError>;

    /// Replaces the session's refresh digest `old` by `new` and writes the last-seen
    /// time and idle deadline, in one statement that changes the row only if its digest
    /// is still `old`; `false` if it was not (another refresh won).
    fn rotate_refresh(
        conn: &mut C,
        id: Uuid,
        old: &str,
        new: &str,
        last_seen_at: SystemTime,
        idle_expires_at: SystemTime,
    ) -> Result<bool, UsersError>;

    /// Deletes the session `id` of the user `user_id`; `false` if the user has none
    /// with that id.
    fn delete_session(conn: &mut C, user_id: Uuid, id: Uuid) -> Result<bool, UsersError>;

    /// The user's sessions, newest first, ended ones included.
    fn sessions_of(conn: &mut C, user_id: Uuid) -> Result<Vec<StoredSession>, UsersError>;

    /// Deletes the user's sessions that ended by `now` (past their absolute or idle
    /// deadline), in one statement; how many it deleted.
    fn delete_ended_sessions(
        conn: &mut C,
        user_id: Uuid,
        now: SystemTime,
    ) -> Result<usize, UsersError>;

    /// Deletes every session of the user but `except`; how many it deleted.
    fn delete_sessions_of(
        conn: &mut C,
        user_id: Uuid,
        except: Option<Uuid>,
    ) -> Result<usize, UsersError>;
}

/// The store of a model without the framework's tables of sessions and second factors, e.g. a
/// hand-written test model (`type Sessions = NoStore; type SecondFactors = NoStore; type OAuthAccounts = NoStore; type Events = NoStore;`): every
/// call fails with [`UsersError::Config`].
#[derive(Clone, Copy, Debug, Default)]
pub struct NoStore;

/// The error of every [`NoStore`] call.
pub(crate) fn no_store() -> UsersError {
    UsersError::config(
        "stores",
        "this user model has no store of sessions, second factors or provider accounts",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(policy: &SessionPolicy, now: SystemTime) -> StoredSession {
        let origin = SessionOrigin {
            user_agent: Some("é".repeat(400)),
            client: Some("127.0.0.1".into()),
        };
        policy.start(
            Uuid::now_v7(),
            Uuid::now_v7(),
            origin,
            now,
            refresh_digest("t"),
        )
    }

    #[test]
    fn a_session_ends_at_its_idle_deadline_or_its_absolute_end() {
        let policy = SessionPolicy {
            lifetime: Duration::from_secs(3600),
            idle_timeout: Duration::from_secs(600),
            access_token_lifetime: Duration::from_secs(60),
        };
        let now = SystemTime::now();
        let mut row = session(&policy, now);
        assert!(row.user_agent.as_ref().unwrap().len() <= MAX_USER_AGENT_BYTES);
        assert_eq!(row.client.as_deref(), Some("127.0.0.1"));
        let long = SessionOrigin {
            user_agent: None,
            client: Some("ä".repeat(40)),
        };
        let cut_client = policy.start(Uuid::now_v7(), Uuid::now_v7(), long, now, String::new());
        assert_eq!(cut_client.client.unwrap().len(), MAX_CLIENT_KEY_BYTES);
        assert!(row.is_live(now + Duration::from_secs(599)));
        assert!(!row.is_live(now + Duration::from_secs(600)));

        // Not due before a minute; then pushed back, never past the absolute end.
        assert_eq!(policy.touch(&row, now + Duration::from_secs(59)), None);
        let (seen, idle) = policy.touch(&row, now + Duration::from_secs(60)).unwrap();
        assert_eq!(idle, seen + Duration::from_secs(600));
        row.last_seen_at = now + Duration::from_secs(3300);
        let (_, idle) = policy.touch(&row, now + Duration::from_secs(3400)).unwrap();
        assert_eq!(idle, row.expires_at);
        assert_eq!(
            policy.access_lifetime(&row, now + Duration::from_secs(3570)),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn a_refresh_rotates_the_current_token_and_ends_the_session_on_a_retired_one() {
        let policy = SessionPolicy::default();
        let now = SystemTime::now();
        let row = session(&policy, now);
        let current = RefreshOutcome::Rotate;
        assert_eq!(refresh_outcome("t", row.user_id, Some(&row), now), current);
        assert_eq!(
            refresh_outcome("old", row.user_id, Some(&row), now),
            RefreshOutcome::Reused
        );
        // Another user's token, an ended session, no session: refused, nothing ended.
        let other = Uuid::now_v7();
        assert_eq!(
            refresh_outcome("t", other, Some(&row), now),
            RefreshOutcome::Refused
        );
        let late = row.expires_at;
        assert_eq!(
            refresh_outcome("t", row.user_id, Some(&row), late),
            RefreshOutcome::Refused
        );
        assert_eq!(
            refresh_outcome("t", row.user_id, None, now),
            RefreshOutcome::Refused
        );
    }
}
