//! Unit tests of `crate::token`.
use super::*;

#[derive(Clone, Debug)]
struct User {
    id: Uuid,
    email: String,
    hash: String,
}

impl UserModel for User {
    type Id = Uuid;
    type Sessions = crate::NoStore;
    type SecondFactors = crate::NoStore;
    type OAuthAccounts = crate::NoStore;
    type Events = crate::NoStore;
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
fn binds_verification_and_reset_to_email_and_hash_and_session_to_the_hash() {
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
    let change = signer
        .issue_email_change(&alice, "alice@example.net", now(), HOUR)
        .unwrap();
    let change = signer
        .open(&change, TokenPurpose::EmailChange, now())
        .unwrap();
    assert_eq!(change.new_email(), Some("alice@example.net"));

    let mut new_email = alice.clone();
    new_email.set_email("alice@example.org".into());
    assert!(is_invalid(signer.check_user(&verification, &new_email)));
    assert!(is_invalid(signer.check_user(&reset, &new_email)));
    assert!(is_invalid(signer.check_user(&change, &new_email)));
    signer.check_user(&session, &new_email).unwrap();

    let mut new_hash = alice.clone();
    new_hash.set_password_hash("$argon2id$2".into());
    for token in [&verification, &reset, &session, &change] {
        assert!(is_invalid(signer.check_user(token, &new_hash)));
        signer.check_user(token, &alice).unwrap();
    }

    let bob = User {
        id: Uuid::now_v7(),
        ..alice.clone()
    };
    assert!(is_invalid(signer.check_user(&verification, &bob)));
}

#[test]
fn an_email_change_token_carries_its_address_and_nothing_else_does() {
    let (signer, alice) = (signer(1), alice());
    let change = signer
        .issue_email_change(&alice, "new@example.com", now(), HOUR)
        .unwrap();
    assert!(is_invalid(signer.open(
        &change,
        TokenPurpose::Verification,
        now()
    )));
    let too_long = format!("{}@example.com", "a".repeat(250));
    assert!(matches!(
        signer.issue_email_change(&alice, &too_long, now(), HOUR),
        Err(UsersError::InvalidEmail(_))
    ));
    let verification = signer.issue(TokenPurpose::Verification, &alice, now(), HOUR);
    assert_eq!(
        signer
            .open(&verification, TokenPurpose::Verification, now())
            .unwrap()
            .new_email(),
        None
    );
}

#[test]
fn tokens_of_a_previous_secret_open_and_new_ones_use_the_current() {
    let alice = alice();
    let old = signer(1);
    let old_token = old.issue(TokenPurpose::Session, &alice, now(), HOUR);
    let rotated = TokenSigner::new(
        &UsersConfig::new([2; 32])
            .unwrap()
            .previous_secrets([[1u8; 32]])
            .unwrap(),
    );
    let opened = rotated
        .open(&old_token, TokenPurpose::Session, now())
        .unwrap();
    rotated.check_user(&opened, &alice).unwrap();
    let new_token = rotated.issue(TokenPurpose::Session, &alice, now(), HOUR);
    assert!(is_invalid(old.open(
        &new_token,
        TokenPurpose::Session,
        now()
    )));
    signer(2)
        .open(&new_token, TokenPurpose::Session, now())
        .unwrap();
    // Without the previous secret, the old token is dead.
    assert!(is_invalid(signer(2).open(
        &old_token,
        TokenPurpose::Session,
        now()
    )));
    assert!(matches!(
        UsersConfig::new([2; 32])
            .unwrap()
            .previous_secrets([[1u8; 31]]),
        Err(UsersError::Config(_))
    ));
}

#[test]
fn each_purpose_has_its_own_key() {
    // The MAC keys differ: a token re-labelled with another purpose byte fails its MAC
    // even before the purpose check.
    let (signer, alice) = (signer(1), alice());
    let keys = &signer.keys[0];
    let distinct: std::collections::HashSet<_> = super::PURPOSES
        .iter()
        .flat_map(|p| [*keys.mac[p.index()], *keys.binding[p.index()]])
        .collect();
    assert_eq!(distinct.len(), 2 * super::PURPOSES.len());
    assert_ne!(
        keys.binding(TokenPurpose::Verification, &alice),
        keys.binding(TokenPurpose::PasswordReset, &alice)
    );
}

#[test]
fn debug_redacts_the_secret() {
    assert!(!format!("{:?}", signer(0x41)).contains("65"));
}
