//! `sum_array`: validate the body, record the array, fan its packets out.

use crate::config::Config;
use crate::idempotency::{fingerprint_with_job, Idempotency, IDEMPOTENCY_TTL_SECONDS};
use crate::ports::{
    check_message_sizes, Claimed, Failing, Failure, FailureKind, KeyClaim, PortError, Ports, Put,
    Status, SumRecord, FAILED_RECORD_RETENTION_SECONDS,
};
use packet::job::{AnyJob, JobSpec, SpecError, Stored};
use packet::{parse_array, BodyError, MapMessage, Number, Tree};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

/// An accepted array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub array_id: String,
    pub array_length: u64,
    pub status: Status,
}

/// Why an array was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The client's fault: answer 400.
    #[error(transparent)]
    Body(#[from] BodyError),
    /// The client's fault: answer 413.
    #[error("the array has {count} elements; the limit is {limit} (MAX_ELEMENTS)")]
    TooManyElements { count: u64, limit: u64 },
    /// The client's fault: answer 422. The key already stands for an array
    /// with a different body.
    #[error(
        "this Idempotency-Key was already used for a different body (array {array_id}); use a new key for a new array"
    )]
    KeyReused { array_id: String },
    /// Ours or AWS's: answer 503, the client may retry.
    #[error("could not record or enqueue the array: {0}")]
    Port(#[from] PortError),
    /// The client's fault: answer 400. A job this build does not run,
    /// parameters it refuses, or an input it does not take.
    #[error(transparent)]
    Job(#[from] SpecError),
}

/// Accepts `body` (a JSON array of numbers) and starts its sum.
pub async fn submit(ports: &Ports, config: &Config, body: &str) -> Result<Submitted, SubmitError> {
    submit_job(ports, config, body, &JobSpec::default()).await
}

/// Accepts `body` (a JSON array of numbers) and starts `job` over it.
pub async fn submit_job(
    ports: &Ports,
    config: &Config,
    body: &str,
    job: &JobSpec,
) -> Result<Submitted, SubmitError> {
    let runs = array_job(config, job)?;
    let elements = checked_elements(config, body)?;
    let count = elements.len() as u64;
    let array_id = uuid::Uuid::new_v4().to_string();
    let mut record = new_record(&array_id, count, config, ports.clock.now_ms());
    with_job(&mut record, job, runs.as_ref())?;
    // Every packet is built and checked before anything is recorded: what
    // cannot be sent must not leave a record behind.
    let packets = packets(&record, &elements)?;
    // The record goes first: a packet is only ever mapped for a known array.
    insert_own(ports, &record).await?;
    // An empty array was recorded done: nothing to send.
    if !packets.is_empty() {
        enqueue_or_fail(ports, &array_id, packets).await?;
    }
    tracing::info!(array_id = %array_id, elements = count, "array accepted");
    Ok(Submitted {
        array_id,
        array_length: count,
        status: record.status,
    })
}

/// Sends an unkeyed array's packets. On failure the client gets a 503 and
/// never learns the id, so the array is ended now rather than left pending
/// (some packets may have gone out; times_two skips them once it failed).
async fn enqueue_or_fail(
    ports: &Ports,
    array_id: &str,
    packets: Vec<String>,
) -> Result<(), PortError> {
    let Err(e) = ports.times_two_queue.send(packets).await else {
        return Ok(());
    };
    let failure = Failure {
        kind: FailureKind::NotEnqueued,
        reason: format!("its packets could not all be enqueued ({e}); submit it again"),
        offset: None,
    };
    fail_array(ports, array_id, &failure).await;
    Err(e)
}

/// Records `record`, a new array. An `AlreadyThere` can only be our own
/// write, applied by a first attempt whose answer was lost and then retried
/// by the SDK (array ids are fresh UUIDs): recognised by reading it back.
pub(crate) async fn insert_own(ports: &Ports, record: &SumRecord) -> Result<(), PortError> {
    if ports.sums.insert(record).await? == Put::Created {
        return Ok(());
    }
    match ports.sums.get(&record.array_id).await? {
        Some(found)
            if found.submitted_at_ms == record.submitted_at_ms
                && found.array_length == record.array_length =>
        {
            Ok(())
        }
        _ => Err(PortError::Rejected(format!(
            "array id {} is already taken by another array",
            record.array_id
        ))),
    }
}

/// Records `record` unless an array with its id exists, and returns what is
/// recorded: the same object submitted twice is one array.
pub(crate) async fn insert_own_or_existing(
    ports: &Ports,
    record: SumRecord,
) -> Result<SumRecord, PortError> {
    match ports.sums.insert(&record).await? {
        Put::Created => Ok(record),
        Put::AlreadyThere => ports.sums.get(&record.array_id).await?.ok_or_else(|| {
            PortError::Unavailable(format!("array {} vanished; retry", record.array_id))
        }),
    }
}

/// Marks an array failed, logging (not returning) a failure to do so: the
/// caller is already on an error path, and the array's deadline ends it
/// anyway if this write is lost.
pub(crate) async fn fail_array(ports: &Ports, array_id: &str, failure: &Failure) {
    if let Err(e) = record_failure(ports, array_id, failure).await {
        tracing::warn!(array_id, error = %e, "could not mark the array failed; its deadline will");
    }
}

/// Marks an array failed; `Err` when the write did not happen, so a caller
/// that alone knows the reason (a message that found bad data) can have its
/// message delivered again rather than lose the reason.
pub(crate) async fn record_failure(
    ports: &Ports,
    array_id: &str,
    failure: &Failure,
) -> Result<(), PortError> {
    let now = ports.clock.now_ms();
    match ports.sums.fail(array_id, failure, now).await? {
        Failing::Failed => {
            tracing::warn!(array_id, kind = failure.kind.as_str(), reason = %failure.reason, "array failed")
        }
        other => tracing::info!(array_id, ?other, "array had already ended"),
    }
    Ok(())
}

/// The body's elements, if it is an array of numbers within `MAX_ELEMENTS`.
fn checked_elements<'b>(config: &Config, body: &'b str) -> Result<Vec<Cow<'b, str>>, SubmitError> {
    let elements = parse_array(body)?;
    let count = elements.len() as u64;
    if count > config.max_elements {
        return Err(SubmitError::TooManyElements {
            count,
            limit: config.max_elements,
        });
    }
    Ok(elements)
}

