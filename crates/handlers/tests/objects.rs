//! Object arrays through the API Router and the queue handlers, on the
//! in-process ports: POST /sumObject, GET /sumObject, GET /sums/{arrayId},
//! S3 notifications on the TimesTwo handler, and every refusal.

mod drain;

use handlers::{handle_times_two, router, sqs_event};
use http::Method;
use pipeline::memory::MemoryBackend;
use pipeline::{Config, Ports, Received, SystemClock};
use serde_json::{json, Value};
use std::sync::Arc;
use test_support::api::{request, send};

fn setup() -> (MemoryBackend, Ports, Config) {
    let b = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = b.ports();
    let config = Config {
        range_bytes: 5,
        fan_in: 2,
        ..Config::default()
    };
    (b, ports, config)
}

async fn call(
    ports: &Ports,
    config: &Config,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let text = body.map(|b| b.to_string());
    let answer = send(
        router(ports.clone(), config.clone()),
        request(method, path, text.as_deref()),
    )
    .await;
    assert_eq!(answer.content_type(), Some("application/json"), "{path}");
    (answer.status.as_u16(), answer.json())
}

#[tokio::test]
async fn an_object_is_summed_and_found_by_its_key() {
    let (b, ports, config) = setup();
    let text = "when,amount\nmon,1.5\ntue,-2\nwed,40\n";
    b.objects
        .put("input", "sales/nov.csv", text.as_bytes().to_vec());
    let body = json!({"bucket": "input", "key": "sales/nov.csv", "column": "amount"});
    let (status, accepted) = call(
        &ports,
        &config,
        Method::POST,
        "/sumObject",
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["arrayStatus"], "pending");
    let id = accepted["arrayId"].as_str().expect("id").to_string();

    let (_, pending) = call(&ports, &config, Method::GET, &format!("/sums/{id}"), None).await;
    assert_eq!(pending["status"], "pending");
    assert!(
        pending.get("arrayLength").is_none(),
        "unknown until done: {pending}"
    );
    assert_eq!(pending["object"]["object"]["key"], "sales/nov.csv");
    assert_eq!(pending["object"]["format"], "csv");
    assert_eq!(pending["object"]["column"], 1);

    drain::drain(&b, &ports).await;
    let (_, done) = call(&ports, &config, Method::GET, &format!("/sums/{id}"), None).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["sum"], json!(79));
    assert_eq!(done["arrayLength"], 3);
    assert_eq!(done["bytesMapped"], text.len());

    let (status, again) = call(&ports, &config, Method::POST, "/sumObject", Some(body)).await;
    assert_eq!(
        (status, &again["arrayId"], &again["arrayStatus"]),
        (200, &json!(id), &json!("done"))
    );
    let path = "/sumObject?bucket=input&key=sales%2Fnov.csv&column=amount";
    let (status, found) = call(&ports, &config, Method::GET, path, None).await;
    assert_eq!((status, &found["arrayId"]), (200, &json!(id)), "{found}");
    let path = "/sumObject?bucket=input&key=sales%2Fnov.csv&column=when";
    let (status, other) = call(&ports, &config, Method::GET, path, None).await;
    assert_eq!(status, 404, "another column is another array: {other}");
}

#[tokio::test]
async fn refusals_say_what_is_wrong() {
    let (b, ports, config) = setup();
    b.objects.put("input", "t.csv", b"a,b\n1,2\n".to_vec());
    b.objects.deny("private");
    let cases = [
        (json!({"bucket": "input"}), 400, "key"),
        (
            json!({"bucket": "input", "key": "t.csv", "extra": 1}),
            400,
            "extra",
        ),
        (json!({"bucket": "", "key": "t.csv"}), 400, "empty"),
        (
            json!({"bucket": "input", "key": "t.csv", "format": "xml"}),
            400,
            "xml",
        ),
        (
            json!({"bucket": "input", "key": "t.txt", "column": 1}),
            400,
            "csv",
        ),
        (
            json!({"bucket": "input", "key": "none.csv"}),
            404,
            "does not exist",
        ),
        (
            json!({"bucket": "private", "key": "t.csv"}),
            403,
            "s3:GetObject",
        ),
        (
            json!({"bucket": "input", "key": "t.csv", "column": "c"}),
            422,
            "\"c\"",
        ),
    ];
    for (body, expected, says) in cases {
        let (status, answer) = call(
            &ports,
            &config,
            Method::POST,
            "/sumObject",
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, expected, "{body}: {answer}");
        let error = answer["error"].as_str().expect("error");
        assert!(error.contains(says), "{body}: {error}");
    }
    let (status, _) = call(
        &ports,
        &config,
        Method::GET,
        "/sumObject?bucket=input",
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(&ports, &config, Method::PUT, "/sumObject", None).await;
    assert_eq!(status, 405);
    assert!(b.sums.records().is_empty(), "no refusal records anything");
}

#[tokio::test]
async fn bad_data_shows_as_a_failed_array_with_its_place() {
    let (b, ports, config) = setup();
    b.objects
        .put("input", "n.txt", b"1\n2\n3\n4,5\n6\n".to_vec());
    let body = json!({"bucket": "input", "key": "n.txt"});
    let (_, accepted) = call(&ports, &config, Method::POST, "/sumObject", Some(body)).await;
    let id = accepted["arrayId"].as_str().expect("id").to_string();
    drain::drain(&b, &ports).await;
    let (_, failed) = call(&ports, &config, Method::GET, &format!("/sums/{id}"), None).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["failure"], "bad_data");
    let reason = failed["reason"].as_str().expect("reason");
    assert!(reason.contains("byte 6 (line 4)"), "{reason}");
}

fn received(body: String) -> Received {
    Received {
        message_id: "n1".into(),
        receipt: "r1".into(),
        body,
        receive_count: 1,
    }
}

#[tokio::test]
async fn a_notification_on_the_times_two_handler_starts_the_object() {
    let (b, ports, config) = setup();
    let object = b
        .objects
        .put("input", "drop/a.json", b"[1, 2, 3.5]".to_vec());
    let etag = object.etag.expect("etag");
    let note = json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": "input"},
        "object": {"key": "drop/a.json", "size": 11, "eTag": etag.trim_matches('"')}}}]});
    let event = sqs_event(&[received(note.to_string())]);
    let response = handle_times_two(&ports, &config, &event).await;
    assert!(response.batch_item_failures.is_empty());
    let again = handle_times_two(&ports, &config, &event).await;
    assert!(again.batch_item_failures.is_empty());
    drain::drain(&b, &ports).await;
    let records = b.sums.records();
    assert_eq!(records.len(), 1, "a redelivered notification is one array");
    assert_eq!(
        records[0].sum.as_ref().map(ToString::to_string),
        Some("13".into())
    );

    let garbage = sqs_event(&[received(r#"{"Records": 7}"#.into())]);
    let response = handle_times_two(&ports, &config, &garbage).await;
    assert_eq!(
        response.batch_item_failures.len(),
        1,
        "a bad notification is retried, then dead-lettered"
    );
}
