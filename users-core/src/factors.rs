//! Second factors: TOTP (RFC 6238) and recovery codes, and what a login with a second factor
//! needs between its password and its session.
//!
//! A user's factors are one row ([`SecondFactorRecord`]) in the table of the user model's
//! [`UserModel::SecondFactors`](crate::UserModel::SecondFactors) store
//! (`users_diesel::SecondFactors<User>`, the `users_second_factors` table):
//!
//! - the TOTP secret, sealed with XChaCha20-Poly1305 (the `chacha20poly1305` crate) under a key
//!   derived from the application secret with HKDF-SHA256 and bound to the user's id, so a copy
//!   of the table yields no secret and a sealed secret moved to another user does not open;
//! - whether the TOTP was confirmed (a first valid code), since only then is it enforced;
//! - the last time step a code was accepted for, so each code works once (RFC 6238 §5.2);
//! - the SHA-256 digests of the unused recovery codes, never the codes;
//! - a version, changed by every write in one conditional `UPDATE … WHERE version = …`, so two
//!   uses of one code or one recovery code cannot both succeed, and a "second factor pending"
//!   token ([`TokenPurpose::SecondFactor`](crate::TokenPurpose::SecondFactor)), which carries
//!   the version it was issued at, works once.
//!
//! Codes are checked with `totp-rs` (SHA-1, 6 digits, 30-second steps, one step of clock skew
//! either way), the authenticator apps' common denominator.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use totp_rs::{Builder, Secret, Totp};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{UsersConfig, UsersError};
use users_derive::store_trait;

/// How many recovery codes a user gets.
pub const RECOVERY_CODES: usize = 10;
/// How long a "second factor pending" token lasts: five minutes.
pub const SECOND_FACTOR_TOKEN_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// The bytes of a TOTP secret: 160 bits, as RFC 4226 recommends.
const TOTP_SECRET_BYTES: usize = 20;
const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 24;
const HKDF_SALT: &[u8] = b"users-core sealed secrets v1";

/// A user's second factors, as their row holds them.
#[derive(Clone, PartialEq, Eq)]
pub struct SecondFactorRecord {
    /// The user's id.
    pub user_id: Uuid,
    /// Changed by every write; a write succeeds only over the version it read.
    pub version: i64,
    /// The TOTP secret, sealed (see the module docs), if the user enrolled one.
    pub totp_secret: Option<String>,
    /// Whether a first valid code confirmed the TOTP: only then is it asked for at login.
    pub totp_confirmed: bool,
    /// The last time step (Unix time / 30 s) a code was accepted for.
    pub totp_last_step: i64,
    /// The digests of the unused recovery codes, separated by spaces.
    pub recovery_codes: String,
}

impl std::fmt::Debug for SecondFactorRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactorRecord")
            .field("user_id", &self.user_id)
            .field("version", &self.version)
            .field("totp", &self.totp_secret.as_ref().map(|_| "sealed"))
            .field("totp_confirmed", &self.totp_confirmed)
            .field("recovery_codes_left", &self.recovery_codes_left())
            .finish()
    }
}

impl SecondFactorRecord {
    /// A user's record before any factor.
    pub fn empty(user_id: Uuid) -> Self {
        SecondFactorRecord {
            user_id,
            version: 0,
            totp_secret: None,
            totp_confirmed: false,
            totp_last_step: 0,
            recovery_codes: String::new(),
        }
    }

    /// Whether the user has a confirmed TOTP, which a login then asks for.
    pub fn has_totp(&self) -> bool {
        self.totp_secret.is_some() && self.totp_confirmed
    }

    /// How many recovery codes are left unused.
    pub fn recovery_codes_left(&self) -> usize {
        self.recovery_codes.split_whitespace().count()
    }

    /// The ways this user can complete a login, in the order a client should offer them.
    pub fn methods(&self) -> Vec<SecondFactorMethod> {
        let mut methods = Vec::new();
        if self.has_totp() {
            methods.push(SecondFactorMethod::Totp);
        }
        if self.has_totp() && self.recovery_codes_left() > 0 {
            methods.push(SecondFactorMethod::RecoveryCode);
        }
        methods
    }

