//! A port for a name a function was not given.

use async_trait::async_trait;
use packet::Number;
use pipeline::{Claimed, KeyClaim};
use pipeline::{
    Completion, Failing, Failure, PortError, Put, Queue, Received, Scratchpad, ScratchpadRow,
    SumRecord, Sums,
};
use std::time::Duration;

/// Stands in for a queue or table whose environment variable is not set.
///
/// Each function gets only the names it uses (as its IAM policy allows only
/// those resources), so a call through any other port is a bug: it fails
/// with `Rejected`, naming the variable, instead of at start-up.
#[derive(Debug, Clone, Copy)]
pub struct Unset {
    pub variable: &'static str,
}

impl Unset {
    fn error(&self) -> PortError {
        PortError::Rejected(format!("{} is not set for this function", self.variable))
    }
}

#[async_trait]
impl Queue for Unset {
    async fn send(&self, _bodies: Vec<String>) -> Result<(), PortError> {
        Err(self.error())
    }

    async fn receive(
        &self,
        _max: usize,
        _wait: Duration,
        _visibility: Duration,
    ) -> Result<Vec<Received>, PortError> {
        Err(self.error())
    }

    async fn delete(&self, _receipts: Vec<String>) -> Result<(), PortError> {
        Err(self.error())
    }
}

#[async_trait]
impl Scratchpad for Unset {
    async fn put_new(&self, _row: &ScratchpadRow) -> Result<Put, PortError> {
        Err(self.error())
    }

    async fn group(&self, _array_id: &str) -> Result<Vec<ScratchpadRow>, PortError> {
        Err(self.error())
    }

    async fn retire(&self, _rows: &[ScratchpadRow]) -> Result<(), PortError> {
        Err(self.error())
    }
}

#[async_trait]
impl Sums for Unset {
    async fn claim_idempotency_key(
        &self,
        _claim: &KeyClaim<'_>,
        _now_s: u64,
    ) -> Result<Claimed, PortError> {
        Err(self.error())
    }

    async fn insert(&self, _record: &SumRecord) -> Result<Put, PortError> {
        Err(self.error())
    }

    async fn get(&self, _array_id: &str) -> Result<Option<SumRecord>, PortError> {
        Err(self.error())
    }

    async fn complete(
        &self,
        _array_id: &str,
        _sum: &Number,
        _elements: u64,
        _finished_at_ms: u64,
    ) -> Result<Completion, PortError> {
        Err(self.error())
    }

    async fn add_progress(
        &self,
        _array_id: &str,
        _progress: pipeline::Progress,
    ) -> Result<(), PortError> {
        Err(self.error())
    }

    async fn mark_enqueued(&self, _array_id: &str) -> Result<(), PortError> {
        Err(self.error())
    }

    async fn fail(
        &self,
        _array_id: &str,
        _failure: &Failure,
        _now_ms: u64,
    ) -> Result<Failing, PortError> {
        Err(self.error())
    }
}

#[async_trait]
impl pipeline::Objects for Unset {
    async fn head(
        &self,
        _object: &packet::ObjectRef,
    ) -> Result<pipeline::ObjectInfo, pipeline::ObjectError> {
        Err(self.error().into())
    }

    async fn read_from(
        &self,
        _object: &packet::ObjectRef,
        _from: u64,
    ) -> Result<pipeline::ObjectBody, pipeline::ObjectError> {
        Err(self.error().into())
    }
}
