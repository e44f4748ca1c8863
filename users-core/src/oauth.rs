//! Accounts at identity providers ("sign in with …"): what a provider vouched for after a
//! checked OAuth 2.0 / OpenID Connect flow ([`ProviderIdentity`]), the linked accounts a user
//! has ([`OAuthAccountRecord`], one row each in the table of the user model's
//! [`UserModel::OAuthAccounts`](crate::UserModel::OAuthAccounts) store,
//! `users_diesel::OAuthAccounts<User>`), and the rules that decide a sign-in.
//!
//! The protocol itself (authorization URL with PKCE, `state` and `nonce` bound to the browser,
//! code exchange, ID-token validation) is users-axum's, with the `openidconnect` crate; the
//! managers take over once the provider's answer has been checked, with
//! `oauth_sign_in`, `link_oauth`, `unlink_oauth` and `oauth_accounts`. The linking rules:
//!
//! - an account already linked signs its user in (a provider's subject is never a password:
//!   only a flow the provider completed for it reaches the manager);
//! - an unknown account whose email no local user has creates a user without a password,
//!   verified only if the provider says it verified the address;
//! - an unknown account whose email a local user has is linked to that user only if the
//!   provider verified the address **and** the local user verified it too; otherwise the
//!   sign-in is refused with [`UsersError::EmailTaken`]: whoever registered the local account
//!   first (perhaps an attacker who pre-registered the victim's address, perhaps the victim)
//!   keeps it, and linking is for a logged-in user to do;
//! - unlinking the last way to sign in (no usable password, no other linked account, no
//!   passkey) is refused with [`UsersError::LastSignInMethod`].
//!
//! A user created by a provider has an unusable password hash (`!` and random characters,
//! like Django's `set_unusable_password`): a password login fails for them exactly like a
//! wrong password, after the same argon2 work; the password-reset flow sets a real one.

use std::time::SystemTime;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use uuid::Uuid;

use crate::{Sealer, UsersError};
use users_derive::store_trait;

/// The longest provider name (the name in the routes, e.g. `google`, `github`).
pub const MAX_PROVIDER_BYTES: usize = 64;
/// The longest subject a provider may give: OpenID Connect Core §2 caps `sub` at 255 ASCII
/// characters.
pub const MAX_SUBJECT_BYTES: usize = 255;

/// What a provider vouched for, once the flow checked its answer (for OpenID Connect: the ID
/// token's signature by the provider's keys, issuer, audience, expiry and nonce).
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    /// The provider's configured name (`google`, `github`, …).
    pub provider: String,
    /// The provider's stable identifier of the person (`sub`; GitHub's numeric user id).
    pub subject: String,
    /// The address the provider gave, if any.
    pub email: Option<String>,
    /// Whether the provider says it verified that address.
    pub email_verified: bool,
    /// The provider's tokens, to be kept (sealed) only if the application asked for them.
    pub tokens: Option<ProviderTokens>,
}

impl std::fmt::Debug for ProviderIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderIdentity")
            .field("provider", &self.provider)
            .field("subject", &self.subject)
            .field("email", &self.email)
            .field("email_verified", &self.email_verified)
            .field("tokens", &self.tokens.as_ref().map(|_| "…"))
            .finish()
    }
}

/// A provider's tokens for the application to call the provider's API on the user's behalf.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderTokens {
    /// The access token.
    pub access_token: String,
    /// The refresh token, if the provider issued one.
    pub refresh_token: Option<String>,
    /// When the access token expires, if the provider said.
    pub expires_at: Option<SystemTime>,
}

impl std::fmt::Debug for ProviderTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderTokens")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A linked provider account, as its row holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthAccountRecord {
    /// The account's id (UUIDv7).
    pub id: Uuid,
    /// The user it signs in.
    pub user_id: Uuid,
    /// The provider's name.
    pub provider: String,
    /// The provider's identifier of the person; unique with `provider`.
    pub subject: String,
    /// The address the provider last gave.
    pub email: Option<String>,
    /// Whether the provider last said it verified that address.
    pub email_verified: bool,
    /// When it was linked.
    pub created_at: SystemTime,
    /// When it last signed the user in (or was linked).
    pub last_used_at: SystemTime,
    /// When the kept access token expires, if one is kept and the provider said.
    pub token_expires_at: Option<SystemTime>,
    /// The provider's access token, sealed ([`Sealer`], bound to this account's id), only
    /// if the application keeps tokens.
    pub access_token: Option<String>,
    /// The provider's refresh token, sealed likewise.
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for OAuthAccountRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthAccountRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("provider", &self.provider)
            .field("subject", &self.subject)
            .field("email", &self.email)
            .field("email_verified", &self.email_verified)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .field("token_expires_at", &self.token_expires_at)
            .finish_non_exhaustive()
    }
}

