//! The distributed adder's Lambda platform on one machine: what AWS does
//! around the three functions, played in this process, so the pipeline runs
//! with no deployment. `adder sum`, `adder serve` and `adder bench` are
//! commands over it; the Lambda binaries never link it.
//!
//! - [`backend`]: starts the pipeline `template.yaml` describes ([`start`]):
//!   its queues, tables and bucket in process or on SQS/DynamoDB/S3
//!   (`--backend aws`: moto, LocalStack or an account), each function's
//!   configuration as Lambda would give it, and a poller per event source
//!   mapping. The [`Running`] pipeline it returns stops when dropped.
//! - [`poller`]: plays one SQS event source mapping (batches, concurrency,
//!   visibility, partial batch failures, the function's timeout).
//! - [`tally`]: counts what a run does (port calls, invocations and the time
//!   they took), for `adder bench`.
//! - [`in_process`]: the API's Router called in process ([`InProcess`]),
//!   as API Gateway would call the `sum_array` function.
//! - [`objects`]: makes a local file an object the pipeline can sum
//!   ([`place_object`]).
//! - [`error`]: why any of these failed ([`Error`]).

pub mod backend;
pub mod error;
pub mod in_process;
pub mod objects;
pub mod poller;
pub mod tally;

pub use backend::{sdk_config, start, start_counted, BackendArgs, Kind, Running};
pub use error::Error;
pub use in_process::InProcess;
pub use objects::{place_object, LOCAL_BUCKET};