/// Like [`submit_job`], but with an `Idempotency-Key`: the first call starts
/// the array, every later call with the same key, body and job (within
/// [`IDEMPOTENCY_TTL_SECONDS`]) answers with that same array instead of
/// starting another.
///
/// A crash can strike between claiming the key, recording the array and
/// enqueueing its packets. So a repeat does not trust that the first call got
/// far: it records the array if the record is missing, and while the array is
/// pending it sends all its packets again. That is safe because packets are
/// deterministic (same id, same tree from the record's chunk size and fan-in)
/// and `times_two` stores each leaf with a conditional put, so a duplicate
/// adds nothing; a done array is never touched again.
pub async fn submit_with_key(
    ports: &Ports,
    config: &Config,
    body: &str,
    job: &JobSpec,
    idempotency: Option<&Idempotency>,
) -> Result<Submitted, SubmitError> {
    let Some(idempotency) = idempotency else {
        return submit_job(ports, config, body, job).await;
    };
    // Validate first: a refused body claims no key and records nothing.
    let runs = array_job(config, job)?;
    let elements = checked_elements(config, body)?;
    let count = elements.len() as u64;
    let fresh_id = uuid::Uuid::new_v4().to_string();
    let now_ms = ports.clock.now_ms();
    let scoped = idempotency.key.scoped(&idempotency.caller);
    let print = fingerprint_with_job(body, job);
    let claim = KeyClaim {
        key: &scoped,
        array_id: &fresh_id,
        fingerprint: &print,
        expires_at_s: now_ms / 1000 + IDEMPOTENCY_TTL_SECONDS,
    };
    let (array_id, replay) = match ports
        .sums
        .claim_idempotency_key(&claim, now_ms / 1000)
        .await?
    {
        Claimed::New => (fresh_id, false),
        Claimed::Existing {
            array_id,
            fingerprint,
        } => {
            if fingerprint != print {
                return Err(SubmitError::KeyReused { array_id });
            }
            (array_id, true)
        }
    };
    let record = match ports.sums.get(&array_id).await? {
        Some(existing) => existing,
        None => {
            let mut record = new_record(&array_id, count, config, now_ms);
            with_job(&mut record, job, runs.as_ref())?;
            packets(&record, &elements)?;
            match ports.sums.insert(&record).await? {
                Put::Created => record,
                // A concurrent repeat (or the SDK's retry of this very
                // write) recorded it first; what is there wins.
                Put::AlreadyThere => ports.sums.get(&array_id).await?.ok_or_else(|| {
                    PortError::Unavailable(format!("array {array_id} vanished; retry"))
                })?,
            }
        }
    };
    if record.array_length != count {
        return Err(SubmitError::KeyReused { array_id });
    }
    if !record.has_ended() {
        // On failure the array stays pending: the client retries with the
        // same key, which sends the packets again; if it never does, the
        // array's deadline ends it. A dead-lettered array is sent again too:
        // a packet the failed attempt never sent may be what it lacks.
        ports
            .times_two_queue
            .send(packets(&record, &elements)?)
            .await?;
    }
    tracing::info!(array_id = %array_id, elements = count, replay, "array accepted with an idempotency key");
    Ok(Submitted {
        array_id,
        array_length: count,
        status: record.status,
    })
}

