//! The distributed adder's pipeline steps, written against small ports.
//!
//! [`submit`] is what `sum_array` does, [`times_two`] the map, [`reduce`] the
//! merge. They see AWS only through the [`Queue`], [`Scratchpad`] and [`Sums`]
//! traits, implemented by the `aws-ports` crate for SQS and DynamoDB and by
//! [`memory`] in-process, so the same code runs in Lambda, in the local runner
//! and in the deterministic simulation.

pub use idempotency::{Idempotency, IdempotencyKey, KeyError, IDEMPOTENCY_TTL_SECONDS};
pub use ports::{Claimed, KeyClaim};
pub use steps::submit_with_key;

pub mod config;
pub mod hooked;
mod idempotency;
/// Test-only: never in a Lambda (`stack-tools/tests/lambda_closure.rs`).
#[cfg(feature = "test-ports")]
pub mod injected;
pub mod memory;
pub mod ports;
mod steps;

pub use config::{
    Config, MAX_CHUNK_SIZE, MAX_RANGE_BYTES, MEMORY_MB_PER_VCPU, RANGE_BYTES_PER_CPU_SECOND,
};
pub use memory::MemoryObjects;
pub use ports::{
    Clock, Completion, Failing, Failure, FailureKind, PortError, Ports, Progress, Put, Queue,
    Received, RowKey, Scratchpad, ScratchpadRow, Status, SumRecord, Sums, SystemClock,
    FAILED_RECORD_RETENTION_SECONDS,
};
pub use ports::{ObjectBody, ObjectError, ObjectInfo, Objects};
pub use steps::{
    fail_dead_lettered, get_sum, reduce, reduce_batch, submit, submit_job, times_two, MapOutcome,
    ReduceOutcome, StepError, SubmitError, Submitted, RETRIGGER_MARGIN_MS,
};
pub use steps::{
    find_object, format_of_key, is_notification, object_created, object_source, submit_object,
    submit_object_job, Column, FormatName, FormatRequest, ObjectJob, ObjectSubmitError,
    LINE_SCAN_LIMIT, MAX_RANGES,
};
