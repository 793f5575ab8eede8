//! Regression tests for the bug the simulation found in `pipeline::reduce`:
//! a walk whose retire of spent children did not complete (the handler died
//! or the batch write failed part-way) left live packets behind for good.
//!
//! Before the fix, a redelivered Reduce message returned at once if the
//! array was done, and a walk that found a node already merged went on
//! without retiring that node's remaining children; nothing else ever
//! retired them.

use async_trait::async_trait;
use pipeline::memory::{MemoryBackend, MemoryScratchpad};
use pipeline::{
    reduce, submit, times_two, Config, PortError, Ports, Put, Queue, Scratchpad, ScratchpadRow,
    Status, SystemClock,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A scratchpad whose next retire applies only its first row, then fails,
/// like a BatchWriteItem cut short (or a handler that died after one chunk).
struct CutRetire {
    inner: Arc<MemoryScratchpad>,
    armed: AtomicBool,
}

#[async_trait]
impl Scratchpad for CutRetire {
    async fn put_new(&self, row: &ScratchpadRow) -> Result<Put, PortError> {
        self.inner.put_new(row).await
    }
    async fn group(&self, partition_key: &str) -> Result<Vec<ScratchpadRow>, PortError> {
        self.inner.group(partition_key).await
    }
    async fn retire(&self, rows: &[ScratchpadRow]) -> Result<(), PortError> {
        if self.armed.swap(false, Ordering::SeqCst) {
            self.inner.retire(&rows[..rows.len().min(1)]).await?;
            return Err(PortError::Unavailable("cut short".into()));
        }
        self.inner.retire(rows).await
    }
}

fn config() -> Config {
    Config {
        chunk_size: 1,
        fan_in: 2,
        ..Config::default()
    }
}

/// Receives every visible message of `queue`'s backend queue.
async fn take(backend: &MemoryBackend, reduce_queue: bool) -> Vec<String> {
    let q = if reduce_queue {
        &backend.reduce_queue
    } else {
        &backend.times_two_queue
    };
    let got = q
        .receive(100, Duration::ZERO, Duration::from_secs(60))
        .await
        .expect("receive");
    q.delete(got.iter().map(|m| m.receipt.clone()).collect())
        .await
        .expect("delete");
    got.into_iter().map(|m| m.body).collect()
}

fn live(backend: &MemoryBackend) -> Vec<String> {
    backend
        .scratchpad
        .rows()
        .into_iter()
        .filter(|r| !r.consumed)
        .map(|r| format!("{} {}", r.key.partition_key, r.key.packet_id))
        .collect()
}

fn setup() -> (MemoryBackend, Ports, Ports, Arc<CutRetire>) {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let good = backend.ports();
    let cut = Arc::new(CutRetire {
        inner: backend.scratchpad.clone(),
        armed: AtomicBool::new(false),
    });
    let faulty = Ports {
        scratchpad: cut.clone(),
        ..backend.ports()
    };
    (backend, good, faulty, cut)
}

#[tokio::test]
async fn a_redelivery_after_the_sum_was_written_retires_the_leftovers() {
    let (backend, good, faulty, cut) = setup();
    let cfg = config();
    let accepted = submit(&good, &cfg, "[1,2]").await.expect("submit");
    let leaves = take(&backend, false).await;
    let refs: Vec<&str> = leaves.iter().map(String::as_str).collect();
    assert!(times_two(&good, &cfg, &refs, None)
        .await
        .iter()
        .all(Result::is_ok));
    let triggers = take(&backend, true).await;
    // The walk writes the sum, then dies part-way through retiring the leaves.
    cut.armed.store(true, Ordering::SeqCst);
    assert!(reduce(&faulty, &cfg, &triggers[0]).await.is_err());
    let record = good.sums.get(&accepted.array_id).await.expect("get");
    assert_eq!(
        record.map(|r| (r.status, r.sum.map(|s| s.to_string()))),
        Some((Status::Done, Some("6".into())))
    );
    assert_eq!(
        live(&backend).len(),
        1,
        "one leaf left live by the cut retire"
    );
    // SQS delivers the message again; the array is done, but the leaf must go.
    reduce(&good, &cfg, &triggers[0]).await.expect("redelivery");
    assert_eq!(live(&backend), Vec::<String>::new());
}

#[tokio::test]
async fn a_redelivery_finishes_a_retire_cut_short_below_the_root() {
    let (backend, good, faulty, cut) = setup();
    let cfg = config();
    // Four leaves: L1-0 merges leaves 0 and 1, L1-1 leaves 2 and 3, root L2.
    let accepted = submit(&good, &cfg, "[1,2,3,4]").await.expect("submit");
    let leaves = take(&backend, false).await;
    let first: Vec<&str> = leaves[..2].iter().map(String::as_str).collect();
    assert!(times_two(&good, &cfg, &first, None)
        .await
        .iter()
        .all(Result::is_ok));
    let trigger = take(&backend, true).await;
    cut.armed.store(true, Ordering::SeqCst);
    assert!(reduce(&faulty, &cfg, &trigger[0]).await.is_err());
    // L1-0 is written, leaf 0 retired, leaf 1 still live. Redelivered:
    reduce(&good, &cfg, &trigger[0]).await.expect("redelivery");
    let rest: Vec<&str> = leaves[2..].iter().map(String::as_str).collect();
    assert!(times_two(&good, &cfg, &rest, None)
        .await
        .iter()
        .all(Result::is_ok));
    for body in take(&backend, true).await {
        reduce(&good, &cfg, &body).await.expect("reduce");
    }
    let record = good
        .sums
        .get(&accepted.array_id)
        .await
        .expect("get")
        .expect("record");
    assert_eq!(record.status, Status::Done);
    assert_eq!(record.sum.map(|s| s.to_string()), Some("20".to_string()));
    assert_eq!(live(&backend), Vec::<String>::new());
}

/// Found by the simulation once it modelled dead-lettering and keyed
/// submits (seed 2): a keyed submit whose fan-out failed half-way left the
/// array pending for the client's retry; one of its sent messages then
/// failed its last receive and failed the array as dead-lettered; the
/// client's retry then saw a non-pending array and did not send the missing
/// packets, so no redrive could ever finish it. A retry now sends the
/// packets of every array that has not ended.
#[test]
fn a_keyed_retry_resends_the_packets_of_a_dead_lettered_array() {
    let opts = simulation::Options {
        trace_len: 1_000_000,
        ..simulation::Options::default()
    };
    let report = simulation::run_seed(2, &opts);
    assert!(report.ok(), "{report}");
    // The scenario, as the trace tells it: plan 0's array is failed as
    // dead-lettered, a submit of plan 0 fails part-way (record or send), a
    // later keyed retry of plan 0 is accepted as the same array, and a
    // redrive finishes it. Without these the seed no longer tests the fix.
    let trace = &report.trace;
    let position = |what: &str, from: usize| -> Option<usize> {
        trace[from..]
            .iter()
            .position(|l| l.contains(what))
            .map(|i| i + from)
    };
    let accepted = "submit plan 0 -> accepted as ";
    let name = trace
        .iter()
        .find_map(|l| {
            l.split_once(accepted)
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| panic!("plan 0 was never accepted:\n{report}"));
    let dead = position(&format!("sums.fail {name} dead_lettered"), 0)
        .unwrap_or_else(|| panic!("{name} was never failed as dead-lettered:\n{report}"));
    assert!(
        position("submit plan 0 -> error: could not record or enqueue", 0).is_some(),
        "no submit of plan 0 failed part-way:\n{report}"
    );
    assert!(
        position(&format!("{accepted}{name}"), dead).is_some(),
        "no retry of plan 0 was accepted as {name} after it was dead-lettered:\n{report}"
    );
    assert!(report.redrives > 0, "nothing was redriven:\n{report}");
}

/// Why the map's cost must be bounded by its element count: at 20 ms per
/// element (the cost of elements with unbounded texts, in the order of the
/// old worst case) batches outlast the function timeout on every delivery,
/// a timeout fails the whole batch, and arrays never finish. With the
/// bounded cost the simulation draws (at most 100 µs), the same seed passes.
#[test]
fn a_map_slower_than_its_timeout_is_caught() {
    let mut params = simulation::Params::from_seed(3107);
    params.map_us_per_element = 20_000;
    let slow = simulation::run_params(&params, &simulation::Options::default());
    assert!(
        !slow.ok(),
        "a map that outlasts its timeout must break the run"
    );
    params.map_us_per_element = 100;
    let bounded = simulation::run_params(&params, &simulation::Options::default());
    assert!(bounded.ok(), "{bounded}");
}
