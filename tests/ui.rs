//! Compile-fail tests: each misuse is an error at the user's token that says what to write
//! instead. The expected messages are the committed `.stderr` files under `tests/ui/<topic>/`.

// The messages do not depend on the backends, and each backend combination would rebuild
// Diesel for trybuild: run them in the default (SQLite) build only.
#[test]
#[cfg_attr(
    any(feature = "postgres", feature = "mysql"),
    ignore = "compile-fail tests run in the default SQLite build"
)]
fn misuse_is_a_compile_error_with_help() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*/*.rs");
}
