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
    let response = handle_times_two(&ports, &config, &event, None).await;
    assert!(response.batch_item_failures.is_empty());
    let again = handle_times_two(&ports, &config, &event, None).await;
    assert!(again.batch_item_failures.is_empty());
    drain::drain(&b, &ports).await;
    let records = b.sums.records();
    assert_eq!(records.len(), 1, "a redelivered notification is one array");
    assert_eq!(
        records[0].sum.as_ref().map(ToString::to_string),
        Some("13".into())
    );

    let garbage = sqs_event(&[received(r#"{"Records": 7}"#.into())]);
    let response = handle_times_two(&ports, &config, &garbage, None).await;
    assert_eq!(
        response.batch_item_failures.len(),
        1,
        "a bad notification is retried, then dead-lettered"
    );
}

/// An S3 record of a notification for `key` in `bucket`, with `version`.
fn created(bucket: &str, key: &str, etag: Option<&str>, version: Option<&str>) -> Value {
    json!({"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": bucket},
        "object": {"key": key, "eTag": etag, "versionId": version}}})
}

/// Every object a notification names ends with a record, found by its key:
/// those that can never be summed get a failed one saying why, in one
/// message with an object that sums, which is started all the same.
#[tokio::test]
async fn a_notified_object_that_cannot_be_summed_fails_with_its_reason() {
    let (b, ports, mut config) = setup();
    config.input_csv_column = "amount".into();
    let put = |bucket: &str, key: &str, text: &[u8]| {
        let object = b.objects.put(bucket, key, text.to_vec());
        object.etag.expect("etag").trim_matches('"').to_string()
    };
    let big = put("input", "big.txt", "1\n".repeat(25_001).as_bytes());
    let cols = put("input", "cols.csv", b"a,b\n1,2\n");
    let empty = put("input", "empty.csv", b"");
    let private = put("private", "p.txt", b"1\n");
    b.objects.deny("private");
    let cold = put("input", "cold.csv", b"amount\n1\n");
    b.objects.archive("input", "cold.csv");
    let sealed = put("input", "sealed.csv", b"amount\n1\n");
    b.objects.deny_key("input", "sealed.csv");
    put("input", "v.txt", b"1\n");
    let good = put("input", "good.txt", b"1\n2\n");
    let note = json!({"Records": [
        created("input", "big.txt", Some(&big), None),
        created("input", "cols.csv", Some(&cols), None),
        created("input", "empty.csv", Some(&empty), None),
        created("private", "p.txt", Some(&private), None),
        created("input", "cold.csv", Some(&cold), None),
        created("input", "sealed.csv", Some(&sealed), None),
        created("input", "v.txt", None, Some("3HL4kqtJvjVBH40Nrjfkd")),
        created("input", "good.txt", Some(&good), None),
    ]});
    let event = sqs_event(&[received(note.to_string())]);
    let response = handle_times_two(&ports, &config, &event, None).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "nothing here passes with a retry"
    );
    drain::drain(&b, &ports).await;

    let column = "(objects in the input bucket are read with INPUT_CSV_COLUMN=\"amount\"); \
                  upload it again with that column, or submit it with POST /sumObject \
                  naming its column";
    let cases = [
        (
            "bucket=input&key=big.txt",
            "unreadable",
            "s3://input/big.txt cannot be summed: the object is 50002 bytes: 10001 ranges of \
             RANGE_BYTES=5; at most 10000 ranges are accepted; split it into smaller objects"
                .to_string(),
        ),
        (
            "bucket=input&key=cols.csv",
            "bad_data",
            format!(
                "s3://input/cols.csv as CSV: byte 0: the header has no column named \
                 \"amount\" {column}"
            ),
        ),
        (
            "bucket=input&key=empty.csv",
            "bad_data",
            format!(
                "column \"amount\" is named, but s3://input/empty.csv has no header line to \
                 find it in {column}"
            ),
        ),
        (
            "bucket=private&key=p.txt",
            "unreadable",
            "s3://private/p.txt may not be read by the pipeline's functions (access denied): \
             grant them s3:GetObject on it, or put it in the stack's input bucket"
                .to_string(),
        ),
        (
            "bucket=input&key=cold.csv",
            "unreadable",
            "s3://input/cold.csv is in an archive storage class (S3 answered \
             InvalidObjectState): restore it and copy it to a storage class that can be read \
             at once (e.g. STANDARD), or upload it again"
                .to_string(),
        ),
        (
            "bucket=input&key=sealed.csv",
            "unreadable",
            "s3://input/sealed.csv is encrypted with a KMS key the pipeline's functions may \
             not use (access denied by KMS): grant them kms:Decrypt on that key, or upload \
             the object with the bucket's default encryption"
                .to_string(),
        ),
        (
            "bucket=input&key=v.txt&versionId=3HL4kqtJvjVBH40Nrjfkd",
            "unreadable",
            "S3 refused to read s3://input/v.txt?versionId=3HL4kqtJvjVBH40Nrjfkd (400 Bad \
             Request): its versionId is not one of the object's versions, or it is encrypted \
             with a customer-provided key (SSE-C), which the pipeline does not have"
                .to_string(),
        ),
    ];
    for (query, failure, reason) in cases {
        let path = format!("/sumObject?{query}");
        let (status, found) = call(&ports, &config, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{query}: {found}");
        assert_eq!(
            (&found["status"], &found["failure"], &found["reason"]),
            (&json!("failed"), &json!(failure), &json!(reason)),
            "{query}"
        );
    }
    let (_, done) = call(
        &ports,
        &config,
        Method::GET,
        "/sumObject?bucket=input&key=good.txt",
        None,
    )
    .await;
    assert_eq!((&done["status"], &done["sum"]), (&json!("done"), &json!(6)));

    // The same objects submitted by a client are refused at once, with the
    // status that says whose move it is.
    for (key, status) in [("cold.csv", 409), ("sealed.csv", 403)] {
        let body = json!({"bucket": "input", "key": key});
        let (got, answer) = call(&ports, &config, Method::POST, "/sumObject", Some(body)).await;
        assert_eq!(got, status, "{key}: {answer}");
    }
    let body = json!({"bucket": "input", "key": "v.txt", "versionId": "x"});
    let (got, answer) = call(&ports, &config, Method::POST, "/sumObject", Some(body)).await;
    assert_eq!(got, 400, "{answer}");
}
