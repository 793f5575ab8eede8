//! The API Router on the in-process ports: every route and error answer.

use aws_lambda_events::sqs::SqsEvent;
use base64::Engine;
use handlers::{handle_reduce, handle_times_two, router, MAX_BODY_BYTES};
use http::Method;
use pipeline::injected::{InjectedSums, Injection};
use pipeline::memory::MemoryBackend;
use pipeline::{Config, PortError, Ports, Queue, Received, Status, SystemClock};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use test_support::api::{from_rest_event, request, rest_post, send, Answer};

async fn call_with(
    ports: &Ports,
    config: &Config,
    method: Method,
    path: &str,
    body: Option<&str>,
) -> Answer {
    let app = router(ports.clone(), config.clone());
    send(app, request(method, path, body)).await
}

async fn call(ports: &Ports, method: Method, path: &str, body: Option<&str>) -> (u16, Value) {
    let answer = call_with(ports, &Config::default(), method, path, body).await;
    assert_eq!(answer.content_type(), Some("application/json"));
    (answer.status.as_u16(), answer.json())
}

fn backend() -> MemoryBackend {
    MemoryBackend::new(Arc::new(SystemClock), 5)
}

#[tokio::test]
async fn bad_bodies_get_400_saying_what_and_where() {
    let b = backend();
    let ports = b.ports();
    let cases = [
        (None, "empty"),
        (Some(""), "empty"),
        (Some("[1,2"), "not valid JSON"),
        (Some("{\"a\":1}"), "is an object"),
        (Some("\"x\""), "is a string"),
        (Some("null"), "is null"),
        (Some("[1,\"2\",3]"), "element 1 is a string"),
        (Some("[1,2,[3]]"), "element 2 is an array"),
        (Some("[true]"), "element 0 is a boolean"),
        (Some("[1,{}]"), "element 1 is an object"),
        (Some("[NaN]"), "not valid JSON"),
        (Some("[1, 1e400]"), "element 1"),
        (Some("[123456789012345678901234567890123456789]"), "38"),
    ];
    for (body, says) in cases {
        let (status, json) = call(&ports, Method::POST, "/sumArray", body).await;
        assert_eq!(status, 400, "{body:?}");
        assert_eq!(json["status"], "error");
        let error = json["error"].as_str().expect("error text");
        assert!(error.contains(says), "{body:?}: {error}");
    }
    assert!(
        b.times_two_queue.is_empty(),
        "a refused body must enqueue nothing"
    );
    assert!(
        b.sums.records().is_empty(),
        "a refused body must record nothing"
    );
}

