//! The [`Users`] manager: registration, login, profile and password changes, verification,
//! password reset and roles, over any store.
//!
//! The operations are written once, in `crate::operations`, for both this manager and the
//! async one; they drive the store (load, decide, write, run a hook, inside one transaction
//! where more than one step is involved) and leave every decision (normalise, validate, hash,
//! check credentials and tokens, decide a rehash) to the plain methods of `decisions`.

pub(crate) mod decisions;
mod throttling;

pub use throttling::{client_key, GuardKeys, Proof, ProofOutcome, MAX_CLIENT_KEY_BYTES};

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::SystemTime;

use crate::events::QueuedSink;
use crate::factors::Sealer;
use crate::{EventSink, SecurityEvent, TracingSink};
use crate::{
    MemoryThrottleStore, NoHooks, NoRoles, PasswordHasher, RoleModel, ThrottleStore, TokenSigner,
    UserModel, UsersConfig, UsersHooks, SECOND_FACTOR_TOKEN_LIFETIME,
};

/// The user manager: every operation on users, for the user model `U` and the role model `R`.
///
/// An application without roles writes `Users<User>`. Each operation takes the connection as
/// `&mut C`, for any `C` the model has a store for; the manager itself holds no connection and
/// is cheap to clone.
///
/// ```
/// # use users_core::{UserListing, UserModel, UserStore, Uuid};
/// use users_core::{Users, UsersConfig, UsersError};
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
/// # impl UserStore<Vec<User>> for User {
/// #     fn insert(conn: &mut Vec<User>, user: &Self) -> Result<Self, UsersError> {
/// #         conn.push(user.clone());
/// #         Ok(user.clone())
/// #     }
/// #     fn find(conn: &mut Vec<User>, id: Uuid) -> Result<Option<Self>, UsersError> {
/// #         Ok(conn.iter().find(|u| u.id == id).cloned())
/// #     }
/// #     fn find_for_update(conn: &mut Vec<User>, id: Uuid) -> Result<Option<Self>, UsersError> {
/// #         Self::find(conn, id)
/// #     }
/// #     fn find_by_email(conn: &mut Vec<User>, email: &str) -> Result<Option<Self>, UsersError> {
/// #         Ok(conn.iter().find(|u| u.email == email).cloned())
/// #     }
/// #     fn update(conn: &mut Vec<User>, user: &Self) -> Result<Self, UsersError> {
/// #         let row = conn.iter_mut().find(|u| u.id == user.id).ok_or(UsersError::UserNotFound)?;
/// #         *row = user.clone();
/// #         Ok(user.clone())
/// #     }
/// #     fn delete(conn: &mut Vec<User>, id: Uuid) -> Result<bool, UsersError> {
/// #         let before = conn.len();
/// #         conn.retain(|u| u.id != id);
/// #         Ok(conn.len() < before)
/// #     }
/// #     fn list(conn: &mut Vec<User>, listing: &UserListing) -> Result<Vec<Self>, UsersError> {
/// #         Ok(conn.iter().take(usize::try_from(listing.limit).unwrap_or(0)).cloned().collect())
/// #     }
/// #     fn transaction<T, F>(conn: &mut Vec<User>, f: F) -> Result<T, UsersError>
/// #     where
/// #         F: FnOnce(&mut Vec<User>) -> Result<T, UsersError>,
/// #     {
/// #         f(conn)
/// #     }
/// # }
/// # let mut conn = Vec::new();
/// # let secret = [7u8; 32];
/// let users = Users::<User>::new(UsersConfig::new(secret)?);
/// let alice = users.register(&mut conn, "Alice@Example.COM", "correct horse battery staple")?;
/// assert_eq!(alice.email, "alice@example.com");
///
/// let token = users.verification_token(&alice)?;
/// let alice = users.verify(&mut conn, &token)?;
/// assert!(alice.is_verified);
///
/// users.authenticate(&mut conn, "alice@example.com", "correct horse battery staple")?;
/// assert!(matches!(
///     users.authenticate(&mut conn, "alice@example.com", "wrong"),
///     Err(UsersError::InvalidCredentials)
/// ));
/// # Ok::<(), UsersError>(())
/// ```
pub struct Users<U: UserModel, R: RoleModel = NoRoles> {
    config: UsersConfig,
    hasher: Arc<PasswordHasher>,
    tokens: TokenSigner,
    sealer: Sealer,
    hooks: Arc<dyn UsersHooks<U> + Send + Sync>,
    throttle: Arc<dyn ThrottleStore>,
    pub(crate) first_proof_clears: FirstProofClears,
    events: EventOutlet,
    roles: PhantomData<fn() -> R>,
}

