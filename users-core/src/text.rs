//! The character rules shared by email addresses and role names: which characters are refused
//! because they render as nothing or as something else, and the folding that makes two
//! spellings of one text equal.

use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory};
use icu_properties::{CodePointMapData, CodePointSetData};
use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_and_blank_characters_are_refused() {
        for c in [
            '\u{200B}', '\u{200D}', '\u{FEFF}', '\u{AD}', '\u{202E}', '\u{E0100}', '\u{1D173}',
            '\u{1BCA0}', '\u{0600}', '\u{FFF0}', '\u{2800}', '\u{3164}', '\u{180E}', '\u{0}',
            '\u{7F}', '\u{85}', '\u{A0}', '\u{3000}', '\u{E000}', '\u{2028}',
        ] {
            assert!(is_refused(c), "{c:?} should be refused");
        }
        for c in ['a', 'Z', '0', '-', 'é', 'ß', '東', '🦀', 'ａ'] {
            assert!(!is_refused(c), "{c:?} should be allowed");
        }
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
