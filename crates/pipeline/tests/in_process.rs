//! The three steps on the in-process ports, driven by a plain loop.

use pipeline::injected::{InjectedSums, Injection};
use pipeline::memory::{MemoryBackend, MemoryQueue, Stage};
use pipeline::PortError;
use pipeline::{
    reduce, submit, times_two, Config, Ports, Queue, Received, Status, SumRecord, SystemClock,
};
use std::sync::Arc;
use std::time::Duration;

/// Up to 10 visible messages of `queue`, hidden for a minute.
async fn take(queue: &MemoryQueue) -> Vec<Received> {
    queue
        .receive(10, Duration::ZERO, Duration::from_secs(60))
        .await
        .expect("receive")
}

/// Runs the map and the reduce until the queues are empty; every message
/// must succeed. With `duplicate`, each map message is sent once more after
/// it was mapped, as SQS may deliver it twice.
async fn drain(backend: &MemoryBackend, config: &Config, duplicate: bool) {
    let ports = &backend.ports();
    let mut copied = std::collections::HashSet::new();
    backend
        .drain(10_000, |stage, batch| {
            let copies: Vec<String> = batch
                .iter()
                .filter(|m| duplicate && stage == Stage::Map && copied.insert(m.body.clone()))
                .map(|m| m.body.clone())
                .collect();
            async move {
                let bodies: Vec<&str> = batch.iter().map(|m| m.body.as_str()).collect();
                match stage {
                    Stage::Map => {
                        for r in times_two(ports, config, &bodies, None).await {
                            r.expect("map");
                        }
                    }
                    Stage::Reduce => {
                        for body in bodies {
                            reduce(ports, config, body).await.expect("reduce");
                        }
                    }
                }
                if !copies.is_empty() {
                    backend.times_two_queue.send(copies).await.expect("dup");
                }
                batch.into_iter().map(|m| m.receipt).collect()
            }
        })
        .await
        .expect("the pipeline drains");
}

/// The record of an array that must exist.
async fn record(ports: &Ports, array_id: &str) -> SumRecord {
    ports
        .sums
        .get(array_id)
        .await
        .expect("get")
        .expect("record")
}

async fn run(body: &str, config: Config, duplicate: bool) -> (String, MemoryBackend) {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = backend.ports();
    let accepted = submit(&ports, &config, body).await.expect("accepted");
    drain(&backend, &config, duplicate).await;
    let record = record(&ports, &accepted.array_id).await;
    assert_eq!(record.status, Status::Done, "{body}");
    (record.sum.expect("sum").to_string(), backend)
}

fn cfg(chunk_size: u64, fan_in: u64) -> Config {
    Config {
        chunk_size,
        fan_in,
        ..Config::default()
    }
}

#[tokio::test]
async fn sums_exactly_for_many_shapes() {
    let nums: Vec<String> = (1..=1000)
        .map(|i| format!("{}.{}", i - 500, i % 10))
        .collect();
    let body = format!("[{}]", nums.join(","));
    let expected = {
        let total: packet::Number = nums
            .iter()
            .map(|s| packet::Number::parse(s).expect("n").doubled())
            .sum();
        total.to_string()
    };
    for (c, f) in [(1, 2), (3, 2), (7, 3), (10, 10), (1000, 100), (64, 4)] {
        for dup in [false, true] {
            let (sum, backend) = run(&body, cfg(c, f), dup).await;
            assert_eq!(sum, expected, "chunk {c} fan-in {f} dup {dup}");
            let left: Vec<_> = backend
                .scratchpad
                .rows()
                .iter()
                .filter(|r| !r.consumed)
                .map(|r| {
                    format!(
                        "{}/{}",
                        r.key.partition_key.split('/').nth(1).unwrap_or("-"),
                        r.key.packet_id
                    )
                })
                .collect();
            assert!(
                left.is_empty(),
                "leftover rows, chunk {c} fan-in {f}: {left:?}"
            );
        }
    }
}

#[tokio::test]
async fn small_cases() {
    assert_eq!(run("[1,2,3,4,5]", cfg(2, 2), false).await.0, "30");
    assert_eq!(run("[0.1,0.2,0.3]", cfg(1, 2), false).await.0, "1.2");
    assert_eq!(
        run("[9007199254740993]", cfg(1, 2), false).await.0,
        "18014398509481986"
    );
    assert_eq!(run("[-1,-2.5]", Config::default(), false).await.0, "-7");
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let accepted = submit(&backend.ports(), &Config::default(), "[]")
        .await
        .expect("ok");
    assert_eq!(accepted.status, Status::Done);
    assert!(backend.times_two_queue.is_empty());
}

