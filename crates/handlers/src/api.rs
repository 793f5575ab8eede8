//! The HTTP API: `POST /sumArray` and `GET /sums/{arrayId}`.
//!
//! Every answer is JSON. Client mistakes get a 4xx that says what was wrong
//! and where; a failure of SQS or DynamoDB gets a 503 the client may retry.
//! Nothing here panics on input.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use base64::Engine;
use http::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use http::{HeaderMap, Method};
use pipeline::{get_sum, Config, Ports, Status, SubmitError, SumRecord};
use pipeline::{submit_with_key, Idempotency, IdempotencyKey, KeyError};
use serde::Serialize;
use serde_json::value::RawValue;

/// Largest request body accepted: Lambda's 6 MB synchronous payload limit,
/// less room for the event envelope around the body. API Gateway itself
/// accepts 10 MB, so this is the binding limit.
pub const MAX_BODY_BYTES: usize = 6_000_000;

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
    array_length: u64,
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
}

#[derive(Serialize)]
struct Problem<'a> {
    status: &'static str,
    error: &'a str,
}

fn json(status: i64, body: String) -> ApiGatewayProxyResponse {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.headers = headers;
    response.body = Some(Body::Text(body));
    response
}

fn problem(status: i64, error: &str) -> ApiGatewayProxyResponse {
    let body = serde_json::to_string(&Problem {
        status: "error",
        error,
    })
    .unwrap_or_else(|_| r#"{"status":"error","error":"unprintable error"}"#.to_string());
    json(status, body)
}

fn method_not_allowed(allowed: &'static str) -> ApiGatewayProxyResponse {
    let mut response = problem(405, &format!("this path only accepts {allowed}"));
    response
        .headers
        .insert(ALLOW, HeaderValue::from_static(allowed));
    response
}

/// Answers one API Gateway (REST, proxy integration) request.
pub async fn handle_api(
    ports: &Ports,
    config: &Config,
    request: &ApiGatewayProxyRequest,
) -> ApiGatewayProxyResponse {
    let path = request.path.as_deref().unwrap_or("/");
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["sumArray"] if request.http_method == Method::POST => {
            post_sum_array(ports, config, request).await
        }
        ["sumArray"] => method_not_allowed("POST"),
        ["sums", array_id] if request.http_method == Method::GET => get_sums(ports, array_id).await,
        ["sums", _] => method_not_allowed("GET"),
        _ => problem(
            404,
            &format!("no route for {path}; use POST /sumArray or GET /sums/{{arrayId}}"),
        ),
    }
}

async fn post_sum_array(
    ports: &Ports,
    config: &Config,
    request: &ApiGatewayProxyRequest,
) -> ApiGatewayProxyResponse {
    let raw = request.body.as_deref().unwrap_or("");
    let decoded;
    let body: &str = if request.is_base64_encoded {
        let bytes = match base64::engine::general_purpose::STANDARD.decode(raw.trim()) {
            Ok(b) => b,
            Err(e) => return problem(400, &format!("the body is marked base64 but is not: {e}")),
        };
        decoded = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(_) => return problem(400, "the request body is not UTF-8 text"),
        };
        &decoded
    } else {
        raw
    };
    if body.len() > MAX_BODY_BYTES {
        return problem(
            413,
            &format!(
                "the request body is {} bytes; the limit is {MAX_BODY_BYTES} bytes",
                body.len()
            ),
        );
    }
    let idempotency = match idempotency_of(request) {
        Ok(i) => i,
        Err(e) => return problem(400, &e.to_string()),
    };
    match submit_with_key(ports, config, body, idempotency.as_ref()).await {
        Ok(accepted) => {
            crate::metrics::Metrics {
                elements_accepted: accepted.array_length,
                ..Default::default()
            }
            .publish("sum_array");
            json(
                200,
                serde_json::to_string(&Accepted {
                    status: "success",
                    array_id: &accepted.array_id,
                    array_length: accepted.array_length,
                })
                .unwrap_or_default(),
            )
        }
        Err(SubmitError::Body(e)) => problem(400, &e.to_string()),
        Err(e @ SubmitError::TooManyElements { .. }) => problem(413, &e.to_string()),
        Err(e @ SubmitError::KeyReused { .. }) => problem(422, &e.to_string()),
        Err(SubmitError::Port(e)) => {
            tracing::error!(error = %e, "could not accept an array");
            problem(
                503,
                "the array could not be enqueued right now; nothing was computed, retry the POST",
            )
        }
    }
}

/// Name of the optional request header that makes a POST idempotent.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The request's `Idempotency-Key`, scoped to whoever API Gateway says is
/// calling: the IAM principal, else the API key, else `anonymous` (open
/// access, where every caller shares one key space).
fn idempotency_of(request: &ApiGatewayProxyRequest) -> Result<Option<Idempotency>, KeyError> {
    let Some(value) = request.headers.get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let key = IdempotencyKey::parse(value.as_bytes())?;
    let identity = &request.request_context.identity;
    let caller = identity
        .user_arn
        .as_deref()
        .map(|arn| format!("iam:{arn}"))
        .or_else(|| identity.api_key_id.as_deref().map(|id| format!("key:{id}")))
        .unwrap_or_else(|| "anonymous".to_string());
    Ok(Some(Idempotency { key, caller }))
}

async fn get_sums(ports: &Ports, array_id: &str) -> ApiGatewayProxyResponse {
    if uuid::Uuid::try_parse(array_id).is_err() || array_id.len() != 36 {
        return problem(
            400,
            "the arrayId in /sums/{arrayId} must be the UUID that POST /sumArray returned",
        );
    }
    match get_sum(ports, array_id).await {
        Ok(Some(record)) => json(200, result_body(&record)),
        Ok(None) => problem(404, &format!("no array with id {array_id}")),
        Err(e) => {
            tracing::error!(error = %e, array_id, "could not read a result");
            problem(503, "the result could not be read right now; retry")
        }
    }
}

fn result_body(record: &SumRecord) -> String {
    let sum = record
        .sum
        .as_ref()
        .and_then(|s| RawValue::from_string(s.to_string()).ok());
    serde_json::to_string(&SumView {
        array_id: &record.array_id,
        status: record.status.as_str(),
        array_length: record.array_length,
        sum,
        submitted_at: record.submitted_at_ms,
        finished_at: record.finished_at_ms,
        reduced_elements: match record.status {
            Status::Done => record.array_length,
            Status::Pending | Status::Failed => record.reduced_elements.min(record.array_length),
        },
        failure: record.failure.as_ref().map(|f| f.kind.as_str()),
        reason: record.failure.as_ref().map(|f| f.reason.as_str()),
    })
    .unwrap_or_default()
}
