//! Security events: what happened to an account, typed, recorded by the operations themselves
//! (in the transaction of the change they record) so that the sync, async and HTTP paths record
//! the same, and read back by the account's owner and its administrators.
//!
//! The managers store events once told to ([`Users::record_events`](crate::Users::record_events)),
//! in the model's [`EventStore`] (`users_diesel::Events<User>`, table `users_events`), and hand
//! every event, stored or not, to an [`EventSink`] once its change is done ([`TracingSink`]
//! unless the application sets one).
//! A failure that repeats (a wrong password, a wrong code, a refused attempt while locked out)
//! within the same minute from the same client adds to the count of the event already stored,
//! so no flood makes an account's history grow by more than one row per kind, client and
//! minute.

use std::fmt;
use std::str::FromStr;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use uuid::Uuid;

use crate::UsersError;
use users_derive::store_trait;

/// What happened. Each kind is stored by its [`name`](Self::name), which stays stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// An account was registered (with a password or by a provider's first sign-in).
    Registered,
    /// A password login succeeded (the second factor, if any, still to come).
    LoginSucceeded,
    /// A password login of an existing account failed.
    LoginFailed,
    /// A failed login locked the account (or its client) out for a while; the attempts refused
    /// while locked are refused before any lookup, and not recorded one by one.
    LockedOut,
    /// A second factor (TOTP code, recovery code) was proved.
    SecondFactorPassed,
    /// A second factor was wrong, replayed or used.
    SecondFactorFailed,
    /// The password was changed (by its owner, or set by an administrator).
    PasswordChanged,
    /// The password was reset through a reset token.
    PasswordReset,
    /// A change of the email address was asked for (a token sent to the new address).
    EmailChangeRequested,
    /// The email address changed (confirmed, or set by an administrator).
    EmailChanged,
    /// The address was verified.
    Verified,
    /// TOTP was confirmed and is now asked at login.
    TotpEnabled,
    /// TOTP and the recovery codes were removed.
    TotpRemoved,
    /// New recovery codes replaced the old ones.
    RecoveryCodesRegenerated,
    /// A recovery code was used up.
    RecoveryCodeUsed,
    /// A passkey was registered.
    PasskeyAdded,
    /// A passkey was used to sign in or as a second factor.
    PasskeyUsed,
    /// A passkey was removed.
    PasskeyRemoved,
    /// A provider account was linked.
    ProviderLinked,
    /// A provider account was unlinked.
    ProviderUnlinked,
    /// A linked provider account signed the user in.
    ProviderSignedIn,
    /// A stored session started.
    SessionStarted,
    /// A stored session's refresh token was rotated.
    SessionRefreshed,
    /// Stored sessions ended (logout, "log out everywhere else", a first proof).
    SessionEnded,
    /// A refresh token that was already used came back: the session ended.
    RefreshReplayed,
    /// The account was deactivated.
    Deactivated,
    /// The account was reactivated.
    Reactivated,
    /// The account was deleted (its events stay, for the administrators).
    Deleted,
    /// A role was granted.
    RoleGranted,
    /// A role was revoked.
    RoleRevoked,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [EventKind] = &[
        EventKind::Registered,
        EventKind::LoginSucceeded,
        EventKind::LoginFailed,
        EventKind::LockedOut,
        EventKind::SecondFactorPassed,
        EventKind::SecondFactorFailed,
        EventKind::PasswordChanged,
        EventKind::PasswordReset,
        EventKind::EmailChangeRequested,
        EventKind::EmailChanged,
        EventKind::Verified,
        EventKind::TotpEnabled,
        EventKind::TotpRemoved,
        EventKind::RecoveryCodesRegenerated,
        EventKind::RecoveryCodeUsed,
        EventKind::PasskeyAdded,
        EventKind::PasskeyUsed,
        EventKind::PasskeyRemoved,
        EventKind::ProviderLinked,
        EventKind::ProviderUnlinked,
        EventKind::ProviderSignedIn,
        EventKind::SessionStarted,
        EventKind::SessionRefreshed,
        EventKind::SessionEnded,
        EventKind::RefreshReplayed,
        EventKind::Deactivated,
        EventKind::Reactivated,
        EventKind::Deleted,
        EventKind::RoleGranted,
        EventKind::RoleRevoked,
    ];

    /// The stored name, in snake case: `login_failed`.
    pub fn name(self) -> &'static str {
        use EventKind::*;
        match self {
            Registered => "registered",
            LoginSucceeded => "login_succeeded",
            LoginFailed => "login_failed",
            LockedOut => "locked_out",
            SecondFactorPassed => "second_factor_passed",
            SecondFactorFailed => "second_factor_failed",
            PasswordChanged => "password_changed",
            PasswordReset => "password_reset",
            EmailChangeRequested => "email_change_requested",
            EmailChanged => "email_changed",
            Verified => "verified",
            TotpEnabled => "totp_enabled",
            TotpRemoved => "totp_removed",
            RecoveryCodesRegenerated => "recovery_codes_regenerated",
            RecoveryCodeUsed => "recovery_code_used",
            PasskeyAdded => "passkey_added",
            PasskeyUsed => "passkey_used",
            PasskeyRemoved => "passkey_removed",
            ProviderLinked => "provider_linked",
            ProviderUnlinked => "provider_unlinked",
            ProviderSignedIn => "provider_signed_in",
            SessionStarted => "session_started",
            SessionRefreshed => "session_refreshed",
            SessionEnded => "session_ended",
            RefreshReplayed => "refresh_replayed",
            Deactivated => "deactivated",
            Reactivated => "reactivated",
            Deleted => "deleted",
            RoleGranted => "role_granted",
            RoleRevoked => "role_revoked",
        }
    }

    /// Whether the kind is a failed or refused attempt, whose repeats within a minute from one
    /// client add to one stored event's count.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            EventKind::LoginFailed | EventKind::LockedOut | EventKind::SecondFactorFailed
        )
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EventKind {
    type Err = UsersError;

    /// The kind of a stored name; [`UsersError::Database`] for a name no kind has (a row
    /// written by a later version).
    fn from_str(name: &str) -> Result<Self, UsersError> {
        EventKind::ALL
            .iter()
            .copied()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| UsersError::database(format!("unknown event kind {name:?}")))
    }
}

