//! `SCALEOUT` (PostgreSQL, and Redis with the `redis` feature): 1, 2 and 4 server processes
//! (this binary, started with `--serve`) behind one PostgreSQL database (stored sessions) or one
//! Redis (stateless sessions, the revocation list there), the clients spread over them; requests
//! per second for each count, then a logout sent to one process and the same token tried at
//! every process, which must answer 401 (the run fails if one does not). Each process stops when
//! this one closes its standard input, or after ten minutes. Printed, never asserted.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use users_axum::UsersState;
use users_diesel::asynchronous::deadpool::Pool;
use users_diesel::{AsyncUsers, UsersConfig};

use crate::http::{round, Side, CLIENTS};
use crate::models::framework::{Role, User};
use crate::scale::{postgres_schema, runtime, POOL};
use crate::workloads::PASSWORD;
use crate::Result;

/// The server process counts.
const PROCESSES: [usize; 3] = [1, 2, 4];
/// How long a `--serve` process lives at most.
const SERVE_AT_MOST: Duration = Duration::from_secs(600);

/// Runs `SCALEOUT`: PostgreSQL's stored sessions and, with the `redis` feature, Redis's
/// revocation list, each with 1, 2 and 4 server processes.
pub fn run(scale: f64, rounds: usize) -> Result<()> {
    let requests = ((4000.0 * scale).round() as usize).max(CLIENTS * 4);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "\nSCALEOUT: GET /users/me spread over N users-axum processes (this binary with --serve, \
         each with a pool of {POOL}) behind one PostgreSQL and one Redis, {} keep-alive clients \
         in this process, {requests} requests a round, fastest of {} rounds; {cores} cores",
        CLIENTS,
        rounds.max(1)
    );
    println!(
        "\n| sessions  | processes | requests/s | p50 ms | p99 ms | × one process | logout at process 1 holds in all |\n\
         |-----------|-----------|------------|--------|--------|---------------|----------------------------------|"
    );
    let (url, drop_schema) = postgres_schema("users_bench_scaleout")?;
    let result = (|| {
        use diesel::Connection;
        crate::http::prepare(&url, |url| Ok(diesel::PgConnection::establish(url)?))?;
        let runtime = runtime()?;
        let mut variants = vec!["database"];
        if cfg!(feature = "redis") {
            variants.push("redis");
        }
        for variant in variants {
            let mut one = None;
            for processes in PROCESSES {
                let servers = Servers::start(processes, variant, &url)?;
                let (side, logout) =
                    runtime.block_on(scaleout_round(&servers, requests, rounds))?;
                let one = *one.get_or_insert(side.per_second);
                println!(
                    "| {variant:<9} | {processes:>9} | {} | {:>13.2} | {:>32} |",
                    side.cells(10),
                    side.per_second / one,
                    if logout { "yes" } else { "NO" }
                );
                if !logout {
                    return Err(format!(
                        "{variant}: a logout at one process did not hold at another"
                    )
                    .into());
                }
            }
        }
        Ok(())
    })();
    drop_schema();
    result
}

/// Server processes started with `--serve`, each on its own port; stopped when dropped (their
/// standard input closes, and they are killed if still running).
struct Servers {
    children: Vec<Child>,
    urls: Vec<String>,
}

impl Servers {
    fn start(count: usize, variant: &str, database_url: &str) -> Result<Self> {
        let mut servers = Servers {
            children: Vec::new(),
            urls: Vec::new(),
        };
        for _ in 0..count {
            let mut child = Command::new(std::env::current_exe()?)
                .args(["--serve", variant, database_url])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()?;
            let stdout = child.stdout.take().ok_or("no stdout")?;
            servers.children.push(child);
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line)?;
            let address = line
                .strip_prefix("listening on ")
                .ok_or_else(|| format!("a server process said {line:?}"))?;
            servers.urls.push(format!("http://{}", address.trim()));
        }
        Ok(servers)
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.children {
            drop(child.stdin.take());
        }
        for child in &mut self.children {
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Signs in at the first process, measures the rounds with the clients spread over every
/// process, then logs out at the first and tries the token at each: the fastest round, and
/// whether every process refused the ended session.
async fn scaleout_round(servers: &Servers, requests: usize, rounds: usize) -> Result<(Side, bool)> {
    let client = reqwest::Client::new();
    let token = sign_in(&client, &servers.urls[0]).await?;
    let me: Vec<String> = servers
        .urls
        .iter()
        .map(|url| format!("{url}/users/me"))
        .collect();
    let mut best: Option<Side> = None;
    for _ in 0..rounds.max(1) {
        let side = round(&client, &me, &token, requests).await?;
        if best.as_ref().is_none_or(|b| side.per_second > b.per_second) {
            best = Some(side);
        }
    }
    client
        .post(format!("{}/auth/logout", servers.urls[0]))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?;
    let mut held = true;
    for url in &me {
        let status = client.get(url).bearer_auth(&token).send().await?.status();
        held &= status == reqwest::StatusCode::UNAUTHORIZED;
    }
    Ok((best.ok_or("no round")?, held))
}

/// Alice's access token from a login at `base`.
async fn sign_in(client: &reqwest::Client, base: &str) -> Result<String> {
    let login = client
        .post(format!("{base}/auth/login"))
        .json(&json!({ "email": "alice@example.com", "password": PASSWORD }))
        .send()
        .await?
        .error_for_status()?
        .json::<Value>()
        .await?;
    Ok(login["access_token"]
        .as_str()
        .ok_or("no access token")?
        .to_owned())
}

/// `--serve VARIANT DATABASE_URL`: one users-axum server over PostgreSQL with `VARIANT`'s
/// sessions (`database`, or `redis`: stateless, the revocation list in Redis at
/// `USERS_TEST_REDIS_URL` under a prefix every process of the run shares). Prints `listening on
/// ADDRESS`, then serves until its standard input closes or [`SERVE_AT_MOST`] has passed.
pub fn serve(mut args: impl Iterator<Item = String>) -> Result<()> {
    let variant = args.next().ok_or("--serve needs a variant")?;
    let url = args.next().ok_or("--serve needs a database URL")?;
    runtime()?.block_on(async move {
        let pool = Pool::builder(users_diesel::asynchronous::postgres_connection_manager(
            &url,
        ))
        .max_size(POOL)
        .build()?;
        #[cfg_attr(not(feature = "redis"), allow(unused_mut))]
        let mut state = UsersState::new(
            AsyncUsers::<User, Role>::new(UsersConfig::new([7u8; 32])?),
            pool,
            users_axum::MemoryMailer::new(),
        );
        #[cfg(feature = "redis")]
        if variant == "redis" {
            let redis_url = std::env::var("USERS_TEST_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
            // One prefix per run: the database URL names the run's private schema.
            let prefix = format!("users-bench:scaleout:{url}:");
            let revocations = users_axum::RedisRevocations::open(&redis_url, &prefix).await?;
            state = state.stateless_sessions().revocations(revocations);
        }
        if variant != "database" && variant != "redis" {
            return Err(format!("unknown variant {variant:?}").into());
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "listening on {}", listener.local_addr()?)?;
            stdout.flush()?;
        }
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin()
                .read_line(&mut sink)
                .is_ok_and(|read| read > 0)
            {
                sink.clear();
            }
        });
        let stop = async move {
            tokio::select! {
                _ = stdin_closed => {}
                () = tokio::time::sleep(SERVE_AT_MOST) => {}
            }
        };
        axum::serve(listener, users_axum::router(state))
            .with_graceful_shutdown(stop)
            .await?;
        Ok(())
    })
}
