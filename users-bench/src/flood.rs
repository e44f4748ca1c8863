//! The login flood: 256 concurrent logins with wrong passwords over the async manager, on
//! SQLite, with a session check (`Users::get` by id, what `GET /users/me` does) every 10 ms
//! beside them, run twice: with the argon2 gate at its defaults and with a gate that lets every
//! login in at once (as before the gate).
//!
//! Each login is for an address of its own without an account, so the throttle (which would
//! lock one account after 10 failures) never refuses one, and every login costs one argon2
//! verification, a dummy one. Printed, never asserted: the logins per second against the
//! machine's limit (its cores divided by the time of one argon2 run), the logins the gate
//! refused as `Overloaded`, the p99 latency of the logins and of the session checks, and the
//! process's peak resident memory during the run (Linux only; the peak is reset before each
//! run through `/proc/self/clear_refs`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::Connection;
use diesel_migrations::MigrationHarness;
use users_diesel::asynchronous::deadpool::Pool;
use users_diesel::asynchronous::{
    sqlite_connection_manager, AsyncConnection, AsyncSqliteConnection,
};
use users_diesel::{AsyncUsers, Migrations, PasswordHasher, Users, UsersConfig, UsersError};

use crate::models::framework::{Role, User};
use crate::workloads::PASSWORD;
use crate::Result;

/// The logins in flight at once.
const CONCURRENT: usize = 256;

/// Runs the flood with and without the gate and prints a line for each.
pub fn run(scale: f64) -> Result<()> {
    // 1024 logins at scale 1; `--smoke` runs a handful, to check that the line runs.
    let logins = ((CONCURRENT as f64 * 4.0 * scale).round() as usize).max(8);
    let path = std::env::temp_dir().join(format!(
        "users_bench_flood_{}.sqlite",
        uuid::Uuid::now_v7().simple()
    ));
    let url = path.to_string_lossy().into_owned();
    let result = (|| {
        let mut conn = diesel::SqliteConnection::establish(&url)?;
        users_diesel::configure_sqlite(&mut conn)?;
        conn.run_pending_migrations(Migrations::new().with::<User>().with::<Role>())?;
        let config = UsersConfig::new([7u8; 32])?;
        let alice = Users::<User>::new(config.clone()).register(
            &mut conn,
            "alice@example.com",
            PASSWORD,
        )?;

        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let one_run = {
            let hasher = PasswordHasher::new(&config);
            let hash = hasher.hash(PASSWORD)?;
            let start = Instant::now();
            let _ = hasher.verify("wrong", &hash);
            start.elapsed()
        };
        println!(
            "\nlogin flood (sqlite, async manager): {} concurrent logins with wrong passwords, {logins} in all; \
             machine limit {:.0} logins/s ({cores} cores / {:.1} ms per argon2 run)",
            CONCURRENT.min(logins),
            cores as f64 / one_run.as_secs_f64(),
            one_run.as_secs_f64() * 1e3
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let (running, queued) = config.argon2_slots();
        for (label, gated) in [
            (
                format!("gate {running} running + {queued} queued"),
                config.clone(),
            ),
            (
                "no gate (all at once)".to_owned(),
                config.clone().argon2_concurrency(CONCURRENT, CONCURRENT)?,
            ),
        ] {
            let line = runtime.block_on(flood(&url, gated, alice.id, logins))?;
            println!("  {label:<32} {line}");
        }
        Ok(())
    })();
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
    result
}

async fn flood(
    url: &str,
    config: UsersConfig,
    user: users_diesel::Id<User>,
    logins: usize,
) -> Result<String> {
    let users = AsyncUsers::<User, Role>::new(config);
    let pool = Pool::builder(sqlite_connection_manager(url))
        .max_size(CONCURRENT)
        .build()?;
    let mut session_conn = AsyncSqliteConnection::establish(url).await?;
    reset_peak_memory();

    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let checks = {
        let (users, done) = (users.clone(), Arc::clone(&done));
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let start = Instant::now();
                let found = users.get(&mut session_conn, user).await;
                latencies.push(start.elapsed());
                if !matches!(found, Ok(Some(_))) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            latencies
        })
    };

    let start = Instant::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENT));
    let mut tasks = Vec::with_capacity(logins);
    for i in 0..logins {
        let (users, pool, permits) = (users.clone(), pool.clone(), Arc::clone(&permits));
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.ok();
            let begun = Instant::now();
            let mut conn = pool.get().await.map_err(|error| error.to_string())?;
            let email = format!("flood{i}@example.com");
            let outcome = users
                .authenticate(&mut *conn, &email, "a wrong password")
                .await;
            Ok::<_, String>((
                begun.elapsed(),
                matches!(outcome, Err(UsersError::Overloaded)),
            ))
        }));
    }
    let (mut latencies, mut refused) = (Vec::with_capacity(logins), 0usize);
    for task in tasks {
        let (latency, overloaded) = task.await??;
        if overloaded {
            refused += 1;
        } else {
            latencies.push(latency);
        }
    }
    let elapsed = start.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut checks = checks.await?;
    let peak = peak_memory_mib().map_or("n/a".to_owned(), |mib| format!("{mib:.0} MiB"));
    Ok(format!(
        "{:>6.1} logins/s, {refused:>4} refused (503), login p99 {:>8.1} ms, session check p99 {:>7.1} ms, peak memory {peak}",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        p99(&mut latencies).as_secs_f64() * 1e3,
        p99(&mut checks).as_secs_f64() * 1e3,
    ))
}

fn p99(latencies: &mut [Duration]) -> Duration {
    latencies.sort_unstable();
    latencies
        .get((latencies.len() * 99 / 100).min(latencies.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// Resets the kernel's record of the peak resident memory (Linux 4.0 or later).
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The peak resident memory since the last reset, in MiB (`VmHWM`), where the system says.
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
