//! Signed tokens for email verification, password reset and login sessions, with HMAC-SHA256.
//!
//! A token is self-contained: nothing is stored for it. It carries its purpose, the user id, a
//! unique token id, an expiry, and a *binding*: a keyed digest of the user's email
//! (verification) or password hash (reset, session). Checking happens in two steps so that the
//! caller can load the user in between: [`TokenSigner::open`] checks signature, purpose and
//! expiry and yields the user id, then [`TokenSigner::check_user`] compares the binding against
//! the loaded user. A verification token therefore dies when the email changes, and a reset or
//! session token when the password hash changes, which makes a reset token single-use and ends
//! every session at a password change. The token id lets an application revoke one token alone
//! (a logout) by remembering it until [`OpenedToken::expires_at`].

use std::fmt;
use std::ops::Range;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{UserModel, UsersConfig, UsersError};

type HmacSha256 = Hmac<Sha256>;

const FORMAT_VERSION: u8 = 2;
const DIGEST_LEN: usize = 32;
// Layout: format version | purpose | user id | token id | expiry (big-endian unix seconds) |
// binding | MAC.
const PURPOSE: usize = 1;
const USER_ID: Range<usize> = 2..18;
const TOKEN_ID: Range<usize> = 18..34;
const EXPIRY: Range<usize> = 34..42;
const BINDING: Range<usize> = 42..42 + DIGEST_LEN;
const PAYLOAD_LEN: usize = BINDING.end;
const TOKEN_LEN: usize = PAYLOAD_LEN + DIGEST_LEN;

// Distinct prefixes keep a token's MAC and a binding digest from ever being the same message.
const TOKEN_DOMAIN: &[u8] = b"users-core token v2\0";
const BINDING_DOMAIN: &[u8] = b"users-core binding v1\0";

/// What a token may be used for; a token of one purpose is useless for the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    /// Proves the ownership of the user's current email address.
    Verification,
    /// Allows setting a new password without the current one, once.
    PasswordReset,
    /// Proves a login, until it expires or the user's password changes (a web session).
    Session,
}

impl TokenPurpose {
    fn as_byte(self) -> u8 {
        match self {
            TokenPurpose::Verification => 1,
            TokenPurpose::PasswordReset => 2,
            TokenPurpose::Session => 3,
        }
    }
}

/// A token whose signature, purpose and expiry checked out, but whose binding to the user's
/// current state has not been checked yet (see [`TokenSigner::check_user`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedToken {
    purpose: TokenPurpose,
    user_id: Uuid,
    id: Uuid,
    expiry: u64,
    binding: [u8; DIGEST_LEN],
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
}

/// Issues and checks tokens with the configured secret.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use users_core::{TokenPurpose, TokenSigner, UsersConfig, UsersError};
///
/// let signer = TokenSigner::new(&UsersConfig::new([7u8; 32])?);
/// # #[derive(Clone, Debug)] struct User { id: users_core::Uuid, email: String, hash: String }
/// # impl users_core::UserModel for User {
/// #     type Id = users_core::Uuid;
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
    secret: Zeroizing<Vec<u8>>,
}

impl TokenSigner {
    /// A signer with the secret of `config`.
    pub fn new(config: &UsersConfig) -> Self {
        TokenSigner {
            secret: Zeroizing::new(config.secret().to_vec()),
        }
    }

    /// A URL-safe token (base64 without padding) for `user`, issued at `now` and valid for
    /// `lifetime`, counted in whole seconds, with a fresh token id.
    pub fn issue<U: UserModel>(
        &self,
        purpose: TokenPurpose,
        user: &U,
        now: SystemTime,
        lifetime: Duration,
    ) -> String {
        let user_id: Uuid = user.id().into();
        let expiry = unix_seconds(now).saturating_add(lifetime.as_secs());
        let mut token = Vec::with_capacity(TOKEN_LEN);
        token.push(FORMAT_VERSION);
        token.push(purpose.as_byte());
        token.extend_from_slice(user_id.as_bytes());
        token.extend_from_slice(Uuid::now_v7().as_bytes());
        token.extend_from_slice(&expiry.to_be_bytes());
        token.extend_from_slice(&self.binding(purpose, user));
        let tag = self.keyed(TOKEN_DOMAIN).chain_update(&token).finalize();
        token.extend_from_slice(&tag.into_bytes());
        URL_SAFE_NO_PAD.encode(token)
    }

