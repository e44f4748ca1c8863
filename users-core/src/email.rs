//! Email normalisation: the one function every write and every lookup goes through.

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

use crate::text::{fold, is_refused};
use crate::UsersError;

/// The longest email address accepted, in bytes (RFC 5321's path limit less the brackets).
pub const MAX_EMAIL_BYTES: usize = 254;

/// The longest label of a domain, in bytes of its ASCII (punycode) form.
const MAX_LABEL_BYTES: usize = 63;

/// Trims an email address, checks that it is well formed and returns its one stored spelling.
///
/// The address must be a WHATWG HTML "valid e-mail address", extended to internationalised
/// addresses (RFC 6531):
///
/// - exactly one `@`, at most [`MAX_EMAIL_BYTES`] bytes before and after normalisation;
/// - no whitespace, control, format, default-ignorable (zero-width spaces and joiners,
///   variation selectors such as U+E0100, U+FFF0), unassigned or private-use character and no
///   U+2800 (blank braille) anywhere: each would make a lookalike of another address;
/// - the local part, after normal form KC and Unicode lowercasing (so `ＡＬＩＣＥ`, `Alice` and
///   `alice` are one address, and so are the two ways of writing `é`), is made of the ASCII
///   letters, digits and ``.!#$%&'*+/=?^_`{|}~-`` (WHATWG's `atext` and `.`) and non-ASCII
///   characters;
/// - the domain goes through IDNA (UTS #46 with the STD3 rules, Unicode lowercasing and
///   normal form KC): each label of its ASCII (punycode) form is letters, digits and hyphens,
///   1 to 63 of them, neither starting nor ending with a hyphen. The stored domain is the
///   Unicode form of that ASCII form, so `bücher.de`, `BÜCHER.de` and `xn--bcher-kva.de` are
///   one domain, stored `bücher.de`.
///
/// Applying it twice gives the same result as applying it once.
///
/// ```
/// use users_core::normalize_email;
///
/// assert_eq!(normalize_email("  Alice@Example.COM ").unwrap(), "alice@example.com");
/// assert_eq!(normalize_email("émile@xn--bcher-kva.de").unwrap(), "émile@bücher.de");
/// assert!(normalize_email("not-an-email").is_err());
/// assert!(normalize_email("<script>@example.com").is_err());
/// ```
pub fn normalize_email(email: &str) -> Result<String, UsersError> {
    let email = email.trim();
    if let Some(normalized) = plain_email(email) {
        return Ok(normalized);
    }
    let invalid = |problem: EmailProblem| Err(UsersError::InvalidEmail(problem));
    if email.is_empty() {
        return invalid(EmailProblem::Empty);
    }
    if email.len() > MAX_EMAIL_BYTES {
        return invalid(EmailProblem::TooLong);
    }
    if email.chars().any(is_refused) {
        return invalid(EmailProblem::Invisible);
    }
    let Some((local, domain)) = email.split_once('@') else {
        return invalid(EmailProblem::NoAt);
    };
    if domain.contains('@') {
        return invalid(EmailProblem::ManyAts);
    }
    if local.is_empty() {
        return invalid(EmailProblem::EmptyLocalPart);
    }
    if domain.is_empty() {
        return invalid(EmailProblem::EmptyDomain);
    }
    // Normalise first, then check: normal form KC turns a fullwidth '＠' or '＜' into ASCII.
    let local = fold(local);
    if local.chars().any(is_refused) {
        return invalid(EmailProblem::Invisible);
    }
    if !local.chars().all(is_local_part_char) {
        return invalid(EmailProblem::LocalPartCharacter);
    }
    let domain = normalize_domain(domain)?;
    let normalized = format!("{local}@{domain}");
    if normalized.len() > MAX_EMAIL_BYTES {
        return invalid(EmailProblem::TooLong);
    }
    Ok(normalized)
}

