//! The pipeline's ports over SQS, DynamoDB and S3.
//!
//! The same code serves Lambda (names from the environment CloudFormation
//! sets), the local runner and the contract tests (names from
//! `stack_tools::provision`, against moto or AWS). This is the AWS code the
//! Lambdas link, so it holds nothing only a local tool needs: provisioning
//! and the operator's tools live in `stack-tools`, and `template.yaml` is
//! read only there and in `stack`. What only tests use is behind the
//! `test-ports` feature.

mod counting;
pub mod dynamodb;
mod errors;
#[cfg(feature = "test-ports")]
mod faults;
mod names;
#[cfg(feature = "test-ports")]
mod recorder;
mod retry;
mod s3;
mod sqs;
mod unset;

pub use counting::{ReportDenials, RequestCounter, Sent};
pub use dynamodb::{DynamoScratchpad, DynamoSums};
pub use errors::{from_build, from_sdk};
pub use names::{
    ports, ports_counted, ports_reporting_denials, Names, INPUT_BUCKET, REDUCE_QUEUE_URL,
    SCRATCHPAD_TABLE, SUMS_TABLE, TIMES_TWO_QUEUE_URL,
};
pub use s3::{s3_config, S3Objects};
pub use sqs::{SqsQueue, MAX_BATCH_BYTES, MAX_BATCH_ENTRIES};
pub use unset::Unset;
/// Test-only, never in a Lambda (`stack-tools/tests/lambda_closure.rs`):
/// answers lost on purpose, and the IAM actions the clients needed.
#[cfg(feature = "test-ports")]
pub use {
    faults::LoseAnswers,
    names::ports_recorded,
    recorder::{Call, CallRecorder, DynamoRequest, RecordCalls},
};

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The SDK configuration from the environment: region, credentials (a
/// Lambda's role, a profile or keys) and `AWS_ENDPOINT_URL` when set, which
/// is how a function or the runner is pointed at moto.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// What a Lambda function needs at cold start: the ports named by its
/// environment (`TIMES_TWO_QUEUE_URL`, …), over the SDK configured from it.
pub async fn ports_from_env() -> pipeline::Ports {
    ports(&sdk_config().await, &Names::from_env())
}

/// An SDK configuration for an emulator at `endpoint_url` (moto), with fixed
/// fake keys and region, whatever the process environment says: tests and the
/// local runner must never reach a real account by accident.
pub async fn local_sdk_config(endpoint_url: &str) -> SdkConfig {
    let keys = aws_sdk_sqs::config::Credentials::new("testing", "testing", None, None, "local");
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint_url)
        .region(Region::new("us-east-1"))
        .credentials_provider(keys)
        .load()
        .await
}
