//! `reduce`: merge children into their parent, level by level, up to the root.
//!
//! Why this is exactly right under duplicates, crashes and concurrency:
//! - A node's value is fixed by the input (its children are fixed by the tree),
//!   and it is written only if absent. Two reducers merging the same node write
//!   the same row once; no element can be counted twice.
//! - The root is written to the sums table only while the array is pending,
//!   so a done array's sum never changes.
//! - Children are marked consumed only after the whole walk up from them has
//!   finished, so a walk that dies part-way is redone by its redelivered
//!   message, finding the same rows; a walk that finds a node's children
//!   consumed looks for the node among its siblings before giving up, and a node
//!   consumed there has a written parent whose own walk carried the work on.
//! - A row is consumed only after its parent was written (the root's children:
//!   after the sum was). So a node that exists, or has a consumed child, has
//!   spent all its children: a walk that meets such a node retires whatever
//!   children are still live and goes on up. That finishes the retire of a
//!   walk that died (or failed) part-way through it, even one redelivered
//!   after the array is done, so a finished array leaves no live packets.
//! - Consumed rows stay as tombstones (until their TTL), so a redelivered
//!   TimesTwo message finds its leaf taken and cannot bring it back to life.
//! - Every write is followed by a consistent read of the level above, so of two
//!   reducers that write the last two siblings, at least one sees both.

use super::StepError;
use crate::config::Config;
use crate::ports::{Completion, Failure, FailureKind, Ports, Put, RowKey, ScratchpadRow};
use packet::job::{AnyJob, Stored as Value};
use packet::{NodeId, ReduceMessage, Tree};
use std::collections::BTreeMap;
use tracing::Instrument;

/// What a reduce message achieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReduceOutcome {
    /// Packets written by merging.
    pub merged: u64,
    /// Whether this message wrote the array's sum.
    pub completed: bool,
    /// Whether time ran out and the remaining work was sent on as a new message.
    pub retriggered: bool,
    /// Writes that found their work already done by another reducer.
    pub conflicts: u64,
    /// Submission to completion, when this message completed the array.
    pub latency_ms: Option<u64>,
}

/// Time kept in hand before an invocation's deadline: a walk that starts later
/// is handed to a fresh invocation instead ("re-trigger self"), so a reducer is
/// never killed by its timeout part-way through, which would cost a redelivery
/// after the whole visibility timeout.
pub const RETRIGGER_MARGIN_MS: u64 = 5_000;

/// Handles one Reduce message body.
pub async fn reduce(
    ports: &Ports,
    config: &Config,
    body: &str,
) -> Result<ReduceOutcome, StepError> {
    let msg = ReduceMessage::decode(body)?;
    reduce_message(ports, config, &msg, None).await
}

/// An array and its tree's shape (`arrayLength`, `chunkSize`, `fanIn`): the
/// messages of a batch that can be walked together.
type ArrayShape = (String, u64, u64, u64);

/// Handles a batch of Reduce message bodies, one result per body, in order.
///
/// Messages of the same array are merged first, so a node named by several
/// triggers in the batch is walked once; the walk's outcome is reported on
/// the first of those messages. `deadline_ms` (the invocation's
/// deadline on `ports.clock`) enables re-triggering when time runs short.
pub async fn reduce_batch(
    ports: &Ports,
    config: &Config,
    bodies: &[&str],
    deadline_ms: Option<u64>,
) -> Vec<Result<ReduceOutcome, StepError>> {
    let mut results: Vec<Result<ReduceOutcome, StepError>> = (0..bodies.len())
        .map(|_| Ok(ReduceOutcome::default()))
        .collect();
    let mut groups: BTreeMap<ArrayShape, (ReduceMessage, Vec<usize>)> = BTreeMap::new();
    for (i, body) in bodies.iter().enumerate() {
        let msg = match ReduceMessage::decode(body) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "refusing Reduce message");
                results[i] = Err(e.into());
                continue;
            }
        };
        let t = msg.tree;
        let key = (
            msg.array_id.clone(),
            t.array_length(),
            t.chunk_size(),
            t.fan_in(),
        );
        let (merged, members) = groups.entry(key).or_insert_with(|| {
            (
                ReduceMessage {
                    targets: Vec::new(),
                    ..msg.clone()
                },
                Vec::new(),
            )
        });
        merged.targets.extend(msg.targets);
        members.push(i);
    }
    let runs = groups.into_values().map(|(mut msg, members)| async move {
        msg.targets.sort();
        msg.targets.dedup();
        (
            members,
            reduce_message(ports, config, &msg, deadline_ms)
                .instrument(tracing::info_span!("array", array_id = %msg.array_id))
                .await,
        )
    });
    for (members, result) in futures::future::join_all(runs).await {
        for (n, i) in members.into_iter().enumerate() {
            results[i] = match &result {
                // The shared walk's outcome is reported once, on the first
                // message of its group; the others add nothing of their own.
                Ok(outcome) if n == 0 => Ok(*outcome),
                Ok(_) => Ok(ReduceOutcome::default()),
                Err(e) => Err(e.duplicate()),
            };
        }
    }
    results
}