/// Why an email address was refused ([`UsersError::InvalidEmail`]).
///
/// Its `Display` is a short sentence for people ("it has no '@'"); [`code`](Self::code) is a
/// stable name for programs. None of the variants quotes the address. More variants may come
/// with more rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmailProblem {
    /// The address is empty (or only whitespace).
    Empty,
    /// The address is longer than [`MAX_EMAIL_BYTES`].
    TooLong,
    /// The address holds whitespace, control or invisible formatting characters.
    Invisible,
    /// The address has no `@`.
    NoAt,
    /// The address has more than one `@`.
    ManyAts,
    /// The part before the `@` is empty.
    EmptyLocalPart,
    /// The part after the `@` is empty.
    EmptyDomain,
    /// The part before the `@` has a character that is not allowed there.
    LocalPartCharacter,
    /// The domain is not a valid (internationalised) domain name.
    BadDomain,
    /// A label of the domain is not 1 to 63 letters, digits or inner hyphens.
    BadDomainLabel,
    /// A provider signed the person in without an address.
    Missing,
    /// An email change to the address the account has already.
    Unchanged,
    /// A prefix to list users by holds whitespace or control characters.
    BadPrefix,
}

impl EmailProblem {
    /// A stable snake_case name of the rule that was broken, for programs: `empty`,
    /// `too_long`, `invisible`, `no_at`, `many_ats`, `empty_local_part`, `empty_domain`,
    /// `local_part_character`, `bad_domain`, `bad_domain_label`, `missing`, `unchanged` or
    /// `bad_prefix`.
    pub fn code(&self) -> &'static str {
        match self {
            EmailProblem::Empty => "empty",
            EmailProblem::TooLong => "too_long",
            EmailProblem::Invisible => "invisible",
            EmailProblem::NoAt => "no_at",
            EmailProblem::ManyAts => "many_ats",
            EmailProblem::EmptyLocalPart => "empty_local_part",
            EmailProblem::EmptyDomain => "empty_domain",
            EmailProblem::LocalPartCharacter => "local_part_character",
            EmailProblem::BadDomain => "bad_domain",
            EmailProblem::BadDomainLabel => "bad_domain_label",
            EmailProblem::Missing => "missing",
            EmailProblem::Unchanged => "unchanged",
            EmailProblem::BadPrefix => "bad_prefix",
        }
    }

    /// Every problem, for documents that list the codes.
    pub const ALL: [EmailProblem; 13] = [
        EmailProblem::Empty,
        EmailProblem::TooLong,
        EmailProblem::Invisible,
        EmailProblem::NoAt,
        EmailProblem::ManyAts,
        EmailProblem::EmptyLocalPart,
        EmailProblem::EmptyDomain,
        EmailProblem::LocalPartCharacter,
        EmailProblem::BadDomain,
        EmailProblem::BadDomainLabel,
        EmailProblem::Missing,
        EmailProblem::Unchanged,
        EmailProblem::BadPrefix,
    ];
}

impl std::fmt::Display for EmailProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EmailProblem::Empty => "it is empty",
            EmailProblem::TooLong => "it is longer than 254 bytes",
            EmailProblem::Invisible => {
                "it contains whitespace, control or invisible formatting characters"
            }
            EmailProblem::NoAt => "it has no '@'",
            EmailProblem::ManyAts => "it has more than one '@'",
            EmailProblem::EmptyLocalPart => "the part before '@' is empty",
            EmailProblem::EmptyDomain => "the part after '@' is empty",
            EmailProblem::LocalPartCharacter => {
                "the part before '@' has a character that is not allowed there"
            }
            EmailProblem::BadDomain => "the domain is not a valid (internationalised) domain name",
            EmailProblem::BadDomainLabel => {
                "each label of the domain must be 1 to 63 letters, digits or inner hyphens"
            }
            EmailProblem::Missing => "the provider gave no email address",
            EmailProblem::Unchanged => "this is the account's address already",
            EmailProblem::BadPrefix => {
                "an email prefix cannot contain whitespace or control characters"
            }
        })
    }
}

/// WHATWG's `atext` and `.`, or any non-ASCII character (internationalised addresses).
fn is_local_part_char(c: char) -> bool {
    !c.is_ascii() || c.is_ascii_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c)
}

/// The domain's one stored spelling: [`plain_domain`] for the common case, IDNA otherwise.
fn normalize_domain(domain: &str) -> Result<String, UsersError> {
    match plain_domain(domain) {
        Some(domain) => Ok(domain),
        None => idna_domain(domain),
    }
}

/// The longest domain IDNA's DNS length check lets through, in bytes.
const MAX_DOMAIN_BYTES: usize = 253;

