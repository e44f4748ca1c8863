//! The gate in front of argon2: at most so many runs at once, at most so many waiting.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::UsersError;

/// Bounds the argon2 runs of a manager: at most `running` at once, so the memory they fill is at
/// most `running` matrices of the memory cost (19 MiB each by default) whatever the load, and at
/// most `queued` waiting for a slot; work beyond that is refused with
/// [`UsersError::Overloaded`] instead of piling up.
///
/// Every operation that hashes or verifies a password enters the gate first
/// ([`UsersConfig::argon2_concurrency`](crate::UsersConfig::argon2_concurrency) sizes it).
///
/// ```
/// use users_core::{Argon2Gate, UsersError};
///
/// let gate = Argon2Gate::new(1, 0);
/// let permit = gate.enter()?;
/// assert!(matches!(gate.enter(), Err(UsersError::Overloaded)));
/// drop(permit);
/// assert!(gate.enter().is_ok());
/// assert_eq!(gate.peak_running(), 1);
/// # Ok::<(), UsersError>(())
/// ```
#[derive(Debug)]
pub struct Argon2Gate {
    slots: Mutex<Slots>,
    freed: Condvar,
    running: usize,
    queued: usize,
    peak: AtomicUsize,
}

#[derive(Debug, Default)]
struct Slots {
    running: usize,
    waiting: usize,
}

/// A slot of an [`Argon2Gate`], given back when dropped.
#[derive(Debug)]
#[must_use = "the slot is given back when the permit is dropped"]
pub struct GatePermit<'a> {
    gate: &'a Argon2Gate,
}

impl Argon2Gate {
    /// A gate of `running` slots (at least one) and a queue of `queued` waiting callers.
    pub fn new(running: usize, queued: usize) -> Self {
        Argon2Gate {
            slots: Mutex::new(Slots::default()),
            freed: Condvar::new(),
            running: running.max(1),
            queued,
            peak: AtomicUsize::new(0),
        }
    }

    /// Takes a slot, waiting (blocking the thread) for one if all are taken.
    ///
    /// # Errors
    ///
    /// [`UsersError::Overloaded`] if every slot is taken and the queue is full.
    pub fn enter(&self) -> Result<GatePermit<'_>, UsersError> {
        let mut slots = self.slots();
        if slots.running >= self.running {
            if slots.waiting >= self.queued {
                return Err(UsersError::Overloaded);
            }
            slots.waiting += 1;
            while slots.running >= self.running {
                slots = self
                    .freed
                    .wait(slots)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            slots.waiting -= 1;
        }
        slots.running += 1;
        self.peak.fetch_max(slots.running, Ordering::Relaxed);
        Ok(GatePermit { gate: self })
    }

    /// The most runs that were ever inside the gate at once: what the memory bound is about.
    pub fn peak_running(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// How many callers wait for a slot now.
    pub fn waiting(&self) -> usize {
        self.slots().waiting
    }

    /// How many runs the gate lets in at once.
    pub fn capacity(&self) -> usize {
        self.running
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        // The counts are updated in single statements: a panic cannot leave them torn.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for GatePermit<'_> {
    fn drop(&mut self) {
        self.gate.slots().running -= 1;
        self.gate.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;

    #[test]
    fn never_lets_more_than_its_slots_in() {
        let gate = Argon2Gate::new(2, 64);
        let inside = AtomicUsize::new(0);
        let start = Barrier::new(16);
        std::thread::scope(|scope| {
            for _ in 0..16 {
                scope.spawn(|| {
                    start.wait();
                    for _ in 0..20 {
                        let _permit = gate.enter().unwrap();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        assert!(now <= 2, "{now} runs inside a gate of 2");
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert!(gate.peak_running() <= 2);
    }

    #[test]
    fn refuses_past_the_queue_and_admits_waiters_as_slots_free() {
        let gate = Argon2Gate::new(1, 1);
        let permit = gate.enter().unwrap();
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| gate.enter().map(drop));
            // Once the waiter queues, the queue is full.
            while gate.slots().waiting == 0 {
                std::thread::yield_now();
            }
            assert!(matches!(gate.enter(), Err(UsersError::Overloaded)));
            drop(permit);
            assert!(waiter.join().unwrap().is_ok());
        });
        assert_eq!(gate.slots().running, 0);
    }
}