async fn reduce_message(
    ports: &Ports,
    config: &Config,
    msg: &ReduceMessage,
    deadline_ms: Option<u64>,
) -> Result<ReduceOutcome, StepError> {
    let record = ports
        .sums
        .get(&msg.array_id)
        .await?
        .ok_or_else(|| StepError::UnknownArray(msg.array_id.clone()))?;
    if (record.array_length, record.chunk_size, record.fan_in)
        != (
            msg.tree.array_length(),
            msg.tree.chunk_size(),
            msg.tree.fan_in(),
        )
    {
        return Err(StepError::Mismatch {
            array_id: msg.array_id.clone(),
            what: "arrayLength, chunkSize or fanIn differ".into(),
        });
    }
    let job = config
        .jobs
        .job(&record.job)
        .map_err(|e| StepError::Mismatch {
            array_id: msg.array_id.clone(),
            what: e.to_string(),
        })?;
    let mut outcome = ReduceOutcome::default();
    if record.is_overdue(ports.clock.now_ms()) {
        // What the walk needs may have expired (rows by TTL): end the array
        // rather than merge what is left of it.
        super::submit::expire(ports, &record).await;
        return Ok(outcome);
    }
    // A done array is still walked: a walk that died after the sum was written
    // left live children behind, and only its redelivered message knows where.
    // Every node of a done array exists, so this walk writes nothing new.
    for (i, target) in msg.targets.iter().enumerate() {
        if deadline_ms.is_some_and(|d| ports.clock.now_ms() + RETRIGGER_MARGIN_MS >= d) {
            let rest = ReduceMessage {
                targets: msg.targets[i..].to_vec(),
                ..msg.clone()
            };
            ports.reduce_queue.send(rest.encode_all()).await?;
            tracing::info!(array_id = %msg.array_id, left = rest.targets.len(), "out of time; re-triggered reduce");
            outcome.retriggered = true;
            return Ok(outcome);
        }
        walk(
            ports,
            config,
            job.as_ref(),
            &msg.array_id,
            &msg.tree,
            *target,
            &mut outcome,
        )
        .instrument(tracing::info_span!("walk", packet_id = %target))
        .await?;
    }
    if outcome.completed {
        outcome.latency_ms = Some(ports.clock.now_ms().saturating_sub(record.submitted_at_ms));
    }
    Ok(outcome)
}

