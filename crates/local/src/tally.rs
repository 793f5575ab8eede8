//! Counts what a local run does: calls on each port, and handler invocations
//! per function with the time they took. The benchmark prints these; with
//! `--backend aws` it also prints the SDK's own request count.

use async_trait::async_trait;
use packet::Number;
use pipeline::{Claimed, KeyClaim};
use pipeline::{
    Completion, Failing, Failure, PortError, Ports, Put, Queue, Received, Scratchpad,
    ScratchpadRow, SumRecord, Sums,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One function's invocations.
#[derive(Debug, Default)]
pub struct Invocations {
    pub count: AtomicU64,
    pub busy_micros: AtomicU64,
}

/// Everything counted during a run.
#[derive(Debug, Default)]
pub struct Tally {
    calls: Mutex<BTreeMap<&'static str, u64>>,
    /// Scratchpad rows written by `retire` and rows read by `group`.
    pub rows_retired: AtomicU64,
    pub rows_read: AtomicU64,
    invocations: Mutex<BTreeMap<String, Arc<Invocations>>>,
}

impl Tally {
    fn call(&self, what: &'static str) {
        if let Ok(mut calls) = self.calls.lock() {
            *calls.entry(what).or_default() += 1;
        }
    }

    /// Port calls so far, e.g. `"scratchpad.put_new" -> 1000`.
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// The counter of `function`'s invocations.
    pub fn function(&self, function: &str) -> Arc<Invocations> {
        let mut all = match self.invocations.lock() {
            Ok(all) => all,
            Err(e) => e.into_inner(),
        };
        all.entry(function.to_string()).or_default().clone()
    }

    /// `function -> (invocations, busy time)`.
    pub fn invocations(&self) -> BTreeMap<String, (u64, Duration)> {
        self.invocations
            .lock()
            .map(|all| {
                all.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            (
                                v.count.load(Ordering::Relaxed),
                                Duration::from_micros(v.busy_micros.load(Ordering::Relaxed)),
                            ),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The queue S3 notifies new objects to (polled, never sent to by the
    /// functions), with its calls counted here.
    pub fn wrap_object_created_queue(self: &Arc<Tally>, queue: Arc<dyn Queue>) -> Arc<dyn Queue> {
        Arc::new(CountedQueue {
            inner: queue,
            tally: self.clone(),
            names: [
                "object_created_queue.send",
                "object_created_queue.receive",
                "object_created_queue.delete",
            ],
        })
    }

    /// `ports` with every call counted here.
    pub fn wrap(self: &Arc<Tally>, ports: Ports) -> Ports {
        Ports {
            times_two_queue: Arc::new(CountedQueue {
                inner: ports.times_two_queue,
                tally: self.clone(),
                names: [
                    "times_two_queue.send",
                    "times_two_queue.receive",
                    "times_two_queue.delete",
                ],
            }),
            reduce_queue: Arc::new(CountedQueue {
                inner: ports.reduce_queue,
                tally: self.clone(),
                names: [
                    "reduce_queue.send",
                    "reduce_queue.receive",
                    "reduce_queue.delete",
                ],
            }),
            scratchpad: Arc::new(CountedScratchpad {
                inner: ports.scratchpad,
                tally: self.clone(),
            }),
            sums: Arc::new(CountedSums {
                inner: ports.sums,
                tally: self.clone(),
            }),
            // Object reads are counted by the benchmark's object mode.
            objects: ports.objects,
            clock: ports.clock,
        }
    }
}

struct CountedQueue {
    inner: Arc<dyn Queue>,
    tally: Arc<Tally>,
    names: [&'static str; 3],
}

#[async_trait]
impl Queue for CountedQueue {
    async fn send(&self, bodies: Vec<String>) -> Result<(), PortError> {
        self.tally.call(self.names[0]);
        self.inner.send(bodies).await
    }
    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Received>, PortError> {
        self.tally.call(self.names[1]);
        self.inner.receive(max, wait, visibility).await
    }
    async fn delete(&self, receipts: Vec<String>) -> Result<(), PortError> {
        self.tally.call(self.names[2]);
        self.inner.delete(receipts).await
    }
}

struct CountedScratchpad {
    inner: Arc<dyn Scratchpad>,
    tally: Arc<Tally>,
}

#[async_trait]
impl Scratchpad for CountedScratchpad {
    async fn put_new(&self, row: &ScratchpadRow) -> Result<Put, PortError> {
        self.tally.call("scratchpad.put_new");
        self.inner.put_new(row).await
    }
    async fn group(&self, partition_key: &str) -> Result<Vec<ScratchpadRow>, PortError> {
        self.tally.call("scratchpad.group");
        let rows = self.inner.group(partition_key).await?;
        self.tally
            .rows_read
            .fetch_add(rows.len() as u64, Ordering::Relaxed);
        Ok(rows)
    }
    async fn retire(&self, rows: &[ScratchpadRow]) -> Result<(), PortError> {
        self.tally.call("scratchpad.retire");
        self.tally
            .rows_retired
            .fetch_add(rows.len() as u64, Ordering::Relaxed);
        self.inner.retire(rows).await
    }
}

struct CountedSums {
    inner: Arc<dyn Sums>,
    tally: Arc<Tally>,
}

#[async_trait]
impl Sums for CountedSums {
    async fn claim_idempotency_key(
        &self,
        claim: &KeyClaim<'_>,
        now_s: u64,
    ) -> Result<Claimed, PortError> {
        self.tally.call("sums.claim_idempotency_key");
        self.inner.claim_idempotency_key(claim, now_s).await
    }
    async fn insert(&self, record: &SumRecord) -> Result<Put, PortError> {
        self.tally.call("sums.insert");
        self.inner.insert(record).await
    }
    async fn get(&self, array_id: &str) -> Result<Option<SumRecord>, PortError> {
        self.tally.call("sums.get");
        self.inner.get(array_id).await
    }
    async fn complete(
        &self,
        array_id: &str,
        sum: &Number,
        elements: u64,
        finished_at_ms: u64,
    ) -> Result<Completion, PortError> {
        self.tally.call("sums.complete");
        self.inner
            .complete(array_id, sum, elements, finished_at_ms)
            .await
    }
    async fn add_progress(
        &self,
        array_id: &str,
        progress: pipeline::Progress,
    ) -> Result<(), PortError> {
        self.tally.call("sums.add_progress");
        self.inner.add_progress(array_id, progress).await
    }
    async fn mark_enqueued(&self, array_id: &str) -> Result<(), PortError> {
        self.tally.call("sums.mark_enqueued");
        self.inner.mark_enqueued(array_id).await
    }
    async fn fail(
        &self,
        array_id: &str,
        failure: &Failure,
        now_ms: u64,
    ) -> Result<Failing, PortError> {
        self.tally.call("sums.fail");
        self.inner.fail(array_id, failure, now_ms).await
    }
}