    /// The record after a write: the same, one version on.
    pub(crate) fn next(&self) -> Self {
        SecondFactorRecord {
            version: self.version.wrapping_add(1),
            ..self.clone()
        }
    }
}

/// A passkey (WebAuthn credential) of a user, as its row holds it. The credential itself is
/// the web side's (users-axum's `webauthn-rs` `Passkey`, as JSON); the core only stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyRecord {
    /// The passkey's id.
    pub id: Uuid,
    /// The user's id.
    pub user_id: Uuid,
    /// The credential id, base64url: unique across all users.
    pub credential_id: String,
    /// The credential (public key, counter, …), serialized by the web side.
    pub credential: String,
    /// A name the user gave it ("laptop", "phone").
    pub name: Option<String>,
    /// When it was registered.
    pub created_at: SystemTime,
    /// When it last signed a login.
    pub last_used_at: Option<SystemTime>,
}

/// A way to complete a login.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecondFactorMethod {
    /// A code of the user's authenticator app.
    Totp,
    /// One of the user's recovery codes, once.
    RecoveryCode,
    /// One of the user's passkeys (users-axum's `passkeys` feature).
    Passkey,
}

impl SecondFactorMethod {
    /// The method's name in APIs: `totp`, `recovery_code`.
    pub fn as_str(self) -> &'static str {
        match self {
            SecondFactorMethod::Totp => "totp",
            SecondFactorMethod::RecoveryCode => "recovery_code",
            SecondFactorMethod::Passkey => "passkey",
        }
    }
}

/// What completes a login, or proves the user is present before a change to their factors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondFactorProof<'a> {
    /// A TOTP code (six digits; spaces are ignored).
    Totp(&'a str),
    /// A recovery code (case and dashes are ignored).
    RecoveryCode(&'a str),
}

/// A login that needs its second factor: the token that completes it, and how.
#[derive(Clone, PartialEq, Eq)]
pub struct SecondFactorChallenge {
    /// The "second factor pending" token: single-use, five minutes, no session.
    pub token: String,
    /// The methods the user can complete it with.
    pub methods: Vec<SecondFactorMethod>,
}

impl std::fmt::Debug for SecondFactorChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactorChallenge")
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

/// A TOTP enrolment, to show the user once: the secret for their authenticator app, as
/// base32 and as an `otpauth://` URI (what a QR code holds). It is enforced only once a first
/// code confirms it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpEnrollment {
    /// The secret, base32 (what a user types in by hand).
    pub secret: String,
    /// The `otpauth://totp/…` URI of the secret, the issuer and the account.
    pub otpauth_uri: String,
}

impl std::fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrollment").finish_non_exhaustive()
    }
}

impl TotpEnrollment {
    /// The URI as a QR code, an SVG image (feature `qr`).
    ///
    /// # Errors
    ///
    /// [`UsersError::Config`] if the URI is too long for a QR code, which an enrolment's never is.
    #[cfg(feature = "qr")]
    pub fn qr_svg(&self) -> Result<String, UsersError> {
        let code = qrcode::QrCode::new(self.otpauth_uri.as_bytes()).map_err(|error| {
            UsersError::config("qr", format!("no QR code for the URI: {error}"))
        })?;
        Ok(code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build())
    }
}

