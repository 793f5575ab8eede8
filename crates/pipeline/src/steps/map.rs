//! `times_two`: the map. Each TimesTwo message is one leaf of the merge tree:
//! a packet of elements, or a byte range of an object (read here). Its
//! doubled sum is written to the scratchpad only if absent, so a redelivered
//! message writes nothing new, and the leaf's parent is handed to reduce.
//!
//! An array of one leaf skips all that: its only leaf holds the whole sum,
//! which `times_two` writes to the sums table itself, under the same
//! condition reduce writes a root (the array still pending), so a redelivered
//! message finds it done and writes nothing.
//!
//! Bad data in an object, or an object that cannot be read, ends its array
//! as failed with the reason; the message itself is then done.

use super::range::{map_range, Mapped, RangeFailure};
use super::StepError;
use crate::config::Config;
use crate::ports::{
    Completion, Failure, FailureKind, PortError, Ports, Progress, Put, RowKey, ScratchpadRow,
    SumRecord,
};
use futures::future::join_all;
use packet::job::{AnyJob, Record};
use packet::{MapMessage, NodeId, RangeMessage, ReduceMessage, Tree};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tracing::Instrument;

/// A TimesTwo message: a packet of an array, or a range of an object.
#[derive(Debug)]
enum Leaf<'b> {
    Packet(MapMessage<'b>),
    Range(RangeMessage),
}

impl<'b> Leaf<'b> {
    fn decode(body: &'b str) -> Result<Leaf<'b>, StepError> {
        if RangeMessage::is_range(body) {
            Ok(Leaf::Range(RangeMessage::decode(body)?))
        } else {
            Ok(Leaf::Packet(MapMessage::decode(body)?))
        }
    }
    fn array_id(&self) -> &str {
        match self {
            Leaf::Packet(m) => m.array_id,
            Leaf::Range(m) => &m.array_id,
        }
    }
    fn tree(&self) -> &Tree {
        match self {
            Leaf::Packet(m) => &m.tree,
            Leaf::Range(m) => &m.tree,
        }
    }
    fn node(&self) -> NodeId {
        match self {
            Leaf::Packet(m) => m.leaf,
            Leaf::Range(m) => m.leaf,
        }
    }
}

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
    /// For an S3 notification: the object arrays it started (or found).
    pub objects_started: u64,
}

/// Maps a batch of TimesTwo message bodies; one result per body, in order.
/// A failed body does not fail its neighbours. `deadline` (Unix ms) is when
/// ranges must be read by: a range still being read then fails its array
/// (see `map_range`); `None` reads without a deadline.
pub async fn times_two(
    ports: &Ports,
    config: &Config,
    bodies: &[&str],
    deadline: Option<u64>,
) -> Vec<Result<MapOutcome, StepError>> {
    let mut results: Vec<Result<MapOutcome, StepError>> = (0..bodies.len())
        .map(|_| Ok(MapOutcome::default()))
        .collect();
    let mut by_array: BTreeMap<String, Vec<(usize, Leaf<'_>)>> = BTreeMap::new();
    let mut notifications = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        if super::object::is_notification(body) {
            notifications.push((i, *body));
            continue;
        }
        match Leaf::decode(body) {
            Ok(m) => by_array
                .entry(m.array_id().to_string())
                .or_default()
                .push((i, m)),
            Err(e) => {
                tracing::warn!(error = %e, "refusing TimesTwo message");
                results[i] = Err(e);
            }
        }
    }
    let leaves = join_all(by_array.iter().map(|(array_id, msgs)| {
        map_array(ports, config, array_id, msgs, deadline)
            .instrument(tracing::info_span!("array", array_id = %array_id))
    }));
    let objects = join_all(notifications.into_iter().map(|(i, body)| async move {
        let started = super::object::object_created(ports, config, body).await;
        let outcome = started.map(|arrays| MapOutcome {
            objects_started: arrays.len() as u64,
            ..MapOutcome::default()
        });
        (i, outcome)
    }));
    let (leaves, objects) = futures::join!(leaves, objects);
    for (i, r) in leaves.into_iter().flatten().chain(objects) {
        results[i] = r;
    }
    results
}

