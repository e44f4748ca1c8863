//! Test support for the users workspace: connections to a fresh, private database per test on
//! every enabled backend. Not published.
