//! State handed to the client sealed, to come back with its next request: a passkey ceremony's,
//! a provider sign-in's. JSON with an expiry inside, sealed with XChaCha20-Poly1305 under a key
//! derived from the application secret ([`Sealer`]) for a context that says what it is for,
//! so no process keeps it and the two halves of a flow may reach different processes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use users_diesel::Sealer;

use crate::ApiError;

/// What is sealed: the state and when it expires (Unix seconds).
#[derive(Serialize, Deserialize)]
struct Sealed<T> {
    expires: u64,
    state: T,
}

/// `state` sealed for `context`, expiring after `lifetime`.
pub(crate) fn seal<T: Serialize>(
    sealer: &Sealer,
    context: &[u8],
    state: &T,
    lifetime: Duration,
) -> Result<String, ApiError> {
    let sealed = Sealed {
        expires: unix_seconds(SystemTime::now() + lifetime),
        state,
    };
    let plain = serde_json::to_vec(&sealed).map_err(|error| ApiError::logged(&error))?;
    Ok(sealer.seal(context, &plain))
}

/// The state `seal` sealed for `context`, if it is intact and unexpired; `None` if it was
/// altered, sealed for another context or under a secret no longer configured, or expired.
pub(crate) fn open<T: DeserializeOwned>(
    sealer: &Sealer,
    context: &[u8],
    sealed: &str,
) -> Option<T> {
    let plain = sealer.open(context, sealed).ok()?;
    let sealed: Sealed<T> = serde_json::from_slice(&plain).ok()?;
    (unix_seconds(SystemTime::now()) < sealed.expires).then_some(sealed.state)
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}