/// One result per message, by the message's index in the batch.
type Outcomes = Vec<(usize, Result<MapOutcome, StepError>)>;

/// A leaf this batch mapped and stored (or found stored): the index of its
/// message in the batch, its node, value, and whether it was written now.
struct Stored {
    index: usize,
    node: NodeId,
    mapped: Mapped,
    created: bool,
}

async fn map_array(
    ports: &Ports,
    config: &Config,
    array_id: &str,
    msgs: &[(usize, Leaf<'_>)],
    deadline: Option<u64>,
) -> Outcomes {
    let record = match ports.sums.get(array_id).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            tracing::warn!(array_id, "TimesTwo message for an unknown array");
            return fail_all(msgs, || StepError::UnknownArray(array_id.to_string()));
        }
        Err(e) => return fail_all(msgs, || e.clone().into()),
    };
    if !takes_leaves(ports, &record).await {
        // A late duplicate, a leaf of an array that failed, or of one that
        // just expired: there is nothing to add. But a range before the bad
        // record of a bad-data array may hold an earlier one, the object's
        // first, which is the one to report.
        return match bad_data_offset(&record) {
            Some(offset) => recheck_before(ports, config, &record, offset, msgs, deadline).await,
            None => done_all(msgs),
        };
    }
    let job = match config.jobs.job(&record.job) {
        Ok(job) => job,
        Err(e) => {
            return fail_all(msgs, || StepError::Mismatch {
                array_id: array_id.to_string(),
                what: e.to_string(),
            })
        }
    };
    let (mapped, mut out) = match map_leaves(ports, &job, array_id, &record, msgs, deadline).await {
        Ok(mapped) => mapped,
        // The array failed for good, or could not be failed: the outcome
        // of every message.
        Err(outcomes) => return outcomes,
    };
    if record.array_length <= record.chunk_size {
        out.extend(finish_single_leaf(ports, array_id, &record, mapped).await);
        return out;
    }
    let tree = *msgs[0].1.tree();
    let stored = store_leaves(ports, config, array_id, &tree, mapped, &mut out).await;
    if stored.is_empty() {
        return out;
    }
    // The leaves are stored; until reduce has been told, the messages are not done.
    let sent = trigger_reduce(ports, array_id, &tree, &stored).await;
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
    tracing::debug!(array_id, "mapped leaves");
    out
}

