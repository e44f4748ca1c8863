//! Counters of failed logins and sent mails, and the policy that turns them into refusals.
//!
//! The managers count failed logins per account and per client key, and mails per address, in
//! a [`ThrottleStore`]. [`MemoryThrottleStore`] (the default) keeps the counters in the process;
//! `users_diesel::DatabaseThrottleStore` keeps them in a table, so that several processes share
//! them. The limits are settings of [`UsersConfig`](crate::UsersConfig).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use crate::UsersError;

/// One counter: how many hits it has had since it was last empty, when the last one was, and
/// until when it is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counter {
    /// The hits since the counter was created, cleared or expired.
    pub hits: u32,
    /// When the last hit was.
    pub last_at: SystemTime,
    /// When the counter expires (it then reads as absent and its next hit is the first).
    pub expires_at: SystemTime,
}

/// Where the counters live: a small key-value store of [`Counter`]s, shared by every request
/// of a manager.
///
/// Keys are short strings the manager makes (`login:account:alice@example.com`,
/// `login:client:192.0.2.7`, `mail:alice@example.com`); a store treats them as opaque. Each
/// method is one atomic step of the store, so that concurrent requests, of this process or of
/// others sharing the store, never lose a hit. The methods may block (a database store waits
/// for its database): the async manager calls them on Tokio's blocking pool.
pub trait ThrottleStore: Send + Sync {
    /// Adds a hit to `key`'s counter at `now`, creating it (or starting it afresh if it has
    /// expired) with one hit, keeps it until at least `now + window`, and returns it.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`] if the store failed.
    fn hit(&self, key: &str, now: SystemTime, window: Duration) -> Result<Counter, UsersError>;

    /// `key`'s counter, unless it is absent or has expired by `now`.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`] if the store failed.
    fn get(&self, key: &str, now: SystemTime) -> Result<Option<Counter>, UsersError>;

