//! Password hashing with argon2id, and the password length rules.
//!
//! All hashing goes through [`PasswordHasher`], so an async caller can move it, whole, onto a
//! blocking thread pool. No copy of a plaintext password is made: the hasher, the length rules
//! and the hooks all read the caller's `&str`, so there is nothing of ours to wipe; the caller's
//! buffer is the caller's to zeroize. argon2 (with its `zeroize` feature) wipes its initial hash
//! and final block, but not its memory matrix.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::{UsersConfig, UsersError};

/// What [`PasswordHasher::verify`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum PasswordVerification {
    /// The password does not match, or the stored hash is malformed or of an unknown algorithm.
    Invalid,
    /// The password matches a hash made with the current parameters.
    Valid,
    /// The password matches, but the hash was made with another algorithm, version or costs;
    /// it should be replaced by a fresh [`PasswordHasher::hash`].
    ValidButOutdated,
}

impl PasswordVerification {
    /// Whether the password matched, outdated hash or not.
    pub fn is_valid(self) -> bool {
        self != PasswordVerification::Invalid
    }
}

/// Hashes and verifies passwords with argon2id at the configured costs.
///
/// ```
/// use users_core::{PasswordHasher, PasswordVerification, UsersConfig};
///
/// let config = UsersConfig::new([42u8; 32])?.argon2_params(8, 1, 1)?;
/// let hasher = PasswordHasher::new(&config);
/// let phc = hasher.hash("correct horse battery staple")?;
/// assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
/// assert_eq!(hasher.verify("correct horse battery staple", &phc), PasswordVerification::Valid);
/// assert_eq!(hasher.verify("wrong", &phc), PasswordVerification::Invalid);
/// # Ok::<(), users_core::UsersError>(())
/// ```
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    dummy_hash: OnceLock<String>,
    runs: AtomicU64,
}

impl PasswordHasher {
    /// A hasher with the argon2id costs of `config`.
    pub fn new(config: &UsersConfig) -> Self {
        PasswordHasher {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, config.argon2().clone()),
            dummy_hash: OnceLock::new(),
            runs: AtomicU64::new(0),
        }
    }

    /// How many argon2 verifications this hasher has run, real and dummy: a figure to monitor
    /// login load, and the count by which tests check that every login costs exactly one.
    pub fn verifications(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// Hashes `password` with a fresh random salt from the operating system, as a PHC string
    /// (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
    ///
    /// # Errors
    ///
    /// [`UsersError::Config`] if argon2 fails, which valid parameters only do when memory runs
    /// out.
    pub fn hash(&self, password: &str) -> Result<String, UsersError> {
        let salt = SaltString::generate(&mut OsRng);
        self.argon2
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|error| UsersError::Config(format!("password hashing failed: {error}")))
    }

    /// Checks `password` against a stored PHC string, and whether that hash is current.
    ///
    /// Any argon2 variant verifies; only argon2id, version 0x13, with this hasher's memory,
    /// iterations and parallelism is current. A malformed hash is `Invalid`.
    pub fn verify(&self, password: &str, phc: &str) -> PasswordVerification {
        let Ok(hash) = PasswordHash::new(phc) else {
            return PasswordVerification::Invalid;
        };
        // argon2 multiplies the lanes by 8 unchecked; an absurd stored value must not reach it.
        if hash
            .params
            .get_decimal("p")
            .is_some_and(|p| p > Params::MAX_P_COST)
        {
            return PasswordVerification::Invalid;
        }
        self.runs.fetch_add(1, Ordering::Relaxed);
        if self
            .argon2
            .verify_password(password.as_bytes(), &hash)
            .is_err()
        {
            return PasswordVerification::Invalid;
        }
        if self.is_current(&hash) {
            PasswordVerification::Valid
        } else {
            PasswordVerification::ValidButOutdated
        }
    }

    /// Spends the time of one [`verify`](Self::verify) on a password that belongs to nobody, so
    /// that a login for an unknown email takes as long as one with a wrong password.
    ///
    /// The hash it verifies against is made once, with the current costs, on the first call.
    pub fn dummy_verify(&self, password: &str) {
        let mut made_now = false;
        let dummy_hash = self.dummy_hash.get_or_init(|| {
            made_now = true;
            self.hash("a password nobody has").unwrap_or_default()
        });
        // Making the hash cost exactly one argon2 run already; a verify would double it.
        if made_now {
            self.runs.fetch_add(1, Ordering::Relaxed);
        } else {
            let _ = self.verify(password, dummy_hash);
        }
    }

    fn is_current(&self, hash: &PasswordHash<'_>) -> bool {
        let current = self.argon2.params();
        hash.algorithm == Algorithm::Argon2id.ident()
            && hash.version == Some(Version::V0x13.into())
            && Params::try_from(hash).is_ok_and(|stored| {
                (stored.m_cost(), stored.t_cost(), stored.p_cost())
                    == (current.m_cost(), current.t_cost(), current.p_cost())
            })
    }
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", self.argon2.params())
            .finish_non_exhaustive()
    }
}