/// Merges `start` if its children are all there, then its parent, and so on
/// until a level is incomplete or the root is written.
async fn walk(
    ports: &Ports,
    config: &Config,
    job: &dyn AnyJob,
    array_id: &str,
    tree: &Tree,
    start: NodeId,
    outcome: &mut ReduceOutcome,
) -> Result<(), StepError> {
    let mut target = start;
    let mut known: Option<Vec<ScratchpadRow>> = None;
    let mut consumed: Vec<ScratchpadRow> = Vec::new();
    loop {
        let rows = match known.take() {
            Some(rows) => rows,
            None => {
                ports
                    .scratchpad
                    .group(&tree.children_partition_key(array_id, target))
                    .await?
            }
        };
        let kids = match_children(array_id, tree, target, &rows)?;
        let merged = match total(job, &kids, tree, target) {
            Ok(merged) => merged,
            Err(e) => {
                // The job refused the merge (too many groups, say): the
                // array ends here, with the job's reason; nothing is
                // written above this node.
                let failure = Failure::new(FailureKind::of_job_code(e.code), e.reason);
                super::submit::record_failure(ports, array_id, &failure).await?;
                return Ok(());
            }
        };
        if let Some(Total {
            value,
            contains,
            elements,
        }) = merged
        {
            if tree.is_root(target) {
                let now = ports.clock.now_ms();
                match ports.sums.complete(array_id, &value, elements, now).await? {
                    Completion::Completed => {
                        outcome.completed = true;
                        tracing::info!(array_id, sum = %value, "array done");
                    }
                    Completion::AlreadyDone | Completion::Failed => outcome.conflicts += 1,
                    Completion::Unknown => return Err(StepError::UnknownArray(array_id.into())),
                }
                consumed.extend(kids.values().map(|r| (*r).clone()));
                break;
            }
            let row = ScratchpadRow {
                key: RowKey {
                    partition_key: tree.partition_key(array_id, target),
                    packet_id: target.to_string(),
                },
                packet_value: value,
                array_length: tree.array_length(),
                packet_contains: contains,
                elements,
                expires_at: ports.clock.now_ms() / 1000 + config.scratchpad_ttl.as_secs(),
                consumed: false,
            };
            match ports.scratchpad.put_new(&row).await? {
                Put::Created => outcome.merged += 1,
                Put::AlreadyThere => outcome.conflicts += 1,
            }
            consumed.extend(kids.values().map(|r| (*r).clone()));
            target = tree.parent(target).unwrap_or(target);
            continue;
        }
        // Not all children are there: either some are still being mapped (their
        // writer will walk up later), or this node was already merged and its
        // children retired (perhaps only some of them, by a walk that died
        // part-way). Only in the second case does the node exist: among its
        // siblings, or (the root) as the done sum, told by a consumed child.
        let spent = rows.iter().any(|r| r.consumed && is_child(tree, target, r));
        let parent = tree.parent(target);
        let siblings = match parent {
            Some(parent) if !spent => Some(
                ports
                    .scratchpad
                    .group(&tree.children_partition_key(array_id, parent))
                    .await?,
            ),
            _ => None,
        };
        let name = target.to_string();
        let exists = spent || siblings.iter().flatten().any(|r| r.key.packet_id == name);
        if !exists {
            break;
        }
        consumed.extend(kids.values().map(|r| (*r).clone()));
        let Some(parent) = parent else {
            break;
        };
        target = parent;
        known = siblings;
    }
    if !consumed.is_empty() {
        ports.scratchpad.retire(&consumed).await?;
    }
    Ok(())
}

/// Whether `row` holds a child of `target`.
fn is_child(tree: &Tree, target: NodeId, row: &ScratchpadRow) -> bool {
    row.key
        .packet_id
        .parse::<NodeId>()
        .is_ok_and(|node| tree.parent(node) == Some(target))
}

/// The rows among `rows` that are children of `target`, checked against the tree.
fn match_children<'r>(
    array_id: &str,
    tree: &Tree,
    target: NodeId,
    rows: &'r [ScratchpadRow],
) -> Result<BTreeMap<NodeId, &'r ScratchpadRow>, StepError> {
    let mut kids = BTreeMap::new();
    for row in rows.iter().filter(|r| !r.consumed) {
        let Ok(node) = row.key.packet_id.parse::<NodeId>() else {
            continue;
        };
        if tree.parent(node) != Some(target) {
            continue;
        }
        if row.packet_contains != tree.contains(node) || row.array_length != tree.array_length() {
            return Err(StepError::Corrupt {
                array_id: array_id.to_string(),
                packet: node,
                what: format!(
                    "packetContains {} / arrayLength {}, expected {} / {}",
                    row.packet_contains,
                    row.array_length,
                    tree.contains(node),
                    tree.array_length()
                ),
            });
        }
        kids.insert(node, row);
    }
    Ok(kids)
}

/// A node's merged children.
struct Total {
    value: Value,
    /// Tree units (elements of an array, bytes of an object).
    contains: u64,
    elements: u64,
}

/// The merged value and counts, if every child of `target` is present.
/// Children are combined in index order (`kids` is ordered by node), so a
/// job's combine need not be commutative.
fn total(
    job: &dyn AnyJob,
    kids: &BTreeMap<NodeId, &ScratchpadRow>,
    tree: &Tree,
    target: NodeId,
) -> Result<Option<Total>, packet::job::JobError> {
    let expected = tree.children(target);
    if kids.len() != expected.len() || !expected.iter().all(|n| kids.contains_key(n)) {
        return Ok(None);
    }
    let values: Vec<&Value> = kids.values().map(|row| &row.packet_value).collect();
    Ok(Some(Total {
        value: job.combine_stored(&values)?,
        contains: kids.values().map(|row| row.packet_contains).sum(),
        elements: kids.values().map(|row| row.elements).sum(),
    }))
}