impl OAuthAccountRecord {
    /// The kept provider tokens, opened; `None` if none are kept.
    ///
    /// # Errors
    ///
    /// [`UsersError::InvalidToken`] if they were sealed under a secret no longer configured, or
    /// altered.
    pub fn tokens(&self, sealer: &Sealer) -> Result<Option<ProviderTokens>, UsersError> {
        let Some(access) = &self.access_token else {
            return Ok(None);
        };
        let open = |sealed: &str, kind: &[u8]| {
            let plain = sealer.open(&token_context(self.id, kind), sealed)?;
            String::from_utf8(plain.to_vec()).map_err(|_| UsersError::InvalidToken)
        };
        Ok(Some(ProviderTokens {
            access_token: open(access, b"access")?,
            refresh_token: self
                .refresh_token
                .as_deref()
                .map(|sealed| open(sealed, b"refresh"))
                .transpose()?,
            expires_at: self.token_expires_at,
        }))
    }

    /// The record after `identity` signed in (or was linked) at `now`: the provider's current
    /// email and verification, and its tokens sealed if it brought any (else the kept ones
    /// stay).
    pub(crate) fn refreshed(
        mut self,
        identity: &ProviderIdentity,
        sealer: &Sealer,
        now: SystemTime,
    ) -> Self {
        self.email.clone_from(&identity.email);
        self.email_verified = identity.email_verified;
        self.last_used_at = now;
        if let Some(tokens) = &identity.tokens {
            let seal = |plain: &str, kind: &[u8]| {
                sealer.seal(&token_context(self.id, kind), plain.as_bytes())
            };
            self.access_token = Some(seal(&tokens.access_token, b"access"));
            self.refresh_token = tokens
                .refresh_token
                .as_deref()
                .map(|token| seal(token, b"refresh"));
            self.token_expires_at = tokens.expires_at;
        }
        self
    }

    /// A new account of `user_id` for `identity`, linked at `now`.
    pub(crate) fn new(
        user_id: Uuid,
        identity: &ProviderIdentity,
        sealer: &Sealer,
        now: SystemTime,
    ) -> Self {
        OAuthAccountRecord {
            id: Uuid::now_v7(),
            user_id,
            provider: identity.provider.clone(),
            subject: identity.subject.clone(),
            email: None,
            email_verified: false,
            created_at: now,
            last_used_at: now,
            token_expires_at: None,
            access_token: None,
            refresh_token: None,
        }
        .refreshed(identity, sealer, now)
    }
}

/// What sealed tokens are bound to: the account and which token.
fn token_context(account: Uuid, kind: &[u8]) -> Vec<u8> {
    [b"oauth token ".as_slice(), kind, b" ", account.as_bytes()].concat()
}

/// How a provider sign-in ended, with the signed-in user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OAuthSignIn<U> {
    /// The account was linked already: its user signed in.
    SignedIn(U),
    /// A new user was created (without a password) and the account linked to it.
    Registered(U),
    /// The account was linked to the local user with the same verified address.
    Linked(U),
}

impl<U> OAuthSignIn<U> {
    /// The signed-in user.
    pub fn user(&self) -> &U {
        match self {
            OAuthSignIn::SignedIn(user)
            | OAuthSignIn::Registered(user)
            | OAuthSignIn::Linked(user) => user,
        }
    }

    /// The signed-in user, by value.
    pub fn into_user(self) -> U {
        match self {
            OAuthSignIn::SignedIn(user)
            | OAuthSignIn::Registered(user)
            | OAuthSignIn::Linked(user) => user,
        }
    }
}

/// Checks what the provider flow hands over: a provider name and subject that fit their
/// columns.
pub(crate) fn check_identity(identity: &ProviderIdentity) -> Result<(), UsersError> {
    let fits = |value: &str, max: usize| !value.is_empty() && value.len() <= max;
    if fits(&identity.provider, MAX_PROVIDER_BYTES) && fits(&identity.subject, MAX_SUBJECT_BYTES) {
        Ok(())
    } else {
        Err(UsersError::InvalidToken)
    }
}

/// The password hash of a user who has none: `!` and 32 random hex digits, which no argon2
/// hash parses as, so a password login fails for them after a dummy verification.
pub fn unusable_password_hash() -> String {
    let mut random = [0u8; 16];
    OsRng.fill_bytes(&mut random);
    format!("!{}", Uuid::from_bytes(random).simple())
}

/// Whether `hash` is a password hash a login can succeed with (not
/// [`unusable_password_hash`]'s).
pub fn has_usable_password(hash: &str) -> bool {
    !hash.starts_with('!')
}