/// Whether a manager records security events, and where they go besides its store.
#[derive(Clone, Default)]
struct EventOutlet {
    /// Whether the operations write events to the model's event store.
    record: bool,
    /// The application's sink, behind its queue; `None` for [`TracingSink`].
    sink: Option<QueuedSink>,
    /// The administrator on whose behalf the operations run.
    actor: Option<uuid::Uuid>,
    /// The user agent of the client the operations run for.
    user_agent: Option<String>,
}

/// What the first proof of an account's address (the verification of an unverified account,
/// or its password reset) clears, in the transaction that records the proof: whatever was set
/// up on the account before, possibly by someone who registered an address they do not own.
///
/// Each part names a table the application's migrations must create
/// (`Sessions<User>`, `SecondFactors<User>`, `OAuthAccounts<User>`), so a manager clears
/// nothing until told ([`Users::first_proof_clears`]); users-axum's `UsersState` clears every
/// part whose routes it serves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FirstProofClears {
    /// The user's stored sessions.
    pub sessions: bool,
    /// The user's TOTP, recovery codes and passkeys.
    pub second_factors: bool,
    /// The user's linked provider accounts.
    pub provider_links: bool,
}

impl FirstProofClears {
    /// Every part: for an application that migrates all three tables.
    pub const ALL: FirstProofClears = FirstProofClears {
        sessions: true,
        second_factors: true,
        provider_links: true,
    };
}

impl<U: UserModel, R: RoleModel> Users<U, R> {
    /// A manager with `config` and no hooks.
    pub fn new(config: UsersConfig) -> Self {
        Users {
            hasher: Arc::new(PasswordHasher::new(&config)),
            tokens: TokenSigner::new(&config),
            sealer: Sealer::new(&config),
            config,
            hooks: Arc::new(NoHooks),
            throttle: Arc::new(MemoryThrottleStore::default()),
            first_proof_clears: FirstProofClears::default(),
            events: EventOutlet::default(),
            roles: PhantomData,
        }
    }

    /// Records security events ([`SecurityEvent`]): each operation writes what it did to the
    /// model's event store, in the transaction of the change (both or neither). The
    /// application's migrations must create the store's table
    /// (`Migrations::new().with::<User>().with::<Events<User>>()`); by default a manager stores
    /// none. Stored or not, every event goes to the [`event_sink`](Self::event_sink) once its
    /// change is done.
    pub fn record_events(mut self) -> Self {
        self.events.record = true;
        self
    }

    /// Whether the manager records security events ([`record_events`](Self::record_events)).
    pub fn records_events(&self) -> bool {
        self.events.record
    }

    /// Sends each event to `sink` (instead of `tracing`, the default
    /// [`TracingSink`]), on a thread of its own behind a queue of [`EVENT_QUEUE`] events: a
    /// slow sink never holds up an operation, and the events that find the queue full are
    /// dropped ([`dropped_events`](Self::dropped_events) counts them).
    ///
    /// [`EVENT_QUEUE`]: crate::EVENT_QUEUE
    pub fn event_sink(mut self, sink: impl EventSink) -> Self {
        self.events.sink = Some(QueuedSink::start(sink));
        self
    }

    /// The same manager acting for the administrator `actor`: the events its operations record
    /// name them ([`SecurityEvent::actor_id`]). A web application makes one per
    /// administrator's request; it shares everything else with this one.
    pub fn acting_for(mut self, actor: uuid::Uuid) -> Self {
        self.events.actor = Some(actor);
        self
    }

