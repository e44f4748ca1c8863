//! The character rules shared by email addresses and role names: which characters are refused
//! because they render as nothing or as something else, and the folding that makes two
//! spellings of one text equal.

use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory};
use icu_properties::{CodePointMapData, CodePointSetData};
use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

use crate::UsersError;

/// The longest role name accepted, in characters (Unicode scalar values) after normalisation.
pub const MAX_ROLE_NAME_CHARS: usize = 64;

/// Normalises a role name to the one spelling stored and compared: every role operation that
/// takes a name (creating, renaming, looking up, `has_role`, `users_with_role`, the guards of
/// users-axum) goes through it, so `"admin "`, `"ADMIN"`, `"ａｄｍｉｎ"` and `"admin"` are one
/// role and a second one of them is [`UsersError::RoleExists`].
///
/// The name is trimmed, runs of inner spaces become one, and it is folded (normal form KC and
/// Unicode lowercasing). It is refused, with [`UsersError::InvalidRoleName`], if it is empty,
/// longer than [`MAX_ROLE_NAME_CHARS`] characters, or holds a control, format,
/// default-ignorable (a zero-width space or joiner, a variation selector), unassigned or
/// private-use character or any whitespace but the space. Applying it twice gives the same
/// result as applying it once.
///
/// ```
/// use users_core::normalize_role_name;
///
/// assert_eq!(normalize_role_name(" Content  Editor ").unwrap(), "content editor");
/// assert_eq!(normalize_role_name("ＡＤＭＩＮ").unwrap(), "admin");
/// assert!(normalize_role_name("ad\u{200B}min").is_err());
/// ```
pub fn normalize_role_name(name: &str) -> Result<String, UsersError> {
    let name = name.trim();
    match plain_role_name(name) {
        Some(plain) => Ok(plain),
        None => folded_role_name(name),
    }
}

/// A permission's name as roles hold it: normalised and validated by the rules of role
/// names ([`normalize_role_name`]), e.g. `" Posts.Edit"` is `"posts.edit"`.
///
/// ```
/// use users_core::normalize_permission;
///
/// assert_eq!(normalize_permission(" Posts.Edit").unwrap(), "posts.edit");
/// assert!(normalize_permission("posts\u{200B}.edit").is_err());
/// ```
///
/// # Errors
///
/// [`UsersError::InvalidPermission`] for a name no role name could be.
pub fn normalize_permission(name: &str) -> Result<String, UsersError> {
    normalize_role_name(name).map_err(|error| match error {
        UsersError::InvalidRoleName(reason) => UsersError::InvalidPermission(reason),
        other => other,
    })
}

/// [`normalize_role_name`] of a trimmed name, through the Unicode tables.
fn folded_role_name(name: &str) -> Result<String, UsersError> {
    let invalid = |reason: &str| Err(UsersError::InvalidRoleName(reason.to_owned()));
    if name.is_empty() {
        return invalid("it is empty");
    }
    // Bounded before folding, which can lengthen a character up to 18 times.
    if name.chars().count() > MAX_ROLE_NAME_CHARS {
        return invalid("it is longer than 64 characters");
    }
    let words: Vec<&str> = name.split(' ').filter(|word| !word.is_empty()).collect();
    let name = words.join(" ");
    if name.chars().any(|c| c != ' ' && is_refused(c)) {
        return invalid("it contains whitespace, control or invisible formatting characters");
    }
    let folded = fold(&name);
    if folded.chars().count() > MAX_ROLE_NAME_CHARS {
        return invalid("it is longer than 64 characters");
    }
    // Folding can make spaces (U+3000 is refused before, but compatibility characters are
    // not all whitespace), so the folded name must follow the same rules.
    if folded != folded.trim()
        || folded.contains("  ")
        || folded.chars().any(|c| c != ' ' && is_refused(c))
    {
        return invalid("it contains whitespace, control or invisible formatting characters");
    }
    Ok(folded)
}

/// A trimmed ASCII role name that folding would only lowercase, lowercased in one allocation:
/// no control characters, single spaces, at most [`MAX_ROLE_NAME_CHARS`]; `None` for anything
/// else, which the general path decides. `has_role` checks carry such names; a property test
/// checks that both paths agree.
fn plain_role_name(name: &str) -> Option<String> {
    let plain = !name.is_empty()
        && name.len() <= MAX_ROLE_NAME_CHARS
        && name.bytes().all(|b| b.is_ascii() && !b.is_ascii_control())
        && !name.contains("  ");
    plain.then(|| name.to_ascii_lowercase())
}

/// Whether `c` is refused in an identifier (an email address or a role name): whitespace,
/// control characters, format characters (zero-width spaces and joiners, bidirectional
/// controls, the soft hyphen, U+0600, U+1D173, U+1BCA0, …), every other default-ignorable
/// code point (variation selectors such as U+E0100, fillers, reserved ones such as U+FFF0),
/// unassigned and private-use code points, and the blank braille pattern U+2800, which draws
/// as a space. Each would let two identifiers look alike and differ.
pub(crate) fn is_refused(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control() || c == ' ';
    }
    if c.is_whitespace() || c == '\u{2800}' {
        return true;
    }
    if CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c) {
        return true;
    }
    matches!(
        CodePointMapData::<GeneralCategory>::new().get(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::Unassigned
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::SpaceSeparator
    )
}