    /// Keeps `key`'s counter, if there is one, until at least `until` (a lockout that outlasts
    /// the counter's window).
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`] if the store failed.
    fn hold(&self, key: &str, until: SystemTime) -> Result<(), UsersError>;

    /// Removes `key`'s counter.
    ///
    /// # Errors
    ///
    /// [`UsersError::Database`] if the store failed.
    fn clear(&self, key: &str) -> Result<(), UsersError>;
}

/// The default [`ThrottleStore`]: counters in this process's memory, behind a mutex.
///
/// It holds at most `capacity` counters, so that a flood of requests from ever new client keys
/// cannot grow it without bound: when full, expired counters are dropped, and if none has
/// expired the new key's hit is refused with [`UsersError::Overloaded`] (503 over HTTP). A
/// counter still counting or locking is never forgotten to make room: a flood must not unlock
/// the accounts it is guessing at. Counters are lost when the process ends and are not shared between
/// processes; several processes share them through `users_diesel::DatabaseThrottleStore`.
#[derive(Debug)]
pub struct MemoryThrottleStore {
    counters: Mutex<HashMap<String, Counter>>,
    capacity: usize,
}

impl MemoryThrottleStore {
    /// The number of counters [`MemoryThrottleStore::default`] holds at most.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// A store of at most `capacity` counters (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryThrottleStore {
            counters: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    fn counters(&self) -> std::sync::MutexGuard<'_, HashMap<String, Counter>> {
        // A counter is plain data written in one assignment: a panic elsewhere cannot leave
        // one half-written.
        self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryThrottleStore {
    fn default() -> Self {
        MemoryThrottleStore::with_capacity(Self::DEFAULT_CAPACITY)
    }
}

impl ThrottleStore for MemoryThrottleStore {
    fn hit(&self, key: &str, now: SystemTime, window: Duration) -> Result<Counter, UsersError> {
        let mut counters = self.counters();
        if !counters.contains_key(key) && counters.len() >= self.capacity {
            counters.retain(|_, counter| counter.expires_at > now);
            if counters.len() >= self.capacity {
                return Err(UsersError::Overloaded);
            }
        }
        let fresh = Counter {
            hits: 0,
            last_at: now,
            expires_at: now,
        };
        let counter = counters.entry(key.to_owned()).or_insert(fresh);
        if counter.expires_at <= now {
            *counter = fresh;
        }
        counter.hits = counter.hits.saturating_add(1);
        counter.last_at = now;
        counter.expires_at = counter.expires_at.max(now + window);
        Ok(*counter)
    }

    fn get(&self, key: &str, now: SystemTime) -> Result<Option<Counter>, UsersError> {
        Ok(self
            .counters()
            .get(key)
            .filter(|counter| counter.expires_at > now)
            .copied())
    }

    fn hold(&self, key: &str, until: SystemTime) -> Result<(), UsersError> {
        if let Some(counter) = self.counters().get_mut(key) {
            counter.expires_at = counter.expires_at.max(until);
        }
        Ok(())
    }

    fn clear(&self, key: &str) -> Result<(), UsersError> {
        self.counters().remove(key);
        Ok(())
    }
}

/// The login throttle's settings: see [`UsersConfig::login_limits`](crate::UsersConfig::login_limits)
/// and [`UsersConfig::login_lockout`](crate::UsersConfig::login_lockout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LoginThrottle {
    pub(crate) per_account: u32,
    pub(crate) per_client: u32,
    pub(crate) window: Duration,
    pub(crate) first_lockout: Duration,
    pub(crate) longest_lockout: Duration,
}

impl LoginThrottle {
    /// Devise's `:lockable` locks after 20 failures; django-axes after 3. Ten per account sits
    /// between; a client key (often a NAT shared by many people) gets more.
    pub(crate) const DEFAULT: LoginThrottle = LoginThrottle {
        per_account: 10,
        per_client: 100,
        window: Duration::from_secs(60 * 60),
        first_lockout: Duration::from_secs(60),
        longest_lockout: Duration::from_secs(60 * 60),
    };

    /// How long a counter of `hits` failures under `limit` locks: nothing below the limit,
    /// then the first lockout, doubling with each further failure up to the longest.
    pub(crate) fn lockout(&self, hits: u32, limit: u32) -> Option<Duration> {
        let beyond = hits.checked_sub(limit)?;
        let doubled = self
            .first_lockout
            .checked_mul(2u32.checked_pow(beyond).unwrap_or(u32::MAX))
            .unwrap_or(self.longest_lockout);
        Some(doubled.min(self.longest_lockout))
    }

    /// How long `counter`, under `limit`, still refuses logins at `now`, if it does.
    pub(crate) fn locked_for(
        &self,
        counter: &Counter,
        limit: u32,
        now: SystemTime,
    ) -> Option<Duration> {
        let until = counter.last_at + self.lockout(counter.hits, limit)?;
        until
            .duration_since(now)
            .ok()
            .filter(|left| !left.is_zero())
    }
}

/// The mail cap's settings: see [`UsersConfig::mail_limit`](crate::UsersConfig::mail_limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MailThrottle {
    pub(crate) per_address: u32,
    pub(crate) per_client: u32,
    pub(crate) window: Duration,
}

impl MailThrottle {
    /// The contract's ceiling: at most 10 mails an hour to an address; a client may ask for
    /// 30 an hour (a household or office behind one address), not for one to every address.
    pub(crate) const DEFAULT: MailThrottle = MailThrottle {
        per_address: 10,
        per_client: 30,
        window: Duration::from_secs(60 * 60),
    };
}

// The contract's ceilings on the defaults, checked when the crate compiles: an account locks
// after at most 20 failures (Devise's `:lockable`), an address gets at most 10 mails an hour.
const _: () = assert!(LoginThrottle::DEFAULT.per_account <= 20);
const _: () = assert!(
    MailThrottle::DEFAULT.per_address <= 10 && MailThrottle::DEFAULT.window.as_secs() >= 3600
);

#[cfg(test)]
mod tests {
    use super::*;

    const T0: SystemTime = SystemTime::UNIX_EPOCH;

    fn at(seconds: u64) -> SystemTime {
        T0 + Duration::from_secs(seconds)
    }

    #[test]
    fn memory_counters_count_expire_and_hold() {
        let store = MemoryThrottleStore::default();
        let window = Duration::from_secs(10);
        assert_eq!(store.hit("k", at(0), window).unwrap().hits, 1);
        assert_eq!(store.hit("k", at(5), window).unwrap().hits, 2);
        assert_eq!(store.get("k", at(14)).unwrap().unwrap().hits, 2);
        assert_eq!(store.get("k", at(15)).unwrap(), None);
        assert_eq!(store.hit("k", at(15), window).unwrap().hits, 1);
        store.hold("k", at(100)).unwrap();
        assert_eq!(store.get("k", at(99)).unwrap().unwrap().hits, 1);
        store.clear("k").unwrap();
        assert_eq!(store.get("k", at(16)).unwrap(), None);
    }

    #[test]
    fn a_full_memory_store_drops_expired_counters_and_refuses_new_keys_before_live_ones() {
        let store = MemoryThrottleStore::with_capacity(2);
        store.hit("old", at(0), Duration::from_secs(1)).unwrap();
        store.hit("a", at(0), Duration::from_secs(50)).unwrap();
        store.hit("b", at(10), Duration::from_secs(100)).unwrap();
        assert_eq!(
            store.get("old", at(0)).unwrap(),
            None,
            "expired at 1 s, dropped"
        );
        // Full of live counters: the new key is refused, and every live counter stays.
        assert!(matches!(
            store.hit("c", at(20), Duration::from_secs(100)),
            Err(UsersError::Overloaded)
        ));
        assert_eq!(store.get("a", at(20)).unwrap().unwrap().hits, 1);
        assert_eq!(store.get("b", at(20)).unwrap().unwrap().hits, 1);
        // A known key still counts; once one expires, a new key finds room.
        assert_eq!(
            store
                .hit("a", at(20), Duration::from_secs(50))
                .unwrap()
                .hits,
            2
        );
        store.hit("c", at(200), Duration::from_secs(100)).unwrap();
        assert!(store.get("c", at(200)).unwrap().is_some());
        assert_eq!(store.counters().len(), 1);
    }

    #[test]
    fn lockouts_start_at_the_limit_and_double_up_to_the_longest() {
        let policy = LoginThrottle {
            first_lockout: Duration::from_secs(60),
            longest_lockout: Duration::from_secs(600),
            ..LoginThrottle::DEFAULT
        };
        let lockouts: Vec<_> = (0..10).map(|hits| policy.lockout(hits, 3)).collect();
        let seconds = |s| Some(Duration::from_secs(s));
        assert_eq!(&lockouts[..3], &[None, None, None]);
        assert_eq!(
            &lockouts[3..],
            &[
                seconds(60),
                seconds(120),
                seconds(240),
                seconds(480),
                seconds(600),
                seconds(600),
                seconds(600)
            ]
        );
        assert_eq!(policy.lockout(u32::MAX, 3), seconds(600));

        let counter = Counter {
            hits: 4,
            last_at: at(100),
            expires_at: at(1000),
        };
        assert_eq!(policy.locked_for(&counter, 3, at(100)), seconds(120));
        assert_eq!(policy.locked_for(&counter, 3, at(219)), seconds(1));
        assert_eq!(policy.locked_for(&counter, 3, at(220)), None);
        assert_eq!(policy.locked_for(&counter, 5, at(100)), None);
    }
}