    /// The same manager serving a client that says it is `user_agent`: the events its
    /// operations record carry it (a login's, for one). A web application makes one for a
    /// request that proves identity; it shares everything else with this one.
    pub fn with_user_agent(mut self, user_agent: Option<&str>) -> Self {
        self.events.user_agent = user_agent.map(str::to_owned);
        self
    }

    /// `event` as this manager records it: with its administrator and its client's user
    /// agent, where it has them.
    pub(crate) fn stamped(&self, event: SecurityEvent) -> SecurityEvent {
        let actor = event.actor_id.or(self.events.actor);
        let agent = event.user_agent.clone();
        let agent = agent.or_else(|| self.events.user_agent.clone());
        event.by(actor).with_user_agent(agent.as_deref())
    }

    /// Whether the manager adds anything to the events it records ([`stamped`](Self::stamped)).
    pub(crate) fn stamps(&self) -> bool {
        self.events.actor.is_some() || self.events.user_agent.is_some()
    }

    /// How many events the [`event_sink`](Self::event_sink) missed because it fell behind.
    pub fn dropped_events(&self) -> u64 {
        self.events.sink.as_ref().map_or(0, QueuedSink::dropped)
    }

    /// Hands a recorded event to the sink.
    pub(crate) fn publish(&self, event: SecurityEvent) {
        let event = self.stamped(event);
        match &self.events.sink {
            Some(sink) => sink.send(event),
            None => TracingSink.send(&event),
        }
    }

    /// Sets what the first proof of an account's address clears (see [`FirstProofClears`]);
    /// by default nothing, since the tables involved are optional.
    pub fn first_proof_clears(mut self, clears: FirstProofClears) -> Self {
        self.first_proof_clears = clears;
        self
    }

    /// Replaces the store of the throttle's counters (failed logins, mails sent), by default a
    /// [`MemoryThrottleStore`] of this manager and its clones: processes that must share the
    /// counters use a database store (`users_diesel::DatabaseThrottleStore`).
    pub fn with_throttle_store(mut self, store: impl ThrottleStore + 'static) -> Self {
        self.throttle = Arc::new(store);
        self
    }

    /// Replaces the hooks.
    pub fn with_hooks(mut self, hooks: impl UsersHooks<U> + Send + Sync + 'static) -> Self {
        self.hooks = Arc::new(hooks);
        self
    }

    /// The configuration the manager was built with.
    pub fn config(&self) -> &UsersConfig {
        &self.config
    }

    /// The password hasher, which counts its argon2 runs.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// The hooks the operations run.
    pub(crate) fn hooks(&self) -> &(dyn UsersHooks<U> + Send + Sync) {
        &*self.hooks
    }

    /// The manager whose decision methods the operations call: this one.
    pub(crate) fn decisions(&self) -> &Self {
        self
    }

    /// Seals and opens the TOTP secrets and the kept provider tokens.
    pub(crate) fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// A "second factor pending" token for `user`, whose factors are at `version`.
    pub(crate) fn second_factor_token(&self, user: &U, version: i64) -> String {
        let now = SystemTime::now();
        self.tokens
            .issue_second_factor(user, version, now, SECOND_FACTOR_TOKEN_LIFETIME)
    }
}

impl<U: UserModel, R: RoleModel> Clone for Users<U, R> {
    fn clone(&self) -> Self {
        Users {
            config: self.config.clone(),
            hasher: Arc::clone(&self.hasher),
            tokens: self.tokens.clone(),
            sealer: self.sealer.clone(),
            hooks: Arc::clone(&self.hooks),
            throttle: Arc::clone(&self.throttle),
            first_proof_clears: self.first_proof_clears,
            events: self.events.clone(),
            roles: PhantomData,
        }
    }
}

impl<U: UserModel, R: RoleModel> fmt::Debug for Users<U, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Users")
            .field("user_table", &U::TABLE)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
