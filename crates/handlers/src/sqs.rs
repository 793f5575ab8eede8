//! SQS batches in, `SqsBatchResponse` out.
//!
//! Each message that fails is reported by id (ReportBatchItemFailures), so
//! SQS retries only it, and after `maxReceiveCount` receives moves it to the
//! dead-letter queue. The reason is logged with the message id. Each
//! invocation publishes its metrics (see [`crate::metrics`]).

use crate::metrics::Metrics;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use pipeline::{fail_dead_lettered, reduce_batch, times_two, Config, Ports, Received, StepError};
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

/// The event Lambda's SQS poller delivers for `batch`: what the local
/// runner's pollers (and tests) hand to the handlers.
pub fn sqs_event(batch: &[Received]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = batch
        .iter()
        .map(|m| {
            let mut record = SqsMessage::default();
            record.message_id = Some(m.message_id.clone());
            record.receipt_handle = Some(m.receipt.clone());
            record.body = Some(m.body.clone());
            record.attributes.insert(
                "ApproximateReceiveCount".into(),
                m.receive_count.to_string(),
            );
            record
        })
        .collect();
    event
}

/// One message of a batch.
struct Record<'e> {
    id: String,
    body: &'e str,
    /// `ApproximateReceiveCount`, this receive included (1 if absent).
    receive_count: u32,
}

/// The batch's messages with an id, how many were received before, and how
/// many records had no `messageId`.
///
/// SQS gives every message an id, so a record without one is not a message
/// SQS sent as documented. It cannot be reported by id, and acknowledging
/// the batch would let Lambda delete it unprocessed; it is not processed
/// either (nothing could report its failure). [`unidentified`] fails the
/// whole batch for it instead: Lambda treats an empty `itemIdentifier` as a
/// failure of every message, so none is deleted, the batch comes again, and
/// after `maxReceiveCount` receives it goes to the dead-letter queue, where
/// an operator sees it. The steps are idempotent, so the batch's other
/// messages are safe to process again.
fn records(event: &SqsEvent) -> (Vec<Record<'_>>, u64, u64) {
    let mut without_id = 0;
    let records: Vec<Record<'_>> = event
        .records
        .iter()
        .filter_map(|r| {
            let Some(id) = r.message_id.clone().filter(|id| !id.is_empty()) else {
                without_id += 1;
                return None;
            };
            Some(Record {
                id,
                body: r.body.as_deref().unwrap_or(""),
                receive_count: r
                    .attributes
                    .get("ApproximateReceiveCount")
                    .and_then(|c| c.parse::<u32>().ok())
                    .unwrap_or(1),
            })
        })
        .collect();
    let retries = records.iter().filter(|r| r.receive_count > 1).count() as u64;
    (records, retries, without_id)
}

/// Fails the whole batch when `count` records had no `messageId` (see
/// [`records`]): logged as an error, and counted in the metrics' batch item
/// failures.
fn unidentified(
    response: &mut SqsBatchResponse,
    metrics: &mut Metrics,
    count: u64,
    function: &str,
) {
    if count == 0 {
        return;
    }
    tracing::error!(
        function,
        records = count,
        "SQS records without a messageId: failing the whole batch so none is deleted unprocessed"
    );
    response.add_failure(String::new());
    metrics.batch_item_failures += count;
}

