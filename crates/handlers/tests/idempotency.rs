//! `Idempotency-Key` on `POST /sumArray`: a retried POST returns the array
//! the first one started, and a crash half-way through a submit is finished
//! by the retry.

use drain::drain;
use handlers::router;
use http::{HeaderValue, Method, Request};
use pipeline::injected::{InjectedQueue, InjectedSums, Injection};
use pipeline::memory::MemoryBackend;
use pipeline::{Config, PortError, Ports, Status, SystemClock};
use serde_json::Value;
use std::sync::Arc;
use test_support::api::{as_iam_caller, request, send};

mod drain;

fn post(body: &str, key: Option<&[u8]>, caller: Option<&str>) -> Request<axum::body::Body> {
    let mut r = request(Method::POST, "/sumArray", Some(body));
    if let Some(key) = key {
        r.headers_mut().insert(
            "Idempotency-Key",
            HeaderValue::from_bytes(key).expect("a header value"),
        );
    }
    match caller {
        Some(arn) => as_iam_caller(r, arn),
        None => r,
    }
}

async fn call(ports: &Ports, request: Request<axum::body::Body>) -> (u16, Value, String) {
    let config = Config {
        chunk_size: 2,
        fan_in: 2,
        ..Config::default()
    };
    let answer = send(router(ports.clone(), config), request).await;
    let json = answer.json();
    (answer.status.as_u16(), json, answer.text)
}

fn backend() -> MemoryBackend {
    MemoryBackend::new(Arc::new(SystemClock), 5)
}

fn done_sum(b: &MemoryBackend, array_id: &str) -> String {
    let record = b
        .sums
        .records()
        .into_iter()
        .find(|r| r.array_id == array_id)
        .expect("record");
    assert_eq!(record.status, Status::Done);
    record.sum.expect("sum").to_string()
}

#[tokio::test]
async fn a_retried_post_returns_the_same_array() {
    let b = backend();
    let ports = b.ports();
    let request = || post("[1,2,3,4,5]", Some(b"order-42"), None);
    let (status, first, first_text) = call(&ports, request()).await;
    assert_eq!(status, 200);
    let array_id = first["arrayId"].as_str().expect("id").to_string();
    let (status, _, again) = call(&ports, request()).await;
    assert_eq!(status, 200);
    assert_eq!(again, first_text, "the same answer, byte for byte");
    assert_eq!(b.sums.records().len(), 1, "one computation, not two");
    drain(&b, &b.ports()).await;
    assert_eq!(done_sum(&b, &array_id), "30");

    // Once done, a retry enqueues nothing and still answers the same.
    let (status, _, later) = call(&ports, request()).await;
    assert_eq!((status, later), (200, first_text));
    assert!(b.times_two_queue.is_empty());

    // Without a key every POST is a new array.
    let (_, other, _) = call(&ports, post("[1,2,3,4,5]", None, None)).await;
    assert_ne!(other["arrayId"], first["arrayId"]);
}

#[tokio::test]
async fn a_key_reused_for_another_body_is_refused() {
    let b = backend();
    let ports = b.ports();
    let (status, first, _) = call(&ports, post("[1,2]", Some(b"k"), None)).await;
    assert_eq!(status, 200);
    let (status, json, _) = call(&ports, post("[1,3]", Some(b"k"), None)).await;
    assert_eq!(status, 422);
    let error = json["error"].as_str().expect("error");
    assert!(error.contains("Idempotency-Key"), "{error}");
    assert!(
        error.contains(first["arrayId"].as_str().expect("id")),
        "{error}"
    );
    assert_eq!(b.sums.records().len(), 1);
}

#[tokio::test]
async fn keys_are_scoped_to_the_caller() {
    let b = backend();
    let ports = b.ports();
    let alice = "arn:aws:iam::111122223333:user/alice";
    let bob = "arn:aws:iam::111122223333:user/bob";
    let (_, a, _) = call(&ports, post("[1]", Some(b"same"), Some(alice))).await;
    let (_, b_, _) = call(&ports, post("[1]", Some(b"same"), Some(bob))).await;
    let (_, a2, _) = call(&ports, post("[1]", Some(b"same"), Some(alice))).await;
    assert_ne!(a["arrayId"], b_["arrayId"], "bob never sees alice's array");
    assert_eq!(a["arrayId"], a2["arrayId"]);
}

