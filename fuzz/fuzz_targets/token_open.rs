//! Arbitrary bytes, read as a token, opened with a fixed signer: never a panic, never a token.

#![no_main]

use std::sync::LazyLock;
use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use users_core::{TokenPurpose, TokenSigner, UsersConfig, UsersError};

static SIGNER: LazyLock<TokenSigner> = LazyLock::new(|| {
    TokenSigner::new(
        &UsersConfig::new(*b"a fixed fuzzing secret, 32 bytes").expect("a valid secret"),
    )
});

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for purpose in [
        TokenPurpose::Verification,
        TokenPurpose::PasswordReset,
        TokenPurpose::Session,
    ] {
        // Without the secret, no input can carry a valid MAC.
        match SIGNER.open(&token, purpose, now) {
            Err(UsersError::InvalidToken) => {}
            other => panic!("{token:?} opened as {other:?}"),
        }
    }
});
