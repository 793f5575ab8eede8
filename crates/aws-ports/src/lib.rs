//! The pipeline's ports over SQS, DynamoDB and S3.
//!
//! The same code serves Lambda (names from the environment CloudFormation
//! sets), the local runner and the contract tests (names from
//! `stack_tools::provision`, against moto or AWS). This is the AWS code the
//! Lambdas link, so it holds nothing only a local tool needs: provisioning
//! and the operator's tools live in `stack-tools`, and `template.yaml` is
//! read only there and in `stack`. What only tests use is behind the
//! `test-ports` feature, what only the local runner uses (request counting,
//! IAM denial reports) behind `local`.

#[cfg(feature = "local")]
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

/// The local runner's and the benchmark's: never in a Lambda.
#[cfg(feature = "local")]
pub use counting::{ReportDenials, RequestCounter, Sent};
pub use dynamodb::{DynamoScratchpad, DynamoSums};
pub use errors::{causes, describe, from_build, from_sdk};
pub use names::{
    ports, Names, INPUT_BUCKET, REDUCE_QUEUE_URL, SCRATCHPAD_TABLE, SUMS_TABLE, TIMES_TWO_QUEUE_URL,
};
#[cfg(feature = "local")]
pub use names::{ports_counted, ports_reporting_denials};
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

/// Which account the SDK reaches, and as whom. Every SDK configuration of
/// the project (the Lambdas', the local runner's, the CLI's, the tests') is
/// loaded by [`load_sdk_config`] from one of these.
#[derive(Debug, Clone, Copy)]
pub enum Account<'a> {
    /// The environment's: region, credentials (a Lambda's role, a profile or
    /// keys) and `AWS_ENDPOINT_URL` when set, which is how a function or the
    /// runner is pointed at moto.
    Environment,
    /// An endpoint such as moto or LocalStack, with the environment's region
    /// and credentials where it sets them, else us-east-1 and placeholder
    /// keys, so `adder serve --backend aws` runs on moto with nothing set up.
    Endpoint(&'a str),
    /// An emulator at `endpoint`, as the holder of these keys, in us-east-1,
    /// whatever the environment says: a test must never reach a real account
    /// by accident, nor sign as anyone but the principal it means.
    Emulator {
        endpoint: &'a str,
        access_key_id: &'a str,
        secret_access_key: &'a str,
    },
}

/// The one SDK configuration loader (see [`Account`]).
pub async fn load_sdk_config(account: Account<'_>) -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest());
    let keys = |id: &str, secret: &str| {
        aws_sdk_sqs::config::Credentials::new(id, secret, None, None, "aws-ports")
    };
    let loader = match account {
        Account::Environment => loader,
        Account::Endpoint(url) => {
            let mut loader = loader.endpoint_url(url);
            if std::env::var_os("AWS_REGION").is_none()
                && std::env::var_os("AWS_DEFAULT_REGION").is_none()
            {
                loader = loader.region(Region::new("us-east-1"));
            }
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none()
                && std::env::var_os("AWS_PROFILE").is_none()
            {
                loader = loader.credentials_provider(keys("local", "local"));
            }
            loader
        }
        Account::Emulator {
            endpoint,
            access_key_id,
            secret_access_key,
        } => loader
            .endpoint_url(endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(keys(access_key_id, secret_access_key)),
    };
    loader.load().await
}

/// The SDK configuration from the environment ([`Account::Environment`]).
pub async fn sdk_config() -> SdkConfig {
    load_sdk_config(Account::Environment).await
}

/// What a Lambda function needs at cold start: the ports named by its
/// environment (`TIMES_TWO_QUEUE_URL`, …), over the SDK configured from it.
pub async fn ports_from_env() -> pipeline::Ports {
    ports(&sdk_config().await, &Names::from_env())
}

/// An SDK configuration for an emulator at `endpoint_url` (moto), with fixed
/// fake keys ([`Account::Emulator`] as `testing`).
pub async fn local_sdk_config(endpoint_url: &str) -> SdkConfig {
    load_sdk_config(Account::Emulator {
        endpoint: endpoint_url,
        access_key_id: "testing",
        secret_access_key: "testing",
    })
    .await
}
