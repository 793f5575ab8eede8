//! The HTTP API as one axum [`Router`]: `POST /sumArray`, `POST` and `GET
//! /sumObject` (in `objects`), `GET /sums/{arrayId}` and `GET /openapi.yaml`.
//!
//! The `sum_array` Lambda serves it with `lambda_http` (which turns API
//! Gateway's REST events into `http` requests, base64 bodies decoded),
//! `adder serve` with `axum::serve`, and `adder sum`/`bench` call it in
//! process, so every way in gets the same routes, limits and errors.
//!
//! Every answer is JSON. Client mistakes get a 4xx that says what was wrong
//! and where; a failure of SQS or DynamoDB gets a 503 the client may retry.
//! Nothing here panics on input.

use crate::payload::{event_body_bytes, EVENT_ENVELOPE_BYTES, LAMBDA_EVENT_LIMIT};
use axum::body::{to_bytes, Body, HttpBody};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use lambda_http::request::RequestContext;
use pipeline::{get_sum, Config, Ports, Status, SubmitError, SumRecord};
use pipeline::{submit_with_key, Idempotency, IdempotencyKey, KeyError};
use serde::Serialize;
use serde_json::value::RawValue;
use std::sync::Arc;

/// Largest body accepted, counted as it travels inside the Lambda event
/// ([`event_body_bytes`]): what is left of [`LAMBDA_EVENT_LIMIT`] after the
/// envelope. A compact body (no line breaks, tabs, quotes or backslashes)
/// costs one byte a byte, so this is also the largest body in bytes. API
/// Gateway itself accepts 10 MB: this is the binding limit.
pub const MAX_BODY_BYTES: usize = LAMBDA_EVENT_LIMIT - EVENT_ENVELOPE_BYTES;

/// Name of the optional request header that makes a POST idempotent.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The API's OpenAPI document (`openapi.yaml` at the repository root),
/// compiled in so every server answers with the contract it was built against.
pub const OPENAPI_YAML: &str = include_str!("../../../openapi.yaml");

pub(crate) struct Api {
    pub(crate) ports: Ports,
    pub(crate) config: Config,
}

pub(crate) type Shared = State<Arc<Api>>;

/// The whole API over `ports`, accepting arrays as `config` says.
pub fn router(ports: Ports, config: Config) -> Router {
    Router::new()
        .route(
            "/sumArray",
            post(post_sum_array).fallback(|| async { method_not_allowed("POST") }),
        )
        .route(
            "/sumObject",
            post(crate::objects::post_sum_object)
                .get(crate::objects::get_sum_object)
                .fallback(|| async { method_not_allowed("GET, POST") }),
        )
        .route(
            "/sums/{array_id}",
            get(get_sums).fallback(|| async { method_not_allowed("GET") }),
        )
        .route(
            "/openapi.yaml",
            get(openapi).fallback(|| async { method_not_allowed("GET") }),
        )
        .fallback(no_route)
        .with_state(Arc::new(Api { ports, config }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Accepted<'a> {
    status: &'static str,
    array_id: &'a str,
    array_length: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SumView<'a> {
    array_id: &'a str,
    status: &'static str,
    /// Elements; an object array's only once it is done.
    #[serde(skip_serializing_if = "Option::is_none")]
    array_length: Option<u64>,
    sum: Option<Box<RawValue>>,
    submitted_at: u64,
    finished_at: Option<u64>,
    reduced_elements: u64,
    /// Why a failed array failed: `not_enqueued`, `dead_lettered`, `expired`.
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<&'static str>,
    /// The failure in words, with what to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    /// An object array's object.
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<&'a packet::ObjectSource>,
    /// An object array's bytes mapped so far (its size once done).
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_mapped: Option<u64>,
}

#[derive(Serialize)]
struct Problem<'a> {
    status: &'static str,
    error: &'a str,
}

pub(crate) fn json(status: StatusCode, body: String) -> Response {
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}

pub(crate) fn problem(status: StatusCode, error: &str) -> Response {
    let body = serde_json::to_string(&Problem {
        status: "error",
        error,
    })
    .unwrap_or_else(|_| r#"{"status":"error","error":"unprintable error"}"#.to_string());
    json(status, body)
}

fn method_not_allowed(allowed: &'static str) -> Response {
    let mut response = problem(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("this path only accepts {allowed}"),
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allowed));
    response
}

async fn no_route(uri: Uri) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        &format!(
            "no route for {}; use POST /sumArray, POST /sumObject, GET /sumObject or GET /sums/{{arrayId}}",
            uri.path()
        ),
    )
}

async fn openapi() -> Response {
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/yaml")],
        OPENAPI_YAML,
    )
        .into_response()
}