/// Seals and opens small secrets with XChaCha20-Poly1305 under a key derived from the
/// application secret (HKDF-SHA256), and opens those sealed under the previous secrets of
/// [`UsersConfig::previous_secrets`]: the TOTP secrets, and what a web front end must hand a
/// client without letting it read or change it (users-axum's passkey ceremony state). Each
/// sealed value is bound to a `context` (associated data) that opening must name again.
///
/// ```
/// use users_core::{Sealer, UsersConfig};
///
/// let sealer = Sealer::new(&UsersConfig::new([7u8; 32])?);
/// let sealed = sealer.seal(b"ceremony for alice", b"the state");
/// assert_eq!(&sealer.open(b"ceremony for alice", &sealed)?[..], b"the state");
/// assert!(sealer.open(b"ceremony for bob", &sealed).is_err());
/// # Ok::<(), users_core::UsersError>(())
/// ```
#[derive(Clone)]
pub struct Sealer {
    /// The current secret's key first; each with its id.
    keys: Vec<([u8; KEY_ID_LEN], Zeroizing<[u8; 32]>)>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").finish_non_exhaustive()
    }
}

impl Sealer {
    /// A box with the keys of `config`'s secret and previous secrets.
    pub fn new(config: &UsersConfig) -> Self {
        let secrets = std::iter::once(config.secret()).chain(config.retired_secrets());
        let keys = secrets
            .map(|secret| {
                let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), secret);
                let mut id = [0u8; KEY_ID_LEN];
                hkdf.expand(b"key id", &mut id)
                    .expect("4 bytes is a valid HKDF-SHA256 length");
                let mut key = Zeroizing::new([0u8; 32]);
                hkdf.expand(b"sealed secrets", key.as_mut())
                    .expect("32 bytes is a valid HKDF-SHA256 length");
                (id, key)
            })
            .collect();
        Sealer { keys }
    }

    /// `plain` sealed for `context`: key id, random nonce and ciphertext, base64url.
    pub fn seal(&self, context: &[u8], plain: &[u8]) -> String {
        let (id, key) = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        let payload = Payload {
            msg: plain,
            aad: context,
        };
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .expect("XChaCha20-Poly1305 seals any length a TOTP secret has");
        let mut bytes = Vec::with_capacity(KEY_ID_LEN + NONCE_LEN + sealed.len());
        bytes.extend_from_slice(id);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// What `seal` sealed for `context`.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`] if it does not open: sealed under a secret that is no
    /// longer configured, for another context, or altered.
    pub fn open(&self, context: &[u8], sealed: &str) -> Result<Zeroizing<Vec<u8>>, UsersError> {
        let refused = || UsersError::InvalidToken;
        let bytes = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| refused())?;
        if bytes.len() < KEY_ID_LEN + NONCE_LEN {
            return Err(refused());
        }
        let (id, rest) = bytes.split_at(KEY_ID_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let (_, key) = self
            .keys
            .iter()
            .find(|(key_id, _)| key_id[..] == *id)
            .ok_or_else(refused)?;
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        let payload = Payload {
            msg: sealed,
            aad: context,
        };
        cipher
            .decrypt(XNonce::from_slice(nonce), payload)
            .map(Zeroizing::new)
            .map_err(|_| refused())
    }
}

/// What a TOTP secret is sealed for: its user.
fn totp_context(user_id: Uuid) -> Vec<u8> {
    [b"totp secret of ".as_slice(), user_id.as_bytes()].concat()
}

/// A TOTP of `secret` for the account `account` of `issuer`.
fn totp(secret: &[u8], account: &str, issuer: &str) -> Result<Totp, UsersError> {
    // The otpauth URI's label is `issuer:account`; neither may hold a colon.
    let clean = |text: &str| text.replace(':', " ");
    Builder::new()
        .with_secret(Secret::new(secret.into()))
        .with_account_name(clean(account))
        .with_issuer(Some(clean(issuer)))
        .build()
        .map_err(|error| UsersError::config("totp", format!("a TOTP cannot be made: {error}")))
}