    /// Checks a token's signature, format, purpose and expiry at `now`, and yields the user id
    /// it was issued to.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`] for anything but an intact, unexpired token of `purpose`
    /// signed with this secret. Never panics, whatever the input.
    pub fn open(
        &self,
        token: &str,
        purpose: TokenPurpose,
        now: SystemTime,
    ) -> Result<OpenedToken, UsersError> {
        let mut bytes = [0u8; TOKEN_LEN];
        let decoded = URL_SAFE_NO_PAD
            .decode_slice(token, &mut bytes)
            .map_err(|_| UsersError::InvalidToken)?;
        if decoded != TOKEN_LEN {
            return Err(UsersError::InvalidToken);
        }
        let (payload, tag) = bytes.split_at(PAYLOAD_LEN);
        self.keyed(TOKEN_DOMAIN)
            .chain_update(payload)
            .verify_slice(tag)
            .map_err(|_| UsersError::InvalidToken)?;

        let mut expiry = [0u8; 8];
        expiry.copy_from_slice(&payload[EXPIRY]);
        let mut binding = [0u8; DIGEST_LEN];
        binding.copy_from_slice(&payload[BINDING]);
        let expiry = u64::from_be_bytes(expiry);
        let intact = payload[0] == FORMAT_VERSION
            && payload[PURPOSE] == purpose.as_byte()
            && unix_seconds(now) < expiry;
        if !intact {
            return Err(UsersError::InvalidToken);
        }
        let uuid = |range| Uuid::from_slice(&payload[range]).map_err(|_| UsersError::InvalidToken);
        Ok(OpenedToken {
            purpose,
            user_id: uuid(USER_ID)?,
            id: uuid(TOKEN_ID)?,
            expiry,
            binding,
        })
    }

    /// Checks that an opened token belongs to `user` as it is now: same id, and for a
    /// verification token the same email, for a reset or session token the same password hash.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`] if the user is another one or has changed since.
    pub fn check_user<U: UserModel>(
        &self,
        token: &OpenedToken,
        user: &U,
    ) -> Result<(), UsersError> {
        let user_id: Uuid = user.id().into();
        let same_binding: bool = self
            .binding(token.purpose, user)
            .ct_eq(&token.binding)
            .into();
        if user_id == token.user_id && same_binding {
            Ok(())
        } else {
            Err(UsersError::InvalidToken)
        }
    }

    fn binding<U: UserModel>(&self, purpose: TokenPurpose, user: &U) -> [u8; DIGEST_LEN] {
        let bound = match purpose {
            TokenPurpose::Verification => user.email(),
            TokenPurpose::PasswordReset | TokenPurpose::Session => user.password_hash(),
        };
        self.keyed(BINDING_DOMAIN)
            .chain_update([purpose.as_byte()])
            .chain_update(bound)
            .finalize()
            .into_bytes()
            .into()
    }

