//! Email normalisation: the one function every write and every lookup goes through.

use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

use crate::UsersError;

/// The longest email address accepted, in bytes (RFC 5321's path limit less the brackets).
pub const MAX_EMAIL_BYTES: usize = 254;

/// Trims and lowercases an email address and checks that it is well formed.
///
/// The rules are deliberately simple and strict: exactly one `@`, a non-empty local part and
/// domain, no whitespace, control or invisible formatting characters inside (a zero-width space
/// would make a lookalike of another address), and at most [`MAX_EMAIL_BYTES`] bytes. The
/// result is lowercased (Unicode-aware, so `ÉMILE@Example.COM` becomes `émile@example.com`) and
/// in Unicode normal form C, so the two ways of writing `é` are the same address. Applying it
/// twice gives the same result as applying it once.
///
/// ```
/// use users_core::normalize_email;
///
/// assert_eq!(normalize_email("  Alice@Example.COM ").unwrap(), "alice@example.com");
/// assert!(normalize_email("not-an-email").is_err());
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
    // Every lookup normalises, so the usual case takes the short way: ASCII has no invisible
    // characters, lowercases byte by byte and is already in normal form C.
    let ascii = email.is_ascii();
    let spaced = if ascii {
        email
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    } else {
        email.chars().any(|c| c.is_whitespace() || c.is_control())
    };
    if spaced {
        return invalid("it contains whitespace or control characters");
    }
    if !ascii && email.chars().any(is_invisible) {
        return invalid("it contains invisible formatting characters");
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
    let normalized = if ascii {
        email.to_ascii_lowercase()
    } else {
        let lowered = email.to_lowercase();
        // Most non-ASCII text is in normal form C already; the quick check says so cheaply.
        if is_nfc_quick(lowered.chars()) == IsNormalized::Yes {
            lowered
        } else {
            lowered.nfc().collect()
        }
    };
    // Lowercasing can lengthen some characters (e.g. 'İ'), so check the bound again.
    if normalized.len() > MAX_EMAIL_BYTES {
        return invalid("it is longer than 254 bytes");
    }
    Ok(normalized)
}

/// Characters that render as nothing: Unicode's format characters (zero-width spaces and
/// joiners, bidirectional controls, the byte order mark, the soft hyphen, …), variation
/// selectors and the invisible fillers.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
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