/// The job `spec` names, if it can run over a JSON array: a job whose
/// records need a key (a CSV column) cannot.
fn array_job(config: &Config, spec: &JobSpec) -> Result<Arc<dyn AnyJob>, SpecError> {
    let job = config.jobs.job(spec)?;
    if job.keyed() {
        return Err(SpecError::Params {
            job: spec.name.clone(),
            reason: "groups by a CSV column, so it takes CSV objects only, not a JSON array".into(),
        });
    }
    Ok(job)
}

/// Gives `record` its job; an empty array, recorded done, gets the job's
/// value of no record.
fn with_job(record: &mut SumRecord, spec: &JobSpec, job: &dyn AnyJob) -> Result<(), SpecError> {
    record.job = spec.clone();
    if record.status == Status::Done {
        let empty = job
            .map_records(&mut std::iter::empty())
            .map_err(|e| SpecError::Params {
                job: spec.name.clone(),
                reason: e.reason,
            })?;
        (record.sum, record.result) = match empty {
            Stored::Number(n) => (Some(n), None),
            Stored::Text(t) => (None, Some(t)),
        };
    }
    Ok(())
}

pub(crate) fn new_record(array_id: &str, count: u64, config: &Config, now_ms: u64) -> SumRecord {
    let empty = count == 0;
    let deadline_ms = now_ms.saturating_add(config.array_deadline.as_millis() as u64);
    SumRecord {
        array_id: array_id.to_string(),
        status: if empty { Status::Done } else { Status::Pending },
        array_length: count,
        chunk_size: config.chunk_size,
        fan_in: config.fan_in,
        job: JobSpec::default(),
        sum: empty.then(Number::zero),
        result: None,
        submitted_at_ms: now_ms,
        finished_at_ms: empty.then_some(now_ms),
        reduced_elements: 0,
        mapped_bytes: 0,
        enqueued: false,
        source: None,
        element_count: empty.then_some(0),
        deadline_ms,
        failure: None,
        expires_at_s: (!empty).then_some(deadline_ms / 1000 + FAILED_RECORD_RETENTION_SECONDS),
    }
}

/// Every TimesTwo packet of `record`'s array, shaped by the record's own
/// chunk size and fan-in (not today's configuration), so a repeat sends
/// exactly the packets the first attempt did; each checked to fit a queue
/// message (it does by construction: elements are at most
/// `MAX_ELEMENT_TEXT` bytes and the chunk size at most `MAX_CHUNK_SIZE`).
fn packets(record: &SumRecord, elements: &[Cow<'_, str>]) -> Result<Vec<String>, SubmitError> {
    if elements.is_empty() {
        return Ok(Vec::new());
    }
    let tree = Tree::new(record.array_length, record.chunk_size, record.fan_in)
        .map_err(|e| PortError::Rejected(e.to_string()))?;
    let chunk = usize::try_from(record.chunk_size)
        .map_err(|_| PortError::Rejected(format!("chunk size {} too large", record.chunk_size)))?;
    let bodies: Vec<String> = elements
        .chunks(chunk.max(1))
        .enumerate()
        .map(|(leaf, chunk)| MapMessage::encode(&record.array_id, &tree, leaf as u64, chunk))
        .collect();
    check_message_sizes(&bodies)?;
    Ok(bodies)
}

/// Reads an array's record, if it exists. A record still pending past its
/// deadline is failed as expired first, so a reader never waits forever.
pub async fn get_sum(ports: &Ports, array_id: &str) -> Result<Option<SumRecord>, PortError> {
    match ports.sums.get(array_id).await? {
        Some(r) if r.is_overdue(ports.clock.now_ms()) => {
            expire(ports, &r).await;
            ports.sums.get(array_id).await
        }
        other => Ok(other),
    }
}

/// Fails an overdue array as expired (see [`SumRecord::is_overdue`]).
pub(crate) async fn expire(ports: &Ports, record: &SumRecord) {
    let allowed = Duration::from_millis(record.deadline_ms.saturating_sub(record.submitted_at_ms));
    let mut reason = format!(
        "expired unfinished: still pending {} after it was submitted \
         (ARRAY_DEADLINE_SECONDS); see `adder dlq list` for messages that failed",
        human(allowed)
    );
    // A failure that could still have been undone (dead-lettered, an
    // object's not_enqueued) is replaced: keep what it said.
    if let Some(before) = &record.failure {
        reason.push_str(&format!(
            "; it had failed {}: {}",
            before.kind.as_str(),
            before.reason
        ));
    }
    let failure = Failure::new(FailureKind::Expired, reason);
    fail_array(ports, &record.array_id, &failure).await;
}

/// A duration in the largest whole unit that fits: "3 days", "2 hours", "90 s".
fn human(d: Duration) -> String {
    let s = d.as_secs();
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match s {
        _ if s >= 86_400 && s.is_multiple_of(86_400) => plural(s / 86_400, "day"),
        _ if s >= 3_600 && s.is_multiple_of(3_600) => plural(s / 3_600, "hour"),
        _ => format!("{s} s"),
    }
}
