//! The Router behind `lambda_http`, as the `sum_array` Lambda serves it: real
//! API Gateway REST events (events/) turned into requests by `lambda_http`,
//! with the stage API Gateway names, base64 bodies, and the caller's identity
//! from the request context scoping `Idempotency-Key`.

use base64::Engine;
use handlers::router;
use pipeline::memory::MemoryBackend;
use pipeline::{Config, SystemClock};
use serde_json::{json, Value};
use std::sync::Arc;
use test_support::api::{from_rest_event, post, rest_get, rest_post, send, Answer};

fn backend() -> MemoryBackend {
    MemoryBackend::new(Arc::new(SystemClock), 5)
}

async fn answer(b: &MemoryBackend, event: &Value) -> Answer {
    send(router(b.ports(), Config::default()), from_rest_event(event)).await
}

/// A POST of `[1]` with `Idempotency-Key: same`, from the caller `identity`
/// (the request context's `identity` object).
fn keyed_post(identity: Value) -> Value {
    let mut event = rest_post("[1]", false);
    event["headers"]["Idempotency-Key"] = json!("same");
    event["multiValueHeaders"]["Idempotency-Key"] = json!(["same"]);
    event["requestContext"]["identity"] = identity;
    event
}

async fn array_id(b: &MemoryBackend, event: &Value) -> String {
    let answer = answer(b, event).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json()["arrayId"]
        .as_str()
        .expect("an arrayId")
        .to_string()
}

#[tokio::test]
async fn the_shipped_events_reach_their_routes_whatever_the_stage() {
    let b = backend();
    for stage in ["testStage", "prod"] {
        let mut post = rest_post("[1, 2.5]", false);
        post["requestContext"]["stage"] = json!(stage);
        let id = array_id(&b, &post).await;
        let mut get = rest_get(&id);
        get["requestContext"]["stage"] = json!(stage);
        let answer = answer(&b, &get).await;
        assert_eq!(answer.status, 200, "{stage}: {}", answer.text);
        assert_eq!(answer.json()["arrayLength"], 2, "{stage}");
    }
}

#[tokio::test]
async fn a_base64_body_is_the_array_it_encodes() {
    let b = backend();
    let encoded = base64::engine::general_purpose::STANDARD.encode("[1, 2, 3]");
    let answer = answer(&b, &rest_post(&encoded, true)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["arrayLength"], 3);
}

#[tokio::test]
async fn idempotency_keys_are_scoped_to_the_caller_api_gateway_names() {
    let b = backend();
    let user = |arn: &str| json!({ "userArn": arn, "apiKeyId": null });
    let alice = array_id(
        &b,
        &keyed_post(user("arn:aws:iam::111122223333:user/alice")),
    )
    .await;
    let bob = array_id(&b, &keyed_post(user("arn:aws:iam::111122223333:user/bob"))).await;
    let alice_again = array_id(
        &b,
        &keyed_post(user("arn:aws:iam::111122223333:user/alice")),
    )
    .await;
    assert_ne!(alice, bob, "two callers, one key: two arrays");
    assert_eq!(alice, alice_again, "one caller, one key: one array");

    let key = |id: &str| json!({ "userArn": null, "apiKeyId": id });
    let by_key = array_id(&b, &keyed_post(key("k1"))).await;
    assert_eq!(by_key, array_id(&b, &keyed_post(key("k1"))).await);
    assert_ne!(by_key, array_id(&b, &keyed_post(key("k2"))).await);
    assert_ne!(by_key, alice, "an API key is not an IAM principal");

    // No identity is `anonymous`, the key space `adder serve` uses.
    let nobody = array_id(&b, &keyed_post(json!({}))).await;
    let mut local = post("[1]");
    local
        .headers_mut()
        .insert("Idempotency-Key", "same".parse().expect("a header value"));
    let answer = send(router(b.ports(), Config::default()), local).await;
    assert_eq!(answer.json()["arrayId"].as_str(), Some(nobody.as_str()));
    assert_ne!(nobody, alice);
}
