//! Every array ends: `done`, or `failed` with a reason a user can act on.
//! Each test is a way an array used to stay `pending` forever.

use drain::drain;
use handlers::{measure_times_two, router};
use http::Method;
use pipeline::injected::{InjectedQueue, InjectedSums, Injection};
use pipeline::memory::MemoryBackend;
use pipeline::{Clock, Config, PortError, Ports, Queue, Received, Status};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod drain;

/// A clock the test moves.
struct ManualClock(AtomicU64);

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

const START_MS: u64 = 1_800_000_000_000;

fn backend() -> (MemoryBackend, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock(AtomicU64::new(START_MS)));
    (MemoryBackend::new(clock.clone(), 5), clock)
}

async fn call(ports: &Ports, method: Method, path: &str, body: Option<&str>) -> (u16, Value) {
    test_support::api::call(router(ports.clone(), Config::default()), method, path, body).await
}

async fn get(ports: &Ports, array_id: &str) -> Value {
    let (status, json) = call(ports, Method::GET, &format!("/sums/{array_id}"), None).await;
    assert_eq!(status, 200, "{json}");
    json
}

/// Before: the SDK's retry of the record's PutItem found the record its first
/// attempt had written, `insert` called that a conflict, the POST answered
/// 503 and nothing was enqueued: pending forever.
#[tokio::test]
async fn a_record_write_retried_by_the_sdk_is_recognised_as_ours() {
    let (b, _) = backend();
    let sums = InjectedSums::new(b.sums.clone());
    sums.faults
        .set_for("insert", Injection::RetriedAfterApplied, 1);
    let ports = Ports { sums, ..b.ports() };
    let (status, json) = call(&ports, Method::POST, "/sumArray", Some("[1,2,3]")).await;
    assert_eq!(status, 200, "{json}");
    let id = json["arrayId"].as_str().expect("id");
    drain(&b, &ports).await;
    let result = get(&ports, id).await;
    assert_eq!(
        (result["status"].as_str(), &result["sum"]),
        (Some("done"), &Value::from(12))
    );
}

/// Before: the record stayed pending, and the client, answered 503, never
/// learned its id.
#[tokio::test]
async fn an_array_that_could_not_be_enqueued_fails_with_the_reason() {
    let (b, _) = backend();
    let queue = InjectedQueue::new(b.times_two_queue.clone());
    queue.faults.set(
        "send",
        Injection::Before(PortError::Throttled("injected".into())),
    );
    let ports = Ports {
        times_two_queue: queue,
        ..b.ports()
    };
    let (status, _) = call(&ports, Method::POST, "/sumArray", Some("[1,2,3]")).await;
    assert_eq!(status, 503);
    let [record] = b.sums.records().try_into().expect("one record");
    let result = get(&ports, &record.array_id).await;
    assert_eq!(result["status"], "failed");
    assert_eq!(result["failure"], "not_enqueued");
    let reason = result["reason"].as_str().expect("reason");
    assert!(
        reason.contains("enqueued") && reason.contains("injected"),
        "{reason}"
    );
    assert!(result["finishedAt"].is_u64());
}

/// Before: any array whose messages were lost (sum_array killed mid fan-out,
/// a dead letter never redriven) read `pending` forever.
#[tokio::test]
async fn a_pending_array_past_its_deadline_reads_as_expired() {
    let (b, clock) = backend();
    let ports = b.ports();
    let (_, json) = call(&ports, Method::POST, "/sumArray", Some("[1,2]")).await;
    let id = json["arrayId"].as_str().expect("id").to_string();
    let _lost = b
        .times_two_queue
        .receive(10, Duration::ZERO, Duration::from_secs(3600))
        .await
        .expect("receive");
    let deadline = Config::default().array_deadline.as_millis() as u64;
    clock.0.store(START_MS + deadline, Ordering::SeqCst);
    assert_eq!(get(&ports, &id).await["status"], "pending", "not yet");
    clock.0.store(START_MS + deadline + 1, Ordering::SeqCst);
    let result = get(&ports, &id).await;
    assert_eq!(result["status"], "failed");
    assert_eq!(result["failure"], "expired");
    let reason = result["reason"].as_str().expect("reason");
    assert!(reason.contains("3 days"), "{reason}");
    let record = b.sums.records().remove(0);
    assert_eq!(record.status, Status::Failed, "written, not only shown");
    assert!(record.expires_at_s.is_some(), "TTL removes it later");
}

