//! The one guarded check every proof of identity goes through, and the mail cap.
//!
//! A proof (a password, a TOTP or recovery code, a passkey assertion, a single-use token) is
//! checked between [`Users::check_guard`], which refuses it while its counters are locked out,
//! and [`Users::count_guard`], which counts a failure on each counter (locking those that reach
//! their limit) or clears the account's counter of that kind of proof after a success. Failures
//! are counted per account *and kind of proof*, and per client and kind: a right password
//! forgives no wrong code. The operations call the pair through `guarded!`; the public
//! [`Users::guarded`] (and `AsyncUsers::guarded`) wraps a check made outside users-core, such
//! as users-axum's passkey assertion.
//!
//! These touch the [`ThrottleStore`](crate::ThrottleStore), which may block; the async manager
//! runs them on Tokio's blocking pool.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::time::SystemTime;

use super::Users;
use crate::text::cut;
use crate::{normalize_email, RoleModel, UserModel, UsersError};

/// The longest client key the throttle keeps: a longer one is cut (at a character boundary),
/// so that an application's key cannot grow the counters' keys without bound. An IPv6 address
/// takes at most 45 bytes.
pub const MAX_CLIENT_KEY_BYTES: usize = 48;

/// A kind of proof of identity. Each kind's failures are counted apart, so a success of one
/// kind never clears another kind's failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Proof {
    /// A password: at login, and wherever an operation asks for the current one (a password
    /// or email change, a factor's enrolment or removal, an account's deletion, a provider
    /// link). A failure is [`UsersError::InvalidCredentials`].
    Password,
    /// A TOTP code or a recovery code. A failure is [`UsersError::InvalidCredentials`].
    SecondFactor,
    /// A passkey assertion. A failure is [`UsersError::InvalidCredentials`].
    Passkey,
    /// A single-use token: a verification, reset, email change, second-factor pending or
    /// refresh token. A failure is [`UsersError::InvalidToken`].
    Token,
}

impl Proof {
    /// The name in the counters' keys and in logs: `password`, `second_factor`, `passkey`,
    /// `token`.
    pub fn name(self) -> &'static str {
        match self {
            Proof::Password => "password",
            Proof::SecondFactor => "second_factor",
            Proof::Passkey => "passkey",
            Proof::Token => "token",
        }
    }

    /// What the outcome of a check of this kind says of the proof.
    fn settled<T>(self, outcome: &Result<T, UsersError>) -> ProofOutcome {
        match (self, outcome) {
            (_, Ok(_)) => ProofOutcome::Proved,
            // The right password of a deactivated or unverified account.
            (Proof::Password, Err(UsersError::InactiveUser | UsersError::UnverifiedUser)) => {
                ProofOutcome::Proved
            }
            (Proof::Token, Err(UsersError::InvalidToken)) => ProofOutcome::Failed,
            (Proof::Token, Err(_)) => ProofOutcome::Neither,
            (_, Err(UsersError::InvalidCredentials)) => ProofOutcome::Failed,
            (_, Err(_)) => ProofOutcome::Neither,
        }
    }
}

/// What a checked proof came to, for [`Users::settle_guard`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofOutcome {
    /// The proof was wrong: counted on each counter.
    Failed,
    /// The proof held: the account's failures of its kind are forgiven.
    Proved,
    /// Refused for another reason (a malformed request, a deactivated account's code):
    /// counted for nothing.
    Neither,
}

impl fmt::Display for Proof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The counters one attempt at a proof touches: the account's for that kind of proof (if the
/// account is known) and the client's (if the caller named one).
#[derive(Clone, Debug)]
pub struct GuardKeys {
    account: Option<String>,
    client: Option<String>,
    proof: Proof,
}

impl GuardKeys {
    /// The counters that an attempt at `proof` for `account` (a normalised email, whether or
    /// not a user has it) from `client` touches.
    pub fn new(proof: Proof, account: Option<&str>, client: Option<&str>) -> GuardKeys {
        let kind = proof.name();
        GuardKeys {
            account: account.map(|account| format!("guard:{kind}:account:{account}")),
            client: client.map(|client| format!("guard:{kind}:client:{}", client_key(client))),
            proof,
        }
    }

