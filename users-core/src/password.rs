//! Password hashing with argon2id, and the password rules: length bounds and a strength
//! estimate, whose refusals are a [`PasswordProblem`].
//!
//! All hashing goes through [`PasswordHasher`], so an async caller can move it, whole, onto a
//! blocking thread pool. No copy of a plaintext password is made: the hasher, the length rules,
//! the strength estimate and the hooks all read the caller's `&str`, so there is nothing of ours
//! to wipe (zxcvbn makes its own copy of the estimated prefix, which it does not wipe); the
//! caller's buffer is the caller's to zeroize. argon2 (with its `zeroize` feature) wipes its initial hash
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
            .map_err(|error| {
                UsersError::config("argon2_params", format!("password hashing failed: {error}"))
            })
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

/// Why a new password was refused: the reason of [`UsersError::InvalidPassword`].
///
/// None of the variants holds or quotes the password. Its `Display` is a short sentence for
/// people ("it needs at least 8 characters"); [`code`](Self::code) is a stable name for
/// programs. More variants may come with more rules.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordProblem {
    /// The password has fewer characters (Unicode scalar values) than the configured minimum
    /// ([`UsersConfig::password_length`]).
    TooShort {
        /// The least number of characters a password may have.
        min_chars: usize,
    },
    /// The password has more bytes of UTF-8 than the configured maximum
    /// ([`UsersConfig::password_length`]).
    TooLong {
        /// The most bytes a password may have.
        max_bytes: usize,
    },
    /// The password is too easy to guess: its strength estimate is below the configured score
    /// ([`UsersConfig::password_strength`]).
    TooWeak {
        /// The password's score, from 0 (guessed at once) to 4 (very hard to guess).
        score: u8,
        /// The score the configuration requires.
        required: u8,
        /// What makes the password easy to guess, in English (e.g. "This is a very common
        /// password."), if the estimate can tell; it never quotes the password.
        warning: Option<String>,
        /// How to choose a better one, in English (e.g. "Add another word or two. Uncommon
        /// words are better."); possibly empty.
        suggestions: Vec<String>,
    },
    /// The application's `validate_password` hook ([`UsersHooks`](crate::UsersHooks))
    /// refused the password, for this reason.
    Rejected(String),
}

impl PasswordProblem {
    /// A stable snake_case name of the rule that was broken, for programs: `too_short`,
    /// `too_long`, `too_weak` or `rejected`.
    pub fn code(&self) -> &'static str {
        match self {
            PasswordProblem::TooShort { .. } => "too_short",
            PasswordProblem::TooLong { .. } => "too_long",
            PasswordProblem::TooWeak { .. } => "too_weak",
            PasswordProblem::Rejected(_) => "rejected",
        }
    }
}

impl std::fmt::Display for PasswordProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PasswordProblem::TooShort { min_chars: 1 } => f.write_str("it must not be empty"),
            PasswordProblem::TooShort { min_chars } => {
                write!(f, "it needs at least {min_chars} characters")
            }
            PasswordProblem::TooLong { max_bytes } => {
                write!(f, "it has more than {max_bytes} bytes")
            }
            PasswordProblem::TooWeak {
                score,
                required,
                warning,
                suggestions,
            } => {
                write!(
                    f,
                    "it is too easy to guess (strength {score} of 4, {required} needed)"
                )?;
                match warning {
                    Some(warning) => write!(f, ": {warning}"),
                    None if !suggestions.is_empty() => write!(f, ": {}", suggestions.join(" ")),
                    None => Ok(()),
                }
            }
            PasswordProblem::Rejected(reason) => f.write_str(reason),
        }
    }
}

/// Checks the configured length bounds: at least `min_chars` characters, at most `max_bytes`
/// bytes.
pub(crate) fn check_length(
    password: &str,
    min_chars: usize,
    max_bytes: usize,
) -> Result<(), PasswordProblem> {
    if password.len() > max_bytes {
        return Err(PasswordProblem::TooLong { max_bytes });
    }
    if password.chars().count() < min_chars {
        return Err(PasswordProblem::TooShort { min_chars });
    }
    Ok(())
}

/// How many characters of a password the strength estimate reads.
///
/// zxcvbn tries every substring of its input against its dictionaries and patterns, a cost that
/// grows much faster than the length: a password of 4096 bytes would take a long time to
/// estimate, at every registration a client may send. The first 100 characters are more than a
/// score of 4 needs (10¹⁰ guesses), so the cut makes no strong password weak; a password whose
/// first 100 characters are easy to guess is weak whatever follows, which errs on the safe side.
/// (zxcvbn 3 cuts at 100 characters itself; cutting here keeps the bound whatever it does.)
pub(crate) const ESTIMATED_CHARS: usize = 100;

/// Checks that `password` scores at least `min_score` (0 to 4; 0 checks nothing) in the
/// zxcvbn estimate, with `user_inputs` (the user's email and profile words) counted as words
/// that are easy to guess.
pub(crate) fn check_strength(
    password: &str,
    min_score: u8,
    user_inputs: &[&str],
) -> Result<(), PasswordProblem> {
    if min_score == 0 {
        return Ok(());
    }
    let prefix = match password.char_indices().nth(ESTIMATED_CHARS) {
        Some((end, _)) => &password[..end],
        None => password,
    };
    // An input longer than the prefix can match no part of it.
    let inputs: Vec<&str> = user_inputs
        .iter()
        .copied()
        .filter(|input| !input.is_empty() && input.chars().count() <= ESTIMATED_CHARS)
        .collect();
    let estimate = zxcvbn::zxcvbn(prefix, &inputs);
    let score = u8::from(estimate.score());
    if score >= min_score {
        return Ok(());
    }
    let feedback = estimate.feedback();
    Err(PasswordProblem::TooWeak {
        score,
        required: min_score,
        warning: feedback
            .and_then(zxcvbn::feedback::Feedback::warning)
            .map(|warning| warning.to_string()),
        suggestions: feedback
            .map(|feedback| {
                feedback
                    .suggestions()
                    .iter()
                    .map(ToString::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// The words the strength estimate counts against a user's password, in this order: the
/// whole email address, its local part and the parts of that between dots, dashes, underscores
/// and plus signs, then each profile word whole and split at whitespace. Each once, and at most
/// 64 of them: a long text field must not make every estimate slow.
pub(crate) fn user_inputs<'a>(email: &'a str, profile_words: &[&'a str]) -> Vec<&'a str> {
    const MAX_USER_INPUTS: usize = 64;
    let local = email.rsplit_once('@').map(|(local, _)| local);
    let local_parts = local
        .into_iter()
        .flat_map(|local| local.split(['.', '-', '_', '+']));
    let words = profile_words
        .iter()
        .flat_map(|word| std::iter::once(*word).chain(word.split_whitespace()));
    let mut inputs: Vec<&str> = Vec::new();
    for input in std::iter::once(email)
        .chain(local)
        .chain(local_parts)
        .chain(words)
    {
        if inputs.len() == MAX_USER_INPUTS {
            break;
        }
        if !input.trim().is_empty() && !inputs.contains(&input) {
            inputs.push(input);
        }
    }
    inputs
}

#[cfg(test)]
mod tests;
