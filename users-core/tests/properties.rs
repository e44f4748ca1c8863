//! Property tests of the pure logic: email normalisation, token opening and password rules,
//! over arbitrary (including hostile) input.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use proptest::collection::vec;
use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;
use users_core::{
    normalize_email, PasswordHasher, PasswordProblem, PasswordVerification, TokenPurpose,
    TokenSigner, UserModel, Users, UsersConfig, UsersError, Uuid, MAX_EMAIL_BYTES,
};

mod support;

support::test_user!();

fn config(secret: [u8; 32]) -> UsersConfig {
    UsersConfig::new(secret)
        .unwrap()
        .argon2_params(8, 1, 1)
        .unwrap()
}

/// Any string at all: every Unicode scalar value, control characters and `@` included.
fn any_string(max_chars: usize) -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..max_chars).prop_map(String::from_iter)
}

/// Characters that may appear in the local part of a well-formed address, with the Unicode
/// case mappings that lengthen ('İ' lowercases to two characters), shorten (the Kelvin and Ohm
/// signs lowercase to ASCII 'k' and Greek 'ω') or depend on context (final sigma), and
/// compatibility characters that normal form KC changes ('ﬀ', fullwidth 'Ａ', 'Ǆ').
fn address_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range('a', 'z'),
        4 => proptest::char::range('A', 'Z'),
        2 => proptest::char::range('0', '9'),
        2 => prop::sample::select(vec!['.', '-', '_', '+', '%', '!', '#', '\'', '~', '`']),
        1 => prop::sample::select(vec![
            'É', 'é', 'Ü', 'ß', 'ẞ', 'İ', '\u{212a}', '\u{2126}', 'Σ', 'σ', 'ς', 'Ǆ', 'ǅ', 'Ω', 'ﬀ',
            '東', '🦀', 'Ａ', 'ｚ',
        ]),
    ]
}

fn address_part(max_chars: usize) -> impl Strategy<Value = String> {
    vec(address_char(), 1..max_chars).prop_map(String::from_iter)
}

/// A domain label: letters, digits, a few non-ASCII letters and inner hyphens.
fn label() -> impl Strategy<Value = String> {
    let letter = prop_oneof![
        4 => proptest::char::range('a', 'z'),
        2 => proptest::char::range('A', 'Z'),
        2 => proptest::char::range('0', '9'),
        1 => prop::sample::select(vec!['é', 'ü', 'Ü', '東']),
    ];
    let inner = prop_oneof![4 => letter.clone(), 1 => Just('-')];
    (letter.clone(), vec(inner, 0..8), letter)
        .prop_map(|(first, inner, last)| format!("{first}{}{last}", String::from_iter(inner)))
        .prop_filter("no hyphens in the third and fourth places", |label| {
            label.get(2..4) != Some("--")
        })
}

/// A well-formed domain of one to four labels.
fn domain() -> impl Strategy<Value = String> {
    vec(label(), 1..5).prop_map(|labels| labels.join("."))
}

/// The local part as `normalize_email` stores it: normal form KC, lowercased, normal form KC.
fn folded(local: &str) -> String {
    let once = local.nfkc().collect::<String>().to_lowercase();
    once.nfkc().collect()
}

/// A well-formed address, possibly over the length bound, with optional surrounding whitespace.
fn address() -> impl Strategy<Value = (String, String, String)> {
    let padding = prop::sample::select(vec!["", " ", "\t", "\n ", "\u{a0}", "\u{3000}"]);
    (padding.clone(), address_part(90), domain(), padding).prop_map(
        |(before, local, domain, after)| {
            let trimmed = format!("{local}@{domain}");
            (format!("{before}{trimmed}{after}"), local, domain)
        },
    )
}

/// Every character that `char::is_whitespace` accepts (Unicode `White_Space`).
const WHITESPACE: &[char] = &[
    '\t', '\n', '\u{b}', '\u{c}', '\r', ' ', '\u{85}', '\u{a0}', '\u{1680}', '\u{2000}',
    '\u{2001}', '\u{2002}', '\u{2003}', '\u{2004}', '\u{2005}', '\u{2006}', '\u{2007}', '\u{2008}',
    '\u{2009}', '\u{200a}', '\u{2028}', '\u{2029}', '\u{202f}', '\u{205f}', '\u{3000}',
];

