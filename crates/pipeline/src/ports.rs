//! The ports the steps talk through, and the records they exchange.
//!
//! Each trait is the smallest surface the steps need; both implementations (AWS
//! and in-process) must behave the same way, which the contract suite checks.

use async_trait::async_trait;
use packet::Number;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A failure of a port call. The steps never retry [`PortError::Rejected`];
/// the other two are worth another try (the SDK has already retried them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("throttled: {0}")]
    Throttled(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("request rejected: {0}")]
    Rejected(String),
}

impl PortError {
    pub fn is_transient(&self) -> bool {
        !matches!(self, PortError::Rejected(_))
    }
}

/// A message taken from a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub message_id: String,
    pub receipt: String,
    pub body: String,
    /// How many times it has been received, this time included.
    pub receive_count: u32,
}

/// A message queue (SQS standard queue semantics: at least once, any order).
#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends every body; returns only when all were accepted.
    async fn send(&self, bodies: Vec<String>) -> Result<(), PortError>;
    /// Takes up to `max` messages, hiding them for `visibility`; waits up to
    /// `wait` for one to arrive.
    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Received>, PortError>;
    /// Deletes received messages by receipt handle.
    async fn delete(&self, receipts: Vec<String>) -> Result<(), PortError>;
}

/// Key of a scratchpad row: `arrayId` (partition) and `packetId` (sort).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowKey {
    pub array_id: String,
    pub packet_id: String,
}

/// A scratchpad row, with the original's attribute names in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScratchpadRow {
    pub key: RowKey,
    pub packet_value: Number,
    pub array_length: u64,
    pub packet_contains: u64,
    /// Unix seconds after which DynamoDB's TTL may delete the row.
    pub expires_at: u64,
    /// Merged into its parent. A consumed row stays as a tombstone until its
    /// TTL, so a redelivered message can never bring the packet back to life.
    pub consumed: bool,
}

/// What a conditional put found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Created,
    AlreadyThere,
}

/// The scratchpad table.
#[async_trait]
pub trait Scratchpad: Send + Sync {
    /// Writes `row` unless a row with its key exists.
    async fn put_new(&self, row: &ScratchpadRow) -> Result<Put, PortError>;
    /// Every row under partition key `array_id`, read consistently item by item
    /// (read-committed, like a DynamoDB Query: not a snapshot).
    async fn group(&self, array_id: &str) -> Result<Vec<ScratchpadRow>, PortError>;
    /// Marks rows consumed (overwrites each with `consumed` set).
    async fn retire(&self, rows: &[ScratchpadRow]) -> Result<(), PortError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Done,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Done => "done",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "pending" => Some(Status::Pending),
            "done" => Some(Status::Done),
            _ => None,
        }
    }
}

/// A row of the sums table: one submitted array and, once done, its sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumRecord {
    pub array_id: String,
    pub status: Status,
    pub array_length: u64,
    pub chunk_size: u64,
    pub fan_in: u64,
    pub sum: Option<Number>,
    pub submitted_at_ms: u64,
    pub finished_at_ms: Option<u64>,
}

/// What completing an array found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    Completed,
    AlreadyDone,
    Unknown,
}

/// The sums table.
#[async_trait]
pub trait Sums: Send + Sync {
    /// Records a new array; fails with `Rejected` if the id is taken.
    async fn insert(&self, record: &SumRecord) -> Result<(), PortError>;
    /// Reads a record, consistently.
    async fn get(&self, array_id: &str) -> Result<Option<SumRecord>, PortError>;
    /// Sets the sum of a pending array, once: a done array is never changed.
    async fn complete(
        &self,
        array_id: &str,
        sum: &Number,
        finished_at_ms: u64,
    ) -> Result<Completion, PortError>;
}

/// Wall-clock time, virtual in the simulation.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// Everything a step may touch.
#[derive(Clone)]
pub struct Ports {
    pub times_two_queue: Arc<dyn Queue>,
    pub reduce_queue: Arc<dyn Queue>,
    pub scratchpad: Arc<dyn Scratchpad>,
    pub sums: Arc<dyn Sums>,
    pub clock: Arc<dyn Clock>,
}