/// Checks the configured length bounds: at least `min_chars` characters, at most `max_bytes`
/// bytes. The reason never quotes the password.
pub(crate) fn check_length(
    password: &str,
    min_chars: usize,
    max_bytes: usize,
) -> Result<(), UsersError> {
    if password.len() > max_bytes {
        return Err(UsersError::InvalidPassword(format!(
            "it is longer than {max_bytes} bytes"
        )));
    }
    if password.chars().count() < min_chars {
        return Err(UsersError::InvalidPassword(format!(
            "it is shorter than {min_chars} characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(m: u32, t: u32, p: u32) -> PasswordHasher {
        let config = UsersConfig::new([1u8; 32])
            .unwrap()
            .argon2_params(m, t, p)
            .unwrap();
        PasswordHasher::new(&config)
    }

    #[test]
    fn hashes_are_salted_argon2id_phc_strings() {
        let hasher = hasher(8, 1, 1);
        let first = hasher.hash("hunter2hunter2").unwrap();
        let second = hasher.hash("hunter2hunter2").unwrap();
        assert!(first.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{first}");
        assert_ne!(first, second, "each hash has its own salt");
        assert_eq!(
            hasher.verify("hunter2hunter2", &first),
            PasswordVerification::Valid
        );
        assert_eq!(
            hasher.verify("hunter2hunter3", &first),
            PasswordVerification::Invalid
        );
    }

    #[test]
    fn other_costs_or_variants_verify_as_outdated() {
        let old = hasher(8, 1, 1).hash("pa55word-pa55word").unwrap();
        for current in [hasher(16, 1, 1), hasher(8, 2, 1), hasher(16, 1, 2)] {
            assert_eq!(
                current.verify("pa55word-pa55word", &old),
                PasswordVerification::ValidButOutdated
            );
            assert_eq!(current.verify("wrong", &old), PasswordVerification::Invalid);
        }
        let params = Params::new(8, 1, 1, None).unwrap();
        let salt = SaltString::generate(&mut OsRng);
        for (algorithm, version) in [
            (Algorithm::Argon2i, Version::V0x13),
            (Algorithm::Argon2d, Version::V0x13),
            (Algorithm::Argon2id, Version::V0x10),
        ] {
            let phc = Argon2::new(algorithm, version, params.clone())
                .hash_password(b"pa55word-pa55word", &salt)
                .unwrap()
                .to_string();
            assert_eq!(
                hasher(8, 1, 1).verify("pa55word-pa55word", &phc),
                PasswordVerification::ValidButOutdated,
                "{phc}"
            );
        }
    }

    #[test]
    fn malformed_hashes_are_invalid_without_panicking() {
        let hasher = hasher(8, 1, 1);
        let good = hasher.hash("pa55word-pa55word").unwrap();
        let malformed = [
            String::new(),
            "not a hash".to_owned(),
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW".to_owned(),
            "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaGhhc2g".to_owned(),
            "$argon2id$v=19$m=8,t=1,p=4294967295$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
            "$argon2id$v=19$m=8,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
            "$argon2id$v=19$m=8,t=1,p=1,x=3$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
            "$argon2id$v=99$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ".to_owned(),
            good[..good.len() - 3].to_owned(),
            good.replace("$argon2id$", "$argon2xx$"),
        ];
        for phc in &malformed {
            assert_eq!(
                hasher.verify("pa55word-pa55word", phc),
                PasswordVerification::Invalid,
                "{phc:?}"
            );
        }
    }

    #[test]
    fn the_dummy_hash_is_made_once_with_the_current_costs() {
        let hasher = hasher(16, 2, 1);
        assert!(hasher.dummy_hash.get().is_none());
        hasher.dummy_verify("whatever");
        let dummy = hasher.dummy_hash.get().cloned().unwrap();
        assert!(dummy.starts_with("$argon2id$v=19$m=16,t=2,p=1$"), "{dummy}");
        hasher.dummy_verify("something else");
        assert_eq!(hasher.dummy_hash.get(), Some(&dummy));
    }

    #[test]
    fn length_rules_count_characters_below_and_bytes_above() {
        assert!(check_length("1234567", 8, 4096).is_err());
        assert!(check_length("12345678", 8, 4096).is_ok());
        // Seven two-byte characters are fourteen bytes but still seven characters.
        assert!(check_length(&"é".repeat(7), 8, 4096).is_err());
        assert!(check_length(&"é".repeat(8), 8, 4096).is_ok());
        assert!(check_length(&"a".repeat(4096), 8, 4096).is_ok());
        assert!(check_length(&"a".repeat(4097), 8, 4096).is_err());
        assert!(check_length(&"é".repeat(2048), 8, 4096).is_ok());
        assert!(check_length(&"€".repeat(1366), 8, 4096).is_err());
    }

    #[test]
    fn length_errors_name_the_rule_not_the_password() {
        let error = check_length("s3cr!", 8, 4096).unwrap_err();
        assert!(
            matches!(&error, UsersError::InvalidPassword(reason) if reason.contains("8 characters"))
        );
        assert!(!error.to_string().contains("s3cr!"));
        let long = "x".repeat(40);
        let error = check_length(&long, 8, 32).unwrap_err();
        assert!(error.to_string().contains("32 bytes"));
        assert!(!error.to_string().contains(&long));
    }
}