/// Fails the arrays of messages that failed on their last receive, before
/// SQS moves them to the dead-letter queue; returns how many it failed.
async fn fail_last_receives(
    ports: &Ports,
    config: &Config,
    function: &str,
    records: &[Record<'_>],
    failures: &[(String, StepError)],
) -> u64 {
    let mut failed = 0;
    for (id, error) in failures {
        let Some(record) = records.iter().find(|r| &r.id == id) else {
            continue;
        };
        if record.receive_count >= config.max_receive_count
            && fail_dead_lettered(ports, function, record.body, error).await
        {
            failed += 1;
        }
    }
    failed
}

/// Time `times_two` keeps after reading its ranges, to store their leaves,
/// trigger reduce and answer: a range still being read this long before the
/// invocation's deadline fails its array (`pipeline::times_two`)
/// rather than let Lambda end the invocation with nothing written.
pub const MAP_DEADLINE_MARGIN_MS: u64 = 5_000;

/// `times_two`'s handler. `deadline_ms` is the invocation's deadline (Unix
/// ms, from the Lambda context): ranges must be read
/// [`MAP_DEADLINE_MARGIN_MS`] before it.
pub async fn handle_times_two(
    ports: &Ports,
    config: &Config,
    event: &SqsEvent,
    deadline_ms: Option<u64>,
) -> SqsBatchResponse {
    let (response, metrics) = measure_times_two(ports, config, event, deadline_ms).await;
    metrics.publish("times_two");
    response
}

/// [`handle_times_two`] without publishing, returning what it measured.
pub async fn measure_times_two(
    ports: &Ports,
    config: &Config,
    event: &SqsEvent,
    deadline_ms: Option<u64>,
) -> (SqsBatchResponse, Metrics) {
    let (records, retries, missing_ids) = records(event);
    let span = tracing::info_span!("times_two", messages = records.len());
    let bodies: Vec<&str> = records.iter().map(|r| r.body).collect();
    let read_by = deadline_ms.map(|d| d.saturating_sub(MAP_DEADLINE_MARGIN_MS));
    let results = times_two(ports, config, &bodies, read_by)
        .instrument(span.clone())
        .await;
    let mut metrics = Metrics {
        retries,
        ..Metrics::default()
    };
    let mut failures = Vec::new();
    for (record, result) in records.iter().zip(results) {
        match result {
            Ok(outcome) if outcome.objects_started > 0 => {
                metrics.objects_started += outcome.objects_started;
            }
            Ok(outcome) if outcome.created => {
                metrics.packets_mapped += 1;
                if outcome.completed {
                    metrics.arrays_completed += 1;
                    metrics.latencies_ms.extend(outcome.latency_ms);
                }
            }
            Ok(_) => metrics.conflicts += 1,
            Err(e) => failures.push((record.id.clone(), e)),
        }
    }
    let batch = Batch {
        function: "times_two",
        records: &records,
        missing_ids,
        span,
    };
    batch.answer(ports, config, failures, metrics).await
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
    let (records, retries, missing_ids) = records(event);
    let span = tracing::info_span!("reduce", messages = records.len());
    let bodies: Vec<&str> = records.iter().map(|r| r.body).collect();
    let results = reduce_batch(ports, config, &bodies, deadline_ms)
        .instrument(span.clone())
        .await;
    let mut metrics = Metrics {
        retries,
        ..Metrics::default()
    };
    let mut failures = Vec::new();
    for (record, result) in records.iter().zip(results) {
        match result {
            Ok(outcome) => {
                metrics.packets_merged += outcome.merged;
                metrics.conflicts += outcome.conflicts;
                if outcome.completed {
                    metrics.arrays_completed += 1;
                    metrics.latencies_ms.extend(outcome.latency_ms);
                }
            }
            Err(e) => failures.push((record.id.clone(), e)),
        }
    }
    let batch = Batch {
        function: "reduce",
        records: &records,
        missing_ids,
        span,
    };
    batch.answer(ports, config, failures, metrics).await
}

/// A batch once its messages were handled: what both functions do last.
struct Batch<'b, 'e> {
    function: &'static str,
    records: &'b [Record<'e>],
    missing_ids: u64,
    span: tracing::Span,
}

impl Batch<'_, '_> {
    /// Fails the arrays of messages on their last receive, and reports the
    /// failed messages (by id, or the whole batch for a record without one).
    async fn answer(
        self,
        ports: &Ports,
        config: &Config,
        failures: Vec<(String, StepError)>,
        mut metrics: Metrics,
    ) -> (SqsBatchResponse, Metrics) {
        metrics.batch_item_failures = failures.len() as u64;
        metrics.arrays_failed =
            fail_last_receives(ports, config, self.function, self.records, &failures)
                .instrument(self.span.clone())
                .await;
        let mut response = self.span.in_scope(|| report(failures, self.function));
        unidentified(&mut response, &mut metrics, self.missing_ids, self.function);
        (response, metrics)
    }
}
