//! [`Queue`] over an SQS standard queue.

use crate::errors::{from_build, from_sdk, kind_of};
use crate::retry::backoff;
use async_trait::async_trait;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};
use futures::stream::{self, StreamExt};
use pipeline::{PortError, Queue, Received};
use std::time::Duration;

/// Most entries SQS takes in one batch call.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// Most bytes of message bodies in one SendMessageBatch call, and in one
/// message: the limit the pipeline designs to (see
/// [`packet::MAX_MESSAGE_BYTES`]).
pub const MAX_BATCH_BYTES: usize = packet::MAX_MESSAGE_BYTES;
/// SendMessageBatch calls in flight at once for one `send`.
const SENDS_IN_FLIGHT: usize = 16;
/// Tries for the entries a batch reports as failed, the first included.
const SEND_ATTEMPTS: u32 = 4;
/// Longest long poll SQS allows.
const MAX_WAIT: Duration = Duration::from_secs(20);
/// Longest visibility timeout SQS allows (12 hours).
const MAX_VISIBILITY: Duration = Duration::from_secs(43_200);

/// An SQS queue, by URL.
#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> SqsQueue {
        SqsQueue {
            client,
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Messages waiting plus messages in flight (both approximate, as SQS
    /// says): what a runner watches to know when a queue has drained.
    pub async fn approximate_depth(&self) -> Result<u64, PortError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| from_sdk("GetQueueAttributes", e))?;
        let attributes = out.attributes();
        let read = |name: QueueAttributeName| -> Result<u64, PortError> {
            attributes
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| {
                    PortError::Rejected(format!(
                        "GetQueueAttributes: no numeric {} for {}",
                        name.as_str(),
                        self.url
                    ))
                })
        };
        Ok(read(QueueAttributeName::ApproximateNumberOfMessages)?
            + read(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)?)
    }

    /// Sends one batch, retrying the entries SQS reports as failed.
    async fn send_batch(&self, mut bodies: Vec<String>) -> Result<(), PortError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.client.send_message_batch().queue_url(&self.url);
            for (i, body) in bodies.iter().enumerate() {
                let entry = SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body.clone())
                    .build()
                    .map_err(|e| from_build("SendMessageBatch entry", e))?;
                request = request.entries(entry);
            }
            let out = request
                .send()
                .await
                .map_err(|e| from_sdk("SendMessageBatch", e))?;
            if out.failed().is_empty() {
                return Ok(());
            }
            let mut retry = Vec::new();
            let mut last = None;
            for failure in out.failed() {
                let error = kind_of(
                    failure.code(),
                    None,
                    format!(
                        "SendMessageBatch entry: {}: {}",
                        failure.code(),
                        failure.message().unwrap_or("no message")
                    ),
                );
                // A sender fault that is not throttling will fail the same way again.
                if failure.sender_fault() && !matches!(error, PortError::Throttled(_)) {
                    return Err(PortError::Rejected(error.to_string()));
                }
                let body = failure
                    .id()
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| bodies.get(i))
                    .ok_or_else(|| {
                        PortError::Rejected(format!(
                            "SendMessageBatch reported a failure for unknown entry {}",
                            failure.id()
                        ))
                    })?;
                retry.push(body.clone());
                last = Some(error);
            }
            if attempt >= SEND_ATTEMPTS {
                return Err(last.unwrap_or_else(|| {
                    PortError::Unavailable("SendMessageBatch kept failing".into())
                }));
            }
            bodies = retry;
            tokio::time::sleep(backoff(attempt)).await;
        }
    }

    async fn delete_batch(&self, receipts: Vec<String>) -> Result<(), PortError> {
        let mut request = self.client.delete_message_batch().queue_url(&self.url);
        for (i, receipt) in receipts.iter().enumerate() {
            let entry = DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(receipt)
                .build()
                .map_err(|e| from_build("DeleteMessageBatch entry", e))?;
            request = request.entries(entry);
        }
        let out = request
            .send()
            .await
            .map_err(|e| from_sdk("DeleteMessageBatch", e))?;
        match out.failed().first() {
            None => Ok(()),
            Some(failure) => Err(kind_of(
                failure.code(),
                None,
                format!(
                    "DeleteMessageBatch: {} of {} entries failed, first: {}: {}",
                    out.failed().len(),
                    receipts.len(),
                    failure.code(),
                    failure.message().unwrap_or("no message")
                ),
            )),
        }
    }

    /// One ChangeMessageVisibilityBatch of at most ten receipts, to 0. An
    /// entry SQS refuses because its receipt no longer holds the message
    /// (deleted, or received again since) is what release skips.
    async fn release_batch(&self, receipts: Vec<String>) -> Result<(), PortError> {
        let mut request = self
            .client
            .change_message_visibility_batch()
            .queue_url(&self.url);
        for (i, receipt) in receipts.iter().enumerate() {
            let entry = ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(receipt)
                .visibility_timeout(0)
                .build()
                .map_err(|e| from_build("ChangeMessageVisibilityBatch entry", e))?;
            request = request.entries(entry);
        }
        let out = request
            .send()
            .await
            .map_err(|e| from_sdk("ChangeMessageVisibilityBatch", e))?;
        let stale = |code: &str| {
            matches!(
                code,
                "ReceiptHandleIsInvalid"
                    | "AWS.SimpleQueueService.MessageNotInflight"
                    | "MessageNotInflight"
                    | "InvalidParameterValue"
            )
        };
        match out.failed().iter().find(|f| !stale(f.code())) {
            None => Ok(()),
            Some(failure) => Err(kind_of(
                failure.code(),
                None,
                format!(
                    "ChangeMessageVisibilityBatch: {}: {}",
                    failure.code(),
                    failure.message().unwrap_or("no message")
                ),
            )),
        }
    }
}

