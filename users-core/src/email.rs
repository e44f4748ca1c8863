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
    let invalid = |reason: &str| Err(UsersError::InvalidEmail(reason.to_owned()));
    if email.is_empty() {
        return invalid("it is empty");
    }
    if email.len() > MAX_EMAIL_BYTES {
        return invalid("it is longer than 254 bytes");
    }
    if email.chars().any(is_refused) {
        return invalid("it contains whitespace, control or invisible formatting characters");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return invalid("it has no '@'");
    };
    if domain.contains('@') {
        return invalid("it has more than one '@'");
    }
    if local.is_empty() {
        return invalid("the part before '@' is empty");
    }
    if domain.is_empty() {
        return invalid("the part after '@' is empty");
    }
    // Normalise first, then check: normal form KC turns a fullwidth '＠' or '＜' into ASCII.
    let local = fold(local);
    if local.chars().any(is_refused) {
        return invalid("the part before '@' contains invisible formatting characters");
    }
    if !local.chars().all(is_local_part_char) {
        return invalid("the part before '@' has a character that is not allowed there");
    }
    let domain = normalize_domain(domain)?;
    let normalized = format!("{local}@{domain}");
    if normalized.len() > MAX_EMAIL_BYTES {
        return invalid("it is longer than 254 bytes");
    }
    Ok(normalized)
}

/// WHATWG's `atext` and `.`, or any non-ASCII character (internationalised addresses).
fn is_local_part_char(c: char) -> bool {
    !c.is_ascii() || c.is_ascii_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c)
}

/// The domain through IDNA: its ASCII form must be WHATWG-valid labels; returns its Unicode
/// form, the one spelling stored for all the spellings of the domain.
fn normalize_domain(domain: &str) -> Result<String, UsersError> {
    let invalid = |reason: &str| UsersError::InvalidEmail(reason.to_owned());
    let uts46 = Uts46::new();
    let ascii = uts46
        .to_ascii(
            domain.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::CheckFirstLast,
            DnsLength::Verify,
        )
        .map_err(|_| invalid("the domain is not a valid (internationalised) domain name"))?;
    let valid_label = |label: &str| {
        (1..=MAX_LABEL_BYTES).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if !ascii.split('.').all(valid_label) {
        return Err(invalid(
            "each label of the domain must be 1 to 63 letters, digits or inner hyphens",
        ));
    }
    let (unicode, decoded) = uts46.to_unicode(
        ascii.as_bytes(),
        AsciiDenyList::STD3,
        Hyphens::CheckFirstLast,
    );
    if decoded.is_err() || unicode.chars().any(is_refused) {
        return Err(invalid(
            "the domain is not a valid (internationalised) domain name",
        ));
    }
    Ok(unicode.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

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