#[tokio::test]
async fn accepted_arrays_are_recorded_and_readable() {
    let b = backend();
    let ports = b.ports();
    let (status, json) = call(&ports, Method::POST, "/sumArray", Some("[1,2,3,4,5]")).await;
    assert_eq!(status, 200);
    assert_eq!(json["status"], "success");
    assert_eq!(json["arrayLength"], 5);
    let id = json["arrayId"].as_str().expect("id").to_string();
    assert_eq!(b.times_two_queue.len(), 1);
    let (status, json) = call(&ports, Method::GET, &format!("/sums/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(json["status"], "pending");
    assert_eq!(json["sum"], Value::Null);

    let (status, json) = call(&ports, Method::POST, "/sumArray", Some("[]")).await;
    assert_eq!(status, 200);
    let id = json["arrayId"].as_str().expect("id").to_string();
    let (_, json) = call(&ports, Method::GET, &format!("/sums/{id}"), None).await;
    assert_eq!(json["status"], "done");
    assert_eq!(json["sum"], 0);
}

/// API Gateway marks a body it had to encode base64; `lambda_http` decodes it
/// before the Router sees it.
#[tokio::test]
async fn base64_bodies_are_decoded() {
    let b = backend();
    let encoded = base64::engine::general_purpose::STANDARD.encode("[0.1, 0.2]");
    let request = from_rest_event(&rest_post(&encoded, true));
    let answer = send(router(b.ports(), Config::default()), request).await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn routes_methods_ids_and_limits() {
    let b = backend();
    let ports = b.ports();
    assert_eq!(call(&ports, Method::GET, "/nope", None).await.0, 404);
    assert_eq!(call(&ports, Method::GET, "/sumArray", None).await.0, 405);
    assert_eq!(call(&ports, Method::DELETE, "/sums/x", None).await.0, 405);
    assert_eq!(
        call(&ports, Method::GET, "/sums/not-a-uuid", None).await.0,
        400
    );
    let unknown = "0f8fad5b-d9cb-469f-a165-70867728950e";
    assert_eq!(
        call(&ports, Method::GET, &format!("/sums/{unknown}"), None)
            .await
            .0,
        404
    );
    let huge = format!("[{}1]", "1,".repeat(MAX_BODY_BYTES / 2));
    let (status, json) = call(&ports, Method::POST, "/sumArray", Some(&huge)).await;
    assert_eq!(status, 413);
    assert!(json["error"].as_str().expect("text").contains("limit"));
    let config = Config {
        max_elements: 3,
        ..Config::default()
    };
    let answer = call_with(
        &ports,
        &config,
        Method::POST,
        "/sumArray",
        Some("[1,2,3,4]"),
    )
    .await;
    assert_eq!(answer.status, 413);
    assert!(b.times_two_queue.is_empty());
}

#[tokio::test]
async fn aws_failures_are_503_not_500() {
    let b = backend();
    let sums = InjectedSums::new(b.sums.clone());
    for op in [
        "claim_idempotency_key",
        "insert",
        "complete",
        "add_progress",
        "fail",
    ] {
        sums.faults.set(
            op,
            Injection::Before(PortError::Unavailable("injected".into())),
        );
    }
    sums.faults.set(
        "get",
        Injection::Before(PortError::Throttled("injected".into())),
    );
    let ports = Ports { sums, ..b.ports() };
    let (status, json) = call(&ports, Method::POST, "/sumArray", Some("[1]")).await;
    assert_eq!(status, 503);
    assert!(json["error"].as_str().expect("text").contains("retry"));
    let id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    assert_eq!(
        call(&ports, Method::GET, &format!("/sums/{id}"), None)
            .await
            .0,
        503
    );
}

/// The event Lambda delivers for messages `(id, body)`, each on its first receive.
fn sqs_event(messages: &[(&str, &str)]) -> SqsEvent {
    let batch: Vec<Received> = messages
        .iter()
        .map(|(id, body)| Received {
            message_id: id.to_string(),
            receipt: format!("receipt-{id}"),
            body: body.to_string(),
            receive_count: 1,
        })
        .collect();
    handlers::sqs_event(&batch)
}

#[tokio::test]
async fn a_bad_message_fails_alone() {
    let b = backend();
    let ports = b.ports();
    // Two packets, so that the array goes through reduce (one packet would
    // be finished by times_two itself).
    let config = Config {
        chunk_size: 2,
        ..Config::default()
    };
    let answer = call_with(&ports, &config, Method::POST, "/sumArray", Some("[1,2,3]")).await;
    let id = answer.json()["arrayId"].as_str().expect("id").to_string();
    let packets = b.times_two_queue.bodies();
    let (good, second) = (&packets[0], &packets[1]);
    let unknown = good.replace(&id, "0f8fad5b-d9cb-469f-a165-70867728950e");
    let event = sqs_event(&[
        ("a", "not json"),
        ("b", good),
        ("b2", second),
        ("c", &unknown),
        ("d", "{}"),
    ]);
    let response = handle_times_two(&ports, &config, &event, None).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec!["a", "c", "d"]);
    let trigger = b
        .reduce_queue
        .receive(10, Duration::ZERO, Duration::from_secs(30))
        .await
        .expect("receive");
    assert_eq!(trigger.len(), 1);
    let Received { body, .. } = &trigger[0];
    let event = sqs_event(&[("x", body), ("y", "[]"), ("z", "\"an id\"")]);
    let response = handle_reduce(&ports, &config, &event, None).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec!["y", "z"]);
    let record = b.sums.records().remove(0);
    assert_eq!(record.status, Status::Done);
    assert_eq!(record.sum.expect("sum").to_string(), "12");
}

#[tokio::test]
async fn progress_and_metrics_follow_the_work() {
    let b = backend();
    let ports = b.ports();
    let config = Config {
        chunk_size: 2,
        ..Config::default()
    };
    let answer = call_with(
        &ports,
        &config,
        Method::POST,
        "/sumArray",
        Some("[1,2,3,4,5]"),
    )
    .await;
    let id = answer.json()["arrayId"].as_str().expect("id").to_string();
    let bodies = b.times_two_queue.bodies();
    let first: Vec<(String, &str)> = vec![("m0".into(), bodies[0].as_str())];
    let event = sqs_event(
        &first
            .iter()
            .map(|(i, b)| (i.as_str(), *b))
            .collect::<Vec<_>>(),
    );
    let (_, metrics) = handlers::measure_times_two(&ports, &config, &event, None).await;
    assert_eq!((metrics.packets_mapped, metrics.conflicts), (1, 0));
    let (_, json) = call(&ports, Method::GET, &format!("/sums/{id}"), None).await;
    assert_eq!(json["status"], "pending");
    assert_eq!(
        json["reducedElements"], 2,
        "the first packet carries 2 elements"
    );

    let all: Vec<(&str, &str)> = vec![("a", &bodies[0]), ("b", &bodies[1]), ("c", &bodies[2])];
    let (response, metrics) =
        handlers::measure_times_two(&ports, &config, &sqs_event(&all), None).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        (metrics.packets_mapped, metrics.conflicts),
        (2, 1),
        "one duplicate"
    );
    let (_, json) = call(&ports, Method::GET, &format!("/sums/{id}"), None).await;
    assert_eq!(json["reducedElements"], 5, "a duplicate adds nothing");

    let triggers = b.reduce_queue.bodies();
    let events: Vec<(String, &str)> = triggers
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("r{i}"), t.as_str()))
        .collect();
    let event = sqs_event(
        &events
            .iter()
            .map(|(i, b)| (i.as_str(), *b))
            .collect::<Vec<_>>(),
    );
    let (_, metrics) = handlers::measure_reduce(&ports, &config, &event, None).await;
    assert_eq!(metrics.arrays_completed, 1);
    assert_eq!(metrics.latencies_ms.len(), 1);
    let (_, json) = call(&ports, Method::GET, &format!("/sums/{id}"), None).await;
    assert_eq!(
        (json["status"].as_str(), json["sum"].as_i64()),
        (Some("done"), Some(30))
    );
    assert_eq!(json["reducedElements"], 5);
    let emf = metrics.to_emf("reduce");
    assert_eq!(emf["ArraysCompleted"], 1);
}

/// An array of one packet is finished by times_two, so times_two's metrics
/// count it as completed, with its latency (reduce never sees it).
#[tokio::test]
async fn a_one_packet_array_is_counted_as_completed_by_times_two() {
    let b = backend();
    let ports = b.ports();
    let config = Config::default();
    let (status, _) = call(&ports, Method::POST, "/sumArray", Some("[1,2,3]")).await;
    assert_eq!(status, 200);
    let body = b.times_two_queue.bodies().remove(0);
    let event = sqs_event(&[("m0", &body)]);
    let (response, metrics) = handlers::measure_times_two(&ports, &config, &event, None).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((metrics.packets_mapped, metrics.arrays_completed), (1, 1));
    assert_eq!(metrics.latencies_ms.len(), 1);
    assert_eq!(b.sums.records().remove(0).status, Status::Done);
}
