//! Signed tokens for email verification, email changes, password reset and login sessions,
//! with HMAC-SHA256 under keys derived per purpose (HKDF-SHA256) from the configured secret.
//!
//! A token is self-contained: nothing is stored for it. It carries the id of the key that
//! signed it, its purpose, the user id, a unique token id, an expiry, a *binding* (a keyed
//! digest of the user's state that the token must still match), and, for an email change, the
//! new address. Checking happens in two steps so that the caller can load the user in between:
//! [`TokenSigner::open`] checks signature, purpose and expiry and yields the user id, then
//! [`TokenSigner::check_user`] compares the binding against the loaded user.
//!
//! What each purpose is bound to, and so what kills it:
//!
//! | purpose | bound to | dies when |
//! |---|---|---|
//! | verification, email change | email and password hash | the email or the password hash changes (an email change request re-salts the hash) |
//! | password reset | email and password hash | the same: a reset is single-use, and dead after an email change |
//! | session | password hash | the password hash changes: a password change, reset or email change ends every session |
//! | refresh | password hash | the same; a stored session also retires each refresh token as it swaps it for the next |
//!
//! Keys: each purpose has its own MAC key and binding key, derived with HKDF-SHA256 from the
//! secret, so a token or digest of one purpose is useless for another. The key id (derived
//! too) lets [`UsersConfig::previous_secrets`] keep retired secrets' tokens valid while new
//! ones are signed with the current secret. The token id lets an application revoke one token
//! alone (a logout) by remembering it until [`OpenedToken::expires_at`].

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{UserModel, UsersConfig, UsersError, MAX_EMAIL_BYTES};

type HmacSha256 = Hmac<Sha256>;

const FORMAT_VERSION: u8 = 3;
const DIGEST_LEN: usize = 32;
const KEY_ID_LEN: usize = 4;
/// Version, key id, purpose, user id, token id, expiry (big-endian unix seconds), binding;
/// then, for an email change, the new address's length (one byte) and bytes; then the MAC.
const FIXED_LEN: usize = 1 + KEY_ID_LEN + 1 + 16 + 16 + 8 + DIGEST_LEN;
/// The longest token, in bytes (an email change's, with the longest address) and in base64
/// characters: what `open` decodes at most, into a buffer on the stack.
const MAX_TOKEN_BYTES: usize = FIXED_LEN + 1 + MAX_EMAIL_BYTES + DIGEST_LEN;
const MAX_TOKEN_CHARS: usize = MAX_TOKEN_BYTES.div_ceil(3) * 4;
const HKDF_SALT: &[u8] = b"users-core token keys v3";

/// What a token may be used for; a token of one purpose is useless for the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    /// Proves the ownership of the user's current email address.
    Verification,
    /// Allows setting a new password without the current one, once.
    PasswordReset,
    /// Proves a login, until it expires or the user's password changes (a web session).
    Session,
    /// Proves the ownership of a new address the user asked to change to; using it makes that
    /// address the user's (verified) email.
    EmailChange,
    /// Swaps for a new access token of a stored session, once: see
    /// [`TokenSigner::issue_refresh`].
    Refresh,
    /// Proves that a login's password was right, for the minutes the second factor may take:
    /// see [`TokenSigner::issue_second_factor`].
    SecondFactor,
}

const PURPOSES: [TokenPurpose; 6] = [
    TokenPurpose::Verification,
    TokenPurpose::PasswordReset,
    TokenPurpose::Session,
    TokenPurpose::EmailChange,
    TokenPurpose::Refresh,
    TokenPurpose::SecondFactor,
];

/// The random bytes that make each refresh token of a session unique.
const REFRESH_NONCE_LEN: usize = 16;

impl TokenPurpose {
    fn as_byte(self) -> u8 {
        match self {
            TokenPurpose::Verification => 1,
            TokenPurpose::PasswordReset => 2,
            TokenPurpose::Session => 3,
            TokenPurpose::EmailChange => 4,
            TokenPurpose::Refresh => 5,
            TokenPurpose::SecondFactor => 6,
        }
    }

    fn index(self) -> usize {
        usize::from(self.as_byte() - 1)
    }

