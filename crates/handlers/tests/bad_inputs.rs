//! The catalogue of bad requests issue 5 lists, each with the answer it must
//! get: a 4xx JSON problem that names what is wrong (and, for an element,
//! its index), never a 5xx, and nothing recorded or enqueued.

use base64::Engine;
use handlers::{router, MAX_BODY_BYTES};
use http::Method;
use pipeline::memory::MemoryBackend;
use pipeline::{Config, Ports, SystemClock};
use std::sync::Arc;
use test_support::api::{from_rest_event, request, rest_post, send, Answer};

/// Sends `body` as `adder serve` receives it, or, marked base64, as API
/// Gateway sends it to `sum_array` (a REST event `lambda_http` decodes).
async fn post(ports: &Ports, config: &Config, body: Option<&str>, base64: bool) -> Answer {
    let app = router(ports.clone(), config.clone());
    let request = match (body, base64) {
        (Some(body), true) => from_rest_event(&rest_post(body, true)),
        _ => request(Method::POST, "/sumArray", body),
    };
    send(app, request).await
}

fn problem(answer: &Answer) -> String {
    assert_eq!(answer.content_type(), Some("application/json"));
    let json = answer.json();
    assert_eq!(json["status"], "error", "{json}");
    json["error"].as_str().expect("error text").to_string()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// (body, marked base64, status, words the message must contain)
fn bad_bodies() -> Vec<(Option<String>, bool, u16, &'static str)> {
    let s = |b: &str| Some(b.to_string());
    vec![
        // missing or empty
        (None, false, 400, "empty"),
        (s(""), false, 400, "empty"),
        (s(" \n\t"), false, 400, "empty"),
        // invalid JSON
        (s("[1,2"), false, 400, "not valid JSON"),
        (s("[1] x"), false, 400, "not valid JSON"),
        (s("[1][2]"), false, 400, "not valid JSON"),
        (s("\u{feff}[1]"), false, 400, "not valid JSON"),
        (s("[1 /* c */]"), false, 400, "not valid JSON"),
        (s("[1] // c"), false, 400, "not valid JSON"),
        (s("[1,]"), false, 400, "not valid JSON"),
        (s("[01]"), false, 400, "not valid JSON"),
        (s("[.5]"), false, 400, "not valid JSON"),
        (s("[0x10]"), false, 400, "not valid JSON"),
        (s("[NaN]"), false, 400, "not valid JSON"),
        (s("[Infinity]"), false, 400, "not valid JSON"),
        (s("[-Infinity]"), false, 400, "not valid JSON"),
        // not an array
        (s("{\"a\":1}"), false, 400, "but it is an object"),
        (s("\"[1]\""), false, 400, "but it is a string"),
        (s("12"), false, 400, "but it is a number"),
        (s("null"), false, 400, "but it is null"),
        (s("true"), false, 400, "but it is a boolean"),
        // elements that are not numbers, named by index
        (s("[1,2,[3]]"), false, 400, "element 2 is an array"),
        (s("[1,\"2\",3]"), false, 400, "element 1 is a string"),
        (s("[true]"), false, 400, "element 0 is a boolean"),
        (s("[1,false]"), false, 400, "element 1 is a boolean"),
        (s("[0, null]"), false, 400, "element 1 is null"),
        (s("[1,{}]"), false, 400, "element 1 is an object"),
        // numbers DynamoDB cannot hold
        (s("[1, 1e400]"), false, 400, "element 1"),
        (s("[1e126]"), false, 400, "element 0"),
        (s("[1e-131]"), false, 400, "element 0"),
        (
            s("[2, 123456789012345678901234567890123456789]"),
            false,
            400,
            "element 1",
        ),
        // base64 bodies from API Gateway
        (Some(b64(b"[1,\"a\"]")), true, 400, "element 1 is a string"),
        (Some(b64(&[0xff, 0xfe, b'['])), true, 400, "UTF-8"),
        // over the size limit, with the limit in the message
        (
            Some(format!("[{}1]", "1,".repeat(MAX_BODY_BYTES / 2))),
            false,
            413,
            "the limit is 6225920 bytes",
        ),
        (
            Some(b64(
                format!("[{}1]", "1,".repeat(MAX_BODY_BYTES / 2)).as_bytes()
            )),
            true,
            413,
            "the limit is 6225920 bytes",
        ),
    ]
}

#[tokio::test]
async fn every_bad_body_gets_a_4xx_that_says_what_and_where_and_enqueues_nothing() {
    let b = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = b.ports();
    let config = Config::default();
    let cases = bad_bodies();
    for (body, base64, status, says) in &cases {
        let answer = post(&ports, &config, body.as_deref(), *base64).await;
        let shown: String = body
            .as_deref()
            .unwrap_or("<none>")
            .chars()
            .take(40)
            .collect();
        assert_eq!(answer.status, *status, "{shown:?}");
        let error = problem(&answer);
        assert!(error.contains(says), "{shown:?}: {error}");
    }
    // The element limit, with the limit in the message.
    let small = Config {
        max_elements: 3,
        ..Config::default()
    };
    let answer = post(&ports, &small, Some("[1,2,3,4]"), false).await;
    assert_eq!(answer.status, 413);
    assert!(problem(&answer).contains("the limit is 3"));

    assert!(
        b.times_two_queue.is_empty(),
        "a refused body enqueues nothing"
    );
    assert!(
        b.sums.records().is_empty(),
        "a refused body records nothing"
    );
    assert_eq!(cases.len() + 1, 36, "the catalogue the report counts");

    // The same bodies base64-encoded by API Gateway are decoded, not refused.
    let answer = post(&ports, &config, Some(&b64(b"[0.1, 0.2]")), true).await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn bad_routes_methods_and_ids_get_404_405_400() {
    let b = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = b.ports();
    let config = Config::default();
    let unknown = "0f8fad5b-d9cb-469f-a165-70867728950e";
    let cases = [
        (Method::GET, "/".to_string(), 404, "no route"),
        (Method::GET, "/nope".to_string(), 404, "no route"),
        (Method::GET, "/sums".to_string(), 404, "no route"),
        (Method::GET, format!("/sums/{unknown}/x"), 404, "no route"),
        (Method::GET, "/sumArray".to_string(), 405, "POST"),
        (Method::PUT, "/sumArray".to_string(), 405, "POST"),
        (Method::DELETE, format!("/sums/{unknown}"), 405, "GET"),
        (Method::POST, format!("/sums/{unknown}"), 405, "GET"),
        (Method::GET, "/sums/not-a-uuid".to_string(), 400, "UUID"),
        (
            Method::GET,
            format!("/sums/{}", unknown.replace('-', "")),
            400,
            "UUID",
        ),
        (Method::GET, "/sums/idem%23key".to_string(), 400, "UUID"),
        (Method::GET, format!("/sums/{unknown}"), 404, "no array"),
    ];
    for (method, path, status, says) in cases {
        let app = router(ports.clone(), config.clone());
        let answer = send(app, request(method.clone(), &path, None)).await;
        assert_eq!(answer.status, status, "{method} {path}");
        let error = problem(&answer);
        assert!(error.contains(says), "{method} {path}: {error}");
        if status == 405 {
            assert!(answer.headers.contains_key("allow"), "{method} {path}");
        }
    }
}
