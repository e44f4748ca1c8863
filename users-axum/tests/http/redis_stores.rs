//! The Redis stores of users-axum against a real Redis (`USERS_TEST_REDIS_URL`, by default
//! `redis://127.0.0.1:6379`): the throttle's counters, shared by managers as they would be by
//! processes, and the revocation list, shared by two of its instances as by two servers. Each
//! test names its keys under a prefix of its own, so runs never collide; what they write
//! expires by itself.
#![cfg(all(feature = "redis", feature = "sqlite"))]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use diesel_migrations::MigrationHarness;
use users_axum::{RedisRevocations, RedisThrottleStore, Revocations};
use users_diesel::prelude::*;
use users_diesel::{ThrottleStore, Uuid};

#[user_model]
pub struct User {}

const EMAIL: &str = "alice@example.com";
const PASSWORD: &str = "correct horse battery staple";
const WRONG: &str = "not the password at all";

fn url() -> String {
    std::env::var("USERS_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A key prefix of this test's own.
fn prefix() -> String {
    format!("users-test:{}:", Uuid::now_v7())
}

fn store(prefix: &str) -> RedisThrottleStore {
    RedisThrottleStore::open(&url(), prefix).expect("Redis answers at USERS_TEST_REDIS_URL")
}

#[test]
fn redis_counters_count_expire_hold_and_clear() {
    let store = store(&prefix());
    // The store counts in milliseconds: start on a whole one.
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let t0 = UNIX_EPOCH + Duration::from_millis(since_epoch.as_millis() as u64);
    let window = Duration::from_secs(10);
    assert_eq!(store.hit("k", t0, window).unwrap().hits, 1);
    let second = store.hit("k", t0 + Duration::from_secs(5), window).unwrap();
    assert_eq!(second.hits, 2);
    assert_eq!(second.expires_at, t0 + Duration::from_secs(15));
    assert_eq!(
        store
            .get("k", t0 + Duration::from_secs(14))
            .unwrap()
            .unwrap()
            .hits,
        2
    );
    assert_eq!(store.get("k", t0 + Duration::from_secs(15)).unwrap(), None);
    assert_eq!(
        store
            .hit("k", t0 + Duration::from_secs(15), window)
            .unwrap()
            .hits,
        1
    );
    store.hold("k", t0 + Duration::from_secs(100)).unwrap();
    assert!(store
        .get("k", t0 + Duration::from_secs(99))
        .unwrap()
        .is_some());
    store.hold("absent", t0 + Duration::from_secs(100)).unwrap();
    assert_eq!(
        store.get("absent", t0).unwrap(),
        None,
        "holding creates nothing"
    );
    store.clear("k").unwrap();
    assert_eq!(store.get("k", t0).unwrap(), None);
}

#[test]
fn concurrent_hits_from_many_threads_are_all_counted() {
    let store = store(&prefix());
    let now = SystemTime::now();
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..25 {
                    store.hit("shared", now, Duration::from_secs(30)).unwrap();
                }
            });
        }
    });
    assert_eq!(store.get("shared", now).unwrap().unwrap().hits, 200);
    store.clear("shared").unwrap();
}

#[test]
fn two_managers_over_redis_share_a_lockout_and_a_mail_cap() {
    let mut db = users_tests::sqlite();
    db.run_pending_migrations(Migrations::new().with::<User>())
        .unwrap();
    let conn = &mut db.connect();
    let config = || {
        UsersConfig::new("the secret of the redis tests, 32+ bytes")
            .and_then(|config| config.argon2_params(8, 1, 1))
            .and_then(|config| config.login_limits(3, 50))
            .and_then(|config| {
                config.login_lockout(Duration::from_secs(2), Duration::from_secs(60))
            })
            .and_then(|config| config.mail_limit(3, Duration::from_secs(3600)))
            .unwrap()
    };
    let prefix = prefix();
    let first = Users::<User>::new(config()).with_throttle_store(store(&prefix));
    let second = Users::<User>::new(config()).with_throttle_store(store(&prefix));
    first.register(conn, EMAIL, PASSWORD).unwrap();
    for manager in [&first, &second, &first] {
        assert!(matches!(
            manager.authenticate(conn, EMAIL, WRONG),
            Err(UsersError::InvalidCredentials)
        ));
    }
    // Locked through the other manager too, even with the right password; and for a manager
    // that starts afresh over the same Redis, as a restarted process would.
    let restarted = Users::<User>::new(config()).with_throttle_store(store(&prefix));
    for manager in [&second, &restarted] {
        match manager.authenticate(conn, EMAIL, PASSWORD) {
            Err(UsersError::TooManyAttempts { retry_after }) => {
                assert!(retry_after <= Duration::from_secs(2));
            }
            other => panic!("expected TooManyAttempts, got {other:?}"),
        }
    }
    std::thread::sleep(Duration::from_millis(2100));
    first
        .authenticate(conn, EMAIL, PASSWORD)
        .expect("the lockout has ended");

    for manager in [&first, &second, &restarted] {
        manager.count_mail(EMAIL).unwrap();
    }
    assert!(matches!(
        second.count_mail(EMAIL),
        Err(UsersError::TooManyAttempts { .. })
    ));
}

#[tokio::test]
async fn a_revocation_through_one_list_holds_in_another_and_expires() {
    let prefix = prefix();
    let one = RedisRevocations::open(&url(), &prefix).await.unwrap();
    let other = RedisRevocations::open(&url(), &prefix).await.unwrap();
    let (revoked, kept) = (Uuid::now_v7(), Uuid::now_v7());
    let until = SystemTime::now() + Duration::from_millis(300);
    one.revoke(revoked, until).await.unwrap();
    assert!(other.is_revoked(revoked).await.unwrap());
    assert!(!other.is_revoked(kept).await.unwrap());
    // Another prefix is another application.
    let elsewhere = RedisRevocations::open(&url(), &self::prefix())
        .await
        .unwrap();
    assert!(!elsewhere.is_revoked(revoked).await.unwrap());
    // Redis forgets it a second after the token would have expired.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!other.is_revoked(revoked).await.unwrap());
}

#[test]
fn a_wrong_address_fails_at_once() {
    assert!(matches!(
        RedisThrottleStore::open("redis://127.0.0.1:1", "x:"),
        Err(UsersError::Database(_))
    ));
    assert!(matches!(
        RedisThrottleStore::open("not a url", "x:"),
        Err(UsersError::Database(_))
    ));
}
