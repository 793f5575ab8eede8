//! SQS batches in, `SqsBatchResponse` out.
//!
//! Each message that fails is reported by id (ReportBatchItemFailures), so
//! SQS retries only it, and after `maxReceiveCount` receives moves it to the
//! dead-letter queue. The reason is logged with the message id.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use pipeline::{reduce_batch, times_two, Config, Ports, StepError};

fn report(failures: Vec<(String, StepError)>, function: &str) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for (message_id, error) in failures {
        tracing::warn!(
            function,
            message_id = %message_id,
            transient = error.is_transient(),
            error = %error,
            "message failed; SQS will deliver it again"
        );
        response.add_failure(message_id);
    }
    response
}

/// `times_two`'s handler.
pub async fn handle_times_two(
    ports: &Ports,
    config: &Config,
    event: &SqsEvent,
) -> SqsBatchResponse {
    let records: Vec<(String, &str)> = event
        .records
        .iter()
        .filter_map(|r| Some((r.message_id.clone()?, r.body.as_deref().unwrap_or(""))))
        .collect();
    let bodies: Vec<&str> = records.iter().map(|(_, b)| *b).collect();
    let results = times_two(ports, config, &bodies).await;
    let failures = records
        .iter()
        .zip(results)
        .filter_map(|((id, _), r)| r.err().map(|e| (id.clone(), e)))
        .collect();
    report(failures, "times_two")
}

/// `reduce`'s handler. `deadline_ms` is the invocation's deadline (Unix ms,
/// from the Lambda context): work that would overrun it is re-enqueued.
pub async fn handle_reduce(
    ports: &Ports,
    config: &Config,
    event: &SqsEvent,
    deadline_ms: Option<u64>,
) -> SqsBatchResponse {
    let records: Vec<(String, &str)> = event
        .records
        .iter()
        .filter_map(|r| Some((r.message_id.clone()?, r.body.as_deref().unwrap_or(""))))
        .collect();
    let bodies: Vec<&str> = records.iter().map(|(_, b)| *b).collect();
    let results = reduce_batch(ports, config, &bodies, deadline_ms).await;
    let failures = records
        .iter()
        .zip(results)
        .filter_map(|((id, _), r)| r.err().map(|e| (id.clone(), e)))
        .collect();
    report(failures, "reduce")
}