/// The longest detail an event keeps (a role name, a provider, a passkey's name), in bytes.
pub const MAX_EVENT_DETAIL_BYTES: usize = 200;

/// One security event: what happened to which account, when, from where, and who did it.
///
/// Never a secret: no password, hash, token, code or key; the detail names a role, a provider,
/// a passkey or a kind of proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityEvent {
    /// The event's id, a UUIDv7: events sort by it in time order.
    pub id: Uuid,
    /// The account it concerns.
    pub user_id: Uuid,
    /// What happened.
    pub kind: EventKind,
    /// When it happened (the first time, for a counted failure).
    pub at: SystemTime,
    /// The administrator who did it, when not the account's owner.
    pub actor_id: Option<Uuid>,
    /// The client's key (see [`client_key`](crate::client_key)), where the operation knows it.
    pub client: Option<String>,
    /// The client's user agent, where the operation knows it.
    pub user_agent: Option<String>,
    /// What it concerned: a role, a provider, a passkey's name, a kind of proof.
    pub detail: Option<String>,
    /// How many times it happened: above 1 for a failure repeated within its minute.
    pub count: u32,
}

impl SecurityEvent {
    /// An event of `kind` for `user_id`, now, with nothing else known.
    pub fn new(kind: EventKind, user_id: Uuid) -> Self {
        SecurityEvent {
            id: Uuid::now_v7(),
            user_id,
            kind,
            at: SystemTime::now(),
            actor_id: None,
            client: None,
            user_agent: None,
            detail: None,
            count: 1,
        }
    }

    /// The same event from `client`.
    pub fn from_client(mut self, client: Option<&str>) -> Self {
        self.client = client.map(|client| cut(client, crate::MAX_CLIENT_KEY_BYTES));
        self
    }

    /// The same event with the client's user agent.
    pub fn with_user_agent(mut self, user_agent: Option<&str>) -> Self {
        self.user_agent = user_agent.map(|agent| cut(agent, crate::MAX_USER_AGENT_BYTES));
        self
    }

    /// The same event about `detail` (cut to [`MAX_EVENT_DETAIL_BYTES`]).
    pub fn about(mut self, detail: impl AsRef<str>) -> Self {
        self.detail = Some(cut(detail.as_ref(), MAX_EVENT_DETAIL_BYTES));
        self
    }

