//! In-process ports: the embedded backend of the local runner and the ground of
//! the deterministic simulation.
//!
//! They keep the semantics the steps depend on: a queue hides a received
//! message for its visibility timeout, counts receives and moves a message to
//! its dead-letter queue once it has been received more than `max_receive_count`
//! times; the scratchpad's conditional put is atomic per item and its `group`
//! reads item by item, so a concurrent write or delete can be seen half-way, as
//! with a DynamoDB Query.

mod objects;

pub use objects::MemoryObjects;

use crate::ports::{
    check_message_sizes, Claimed, Clock, Completion, Failing, Failure, KeyClaim, PortError,
    Progress, Put, Queue, Received, RowKey, Scratchpad, ScratchpadRow, Status, SumRecord, Sums,
    FAILED_RECORD_RETENTION_SECONDS,
};
use async_trait::async_trait;
use packet::job::Stored as Value;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these maps half-updated
    // (every update is a single insert or remove), so a poisoned lock is safe.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Clone)]
struct Stored {
    id: String,
    body: String,
    /// When it was first sent: SQS drops a message its retention period
    /// after that, wherever it is then (a dead-letter queue included).
    sent_at_ms: u64,
    visible_at_ms: u64,
    receive_count: u32,
    receipt: Option<String>,
}

/// Where a queue sends what it failed to deliver.
#[derive(Clone)]
pub struct Redrive {
    pub dead_letter: Arc<MemoryQueue>,
    pub max_receive_count: u32,
}

/// An SQS standard queue in memory.
pub struct MemoryQueue {
    name: String,
    clock: Arc<dyn Clock>,
    redrive: Option<Redrive>,
    messages: Mutex<BTreeMap<u64, Stored>>,
    next: AtomicU64,
    arrived: Notify,
}

