//! The API's payload limit is the size of the event Lambda is given, not of
//! the body: API Gateway puts the body in a JSON string, where each line
//! break, tab, quote or backslash costs two bytes. A body the router accepts
//! must fit Lambda's 6 MB (6,291,456 bytes) once it is an event, and the
//! local server and the Lambda refuse the same bodies with the same answer.

use handlers::{event_body_bytes, router, LAMBDA_EVENT_LIMIT, MAX_BODY_BYTES};
use pipeline::memory::MemoryBackend;
use pipeline::{Config, SystemClock};
use serde_json::{json, Value};
use std::sync::Arc;
use test_support::api::{from_rest_event, post, rest_post, send, Answer};

/// API Gateway's limit on the request line and headers together.
const API_GATEWAY_HEADER_BYTES: usize = 10_240;

fn app() -> axum::Router {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let config = Config {
        max_elements: 10_000_000,
        ..Config::default()
    };
    router(backend.ports(), config)
}

/// `[1,\n1,\n…1]` padded with spaces so that it takes exactly `escaped`
/// bytes in the event: the worst body the router can accept at that size
/// (a quarter of its bytes are line breaks).
fn lines_body(escaped: usize) -> String {
    let n = (escaped - 3) / 4;
    let mut body = String::with_capacity(escaped);
    body.push('[');
    body.push_str(&"1,\n".repeat(n));
    body.push_str("1]");
    while event_body_bytes(&body) < escaped {
        body.push(' ');
    }
    body
}

/// What the router answers `body` through `adder serve` and through the
/// `sum_array` Lambda (a REST event turned into a request by lambda_http).
async fn both_ways(body: &str) -> (Answer, Answer) {
    let local = send(app(), post(body)).await;
    let lambda = send(app(), from_rest_event(&rest_post(body, false))).await;
    (local, lambda)
}

/// A REST event around `body` as large as API Gateway can make one: the
/// shipped event's request context, and headers filling API Gateway's
/// 10,240 bytes with quotes, each of which the event escapes, twice over
/// (`headers` and `multiValueHeaders`).
fn largest_event(body: &str) -> Value {
    let mut event = rest_post(body, false);
    let mut used: usize = event["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len) + 4)
        .sum();
    let mut i = 0;
    while used < API_GATEWAY_HEADER_BYTES {
        let name = format!("X-Pad-{i}");
        let value = "\"".repeat(200.min(API_GATEWAY_HEADER_BYTES - used));
        used += name.len() + value.len() + 4;
        event["headers"][&name] = json!(value);
        event["multiValueHeaders"][&name] = json!([value]);
        i += 1;
    }
    event["path"] = json!("/sumArray");
    event["requestContext"]["path"] = json!("/prod/sumArray");
    event
}

#[test]
fn the_count_matches_how_a_json_encoder_writes_the_body() {
    for body in ["[1, 2]", "[1,\n2]", "\t\"\\/", "\u{1}", "é", "😀"] {
        let encoded = serde_json::to_string(body).expect("a string encodes");
        assert!(
            event_body_bytes(body) >= encoded.len() - 2,
            "{body:?}: counted {}, serde_json writes {}",
            event_body_bytes(body),
            encoded.len() - 2
        );
    }
    assert_eq!(
        event_body_bytes("[1,2,3]"),
        7,
        "compact ASCII costs a byte a byte"
    );
    assert_eq!(event_body_bytes("[1,\n2]"), 7);
}

#[test]
fn the_largest_accepted_body_arrives_in_an_event_lambda_accepts() {
    let body = lines_body(MAX_BODY_BYTES);
    assert_eq!(event_body_bytes(&body), MAX_BODY_BYTES);
    let event = serde_json::to_vec(&largest_event(&body)).expect("the event encodes");
    assert!(
        event.len() <= LAMBDA_EVENT_LIMIT,
        "the event is {} bytes, Lambda takes {LAMBDA_EVENT_LIMIT}",
        event.len()
    );
    // lambda_http reads it as the Lambda would.
    let typed: aws_lambda_events::apigw::ApiGatewayProxyRequest =
        serde_json::from_slice(&event).expect("a REST event");
    assert_eq!(typed.body.as_deref().map(str::len), Some(body.len()));
}

#[tokio::test]
async fn a_body_at_the_limit_is_accepted_both_ways() {
    let body = lines_body(MAX_BODY_BYTES);
    let (local, lambda) = both_ways(&body).await;
    assert_eq!(local.status, 200, "{}", local.text);
    assert_eq!(lambda.status, 200, "{}", lambda.text);
}

#[tokio::test]
async fn a_body_that_fits_in_bytes_but_not_once_escaped_is_refused_both_ways() {
    // The example: 6,000,000 bytes, about 8 MB as an event.
    let body = format!("[{}1]", "1,\n".repeat(1_999_999));
    assert_eq!(body.len(), 6_000_000);
    let (local, lambda) = both_ways(&body).await;
    let expected = json!({
        "status": "error",
        "error": "the request body is 6000000 bytes, but 7999999 bytes once API Gateway \
                  escapes it into the Lambda event (line breaks, tabs, quotes and slashes \
                  take two bytes each); the limit is 6225920 bytes: send the array without \
                  line breaks or indentation, or as an S3 object (POST /sumObject)"
    });
    for (way, answer) in [("local", &local), ("lambda", &lambda)] {
        assert_eq!(answer.status, 413, "{way}");
        assert_eq!(answer.json(), expected, "{way}");
    }
    // One escaped byte past the limit is refused too.
    let (local, lambda) = both_ways(&lines_body(MAX_BODY_BYTES + 1)).await;
    assert_eq!((local.status.as_u16(), lambda.status.as_u16()), (413, 413));
}

#[tokio::test]
async fn a_compact_body_is_limited_by_its_bytes() {
    let body = format!("[{}1]", "1,".repeat(MAX_BODY_BYTES / 2));
    let (local, lambda) = both_ways(&body).await;
    for answer in [&local, &lambda] {
        assert_eq!(answer.status, 413);
        assert_eq!(
            answer.json()["error"],
            format!(
                "the request body is {} bytes; the limit is 6225920 bytes",
                body.len()
            )
        );
    }
}