    fn keyed(&self, domain: &[u8]) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.secret)
            .expect("HMAC takes keys of any length")
            .chain_update(domain)
    }
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSigner")
            .field("secret", &"[redacted]")
            .finish()
    }
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug)]
    struct User {
        id: Uuid,
        email: String,
        hash: String,
    }

    impl UserModel for User {
        type Id = Uuid;
        const TABLE: &'static str = "users";
        fn from_credentials(id: Uuid, email: String, hash: String) -> Self {
            User { id, email, hash }
        }
        fn id(&self) -> Uuid {
            self.id
        }
        fn email(&self) -> &str {
            &self.email
        }
        fn set_email(&mut self, email: String) {
            self.email = email;
        }
        fn password_hash(&self) -> &str {
            &self.hash
        }
        fn set_password_hash(&mut self, hash: String) {
            self.hash = hash;
        }
        fn is_active(&self) -> bool {
            true
        }
        fn set_active(&mut self, _: bool) {}
        fn is_verified(&self) -> bool {
            false
        }
        fn set_verified(&mut self, _: bool) {}
    }

    const HOUR: Duration = Duration::from_secs(3600);
    const PURPOSES: [TokenPurpose; 3] = [
        TokenPurpose::Verification,
        TokenPurpose::PasswordReset,
        TokenPurpose::Session,
    ];

    fn signer(secret: u8) -> TokenSigner {
        TokenSigner::new(&UsersConfig::new([secret; 32]).unwrap())
    }

    fn alice() -> User {
        User::from_credentials(
            Uuid::now_v7(),
            "alice@example.com".into(),
            "$argon2id$1".into(),
        )
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn is_invalid<T: fmt::Debug>(result: Result<T, UsersError>) -> bool {
        matches!(result, Err(UsersError::InvalidToken))
    }

    #[test]
    fn round_trips_for_every_purpose() {
        let (signer, alice) = (signer(1), alice());
        for purpose in PURPOSES {
            let token = signer.issue(purpose, &alice, now(), HOUR);
            assert!(token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            let opened = signer.open(&token, purpose, now()).unwrap();
            assert_eq!((opened.purpose(), opened.user_id()), (purpose, alice.id));
            signer.check_user(&opened, &alice).unwrap();
        }
    }

    #[test]
    fn expires_at_the_end_of_its_lifetime() {
        let (signer, alice) = (signer(1), alice());
        let token = signer.issue(TokenPurpose::Verification, &alice, now(), HOUR);
        let open_at = |at| signer.open(&token, TokenPurpose::Verification, at);
        assert!(open_at(now() + HOUR - Duration::from_secs(1)).is_ok());
        assert!(is_invalid(open_at(now() + HOUR)));
        assert!(is_invalid(open_at(now() + 100 * HOUR)));
        let instant = signer.issue(TokenPurpose::Verification, &alice, now(), Duration::ZERO);
        assert!(is_invalid(signer.open(
            &instant,
            TokenPurpose::Verification,
            now()
        )));
    }

    #[test]
    fn a_huge_lifetime_saturates_instead_of_overflowing() {
        let (signer, alice) = (signer(1), alice());
        let token = signer.issue(TokenPurpose::PasswordReset, &alice, now(), Duration::MAX);
        assert!(signer
            .open(&token, TokenPurpose::PasswordReset, now())
            .is_ok());
    }

    #[test]
    fn is_useless_for_the_other_purposes() {
        let (signer, alice) = (signer(1), alice());
        for issued in PURPOSES {
            let token = signer.issue(issued, &alice, now(), HOUR);
            for other in PURPOSES.into_iter().filter(|&p| p != issued) {
                assert!(is_invalid(signer.open(&token, other, now())));
            }
        }
    }

    #[test]
    fn each_token_has_its_own_id_and_says_when_it_expires() {
        let (signer, alice) = (signer(1), alice());
        let open = |token: &str| signer.open(token, TokenPurpose::Session, now()).unwrap();
        let first = open(&signer.issue(TokenPurpose::Session, &alice, now(), HOUR));
        let second = open(&signer.issue(TokenPurpose::Session, &alice, now(), HOUR));
        assert_ne!(first.id(), second.id());
        assert_eq!(first.expires_at(), now() + HOUR);
    }

    #[test]
    fn rejects_a_foreign_secret() {
        let alice = alice();
        let token = signer(1).issue(TokenPurpose::Verification, &alice, now(), HOUR);
        assert!(is_invalid(signer(2).open(
            &token,
            TokenPurpose::Verification,
            now()
        )));
    }

    #[test]
    fn rejects_every_altered_character_and_every_truncation() {
        let (signer, alice) = (signer(1), alice());
        let token = signer.issue(TokenPurpose::PasswordReset, &alice, now(), HOUR);
        for position in 0..token.len() {
            for replacement in ['A', 'z', '-', '_', '=', '.', 'é'] {
                let mut altered = token.clone();
                altered.replace_range(position..=position, &replacement.to_string());
                if altered != token {
                    assert!(is_invalid(signer.open(
                        &altered,
                        TokenPurpose::PasswordReset,
                        now()
                    )));
                }
            }
            assert!(is_invalid(signer.open(
                &token[..position],
                TokenPurpose::PasswordReset,
                now()
            )));
        }
        let longer = format!("{token}AAAA");
        assert!(is_invalid(signer.open(
            &longer,
            TokenPurpose::PasswordReset,
            now()
        )));
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        let signer = signer(1);
        let long = "A".repeat(100_000);
        for garbage in ["", "=", "====", "\0", "🦀🦀🦀", "a.b.c", long.as_str()] {
            assert!(is_invalid(signer.open(
                garbage,
                TokenPurpose::Verification,
                now()
            )));
        }
    }

    #[test]
    fn binds_verification_to_the_email_and_reset_and_session_to_the_hash() {
        let (signer, alice) = (signer(1), alice());
        let verification = signer.issue(TokenPurpose::Verification, &alice, now(), HOUR);
        let verification = signer
            .open(&verification, TokenPurpose::Verification, now())
            .unwrap();
        let reset = signer.issue(TokenPurpose::PasswordReset, &alice, now(), HOUR);
        let reset = signer
            .open(&reset, TokenPurpose::PasswordReset, now())
            .unwrap();
        let session = signer.issue(TokenPurpose::Session, &alice, now(), HOUR);
        let session = signer.open(&session, TokenPurpose::Session, now()).unwrap();

        let mut new_email = alice.clone();
        new_email.set_email("alice@example.org".into());
        assert!(is_invalid(signer.check_user(&verification, &new_email)));
        signer.check_user(&reset, &new_email).unwrap();
        signer.check_user(&session, &new_email).unwrap();

        let mut new_hash = alice.clone();
        new_hash.set_password_hash("$argon2id$2".into());
        assert!(is_invalid(signer.check_user(&reset, &new_hash)));
        assert!(is_invalid(signer.check_user(&session, &new_hash)));
        signer.check_user(&verification, &new_hash).unwrap();

        let bob = User {
            id: Uuid::now_v7(),
            ..alice.clone()
        };
        assert!(is_invalid(signer.check_user(&verification, &bob)));
    }

    #[test]
    fn debug_redacts_the_secret() {
        assert!(!format!("{:?}", signer(0x41)).contains("65"));
    }
}
