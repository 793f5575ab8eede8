//! `sum_array`: validate the body, record the array, fan its packets out.

use crate::config::Config;
use crate::ports::{PortError, Ports, Status, SumRecord};
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
    /// Ours or AWS's: answer 503, the client may retry.
    #[error("could not record or enqueue the array: {0}")]
    Port(#[from] PortError),
}

/// Accepts `body` (a JSON array of numbers) and starts its computation.
pub async fn submit(ports: &Ports, config: &Config, body: &str) -> Result<Submitted, SubmitError> {
    let elements = parse_array(body)?;
    let count = elements.len() as u64;
    if count > config.max_elements {
        return Err(SubmitError::TooManyElements {
            count,
            limit: config.max_elements,
        });
    }
    let array_id = uuid::Uuid::new_v4().to_string();
    let now = ports.clock.now_ms();
    let empty = elements.is_empty();
    let record = SumRecord {
        array_id: array_id.clone(),
        status: if empty { Status::Done } else { Status::Pending },
        array_length: count,
        chunk_size: config.chunk_size,
        fan_in: config.fan_in,
        sum: empty.then(Number::zero),
        submitted_at_ms: now,
        finished_at_ms: empty.then_some(now),
    };
    // The record goes first: a packet is only ever mapped for a known array.
    ports.sums.insert(&record).await?;
    if !empty {
        let tree = Tree::new(count, config.chunk_size, config.fan_in)
            .map_err(|e| PortError::Rejected(e.to_string()))?;
        let bodies: Vec<String> = elements
            .chunks(config.chunk_size as usize)
            .enumerate()
            .map(|(leaf, chunk)| MapMessage::encode(&array_id, &tree, leaf as u64, chunk))
            .collect();
        ports.times_two_queue.send(bodies).await?;
    }
    tracing::info!(array_id = %array_id, elements = count, "array accepted");
    Ok(Submitted {
        array_id,
        array_length: count,
        status: record.status,
    })
}

/// Reads an array's record, if it exists.
pub async fn get_sum(ports: &Ports, array_id: &str) -> Result<Option<SumRecord>, PortError> {
    ports.sums.get(array_id).await
}
