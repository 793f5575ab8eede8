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
    /// Elements mapped and folded into scratchpad packets so far: progress
    /// while pending (it can lag after a crash; never overcounts).
    pub reduced_elements: u64,
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
    /// Atomically claims `claim.key` unless a claim that has not expired by
    /// `now_s` (Unix seconds) holds it. Claims live apart from array records
    /// (`get` never returns one, and no array id can collide with a key), so
    /// a key can neither read nor overwrite another array's result.
    async fn claim_idempotency_key(
        &self,
        claim: &KeyClaim<'_>,
        now_s: u64,
    ) -> Result<Claimed, PortError>;
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
    /// Adds `elements` to a record's progress counter (`reducedElements`).
    async fn add_progress(&self, array_id: &str, elements: u64) -> Result<(), PortError>;
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

/// A client's claim on an idempotency key: "the POST sent with this key is
/// array `array_id`, whose body has this fingerprint".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyClaim<'a> {
    /// The key, already scoped to the caller (see `IdempotencyKey::scoped`).
    pub key: &'a str,
    /// The server-generated id the key will stand for if the claim is new.
    pub array_id: &'a str,
    /// A fingerprint of the request body, so a key reused for a different
    /// body is noticed instead of silently answered with another array.
    pub fingerprint: &'a str,
    /// Unix seconds after which the claim is void (and DynamoDB's TTL may
    /// delete it, which happens lazily, hence the explicit check).
    pub expires_at_s: u64,
}

/// What claiming an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// Nobody held the key (or its claim had expired): it is now ours.
    New,
    /// A live claim exists: the key already stands for this array.
    Existing {
        array_id: String,
        fingerprint: String,
    },
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
