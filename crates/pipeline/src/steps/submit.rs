//! `sum_array`: validate the body, record the array, fan its packets out.

use crate::config::Config;
use crate::idempotency::{fingerprint, Idempotency, IDEMPOTENCY_TTL_SECONDS};
use crate::ports::{Claimed, KeyClaim, PortError, Ports, Status, SumRecord};
use packet::{parse_array, BodyError, MapMessage, Number, Tree};

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
}

/// Accepts `body` (a JSON array of numbers) and starts its computation.
pub async fn submit(ports: &Ports, config: &Config, body: &str) -> Result<Submitted, SubmitError> {
    let elements = checked_elements(config, body)?;
    let count = elements.len() as u64;
    let array_id = uuid::Uuid::new_v4().to_string();
    let record = new_record(&array_id, count, config, ports.clock.now_ms());
    // The record goes first: a packet is only ever mapped for a known array.
    ports.sums.insert(&record).await?;
    if record.status == Status::Pending {
        fan_out(ports, &record, &elements).await?;
    }
    tracing::info!(array_id = %array_id, elements = count, "array accepted");
    Ok(Submitted {
        array_id,
        array_length: count,
        status: record.status,
    })
}

/// The body's elements, if it is an array of numbers within `MAX_ELEMENTS`.
fn checked_elements<'b>(config: &Config, body: &'b str) -> Result<Vec<&'b str>, SubmitError> {
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

/// Like [`submit`], but with an `Idempotency-Key`: the first call starts the
/// array, every later call with the same key and body (within
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
    idempotency: Option<&Idempotency>,
) -> Result<Submitted, SubmitError> {
    let Some(idempotency) = idempotency else {
        return submit(ports, config, body).await;
    };
    // Validate first: a refused body claims no key and records nothing.
    let elements = checked_elements(config, body)?;
    let count = elements.len() as u64;
    let fresh_id = uuid::Uuid::new_v4().to_string();
    let now_ms = ports.clock.now_ms();
    let scoped = idempotency.key.scoped(&idempotency.caller);
    let print = fingerprint(body);
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
            let record = new_record(&array_id, count, config, now_ms);
            match ports.sums.insert(&record).await {
                Ok(()) => record,
                // A concurrent repeat may have recorded it first; theirs wins.
                Err(e) => ports.sums.get(&array_id).await?.ok_or(e)?,
            }
        }
    };
    if record.array_length != count {
        return Err(SubmitError::KeyReused { array_id });
    }
    if record.status == Status::Pending {
        fan_out(ports, &record, &elements).await?;
    }
    tracing::info!(array_id = %array_id, elements = count, replay, "array accepted with an idempotency key");
    Ok(Submitted {
        array_id,
        array_length: count,
        status: record.status,
    })
}

fn new_record(array_id: &str, count: u64, config: &Config, now_ms: u64) -> SumRecord {
    let empty = count == 0;
    SumRecord {
        array_id: array_id.to_string(),
        status: if empty { Status::Done } else { Status::Pending },
        array_length: count,
        chunk_size: config.chunk_size,
        fan_in: config.fan_in,
        sum: empty.then(Number::zero),
        submitted_at_ms: now_ms,
        finished_at_ms: empty.then_some(now_ms),
        reduced_elements: 0,
    }
}

/// Sends every TimesTwo packet of `record`'s array, shaped by the record's
/// own chunk size and fan-in (not today's configuration), so a repeat sends
/// exactly the packets the first attempt did.
async fn fan_out(ports: &Ports, record: &SumRecord, elements: &[&str]) -> Result<(), SubmitError> {
    let tree = Tree::new(record.array_length, record.chunk_size, record.fan_in)
        .map_err(|e| PortError::Rejected(e.to_string()))?;
    let chunk = usize::try_from(record.chunk_size)
        .map_err(|_| PortError::Rejected(format!("chunk size {} too large", record.chunk_size)))?;
    let bodies: Vec<String> = elements
        .chunks(chunk.max(1))
        .enumerate()
        .map(|(leaf, chunk)| MapMessage::encode(&record.array_id, &tree, leaf as u64, chunk))
        .collect();
    ports.times_two_queue.send(bodies).await?;
    Ok(())
}

/// Reads an array's record, if it exists.
pub async fn get_sum(ports: &Ports, array_id: &str) -> Result<Option<SumRecord>, PortError> {
    ports.sums.get(array_id).await
}