#[tokio::test]
async fn malformed_keys_are_400_and_claim_nothing() {
    let b = backend();
    let ports = b.ports();
    let long = vec![b'x'; 129];
    let cases: [(&[u8], &str); 4] = [
        (b"", "empty"),
        (&long, "129 characters"),
        (b"tab\there", "printable"),
        ("caf\u{e9}".as_bytes(), "printable"),
    ];
    for (key, says) in cases {
        let (status, json, _) = call(&ports, post("[1]", Some(key), None)).await;
        assert_eq!(status, 400, "{key:?}");
        let error = json["error"].as_str().expect("error");
        assert!(error.contains(says), "{key:?}: {error}");
    }
    assert_eq!(
        call(&ports, post("[1]", Some(&[b'x'; 128]), None)).await.0,
        200
    );
    // A refused body does not use up its key.
    assert_eq!(call(&ports, post("[1,", Some(b"k2"), None)).await.0, 400);
    assert_eq!(call(&ports, post("[1]", Some(b"k2"), None)).await.0, 200);
    assert_eq!(b.sums.records().len(), 2);
}

#[tokio::test]
async fn a_retry_finishes_an_array_whose_submit_crashed_before_enqueueing() {
    let b = backend();
    let queue = InjectedQueue::new(b.times_two_queue.clone());
    queue.faults.set(
        "send",
        Injection::Before(PortError::Unavailable("injected".into())),
    );
    let ports = Ports {
        times_two_queue: queue.clone(),
        ..b.ports()
    };
    let request = || post("[1,2,3,4,5,6,7]", Some(b"retry-me"), None);
    assert_eq!(call(&ports, request()).await.0, 503);
    assert!(b.times_two_queue.is_empty(), "the crash enqueued nothing");
    let [record] = b.sums.records().try_into().expect("one record");
    assert_eq!(record.status, Status::Pending, "recorded, then stuck");

    queue.faults.clear("send");
    let (status, json, _) = call(&ports, request()).await;
    assert_eq!(status, 200);
    assert_eq!(json["arrayId"].as_str(), Some(record.array_id.as_str()));
    drain(&b, &b.ports()).await;
    assert_eq!(done_sum(&b, &record.array_id), "56");
    assert_eq!(b.sums.records().len(), 1);
}

#[tokio::test]
async fn a_retry_finishes_an_array_whose_submit_crashed_before_recording() {
    let b = backend();
    let sums = InjectedSums::new(b.sums.clone());
    sums.faults.set(
        "insert",
        Injection::Before(PortError::Unavailable("injected".into())),
    );
    let ports = Ports {
        sums: sums.clone(),
        ..b.ports()
    };
    let request = || post("[0.5,1.5]", Some(b"retry-me"), None);
    assert_eq!(call(&ports, request()).await.0, 503);
    assert!(b.sums.records().is_empty() && b.times_two_queue.is_empty());

    sums.faults.clear("insert");
    let (status, json, _) = call(&ports, request()).await;
    assert_eq!(status, 200);
    let array_id = json["arrayId"].as_str().expect("id").to_string();
    drain(&b, &b.ports()).await;
    assert_eq!(done_sum(&b, &array_id), "4");
}

#[tokio::test]
async fn an_empty_array_with_a_key_is_done_at_once() {
    let b = backend();
    let ports = b.ports();
    let request = || post("[]", Some(b"empty"), None);
    let (_, first, _) = call(&ports, request()).await;
    let (_, second, _) = call(&ports, request()).await;
    assert_eq!(first, second);
    assert_eq!(done_sum(&b, first["arrayId"].as_str().expect("id")), "0");
    assert!(b.times_two_queue.is_empty());
}