/// Splits bodies into batches SQS accepts: at most [`MAX_BATCH_ENTRIES`]
/// entries and [`MAX_BATCH_BYTES`] of bodies each.
pub(crate) fn pack(bodies: Vec<String>) -> Result<Vec<Vec<String>>, PortError> {
    let mut batches: Vec<Vec<String>> = Vec::new();
    let mut bytes = 0;
    for body in bodies {
        if body.len() > MAX_BATCH_BYTES {
            return Err(PortError::Rejected(format!(
                "a message of {} bytes exceeds the queue's limit of {MAX_BATCH_BYTES} bytes",
                body.len()
            )));
        }
        let fits = batches
            .last()
            .is_some_and(|b| b.len() < MAX_BATCH_ENTRIES && bytes + body.len() <= MAX_BATCH_BYTES);
        if !fits {
            batches.push(Vec::new());
            bytes = 0;
        }
        bytes += body.len();
        if let Some(batch) = batches.last_mut() {
            batch.push(body);
        }
    }
    Ok(batches)
}

/// Whole seconds, rounded up (SQS counts in seconds), capped at `max`.
fn seconds(d: Duration, max: Duration) -> i32 {
    let d = d.min(max);
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(secs).unwrap_or(i32::MAX)
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, bodies: Vec<String>) -> Result<(), PortError> {
        let batches = pack(bodies)?;
        let results: Vec<Result<(), PortError>> = stream::iter(batches)
            .map(|batch| self.send_batch(batch))
            .buffer_unordered(SENDS_IN_FLIGHT)
            .collect()
            .await;
        results.into_iter().collect()
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Received>, PortError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.min(MAX_BATCH_ENTRIES) as i32)
            .wait_time_seconds(seconds(wait, MAX_WAIT))
            .visibility_timeout(seconds(visibility, MAX_VISIBILITY))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| from_sdk("ReceiveMessage", e))?;
        out.messages()
            .iter()
            .map(|m| {
                let missing = |what: &str| {
                    PortError::Rejected(format!("ReceiveMessage: a message has no {what}"))
                };
                let receive_count = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| missing("numeric ApproximateReceiveCount"))?;
                Ok(Received {
                    message_id: m.message_id().ok_or_else(|| missing("MessageId"))?.into(),
                    receipt: m
                        .receipt_handle()
                        .ok_or_else(|| missing("ReceiptHandle"))?
                        .into(),
                    body: m.body().unwrap_or_default().into(),
                    receive_count,
                })
            })
            .collect()
    }

    async fn delete(&self, receipts: Vec<String>) -> Result<(), PortError> {
        in_batches(receipts, |batch| self.delete_batch(batch)).await
    }

    async fn release(&self, receipts: Vec<String>) -> Result<(), PortError> {
        in_batches(receipts, |batch| self.release_batch(batch)).await
    }
}

/// `call` on every batch of at most [`MAX_BATCH_ENTRIES`] receipts, a few
/// batches in flight at once; the first failure, if any.
async fn in_batches<F, Fut>(receipts: Vec<String>, call: F) -> Result<(), PortError>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(), PortError>>,
{
    let batches: Vec<Vec<String>> = receipts
        .chunks(MAX_BATCH_ENTRIES)
        .map(<[String]>::to_vec)
        .collect();
    let results: Vec<Result<(), PortError>> = stream::iter(batches)
        .map(call)
        .buffer_unordered(SENDS_IN_FLIGHT)
        .collect()
        .await;
    results.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_by_count_and_bytes() {
        let small: Vec<String> = (0..25).map(|i| i.to_string()).collect();
        let sizes: Vec<usize> = pack(small).expect("packs").iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 5]);

        let big: Vec<String> = (0..5).map(|_| "x".repeat(400 * 1024)).collect();
        let sizes: Vec<usize> = pack(big).expect("packs").iter().map(Vec::len).collect();
        assert_eq!(sizes, [2, 2, 1]);

        let exact = vec!["y".repeat(MAX_BATCH_BYTES), "z".into()];
        let sizes: Vec<usize> = pack(exact).expect("packs").iter().map(Vec::len).collect();
        assert_eq!(sizes, [1, 1]);

        assert!(matches!(
            pack(vec!["w".repeat(MAX_BATCH_BYTES + 1)]),
            Err(PortError::Rejected(_))
        ));
        assert!(pack(Vec::new()).expect("packs").is_empty());
    }

    #[test]
    fn rounds_seconds_up_and_caps_them() {
        assert_eq!(seconds(Duration::ZERO, MAX_WAIT), 0);
        assert_eq!(seconds(Duration::from_millis(1), MAX_WAIT), 1);
        assert_eq!(seconds(Duration::from_secs(2), MAX_WAIT), 2);
        assert_eq!(seconds(Duration::from_secs(60), MAX_WAIT), 20);
    }
}
