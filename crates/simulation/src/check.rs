//! The properties checked at the end of every run, against answers computed
//! independently of the pipeline (exact sums straight from the elements).

use crate::params::ArrayPlan;
use crate::ports::short;
use packet::{NodeId, Number, Tree};
use pipeline::memory::MemoryBackend;
use pipeline::{FailureKind, ScratchpadRow, Status};
use std::collections::{BTreeMap, BTreeSet};

/// What the pipeline must produce for one plan.
pub struct Expected {
    pub tree: Option<Tree>,
    /// Doubled sum of each leaf's elements.
    pub leaves: Vec<Number>,
    pub total: String,
}

impl Expected {
    pub fn of(plan: &ArrayPlan) -> Expected {
        let n = plan.elements.len() as u64;
        let tree = Tree::new(n, plan.chunk_size, plan.fan_in).ok();
        let doubled: Vec<Number> = plan
            .elements
            .iter()
            .map(|e| Number::parse(e).map(|x| x.doubled()).unwrap_or_default())
            .collect();
        let leaves: Vec<Number> = doubled
            .chunks(plan.chunk_size.max(1) as usize)
            .map(|c| c.iter().cloned().sum())
            .collect();
        let total = leaves.iter().cloned().sum::<Number>().to_string();
        Expected {
            tree,
            leaves,
            total,
        }
    }

    /// The exact value of `node`, from the leaves it spans.
    fn value(&self, tree: &Tree, node: NodeId) -> Number {
        let span = tree.fan_in().checked_pow(node.level).unwrap_or(u64::MAX);
        let first = node
            .index
            .saturating_mul(span)
            .min(self.leaves.len() as u64) as usize;
        let end = (first as u64)
            .saturating_add(span)
            .min(self.leaves.len() as u64) as usize;
        self.leaves[first..end].iter().cloned().sum()
    }

    /// Why `row` contradicts the tree of array `id`, if it does.
    fn contradiction(&self, id: &str, row: &ScratchpadRow) -> Option<String> {
        let Some(tree) = &self.tree else {
            return Some("a row for an empty array".into());
        };
        let node: NodeId = match row.key.packet_id.parse() {
            Ok(n) => n,
            Err(_) => return Some("packetId is not a tree node".into()),
        };
        if tree.check(node).is_err() || tree.is_root(node) {
            return Some("node outside the tree (or the root)".into());
        }
        if row.key.partition_key != tree.partition_key(id, node) {
            return Some(format!("stored under partition {}", row.key.partition_key));
        }
        if row.packet_contains != tree.contains(node) || row.array_length != tree.array_length() {
            return Some(format!(
                "packetContains {} / arrayLength {}, tree says {} / {}",
                row.packet_contains,
                row.array_length,
                tree.contains(node),
                tree.array_length()
            ));
        }
        let want = self.value(tree, node);
        if row.packet_value != want {
            return Some(format!(
                "value {} but the elements sum to {want}",
                row.packet_value
            ));
        }
        None
    }
}

/// Everything the checker looks at.
pub struct Facts<'a> {
    pub plans: &'a [ArrayPlan],
    pub expected: &'a [Expected],
    /// Every array id the sums table was asked to create, with its plan.
    pub allocated: &'a [(String, usize)],
    /// Per plan: submitted with an Idempotency-Key.
    pub keyed: &'a [bool],
    /// An outage outlasted the queues' retention and the rows' TTL: an
    /// accepted array may then end `failed` as expired, never wrongly done.
    pub outage: bool,
    /// Ids whose submit answered success.
    pub accepted: &'a BTreeMap<String, usize>,
    /// Every distinct `done` value seen per array over the run.
    pub observed: &'a BTreeMap<String, Vec<String>>,
    pub backend: &'a MemoryBackend,
}

fn describe(row: &ScratchpadRow) -> String {
    let (id, rest) = row
        .key
        .partition_key
        .split_once('/')
        .map_or((row.key.partition_key.as_str(), ""), |(a, b)| (a, b));
    format!(
        "{}{}{} {}",
        short(id),
        if rest.is_empty() { "" } else { "/" },
        rest,
        row.key.packet_id
    )
}

