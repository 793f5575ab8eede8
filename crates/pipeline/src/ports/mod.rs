//! The ports the steps talk through, and the records they exchange.
//!
//! Each trait is the smallest surface the steps need; both implementations (AWS
//! and in-process) must behave the same way, which the contract suite checks.

mod objects;

pub use objects::{ObjectBody, ObjectError, ObjectInfo, Objects};

use async_trait::async_trait;
use packet::job::{JobSpec, Stored};
use packet::{Number, ObjectSource, MAX_MESSAGE_BYTES};
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

/// SQS refuses a message body over its size limit; so does every queue,
/// before sending anything (the SQS port checks the same limit itself).
pub fn check_message_sizes(bodies: &[String]) -> Result<(), PortError> {
    match bodies.iter().find(|b| b.len() > MAX_MESSAGE_BYTES) {
        Some(body) => Err(PortError::Rejected(format!(
            "a message of {} bytes exceeds the queue's limit of {MAX_MESSAGE_BYTES} bytes",
            body.len()
        ))),
        None => Ok(()),
    }
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
    /// Makes received messages visible again at once (SQS: a visibility
    /// timeout of 0), for a receiver that stops before finishing them: the
    /// next receiver need not wait out the visibility timeout. A receipt of
    /// a message already deleted, or received again since, is skipped.
    async fn release(&self, receipts: Vec<String>) -> Result<(), PortError>;
}

/// Key of a scratchpad row. The table's attributes keep the original's
/// names, `arrayId` (partition) and `packetId` (sort), but the partition key
/// is not always an array id: see [`RowKey::partition_key`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowKey {
    /// `<arrayId>` for the root's children, `<arrayId>/<parent>` for any
    /// other node's: the rows one merge reads share it (`Tree::partition_key`).
    pub partition_key: String,
    pub packet_id: String,
}

/// A scratchpad row, with the original's attribute names in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScratchpadRow {
    pub key: RowKey,
    /// The node's value: the adder's doubled sum (`packetValue`, a Number)
    /// or another job's encoding (`jobValue`).
    pub packet_value: Stored,
    pub array_length: u64,
    /// Units of the tree the row covers: elements of an array, bytes of an
    /// object (`Tree::contains`).
    pub packet_contains: u64,
    /// Elements summed in the row (`elementCount`): `packet_contains` for
    /// an array, learnt by mapping for an object.
    pub elements: u64,
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
    /// Every row under `partition_key`, read consistently item by item
    /// (read-committed, like a DynamoDB Query: not a snapshot).
    async fn group(&self, partition_key: &str) -> Result<Vec<ScratchpadRow>, PortError>;
    /// Marks rows consumed (overwrites each with `consumed` set).
    async fn retire(&self, rows: &[ScratchpadRow]) -> Result<(), PortError>;
}

/// Where an array is. Every array ends `Done` or `Failed`: `Pending` is
/// bounded by the array's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Done,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Done => "done",
            Status::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "pending" => Some(Status::Pending),
            "done" => Some(Status::Done),
            "failed" => Some(Status::Failed),
            _ => None,
        }
    }
}