impl MemoryQueue {
    pub fn new(name: &str, clock: Arc<dyn Clock>, redrive: Option<Redrive>) -> MemoryQueue {
        MemoryQueue {
            name: name.to_string(),
            clock,
            redrive,
            messages: Mutex::new(BTreeMap::new()),
            next: AtomicU64::new(0),
            arrived: Notify::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Messages in the queue, visible or in flight.
    pub fn len(&self) -> usize {
        lock(&self.messages).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bodies of every message, in arrival order (for inspection and tests).
    pub fn bodies(&self) -> Vec<String> {
        lock(&self.messages)
            .values()
            .map(|m| m.body.clone())
            .collect()
    }

    /// Drops every message sent more than `retention` ago, as SQS does
    /// (`MessageRetentionPeriod`); returns how many.
    pub fn drop_expired(&self, retention: Duration) -> usize {
        let now = self.clock.now_ms();
        let keep_from = now.saturating_sub(retention.as_millis() as u64);
        let mut messages = lock(&self.messages);
        let before = messages.len();
        messages.retain(|_, m| m.sent_at_ms >= keep_from);
        before - messages.len()
    }

    /// Milliseconds until the next hidden message becomes visible, if any.
    pub fn next_visible_in_ms(&self) -> Option<u64> {
        let now = self.clock.now_ms();
        lock(&self.messages)
            .values()
            .map(|m| m.visible_at_ms.saturating_sub(now))
            .min()
    }

    fn push(&self, body: String) {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let stored = Stored {
            id: format!("{}-{seq}", self.name),
            body,
            sent_at_ms: self.clock.now_ms(),
            visible_at_ms: 0,
            receive_count: 0,
            receipt: None,
        };
        lock(&self.messages).insert(seq, stored);
    }

    /// Takes in a message moved from another queue. Like SQS (and moto), it
    /// keeps its id and receive count, so the first receive from a dead-letter
    /// queue reports `max_receive_count + 1`.
    fn adopt(&self, moved: Stored) {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let stored = Stored {
            visible_at_ms: 0,
            receipt: None,
            ..moved
        };
        lock(&self.messages).insert(seq, stored);
    }

    fn take_visible(&self, max: usize, visibility: Duration) -> Vec<Received> {
        let now = self.clock.now_ms();
        let mut out = Vec::new();
        let mut dead = Vec::new();
        {
            let mut messages = lock(&self.messages);
            for (seq, m) in messages.iter_mut() {
                if out.len() >= max {
                    break;
                }
                if m.visible_at_ms > now {
                    continue;
                }
                if let Some(r) = &self.redrive {
                    if m.receive_count >= r.max_receive_count {
                        dead.push(*seq);
                        continue;
                    }
                }
                m.receive_count += 1;
                m.visible_at_ms = now + visibility.as_millis() as u64;
                let receipt = format!("{}#{}", m.id, m.receive_count);
                m.receipt = Some(receipt.clone());
                out.push(Received {
                    message_id: m.id.clone(),
                    receipt,
                    body: m.body.clone(),
                    receive_count: m.receive_count,
                });
            }
            if let Some(r) = &self.redrive {
                for seq in dead {
                    if let Some(m) = messages.remove(&seq) {
                        r.dead_letter.adopt(m);
                    }
                }
            }
        }
        if let Some(r) = &self.redrive {
            r.dead_letter.arrived.notify_waiters();
        }
        out
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn send(&self, bodies: Vec<String>) -> Result<(), PortError> {
        check_message_sizes(&bodies)?;
        for body in bodies {
            self.push(body);
        }
        self.arrived.notify_waiters();
        Ok(())
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Received>, PortError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let arrived = self.arrived.notified();
            let got = self.take_visible(max, visibility);
            if !got.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(got);
            }
            // Hidden messages reappear without a notification, so look again soon.
            let nap = deadline.min(tokio::time::Instant::now() + Duration::from_millis(50));
            let _ = tokio::time::timeout_at(nap, arrived).await;
        }
    }

    async fn delete(&self, receipts: Vec<String>) -> Result<(), PortError> {
        let mut messages = lock(&self.messages);
        messages.retain(|_, m| !m.receipt.as_ref().is_some_and(|r| receipts.contains(r)));
        Ok(())
    }

    async fn release(&self, receipts: Vec<String>) -> Result<(), PortError> {
        let now = self.clock.now_ms();
        for m in lock(&self.messages).values_mut() {
            if m.receipt.as_ref().is_some_and(|r| receipts.contains(r)) {
                m.visible_at_ms = now;
                m.receipt = None;
            }
        }
        self.arrived.notify_waiters();
        Ok(())
    }
}

/// The scratchpad table in memory.
#[derive(Default)]
pub struct MemoryScratchpad {
    rows: Mutex<BTreeMap<RowKey, ScratchpadRow>>,
    interleave: AtomicBool,
}

impl MemoryScratchpad {
    pub fn new() -> MemoryScratchpad {
        MemoryScratchpad::default()
    }

    /// Makes `group` yield to other tasks between items, so concurrent steps
    /// interleave with a read the way they can with a DynamoDB Query.
    pub fn interleave_reads(&self, on: bool) {
        self.interleave.store(on, Ordering::Relaxed);
    }

    /// Every row (for inspection and tests).
    pub fn rows(&self) -> Vec<ScratchpadRow> {
        lock(&self.rows).values().cloned().collect()
    }

    /// Deletes every row whose `expires_at` (Unix seconds) is before
    /// `now_s`, as DynamoDB's TTL does (lazily on AWS; at once here, the
    /// harsher case); returns how many.
    pub fn delete_expired(&self, now_s: u64) -> usize {
        let mut rows = lock(&self.rows);
        let before = rows.len();
        rows.retain(|_, r| r.expires_at >= now_s);
        before - rows.len()
    }
}

#[async_trait]
impl Scratchpad for MemoryScratchpad {
    async fn put_new(&self, row: &ScratchpadRow) -> Result<Put, PortError> {
        let mut rows = lock(&self.rows);
        if rows.contains_key(&row.key) {
            return Ok(Put::AlreadyThere);
        }
        rows.insert(row.key.clone(), row.clone());
        Ok(Put::Created)
    }

    async fn group(&self, partition_key: &str) -> Result<Vec<ScratchpadRow>, PortError> {
        let mut out = Vec::new();
        let mut cursor = RowKey {
            partition_key: partition_key.to_string(),
            packet_id: String::new(),
        };
        let mut first = true;
        loop {
            let next = {
                let rows = lock(&self.rows);
                let mut range = rows.range(&cursor..);
                let mut item = range.next();
                if !first && item.is_some_and(|(k, _)| *k == cursor) {
                    item = range.next();
                }
                item.filter(|(k, _)| k.partition_key == partition_key)
                    .map(|(_, v)| v.clone())
            };
            first = false;
            let Some(row) = next else { break };
            cursor = row.key.clone();
            out.push(row);
            if self.interleave.load(Ordering::Relaxed) {
                tokio::task::yield_now().await;
            }
        }
        Ok(out)
    }

    async fn retire(&self, retired: &[ScratchpadRow]) -> Result<(), PortError> {
        let mut rows = lock(&self.rows);
        for r in retired {
            rows.insert(
                r.key.clone(),
                ScratchpadRow {
                    consumed: true,
                    ..r.clone()
                },
            );
        }
        Ok(())
    }
}

/// The sums table in memory.
#[derive(Default)]
pub struct MemorySums {
    records: Mutex<HashMap<String, SumRecord>>,
    /// Idempotency claims by scoped key: (array id, fingerprint, expiry in
    /// Unix seconds). Apart from `records`, so no key can shadow an array.
    claims: Mutex<HashMap<String, (String, String, u64)>>,
}

impl MemorySums {
    pub fn new() -> MemorySums {
        MemorySums::default()
    }

    /// Every record (for inspection and tests).
    pub fn records(&self) -> Vec<SumRecord> {
        lock(&self.records).values().cloned().collect()
    }
}

#[async_trait]
impl Sums for MemorySums {
    async fn claim_idempotency_key(
        &self,
        claim: &KeyClaim<'_>,
        now_s: u64,
    ) -> Result<Claimed, PortError> {
        let mut claims = lock(&self.claims);
        if let Some((array_id, fingerprint, expires_at_s)) = claims.get(claim.key) {
            // Expired claims count as absent, as in DynamoDB, whose TTL
            // deletes them lazily.
            if *expires_at_s >= now_s {
                return Ok(Claimed::Existing {
                    array_id: array_id.clone(),
                    fingerprint: fingerprint.clone(),
                });
            }
        }
        claims.insert(
            claim.key.to_string(),
            (
                claim.array_id.to_string(),
                claim.fingerprint.to_string(),
                claim.expires_at_s,
            ),
        );
        Ok(Claimed::New)
    }

    async fn insert(&self, record: &SumRecord) -> Result<Put, PortError> {
        let mut records = lock(&self.records);
        if records.contains_key(&record.array_id) {
            return Ok(Put::AlreadyThere);
        }
        records.insert(record.array_id.clone(), record.clone());
        Ok(Put::Created)
    }

    async fn get(&self, array_id: &str) -> Result<Option<SumRecord>, PortError> {
        Ok(lock(&self.records).get(array_id).cloned())
    }

    async fn complete(
        &self,
        array_id: &str,
        result: &Value,
        elements: u64,
        finished_at_ms: u64,
    ) -> Result<Completion, PortError> {
        let mut records = lock(&self.records);
        match records.get_mut(array_id) {
            None => Ok(Completion::Unknown),
            Some(r) if r.status == Status::Done => Ok(Completion::AlreadyDone),
            Some(r) if r.status == Status::Failed && !revivable(r) => Ok(Completion::Failed),
            Some(r) => {
                r.status = Status::Done;
                match result {
                    Value::Number(sum) => r.sum = Some(sum.clone()),
                    Value::Text(value) => r.result = Some(value.clone()),
                }
                r.element_count = Some(elements);
                r.finished_at_ms = Some(finished_at_ms);
                r.failure = None;
                r.expires_at_s = None;
                Ok(Completion::Completed)
            }
        }
    }

    async fn fail(
        &self,
        array_id: &str,
        failure: &Failure,
        now_ms: u64,
    ) -> Result<Failing, PortError> {
        let mut records = lock(&self.records);
        match records.get_mut(array_id) {
            None => Ok(Failing::Unknown),
            Some(r) if r.status == Status::Done => Ok(Failing::AlreadyEnded(Status::Done)),
            Some(r)
                if r.status == Status::Failed
                    && !revivable(r)
                    && !r
                        .failure
                        .as_ref()
                        .is_some_and(|old| failure.supersedes(old)) =>
            {
                Ok(Failing::AlreadyEnded(Status::Failed))
            }
            Some(r) => {
                r.status = Status::Failed;
                r.failure = Some(failure.clone());
                r.finished_at_ms = Some(now_ms);
                r.expires_at_s = Some(now_ms / 1000 + FAILED_RECORD_RETENTION_SECONDS);
                Ok(Failing::Failed)
            }
        }
    }

    async fn add_progress(&self, array_id: &str, progress: Progress) -> Result<(), PortError> {
        match lock(&self.records).get_mut(array_id) {
            Some(r) => {
                r.reduced_elements += progress.elements;
                r.mapped_bytes += progress.bytes;
                Ok(())
            }
            None => Err(PortError::Rejected(format!(
                "array {array_id} does not exist"
            ))),
        }
    }

    async fn mark_enqueued(&self, array_id: &str) -> Result<(), PortError> {
        match lock(&self.records).get_mut(array_id) {
            Some(r) => {
                r.enqueued = true;
                Ok(())
            }
            None => Err(PortError::Rejected(format!(
                "array {array_id} does not exist"
            ))),
        }
    }
}

/// A dead-lettered array may still finish (after a redrive) or fail again
/// for another reason; every other failure is final.
fn revivable(record: &SumRecord) -> bool {
    record.status == Status::Failed && !record.has_ended()
}

/// Which queue of a [`MemoryBackend`] a batch comes from, and so which step
/// handles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The TimesTwo queue, for the map.
    Map,
    /// The Reduce queue.
    Reduce,
}

/// Why [`MemoryBackend::drain`] stopped with messages left.
#[derive(Debug, thiserror::Error)]
pub enum NotDrained {
    #[error("{times_two} TimesTwo and {reduce} Reduce messages left after {rounds} rounds")]
    Rounds {
        rounds: usize,
        times_two: usize,
        reduce: usize,
    },
    #[error(transparent)]
    Port(#[from] PortError),
}

/// A complete in-process backend: both queues with their dead-letter queues,
/// both tables, one clock.
#[derive(Clone)]
pub struct MemoryBackend {
    pub times_two_queue: Arc<MemoryQueue>,
    pub times_two_dlq: Arc<MemoryQueue>,
    pub reduce_queue: Arc<MemoryQueue>,
    pub reduce_dlq: Arc<MemoryQueue>,
    pub scratchpad: Arc<MemoryScratchpad>,
    pub sums: Arc<MemorySums>,
    pub objects: Arc<MemoryObjects>,
    pub clock: Arc<dyn Clock>,
}

impl MemoryBackend {
    /// A backend whose queues redrive after `max_receive_count` receives.
    pub fn new(clock: Arc<dyn Clock>, max_receive_count: u32) -> MemoryBackend {
        let queue = |name: &str| {
            let dlq = Arc::new(MemoryQueue::new(&format!("{name}DLQ"), clock.clone(), None));
            let redrive = Redrive {
                dead_letter: dlq.clone(),
                max_receive_count,
            };
            (
                Arc::new(MemoryQueue::new(name, clock.clone(), Some(redrive))),
                dlq,
            )
        };
        let (times_two_queue, times_two_dlq) = queue(stack_names::TIMES_TWO_QUEUE);
        let (reduce_queue, reduce_dlq) = queue(stack_names::REDUCE_QUEUE);
        MemoryBackend {
            times_two_queue,
            times_two_dlq,
            reduce_queue,
            reduce_dlq,
            scratchpad: Arc::new(MemoryScratchpad::new()),
            sums: Arc::new(MemorySums::new()),
            objects: Arc::new(MemoryObjects::new()),
            clock,
        }
    }

