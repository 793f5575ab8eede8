//! SQS batches in, `SqsBatchResponse` out.
//!
//! Each message that fails is reported by id (ReportBatchItemFailures), so
//! SQS retries only it, and after `maxReceiveCount` receives moves it to the
//! dead-letter queue. The reason is logged with the message id.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use futures::future::join_all;
use pipeline::{reduce, times_two, Config, Ports, StepError};

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

/// `reduce`'s handler.
pub async fn handle_reduce(ports: &Ports, config: &Config, event: &SqsEvent) -> SqsBatchResponse {
    let runs = event.records.iter().filter_map(|r| {
        let id = r.message_id.clone()?;
        let body = r.body.as_deref().unwrap_or("");
        Some(async move { (id, reduce(ports, config, body).await) })
    });
    let failures = join_all(runs)
        .await
        .into_iter()
        .filter_map(|(id, r)| r.err().map(|e| (id, e)))
        .collect();
    report(failures, "reduce")
}