/// A valid ASCII address whose domain IDNA would only lowercase, lowercased in one allocation;
/// `None` for anything else, which the general path decides (and names the rule it breaks).
/// Logins and lookups mostly carry such addresses; a property test checks that both paths
/// agree.
fn plain_email(email: &str) -> Option<String> {
    if !email.is_ascii() || email.len() > MAX_EMAIL_BYTES {
        return None;
    }
    let (local, domain) = email.split_once('@')?;
    let local_ok = !local.is_empty()
        && local
            .chars()
            .all(|c| !is_refused(c) && is_local_part_char(c));
    (local_ok && is_plain_domain(domain)).then(|| email.to_ascii_lowercase())
}

/// An ASCII domain that IDNA would only lowercase, lowercased; `None` when IDNA must decide
/// (non-ASCII, a punycode `xn--` label, or anything it would refuse, so that its error is the
/// one returned). Lookups and logins mostly carry such domains, and skip IDNA's mapping and
/// normalisation tables; a property test checks that both paths agree.
fn plain_domain(domain: &str) -> Option<String> {
    is_plain_domain(domain).then(|| domain.to_ascii_lowercase())
}

/// Whether [`plain_domain`] takes `domain`.
fn is_plain_domain(domain: &str) -> bool {
    if !domain.is_ascii() || domain.len() > MAX_DOMAIN_BYTES {
        return false;
    }
    let plain = |label: &str| {
        (1..=MAX_LABEL_BYTES).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
            && !label
                .get(..4)
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case("xn--"))
    };
    domain.split('.').all(plain)
}

