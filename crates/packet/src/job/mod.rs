//! Jobs: what the pipeline computes. The adder's "double, then add" is the
//! job [`Sum`]; [`Stats`] and [`SumBy`] ship beside it, and a user's own job
//! is one more type implementing [`Job`].
//!
//! A job maps the records of a packet or a byte range into a value and
//! combines values up the merge tree. Cut the input anywhere and deliver
//! messages as often as SQS likes, the answer is the same, exactly, when
//! the job keeps these laws (`tests/job_laws.rs` checks them for every
//! shipped job; docs/jobs.md says why each is needed):
//! - `combine` is associative and [`Job::identity`] is neutral on both sides;
//! - mapping a concatenation equals combining the maps of its parts;
//! - `encode` is deterministic, and `decode(encode(v)) == v`.
//!
//! Commutativity is not needed: every node combines its children in index
//! order (the tree is fixed at submit), so a job may depend on order (a
//! "first value" job is exact here).
//!
//! The map runs in two parts so its inner loop allocates nothing: records
//! are folded into an accumulator ([`Job::Acc`]) and the accumulator is
//! turned into a value once per packet or range ([`Job::finish`]).

mod laws;
mod registry;
mod stats;
mod sum;
mod sum_by;

pub use laws::check_laws;
pub use registry::{
    no_params, AnyJob, ColumnName, JobSpec, NamedJob, Registry, SpecError, Stored, KEY_PARAM,
    MAX_SPEC_BYTES,
};
pub use stats::{Stats, StatsAcc, StatsValue};
pub use sum::Sum;
pub use sum_by::{Group, SumBy, MAX_GROUPS, MAX_KEY_BYTES};

use std::fmt;

/// One record of the input, as a job sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The record's number, checked ([`crate::check_number`]: JSON number
    /// syntax, DynamoDB's range, at most 38 significant digits).
    pub number: &'a str,
    /// The record's key: the `by` column of a CSV row (unquoted), for jobs
    /// that group. `None` for every other input.
    pub key: Option<&'a str>,
}

/// Why a job could not go on. The array ends `failed` with `code` as its
/// failure kind and `reason` for people; never a truncated result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct JobError {
    /// A short snake_case name, stable for scripts (`too_many_groups`).
    pub code: &'static str,
    pub reason: String,
}

impl JobError {
    /// A stored value that does not decode: a bug or a foreign row, never
    /// the user's data.
    pub fn corrupt(job: &str, what: impl fmt::Display) -> JobError {
        JobError {
            code: "corrupt_value",
            reason: format!("a stored {job} value does not decode: {what}"),
        }
    }
}

/// A computation the pipeline can run: map records to values, combine values.
pub trait Job: Send + Sync + 'static {
    /// What a packet, a range and every node of the merge tree hold.
    type Value: Clone + PartialEq + fmt::Debug + Send + Sync;
    /// The running state of one packet's or one range's map.
    type Acc: Default + Send;

    /// Folds one record into `acc`.
    fn add(&self, acc: &mut Self::Acc, record: Record<'_>) -> Result<(), JobError>;
    /// The value of the records folded into `acc`.
    fn finish(&self, acc: Self::Acc) -> Result<Self::Value, JobError>;
    /// `left` then `right`: children are always combined in index order.
    fn combine(&self, left: Self::Value, right: Self::Value) -> Result<Self::Value, JobError>;
    /// The value as stored in the scratchpad and sums tables: canonical
    /// (equal values, equal texts) and at most [`MAX_VALUE_BYTES`].
    fn encode(&self, value: &Self::Value) -> String;
    fn decode(&self, text: &str) -> Result<Self::Value, JobError>;
    /// The value as a result shows it (`GET /sums/{arrayId}`): JSON text,
    /// so that exact numbers keep every digit.
    fn show(&self, value: &Self::Value) -> String;
    /// The value of no record (an empty packet, a range owning no record):
    /// neutral on both sides of `combine`, and what an empty `Acc` finishes.
    fn identity(&self) -> Self::Value;
}

/// Largest encoded value: a scratchpad row and a sums record are DynamoDB
/// items of at most 400 KB, attribute names and the row's other attributes
/// included; 8 KB of those is left for them.
pub const MAX_VALUE_BYTES: usize = 392 * 1024;

/// Maps `records` in one go: what a packet or a range does.
pub fn map_all<'a, J: Job>(
    job: &J,
    records: impl IntoIterator<Item = Record<'a>>,
) -> Result<J::Value, JobError> {
    let mut acc = J::Acc::default();
    for record in records {
        job.add(&mut acc, record)?;
    }
    job.finish(acc)
}
