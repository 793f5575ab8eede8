//! Virtual time: only the scheduler moves it, so a run never reads a real clock.

use pipeline::Clock;
use std::sync::atomic::{AtomicU64, Ordering};

/// A clock the scheduler advances.
#[derive(Debug)]
pub struct VirtualClock(AtomicU64);

/// Where virtual time starts (2026-01-01, so TTLs look plausible).
pub const EPOCH_MS: u64 = 1_767_225_600_000;

impl VirtualClock {
    pub fn new() -> VirtualClock {
        VirtualClock(AtomicU64::new(EPOCH_MS))
    }
    pub fn advance(&self, ms: u64) -> u64 {
        self.0.fetch_add(ms, Ordering::Relaxed) + ms
    }
    /// Milliseconds since the start of the run (for the trace).
    pub fn elapsed_ms(&self) -> u64 {
        self.now_ms() - EPOCH_MS
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        VirtualClock::new()
    }
}

impl Clock for VirtualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