/// Checks every property; returns the violations, most important first.
pub fn check(f: &Facts<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let records: BTreeMap<String, _> = f
        .backend
        .sums
        .records()
        .into_iter()
        .map(|r| (r.array_id.clone(), r))
        .collect();
    let mut rows: BTreeMap<String, Vec<ScratchpadRow>> = BTreeMap::new();
    for row in f.backend.scratchpad.rows() {
        let id = row
            .key
            .partition_key
            .split('/')
            .next()
            .unwrap_or("")
            .to_string();
        rows.entry(id).or_default().push(row);
    }
    let known: BTreeSet<&str> = f.allocated.iter().map(|(id, _)| id.as_str()).collect();
    for (id, list) in &rows {
        if !known.contains(id.as_str()) {
            out.push(format!(
                "{} scratchpad rows for an array nobody submitted: {id}",
                list.len()
            ));
        }
    }
    // A key stands for one array while its claim lives: two arrays of a
    // keyed plan submitted within that time are a broken promise.
    let ttl_ms = pipeline::IDEMPOTENCY_TTL_SECONDS * 1000;
    for (plan, _) in f.keyed.iter().enumerate().filter(|(_, k)| **k) {
        let mut starts: Vec<(u64, String)> = f
            .allocated
            .iter()
            .filter(|(_, p)| *p == plan)
            .filter_map(|(id, _)| Some((records.get(id)?.submitted_at_ms, short(id))))
            .collect();
        starts.sort();
        for pair in starts.windows(2) {
            if pair[1].0 - pair[0].0 < ttl_ms {
                out.push(format!(
                    "plan {plan}: one Idempotency-Key started {} and {} within its {} h",
                    pair[0].1,
                    pair[1].1,
                    ttl_ms / 3_600_000
                ));
            }
        }
    }
    for (id, plan) in f.allocated {
        let name = short(id);
        let exp = &f.expected[*plan];
        let n = f.plans[*plan].elements.len() as u64;
        let accepted = f.accepted.contains_key(id);
        let record = records.get(id);
        let done = record.is_some_and(|r| r.status == Status::Done);
        match record {
            None if accepted => out.push(format!("{name}: accepted but not in the sums table")),
            Some(r) if done => {
                let got = r.sum.as_ref().map(ToString::to_string).unwrap_or_default();
                if got != exp.total {
                    out.push(format!(
                        "{name}: WRONG SUM {got}, exact sum is {}",
                        exp.total
                    ));
                }
            }
            Some(r) if r.status == Status::Pending => out.push(format!(
                "{name}: still pending after faults stopped, the DLQs were redriven and it was read past its deadline"
            )),
            Some(r)
                if f.outage
                    && r.failure.as_ref().is_some_and(|x| x.kind == FailureKind::Expired) => {}
            Some(r) if accepted => out.push(format!(
                "{name}: accepted but {} ({:?}), not done, after faults stopped and the DLQs were redriven",
                r.status.as_str(),
                r.failure
            )),
            _ => {}
        }
        if let Some(r) = record.filter(|r| r.reduced_elements > n) {
            out.push(format!(
                "{name}: progress overcounts: reducedElements {} of {n} elements",
                r.reduced_elements
            ));
        }
        if let Some(seen) = f.observed.get(id) {
            if seen.len() > 1 {
                out.push(format!(
                    "{name}: done sum changed over the run: {}",
                    seen.join(" -> ")
                ));
            }
        }
        let list = rows.get(id).map(Vec::as_slice).unwrap_or(&[]);
        let mut bad = 0;
        for row in list {
            if let Some(why) = exp.contradiction(id, row) {
                bad += 1;
                if bad <= 5 {
                    out.push(format!(
                        "{name}: row {} contradicts the tree: {why}",
                        describe(row)
                    ));
                }
            }
        }
        if bad > 5 {
            out.push(format!("{name}: ... {} more contradicting rows", bad - 5));
        }
        if !done {
            continue;
        }
        let live: Vec<String> = list.iter().filter(|r| !r.consumed).map(describe).collect();
        if !live.is_empty() {
            out.push(format!(
                "{name}: done but {} live packet(s) left: {}",
                live.len(),
                live.iter().take(8).cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        // After an outage the TTL may have deleted the root's children. An
        // array of one packet never writes a scratchpad row: times_two
        // writes its sum (the exact sum is checked above), so there must be none.
        if exp.tree.as_ref().is_some_and(|t| t.leaves() == 1) {
            if !list.is_empty() {
                out.push(format!(
                    "{name}: one packet, yet {} scratchpad row(s): {}",
                    list.len(),
                    list.iter()
                        .take(8)
                        .map(describe)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            continue;
        }
        if let (Some(tree), true) = (&exp.tree, n > 0 && !f.outage) {
            let under_root: BTreeSet<NodeId> = list
                .iter()
                .filter(|r| r.key.partition_key == *id)
                .filter_map(|r| r.key.packet_id.parse().ok())
                .filter(|node| tree.parent(*node) == Some(tree.root()))
                .collect();
            let want: BTreeSet<NodeId> = tree.children(tree.root()).into_iter().collect();
            let contains: u64 = under_root.iter().map(|n| tree.contains(*n)).sum();
            if under_root != want || contains != n {
                out.push(format!(
                    "{name}: done, but the root's children cover {contains} of {n} elements ({} of {} packets)",
                    under_root.len(),
                    want.len()
                ));
            }
        }
    }
    out
}
