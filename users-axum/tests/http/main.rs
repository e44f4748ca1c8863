//! users-axum over real HTTP: each test serves the router (plus a few application routes that
//! use the extractors and guard layers) on 127.0.0.1 at a random port, over a private database
//! of each enabled backend, and drives it with reqwest.
//!
//! The SQLite tests run in the default `cargo test`; the PostgreSQL and MySQL ones with those
//! features (`cargo test --all-features`). One test binary, split by the router's areas, with
//! what they share in [`support`]: each area lists its tests with `http_tests!`, which runs each
//! on every enabled backend (`auth::sqlite::…`, `auth::postgres::…`, `auth::mysql::…`).
//!
//! Also here, as modules of the same binary: the sign-in with a provider against a real
//! oidc-provider ([`oauth`], feature `oidc`), users-axum's Redis stores against a real Redis
//! ([`redis_stores`], features `redis` and `sqlite`), and two server processes sharing one
//! database and one Redis ([`multi_process`], features `postgres` and `redis`).

mod support;

mod admin;
mod auth;
mod events;
mod factors;
mod guarded;
mod guards;
mod me;
mod multi_process;
mod oauth;
mod openapi;
mod orgs;
mod passkeys;
mod redis_stores;
mod router;
mod sessions;
mod throttle;