/// Every control character (Unicode `Cc`).
fn control_char() -> impl Strategy<Value = char> {
    prop_oneof![
        proptest::char::range('\u{0}', '\u{1f}'),
        proptest::char::range('\u{7f}', '\u{9f}'),
    ]
}

/// `text` with `inserted` placed before its character at `position` (modulo its length).
fn insert_at(text: &str, position: usize, inserted: char) -> String {
    let boundaries: Vec<usize> = text.char_indices().map(|(at, _)| at).collect();
    let at = boundaries[position % boundaries.len()];
    format!("{}{inserted}{}", &text[..at], &text[at..])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn email_normalisation_never_panics_and_accepts_only_well_formed_output(
        input in prop_oneof![
            any_string(300),
            any::<String>(),
            address().prop_map(|(a, _, _)| a),
            // Any characters at all in the local part or a domain label, so that many inputs
            // are accepted and folding and IDNA are tried on every script.
            (any_string(20), any_string(8)).prop_map(|(local, label)| format!("{local}@{label}.example")),
        ],
    ) {
        if let Ok(normalized) = normalize_email(&input) {
            prop_assert!(input.trim().len() <= MAX_EMAIL_BYTES);
            prop_assert_eq!(normalized.to_lowercase(), normalized.clone());
            prop_assert!(normalized.len() <= MAX_EMAIL_BYTES);
            prop_assert_eq!(normalized.matches('@').count(), 1);
            let (local, domain) = normalized.split_once('@').unwrap();
            prop_assert!(!local.is_empty() && !domain.is_empty());
            prop_assert!(!normalized.chars().any(|c| c.is_whitespace() || c.is_control()));
            // WHATWG's local-part characters, or non-ASCII; letters, digits and hyphens in
            // the domain's ASCII labels.
            let atext = ".!#$%&'*+/=?^_`{|}~-";
            prop_assert!(local.chars().all(|c| !c.is_ascii()
                || c.is_ascii_alphanumeric()
                || atext.contains(c)));
            prop_assert!(domain.split('.').all(|label| !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| !c.is_ascii() || c.is_ascii_alphanumeric() || c == '-')));
            prop_assert_eq!(normalize_email(&normalized).ok(), Some(normalized.clone()));
        }
    }

    #[test]
    fn well_formed_addresses_are_accepted_exactly_when_they_fit(
        (input, local, domain) in address(),
    ) {
        // The local part folded (normal form KC, lowercased), the domain lowercased (IDNA maps
        // these labels to their lowercase, which is in normal form C already).
        let lowercased = format!("{}@{}", folded(&local), domain.to_lowercase());
        let fits = input.trim().len() <= MAX_EMAIL_BYTES && lowercased.len() <= MAX_EMAIL_BYTES;
        match normalize_email(&input) {
            Ok(normalized) => {
                prop_assert!(fits, "{input:?} is too long but was accepted");
                prop_assert_eq!(normalize_email(&normalized).ok(), Some(normalized.clone()));
                prop_assert_eq!(normalized, lowercased);
            }
            Err(error) => {
                prop_assert!(!fits, "{input:?} was rejected: {error}");
                prop_assert!(matches!(error, UsersError::InvalidEmail(_)));
            }
        }
    }

    #[test]
    fn anything_longer_than_the_bound_after_trimming_is_rejected(
        (input, _, _) in address(),
        filler in address_part(300),
    ) {
        let long = input.replacen('@', &format!("{filler}@"), 1);
        prop_assume!(long.trim().len() > MAX_EMAIL_BYTES);
        prop_assert!(matches!(normalize_email(&long), Err(UsersError::InvalidEmail(_))));
    }

    #[test]
    fn a_control_character_anywhere_is_rejected(
        (input, _, _) in address(),
        position in any::<usize>(),
        control in control_char().prop_filter("trimmed at the ends", |c| !c.is_whitespace()),
    ) {
        let tainted = insert_at(&input, position, control);
        prop_assert!(matches!(normalize_email(&tainted), Err(UsersError::InvalidEmail(_))));
        let at_the_end = format!("{input}{control}");
        prop_assert!(matches!(normalize_email(&at_the_end), Err(UsersError::InvalidEmail(_))));
    }

    #[test]
    fn inner_whitespace_or_control_characters_are_rejected(
        (_, local, domain) in address(),
        position in any::<usize>(),
        inserted in prop_oneof![prop::sample::select(WHITESPACE), control_char()],
    ) {
        // Inserted before any character but the first, it is inside the trimmed address.
        let trimmed = format!("{local}@{domain}");
        let inner = 1 + position % (trimmed.chars().count() - 1);
        let tainted = insert_at(&trimmed, inner, inserted);
        prop_assert!(matches!(normalize_email(&tainted), Err(UsersError::InvalidEmail(_))));
    }
}