#[tokio::test]
async fn reduce_hands_work_on_when_time_runs_out() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = backend.ports();
    let config = cfg(2, 2);
    let accepted = submit(&ports, &config, "[1,2,3,4,5,6,7,8]")
        .await
        .expect("ok");
    let maps = take(&backend.times_two_queue).await;
    let bodies: Vec<&str> = maps.iter().map(|m| m.body.as_str()).collect();
    for r in times_two(&ports, &config, &bodies, None).await {
        r.expect("map");
    }
    let triggers = take(&backend.reduce_queue).await;
    let bodies: Vec<&str> = triggers.iter().map(|m| m.body.as_str()).collect();
    // Already past the deadline: nothing is merged, everything is sent on.
    let past = ports.clock.now_ms();
    let results = pipeline::reduce_batch(&ports, &config, &bodies, Some(past)).await;
    for r in &results {
        let outcome = r.as_ref().expect("reduce");
        assert!(outcome.retriggered && outcome.merged == 0);
    }
    assert_eq!(
        backend.reduce_queue.len(),
        bodies.len() + 1,
        "one message carries the rest on"
    );
    let rest = backend
        .reduce_queue
        .bodies()
        .pop()
        .expect("re-triggered message");
    let outcome = reduce(&ports, &config, &rest).await.expect("reduce");
    assert!(outcome.completed);
    let record = record(&ports, &accepted.array_id).await;
    assert_eq!(record.sum.expect("sum").to_string(), "72");
}

#[tokio::test]
async fn a_batch_walks_each_array_once_and_fails_bad_messages_alone() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = backend.ports();
    let config = cfg(1, 4);
    submit(&ports, &config, "[1,2,3]").await.expect("ok");
    let maps = take(&backend.times_two_queue).await;
    for m in &maps {
        times_two(&ports, &config, &[m.body.as_str()], None).await[0]
            .as_ref()
            .expect("map");
    }
    let triggers = backend.reduce_queue.bodies();
    assert_eq!(triggers.len(), 3, "one trigger per map invocation");
    let mut bodies: Vec<&str> = triggers.iter().map(String::as_str).collect();
    bodies.insert(1, "garbage");
    let results = pipeline::reduce_batch(&ports, &config, &bodies, None).await;
    assert!(results[1].is_err());
    let completed = results
        .iter()
        .filter(|r| matches!(r, Ok(o) if o.completed))
        .count();
    assert_eq!(
        completed, 1,
        "the three triggers shared one walk that completed the array"
    );
    assert!(
        results[0].as_ref().is_ok_and(|o| o.completed),
        "reported on the first message"
    );
}

#[tokio::test]
async fn a_failed_progress_update_does_not_fail_the_map() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let sums = InjectedSums::new(backend.sums.clone());
    sums.faults.set(
        "add_progress",
        Injection::Before(PortError::Throttled("injected".into())),
    );
    let ports = pipeline::Ports {
        sums,
        ..backend.ports()
    };
    let config = cfg(2, 2);
    let accepted = submit(&ports, &config, "[1,2,3]").await.expect("ok");
    let maps = take(&backend.times_two_queue).await;
    let bodies: Vec<&str> = maps.iter().map(|m| m.body.as_str()).collect();
    for r in times_two(&ports, &config, &bodies, None).await {
        assert!(r.expect("map succeeds without progress").created);
    }
    assert_eq!(backend.reduce_queue.len(), 1, "reduce was still told");
    let record = record(&ports, &accepted.array_id).await;
    assert_eq!(record.reduced_elements, 0);
}

/// `drain` gives up, naming what is left, when a batch is never finished
/// (its messages stay hidden, then come again): it does not spin forever.
#[tokio::test]
async fn drain_gives_up_on_messages_never_finished() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    submit(&backend.ports(), &cfg(2, 2), "[1,2,3]")
        .await
        .expect("accepted");
    let mut delivered = 0;
    let left = backend
        .drain(3, |_, batch| {
            delivered += batch.len();
            async { Vec::new() }
        })
        .await;
    assert_eq!(
        delivered, 2,
        "each message once: unfinished ones stay hidden"
    );
    assert_eq!(
        left.map_err(|e| e.to_string()),
        Err("2 TimesTwo and 0 Reduce messages left after 3 rounds".into())
    );
}

/// An array of one packet is finished by `times_two`: its sum is written
/// straight to the sums table, with no scratchpad row and no Reduce message,
/// and a redelivered packet (or one mapped twice in one batch) finds it done.
#[tokio::test]
async fn one_packet_is_finished_by_the_map_alone() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = backend.ports();
    let config = Config::default();
    let accepted = submit(&ports, &config, "[1, 2.5, -3]")
        .await
        .expect("accepted");
    let packet = take(&backend.times_two_queue).await.remove(0).body;
    let outcomes = times_two(&ports, &config, &[&packet, &packet], None).await;
    let outcomes: Vec<_> = outcomes.into_iter().map(|o| o.expect("map")).collect();
    assert!(outcomes[0].completed && outcomes[0].created, "{outcomes:?}");
    assert!(
        !outcomes[1].completed && !outcomes[1].created,
        "{outcomes:?}"
    );
    assert_eq!(backend.reduce_queue.len(), 0, "no Reduce message");
    assert!(backend.scratchpad.rows().is_empty(), "no scratchpad row");
    let done = record(&ports, &accepted.array_id).await;
    assert_eq!(done.status, Status::Done);
    assert_eq!(
        done.sum.as_ref().map(ToString::to_string).as_deref(),
        Some("1")
    );
    let again = times_two(&ports, &config, &[&packet], None).await;
    assert!(
        !again[0].as_ref().expect("map").completed,
        "a late duplicate"
    );
    assert_eq!(record(&ports, &accepted.array_id).await.sum, done.sum);
}
