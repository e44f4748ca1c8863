//! The settings of a [`Users`](crate::Users) manager: the token secret, argon2id costs, token
//! lifetimes and password rules.

use std::fmt;
use std::time::Duration;

use argon2::Params;
use zeroize::Zeroizing;

use crate::throttle::{LoginThrottle, MailThrottle};
use crate::UsersError;

/// The shortest secret [`UsersConfig::new`] accepts, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// Settings of a [`Users`](crate::Users) manager.
///
/// Built from a secret with [`UsersConfig::new`]; every other setting has a default and a
/// consuming builder method. `Debug` never prints the secret.
///
/// ```
/// use std::time::Duration;
/// use users_core::UsersConfig;
///
/// let config = UsersConfig::new("an application secret of at least 32 bytes")?
///     .argon2_params(19_456, 2, 1)?
///     .reset_token_lifetime(Duration::from_secs(30 * 60))
///     .require_verified(true);
/// assert!(config.requires_verified());
/// assert!(!format!("{config:?}").contains("application secret"));
/// # Ok::<(), users_core::UsersError>(())
/// ```
#[derive(Clone)]
pub struct UsersConfig {
    secret: Zeroizing<Vec<u8>>,
    previous_secrets: Vec<Zeroizing<Vec<u8>>>,
    hide_account_state: bool,
    argon2: Params,
    verification_token_lifetime: Duration,
    reset_token_lifetime: Duration,
    password_min_chars: usize,
    password_max_bytes: usize,
    password_min_score: u8,
    require_verified: bool,
    /// How many idle argon2 memory matrices the hasher keeps. Read as a field so that the
    /// setting has one name, its builder's.
    pub(crate) argon2_memory_reuse: usize,
    argon2_running: usize,
    argon2_queued: usize,
    pub(crate) login_throttle: LoginThrottle,
    pub(crate) mail_throttle: MailThrottle,
    pub(crate) org_roles: crate::OrgRoles,
    invitation_lifetime: Duration,
    invitations_per_org: usize,
    invitations_per_inviter: usize,
}

