//! Backoff between retries of the parts of a batch call AWS did not process.

use std::time::Duration;

/// Exponential backoff with a little jitter, so retries of concurrent batches spread out.
pub(crate) fn backoff(attempt: u32) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let base = 50u64 << attempt.min(6);
    // RandomState is seeded per instance: a cheap random number without a dependency.
    let jitter = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        % (base / 2 + 1);
    Duration::from_millis(base.min(2_000) + jitter)
}
