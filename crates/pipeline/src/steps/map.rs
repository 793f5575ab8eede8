//! `times_two`: the map. Each TimesTwo message is one leaf of the merge tree;
//! its doubled sum is written to the scratchpad only if absent, so a redelivered
//! message writes nothing new, and the leaf's parent is handed to reduce.
//!
//! An array of one packet skips all that: its only leaf holds the whole sum,
//! which `times_two` writes to the sums table itself, under the same
//! condition reduce writes a root (the array still pending), so a redelivered
//! message finds it done and writes nothing.

use super::StepError;
use crate::config::Config;
use crate::ports::{Completion, PortError, Ports, Put, RowKey, ScratchpadRow, SumRecord};
use futures::future::join_all;
use packet::{MapMessage, NodeId, ReduceMessage};
use std::collections::{BTreeMap, BTreeSet};
use tracing::Instrument;

/// What mapping one TimesTwo message did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapOutcome {
    /// The leaf was written now (false: it was there already, a duplicate,
    /// or the array was already done).
    pub created: bool,
    /// A one-packet array's sum was written now: the array is done.
    pub completed: bool,
    /// For a completed array: submission to sum, in ms.
    pub latency_ms: Option<u64>,
}

/// Maps a batch of TimesTwo message bodies; one result per body, in order.
/// A failed body does not fail its neighbours.
pub async fn times_two(
    ports: &Ports,
    config: &Config,
    bodies: &[&str],
) -> Vec<Result<MapOutcome, StepError>> {
    let mut results: Vec<Result<MapOutcome, StepError>> = (0..bodies.len())
        .map(|_| Ok(MapOutcome::default()))
        .collect();
    let mut by_array: BTreeMap<&str, Vec<(usize, MapMessage<'_>)>> = BTreeMap::new();
    for (i, body) in bodies.iter().enumerate() {
        match MapMessage::decode(body) {
            Ok(m) => by_array.entry(m.array_id).or_default().push((i, m)),
            Err(e) => {
                tracing::warn!(error = %e, "refusing TimesTwo message");
                results[i] = Err(e.into());
            }
        }
    }
    let outcomes = join_all(by_array.into_iter().map(|(array_id, msgs)| {
        map_array(ports, config, array_id, msgs)
            .instrument(tracing::info_span!("array", array_id = %array_id))
    }))
    .await;
    for (i, r) in outcomes.into_iter().flatten() {
        results[i] = r;
    }
    results
}

/// One result per message, by the message's index in the batch.
type Outcomes = Vec<(usize, Result<MapOutcome, StepError>)>;

/// A leaf this batch stored (or found stored): the index of its message in
/// the batch, the message, and whether it was written now.
struct Stored<'m, 'b> {
    index: usize,
    message: &'m MapMessage<'b>,
    created: bool,
}

async fn map_array(
    ports: &Ports,
    config: &Config,
    array_id: &str,
    msgs: Vec<(usize, MapMessage<'_>)>,
) -> Outcomes {
    let record = match ports.sums.get(array_id).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            tracing::warn!(array_id, "TimesTwo message for an unknown array");
            return fail_all(&msgs, || StepError::UnknownArray(array_id.to_string()));
        }
        Err(e) => return fail_all(&msgs, || e.clone().into()),
    };
    if !takes_leaves(ports, &record).await {
        // A late duplicate, a packet of an array that failed, or of one
        // that just expired: there is nothing to add.
        return msgs
            .iter()
            .map(|(i, _)| (*i, Ok(MapOutcome::default())))
            .collect();
    }
    if record.array_length <= record.chunk_size {
        return finish_single_leaf(ports, array_id, &record, &msgs).await;
    }
    let (stored, mut out) = store_leaves(ports, config, array_id, &record, &msgs).await;
    if stored.is_empty() {
        return out;
    }
    // The leaves are stored; until reduce has been told, the messages are not done.
    let sent = trigger_reduce(ports, array_id, &stored).await;
    for leaf in stored {
        out.push((
            leaf.index,
            sent.clone()
                .map(|()| MapOutcome {
                    created: leaf.created,
                    ..MapOutcome::default()
                })
                .map_err(StepError::from),
        ));
    }
    tracing::debug!(array_id, "mapped packets");
    out
}