async fn post_sum_array(State(api): Shared, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match body_text(body).await {
        Ok(text) => text,
        Err(refusal) => return refusal,
    };
    let idempotency = match idempotency_of(&parts.headers, &parts.extensions) {
        Ok(i) => i,
        Err(e) => return problem(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    match submit_with_key(&api.ports, &api.config, &body, idempotency.as_ref()).await {
        Ok(accepted) => {
            crate::metrics::Metrics {
                elements_accepted: accepted.array_length,
                ..Default::default()
            }
            .publish("sum_array");
            let answer = Accepted {
                status: "success",
                array_id: &accepted.array_id,
                array_length: accepted.array_length,
            };
            json(
                StatusCode::OK,
                serde_json::to_string(&answer).unwrap_or_default(),
            )
        }
        Err(SubmitError::Body(e)) => problem(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(e @ SubmitError::TooManyElements { .. }) => {
            problem(StatusCode::PAYLOAD_TOO_LARGE, &e.to_string())
        }
        Err(e @ SubmitError::KeyReused { .. }) => {
            problem(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string())
        }
        Err(SubmitError::Port(e)) => {
            tracing::error!(error = %e, "could not accept an array");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "the array could not be enqueued right now; nothing was computed, retry the POST",
            )
        }
    }
}

/// The request body as text, or the 413/400 that refuses it. A body whose
/// length is known (all of a Lambda event's; a `Content-Length` over HTTP) is
/// refused with that length before any of it is read; a body that fits in
/// bytes but not once escaped into the Lambda event ([`event_body_bytes`])
/// is refused with both figures, so the local server refuses exactly what
/// Lambda could not be given.
pub(crate) async fn body_text(body: Body) -> Result<String, Response> {
    let too_large = StatusCode::PAYLOAD_TOO_LARGE;
    if let Some(len) = body.size_hint().exact() {
        if len > MAX_BODY_BYTES as u64 {
            let why =
                format!("the request body is {len} bytes; the limit is {MAX_BODY_BYTES} bytes");
            return Err(problem(too_large, &why));
        }
    }
    let bytes = to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        let why = format!("the request body is larger than the limit of {MAX_BODY_BYTES} bytes");
        problem(too_large, &why)
    })?;
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
        problem(
            StatusCode::BAD_REQUEST,
            "the request body is not UTF-8 text",
        )
    })?;
    let escaped = event_body_bytes(&text);
    if escaped > MAX_BODY_BYTES {
        let why = format!(
            "the request body is {} bytes, but {escaped} bytes once API Gateway escapes it into \
             the Lambda event (line breaks, tabs, quotes and slashes take two bytes each); the \
             limit is {MAX_BODY_BYTES} bytes: send the array without line breaks or \
             indentation, or as an S3 object (POST /sumObject)",
            text.len()
        );
        return Err(problem(too_large, &why));
    }
    Ok(text)
}

/// The request's `Idempotency-Key`, scoped to whoever API Gateway says is
/// calling (from the request context `lambda_http` puts in the extensions):
/// the IAM principal, else the API key, else `anonymous` (open access, and
/// `adder serve`, where every caller shares one key space).
fn idempotency_of(
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
) -> Result<Option<Idempotency>, KeyError> {
    let Some(value) = headers.get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let key = IdempotencyKey::parse(value.as_bytes())?;
    let identity = match extensions.get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV1(context)) => Some(&context.identity),
        _ => None,
    };
    let caller = identity
        .and_then(|identity| {
            let arn = identity.user_arn.as_deref().map(|arn| format!("iam:{arn}"));
            arn.or_else(|| identity.api_key_id.as_deref().map(|id| format!("key:{id}")))
        })
        .unwrap_or_else(|| "anonymous".to_string());
    Ok(Some(Idempotency { key, caller }))
}

async fn get_sums(State(api): Shared, array_id: Result<Path<String>, PathRejection>) -> Response {
    let array_id = match array_id {
        Ok(Path(id)) if uuid::Uuid::try_parse(&id).is_ok() && id.len() == 36 => id,
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "the arrayId in /sums/{arrayId} must be the UUID that POST /sumArray returned",
            )
        }
    };
    match get_sum(&api.ports, &array_id).await {
        Ok(Some(record)) => json(StatusCode::OK, result_body(&record)),
        Ok(None) => problem(
            StatusCode::NOT_FOUND,
            &format!("no array with id {array_id}"),
        ),
        Err(e) => {
            tracing::error!(error = %e, array_id, "could not read a result");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "the result could not be read right now; retry",
            )
        }
    }
}

pub(crate) fn result_body(record: &SumRecord) -> String {
    let sum = record
        .sum
        .as_ref()
        .and_then(|s| RawValue::from_string(s.to_string()).ok());
    serde_json::to_string(&SumView {
        array_id: &record.array_id,
        status: record.status.as_str(),
        array_length: record.elements(),
        sum,
        submitted_at: record.submitted_at_ms,
        finished_at: record.finished_at_ms,
        reduced_elements: match (record.status, record.elements()) {
            (Status::Done, Some(n)) => n,
            (_, Some(n)) => record.reduced_elements.min(n),
            (_, None) => record.reduced_elements,
        },
        failure: record.failure.as_ref().map(|f| f.kind.as_str()),
        reason: record.failure.as_ref().map(|f| f.reason.as_str()),
        object: record.source.as_ref(),
        bytes_mapped: record.source.as_ref().map(|s| match record.status {
            Status::Done => s.size,
            _ => record.mapped_bytes.min(s.size),
        }),
    })
    .unwrap_or_default()
}
