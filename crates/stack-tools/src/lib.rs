//! What the local runner and the tests do with a whole stack, kept out of
//! `aws-ports` so that the Lambdas link neither this code nor `template.yaml`
//! and its YAML parser (`tests/lambda_closure.rs` checks it):
//!
//! - [`provision`] creates the queues and tables `template.yaml` declares
//!   (on moto, or on an account without CloudFormation), and [`teardown`]
//!   removes them;
//! - [`Admin`] is the operator's view of a running stack: pending arrays,
//!   an array's scratchpad, dead letters and their redrive.

mod admin;
mod provision;
mod teardown;

pub use admin::{
    output, Admin, AdminError, DeadLetter, PendingArray, Reason, Resources, Source, OUTPUTS,
};
pub use provision::{provision, ProvisionError, Provisioned};
pub use teardown::{teardown, Removed};