fn fail_all(msgs: &[(usize, MapMessage<'_>)], error: impl Fn() -> StepError) -> Outcomes {
    msgs.iter().map(|(i, _)| (*i, Err(error()))).collect()
}

/// Whether the array still takes leaves: neither ended nor overdue. An
/// overdue array's scratchpad rows may have expired, and mapping now could
/// bring a merged leaf back to life: the array ends here instead.
async fn takes_leaves(ports: &Ports, record: &SumRecord) -> bool {
    let overdue = record.is_overdue(ports.clock.now_ms());
    if overdue {
        super::submit::expire(ports, record).await;
    }
    !overdue && !record.has_ended()
}

/// Writes each message's leaf unless it is there already, all at once.
/// Returns the leaves stored, and the results of the messages that failed.
async fn store_leaves<'m, 'b>(
    ports: &Ports,
    config: &Config,
    array_id: &str,
    record: &SumRecord,
    msgs: &'m [(usize, MapMessage<'b>)],
) -> (Vec<Stored<'m, 'b>>, Outcomes) {
    let now_s = ports.clock.now_ms() / 1000;
    let expires_at = now_s + config.scratchpad_ttl.as_secs();
    let mut out = Vec::with_capacity(msgs.len());
    let mut puts = Vec::new();
    for (i, m) in msgs {
        if let Some(e) = mismatch(array_id, record, m) {
            out.push((*i, Err(e)));
            continue;
        }
        let row = leaf_row(array_id, m, expires_at);
        puts.push(async move { (*i, m, ports.scratchpad.put_new(&row).await) });
    }
    let mut stored = Vec::new();
    for (index, message, result) in join_all(puts).await {
        match result {
            Ok(put) => stored.push(Stored {
                index,
                message,
                created: put == Put::Created,
            }),
            Err(e) => out.push((index, Err(e.into()))),
        }
    }
    (stored, out)
}

/// Why `m` does not belong to the array `record` describes, if it does not.
fn mismatch(array_id: &str, record: &SumRecord, m: &MapMessage<'_>) -> Option<StepError> {
    let t = &m.tree;
    let ours = (t.array_length(), t.chunk_size(), t.fan_in());
    (ours != (record.array_length, record.chunk_size, record.fan_in)).then(|| StepError::Mismatch {
        array_id: array_id.to_string(),
        what: "arrayLength, chunkSize or fanIn differ".into(),
    })
}

/// The array is one packet: its doubled sum is the array's sum, written to
/// the sums table while the array is pending (a dead-lettered one may still
/// finish, as with reduce). Two requests in all (the record read before and
/// this conditional write) instead of a leaf, a Reduce message, a progress
/// update and a reduce invocation's read, Query, write and retire. Each
/// message of the batch is tried in turn: a duplicate finds the array done.
async fn finish_single_leaf(
    ports: &Ports,
    array_id: &str,
    record: &SumRecord,
    msgs: &[(usize, MapMessage<'_>)],
) -> Outcomes {
    let mut out = Vec::with_capacity(msgs.len());
    for (i, m) in msgs {
        if let Some(e) = mismatch(array_id, record, m) {
            out.push((*i, Err(e)));
            continue;
        }
        let sum = m.doubled_sum();
        let now = ports.clock.now_ms();
        let outcome = match ports.sums.complete(array_id, &sum, now).await {
            Ok(Completion::Completed) => {
                tracing::info!(array_id, sum = %sum, "array done (one packet)");
                Ok(MapOutcome {
                    created: true,
                    completed: true,
                    latency_ms: Some(now.saturating_sub(record.submitted_at_ms)),
                })
            }
            Ok(Completion::AlreadyDone | Completion::Failed) => Ok(MapOutcome::default()),
            Ok(Completion::Unknown) => Err(StepError::UnknownArray(array_id.to_string())),
            Err(e) => Err(e.into()),
        };
        out.push((*i, outcome));
    }
    out
}

/// The scratchpad row of the leaf `m` carries, doubled.
fn leaf_row(array_id: &str, m: &MapMessage<'_>, expires_at: u64) -> ScratchpadRow {
    ScratchpadRow {
        key: RowKey {
            partition_key: m.tree.partition_key(array_id, m.leaf),
            packet_id: m.leaf.to_string(),
        },
        packet_value: m.doubled_sum(),
        array_length: m.tree.array_length(),
        packet_contains: m.elements.len() as u64,
        expires_at,
        consumed: false,
    }
}

/// Tells reduce to merge the stored leaves' parents, then counts the
/// elements of the leaves written now as progress.
async fn trigger_reduce(
    ports: &Ports,
    array_id: &str,
    stored: &[Stored<'_, '_>],
) -> Result<(), PortError> {
    let tree = stored[0].message.tree;
    let targets: BTreeSet<NodeId> = stored
        .iter()
        .filter_map(|leaf| tree.parent(leaf.message.leaf))
        .collect();
    let trigger = ReduceMessage {
        array_id: array_id.to_string(),
        tree,
        targets: targets.into_iter().collect(),
    };
    ports.reduce_queue.send(vec![trigger.encode()]).await?;
    let fresh_elements: u64 = stored
        .iter()
        .filter(|leaf| leaf.created)
        .map(|leaf| leaf.message.elements.len() as u64)
        .sum();
    if fresh_elements > 0 {
        // Progress is informational: a failure here must not send the batch
        // round again (its leaves are stored and reduce has been told).
        if let Err(e) = ports.sums.add_progress(array_id, fresh_elements).await {
            tracing::warn!(array_id, error = %e, "could not record progress");
        }
    }
    Ok(())
}