// ---------------------------------------------------------------------------------------------

const HOUR: Duration = Duration::from_secs(3600);

fn issued_at() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn purpose() -> impl Strategy<Value = TokenPurpose> {
    prop_oneof![
        Just(TokenPurpose::Verification),
        Just(TokenPurpose::PasswordReset),
        Just(TokenPurpose::Session)
    ]
}

/// A signer, a purpose and a valid token of that purpose for a random user.
fn valid_token() -> impl Strategy<Value = (TokenSigner, TokenPurpose, String)> {
    (
        any::<[u8; 32]>(),
        any::<u128>(),
        any_string(40),
        any_string(40),
        purpose(),
    )
        .prop_map(|(secret, id, email, password_hash, purpose)| {
            let signer = TokenSigner::new(&config(secret));
            let user = TestUser::from_credentials(Uuid::from_u128(id), email, password_hash);
            let token = signer.issue(purpose, &user, issued_at(), HOUR);
            let opened = signer.open(&token, purpose, issued_at()).unwrap();
            assert_eq!(opened.user_id(), user.id);
            signer.check_user(&opened, &user).unwrap();
            (signer, purpose, token)
        })
}

fn is_invalid_token<T>(result: Result<T, UsersError>) -> bool {
    matches!(result, Err(UsersError::InvalidToken))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn opening_an_arbitrary_string_is_an_invalid_token(
        garbage in prop_oneof![any_string(200), any::<String>(), "[A-Za-z0-9_-]{0,200}"],
        purpose in purpose(),
    ) {
        let signer = TokenSigner::new(&config([9; 32]));
        prop_assert!(is_invalid_token(signer.open(&garbage, purpose, issued_at())));
    }

    #[test]
    fn opening_arbitrary_encoded_bytes_is_an_invalid_token(
        // 106 bytes is the length of a real token, which gets as far as the MAC check.
        bytes in prop_oneof![vec(any::<u8>(), 0..200), vec(any::<u8>(), 106)],
        purpose in purpose(),
    ) {
        let signer = TokenSigner::new(&config([9; 32]));
        let encoded = URL_SAFE_NO_PAD.encode(&bytes);
        prop_assert!(is_invalid_token(signer.open(&encoded, purpose, issued_at())));
    }

    #[test]
    fn changing_any_one_character_invalidates_a_token(
        (signer, purpose, token) in valid_token(),
        position in any::<usize>(),
        replacement in prop_oneof![
            4 => prop::sample::select(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".to_vec()
            ).prop_map(char::from),
            1 => any::<char>(),
        ],
    ) {
        let position = position % token.len();
        let mut altered = token.clone();
        altered.replace_range(position..=position, replacement.encode_utf8(&mut [0; 4]));
        prop_assume!(altered != token);
        prop_assert!(is_invalid_token(signer.open(&altered, purpose, issued_at())));
    }

    #[test]
    fn changing_any_one_byte_invalidates_a_token(
        (signer, purpose, token) in valid_token(),
        position in any::<usize>(),
        flip in 1..=u8::MAX,
    ) {
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        let position = position % bytes.len();
        bytes[position] ^= flip;
        let altered = URL_SAFE_NO_PAD.encode(&bytes);
        prop_assert!(is_invalid_token(signer.open(&altered, purpose, issued_at())));
    }

    #[test]
    fn truncating_or_extending_a_token_invalidates_it(
        (signer, purpose, token) in valid_token(),
        kept in any::<usize>(),
        suffix in "[A-Za-z0-9_-]{1,8}",
    ) {
        let truncated = &token[..kept % token.len()];
        prop_assert!(is_invalid_token(signer.open(truncated, purpose, issued_at())));
        let extended = format!("{token}{suffix}");
        prop_assert!(is_invalid_token(signer.open(&extended, purpose, issued_at())));
    }
}