    /// Delivers every queued message until both queues are empty, as the two
    /// event source mappings would: each round a batch of up to ten from the
    /// TimesTwo queue, then one from the Reduce queue. `deliver` handles a
    /// batch and answers the receipts of the messages it finished; those are
    /// deleted, the others come again once their visibility timeout (a
    /// minute on the backend's clock) has passed.
    pub async fn drain<F, Fut>(&self, rounds: usize, mut deliver: F) -> Result<(), NotDrained>
    where
        F: FnMut(Stage, Vec<Received>) -> Fut,
        Fut: Future<Output = Vec<String>>,
    {
        let visibility = Duration::from_secs(60);
        for _ in 0..rounds {
            for (stage, queue) in [
                (Stage::Map, &self.times_two_queue),
                (Stage::Reduce, &self.reduce_queue),
            ] {
                let batch = queue.take_visible(10, visibility);
                if !batch.is_empty() {
                    let finished = deliver(stage, batch).await;
                    queue.delete(finished).await?;
                }
            }
            if self.times_two_queue.is_empty() && self.reduce_queue.is_empty() {
                return Ok(());
            }
        }
        Err(NotDrained::Rounds {
            rounds,
            times_two: self.times_two_queue.len(),
            reduce: self.reduce_queue.len(),
        })
    }

    pub fn ports(&self) -> crate::ports::Ports {
        crate::ports::Ports {
            times_two_queue: self.times_two_queue.clone(),
            reduce_queue: self.reduce_queue.clone(),
            scratchpad: self.scratchpad.clone(),
            sums: self.sums.clone(),
            objects: self.objects.clone(),
            clock: self.clock.clone(),
        }
    }
}