fn unix_seconds(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// A new TOTP secret for `user_id`: the enrolment to show, and the secret sealed.
pub(crate) fn new_totp(
    sealer: &Sealer,
    user_id: Uuid,
    account: &str,
    issuer: &str,
) -> Result<(TotpEnrollment, String), UsersError> {
    let mut secret = Zeroizing::new([0u8; TOTP_SECRET_BYTES]);
    OsRng.fill_bytes(secret.as_mut());
    let totp = totp(secret.as_ref(), account, issuer)?;
    let otpauth_uri = totp
        .to_url()
        .map_err(|error| UsersError::config("totp", format!("no otpauth URI: {error}")))?;
    let enrollment = TotpEnrollment {
        secret: totp.secret().to_base32(),
        otpauth_uri,
    };
    Ok((
        enrollment,
        sealer.seal(&totp_context(user_id), secret.as_ref()),
    ))
}

/// The time step a TOTP code is valid for at `now` (within one step either way), if it is
/// valid and newer than the last accepted one.
///
/// # Errors
///
/// [`UsersError::InvalidCredentials`] for a wrong or replayed code, or a record without a TOTP;
/// [`UsersError::Config`] if the secret does not open.
pub(crate) fn check_totp(
    sealer: &Sealer,
    record: &SecondFactorRecord,
    code: &str,
    now: SystemTime,
) -> Result<i64, UsersError> {
    let sealed = record
        .totp_secret
        .as_deref()
        .ok_or(UsersError::InvalidCredentials)?;
    // A secret that does not open is the configuration's fault (a secret dropped from
    // `previous_secrets`), not the user's.
    let secret = sealer
        .open(&totp_context(record.user_id), sealed)
        .map_err(|_| {
            UsersError::config(
                "previous_secrets",
                "a sealed TOTP secret does not open: sealed under a secret no longer configured, \
                 for another user, or altered"
                    .to_owned(),
            )
        })?;
    let totp = totp(&secret, "user", "users")?;
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let step = totp
        .check(&code, unix_seconds(now))
        .and_then(|step| i64::try_from(step).ok())
        .ok_or(UsersError::InvalidCredentials)?;
    // A code works once: a step at or before the last accepted one is a replay.
    if step <= record.totp_last_step {
        return Err(UsersError::InvalidCredentials);
    }
    Ok(step)
}

/// The current TOTP code of a base32 secret at `now`: what an authenticator app shows. For
/// tests and tools; the manager never needs it.
///
/// # Errors
///
/// [`UsersError::InvalidToken`] for a secret that is not base32.
pub fn totp_code(secret_base32: &str, now: SystemTime) -> Result<String, UsersError> {
    let secret = Secret::try_from_base32(secret_base32).map_err(|_| UsersError::InvalidToken)?;
    let totp = totp(secret.as_bytes(), "user", "users")?;
    Ok(totp.generate(unix_seconds(now)).to_string())
}

/// A recovery code as stored: its SHA-256 digest, base64url, of the code without dashes, in
/// lower case. Codes carry 50 random bits, tried at most a handful of times under the login
/// throttle, so a plain digest suffices.
fn recovery_digest(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    URL_SAFE_NO_PAD.encode(Sha256::digest(normal.as_bytes()))
}

/// Ten new recovery codes (`xxxxx-xxxxx`, base32 letters and digits) and their digests as a
/// record holds them.
pub(crate) fn new_recovery_codes() -> (Vec<String>, String) {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 10];
            OsRng.fill_bytes(&mut bytes);
            let chars: String = bytes
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect();
    let digests = codes
        .iter()
        .map(|code| recovery_digest(code))
        .collect::<Vec<_>>()
        .join(" ");
    (codes, digests)
}

/// The record's recovery digests without the one of `code`, if `code` is one of them.
///
/// # Errors
///
/// [`UsersError::InvalidCredentials`] if it is not.
pub(crate) fn use_recovery_code(
    record: &SecondFactorRecord,
    code: &str,
) -> Result<String, UsersError> {
    let digest = recovery_digest(code);
    let mut found = false;
    let mut left = Vec::new();
    for stored in record.recovery_codes.split_whitespace() {
        // Every digest is compared, in constant time, whether or not one matched already.
        let same: bool = stored.as_bytes().ct_eq(digest.as_bytes()).into();
        if same && !found {
            found = true;
        } else {
            left.push(stored);
        }
    }
    if found {
        Ok(left.join(" "))
    } else {
        Err(UsersError::InvalidCredentials)
    }
}

