//! `users-bench`: each workload of issue #6 run through the `users` framework and through
//! hand-written Diesel doing the same SQL work, side by side, on every enabled backend.
//!
//! ```text
//! cargo run --release -p users-bench --features postgres,mysql [-- --scale 0.1 --rounds 3 --only W3,W4]
//! ```
//!
//! Options (or the environment variables in brackets):
//!
//! - `--scale F` (`USERS_BENCH_SCALE`): multiply every workload's size by `F` (default 1).
//! - `--rounds N` (`USERS_BENCH_ROUNDS`): how often each slice of each side runs, the fastest
//!   kept (default 5).
//! - `--smoke`: `--scale 0.01 --rounds 1`, to check that everything runs.
//! - `--only W1,W3`: run only these workloads (W2 always runs: it inserts the users); `FLOOD`
//!   is the login flood (see `flood`), which runs after the workloads, on SQLite; `HTTP` the
//!   per-request cost of a session over HTTP (see `http`), on SQLite and PostgreSQL; `POOL`
//!   lookups over a pool with many clients and the memory of a session and of a connection,
//!   `SCALEOUT` the HTTP requests spread over 1, 2 and 4 server processes (see `scale`), last.
//! - `--backends sqlite,mysql`: run only on these of the compiled-in backends.
//!
//! SQLite always runs; PostgreSQL (`USERS_TEST_POSTGRES_URL`, default
//! `postgres://root@127.0.0.1:5432/test`) and MySQL/MariaDB (`USERS_TEST_MYSQL_URL`, default
//! `mysql://root@127.0.0.1:3306/test`) with the `postgres` and `mysql` features. Each backend
//! gets a private schema, database or file holding both sides' tables, used by both sides over
//! one connection and dropped at the end.

mod db;
#[cfg(feature = "sqlite")]
mod flood;
mod http;
mod measure;
mod models;
mod scale;
#[cfg(feature = "postgres")]
mod scaleout;
mod workloads;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::SaltString;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};

use workloads::{Bench, Shared, Sizes, PASSWORD};

/// Every fallible step of the benchmark.
pub type Result<T, E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;

struct Options {
    scale: f64,
    rounds: usize,
    only: Option<Vec<String>>,
    backends: Option<Vec<String>>,
}

impl Options {
    fn parse() -> Result<Self> {
        let env = |name: &str| std::env::var(name).ok();
        let mut options = Options {
            scale: env("USERS_BENCH_SCALE").map_or(Ok(1.0), |s| s.parse())?,
            rounds: env("USERS_BENCH_ROUNDS").map_or(Ok(5), |s| s.parse())?,
            only: None,
            backends: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "--scale" => options.scale = value()?.parse()?,
                "--rounds" => options.rounds = value()?.parse()?,
                "--only" => {
                    let ids = value()?
                        .split(',')
                        .map(|w| w.trim().to_uppercase())
                        .collect();
                    options.only = Some(ids);
                }
                "--backends" => {
                    let names = value()?
                        .split(',')
                        .map(|b| b.trim().to_lowercase())
                        .collect();
                    options.backends = Some(names);
                }
                "--smoke" => (options.scale, options.rounds) = (0.01, 1),
                "-h" | "--help" => {
                    println!(
                        "users-bench [--scale F] [--rounds N] [--smoke] [--only W1,W3] [--backends sqlite,mysql]\n\
                         see the README's Performance section"
                    );
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other:?}; try --help").into()),
            }
        }
        if !options.scale.is_finite() || options.scale <= 0.0 {
            return Err("--scale must be positive".into());
        }
        Ok(options)
    }

    fn selected(&self, workload: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|ids| ids.iter().any(|id| id == workload))
    }

    #[allow(dead_code)] // unused when only SQLite is compiled in and asked for
    fn backend(&self, backend: &str) -> bool {
        self.backends
            .as_ref()
            .is_none_or(|names| names.iter().any(|name| name == backend))
    }
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("--serve") {
        #[cfg(feature = "postgres")]
        return scaleout::serve(args);
        #[cfg(not(feature = "postgres"))]
        return Err("--serve needs the postgres feature".into());
    }
    let options = Options::parse()?;
    let sizes = Sizes::scaled(options.scale);
    // argon2id at the framework's defaults (OWASP): m = 19456 KiB, t = 2, p = 1.
    let argon2 = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None)?,
    );
    let hash = |password: &str| -> Result<String> {
        let salt = SaltString::generate(&mut OsRng);
        Ok(argon2
            .hash_password(password.as_bytes(), &salt)?
            .to_string())
    };
    let shared = Shared {
        secret: [7; 32],
        password_hash: hash(PASSWORD)?,
        dummy_hash: hash("a password nobody has")?,
        argon2: argon2.clone(),
        sizes,
        rounds: options.rounds,
    };
    println!(
        "users-bench: scale {}, {} rounds, sides interleaved, fastest run of each slice kept; ratio = framework / hand-written speed\n",
        options.scale, options.rounds
    );
    println!("{}", measure::header());
    let selected = |workload: &str| options.selected(workload);
    #[cfg(feature = "sqlite")]
    if options.backend("sqlite") {
        Bench::new("sqlite", db::sqlite, &shared)?.run(&selected)?;
    }
    #[cfg(feature = "postgres")]
    if options.backend("postgres") {
        Bench::new("postgres", db::postgres, &shared)?.run(&selected)?;
    }
    #[cfg(feature = "mysql")]
    if options.backend("mysql") {
        Bench::new("mysql", db::mysql, &shared)?.run(&selected)?;
    }
    #[cfg(feature = "sqlite")]
    if options.selected("FLOOD") && options.backend("sqlite") {
        flood::run(options.scale)?;
    }
    if options.selected("HTTP") {
        http::run(options.scale, options.rounds, |name| options.backend(name))?;
    }
    if options.selected("POOL") {
        scale::run_pool(options.scale, options.rounds, |name| options.backend(name))?;
    }
    #[cfg(feature = "postgres")]
    if options.selected("SCALEOUT") && options.backend("postgres") {
        scaleout::run(options.scale, options.rounds)?;
    }
    Ok(())
}