    fn label(self) -> &'static [u8] {
        match self {
            TokenPurpose::Verification => b"verification",
            TokenPurpose::PasswordReset => b"password reset",
            TokenPurpose::Session => b"session",
            TokenPurpose::EmailChange => b"email change",
            TokenPurpose::Refresh => b"refresh",
            TokenPurpose::SecondFactor => b"second factor",
        }
    }
}

/// A token whose signature, purpose and expiry checked out, but whose binding to the user's
/// current state has not been checked yet (see [`TokenSigner::check_user`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedToken {
    purpose: TokenPurpose,
    key_id: [u8; KEY_ID_LEN],
    user_id: Uuid,
    id: Uuid,
    expiry: u64,
    binding: [u8; DIGEST_LEN],
    new_email: Option<String>,
    factors_version: Option<i64>,
}

impl OpenedToken {
    /// The purpose the token was issued for.
    pub fn purpose(&self) -> TokenPurpose {
        self.purpose
    }

    /// The id of the user the token was issued to.
    pub fn user_id(&self) -> Uuid {
        self.user_id
    }

    /// The token's own id, unique to each token issued (a UUIDv7), and signed like the rest:
    /// what an application remembers to revoke this one token before it expires.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// When the token stops being valid, to the second.
    pub fn expires_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.expiry)
    }

    /// For an email change token, the (normalised) address the user asked to change to.
    pub fn new_email(&self) -> Option<&str> {
        self.new_email.as_deref()
    }

    /// For a second-factor token, the version of the user's second factors it was issued at.
    pub fn factors_version(&self) -> Option<i64> {
        self.factors_version
    }
}

/// The keys derived from one secret: its id, and a MAC key and a binding key per purpose.
#[derive(Clone)]
struct Keys {
    id: [u8; KEY_ID_LEN],
    mac: Vec<Zeroizing<[u8; DIGEST_LEN]>>,
    binding: Vec<Zeroizing<[u8; DIGEST_LEN]>>,
}

impl Keys {
    fn derive(secret: &[u8]) -> Keys {
        let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), secret);
        let expand = |what: &[u8], purpose: &[u8]| {
            let mut key = Zeroizing::new([0u8; DIGEST_LEN]);
            hkdf.expand_multi_info(&[what, purpose], key.as_mut())
                .expect("32 bytes is a valid HKDF-SHA256 length");
            key
        };
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&expand(b"key id", b"")[..KEY_ID_LEN]);
        Keys {
            id,
            mac: PURPOSES
                .iter()
                .map(|p| expand(b"token mac: ", p.label()))
                .collect(),
            binding: PURPOSES
                .iter()
                .map(|p| expand(b"binding: ", p.label()))
                .collect(),
        }
    }

    fn mac(&self, purpose: TokenPurpose) -> HmacSha256 {
        HmacSha256::new_from_slice(self.mac[purpose.index()].as_ref())
            .expect("HMAC takes keys of any length")
    }

    fn binding<U: UserModel>(&self, purpose: TokenPurpose, user: &U) -> [u8; DIGEST_LEN] {
        let mut mac = HmacSha256::new_from_slice(self.binding[purpose.index()].as_ref())
            .expect("HMAC takes keys of any length");
        let hash = user.password_hash().as_bytes();
        // The tokens of whoever holds the account (sessions, their refresh and second-factor
        // tokens, an email change) die with its first proof of address (verified from false to
        // true); those mailed to the address itself (verification, reset) need not.
        if matches!(
            purpose,
            TokenPurpose::Session
                | TokenPurpose::Refresh
                | TokenPurpose::SecondFactor
                | TokenPurpose::EmailChange
        ) {
            mac.update(&[u8::from(user.is_verified())]);
        }
        match purpose {
            TokenPurpose::Session | TokenPurpose::Refresh | TokenPurpose::SecondFactor => {
                mac.update(hash);
            }
            TokenPurpose::Verification
            | TokenPurpose::PasswordReset
            | TokenPurpose::EmailChange => {
                let email = user.email().as_bytes();
                // Length-prefixed, so that no two (email, hash) pairs make the same message.
                mac.update(&(email.len() as u64).to_be_bytes());
                mac.update(email);
                mac.update(hash);
            }
        }
        mac.finalize().into_bytes().into()
    }
}