/// Why an array failed: what a user can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// `sum_array` recorded the array but could not enqueue all its packets.
    NotEnqueued,
    /// A message of the array failed on its last receive and went to a
    /// dead-letter queue. Redriving it (`adder dlq redrive`) can still
    /// finish the array: this is the one failure that is not final.
    DeadLettered,
    /// The array was still pending at its deadline.
    Expired,
    /// An object array's object holds a record that is not a valid number
    /// (the reason gives the byte offset and, for line formats, the line).
    BadData,
    /// An object array's object could not be read: missing, not readable by
    /// the functions, or overwritten since it was submitted.
    Unreadable,
    /// The job's value outgrew what a result may hold (`sum-by`: more than
    /// 1,000 groups); the reason gives the count seen.
    TooManyGroups,
    /// A group key longer than a job takes (`sum-by`: 256 bytes).
    KeyTooLong,
    /// Any other refusal of a job (a job of your own): the reason is the
    /// job's.
    JobFailed,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::NotEnqueued => "not_enqueued",
            FailureKind::DeadLettered => "dead_lettered",
            FailureKind::Expired => "expired",
            FailureKind::BadData => "bad_data",
            FailureKind::Unreadable => "unreadable",
            FailureKind::TooManyGroups => "too_many_groups",
            FailureKind::KeyTooLong => "key_too_long",
            FailureKind::JobFailed => "job_failed",
        }
    }
    /// The failure a job's refusal (`JobError::code`) ends an array with.
    pub fn of_job_code(code: &str) -> FailureKind {
        match code {
            "bad_data" => FailureKind::BadData,
            "too_many_groups" => FailureKind::TooManyGroups,
            "key_too_long" => FailureKind::KeyTooLong,
            _ => FailureKind::JobFailed,
        }
    }
    pub fn parse(s: &str) -> Option<FailureKind> {
        match s {
            "not_enqueued" => Some(FailureKind::NotEnqueued),
            "dead_lettered" => Some(FailureKind::DeadLettered),
            "expired" => Some(FailureKind::Expired),
            "bad_data" => Some(FailureKind::BadData),
            "unreadable" => Some(FailureKind::Unreadable),
            "too_many_groups" => Some(FailureKind::TooManyGroups),
            "key_too_long" => Some(FailureKind::KeyTooLong),
            "job_failed" => Some(FailureKind::JobFailed),
            _ => None,
        }
    }
}

/// A failed array's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    /// For people: what happened and what to do.
    pub reason: String,
    /// Bad data: the byte offset of the bad record (`failureOffset`). Ranges
    /// find bad records in any order; a failure at a smaller offset replaces
    /// one at a larger, so the record ends up naming the object's first.
    pub offset: Option<u64>,
}

impl Failure {
    /// A failure with no byte offset.
    pub fn new(kind: FailureKind, reason: impl Into<String>) -> Failure {
        Failure {
            kind,
            reason: reason.into(),
            offset: None,
        }
    }

    /// Whether this failure may replace `old`, recorded before it: a bad
    /// record earlier in the object than the one `old` names.
    pub fn supersedes(&self, old: &Failure) -> bool {
        self.kind == FailureKind::BadData
            && old.kind == FailureKind::BadData
            && matches!((self.offset, old.offset), (Some(new), Some(old)) if new < old)
    }
}

/// How long a failed record (and a pending one past its deadline) stays
/// readable before DynamoDB's TTL removes it: records of arrays that can
/// never finish must not accumulate.
pub const FAILED_RECORD_RETENTION_SECONDS: u64 = 30 * 24 * 3600;

/// A row of the sums table: one submitted array and, once done, its sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumRecord {
    pub array_id: String,
    pub status: Status,
    /// Units of the merge tree: elements of an array, bytes of an object.
    pub array_length: u64,
    pub chunk_size: u64,
    pub fan_in: u64,
    /// What the array computes (`job`; absent: the default, `sum`).
    pub job: JobSpec,
    /// The result of `sum`, the default job (`resultSum`).
    pub sum: Option<Number>,
    /// The result of any other job, encoded (`resultValue`).
    pub result: Option<String>,
    pub submitted_at_ms: u64,
    pub finished_at_ms: Option<u64>,
    /// Elements mapped and folded into scratchpad packets so far: progress
    /// while pending (it can lag after a crash; never overcounts).
    pub reduced_elements: u64,
    /// An object array's bytes mapped so far (progress, like `reduced_elements`).
    pub mapped_bytes: u64,
    /// The object an object array sums; `None` for a POSTed array.
    pub source: Option<ObjectSource>,
    /// An object array's element count, known once it is done.
    pub element_count: Option<u64>,
    /// Every range of an object array was sent ([`Sums::mark_enqueued`]).
    pub enqueued: bool,
    /// Unix ms after which a still pending array is failed as expired.
    pub deadline_ms: u64,
    /// Set when `status` is `Failed`.
    pub failure: Option<Failure>,
    /// Unix seconds after which DynamoDB's TTL may delete the record: set
    /// while pending (deadline plus [`FAILED_RECORD_RETENTION_SECONDS`]) and
    /// once failed; removed when done, so results are kept.
    pub expires_at_s: Option<u64>,
}