impl UsersConfig {
    /// A configuration with default settings around `secret`, which signs tokens.
    ///
    /// The secret must be at least [`MIN_SECRET_BYTES`] bytes; use random bytes from a secret
    /// store, not a memorable phrase. Changing it invalidates every outstanding token (but no
    /// password). Defaults: argon2id with m = 19456 KiB, t = 2, p = 1, and up to four of its
    /// memory matrices kept for reuse (see [`argon2_memory_reuse`](Self::argon2_memory_reuse));
    /// verification tokens live 24 hours, reset tokens one hour; passwords need at least 8
    /// characters and at most 4096 bytes, and a strength estimate of 3 out of 4
    /// ([`password_strength`](Self::password_strength)); a verified email is not required to log in. At most
    /// as many argon2 runs at once as the machine has cores, 64 more queued
    /// ([`argon2_concurrency`](Self::argon2_concurrency)); an account locks after 10 failed
    /// logins in a row and a client key after 100 within an hour, for one minute, doubling
    /// with each further failure up to an hour ([`login_limits`](Self::login_limits),
    /// [`login_lockout`](Self::login_lockout)); an address gets at most 10 mails an hour
    /// ([`mail_limit`](Self::mail_limit)).
    ///
    /// # Errors
    ///
    /// [`UsersError::Config`] if the secret is too short.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, UsersError> {
        let secret = secret.as_ref();
        if secret.len() < MIN_SECRET_BYTES {
            return Err(UsersError::config(
                "secret",
                format!(
                    "the secret has {} bytes, it needs at least {MIN_SECRET_BYTES}",
                    secret.len()
                ),
            ));
        }
        Ok(UsersConfig {
            secret: Zeroizing::new(secret.to_vec()),
            previous_secrets: Vec::new(),
            hide_account_state: false,
            argon2: Params::DEFAULT,
            verification_token_lifetime: Duration::from_secs(24 * 60 * 60),
            reset_token_lifetime: Duration::from_secs(60 * 60),
            password_min_chars: 8,
            password_max_bytes: 4096,
            password_min_score: 3,
            require_verified: false,
            argon2_memory_reuse: default_memory_reuse(),
            argon2_running: available_parallelism(),
            argon2_queued: 64,
            login_throttle: LoginThrottle::DEFAULT,
            mail_throttle: MailThrottle::DEFAULT,
            org_roles: crate::OrgRoles::default(),
            invitation_lifetime: Duration::from_secs(7 * 24 * 60 * 60),
            invitations_per_org: 100,
            invitations_per_inviter: 20,
        })
    }

    /// Sets the argon2id costs of new hashes: memory in KiB, iterations and parallelism.
    ///
    /// Stored hashes with other costs keep working and are rehashed with these on the next
    /// successful login.
    ///
    /// # Errors
    ///
    /// [`UsersError::Config`] if argon2 rejects them: at least 8 KiB per lane, one iteration
    /// and one lane, and at most 2^24 - 1 lanes.
    pub fn argon2_params(
        mut self,
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    ) -> Result<Self, UsersError> {
        let invalid = |reason: &dyn fmt::Display| {
            UsersError::config(
                "argon2_params",
                format!(
                    "invalid argon2 parameters (memory {memory_kib} KiB, {iterations} iterations, \
                 parallelism {parallelism}): {reason}"
                ),
            )
        };
        // argon2 multiplies the lanes by 8 unchecked, so an absurd value must not reach it.
        if parallelism > Params::MAX_P_COST {
            return Err(invalid(&"too many lanes"));
        }
        self.argon2 = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|error| invalid(&error))?;
        Ok(self)
    }

    /// Sets how many argon2 memory matrices the hasher keeps between runs, to reuse.
    ///
    /// Every argon2 run fills a matrix of the memory cost (19 MiB by default). Allocating it
    /// afresh for each run means zeroing or page-faulting those 19 MiB, and how much that costs
    /// depends on the allocator's state: a benchmark measured it at up to 5 ms of a 13 ms login.
    /// A kept matrix costs nothing to take. Matrices are wiped after every run, kept or not, so
    /// no password-derived memory outlives a hash or a verification. Only runs at the
    /// configured costs reuse matrices; verifying an outdated hash allocates its own.
    ///
    /// At most `matrices` idle matrices are kept, so the memory held between logins is at most
    /// `matrices` × the memory cost; runs beyond that allocate. The default is the machine's
    /// available parallelism, at most 4 (argon2 runs are CPU-bound, so more concurrent runs
    /// than cores gain nothing). `0` keeps none.
    pub fn argon2_memory_reuse(mut self, matrices: usize) -> Self {
        self.argon2_memory_reuse = matrices;
        self
    }

    /// Sets how many argon2 runs (hashes and verifications) go on at once, and how many more
    /// wait for a slot before work is refused with [`UsersError::Overloaded`].
    ///
    /// Each run fills a matrix of the memory cost, so `running` bounds the memory argon2 takes
    /// whatever the load: `running` × 19 MiB with the default costs. More runs than cores gain
    /// nothing (they are CPU-bound), so the default is the machine's available parallelism.
    /// `queued` bounds the logins that wait; the default, 64, is a few hundred milliseconds of
    /// work at the default costs on a few cores. A refused login does not count as a failure.
    ///
    /// # Errors
    ///
    /// [`UsersError::Config`] if `running` is zero.
    pub fn argon2_concurrency(mut self, running: usize, queued: usize) -> Result<Self, UsersError> {
        if running == 0 {
            return Err(UsersError::config(
                "argon2_concurrency",
                "at least one argon2 run must be allowed at a time".to_owned(),
            ));
        }
        self.argon2_running = running;
        self.argon2_queued = queued;
        Ok(self)
    }

    /// Sets after how many failed logins in a row an account (`per_account`, counted by
    /// normalised email, whether or not it has an account) and a client key (`per_client`, see
    /// `Users::authenticate_from`) are locked out. Failures older than the
    /// [`login_window`](Self::login_window) before the last one are forgotten; a successful
    /// login clears the account's count. Defaults: 10 and 100 (Devise's `:lockable` locks after
    /// 20).
    ///
    /// # Errors
    ///
    /// [`UsersError::Config`] if either is zero.
    pub fn login_limits(mut self, per_account: u32, per_client: u32) -> Result<Self, UsersError> {
        if per_account == 0 || per_client == 0 {
            return Err(UsersError::config(
                "login_limits",
                "login limits must allow at least one attempt".to_owned(),
            ));
        }
        self.login_throttle.per_account = per_account;
        self.login_throttle.per_client = per_client;
        Ok(self)
    }

    /// Sets how long failed logins are remembered after the last one; default one hour.
    pub fn login_window(mut self, window: Duration) -> Self {
        self.login_throttle.window = window;
        self
    }

    /// Sets the lockout after the limit: `first` after the failure that reaches it, doubled
    /// with every failure after the lockout ends (exponential back-off, as django-axes and
    /// Devise do), up to `longest`. Defaults: one minute and one hour. While locked out, a login
    /// is refused with [`UsersError::TooManyAttempts`] before any argon2 run, even with the
    /// right password.
    ///
    /// # Errors
    ///
    /// [`UsersError::Config`] if `first` is zero or longer than `longest`.
    pub fn login_lockout(mut self, first: Duration, longest: Duration) -> Result<Self, UsersError> {
        if first.is_zero() || first > longest {
            return Err(UsersError::config("login_lockout", format!(
                "the first lockout ({first:?}) must be positive and at most the longest ({longest:?})"
            )));
        }
        self.login_throttle.first_lockout = first;
        self.login_throttle.longest_lockout = longest;
        Ok(self)
    }

    /// Sets how many mails an address gets within `window` from the routes that send them
    /// (registration, verification and reset requests, email changes); default 10 an hour.
    /// Requests are counted per address whether or not it has an account, so the refusal tells
    /// nothing about accounts.
    ///
    /// # Errors
    ///
    /// [`UsersError::Config`] if `per_address` is zero or `window` is.
    pub fn mail_limit(mut self, per_address: u32, window: Duration) -> Result<Self, UsersError> {
        if per_address == 0 || window.is_zero() {
            return Err(UsersError::config(
                "mail_limit",
                "the mail limit must allow at least one mail in a positive window".to_owned(),
            ));
        }
        self.mail_throttle.per_address = per_address;
        self.mail_throttle.window = window;
        Ok(self)
    }

    /// Sets how many mails one client (its key, as the login throttle's) may ask for within
    /// the mail window from the unauthenticated routes that send them; default 30. Without it
    /// one client could ask for mails to ever new addresses (each under its own cap) and fill
    /// the throttle's store.
    ///
    /// # Errors
    ///
    /// [`UsersError::Config`] if `per_client` is zero.
    pub fn mail_client_limit(mut self, per_client: u32) -> Result<Self, UsersError> {
        if per_client == 0 {
            return Err(UsersError::config(
                "mail_client_limit",
                "the mail limit per client must allow at least one mail".to_owned(),
            ));
        }
        self.mail_throttle.per_client = per_client;
        Ok(self)
    }

    /// Sets how long an email verification token stays valid, in whole seconds.
    pub fn verification_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.verification_token_lifetime = lifetime;
        self
    }

    /// Sets how long a password reset token stays valid, in whole seconds.
    pub fn reset_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.reset_token_lifetime = lifetime;
        self
    }

    /// Sets the password length rules: at least `min_chars` characters (Unicode scalar values)
    /// and at most `max_bytes` bytes of UTF-8.
    ///
    /// # Errors
    ///
    /// [`UsersError::Config`] if `min_chars` is zero or no password could satisfy both bounds.
    pub fn password_length(
        mut self,
        min_chars: usize,
        max_bytes: usize,
    ) -> Result<Self, UsersError> {
        if min_chars == 0 {
            return Err(UsersError::config(
                "password_length",
                "the minimum password length must be at least one character".to_owned(),
            ));
        }
        if max_bytes < min_chars {
            return Err(UsersError::config(
                "password_length",
                format!(
                "no password can have at least {min_chars} characters and at most {max_bytes} bytes"
            ),
            ));
        }
        self.password_min_chars = min_chars;
        self.password_max_bytes = max_bytes;
        Ok(self)
    }

    /// Sets the strength a new password needs: the minimum score, from 0 to 4, of the
    /// [zxcvbn](https://docs.rs/zxcvbn) estimate of how many guesses it takes; default 3.
    ///
    /// The scores are orders of magnitude of guesses: 1 is at least 10³, 2 at least 10⁶, 3 at
    /// least 10⁸ and 4 at least 10¹⁰. The estimate knows common passwords, dictionary words,
    /// names, keyboard patterns, repeats, sequences and dates, and counts the user's own email
    /// address (its local part and the whole address) and the text fields of the user model
    /// ([`UserModel::profile_words`](crate::UserModel::profile_words)) as words that are easy
    /// to guess. It reads the first 100 characters only. A password below the score is
    /// [`UsersError::InvalidPassword`] with
    /// [`PasswordProblem::TooWeak`](crate::PasswordProblem::TooWeak), which carries the
    /// estimate's advice. The length rules ([`password_length`](Self::password_length)) apply
    /// first, and the `validate_password` hook after.
    ///
    /// `0` turns the estimate off: only the length rules and the hook remain. Passwords
    /// already stored are not checked again; the score applies to registrations and to each
    /// new password set afterwards.
    ///
    /// ```
    /// use users_core::UsersConfig;
    ///
    /// let config = UsersConfig::new([42u8; 32])?.password_strength(4)?;
    /// assert_eq!(config.password_min_score(), 4);
    /// assert!(UsersConfig::new([42u8; 32])?.password_strength(5).is_err());
    /// # Ok::<(), users_core::UsersError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`UsersError::Config`] if `min_score` is above 4.
    pub fn password_strength(mut self, min_score: u8) -> Result<Self, UsersError> {
        if min_score > 4 {
            return Err(UsersError::config(
                "password_strength",
                format!("the password strength score goes from 0 to 4, not {min_score}"),
            ));
        }
        self.password_min_score = min_score;
        Ok(self)
    }

    /// Secrets retired by a rotation, newest first: tokens they signed (sessions, verification
    /// and reset links) are still accepted until they expire, while new tokens are signed with
    /// the current secret. Rotate by moving the current secret here and setting a new one;
    /// drop a retired secret once the longest token lifetime has passed (a day by default).
    /// Each token names the key that signed it, so checking one costs one MAC whatever the
    /// number of secrets.
    ///
    /// # Errors
    ///
    /// [`UsersError::Config`] if a secret is shorter than [`MIN_SECRET_BYTES`].
    pub fn previous_secrets<S: AsRef<[u8]>>(
        mut self,
        secrets: impl IntoIterator<Item = S>,
    ) -> Result<Self, UsersError> {
        self.previous_secrets = secrets
            .into_iter()
            .map(|secret| {
                let secret = secret.as_ref();
                if secret.len() < MIN_SECRET_BYTES {
                    return Err(UsersError::config(
                        "previous_secrets",
                        format!(
                            "a previous secret has {} bytes, it needs at least {MIN_SECRET_BYTES}",
                            secret.len()
                        ),
                    ));
                }
                Ok(Zeroizing::new(secret.to_vec()))
            })
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// Whether a login with the right password for a deactivated account, or an unverified one
    /// where verified users are required, fails as a wrong password does
    /// ([`UsersError::InvalidCredentials`], counted by the throttle) instead of with
    /// [`UsersError::InactiveUser`] or [`UsersError::UnverifiedUser`], so the answer does not
    /// confirm the password to whoever tries it. Off by default: the precise errors let an
    /// application tell its users why they cannot log in.
    pub fn hide_account_state(mut self, hide: bool) -> Self {
        self.hide_account_state = hide;
        self
    }

    /// Whether users must have verified their email address to log in.
    pub fn require_verified(mut self, required: bool) -> Self {
        self.require_verified = required;
        self
    }

    /// The argon2id memory cost of new hashes, in KiB.
    pub fn argon2_memory_kib(&self) -> u32 {
        self.argon2.m_cost()
    }

    /// The argon2id iteration count of new hashes.
    pub fn argon2_iterations(&self) -> u32 {
        self.argon2.t_cost()
    }

    /// The argon2id parallelism (lanes) of new hashes.
    pub fn argon2_parallelism(&self) -> u32 {
        self.argon2.p_cost()
    }

    /// How long a verification token stays valid; see
    /// [`verification_token_lifetime`](Self::verification_token_lifetime).
    pub fn verification_token_ttl(&self) -> Duration {
        self.verification_token_lifetime
    }

    /// How long a reset token stays valid; see
    /// [`reset_token_lifetime`](Self::reset_token_lifetime).
    pub fn reset_token_ttl(&self) -> Duration {
        self.reset_token_lifetime
    }

    /// The minimum password length in characters.
    pub fn password_min_chars(&self) -> usize {
        self.password_min_chars
    }

    /// The maximum password length in bytes.
    pub fn password_max_bytes(&self) -> usize {
        self.password_max_bytes
    }

    /// The minimum strength score (0 to 4) of a new password; 0 when the estimate is off.
    /// See [`password_strength`](Self::password_strength).
    pub fn password_min_score(&self) -> u8 {
        self.password_min_score
    }

    /// Gives the organization role `name` the `permissions` (names normalised as role names
    /// are), declaring it if it is not one of the built-in `owner`, `admin` and `member`: members
    /// may then hold it, and
    /// [`has_org_permission`](crate::Users::has_org_permission) grants them these. See
    /// [`OrgRoles`](crate::OrgRoles) for the built-in roles' permissions.
    ///
    /// ```
    /// use users_core::UsersConfig;
    ///
    /// let config = UsersConfig::new([7u8; 32])?
    ///     .org_role("editor", &["posts.edit", "posts.publish"])?
    ///     .org_role("member", &["posts.read"])?;
    /// assert!(config.org_roles().allows("editor", "posts.publish"));
    /// assert!(config.org_roles().allows("member", "members.read"));
    /// # Ok::<(), users_core::UsersError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidRoleName`] or [`UsersError::InvalidPermission`] for a name no role
    /// or permission may have.
    pub fn org_role(mut self, name: &str, permissions: &[&str]) -> Result<Self, UsersError> {
        self.org_roles.declare(name, permissions)?;
        Ok(self)
    }

    /// The organization roles and their permissions.
    pub fn org_roles(&self) -> &crate::OrgRoles {
        &self.org_roles
    }

    /// How long an organization invitation can be accepted (seven days by default).
    pub fn invitation_lifetime(mut self, lifetime: Duration) -> Self {
        self.invitation_lifetime = lifetime;
        self
    }

    /// How long an organization invitation can be accepted.
    pub fn invitation_ttl(&self) -> Duration {
        self.invitation_lifetime
    }

    /// The most pending invitations an organization may have (100 by default), and the most
    /// one inviter may have pending in one organization (20): beyond them `invite` is refused
    /// with [`UsersError::TooManyInvitations`], so no member can turn the organization into a
    /// mail cannon.
    pub fn invitation_limits(mut self, per_org: usize, per_inviter: usize) -> Self {
        self.invitations_per_org = per_org;
        self.invitations_per_inviter = per_inviter;
        self
    }

    /// The pending-invitation limits, per organization and per inviter; see
    /// [`invitation_limits`](Self::invitation_limits).
    pub fn invitation_caps(&self) -> (usize, usize) {
        (self.invitations_per_org, self.invitations_per_inviter)
    }

    /// Whether users must have verified their email address to log in.
    pub fn requires_verified(&self) -> bool {
        self.require_verified
    }

    /// How many argon2 runs go on at once and how many wait; see
    /// [`argon2_concurrency`](Self::argon2_concurrency).
    pub fn argon2_slots(&self) -> (usize, usize) {
        (self.argon2_running, self.argon2_queued)
    }

    /// The failed logins that lock an account and a client key; see
    /// [`login_limits`](Self::login_limits).
    pub fn login_attempts(&self) -> (u32, u32) {
        (
            self.login_throttle.per_account,
            self.login_throttle.per_client,
        )
    }

    /// The mails an address gets within a window; see [`mail_limit`](Self::mail_limit).
    pub fn mails_per_address(&self) -> (u32, Duration) {
        (self.mail_throttle.per_address, self.mail_throttle.window)
    }

    /// How many mails one client may ask for in the mail window (default 30).
    pub fn mails_per_client(&self) -> u32 {
        self.mail_throttle.per_client
    }

    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// The secrets of [`previous_secrets`](Self::previous_secrets), newest first.
    pub(crate) fn retired_secrets(&self) -> impl Iterator<Item = &[u8]> {
        self.previous_secrets.iter().map(|secret| secret.as_slice())
    }

    /// Whether logins hide the account's state; see
    /// [`hide_account_state`](Self::hide_account_state).
    pub fn hides_account_state(&self) -> bool {
        self.hide_account_state
    }

    pub(crate) fn argon2(&self) -> &Params {
        &self.argon2
    }
}

