//! SQS batches in, `SqsBatchResponse` out.
//!
//! Each message that fails is reported by id (ReportBatchItemFailures), so
//! SQS retries only it, and after `maxReceiveCount` receives moves it to the
//! dead-letter queue. The reason is logged with the message id. Each
//! invocation publishes its metrics (see [`crate::metrics`]).

use crate::metrics::Metrics;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use pipeline::{reduce_batch, times_two, Config, Ports, StepError};
use tracing::Instrument;

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

/// The batch's messages (id, body), and how many were received before.
fn records(event: &SqsEvent) -> (Vec<(String, &str)>, u64) {
    let retries = event
        .records
        .iter()
        .filter(|r| {
            r.attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse::<u32>().ok())
                .is_some_and(|c| c > 1)
        })
        .count() as u64;
    let records = event
        .records
        .iter()
        .filter_map(|r| Some((r.message_id.clone()?, r.body.as_deref().unwrap_or(""))))
        .collect();
    (records, retries)
}

/// `times_two`'s handler.
pub async fn handle_times_two(
    ports: &Ports,
    config: &Config,
    event: &SqsEvent,
) -> SqsBatchResponse {
    let (response, metrics) = measure_times_two(ports, config, event).await;
    metrics.publish("times_two");
    response
}

/// [`handle_times_two`] without publishing, returning what it measured.
pub async fn measure_times_two(
    ports: &Ports,
    config: &Config,
    event: &SqsEvent,
) -> (SqsBatchResponse, Metrics) {
    let (records, retries) = records(event);
    let span = tracing::info_span!("times_two", messages = records.len());
    let bodies: Vec<&str> = records.iter().map(|(_, b)| *b).collect();
    let results = times_two(ports, config, &bodies)
        .instrument(span.clone())
        .await;
    let mut metrics = Metrics {
        retries,
        ..Metrics::default()
    };
    let mut failures = Vec::new();
    for ((id, _), result) in records.iter().zip(results) {
        match result {
            Ok(outcome) if outcome.created => metrics.packets_mapped += 1,
            Ok(_) => metrics.conflicts += 1,
            Err(e) => failures.push((id.clone(), e)),
        }
    }
    metrics.batch_item_failures = failures.len() as u64;
    let response = span.in_scope(|| report(failures, "times_two"));
    (response, metrics)
}

/// `reduce`'s handler. `deadline_ms` is the invocation's deadline (Unix ms,
/// from the Lambda context): work that would overrun it is re-enqueued.
pub async fn handle_reduce(
    ports: &Ports,
    config: &Config,
    event: &SqsEvent,
    deadline_ms: Option<u64>,
) -> SqsBatchResponse {
    let (response, metrics) = measure_reduce(ports, config, event, deadline_ms).await;
    metrics.publish("reduce");
    response
}

/// [`handle_reduce`] without publishing, returning what it measured.
pub async fn measure_reduce(
    ports: &Ports,
    config: &Config,
    event: &SqsEvent,
    deadline_ms: Option<u64>,
) -> (SqsBatchResponse, Metrics) {
    let (records, retries) = records(event);
    let span = tracing::info_span!("reduce", messages = records.len());
    let bodies: Vec<&str> = records.iter().map(|(_, b)| *b).collect();
    let results = reduce_batch(ports, config, &bodies, deadline_ms)
        .instrument(span.clone())
        .await;
    let mut metrics = Metrics {
        retries,
        ..Metrics::default()
    };
    let mut failures = Vec::new();
    for ((id, _), result) in records.iter().zip(results) {
        match result {
            Ok(outcome) => {
                metrics.packets_merged += outcome.merged;
                metrics.conflicts += outcome.conflicts;
                if outcome.completed {
                    metrics.arrays_completed += 1;
                    metrics.latencies_ms.extend(outcome.latency_ms);
                }
            }
            Err(e) => failures.push((id.clone(), e)),
        }
    }
    metrics.batch_item_failures = failures.len() as u64;
    let response = span.in_scope(|| report(failures, "reduce"));
    (response, metrics)
}
