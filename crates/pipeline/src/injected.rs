//! Ports that fail on purpose, for tests: wrap any [`Queue`] or [`Sums`]
//! (in-process or AWS) and tell an operation how to misbehave.
//!
//! The faults are the ones AWS and its SDK produce, including the one a
//! model of "what the steps call" misses: a write that applied, whose answer
//! was lost, retried by the SDK ([`Injection::RetriedAfterApplied`]): a
//! conditional put then answers "already there", an `ADD` counts twice, a
//! sent message arrives twice.

use crate::ports::{
    Claimed, Completion, Failing, Failure, KeyClaim, PortError, Progress, Put, Queue, Received,
    SumRecord, Sums,
};
use async_trait::async_trait;
use packet::Number;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How an operation misbehaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injection {
    /// Fails without taking effect.
    Before(PortError),
    /// Takes effect, then reports this error.
    After(PortError),
    /// Takes effect, then runs again (the SDK's retry of a request whose
    /// answer was lost), and answers what the second run answered.
    RetriedAfterApplied,
}

/// Operations the AWS adapters send once, without the SDK's retries,
/// because they are not idempotent (see `Sums::add_progress`).
pub const SENT_ONCE: &[&str] = &["add_progress"];

impl Injection {
    /// What a lost answer does to `op`: the SDK retries it, unless the
    /// adapter sends it once, when the caller sees an error instead.
    pub fn lost_answer(op: &str) -> Injection {
        if SENT_ONCE.contains(&op) {
            Injection::After(PortError::Unavailable(format!("{op}: answer lost")))
        } else {
            Injection::RetriedAfterApplied
        }
    }
}

/// Which operations misbehave, by name (`"insert"`, `"send"`, …), and for
/// how many calls (`None`: every call).
#[derive(Default)]
pub struct Injections(Mutex<HashMap<&'static str, (Injection, Option<u32>)>>);

impl Injections {
    /// Makes `op` misbehave on every call until [`Injections::clear`].
    pub fn set(&self, op: &'static str, how: Injection) {
        self.lock().insert(op, (how, None));
    }

    /// Makes `op` misbehave on its next `calls` calls only.
    pub fn set_for(&self, op: &'static str, how: Injection, calls: u32) {
        self.lock().insert(op, (how, Some(calls)));
    }

    pub fn clear(&self, op: &'static str) {
        self.lock().remove(op);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, (Injection, Option<u32>)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The injection for this call of `op`, counting it down.
    fn take(&self, op: &'static str) -> Option<Injection> {
        let mut map = self.lock();
        let (how, left) = map.get_mut(op)?;
        let how = how.clone();
        match left {
            Some(0) => return None,
            Some(n) => *n -= 1,
            None => {}
        }
        Some(how)
    }

    /// Runs `call` as `op` under its injection.
    async fn run<T, F, Fut>(&self, op: &'static str, call: F) -> Result<T, PortError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, PortError>>,
    {
        match self.take(op) {
            None => call().await,
            Some(Injection::Before(e)) => Err(e),
            Some(Injection::After(e)) => {
                call().await?;
                Err(e)
            }
            Some(Injection::RetriedAfterApplied) => {
                call().await?;
                call().await
            }
        }
    }
}

/// A [`Queue`] with [`Injections`] on `send`, `receive` and `delete`.
pub struct InjectedQueue {
    pub inner: Arc<dyn Queue>,
    pub faults: Injections,
}

impl InjectedQueue {
    pub fn new(inner: Arc<dyn Queue>) -> Arc<InjectedQueue> {
        Arc::new(InjectedQueue {
            inner,
            faults: Injections::default(),
        })
    }
}

#[async_trait]
impl Queue for InjectedQueue {
    async fn send(&self, bodies: Vec<String>) -> Result<(), PortError> {
        self.faults
            .run("send", || self.inner.send(bodies.clone()))
            .await
    }
    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Received>, PortError> {
        self.faults
            .run("receive", || self.inner.receive(max, wait, visibility))
            .await
    }
    async fn delete(&self, receipts: Vec<String>) -> Result<(), PortError> {
        self.faults
            .run("delete", || self.inner.delete(receipts.clone()))
            .await
    }
}

/// A [`Sums`] with [`Injections`] on each operation, named as the method.
pub struct InjectedSums {
    pub inner: Arc<dyn Sums>,
    pub faults: Injections,
}

impl InjectedSums {
    pub fn new(inner: Arc<dyn Sums>) -> Arc<InjectedSums> {
        Arc::new(InjectedSums {
            inner,
            faults: Injections::default(),
        })
    }
}

#[async_trait]
impl Sums for InjectedSums {
    async fn claim_idempotency_key(
        &self,
        claim: &KeyClaim<'_>,
        now_s: u64,
    ) -> Result<Claimed, PortError> {
        self.faults
            .run("claim_idempotency_key", || {
                self.inner.claim_idempotency_key(claim, now_s)
            })
            .await
    }
    async fn insert(&self, record: &SumRecord) -> Result<Put, PortError> {
        self.faults
            .run("insert", || self.inner.insert(record))
            .await
    }
    async fn get(&self, array_id: &str) -> Result<Option<SumRecord>, PortError> {
        self.faults.run("get", || self.inner.get(array_id)).await
    }
    async fn complete(
        &self,
        array_id: &str,
        sum: &Number,
        elements: u64,
        finished_at_ms: u64,
    ) -> Result<Completion, PortError> {
        self.faults
            .run("complete", || {
                self.inner.complete(array_id, sum, elements, finished_at_ms)
            })
            .await
    }
    async fn add_progress(&self, array_id: &str, progress: Progress) -> Result<(), PortError> {
        self.faults
            .run("add_progress", || {
                self.inner.add_progress(array_id, progress)
            })
            .await
    }
    async fn mark_enqueued(&self, array_id: &str) -> Result<(), PortError> {
        self.faults
            .run("mark_enqueued", || self.inner.mark_enqueued(array_id))
            .await
    }
    async fn fail(
        &self,
        array_id: &str,
        failure: &Failure,
        now_ms: u64,
    ) -> Result<Failing, PortError> {
        self.faults
            .run("fail", || self.inner.fail(array_id, failure, now_ms))
            .await
    }
}
