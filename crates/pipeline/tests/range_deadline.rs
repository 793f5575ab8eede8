//! A range that is still being read when its invocation's time runs out
//! fails its array with the reason: retried, it would time out again on
//! every receive and end in the dead-letter queue with nothing written.

use pipeline::memory::{MemoryBackend, Stage};
use pipeline::{
    reduce, submit_object, times_two, Clock, Config, FailureKind, FormatRequest, Status,
    SystemClock,
};
use std::sync::Arc;

/// Sums a 6,000-byte object of lines in ranges of 1,000 bytes, mapping
/// every TimesTwo batch with `deadline` (Unix ms); returns the record.
async fn sum_with_deadline(deadline: impl Fn(u64) -> u64) -> pipeline::SumRecord {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let object = backend
        .objects
        .put("in", "data.txt", "1\n2\n3\n".repeat(1000).into_bytes());
    let config = Config {
        range_bytes: 1000,
        ..Config::default()
    };
    let ports = &backend.ports();
    let accepted = submit_object(ports, &config, &object, &FormatRequest::Lines)
        .await
        .expect("accepted");
    let (config, deadline) = (&config, &deadline);
    backend
        .drain(10_000, |stage, batch| async move {
            let bodies: Vec<&str> = batch.iter().map(|m| m.body.as_str()).collect();
            match stage {
                Stage::Map => {
                    let until = Some(deadline(SystemClock.now_ms()));
                    for r in times_two(ports, config, &bodies, until).await {
                        r.expect("the message is done either way");
                    }
                }
                Stage::Reduce => {
                    for body in bodies {
                        reduce(ports, config, body).await.expect("reduce");
                    }
                }
            }
            batch.into_iter().map(|m| m.receipt).collect()
        })
        .await
        .expect("the pipeline drains");
    ports
        .sums
        .get(&accepted.array_id)
        .await
        .expect("get")
        .expect("a record")
}

#[tokio::test]
async fn a_range_read_past_its_deadline_fails_the_array_with_the_reason() {
    let record = sum_with_deadline(|now| now.saturating_sub(1)).await;
    assert_eq!(record.status, Status::Failed);
    let failure = record.failure.expect("a failure");
    assert_eq!(failure.kind, FailureKind::Unreadable);
    assert!(
        failure.reason.starts_with("s3://in/data.txt"),
        "{}",
        failure.reason
    );
    let tail = failure
        .reason
        .split_once(": ")
        .map(|(_, tail)| tail)
        .expect("the object, then the reason");
    assert!(
        tail.starts_with("bytes ") && tail.contains(" (1000 bytes) could not be read and mapped before times_two's timeout; lower RANGE_BYTES (docs/limits.md) or raise the function's MemorySize"),
        "{}",
        failure.reason
    );
}

#[tokio::test]
async fn a_range_read_before_its_deadline_is_summed() {
    let record = sum_with_deadline(|now| now + 60_000).await;
    assert_eq!(record.status, Status::Done, "{:?}", record.failure);
    assert_eq!(record.sum.expect("a sum").to_string(), "12000");
}