/// What proving a factor does to a record, when the proof holds: the record to write (one
/// version on), and the recovery codes left if a recovery code was used.
pub(crate) struct ProvedFactor {
    pub(crate) record: SecondFactorRecord,
    pub(crate) recovery_codes_left: Option<usize>,
}

/// Checks `proof` against `record` at `now`: a TOTP code newer than the last accepted one, or
/// an unused recovery code; the record as it must be written if it holds.
///
/// # Errors
///
/// [`UsersError::InvalidCredentials`] for a wrong, replayed or used code, or a user without a
/// confirmed TOTP.
pub(crate) fn prove(
    sealer: &Sealer,
    record: &SecondFactorRecord,
    proof: SecondFactorProof<'_>,
    now: SystemTime,
) -> Result<ProvedFactor, UsersError> {
    if !record.has_totp() {
        return Err(UsersError::InvalidCredentials);
    }
    let mut next = record.next();
    let recovery_codes_left = match proof {
        SecondFactorProof::Totp(code) => {
            next.totp_last_step = check_totp(sealer, record, code, now)?;
            None
        }
        SecondFactorProof::RecoveryCode(code) => {
            next.recovery_codes = use_recovery_code(record, code)?;
            Some(next.recovery_codes_left())
        }
    };
    Ok(ProvedFactor {
        record: next,
        recovery_codes_left,
    })
}

#[store_trait(
    /// The async twin of [`SecondFactorStore`], over async connections of type `C`.
    #[cfg(feature = "async")]
    #[diagnostic::on_unimplemented(
        message = "`{Self}` stores no second factors over async connections of type `{C}`",
        label = "not an async connection of an enabled backend",
        note = "pass `&mut` an AsyncPgConnection, AsyncMysqlConnection or AsyncSqliteConnection \
                (users_diesel::asynchronous) of an enabled backend, with users-diesel's `async` \
                feature on; for a pooled connection write `&mut *conn`"
    )]
    pub trait AsyncSecondFactorStore<C: Send> {},
    unstored: crate::NoStore => crate::sessions::no_store()
)]
/// Storage of the second factors of one user model over connections of type `C`: the
/// [`UserModel::SecondFactors`](crate::UserModel::SecondFactors) of a `#[user_model]`
/// (`users_diesel::SecondFactors<User>`) implements it for each enabled backend.
#[diagnostic::on_unimplemented(
    message = "`{Self}` stores no second factors over connections of type `{C}`",
    label = "not a connection of an enabled backend",
    note = "pass `&mut` a SqliteConnection, PgConnection or MysqlConnection whose backend feature \
            of users-diesel is enabled; for a pooled connection write `&mut *conn`"
)]
pub trait SecondFactorStore<C> {
    /// Loads the user's record, if they have one.
    fn find_factors(conn: &mut C, user_id: Uuid) -> Result<Option<SecondFactorRecord>, UsersError>;

    /// Stores a user's first record.
    fn insert_factors(conn: &mut C, record: &SecondFactorRecord) -> Result<(), UsersError>;

    /// Writes `record` over the user's row, in one statement that changes it only if
    /// its version is still `expected`; `false` if it was not (another write won).
    fn update_factors(
        conn: &mut C,
        record: &SecondFactorRecord,
        expected: i64,
    ) -> Result<bool, UsersError>;

    /// The user's passkeys, oldest first.
    fn passkeys_of(conn: &mut C, user_id: Uuid) -> Result<Vec<PasskeyRecord>, UsersError>;

    /// Stores a new passkey.
    fn insert_passkey(conn: &mut C, passkey: &PasskeyRecord) -> Result<(), UsersError>;

    /// Writes a passkey's credential (its signature counter moved) and when it was used.
    fn update_passkey(conn: &mut C, passkey: &PasskeyRecord) -> Result<(), UsersError>;