    /// The same event done by the administrator `actor_id`.
    pub fn by(mut self, actor_id: Option<Uuid>) -> Self {
        self.actor_id = actor_id;
        self
    }

    /// The start of the minute a repeat of this failure adds to.
    pub fn window_start(&self) -> SystemTime {
        let since_epoch = self
            .at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        SystemTime::UNIX_EPOCH + Duration::from_secs(since_epoch.as_secs() / 60 * 60)
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Which events to read: of one account or of all, of some kinds, in a time range, a page at a
/// time (newest first, before the cursor).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Only this account's events.
    pub user_id: Option<Uuid>,
    /// Only events of these kinds (all kinds if empty).
    pub kinds: Vec<EventKind>,
    /// Only events at or after this time.
    pub since: Option<SystemTime>,
    /// Only events before this time.
    pub until: Option<SystemTime>,
    /// Only events from this client.
    pub client: Option<String>,
    /// Only events older than this one (the last id of the previous page).
    pub before: Option<Uuid>,
    /// At most this many events (capped at [`MAX_PAGE_SIZE`](crate::MAX_PAGE_SIZE)).
    pub limit: usize,
}

/// An account's sign-ins, as its history tells them (Devise's `trackable`): password logins
/// and provider sign-ins, counted over the events kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignIns {
    /// How many sign-ins the kept events record.
    pub count: u64,
    /// When the last one happened.
    pub last_at: Option<SystemTime>,
    /// The client of the last one.
    pub last_client: Option<String>,
}

impl SignIns {
    /// The kinds of events that are sign-ins.
    pub const KINDS: &'static [EventKind] =
        &[EventKind::LoginSucceeded, EventKind::ProviderSignedIn];
}

#[store_trait(
    /// The async twin of [`EventStore`], over async connections of type `C`.
    #[cfg(feature = "async")]
    pub trait AsyncEventStore<C: Send> {},
    unstored: crate::NoStore => crate::sessions::no_store()
)]
/// Storage of the security events of one user model over connections of type `C`: the
/// [`UserModel::Events`](crate::UserModel::Events) of a `#[user_model]`
/// (`users_diesel::Events<User>`) implements it for each enabled backend.
#[diagnostic::on_unimplemented(
    message = "`{Self}` stores no events over connections of type `{C}`",
    label = "not a connection of an enabled backend",
    note = "pass `&mut` a SqliteConnection, PgConnection or MysqlConnection whose backend feature \
            of users-diesel is enabled; for a pooled connection write `&mut *conn`"
)]
pub trait EventStore<C> {
    /// Stores a new event.
    fn insert_event(conn: &mut C, event: &SecurityEvent) -> Result<(), UsersError>;

    /// Adds one to the count of the stored event of the same account, kind and client
    /// at or after `since`; `false` if there is none.
    fn repeat_event(
        conn: &mut C,
        event: &SecurityEvent,
        since: SystemTime,
    ) -> Result<bool, UsersError>;

    /// The events `query` selects, newest first.
    fn events(conn: &mut C, query: &EventQuery) -> Result<Vec<SecurityEvent>, UsersError>;

    /// How many times the events `query` selects happened (the sum of their counts),
    /// whatever its `before` and `limit`.
    fn count_events(conn: &mut C, query: &EventQuery) -> Result<u64, UsersError>;

    /// Deletes the events older than `before`; how many it deleted.
    fn delete_events_before(conn: &mut C, before: SystemTime) -> Result<usize, UsersError>;
}

/// Where recorded events also go: a log, a SIEM, a queue.
/// [`Users::event_sink`](crate::Users::event_sink) runs it on a thread of its own behind a bounded queue, so a slow
/// sink never holds up a request (events that find the queue full are dropped and counted).
pub trait EventSink: Send + Sync + 'static {
    /// Takes one recorded event (after its transaction committed).
    fn send(&self, event: &SecurityEvent);
}

/// The default [`EventSink`]: each event as a `tracing` event at INFO level, target
/// `users::events`, with its kind, account, client and detail as fields.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingSink;

