//! Redis for the state that several server processes must share: the throttle's counters
//! ([`RedisThrottleStore`]) and the session revocation list ([`RedisRevocations`]).
//!
//! Both name their keys under a prefix of the application's choosing (say `"myapp:"`), so that
//! applications (and test runs) sharing one Redis never collide, and both let Redis expire
//! what they write, so nothing has to be swept. A counter is one hash
//! (`{prefix}throttle:{key}`: `hits`, `last`, `expires`, in Unix milliseconds) changed by one
//! Lua script, so concurrent hits from any number of processes are never lost; a revocation is
//! one key (`{prefix}revoked:{token id}`) that expires with the token.

use std::error::Error;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::ConnectionManager;
use redis::{Commands, Script};
use users_diesel::{Counter, ThrottleStore, UsersError, Uuid};

use crate::session::Revocations;
use crate::BoxFuture;

/// Adds a hit: starts the counter afresh if it has expired, keeps it for the window, and
/// returns its hits, last hit and expiry.
const HIT: &str = r"
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local stored = redis.call('HMGET', KEYS[1], 'hits', 'expires')
local hits, expires = tonumber(stored[1]) or 0, tonumber(stored[2]) or 0
if expires <= now then
  hits, expires = 0, now
end
hits = hits + 1
if now + window > expires then
  expires = now + window
end
redis.call('HSET', KEYS[1], 'hits', hits, 'last', now, 'expires', expires)
redis.call('PEXPIREAT', KEYS[1], expires + 1000)
return { hits, now, expires }
";

/// Keeps an existing counter until at least `ARGV[1]`.
const HOLD: &str = r"
local stored = tonumber(redis.call('HGET', KEYS[1], 'expires'))
if stored == nil then
  return 0
end
local until_ = tonumber(ARGV[1])
if until_ > stored then
  redis.call('HSET', KEYS[1], 'expires', until_)
  redis.call('PEXPIREAT', KEYS[1], until_ + 1000)
end
return 1
";

/// The throttle's counters in Redis, shared by every process that uses the same Redis and
/// prefix: a lockout or a mail cap reached through one process holds in all of them, and
/// across restarts.
///
/// The store's methods block (the manager calls them on Tokio's blocking pool), over a small
/// pool of connections. Times are kept to the millisecond.
///
/// ```no_run
/// use users_axum::RedisThrottleStore;
/// use users_diesel::{Users, UsersConfig};
/// # #[users_diesel::user_model] pub struct User {}
///
/// let store = RedisThrottleStore::open("redis://127.0.0.1:6379", "myapp:")?;
/// let users = Users::<User>::new(UsersConfig::new("a secret of 32 bytes or more, from config")?)
///     .with_throttle_store(store);
/// # Ok::<(), users_diesel::UsersError>(())
/// ```
pub struct RedisThrottleStore {
    pool: r2d2::Pool<redis::Client>,
    prefix: String,
    hit: Script,
    hold: Script,
}

impl RedisThrottleStore {
    /// A store over the Redis at `url` (`redis://host:port/db`), with keys under `prefix`;
    /// it connects at once, so a wrong address fails here.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`] if the URL is malformed or Redis does not answer.
    pub fn open(url: &str, prefix: &str) -> Result<Self, UsersError> {
        let client = redis::Client::open(url).map_err(UsersError::database)?;
        let pool = r2d2::Pool::builder()
            .max_size(8)
            .connection_timeout(Duration::from_secs(5))
            .build(client)
            .map_err(UsersError::database)?;
        Ok(RedisThrottleStore {
            pool,
            prefix: prefix.to_owned(),
            hit: Script::new(HIT),
            hold: Script::new(HOLD),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}throttle:{key}", self.prefix)
    }

    fn connection(&self) -> Result<r2d2::PooledConnection<redis::Client>, UsersError> {
        self.pool.get().map_err(UsersError::database)
    }
}

impl ThrottleStore for RedisThrottleStore {
    fn hit(&self, key: &str, now: SystemTime, window: Duration) -> Result<Counter, UsersError> {
        let (hits, last, expires): (u32, u64, u64) = self
            .hit
            .key(self.key(key))
            .arg(millis(now))
            .arg(u64::try_from(window.as_millis()).unwrap_or(u64::MAX / 4))
            .invoke(&mut *self.connection()?)
            .map_err(UsersError::database)?;
        Ok(Counter {
            hits,
            last_at: time(last),
            expires_at: time(expires),
        })
    }