    /// Deletes the passkey `id` of the user `user_id`; `false` if they have none such.
    fn delete_passkey(conn: &mut C, user_id: Uuid, id: Uuid) -> Result<bool, UsersError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(secret: u8) -> Sealer {
        Sealer::new(&UsersConfig::new([secret; 32]).unwrap())
    }

    #[test]
    fn a_sealed_secret_opens_for_its_user_under_its_key_only() {
        let (alice, bob) = (totp_context(Uuid::now_v7()), totp_context(Uuid::now_v7()));
        let sealed = sealer(1).seal(&alice, b"twenty bytes secret!");
        assert_eq!(
            &sealer(1).open(&alice, &sealed).unwrap()[..],
            b"twenty bytes secret!"
        );
        assert!(sealer(1).open(&bob, &sealed).is_err());
        assert!(sealer(2).open(&alice, &sealed).is_err());
        // Under a rotated secret, the previous one still opens it.
        let rotated = UsersConfig::new([2u8; 32])
            .unwrap()
            .previous_secrets([[1u8; 32]])
            .unwrap();
        assert!(Sealer::new(&rotated).open(&alice, &sealed).is_ok());
        // Every altered character is refused.
        for at in 0..sealed.len() {
            let mut altered = sealed.clone().into_bytes();
            altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(altered).unwrap();
            assert!(sealer(1).open(&alice, &altered).is_err(), "{at}");
        }
    }

    #[test]
    fn a_code_works_once_within_one_step_of_skew() {
        let user = Uuid::now_v7();
        let box_ = sealer(1);
        let (enrollment, sealed) = new_totp(&box_, user, "alice@example.com", "Example").unwrap();
        assert!(enrollment
            .otpauth_uri
            .starts_with("otpauth://totp/Example:alice"));
        let mut record = SecondFactorRecord::empty(user);
        record.totp_secret = Some(sealed);
        let now = SystemTime::now();
        let code = totp_code(&enrollment.secret, now).unwrap();
        let step = check_totp(&box_, &record, &code, now).unwrap();
        // The previous and next steps' codes pass; two steps away does not.
        for (offset, passes) in [(-30i64, true), (30, true), (-60, false), (60, false)] {
            let then = if offset < 0 {
                now - Duration::from_secs(offset.unsigned_abs())
            } else {
                now + Duration::from_secs(offset.unsigned_abs())
            };
            let skewed = totp_code(&enrollment.secret, then).unwrap();
            assert_eq!(
                check_totp(&box_, &record, &skewed, now).is_ok(),
                passes,
                "{offset}"
            );
        }
        // Once step `step` was accepted, its code (and any earlier) is a replay.
        record.totp_last_step = step;
        assert!(matches!(
            check_totp(&box_, &record, &code, now),
            Err(UsersError::InvalidCredentials)
        ));
        assert!(check_totp(&box_, &record, "000000x", now).is_err());
    }

    #[cfg(feature = "qr")]
    #[test]
    fn an_enrolment_draws_its_uri_as_an_svg_qr_code() {
        let (enrollment, _) = new_totp(&sealer(1), Uuid::now_v7(), "a@example.com", "X").unwrap();
        let svg = enrollment.qr_svg().unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
        assert!(svg.matches("<path").count() + svg.matches("<rect").count() > 0);
    }

    #[test]
    fn a_recovery_code_works_once_whatever_its_case_and_dashes() {
        let (codes, digests) = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut record = SecondFactorRecord::empty(Uuid::now_v7());
        record.recovery_codes = digests;
        let typed = codes[3].to_uppercase().replace('-', "");
        record.recovery_codes = use_recovery_code(&record, &typed).unwrap();
        assert_eq!(record.recovery_codes_left(), RECOVERY_CODES - 1);
        assert!(use_recovery_code(&record, &codes[3]).is_err());
        assert!(use_recovery_code(&record, "aaaaa-aaaaa").is_err());
        assert!(!record.recovery_codes.contains(&recovery_digest(&codes[3])));
    }
}