/// `text` in normal form KC and lowercased (Unicode-aware), the folding under which two
/// spellings of one identifier compare equal: `ＡＤＭＩＮ`, `Admin` and `admin` fold alike, and
/// so do the two ways of writing `é`. Applying it twice gives the same result as once.
pub(crate) fn fold(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    // NFKC first (U+210C, black-letter H, becomes a capital H), then lowercase, then NFKC again
    // since lowercasing can leave text that is not in normal form.
    let mut folded = nfkc(&nfkc(text).to_lowercase());
    // Lowercasing a few compatibility results again can change them once more; stop at the
    // fixed point so that folding is idempotent.
    for _ in 0..4 {
        let again = nfkc(&folded.to_lowercase());
        if again == folded {
            break;
        }
        folded = again;
    }
    folded
}

fn nfkc(text: &str) -> String {
    if is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        text.to_owned()
    } else {
        text.nfkc().collect()
    }
}

/// `text` cut to at most `max` bytes, at a character boundary: how client keys and user agents
/// are kept to the size their stores hold.
pub(crate) fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        /// The ASCII fast path for role names gives what folding gives: names of every ASCII
        /// shape, with spaces, tabs, controls and upper case, up to past the length limit.
        #[test]
        fn the_plain_role_name_path_agrees_with_folding(name in "[a-zA-Z0-9 _.:\t\x01-]{0,70}") {
            let name = name.trim();
            if let Some(plain) = plain_role_name(name) {
                proptest::prop_assert_eq!(Some(plain), folded_role_name(name).ok());
            }
        }
    }

    #[test]
    fn invisible_and_blank_characters_are_refused() {
        for c in [
            '\u{200B}',
            '\u{200D}',
            '\u{FEFF}',
            '\u{AD}',
            '\u{202E}',
            '\u{E0100}',
            '\u{1D173}',
            '\u{1BCA0}',
            '\u{0600}',
            '\u{FFF0}',
            '\u{2800}',
            '\u{3164}',
            '\u{180E}',
            '\u{0}',
            '\u{7F}',
            '\u{85}',
            '\u{A0}',
            '\u{3000}',
            '\u{E000}',
            '\u{2028}',
        ] {
            assert!(is_refused(c), "{c:?} should be refused");
        }
        for c in ['a', 'Z', '0', '-', 'é', 'ß', '東', '🦀', 'ａ'] {
            assert!(!is_refused(c), "{c:?} should be allowed");
        }
    }

    #[test]
    fn role_names_fold_to_one_spelling_or_are_refused() {
        for same in [
            "admin",
            "admin ",
            " ADMIN",
            "Admin",
            "ａｄｍｉｎ",
            "ＡＤＭＩＮ",
        ] {
            assert_eq!(normalize_role_name(same).unwrap(), "admin", "{same:?}");
        }
        assert_eq!(
            normalize_role_name("content   editor").unwrap(),
            "content editor"
        );
        let too_long = "a".repeat(MAX_ROLE_NAME_CHARS + 1);
        let fits = "a".repeat(MAX_ROLE_NAME_CHARS);
        assert_eq!(normalize_role_name(&fits).unwrap(), fits);
        for bad in [
            "",
            "   ",
            "ad\u{200B}min",
            "admin\u{200D}",
            "\u{FEFF}admin",
            "ad\u{AD}min",
            "admin\u{E0100}",
            "ad\tmin",
            "ad\nmin",
            "ad\u{0}min",
            "ad\u{3000}min",
            "ad\u{2800}min",
            too_long.as_str(),
            &"a".repeat(5_000),
            // Sixty-four characters that fold into more than sixty-four.
            &"\u{FDFA}".repeat(10),
        ] {
            assert!(
                matches!(
                    normalize_role_name(bad),
                    Err(UsersError::InvalidRoleName(_))
                ),
                "{bad:?} should be refused"
            );
        }
        let once = normalize_role_name("İstanbul ＯＰＳ").unwrap();
        assert_eq!(normalize_role_name(&once).unwrap(), once);
    }

    #[test]
    fn folding_is_nfkc_and_lowercase() {
        assert_eq!(fold("ADMIN"), "admin");
        assert_eq!(fold("ａｄｍｉｎ"), "admin");
        assert_eq!(fold("ＡＤＭＩＮ"), "admin");
        assert_eq!(fold("e\u{301}"), "\u{E9}");
        assert_eq!(fold("\u{210C}"), "h");
        assert_eq!(fold("ﬀ"), "ff");
        for text in ["İstanbul", "ΣΑΣ", "\u{212A}", "Ǆ", "ẞ"] {
            assert_eq!(fold(&fold(text)), fold(text), "{text:?}");
        }
    }
}
