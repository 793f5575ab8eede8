//! The jobs this deployment runs: `sum`, `stats` and `sum-by` (shipped in
//! `packet::job`), and the example `histogram` (crates/histogram, built the
//! way docs/jobs.md tells a user to build a job).
//!
//! The three functions and the local runner all take their jobs from here,
//! so a job added on the line below is submitted by the API, mapped by
//! `times_two` and combined by `reduce` in the same deployment.

use packet::job::Registry;

/// Every job this deployment runs, by name.
pub fn registry() -> Registry {
    Registry::shipped().with::<histogram::Histogram>()
}
