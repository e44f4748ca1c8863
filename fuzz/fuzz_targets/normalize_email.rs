//! Arbitrary bytes, read as an email address, normalised: never a panic, and what is accepted
//! is well formed and a fixed point.

#![no_main]

use libfuzzer_sys::fuzz_target;
use users_core::{normalize_email, MAX_EMAIL_BYTES};

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    if let Ok(normalized) = normalize_email(&input) {
        assert_eq!(
            normalize_email(&normalized).ok().as_deref(),
            Some(normalized.as_str()),
            "not idempotent on {input:?}"
        );
        assert!(normalized.len() <= MAX_EMAIL_BYTES);
        assert_eq!(normalized.matches('@').count(), 1);
        assert!(!normalized.starts_with('@') && !normalized.ends_with('@'));
        assert!(!normalized
            .chars()
            .any(|c| c.is_whitespace() || c.is_control()));
    }
});