    /// What `outcome`, the result of this attempt's check, says of the proof.
    pub fn settled<T>(&self, outcome: &Result<T, UsersError>) -> ProofOutcome {
        self.proof.settled(outcome)
    }
}

/// The key the throttle counts `client` under: an IPv6 address by its /64 (one subscriber's
/// network, which its owner can fill with addresses at will), anything else as given, cut to
/// [`MAX_CLIENT_KEY_BYTES`].
pub fn client_key(client: &str) -> String {
    match client.parse::<IpAddr>() {
        Ok(IpAddr::V6(address)) if address.to_ipv4_mapped().is_none() => {
            let network = u128::from(address) & !((1u128 << 64) - 1);
            format!("{}/64", Ipv6Addr::from(network))
        }
        Ok(IpAddr::V6(address)) => address.to_canonical().to_string(),
        _ => cut(client, MAX_CLIENT_KEY_BYTES).to_owned(),
    }
}

impl<U: UserModel, R: RoleModel> Users<U, R> {
    /// The counters of an attempt: [`GuardKeys::new`].
    pub(crate) fn guard_keys(
        &self,
        proof: Proof,
        account: Option<&str>,
        client: Option<&str>,
    ) -> GuardKeys {
        GuardKeys::new(proof, account, client)
    }

    /// Each counter of an attempt with its limit.
    fn guard_counters<'k>(&self, keys: &'k GuardKeys) -> impl Iterator<Item = (&'k str, u32)> {
        let limits = &self.config.login_throttle;
        let account = keys.account.as_deref().map(|key| (key, limits.per_account));
        let client = keys.client.as_deref().map(|key| (key, limits.per_client));
        account.into_iter().chain(client)
    }

    /// Refuses an attempt while any of its counters is locked out, with the longest wait: the
    /// first half of the guarded check, made before the proof is looked at (so the right proof
    /// is refused too while locked).
    ///
    /// # Errors
    ///
    /// [`UsersError::TooManyAttempts`], or the store's [`UsersError::Database`].
    pub fn check_guard(&self, keys: &GuardKeys) -> Result<(), UsersError> {
        let now = SystemTime::now();
        let policy = &self.config.login_throttle;
        let mut wait = None;
        for (key, limit) in self.guard_counters(keys) {
            if let Some(counter) = self.throttle.get(key, now)? {
                wait = wait.max(policy.locked_for(&counter, limit, now));
            }
        }
        match wait {
            Some(retry_after) => Err(UsersError::TooManyAttempts { retry_after }),
            None => Ok(()),
        }
    }

    /// Counts an attempt's outcome: the proof failing is a hit on every counter (locking those
    /// that reach their limit, with the back-off of
    /// [`UsersConfig::login_lockout`](crate::UsersConfig::login_lockout)); the proof holding
    /// clears the account's counter of this kind of proof. Other refusals count for nothing.
    /// The second half of the guarded check.
    ///
    /// # Errors
    ///
    /// The store's [`UsersError::Database`], and [`UsersError::Overloaded`] from a full
    /// memory store.
    pub fn count_guard<T>(
        &self,
        keys: &GuardKeys,
        outcome: &Result<T, UsersError>,
    ) -> Result<(), UsersError> {
        self.settle_guard(keys, keys.settled(outcome))
    }

    /// Counts what an attempt came to (see [`count_guard`](Self::count_guard)), for a check
    /// made outside users-core that classified its own outcome. A proof's
    /// success clears the account's counter of its kind; the client's stays, so that one good
    /// account does not reset a client guessing at others.
    pub fn settle_guard(&self, keys: &GuardKeys, outcome: ProofOutcome) -> Result<(), UsersError> {
        let policy = &self.config.login_throttle;
        match outcome {
            ProofOutcome::Failed => {
                let now = SystemTime::now();
                for (key, limit) in self.guard_counters(keys) {
                    let counter = self.throttle.hit(key, now, policy.window)?;
                    if let Some(lockout) = policy.lockout(counter.hits, limit) {
                        self.throttle.hold(key, counter.last_at + lockout)?;
                    }
                }
            }
            ProofOutcome::Proved => {
                if let Some(account) = &keys.account {
                    self.throttle.clear(account)?;
                }
            }
            ProofOutcome::Neither => {}
        }
        Ok(())
    }

    /// The guarded check: runs `check` (the check of a proof of `proof`'s kind for `account`
    /// from `client`) unless a counter is locked out, and counts its outcome. Every proof of
    /// identity goes through it, in users-core's operations and wherever an application or
    /// users-axum checks a proof itself.
    ///
    /// `account` is the account's normalised email (the key its password failures are
    /// counted under, also for an address without a user); `None` where the proof names no
    /// account yet (a token that does not open).
    ///
    ///
    /// # Errors
    ///
    /// [`UsersError::TooManyAttempts`] while locked out, the error of `check`, or the store's.
    pub fn guarded<T>(
        &self,
        proof: Proof,
        account: Option<&str>,
        client: Option<&str>,
        check: impl FnOnce() -> Result<T, UsersError>,
    ) -> Result<T, UsersError> {
        let keys = self.guard_keys(proof, account, client);
        self.check_guard(&keys)?;
        let outcome = check();
        self.count_guard(&keys, &outcome)?;
        outcome
    }

    /// Counts one mail to `address` (normalised first) against the mail cap, and refuses it if
    /// the address has had its share of the window: what the mail-sending routes call before
    /// they do anything, for every request, whether or not the address has an account. As
    /// [`count_mail_from`](Self::count_mail_from) with no client.
    ///
    /// # Errors
    ///
    /// As [`count_mail_from`](Self::count_mail_from).
    pub fn count_mail(&self, address: &str) -> Result<(), UsersError> {
        self.count_mail_from(None, address)
    }

    /// Counts one mail to `address` asked for by `client` against the mail caps, and refuses
    /// it if the address or the client has had its share of the window
    /// ([`UsersConfig::mail_limit`](crate::UsersConfig::mail_limit),
    /// [`UsersConfig::mail_client_limit`](crate::UsersConfig::mail_client_limit)): a client
    /// asking for mails to ever new addresses is stopped too.
    ///
    /// A malformed address is not counted (nothing can be sent to it) but still counts for
    /// the client.
    ///
    /// # Errors
    ///
    /// [`UsersError::TooManyAttempts`] with the time until the window ends, the store's
    /// [`UsersError::Database`], or [`UsersError::Overloaded`] from a full memory store.
    pub fn count_mail_from(&self, client: Option<&str>, address: &str) -> Result<(), UsersError> {
        let cap = &self.config.mail_throttle;
        let address = normalize_email(address)
            .ok()
            .map(|address| (format!("mail:address:{address}"), cap.per_address));
        let client = client.map(|client| {
            let key = format!("mail:client:{}", client_key(client));
            (key, cap.per_client)
        });
        let now = SystemTime::now();
        let counters = || address.iter().chain(client.iter());
        for (key, limit) in counters() {
            if let Some(counter) = self.throttle.get(key, now)? {
                if counter.hits >= *limit {
                    let retry_after = counter.expires_at.duration_since(now).unwrap_or_default();
                    return Err(UsersError::TooManyAttempts { retry_after });
                }
            }
        }
        for (key, _) in counters() {
            self.throttle.hit(key, now, cap.window)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_keys_group_ipv6_by_their_64_and_keep_the_rest() {
        assert_eq!(
            client_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            client_key("2001:db8:1:2::1"),
            client_key("2001:db8:1:2:ffff::9")
        );
        assert_ne!(client_key("2001:db8:1:2::1"), client_key("2001:db8:1:3::1"));
        assert_eq!(client_key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(client_key("192.0.2.7"), "192.0.2.7");
        assert_eq!(client_key(&"k".repeat(100)).len(), MAX_CLIENT_KEY_BYTES);
    }
}
