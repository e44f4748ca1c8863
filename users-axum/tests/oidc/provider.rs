//! A real OIDC provider for users-axum's integration tests: panva's `oidc-provider` (the npm
//! package, pinned in `tests/oidc/package.json`) run by Node.js from `tests/oidc/provider.mjs`
//! (paths in users-axum) on 127.0.0.1 at a random port.
//!
//! Include it with `#[path = "../oidc/provider.rs"] mod provider;` (from `tests/http/`). What the
//! provider offers (the clients `users-app` / `other-app`, any login string as an account,
//! automatic consent, the `/__test/tamper` hook and the GitHub-shaped `/github/user` API) is
//! described in `provider.mjs`.

// Each test binary that includes this file uses its own subset of it.
#![allow(dead_code)]

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, ErrorKind};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::Duration;

/// How long [`Provider::start`] waits for the script's `ready` line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running oidc-provider on 127.0.0.1 (killed on drop).
pub struct Provider {
    /// The issuer identifier, `http://127.0.0.1:PORT` (no trailing slash); the discovery
    /// document is at `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// The `node` process running `provider.mjs`.
    child: Child,
    /// The write end of the script's stdin, held open while this value lives: the script exits
    /// when it closes, so a test process that dies without dropping this leaves nothing behind.
    stdin: Option<ChildStdin>,
}

impl Provider {
    /// Installs the npm packages once per test binary if `tests/oidc/node_modules` is missing
    /// (`npm ci` in that directory, run under a [`OnceLock`] so parallel tests do it once, and
    /// under a file lock so parallel test binaries do too), then starts
    /// `node tests/oidc/provider.mjs` with `OIDC_REDIRECT_URIS` and waits (max 30 s) for its
    /// `ready ` line.
    ///
    /// # Panics
    ///
    /// With a clear message if `node` or `npm` is missing, if the install fails, or if the
    /// provider does not come up in time.
    pub fn start(redirect_uris: &[String]) -> Provider {
        assert!(
            !redirect_uris.is_empty(),
            "Provider::start needs at least one redirect URI"
        );
        install_packages();

        let dir = oidc_dir();
        let mut child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .current_dir(&dir)
            .env("OIDC_REDIRECT_URIS", redirect_uris.join(","))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| {
                let hint = if err.kind() == ErrorKind::NotFound {
                    "`node` was not found on PATH: the OIDC tests need Node.js (20 or later)"
                } else {
                    "could not start `node tests/oidc/provider.mjs`"
                };
                panic!("{hint} ({err})")
            });
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .expect("the child's stdout was configured as piped");

        // Read stdout on a thread so the wait below can time out; after the `ready` line the
        // thread keeps draining (the script prints nothing else) and forwards any stray line to
        // stderr.
        let (ready_tx, ready_rx) = mpsc::channel::<String>();
        thread::spawn(move || {
            let mut ready_tx = Some(ready_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match (ready_tx.take(), line.strip_prefix("ready ")) {
                    (Some(tx), Some(issuer)) => {
                        // The receiver may have given up (timeout): nothing to do then.
                        let _ = tx.send(issuer.trim().to_owned());
                    }
                    (tx, _) => {
                        ready_tx = tx;
                        eprintln!("oidc provider stdout: {line}");
                    }
                }
            }
        });

        let mut provider = Provider {
            issuer: String::new(),
            child,
            stdin,
        };
        match ready_rx.recv_timeout(READY_TIMEOUT) {
            Ok(issuer) => {
                provider.issuer = issuer;
                provider
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                drop(provider);
                panic!(
                    "tests/oidc/provider.mjs printed no `ready` line within {}s (see its stderr \
                     above)",
                    READY_TIMEOUT.as_secs()
                )
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = provider.child.wait();
                panic!(
                    "tests/oidc/provider.mjs exited before it was ready ({status:?}); see its \
                     stderr above"
                )
            }
        }
    }

    /// POST /__test/tamper with these claim overrides (next ID token only): the next token
    /// endpoint response that carries an `id_token` gets one with the same header and payload
    /// except these claims, signed with the provider's real key.
    ///
    /// # Panics
    ///
    /// If the request fails or the provider does not answer 204.
    pub async fn tamper(&self, claims: serde_json::Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/__test/tamper", self.issuer))
            .json(&claims)
            .send()
            .await
            .expect("the tamper request should reach the test provider");
        assert_eq!(
            response.status(),
            reqwest::StatusCode::NO_CONTENT,
            "the test provider refused the tamper request: {}",
            response.text().await.unwrap_or_default()
        );
    }
}

impl Drop for Provider {
    /// Closes the script's stdin (it exits on that), kills it in case it has not, and reaps it.
    fn drop(&mut self) {
        drop(self.stdin.take());
        // Either fails only if the process is already gone, which is what we want anyway.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tests/oidc` in this package.
fn oidc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("oidc")
}

/// Runs `npm ci` in `tests/oidc` unless its packages are already installed: once per test binary
/// (the [`OnceLock`] makes parallel tests wait for the first one) and one binary at a time (a
/// file lock under the target directory, for runners that start test binaries in parallel).
fn install_packages() {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = INSTALLED.get_or_init(|| {
        let dir = oidc_dir();
        if installed(&dir) {
            return Ok(());
        }
        let lock_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oidc-npm-ci.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|err| format!("could not open {}: {err}", lock_path.display()))?;
        lock.lock()
            .map_err(|err| format!("could not lock {}: {err}", lock_path.display()))?;
        let outcome = if installed(&dir) {
            Ok(())
        } else {
            npm_ci(&dir)
        };
        // Unlocked when `lock` is dropped, too; this only makes the order explicit.
        let _ = lock.unlock();
        outcome
    });
    if let Err(message) = result {
        panic!("{message}");
    }
}

/// Whether both npm packages the script imports are present in `dir/node_modules`.
fn installed(dir: &Path) -> bool {
    let modules = dir.join("node_modules");
    modules.join("oidc-provider").join("package.json").is_file()
        && modules.join("jose").join("package.json").is_file()
}

/// `npm ci` in `dir`: installs exactly what `package-lock.json` pins.
fn npm_ci(dir: &Path) -> Result<(), String> {
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        // npm's progress output would only clutter the test output; errors go to stderr.
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|err| {
            if err.kind() == ErrorKind::NotFound {
                format!(
                    "`npm` was not found on PATH: the OIDC tests need Node.js and npm to install \
                     tests/oidc's packages ({err})"
                )
            } else {
                format!("could not run `npm ci` in {}: {err}", dir.display())
            }
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`npm ci` in {} failed ({status}); see its output above",
            dir.display()
        ))
    }
}