#[store_trait(
    /// The async twin of [`OAuthAccountStore`], over async connections of type `C`.
    #[cfg(feature = "async")]
    #[diagnostic::on_unimplemented(
        message = "`{Self}` stores no provider accounts over async connections of type `{C}`",
        label = "not an async connection of an enabled backend",
        note = "pass `&mut` an AsyncPgConnection, AsyncMysqlConnection or AsyncSqliteConnection \
                (users_diesel::asynchronous) of an enabled backend, with users-diesel's `async` \
                feature on; for a pooled connection write `&mut *conn`"
    )]
    pub trait AsyncOAuthAccountStore<C: Send> {},
    unstored: crate::NoStore => crate::sessions::no_store()
)]
/// Storage of the linked provider accounts of one user model over connections of type `C`:
/// the [`UserModel::OAuthAccounts`](crate::UserModel::OAuthAccounts) of a `#[user_model]`
/// (`users_diesel::OAuthAccounts<User>`) implements it for each enabled backend.
#[diagnostic::on_unimplemented(
    message = "`{Self}` stores no provider accounts over connections of type `{C}`",
    label = "not a connection of an enabled backend",
    note = "pass `&mut` a SqliteConnection, PgConnection or MysqlConnection whose backend feature \
            of users-diesel is enabled; for a pooled connection write `&mut *conn`"
)]
pub trait OAuthAccountStore<C> {
    /// The account `subject` at `provider`, if one is linked.
    fn find_oauth_account(
        conn: &mut C,
        provider: &str,
        subject: &str,
    ) -> Result<Option<OAuthAccountRecord>, UsersError>;

    /// The user's linked accounts, oldest first.
    fn oauth_accounts_of(
        conn: &mut C,
        user_id: Uuid,
    ) -> Result<Vec<OAuthAccountRecord>, UsersError>;

    /// Stores a new account; [`UsersError::Conflict`] with column `subject` if its
    /// provider and subject are linked already (a concurrent sign-in won).
    fn insert_oauth_account(conn: &mut C, account: &OAuthAccountRecord) -> Result<(), UsersError>;

    /// Writes an account's email, verification, last use and tokens.
    fn update_oauth_account(conn: &mut C, account: &OAuthAccountRecord) -> Result<(), UsersError>;

    /// Deletes the user's account at `provider`; `false` if they had none.
    fn delete_oauth_account(
        conn: &mut C,
        user_id: Uuid,
        provider: &str,
    ) -> Result<bool, UsersError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UsersConfig;

    fn identity(tokens: Option<ProviderTokens>) -> ProviderIdentity {
        ProviderIdentity {
            provider: "corp".into(),
            subject: "248289761001".into(),
            email: Some("jane@example.com".into()),
            email_verified: true,
            tokens,
        }
    }

    #[test]
    fn kept_tokens_are_sealed_to_their_account() {
        let sealer = Sealer::new(&UsersConfig::new([3u8; 32]).unwrap());
        let tokens = ProviderTokens {
            access_token: "at-123".into(),
            refresh_token: Some("rt-456".into()),
            expires_at: None,
        };
        let now = SystemTime::now();
        let account = OAuthAccountRecord::new(
            Uuid::now_v7(),
            &identity(Some(tokens.clone())),
            &sealer,
            now,
        );
        let sealed = account.access_token.clone().unwrap();
        assert!(!sealed.contains("at-123"));
        assert_eq!(account.tokens(&sealer).unwrap(), Some(tokens));
        // Moved to another account, the sealed tokens do not open.
        let other = OAuthAccountRecord {
            id: Uuid::now_v7(),
            ..account.clone()
        };
        assert!(other.tokens(&sealer).is_err());
        // Without tokens, none are kept, and a later sign-in without any keeps the old ones.
        let bare = OAuthAccountRecord::new(Uuid::now_v7(), &identity(None), &sealer, now);
        assert_eq!(bare.tokens(&sealer).unwrap(), None);
        let again = account.clone().refreshed(&identity(None), &sealer, now);
        assert_eq!(again.access_token, account.access_token);
    }

    #[test]
    fn an_unusable_hash_is_not_usable_and_differs_per_user() {
        let (a, b) = (unusable_password_hash(), unusable_password_hash());
        assert!(!has_usable_password(&a));
        assert_ne!(a, b);
        assert!(has_usable_password(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
        ));
    }

    #[test]
    fn identities_must_fit_their_columns() {
        assert!(check_identity(&identity(None)).is_ok());
        for (provider, subject) in [("", "1"), ("corp", ""), ("corp", &*"s".repeat(256))] {
            let mut bad = identity(None);
            (bad.provider, bad.subject) = (provider.into(), subject.into());
            assert!(matches!(
                check_identity(&bad),
                Err(UsersError::InvalidToken)
            ));
        }
    }
}