    fn get(&self, key: &str, now: SystemTime) -> Result<Option<Counter>, UsersError> {
        let (hits, last, expires): (Option<u32>, Option<u64>, Option<u64>) = self
            .connection()?
            .hget(self.key(key), &["hits", "last", "expires"])
            .map_err(UsersError::database)?;
        Ok(match (hits, last, expires) {
            (Some(hits), Some(last), Some(expires)) if time(expires) > now => Some(Counter {
                hits,
                last_at: time(last),
                expires_at: time(expires),
            }),
            _ => None,
        })
    }

    fn hold(&self, key: &str, until: SystemTime) -> Result<(), UsersError> {
        let _: i64 = self
            .hold
            .key(self.key(key))
            .arg(millis(until))
            .invoke(&mut *self.connection()?)
            .map_err(UsersError::database)?;
        Ok(())
    }

    fn clear(&self, key: &str) -> Result<(), UsersError> {
        self.connection()?
            .del::<_, ()>(self.key(key))
            .map_err(UsersError::database)
    }
}

impl std::fmt::Debug for RedisThrottleStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisThrottleStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// The session revocation list in Redis: a logout through one process is honoured by every
/// process using the same Redis and prefix, and survives restarts. Each revoked token id is a
/// key that Redis drops when the token would have expired anyway.
///
/// ```no_run
/// # async fn run(state: users_axum::UsersState<impl users_axum::Profile>) -> Result<(), users_diesel::UsersError> {
/// use users_axum::RedisRevocations;
///
/// let state = state.revocations(RedisRevocations::open("redis://127.0.0.1:6379", "myapp:").await?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisRevocations {
    connection: ConnectionManager,
    prefix: String,
}

impl RedisRevocations {
    /// A list over the Redis at `url`, with keys under `prefix`; it connects at once (and
    /// reconnects by itself later), so a wrong address fails here.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`] if the URL is malformed or Redis does not answer.
    pub async fn open(url: &str, prefix: &str) -> Result<Self, UsersError> {
        let client = redis::Client::open(url).map_err(UsersError::database)?;
        let connection = ConnectionManager::new(client)
            .await
            .map_err(UsersError::database)?;
        Ok(RedisRevocations {
            connection,
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, id: Uuid) -> String {
        format!("{}revoked:{id}", self.prefix)
    }
}

impl Revocations for RedisRevocations {
    fn revoke(
        &self,
        id: Uuid,
        until: SystemTime,
    ) -> BoxFuture<'_, Result<(), Box<dyn Error + Send + Sync>>> {
        let mut connection = self.connection.clone();
        let key = self.key(id);
        Box::pin(async move {
            // Kept a second past the token's expiry, so no clock skew revives the token.
            let until = millis(until).saturating_add(1000);
            redis::cmd("SET")
                .arg(key)
                .arg(1)
                .arg("PXAT")
                .arg(until)
                .query_async::<()>(&mut connection)
                .await?;
            Ok(())
        })
    }

    fn is_revoked(&self, id: Uuid) -> BoxFuture<'_, Result<bool, Box<dyn Error + Send + Sync>>> {
        let mut connection = self.connection.clone();
        let key = self.key(id);
        Box::pin(async move {
            let revoked: bool = redis::cmd("EXISTS")
                .arg(key)
                .query_async(&mut connection)
                .await?;
            Ok(revoked)
        })
    }
}

impl std::fmt::Debug for RedisRevocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRevocations")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// `time` in Unix milliseconds (0 before the epoch).
fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    })
}

/// The time `millis` Unix milliseconds after the epoch.
fn time(millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(millis)
}
