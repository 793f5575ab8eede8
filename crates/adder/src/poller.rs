//! Plays Lambda's SQS event source mapping for one function.
//!
//! Like the real one: several pollers in parallel (`ScalingConfig.MaximumConcurrency`),
//! batches of up to `BatchSize` gathered for at most `MaximumBatchingWindowInSeconds`,
//! messages hidden for the queue's visibility timeout while the handler runs,
//! only the successful ones deleted (ReportBatchItemFailures), the whole batch
//! left to reappear if the handler overruns the function's timeout. Redrive to
//! the dead-letter queue is the queue's own business, as in SQS.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::future::BoxFuture;
use pipeline::{Queue, Received};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The function the mapping invokes.
pub type Handler = Arc<dyn Fn(SqsEvent) -> BoxFuture<'static, SqsBatchResponse> + Send + Sync>;

/// How one mapping polls, read from `template.yaml`.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub name: String,
    pub batch_size: usize,
    pub batching_window: Duration,
    pub concurrency: usize,
    pub visibility_timeout: Duration,
    pub function_timeout: Duration,
}

/// Starts the pollers; abort the handles to stop them.
pub fn spawn(mapping: Mapping, queue: Arc<dyn Queue>, handler: Handler) -> Vec<JoinHandle<()>> {
    (0..mapping.concurrency.max(1))
        .map(|_| {
            let (mapping, queue, handler) = (mapping.clone(), queue.clone(), handler.clone());
            tokio::spawn(async move {
                loop {
                    if let Err(e) = poll_once(&mapping, queue.as_ref(), &handler).await {
                        tracing::warn!(mapping = %mapping.name, error = %e, "polling failed; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            })
        })
        .collect()
}

async fn gather(
    mapping: &Mapping,
    queue: &dyn Queue,
) -> Result<Vec<Received>, pipeline::PortError> {
    let mut batch = queue
        .receive(
            mapping.batch_size.min(10),
            // Long polling, as Lambda's pollers do: an idle queue costs few requests.
            Duration::from_secs(20),
            mapping.visibility_timeout,
        )
        .await?;
    let deadline = tokio::time::Instant::now() + mapping.batching_window;
    while !batch.is_empty()
        && batch.len() < mapping.batch_size
        && tokio::time::Instant::now() < deadline
    {
        let more = queue
            .receive(
                (mapping.batch_size - batch.len()).min(10),
                Duration::ZERO,
                mapping.visibility_timeout,
            )
            .await?;
        if more.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        batch.extend(more);
    }
    Ok(batch)
}

async fn poll_once(
    mapping: &Mapping,
    queue: &dyn Queue,
    handler: &Handler,
) -> Result<(), pipeline::PortError> {
    let batch = gather(mapping, queue).await?;
    if batch.is_empty() {
        return Ok(());
    }
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
    let response = match tokio::time::timeout(mapping.function_timeout, handler(event)).await {
        Ok(r) => r,
        Err(_) => {
            tracing::warn!(mapping = %mapping.name, "invocation timed out; its batch will reappear");
            return Ok(());
        }
    };
    let ids: HashSet<&str> = batch.iter().map(|m| m.message_id.as_str()).collect();
    let failed: HashSet<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    if failed.iter().any(|id| !ids.contains(id)) {
        // Lambda treats an unknown or empty id as a failure of the whole batch.
        return Ok(());
    }
    let done: Vec<String> = batch
        .iter()
        .filter(|m| !failed.contains(m.message_id.as_str()))
        .map(|m| m.receipt.clone())
        .collect();
    if !done.is_empty() {
        queue.delete(done).await?;
    }
    Ok(())
}
