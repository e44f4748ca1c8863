//! Password hashing with argon2id, and the password length rules.
//!
//! All hashing goes through [`PasswordHasher`], so an async caller can move it, whole, onto a
//! blocking thread pool. No copy of a plaintext password is made: the hasher, the length rules
//! and the hooks all read the caller's `&str`, so there is nothing of ours to wipe; the caller's
//! buffer is the caller's to zeroize. argon2 (with its `zeroize` feature) wipes its initial hash
//! and final block; the hasher owns the memory matrix and wipes it after every run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{self, Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use zeroize::Zeroize as _;

use crate::{Argon2Gate, UsersConfig, UsersError};

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
/// The PHC strings it writes and reads are the `argon2` crate's own, and so is the computation;
/// what the hasher adds is the memory: it fills matrices it keeps for reuse
/// ([`UsersConfig::argon2_memory_reuse`]) and wipes each one after every run.
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
    matrices: Matrices,
    gate: Argon2Gate,
}

impl PasswordHasher {
    /// A hasher with the argon2id costs of `config`.
    pub fn new(config: &UsersConfig) -> Self {
        let params = config.argon2().clone();
        PasswordHasher {
            matrices: Matrices::new(params.block_count(), config.argon2_memory_reuse),
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            dummy_hash: OnceLock::new(),
            runs: AtomicU64::new(0),
            gate: {
                let (running, queued) = config.argon2_slots();
                Argon2Gate::new(running, queued)
            },
        }
    }