impl fmt::Debug for UsersConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsersConfig")
            .field("secret", &"[redacted]")
            .field("previous_secrets", &self.previous_secrets.len())
            .field("hide_account_state", &self.hide_account_state)
            .field("argon2_memory_kib", &self.argon2.m_cost())
            .field("argon2_iterations", &self.argon2.t_cost())
            .field("argon2_parallelism", &self.argon2.p_cost())
            .field("argon2_memory_reuse", &self.argon2_memory_reuse)
            .field(
                "verification_token_lifetime",
                &self.verification_token_lifetime,
            )
            .field("reset_token_lifetime", &self.reset_token_lifetime)
            .field("password_min_chars", &self.password_min_chars)
            .field("password_max_bytes", &self.password_max_bytes)
            .field("password_min_score", &self.password_min_score)
            .field("require_verified", &self.require_verified)
            .field("argon2_running", &self.argon2_running)
            .field("argon2_queued", &self.argon2_queued)
            .field("login_throttle", &self.login_throttle)
            .field("mail_throttle", &self.mail_throttle)
            .finish()
    }
}

/// The machine's available parallelism, at most 4.
fn default_memory_reuse() -> usize {
    available_parallelism().min(4)
}

/// The machine's available parallelism, or 1 if unknown.
fn available_parallelism() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn has_the_documented_defaults() {
        let config = UsersConfig::new(SECRET).unwrap();
        assert_eq!(
            (
                config.argon2_memory_kib(),
                config.argon2_iterations(),
                config.argon2_parallelism()
            ),
            (19_456, 2, 1)
        );
        assert_eq!(config.verification_token_ttl(), Duration::from_secs(86_400));
        assert_eq!(config.reset_token_ttl(), Duration::from_secs(3_600));
        assert_eq!(config.password_min_chars(), 8);
        assert_eq!(config.password_max_bytes(), 4096);
        assert_eq!(config.password_min_score(), 3);
        assert!(!config.requires_verified());
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(config.argon2_memory_reuse, cores.min(4));
        assert_eq!(config.argon2_slots(), (cores, 64));
        assert_eq!(config.login_attempts(), (10, 100));
        assert_eq!(config.mails_per_address(), (10, Duration::from_secs(3600)));
        assert_eq!(config.argon2_memory_reuse(0).argon2_memory_reuse, 0);
    }

    #[test]
    fn rejects_a_short_secret_with_a_clear_message() {
        let error = UsersConfig::new(&SECRET.as_bytes()[..31]).unwrap_err();
        assert!(
            matches!(&error, UsersError::Config(error) if error.setting() == "secret" && error.reason().contains("at least 32"))
        );
        assert!(!error.to_string().contains(&SECRET[..31]));
        assert!(UsersConfig::new(SECRET.as_bytes()).is_ok());
        assert!(UsersConfig::new([7u8; 64]).is_ok());
    }

    #[test]
    fn debug_redacts_the_secret() {
        let debug = format!("{:?}", UsersConfig::new(SECRET).unwrap());
        assert!(debug.contains("[redacted]"));
        assert!(!debug.contains(SECRET));
        assert!(
            !debug.contains("48, 49, 50"),
            "the secret's bytes leaked: {debug}"
        );
    }

    #[test]
    fn builders_set_what_they_say() {
        let config = UsersConfig::new(SECRET)
            .unwrap()
            .argon2_params(64, 3, 4)
            .unwrap()
            .verification_token_lifetime(Duration::from_secs(5))
            .reset_token_lifetime(Duration::from_secs(6))
            .password_length(12, 64)
            .unwrap()
            .password_strength(4)
            .unwrap()
            .require_verified(true);
        assert_eq!(
            (
                config.argon2_memory_kib(),
                config.argon2_iterations(),
                config.argon2_parallelism()
            ),
            (64, 3, 4)
        );
        assert_eq!(config.verification_token_ttl(), Duration::from_secs(5));
        assert_eq!(config.reset_token_ttl(), Duration::from_secs(6));
        assert_eq!(
            (config.password_min_chars(), config.password_max_bytes()),
            (12, 64)
        );
        assert_eq!(config.password_min_score(), 4);
        assert!(config.requires_verified());
    }

    #[test]
    fn rejects_unusable_argon2_parameters() {
        let config = || UsersConfig::new(SECRET).unwrap();
        for (m, t, p) in [
            (7, 1, 1),
            (8, 0, 1),
            (8, 1, 0),
            (15, 1, 2),
            (8, 1, u32::MAX),
        ] {
            assert!(
                matches!(config().argon2_params(m, t, p), Err(UsersError::Config(_))),
                "m={m} t={t} p={p} should be rejected"
            );
        }
    }

    #[test]
    fn rejects_impossible_password_lengths() {
        let config = || UsersConfig::new(SECRET).unwrap();
        assert!(matches!(
            config().password_length(0, 10),
            Err(UsersError::Config(_))
        ));
        assert!(matches!(
            config().password_length(11, 10),
            Err(UsersError::Config(_))
        ));
        assert!(config().password_length(10, 10).is_ok());
    }

    #[test]
    fn password_strength_goes_from_zero_to_four() {
        let config = || UsersConfig::new(SECRET).unwrap();
        for score in 0..=4 {
            assert_eq!(
                config()
                    .password_strength(score)
                    .unwrap()
                    .password_min_score(),
                score
            );
        }
        assert!(matches!(
            config().password_strength(5),
            Err(UsersError::Config(_))
        ));
    }
}