// ---------------------------------------------------------------------------------------------

/// A manager with these length bounds and no strength estimate: the length rules alone.
fn users(min_chars: usize, max_bytes: usize) -> Users<TestUser> {
    Users::new(
        config([5; 32])
            .password_length(min_chars, max_bytes)
            .unwrap()
            .password_strength(0)
            .unwrap(),
    )
}

/// Arbitrary Unicode passwords, of every length around both default bounds.
fn any_password() -> impl Strategy<Value = String> {
    prop_oneof![
        any_string(16),
        any_string(1500),
        // Right around 4096 bytes: ASCII padding, then a few characters of any width.
        (4080usize..4100, vec(any::<char>(), 0..4)).prop_map(|(padding, tail)| {
            let mut password = "p".repeat(padding);
            password.extend(tail);
            password
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn default_rules_accept_exactly_8_characters_to_4096_bytes(password in any_password()) {
        let accepted = password.chars().count() >= 8 && password.len() <= 4096;
        match users(8, 4096).validate_password(&password) {
            Ok(()) => prop_assert!(accepted, "accepted {} bytes: {:?}", password.len(), password),
            Err(UsersError::InvalidPassword(reason)) => {
                prop_assert!(!accepted, "rejected: {reason}");
                prop_assert!(password.len() < 8 || !reason.to_string().contains(&password));
            }
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    #[test]
    fn the_strength_estimate_judges_any_password_without_quoting_it(password in any_password()) {
        let users = Users::<TestUser>::new(config([5; 32]));
        match users.validate_password(&password) {
            Ok(()) => {}
            Err(UsersError::InvalidPassword(problem @ PasswordProblem::TooWeak { .. })) => {
                let shown = format!("{problem} {problem:?}");
                prop_assert!(password.chars().count() < 12 || !shown.contains(&password), "{shown}");
            }
            Err(UsersError::InvalidPassword(
                PasswordProblem::TooShort { .. } | PasswordProblem::TooLong { .. },
            )) => prop_assert!(password.chars().count() < 8 || password.len() > 4096),
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    #[test]
    fn configured_rules_accept_exactly_their_bounds(
        password in any_string(40),
        min_chars in 1usize..20,
        extra in 0usize..60,
    ) {
        let max_bytes = min_chars + extra;
        let accepted = password.chars().count() >= min_chars && password.len() <= max_bytes;
        let result = users(min_chars, max_bytes).validate_password(&password);
        prop_assert_eq!(result.is_ok(), accepted);
    }
}

proptest! {
    // Each case costs an argon2 run or three, even at the cheapest costs.
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn a_hash_verifies_with_its_password_and_no_other(
        password in vec(any::<char>(), 8..64).prop_map(String::from_iter),
        other in vec(any::<char>(), 8..64).prop_map(String::from_iter),
        position in any::<usize>(),
        replacement in any::<char>(),
    ) {
        let hasher = PasswordHasher::new(&config([3; 32]));
        let phc = hasher.hash(&password).unwrap();
        prop_assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{}", phc);
        prop_assert_eq!(hasher.verify(&password, &phc), PasswordVerification::Valid);

        prop_assume!(other != password);
        prop_assert_eq!(hasher.verify(&other, &phc), PasswordVerification::Invalid);

        let mut chars: Vec<char> = password.chars().collect();
        let position = position % chars.len();
        prop_assume!(chars[position] != replacement);
        chars[position] = replacement;
        let one_character_off = String::from_iter(chars);
        prop_assert_eq!(hasher.verify(&one_character_off, &phc), PasswordVerification::Invalid);
    }
}