/// The domain through IDNA: its ASCII form must be WHATWG-valid labels; returns its Unicode
/// form, the one spelling stored for all the spellings of the domain.
fn idna_domain(domain: &str) -> Result<String, UsersError> {
    let invalid = |problem: EmailProblem| UsersError::InvalidEmail(problem);
    let uts46 = Uts46::new();
    let ascii = uts46
        .to_ascii(
            domain.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::CheckFirstLast,
            DnsLength::Verify,
        )
        .map_err(|_| invalid(EmailProblem::BadDomain))?;
    let valid_label = |label: &str| {
        (1..=MAX_LABEL_BYTES).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if !ascii.split('.').all(valid_label) {
        return Err(invalid(EmailProblem::BadDomainLabel));
    }
    let (unicode, decoded) = uts46.to_unicode(
        ascii.as_bytes(),
        AsciiDenyList::STD3,
        Hyphens::CheckFirstLast,
    );
    if decoded.is_err() || unicode.chars().any(is_refused) {
        return Err(invalid(EmailProblem::BadDomain));
    }
    Ok(unicode.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        /// The ASCII fast path gives what IDNA gives, on ASCII domains of every shape: valid,
        /// upper case, punycode-looking, with empty, long or hyphenated labels.
        #[test]
        fn the_plain_domain_path_agrees_with_idna(
            domain in "([a-zA-Z0-9-]{0,12}|[xX][nN]--[a-z0-9]{1,8}|[a-z]{60,66})(\\.([a-zA-Z0-9-]{0,12}|[a-z]{60,66})){0,5}\\.?"
        ) {
            if let Some(plain) = plain_domain(&domain) {
                proptest::prop_assert_eq!(Some(plain), idna_domain(&domain).ok());
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        /// The ASCII fast path for whole addresses gives what the general path gives, on
        /// addresses of every ASCII shape: valid, upper case, with spaces, controls, several
        /// `@`s, refused local-part characters and punycode-looking domains.
        #[test]
        fn the_plain_address_path_agrees_with_the_general_one(
            email in "[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~ \\\t\x01\\\"(),:;<>\\[\\]-]{0,12}@{0,2}([a-zA-Z0-9-]{0,10}|[xX][nN]--[a-z0-9]{1,6})(\\.[a-zA-Z0-9-]{0,10}){0,3}"
        ) {
            let email = email.trim();
            if let Some(plain) = plain_email(email) {
                let general = general_path(email);
                proptest::prop_assert_eq!(Some(plain), general);
            }
        }
    }

    /// [`normalize_email`] without the fast path.
    fn general_path(email: &str) -> Option<String> {
        let (local, domain) = email.split_once('@')?;
        let local = fold(local);
        let refused = local.chars().any(is_refused) || !local.chars().all(is_local_part_char);
        if email.chars().any(is_refused) || refused || domain.contains('@') || local.is_empty() {
            return None;
        }
        let domain = idna_domain(domain).ok()?;
        Some(format!("{local}@{domain}"))
    }

    #[test]
    fn the_plain_address_path_takes_the_common_case_only() {
        assert_eq!(
            plain_email("Alice.Smith+tag@Example.COM").as_deref(),
            Some("alice.smith+tag@example.com")
        );
        assert_eq!(plain_email("a b@example.com"), None);
        assert_eq!(plain_email("a@b@example.com"), None);
        assert_eq!(plain_email("@example.com"), None);
        assert_eq!(plain_email("a\"b@example.com"), None);
        assert_eq!(plain_email("alice@xn--bcher-kva.de"), None);
        assert_eq!(plain_email("ålice@example.com"), None);
        assert_eq!(
            normalize_email("alice@xn--bcher-kva.de").as_deref().ok(),
            Some("alice@bücher.de")
        );
    }

    #[test]
    fn the_plain_domain_path_takes_the_common_case_only() {
        assert_eq!(plain_domain("Example.COM").as_deref(), Some("example.com"));
        assert_eq!(
            plain_domain("mail.example-1.co.uk").as_deref(),
            Some("mail.example-1.co.uk")
        );
        assert_eq!(plain_domain("xn--bcher-kva.de"), None);
        assert_eq!(plain_domain("bücher.de"), None);
        assert_eq!(plain_domain("-a.com"), None);
        assert_eq!(plain_domain("a..com"), None);
        assert_eq!(plain_domain("example.com."), None);
        assert_eq!(plain_domain(&format!("{}.com", "a".repeat(64))), None);
    }

    #[test]
    fn each_refusal_names_its_rule() {
        let problem = |email: &str| match normalize_email(email) {
            Err(UsersError::InvalidEmail(problem)) => problem,
            other => panic!("{email:?}: {other:?}"),
        };
        assert_eq!(problem("   "), EmailProblem::Empty);
        assert_eq!(
            problem(&format!("{}@example.com", "a".repeat(250))),
            EmailProblem::TooLong
        );
        assert_eq!(problem("a b@example.com"), EmailProblem::Invisible);
        assert_eq!(problem("alice.example.com"), EmailProblem::NoAt);
        assert_eq!(problem("a@b@example.com"), EmailProblem::ManyAts);
        assert_eq!(problem("@example.com"), EmailProblem::EmptyLocalPart);
        assert_eq!(problem("alice@"), EmailProblem::EmptyDomain);
        assert_eq!(
            problem("<script>@example.com"),
            EmailProblem::LocalPartCharacter
        );
        assert_eq!(problem("alice@exa_mple.com"), EmailProblem::BadDomain);
        // The message is the problem's sentence; the code, a stable name.
        let error = normalize_email("alice.example.com").unwrap_err();
        assert_eq!(error.to_string(), "invalid email address: it has no '@'");
        let codes: std::collections::HashSet<_> =
            EmailProblem::ALL.iter().map(EmailProblem::code).collect();
        assert_eq!(codes.len(), EmailProblem::ALL.len());
    }

    #[test]
    fn trims_and_lowercases() {
        assert_eq!(
            normalize_email("  Bob@EXAMPLE.org\t").unwrap(),
            "bob@example.org"
        );
        assert_eq!(
            normalize_email("ÉMILE@Bücher.DE").unwrap(),
            "émile@bücher.de"
        );
    }

    #[test]
    fn lookalikes_are_refused_or_folded() {
        for invisible in [
            "alice\u{200B}@example.com",
            "\u{FEFF}alice@example.com",
            "al\u{AD}ice@example.com",
            "alice@exa\u{202E}mple.com",
        ] {
            assert!(normalize_email(invisible).is_err(), "{invisible:?}");
        }
        // 'é' precomposed and as 'e' + combining acute are one address.
        assert_eq!(
            normalize_email("e\u{301}mile@example.com").unwrap(),
            normalize_email("\u{E9}mile@example.com").unwrap()
        );
    }

    #[test]
    fn only_whatwg_valid_addresses_are_accepted() {
        for bad in [
            ".@.",
            "<script>alert(1)</script>@example.com",
            "a\"b@example.com",
            "a(b)@example.com",
            "a,b@example.com",
            "a:b@example.com",
            "a[b]@example.com",
            "a\\b@example.com",
            "a＜b@example.com",
            "a＠b@example.com",
            "alice@-example.com",
            "alice@example-.com",
            "alice@exa_mple.com",
            "alice@example..com",
            "alice@example.com.",
            "alice@.example.com",
            "alice@exa mple.com",
            "alice@exa<mple.com",
            "alice@[127.0.0.1]",
            "alice@xn--.com",
            "alice@xn--zz-zzzzzzzzzzzzzz.com",
        ] {
            assert!(
                matches!(normalize_email(bad), Err(UsersError::InvalidEmail(_))),
                "{bad:?} should be rejected"
            );
        }
        let label = "a".repeat(63);
        assert!(normalize_email(&format!("x@{label}.com")).is_ok());
        assert!(normalize_email(&format!("x@{label}a.com")).is_err());
        for good in [
            "a.b+tag@example.com",
            "o'brien@example.com",
            "!#$%&'*+/=?^_`{|}~-@example.com",
            "user@localhost",
            "user@123.example",
            "user@ex-am-ple.com",
        ] {
            assert!(normalize_email(good).is_ok(), "{good:?} should be accepted");
        }
    }

    #[test]
    fn default_ignorable_and_format_characters_are_refused() {
        for c in [
            '\u{E0100}',
            '\u{1D173}',
            '\u{1BCA0}',
            '\u{0600}',
            '\u{FFF0}',
            '\u{2800}',
            '\u{200B}',
            '\u{2060}',
            '\u{180E}',
            '\u{3164}',
            '\u{E000}',
        ] {
            for email in [
                format!("alice{c}@example.com"),
                format!("{c}alice@example.com"),
                format!("alice@exam{c}ple.com"),
            ] {
                assert!(
                    matches!(normalize_email(&email), Err(UsersError::InvalidEmail(_))),
                    "{email:?} should be rejected"
                );
            }
        }
    }

    #[test]
    fn compatibility_spellings_fold_and_domains_go_through_idna() {
        let alice = normalize_email("alice@example.com").unwrap();
        assert_eq!(normalize_email("ａｌｉｃｅ@example.com").unwrap(), alice);
        assert_eq!(
            normalize_email("ＡＬＩＣＥ@ＥＸＡＭＰＬＥ.ＣＯＭ").unwrap(),
            alice
        );
        assert_eq!(normalize_email("alice@example。com").unwrap(), alice);
        let unicode = normalize_email("émile@bücher.de").unwrap();
        assert_eq!(unicode, "émile@bücher.de");
        assert_eq!(normalize_email("ÉMILE@XN--BCHER-KVA.DE").unwrap(), unicode);
        assert_eq!(
            normalize_email("e\u{301}mile@bu\u{308}cher.de").unwrap(),
            unicode
        );
        assert_eq!(normalize_email(&unicode).unwrap(), unicode);
    }

    #[test]
    fn is_idempotent() {
        let once = normalize_email(" MiXeD@Case.Example ").unwrap();
        assert_eq!(normalize_email(&once).unwrap(), once);
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "",
            "   ",
            "plain",
            "@example.com",
            "alice@",
            "a@b@c",
            "al ice@example.com",
            "alice@exa\u{7}mple.com",
            "alice@example.com\u{0}",
        ] {
            assert!(
                matches!(normalize_email(bad), Err(UsersError::InvalidEmail(_))),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn enforces_the_length_bound_in_bytes() {
        let domain = "@example.com";
        let fits = format!("{}{domain}", "a".repeat(MAX_EMAIL_BYTES - domain.len()));
        assert_eq!(normalize_email(&fits).unwrap().len(), MAX_EMAIL_BYTES);
        let too_long = format!("{}{domain}", "a".repeat(MAX_EMAIL_BYTES - domain.len() + 1));
        assert!(normalize_email(&too_long).is_err());
        // 'é' is two bytes: 127 of them are 254 bytes before the domain is even added.
        assert!(normalize_email(&format!("{}{domain}", "é".repeat(127))).is_err());
    }
}