/// What a token carries after its binding: an email change's new address, a refresh token's
/// nonce.
enum Extra<'a> {
    Email(&'a str),
    Nonce(&'a [u8; REFRESH_NONCE_LEN]),
    Version(i64),
}

/// Issues and checks tokens with the configured secret (and accepts those of the retired
/// secrets of [`UsersConfig::previous_secrets`]).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use users_core::{TokenPurpose, TokenSigner, UsersConfig, UsersError};
///
/// let signer = TokenSigner::new(&UsersConfig::new([7u8; 32])?);
/// # #[derive(Clone, Debug)] struct User { id: users_core::Uuid, email: String, hash: String }
/// # impl users_core::UserModel for User {
/// #     type Id = users_core::Uuid;
/// #     type Sessions = users_core::NoStore;
/// #     type SecondFactors = users_core::NoStore;
/// #     type OAuthAccounts = users_core::NoStore;
/// #     type Events = users_core::NoStore;
/// #     const TABLE: &'static str = "users";
/// #     fn from_credentials(id: users_core::Uuid, email: String, hash: String) -> Self { User { id, email, hash } }
/// #     fn id(&self) -> users_core::Uuid { self.id }
/// #     fn email(&self) -> &str { &self.email }
/// #     fn set_email(&mut self, email: String) { self.email = email }
/// #     fn password_hash(&self) -> &str { &self.hash }
/// #     fn set_password_hash(&mut self, hash: String) { self.hash = hash }
/// #     fn is_active(&self) -> bool { true }
/// #     fn set_active(&mut self, _: bool) {}
/// #     fn is_verified(&self) -> bool { false }
/// #     fn set_verified(&mut self, _: bool) {}
/// # }
/// # let user = User { id: users_core::Uuid::now_v7(), email: "a@example.com".into(), hash: "h".into() };
/// let now = SystemTime::now();
/// let token = signer.issue(TokenPurpose::Verification, &user, now, Duration::from_secs(3600));
///
/// let opened = signer.open(&token, TokenPurpose::Verification, now)?;
/// assert_eq!(opened.user_id(), user.id);
/// signer.check_user(&opened, &user)?;
///
/// let later = now + Duration::from_secs(3600);
/// assert!(matches!(
///     signer.open(&token, TokenPurpose::Verification, later),
///     Err(UsersError::InvalidToken)
/// ));
/// # Ok::<(), UsersError>(())
/// ```
#[derive(Clone)]
pub struct TokenSigner {
    /// The current secret's keys first, then the retired secrets', newest first.
    keys: Vec<Keys>,
}

impl TokenSigner {
    /// A signer with the secret of `config`, accepting the tokens of its previous secrets.
    pub fn new(config: &UsersConfig) -> Self {
        let secrets = std::iter::once(config.secret()).chain(config.retired_secrets());
        TokenSigner {
            keys: secrets.map(Keys::derive).collect(),
        }
    }

    /// A URL-safe token (base64 without padding) for `user`, issued at `now` and valid for
    /// `lifetime`, counted in whole seconds, with a fresh token id.
    ///
    /// # Panics
    ///
    /// For [`TokenPurpose::EmailChange`], which needs the new address: use
    /// [`issue_email_change`](Self::issue_email_change).
    pub fn issue<U: UserModel>(
        &self,
        purpose: TokenPurpose,
        user: &U,
        now: SystemTime,
        lifetime: Duration,
    ) -> String {
        assert!(
            purpose != TokenPurpose::EmailChange,
            "an email change token carries the new address: use `issue_email_change`"
        );
        self.sign(purpose, user, Uuid::now_v7(), None, now, lifetime)
    }

    /// An access token of the stored session `session` of `user` (purpose
    /// [`TokenPurpose::Session`], whose token id is the session's id), issued at `now` and
    /// valid for `lifetime`. Each request checks it against the session's row.
    pub fn issue_session<U: UserModel>(
        &self,
        user: &U,
        session: Uuid,
        now: SystemTime,
        lifetime: Duration,
    ) -> String {
        self.sign(TokenPurpose::Session, user, session, None, now, lifetime)
    }

    /// A refresh token of the stored session `session` of `user`, valid for `lifetime` from
    /// `now`: its token id is the session's id, and 16 random bytes make each one unique, so
    /// the session's row can hold the digest of the one current token
    /// ([`refresh_digest`](crate::refresh_digest)) and tell a retired one, replayed, from a
    /// forged one.
    pub fn issue_refresh<U: UserModel>(
        &self,
        user: &U,
        session: Uuid,
        now: SystemTime,
        lifetime: Duration,
    ) -> String {
        let mut nonce = [0u8; REFRESH_NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let extra = Extra::Nonce(&nonce);
        self.sign(
            TokenPurpose::Refresh,
            user,
            session,
            Some(extra),
            now,
            lifetime,
        )
    }

    /// A "second factor pending" token for `user`, whose password was just right, valid for
    /// `lifetime` from `now`: it carries the version of the user's second factors
    /// ([`SecondFactorRecord::version`](crate::SecondFactorRecord::version)), which completing
    /// the login changes, so the token works once.
    pub fn issue_second_factor<U: UserModel>(
        &self,
        user: &U,
        factors_version: i64,
        now: SystemTime,
        lifetime: Duration,
    ) -> String {
        let extra = Extra::Version(factors_version);
        self.sign(
            TokenPurpose::SecondFactor,
            user,
            Uuid::now_v7(),
            Some(extra),
            now,
            lifetime,
        )
    }

    /// A token that changes the email of `user` to `new_email` (normalised already) when used,
    /// issued at `now` and valid for `lifetime`; as [`issue`](Self::issue).
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidEmail`] for an address longer than [`MAX_EMAIL_BYTES`].
    pub fn issue_email_change<U: UserModel>(
        &self,
        user: &U,
        new_email: &str,
        now: SystemTime,
        lifetime: Duration,
    ) -> Result<String, UsersError> {
        if new_email.len() > MAX_EMAIL_BYTES {
            return Err(UsersError::InvalidEmail(crate::EmailProblem::TooLong));
        }
        Ok(self.sign(
            TokenPurpose::EmailChange,
            user,
            Uuid::now_v7(),
            Some(Extra::Email(new_email)),
            now,
            lifetime,
        ))
    }

    fn sign<U: UserModel>(
        &self,
        purpose: TokenPurpose,
        user: &U,
        id: Uuid,
        extra: Option<Extra<'_>>,
        now: SystemTime,
        lifetime: Duration,
    ) -> String {
        let keys = &self.keys[0];
        let user_id: Uuid = user.id().into();
        let expiry = unix_seconds(now).saturating_add(lifetime.as_secs());
        let mut token = Vec::with_capacity(FIXED_LEN + DIGEST_LEN);
        token.push(FORMAT_VERSION);
        token.extend_from_slice(&keys.id);
        token.push(purpose.as_byte());
        token.extend_from_slice(user_id.as_bytes());
        token.extend_from_slice(id.as_bytes());
        token.extend_from_slice(&expiry.to_be_bytes());
        token.extend_from_slice(&keys.binding(purpose, user));
        match extra {
            Some(Extra::Email(email)) => {
                // At most MAX_EMAIL_BYTES (254), checked by `issue_email_change`.
                token.push(u8::try_from(email.len()).unwrap_or(u8::MAX));
                token.extend_from_slice(email.as_bytes());
            }
            Some(Extra::Nonce(nonce)) => token.extend_from_slice(nonce),
            Some(Extra::Version(version)) => token.extend_from_slice(&version.to_be_bytes()),
            None => {}
        }
        let tag = keys.mac(purpose).chain_update(&token).finalize();
        token.extend_from_slice(&tag.into_bytes());
        URL_SAFE_NO_PAD.encode(token)
    }

    /// Checks a token's signature, format, purpose and expiry at `now`, and yields the user id
    /// it was issued to.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`] for anything but an intact, unexpired token of `purpose`
    /// signed with this secret or one of the previous secrets. Never panics, whatever the
    /// input.
    pub fn open(
        &self,
        token: &str,
        purpose: TokenPurpose,
        now: SystemTime,
    ) -> Result<OpenedToken, UsersError> {
        if token.len() > MAX_TOKEN_CHARS {
            return Err(UsersError::InvalidToken);
        }
        // Every request with a session opens one: decoded on the stack, not the heap.
        let mut buffer = [0u8; MAX_TOKEN_BYTES + 3];
        let decoded = URL_SAFE_NO_PAD
            .decode_slice(token, &mut buffer)
            .map_err(|_| UsersError::InvalidToken)?;
        let bytes = &buffer[..decoded];
        if bytes.len() < FIXED_LEN + DIGEST_LEN {
            return Err(UsersError::InvalidToken);
        }
        let (payload, tag) = bytes.split_at(bytes.len() - DIGEST_LEN);
        let (fixed, extra) = payload.split_at(FIXED_LEN);
        let (version, fixed) = fixed.split_at(1);
        let (key_id, fixed) = fixed.split_at(KEY_ID_LEN);
        let keys = self
            .keys
            .iter()
            .find(|keys| keys.id[..] == *key_id)
            .ok_or(UsersError::InvalidToken)?;
        keys.mac(purpose)
            .chain_update(payload)
            .verify_slice(tag)
            .map_err(|_| UsersError::InvalidToken)?;

        // Signed by us for this purpose: the rest is as `sign` wrote it, unless the format
        // changed.
        let (purpose_byte, fixed) = fixed.split_at(1);
        let (user_id, fixed) = fixed.split_at(16);
        let (id, fixed) = fixed.split_at(16);
        let (expiry, binding) = fixed.split_at(8);
        let expiry = u64::from_be_bytes(expiry.try_into().map_err(|_| UsersError::InvalidToken)?);
        let mut factors_version = None;
        let new_email = match (purpose, extra) {
            (TokenPurpose::EmailChange, [length, email @ ..])
                if usize::from(*length) == email.len() =>
            {
                Some(String::from_utf8(email.to_vec()).map_err(|_| UsersError::InvalidToken)?)
            }
            (TokenPurpose::EmailChange, _) => return Err(UsersError::InvalidToken),
            (TokenPurpose::Refresh, nonce) if nonce.len() == REFRESH_NONCE_LEN => None,
            (TokenPurpose::Refresh, _) => return Err(UsersError::InvalidToken),
            (TokenPurpose::SecondFactor, version) => {
                let version = <[u8; 8]>::try_from(version).map_err(|_| UsersError::InvalidToken)?;
                factors_version = Some(i64::from_be_bytes(version));
                None
            }
            (_, []) => None,
            (_, _) => return Err(UsersError::InvalidToken),
        };
        let intact = version == [FORMAT_VERSION]
            && purpose_byte == [purpose.as_byte()]
            && unix_seconds(now) < expiry;
        if !intact {
            return Err(UsersError::InvalidToken);
        }
        let uuid = |bytes| Uuid::from_slice(bytes).map_err(|_| UsersError::InvalidToken);
        Ok(OpenedToken {
            purpose,
            key_id: keys.id,
            user_id: uuid(user_id)?,
            id: uuid(id)?,
            expiry,
            binding: binding.try_into().map_err(|_| UsersError::InvalidToken)?,
            new_email,
            factors_version,
        })
    }

    /// Checks that an opened token still matches `user`: the same user id, and the state it
    /// is bound to unchanged (see the module docs).
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`] if `user` is another user or its bound state changed.
    pub fn check_user<U: UserModel>(
        &self,
        token: &OpenedToken,
        user: &U,
    ) -> Result<(), UsersError> {
        let user_id: Uuid = user.id().into();
        let Some(keys) = self.keys.iter().find(|keys| keys.id == token.key_id) else {
            return Err(UsersError::InvalidToken);
        };
        let same_binding: bool = keys
            .binding(token.purpose, user)
            .ct_eq(&token.binding)
            .into();
        if user_id == token.user_id && same_binding {
            Ok(())
        } else {
            Err(UsersError::InvalidToken)
        }
    }
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSigner")
            .field("secret", &"[redacted]")
            .field("previous_secrets", &(self.keys.len() - 1))
            .finish()
    }
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests;