    /// How many argon2 verifications this hasher has run, real and dummy: a figure to monitor
    /// login load, and the count by which tests check that every login costs exactly one.
    pub fn verifications(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// The gate the managers pass before each decision that runs argon2: it bounds the runs
    /// going on at once, and the callers waiting for one.
    pub fn gate(&self) -> &Argon2Gate {
        &self.gate
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
        self.hash_with_salt(password, salt.as_salt())
            .map(|hash| hash.to_string())
            .map_err(|error| UsersError::Config(format!("password hashing failed: {error}")))
    }

    /// What `argon2`'s `PasswordHasher::hash_password` makes of `password` and `salt`, computed
    /// in one of our matrices.
    fn hash_with_salt<'a>(
        &self,
        password: &str,
        salt: Salt<'a>,
    ) -> password_hash::Result<PasswordHash<'a>> {
        let params = self.argon2.params();
        let length = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let output = self.run(&self.argon2, password, salt, length)?;
        Ok(PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(params)?,
            salt: Some(salt),
            hash: Some(output),
        })
    }

    /// The argon2 instance, salt and expected output that `hash` names, if it is a hash this
    /// hasher can check: an argon2 variant with valid costs, a salt and an output.
    fn usable<'h>(hash: &PasswordHash<'h>) -> Option<(Argon2<'static>, Salt<'h>, Output)> {
        // argon2 multiplies the lanes by 8 unchecked; an absurd stored value must not reach it.
        if hash
            .params
            .get_decimal("p")
            .is_some_and(|p| p > Params::MAX_P_COST)
        {
            return None;
        }
        let version = hash.version.map(Version::try_from).transpose().ok()?;
        let argon2 = Argon2::new(
            Algorithm::try_from(hash.algorithm).ok()?,
            version.unwrap_or_default(),
            Params::try_from(hash).ok()?,
        );
        Some((argon2, hash.salt?, hash.hash?))
    }

    /// Runs `argon2` over `password` and `salt` into an output of `length` bytes.
    fn run(
        &self,
        argon2: &Argon2<'_>,
        password: &str,
        salt: Salt<'_>,
        length: usize,
    ) -> password_hash::Result<Output> {
        let mut decoded = [0u8; Salt::MAX_LENGTH];
        let salt = salt.decode_b64(&mut decoded)?;
        Output::init_with(length, |out| {
            Ok(self
                .matrices
                .hash_into(argon2, password.as_bytes(), salt, out)?)
        })
    }

    /// Checks `password` against a stored PHC string, and whether that hash is current.
    ///
    /// Any argon2 variant verifies; only argon2id, version 0x13, with this hasher's memory,
    /// iterations and parallelism is current. A hash it cannot check (malformed, empty, of
    /// another algorithm such as an imported bcrypt hash, or a disabled password like `!`) is
    /// `Invalid` after one run at the current costs, as [`dummy_verify`](Self::dummy_verify)
    /// spends it: such accounts take as long to refuse as any other.
    pub fn verify(&self, password: &str, phc: &str) -> PasswordVerification {
        let hash = PasswordHash::new(phc).ok();
        let Some((argon2, salt, expected)) = hash.as_ref().and_then(Self::usable) else {
            self.dummy_verify(password);
            return PasswordVerification::Invalid;
        };
        self.runs.fetch_add(1, Ordering::Relaxed);
        // The outputs are compared in constant time (`Output`'s `PartialEq`), as `argon2`'s
        // `PasswordVerifier` compares them.
        let matches = self
            .run(&argon2, password, salt, expected.len())
            .is_ok_and(|computed| computed == expected);
        if !matches {
            return PasswordVerification::Invalid;
        }
        if hash.as_ref().is_some_and(|hash| self.is_current(hash)) {
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
        } else if !dummy_hash.is_empty() {
            // Empty only if hashing failed (memory ran out): `verify` would come back here.
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

/// argon2's memory matrices: a run at the configured costs takes an idle one or allocates one,
/// and gives it back, wiped, for the next run, as long as fewer than `keep` are idle.
struct Matrices {
    /// The blocks of a matrix at the configured costs; runs at other costs allocate their own.
    blocks: usize,
    keep: usize,
    idle: Mutex<Vec<Box<[Block]>>>,
}

impl Matrices {
    fn new(blocks: usize, keep: usize) -> Self {
        Matrices {
            blocks,
            keep,
            idle: Mutex::new(Vec::with_capacity(keep)),
        }
    }

    /// Runs `argon2` into `out` in a matrix, and wipes the matrix.
    fn hash_into(
        &self,
        argon2: &Argon2<'_>,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> argon2::Result<()> {
        let blocks = argon2.params().block_count();
        let reusable = blocks == self.blocks && self.keep > 0;
        let mut matrix = reusable
            .then(|| self.idle().pop())
            .flatten()
            .unwrap_or_else(|| vec![Block::default(); blocks].into_boxed_slice());
        let result = argon2.hash_password_into_with_memory(password, salt, out, &mut *matrix);
        if reusable {
            // A plain fill (a memset, faster than volatile stores), which the compiler
            // must keep: the matrix may stay reachable, in `idle`.
            matrix.fill(Block::default());
            let mut idle = self.idle();
            if idle.len() < self.keep {
                idle.push(matrix);
            }
        } else {
            // About to be freed, where a plain fill is a dead store: volatile writes.
            matrix.iter_mut().for_each(Block::zeroize);
        }
        result
    }

    /// The idle matrices. A panic elsewhere while the lock was held left them wiped and whole,
    /// so a poisoned lock is taken over.
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Box<[Block]>>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
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
    use argon2::{PasswordHasher as _, PasswordVerifier as _};

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
    fn hashes_and_verifies_as_the_argon2_crate_does() {
        let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0c2FsdA").unwrap();
        let password = "pa55word-pa55word";
        for (m, t, p) in [(8, 1, 1), (64, 2, 1), (96, 3, 2), (256, 1, 4)] {
            let ours = hasher(m, t, p);
            let params = Params::new(m, t, p, None).unwrap();
            let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
            let expected = theirs.hash_password(password.as_bytes(), &salt).unwrap();
            let made = ours.hash_with_salt(password, salt.as_salt()).unwrap();
            assert_eq!(made.to_string(), expected.to_string(), "m={m} t={t} p={p}");

            let fresh = ours.hash(password).unwrap();
            let fresh = PasswordHash::new(&fresh).unwrap();
            assert!(theirs.verify_password(password.as_bytes(), &fresh).is_ok());
            assert!(theirs
                .verify_password(b"pa55word-pa55worD", &fresh)
                .is_err());
        }
        // Their hashes with other output lengths, a key id or associated data verify with ours.
        let mut builder = argon2::ParamsBuilder::new();
        builder.m_cost(64).t_cost(2).p_cost(1).output_len(64);
        let keyid = argon2::KeyId::new(&[1, 2, 3, 4]).unwrap();
        builder
            .keyid(keyid)
            .data(argon2::AssociatedData::new(&[5; 16]).unwrap());
        for params in [
            Params::new(64, 2, 1, Some(16)).unwrap(),
            builder.build().unwrap(),
        ] {
            let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(password.as_bytes(), &salt)
                .unwrap()
                .to_string();
            assert!(hasher(64, 2, 1).verify(password, &phc).is_valid(), "{phc}");
            let wrong = hasher(64, 2, 1).verify("pa55word-pa55wor", &phc);
            assert_eq!(wrong, PasswordVerification::Invalid, "{phc}");
        }
    }

    #[test]
    fn matrices_are_wiped_after_every_run_and_kept_up_to_the_limit() {
        let config = UsersConfig::new([1u8; 32]).unwrap();
        let config = config.argon2_params(64, 1, 1).unwrap();
        let hasher = PasswordHasher::new(&config.clone().argon2_memory_reuse(2));
        // (blocks, wiped) of each idle matrix.
        let idle = |hasher: &PasswordHasher| {
            let idle = hasher.matrices.idle();
            let wiped =
                |matrix: &[Block]| matrix.iter().all(|b| b.as_ref().iter().all(|&w| w == 0));
            idle.iter().map(|m| (m.len(), wiped(m))).collect::<Vec<_>>()
        };
        assert_eq!(idle(&hasher), []);
        let phc = hasher.hash("pa55word-pa55word").unwrap();
        assert_eq!(idle(&hasher), [(64, true)]);
        assert_eq!(
            hasher.verify("pa55word-pa55word", &phc),
            PasswordVerification::Valid
        );
        assert_eq!(
            idle(&hasher),
            [(64, true)],
            "the one idle matrix was reused"
        );

        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| hasher.verify("pa55word-pa55word", &phc)))
                .collect();
            for worker in workers {
                assert_eq!(worker.join().unwrap(), PasswordVerification::Valid);
            }
        });
        let kept = idle(&hasher);
        assert!((1..=2).contains(&kept.len()), "{kept:?}");
        assert!(kept.iter().all(|&matrix| matrix == (64, true)), "{kept:?}");

        // An outdated hash is verified in a matrix of its own size, which is not kept.
        let outdated = self::hasher(32, 1, 1).hash("pa55word-pa55word").unwrap();
        let verification = hasher.verify("pa55word-pa55word", &outdated);
        assert_eq!(verification, PasswordVerification::ValidButOutdated);
        assert_eq!(idle(&hasher), kept);

        let keeps_none = PasswordHasher::new(&config.argon2_memory_reuse(0));
        let phc = keeps_none.hash("pa55word-pa55word").unwrap();
        assert!(keeps_none.verify("pa55word-pa55word", &phc).is_valid());
        assert_eq!(idle(&keeps_none), []);
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
            let runs = hasher.verifications();
            assert_eq!(
                hasher.verify("pa55word-pa55word", phc),
                PasswordVerification::Invalid,
                "{phc:?}"
            );
            // Refusing an unusable hash costs what refusing a wrong password does.
            assert_eq!(hasher.verifications(), runs + 1, "{phc:?}");
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