impl SumRecord {
    /// How many elements the array has, if known: a POSTed array's length,
    /// an object's count once it is done.
    pub fn elements(&self) -> Option<u64> {
        match self.source {
            None => Some(self.array_length),
            Some(_) => self.element_count,
        }
    }

    /// Whether the array is past its deadline without having ended: it is
    /// failed as expired by whoever reads it next, and no step works on it
    /// any more (what it needs may have expired: scratchpad rows by TTL,
    /// messages by SQS's retention).
    pub fn is_overdue(&self, now_ms: u64) -> bool {
        !self.has_ended() && now_ms > self.deadline_ms
    }

    /// Whether nothing more can change the array: done, or failed for a
    /// reason no redrive or resubmission can undo. Work on such an array is
    /// skipped. Two failures can still finish: dead-lettered (a redrive
    /// brings the message back) and an object array's `not_enqueued` (its
    /// id is its object's, so submitting the object again sends its ranges
    /// again).
    pub fn has_ended(&self) -> bool {
        match self.status {
            Status::Pending => false,
            Status::Done => true,
            Status::Failed => self.failure.as_ref().is_none_or(|f| match f.kind {
                FailureKind::DeadLettered => false,
                FailureKind::NotEnqueued => self.source.is_none(),
                _ => true,
            }),
        }
    }
}

/// Work newly mapped, for a record's progress counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub elements: u64,
    /// Bytes of an object (0 for a POSTed array).
    pub bytes: u64,
}

/// What completing an array found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    Completed,
    AlreadyDone,
    /// The array failed for good; its sum is not recorded.
    Failed,
    Unknown,
}

/// What failing an array found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failing {
    /// The array was pending (or dead-lettered) and is failed now.
    Failed,
    /// It had already ended, with this status; nothing was changed.
    AlreadyEnded(Status),
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
    /// Records a new array unless a record with its id exists
    /// (`AlreadyThere`: the caller decides whether it is its own, written by
    /// a retried request whose first attempt applied).
    async fn insert(&self, record: &SumRecord) -> Result<Put, PortError>;
    /// Reads a record, consistently.
    async fn get(&self, array_id: &str) -> Result<Option<SumRecord>, PortError>;
    /// Sets the result of a pending (or dead-lettered) array (its sum, or
    /// another job's value), and its element count (`elementCount`), once:
    /// a done array is never changed, nor one failed for another reason.
    async fn complete(
        &self,
        array_id: &str,
        result: &Stored,
        elements: u64,
        finished_at_ms: u64,
    ) -> Result<Completion, PortError>;
    /// Adds to a record's progress counters (`reducedElements`,
    /// `mappedBytes`). Never retried by the adapter (an `ADD` retried after
    /// it applied would count twice): a failure loses one update, the
    /// counters lag.
    async fn add_progress(&self, array_id: &str, progress: Progress) -> Result<(), PortError>;
    /// Notes that every TimesTwo message of an object array was sent
    /// (`rangesEnqueued`), so a repeat submission need not send them again.
    /// Idempotent: setting it twice sets it once.
    async fn mark_enqueued(&self, array_id: &str) -> Result<(), PortError>;
    /// Fails a pending array (or one already failed as dead-lettered, to
    /// give the newer reason, or as bad data at a larger offset than
    /// `failure`'s: [`Failure::supersedes`]), setting `finishedAt` and a TTL
    /// of [`FAILED_RECORD_RETENTION_SECONDS`]; a done array is never changed.
    async fn fail(
        &self,
        array_id: &str,
        failure: &Failure,
        now_ms: u64,
    ) -> Result<Failing, PortError>;
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
    /// The objects an object array reads (S3).
    pub objects: Arc<dyn Objects>,
    pub clock: Arc<dyn Clock>,
}