impl EventSink for TracingSink {
    fn send(&self, event: &SecurityEvent) {
        tracing::info!(
            target: "users::events",
            kind = event.kind.name(),
            user_id = %event.user_id,
            actor_id = ?event.actor_id,
            client = event.client.as_deref(),
            detail = event.detail.as_deref(),
            count = event.count,
            "security event"
        );
    }
}

/// How many events wait for a slow sink before new ones are dropped.
pub const EVENT_QUEUE: usize = 1024;

/// An [`EventSink`] fed through a bounded queue by the managers, on a thread of its own.
#[derive(Clone)]
pub(crate) struct QueuedSink {
    queue: SyncSender<SecurityEvent>,
    dropped: Arc<std::sync::atomic::AtomicU64>,
}

impl QueuedSink {
    /// Starts the thread that hands queued events to `sink`; it ends when the last manager
    /// holding the queue is dropped.
    pub(crate) fn start(sink: impl EventSink) -> Self {
        let (queue, events) = sync_channel::<SecurityEvent>(EVENT_QUEUE);
        std::thread::Builder::new()
            .name("users-events".into())
            .spawn(move || {
                for event in events {
                    sink.send(&event);
                }
            })
            .map(|_| ())
            .unwrap_or_else(|error| {
                tracing::error!(target: "users::events", %error, "no event sink thread");
            });
        QueuedSink {
            queue,
            dropped: Arc::default(),
        }
    }

    /// Queues `event`, or drops it (counted) if the queue is full or the thread gone.
    pub(crate) fn send(&self, event: SecurityEvent) {
        match self.queue.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// How many events were dropped because the sink fell behind.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_distinct_name_that_reads_back() {
        let mut names: Vec<_> = EventKind::ALL.iter().map(|kind| kind.name()).collect();
        for kind in EventKind::ALL {
            assert_eq!(kind.name().parse::<EventKind>().unwrap(), *kind);
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EventKind::ALL.len());
        assert!("no_such_kind".parse::<EventKind>().is_err());
    }

    #[test]
    fn details_and_clients_are_cut_on_character_boundaries() {
        let event = SecurityEvent::new(EventKind::RoleGranted, Uuid::now_v7())
            .about("é".repeat(300))
            .from_client(Some(&"x".repeat(1000)));
        assert!(event.detail.as_ref().unwrap().len() <= MAX_EVENT_DETAIL_BYTES);
        assert!(event.detail.as_ref().unwrap().chars().all(|c| c == 'é'));
        assert_eq!(event.client.unwrap().len(), crate::MAX_CLIENT_KEY_BYTES);
    }

    #[test]
    fn a_failure_repeats_within_its_minute() {
        let mut event = SecurityEvent::new(EventKind::LoginFailed, Uuid::now_v7());
        event.at = SystemTime::UNIX_EPOCH + Duration::from_secs(3_600 + 59);
        assert_eq!(
            event.window_start(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(3_600)
        );
        assert!(event.kind.is_failure());
        assert!(!EventKind::LoginSucceeded.is_failure());
    }

    /// A sink that takes one event, then waits until the test lets it go on.
    struct Held {
        seen: std::sync::mpsc::Sender<EventKind>,
        release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
    }

    impl EventSink for Held {
        fn send(&self, event: &SecurityEvent) {
            let _ = self.seen.send(event.kind);
            let _ = self.release.lock().unwrap().recv();
        }
    }

    #[test]
    fn a_stuck_sink_never_blocks_a_sender_and_what_overflows_is_dropped() {
        let (seen, kinds) = std::sync::mpsc::channel();
        let (go_on, release) = std::sync::mpsc::channel();
        let sink = QueuedSink::start(Held {
            seen,
            release: std::sync::Mutex::new(release),
        });
        let user = Uuid::now_v7();
        sink.send(SecurityEvent::new(EventKind::LoginFailed, user));
        // The sink holds the first event: the queue fills, then drops (a blocking send would
        // never return here).
        assert_eq!(kinds.recv().unwrap(), EventKind::LoginFailed);
        for _ in 0..EVENT_QUEUE + 10 {
            sink.send(SecurityEvent::new(EventKind::LockedOut, user));
        }
        assert_eq!(sink.dropped(), 10);
        drop(go_on);
        assert_eq!(kinds.recv().unwrap(), EventKind::LockedOut);
    }
}