fn fail_all(msgs: &[(usize, Leaf<'_>)], error: impl Fn() -> StepError) -> Outcomes {
    msgs.iter().map(|(i, _)| (*i, Err(error()))).collect()
}

fn done_all(msgs: &[(usize, Leaf<'_>)]) -> Outcomes {
    msgs.iter()
        .map(|(i, _)| (*i, Ok(MapOutcome::default())))
        .collect()
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

/// Maps every message that belongs to the array (ranges are read
/// concurrently). Returns the leaves' values and the results of the
/// messages that failed; `Err` with every message's outcome when one found
/// the array's data bad or its object unreadable: done once the array is
/// failed, to be delivered again if that write failed.
async fn map_leaves(
    ports: &Ports,
    job: &Arc<dyn AnyJob>,
    array_id: &str,
    record: &SumRecord,
    msgs: &[(usize, Leaf<'_>)],
    deadline: Option<u64>,
) -> Result<(Vec<(usize, NodeId, Mapped)>, Outcomes), Outcomes> {
    let mut out = Vec::new();
    let mut work = Vec::new();
    for (i, m) in msgs {
        match mismatch(array_id, record, m.tree()) {
            Some(e) => out.push((*i, Err(e))),
            None => {
                work.push(async move { (*i, m.node(), map_leaf(ports, job, m, deadline).await) })
            }
        }
    }
    let mut mapped = Vec::new();
    let mut failure: Option<Failure> = None;
    for (i, node, result) in join_all(work).await {
        match result {
            Ok(value) => mapped.push((i, node, value)),
            Err(RangeFailure::Retry(e)) => out.push((i, Err(e.into()))),
            Err(RangeFailure::Final(f)) => {
                if failure.as_ref().is_none_or(|old| f.supersedes(old)) {
                    failure = Some(f);
                }
            }
        }
    }
    let Some(f) = failure else {
        return Ok((mapped, out));
    };
    let mut ended = end_with(ports, array_id, &f, msgs).await;
    // A range that could not be read now may hold an earlier bad record:
    // its message comes again (and is read while the array is failed).
    for (i, error) in out {
        if let Some(slot) = ended.iter_mut().find(|(j, _)| *j == i) {
            if slot.1.is_ok() {
                slot.1 = error;
            }
        }
    }
    Err(ended)
}

/// Fails the array with `failure`; every message is done if that was
/// recorded, and comes again if not (only a message knows the reason).
async fn end_with(
    ports: &Ports,
    array_id: &str,
    failure: &Failure,
    msgs: &[(usize, Leaf<'_>)],
) -> Outcomes {
    match super::submit::record_failure(ports, array_id, failure).await {
        Ok(()) => done_all(msgs),
        Err(e) => fail_all(msgs, || e.clone().into()),
    }
}

/// The offset of a bad-data array's bad record.
fn bad_data_offset(record: &SumRecord) -> Option<u64> {
    record
        .failure
        .as_ref()
        .filter(|f| f.kind == FailureKind::BadData)
        .and_then(|f| f.offset)
}

/// Maps the ranges of a bad-data array that start before its bad record
/// (`offset`), only to find an earlier one; every other message is done.
async fn recheck_before(
    ports: &Ports,
    config: &Config,
    record: &SumRecord,
    offset: u64,
    msgs: &[(usize, Leaf<'_>)],
    deadline: Option<u64>,
) -> Outcomes {
    let array_id = record.array_id.as_str();
    let Ok(job) = config.jobs.job(&record.job) else {
        return done_all(msgs);
    };
    let job = &job;
    let earlier = msgs.iter().filter_map(|(i, m)| match m {
        Leaf::Range(r) if r.range().start < offset => {
            Some(async move { (*i, map_range(ports, job, r, deadline).await) })
        }
        _ => None,
    });
    let mut out = done_all(msgs);
    for (i, result) in join_all(earlier).await {
        let outcome = match result {
            Err(RangeFailure::Final(f)) if f.offset.is_some_and(|o| o < offset) => {
                match super::submit::record_failure(ports, array_id, &f).await {
                    Ok(()) => Ok(MapOutcome::default()),
                    Err(e) => Err(e.into()),
                }
            }
            Err(RangeFailure::Retry(e)) => Err(e.into()),
            _ => Ok(MapOutcome::default()),
        };
        if let Some(slot) = out.iter_mut().find(|(j, _)| *j == i) {
            slot.1 = outcome;
        }
    }
    out
}

async fn map_leaf(
    ports: &Ports,
    job: &Arc<dyn AnyJob>,
    leaf: &Leaf<'_>,
    deadline: Option<u64>,
) -> Result<Mapped, RangeFailure> {
    match leaf {
        Leaf::Packet(m) => {
            let mut records = m
                .elements
                .iter()
                .map(|&number| Record { number, key: None });
            let value = job.map_records(&mut records).map_err(|e| {
                RangeFailure::Final(Failure::new(FailureKind::of_job_code(e.code), e.reason))
            })?;
            Ok(Mapped {
                value,
                elements: m.elements.len() as u64,
                bytes: 0,
            })
        }
        Leaf::Range(m) => map_range(ports, job, m, deadline).await,
    }
}

/// Writes each mapped leaf unless it is there already, all at once.
/// Returns the leaves stored; failed writes go to `out`.
async fn store_leaves(
    ports: &Ports,
    config: &Config,
    array_id: &str,
    tree: &Tree,
    mapped: Vec<(usize, NodeId, Mapped)>,
    out: &mut Outcomes,
) -> Vec<Stored> {
    let now_s = ports.clock.now_ms() / 1000;
    let expires_at = now_s + config.scratchpad_ttl.as_secs();
    let puts = mapped.into_iter().map(|(index, node, value)| async move {
        let row = leaf_row(array_id, tree, node, &value, expires_at);
        let put = ports.scratchpad.put_new(&row).await;
        (index, node, value, put)
    });
    let mut stored = Vec::new();
    for (index, node, mapped, result) in join_all(puts).await {
        match result {
            Ok(put) => stored.push(Stored {
                index,
                node,
                mapped,
                created: put == Put::Created,
            }),
            Err(e) => out.push((index, Err(e.into()))),
        }
    }
    stored
}

/// Why a message's tree does not belong to the array `record` describes, if it does not.
fn mismatch(array_id: &str, record: &SumRecord, t: &Tree) -> Option<StepError> {
    let ours = (t.array_length(), t.chunk_size(), t.fan_in());
    (ours != (record.array_length, record.chunk_size, record.fan_in)).then(|| StepError::Mismatch {
        array_id: array_id.to_string(),
        what: "arrayLength, chunkSize or fanIn differ".into(),
    })
}

/// The array is one leaf: its doubled sum is the array's sum, written to
/// the sums table while the array is pending (a dead-lettered one may still
/// finish, as with reduce). Two requests in all (the record read before and
/// this conditional write) instead of a leaf, a Reduce message, a progress
/// update and a reduce invocation's read, Query, write and retire. Each
/// message of the batch is tried in turn: a duplicate finds the array done.
async fn finish_single_leaf(
    ports: &Ports,
    array_id: &str,
    record: &SumRecord,
    mapped: Vec<(usize, NodeId, Mapped)>,
) -> Outcomes {
    let mut out = Vec::with_capacity(mapped.len());
    for (i, _, leaf) in mapped {
        let now = ports.clock.now_ms();
        let completion = ports
            .sums
            .complete(array_id, &leaf.value, leaf.elements, now)
            .await;
        let outcome = match completion {
            Ok(Completion::Completed) => {
                tracing::info!(array_id, sum = %leaf.value, "array done (one leaf)");
                Ok(MapOutcome {
                    created: true,
                    completed: true,
                    latency_ms: Some(now.saturating_sub(record.submitted_at_ms)),
                    ..MapOutcome::default()
                })
            }
            Ok(Completion::AlreadyDone | Completion::Failed) => Ok(MapOutcome::default()),
            Ok(Completion::Unknown) => Err(StepError::UnknownArray(array_id.to_string())),
            Err(e) => Err(e.into()),
        };
        out.push((i, outcome));
    }
    out
}

/// The scratchpad row of a mapped leaf.
fn leaf_row(
    array_id: &str,
    tree: &Tree,
    node: NodeId,
    mapped: &Mapped,
    expires_at: u64,
) -> ScratchpadRow {
    ScratchpadRow {
        key: RowKey {
            partition_key: tree.partition_key(array_id, node),
            packet_id: node.to_string(),
        },
        packet_value: mapped.value.clone(),
        array_length: tree.array_length(),
        packet_contains: tree.contains(node),
        elements: mapped.elements,
        expires_at,
        consumed: false,
    }
}

/// Tells reduce to merge the stored leaves' parents, then counts the
/// elements (and bytes) of the leaves written now as progress.
async fn trigger_reduce(
    ports: &Ports,
    array_id: &str,
    tree: &Tree,
    stored: &[Stored],
) -> Result<(), PortError> {
    let targets: BTreeSet<NodeId> = stored
        .iter()
        .filter_map(|leaf| tree.parent(leaf.node))
        .collect();
    let trigger = ReduceMessage {
        array_id: array_id.to_string(),
        tree: *tree,
        targets: targets.into_iter().collect(),
    };
    ports.reduce_queue.send(trigger.encode_all()).await?;
    let fresh = stored
        .iter()
        .filter(|leaf| leaf.created)
        .fold(Progress::default(), |p, leaf| Progress {
            elements: p.elements + leaf.mapped.elements,
            bytes: p.bytes + leaf.mapped.bytes,
        });
    if fresh != Progress::default() {
        // Progress is informational: a failure here must not send the batch
        // round again (its leaves are stored and reduce has been told).
        if let Err(e) = ports.sums.add_progress(array_id, fresh).await {
            tracing::warn!(array_id, error = %e, "could not record progress");
        }
    }
    Ok(())
}
