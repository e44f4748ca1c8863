//! Unit tests that need the crate-private decision methods, with the hand-written user model of
//! the integration tests.

#[path = "../../tests/support/mod.rs"]
mod support;

mod decisions;
mod passwords;
mod secrets;
