//! Requests to the API's axum Router (`handlers::router`), as the tests send
//! them: plain `http` requests (what `adder serve` receives), and API Gateway
//! REST events turned into requests by `lambda_http` exactly as the
//! `sum_array` Lambda does.

use axum::body::{to_bytes, Body};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;
use lambda_http::request::RequestContext;
use serde_json::Value;
use std::sync::Once;
use tower::ServiceExt;

/// `method path` with `body` (no body when `None`).
pub fn request(method: Method, path: &str, body: Option<&str>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("a valid request")
}

/// `POST /sumArray` with `body`.
pub fn post(body: &str) -> Request<Body> {
    request(Method::POST, "/sumArray", Some(body))
}

/// `GET /sums/{array_id}`.
pub fn get_sums(array_id: &str) -> Request<Body> {
    request(Method::GET, &format!("/sums/{array_id}"), None)
}

/// What the Router answered: status, headers and body text.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    /// The body as JSON; panics (failing the test) when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("a JSON body ({e}): {}", self.text))
    }

    /// The `content-type` header's text.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
    }
}

/// Sends one request through `app` in process.
pub async fn send(app: Router, request: Request<Body>) -> Answer {
    let response = app
        .oneshot(request)
        .await
        .expect("the Router is infallible");
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.expect("the answer's body");
    Answer {
        status: parts.status,
        headers: parts.headers,
        text: String::from_utf8(bytes.to_vec()).expect("a UTF-8 answer"),
    }
}

/// `method path` with `body` through `app`: the status and the JSON answer.
pub async fn call(app: Router, method: Method, path: &str, body: Option<&str>) -> (u16, Value) {
    let answer = send(app, request(method, path, body)).await;
    (answer.status.as_u16(), answer.json())
}

/// The array id events/sum_array-get.json carries where a real one goes.
pub const PLACEHOLDER_ID: &str = "00000000-0000-4000-8000-000000000000";

fn shipped_event(name: &str) -> Value {
    let path = crate::workspace_root().join("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("events/{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

/// events/sum_array-post.json: a real API Gateway REST event (stage
/// `testStage`, an IAM caller in its request context), with `body` marked
/// base64 or not.
pub fn rest_post(body: &str, base64: bool) -> Value {
    let mut event = shipped_event("sum_array-post.json");
    event["body"] = Value::from(body);
    event["isBase64Encoded"] = Value::from(base64);
    event
}

/// events/sum_array-get.json for array `array_id`.
pub fn rest_get(array_id: &str) -> Value {
    let text = shipped_event("sum_array-get.json").to_string();
    serde_json::from_str(&text.replace(PLACEHOLDER_ID, array_id)).expect("JSON")
}

/// The request `lambda_http` makes of a REST `event` in the deployed
/// `sum_array`, which runs with template.yaml's
/// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` (set here once, before any test of
/// the process reads it).
pub fn from_rest_event(event: &Value) -> Request<Body> {
    static IGNORE_STAGE: Once = Once::new();
    IGNORE_STAGE.call_once(|| std::env::set_var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true"));
    lambda_http::request::from_str(&event.to_string())
        .expect("lambda_http reads the event")
        .map(Body::new)
}

/// `request` as API Gateway passes on an IAM-signed call by `user_arn`: the
/// REST request context `lambda_http` puts in the request's extensions.
pub fn as_iam_caller(mut request: Request<Body>, user_arn: &str) -> Request<Body> {
    let mut context = ApiGatewayProxyRequestContext::default();
    context.identity.user_arn = Some(user_arn.to_string());
    request
        .extensions_mut()
        .insert(RequestContext::ApiGatewayV1(context));
    request
}