/// Before: a message that failed five times went to the DLQ silently and its
/// array stayed pending; now the array fails naming the DLQ, and a redrive
/// (the same message, later, succeeding) still finishes it.
#[tokio::test]
async fn a_message_failing_its_last_receive_fails_its_array_until_redriven() {
    let (b, _) = backend();
    let sums = InjectedSums::new(b.sums.clone());
    let ports = Ports {
        sums: sums.clone(),
        ..b.ports()
    };
    let (_, json) = call(&ports, Method::POST, "/sumArray", Some("[1,2,3]")).await;
    let id = json["arrayId"].as_str().expect("id").to_string();
    let mut batch = b
        .times_two_queue
        .receive(10, Duration::ZERO, Duration::ZERO)
        .await
        .expect("receive");
    sums.faults.set(
        "get",
        Injection::Before(PortError::Unavailable("injected".into())),
    );
    let config = Config::default();
    batch[0].receive_count = config.max_receive_count - 1;
    let (response, metrics) =
        measure_times_two(&ports, &config, &handlers::sqs_event(&batch), None).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(metrics.arrays_failed, 0, "not the last receive yet");
    batch[0].receive_count = config.max_receive_count;
    let (response, metrics) =
        measure_times_two(&ports, &config, &handlers::sqs_event(&batch), None).await;
    assert_eq!(
        response.batch_item_failures.len(),
        1,
        "still goes to the DLQ"
    );
    assert_eq!(metrics.arrays_failed, 1);
    sums.faults.clear("get");
    let result = get(&ports, &id).await;
    assert_eq!(result["status"], "failed");
    assert_eq!(result["failure"], "dead_lettered");
    let reason = result["reason"].as_str().expect("reason");
    assert!(
        reason.contains("times_two") && reason.contains("adder dlq redrive"),
        "{reason}"
    );

    b.times_two_queue
        .send(vec![batch[0].body.clone()])
        .await
        .expect("redrive");
    drain(&b, &ports).await;
    let result = get(&ports, &id).await;
    assert_eq!(result["status"], "done", "{result}");
    assert_eq!(result["sum"], 12);
    assert!(result.get("failure").is_none());
}

/// A message with no array to blame fails alone, on every receive.
#[tokio::test]
async fn garbage_on_its_last_receive_fails_no_array() {
    let (b, _) = backend();
    let ports = b.ports();
    let (_, json) = call(&ports, Method::POST, "/sumArray", Some("[1]")).await;
    let id = json["arrayId"].as_str().expect("id").to_string();
    let garbage = Received {
        message_id: "g".into(),
        receipt: "r".into(),
        body: r#"{"arrayId":"not-a-uuid"}"#.into(),
        receive_count: 5,
    };
    let (response, metrics) = measure_times_two(
        &ports,
        &Config::default(),
        &handlers::sqs_event(&[garbage]),
        None,
    )
    .await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(metrics.arrays_failed, 0);
    assert_eq!(get(&ports, &id).await["status"], "pending");
}

/// A packet of an array past its deadline is not mapped (its merged leaves'
/// tombstones may be gone by TTL, and mapping would count them again): the
/// array fails as expired instead.
#[tokio::test]
async fn a_packet_of_an_overdue_array_is_not_mapped() {
    let (b, clock) = backend();
    let ports = b.ports();
    let (_, json) = call(&ports, Method::POST, "/sumArray", Some("[1,2]")).await;
    let id = json["arrayId"].as_str().expect("id").to_string();
    let deadline = Config::default().array_deadline.as_millis() as u64;
    clock.0.store(START_MS + deadline + 1, Ordering::SeqCst);
    drain(&b, &ports).await;
    assert!(b.scratchpad.rows().is_empty(), "nothing was mapped");
    let record = b.sums.records().remove(0);
    assert_eq!(record.status, Status::Failed);
    assert_eq!(
        record.failure.map(|f| f.kind),
        Some(pipeline::FailureKind::Expired)
    );
    assert_eq!(get(&ports, &id).await["failure"], "expired");
}
