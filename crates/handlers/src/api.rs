//! The HTTP API as one axum [`Router`]: `POST /sumArray`, `POST` and `GET
//! /sumObject` (in `objects`), `GET /sums/{arrayId}` and `GET /openapi.yaml`.
//!
//! The `sum_array` Lambda serves it with `lambda_http` (which turns API
//! Gateway's REST events into `http` requests, base64 bodies decoded),
//! `adder serve` with `axum::serve`, and `adder sum`/`bench` call it in
//! process, so every way in gets the same routes, limits and errors.
//!
//! Every answer is JSON. Client mistakes get a 4xx that says what was wrong
//! and where; a failure of SQS or DynamoDB gets a 503 the client may retry
//! ([`ApiError`]). Nothing here panics on input.

use crate::answer::{ok, ApiError};
use crate::body::body_text;
use crate::wire::{job_spec, ArrayAccepted, ArrayQuery, SumView};
use crate::{Api, Shared};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use lambda_http::request::RequestContext;
use pipeline::{get_sum, Config, Ports, SubmitError};
use pipeline::{submit_with_key, Idempotency, IdempotencyKey, KeyError};
use std::sync::Arc;

/// Name of the optional request header that makes a POST idempotent.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The API's OpenAPI document (`openapi.yaml` at the repository root),
/// compiled in so every server answers with the contract it was built against.
pub const OPENAPI_YAML: &str = include_str!("../../../openapi.yaml");

/// The whole API over `ports`, accepting arrays as `config` says.
pub fn router(ports: Ports, config: Config) -> Router {
    let only = |allowed: &'static str| move || async move { ApiError::MethodNotAllowed(allowed) };
    Router::new()
        .route("/sumArray", post(post_sum_array).fallback(only("POST")))
        .route(
            "/sumObject",
            post(crate::objects::post_sum_object)
                .get(crate::objects::get_sum_object)
                .fallback(only("GET, POST")),
        )
        .route("/sums/{array_id}", get(get_sums).fallback(only("GET")))
        .route("/openapi.yaml", get(openapi).fallback(only("GET")))
        .fallback(no_route)
        .with_state(Arc::new(Api { ports, config }))
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::NotFound(format!(
        "no route for {}; use POST /sumArray, POST /sumObject, GET /sumObject or GET /sums/{{arrayId}}",
        uri.path()
    ))
}

async fn openapi() -> Response {
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/yaml")],
        OPENAPI_YAML,
    )
        .into_response()
}

async fn post_sum_array(State(api): Shared, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let job = array_job(&parts.uri)?;
    let body = body_text(body).await?;
    let idempotency = idempotency_of(&parts.headers, &parts.extensions)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let accepted = submit_with_key(&api.ports, &api.config, &body, &job, idempotency.as_ref())
        .await
        .map_err(refusal)?;
    crate::metrics::Metrics {
        elements_accepted: accepted.array_length,
        ..Default::default()
    }
    .publish("sum_array");
    Ok(ok(&ArrayAccepted {
        status: "success".to_string(),
        array_id: accepted.array_id,
        array_length: accepted.array_length,
    }))
}

/// The job `?job=NAME&params=JSON` names; `sum` without a query.
fn array_job(uri: &Uri) -> Result<packet::job::JobSpec, ApiError> {
    let axum::extract::Query(query) = axum::extract::Query::<ArrayQuery>::try_from_uri(uri)
        .map_err(|e| {
            ApiError::BadRequest(format!(
                "the query may name only job and params (?job=stats, \
                 ?job=histogram&params={{\"bounds\":[0,10]}}): {}",
                e.body_text()
                    .trim_start_matches("Failed to deserialize query string: ")
            ))
        })?;
    let params = query.params.map(crate::wire::ParamsText::Text);
    job_spec(query.job.as_deref(), params.as_ref()).map_err(ApiError::BadRequest)
}

/// The answer to an array that was not accepted.
fn refusal(e: SubmitError) -> ApiError {
    match e {
        SubmitError::Body(e) => ApiError::BadRequest(e.to_string()),
        e @ SubmitError::TooManyElements { .. } => ApiError::TooLarge(e.to_string()),
        e @ SubmitError::KeyReused { .. } => ApiError::Unprocessable(e.to_string()),
        SubmitError::Job(e) => ApiError::BadRequest(e.to_string()),
        SubmitError::Port(e) => {
            tracing::error!(error = %e, "could not accept an array");
            ApiError::Unavailable(
                "the array could not be enqueued right now; nothing was computed, retry the POST"
                    .into(),
            )
        }
    }
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

async fn get_sums(
    State(api): Shared,
    array_id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let array_id = match array_id {
        Ok(Path(id)) if uuid::Uuid::try_parse(&id).is_ok() && id.len() == 36 => id,
        _ => {
            return Err(ApiError::BadRequest(
                "the arrayId in /sums/{arrayId} must be the UUID that POST /sumArray returned"
                    .into(),
            ))
        }
    };
    match get_sum(&api.ports, &array_id).await {
        Ok(Some(record)) => Ok(ok(&SumView::of(&record, &api.config.jobs))),
        Ok(None) => Err(ApiError::NotFound(format!("no array with id {array_id}"))),
        Err(e) => {
            tracing::error!(error = %e, array_id, "could not read a result");
            Err(ApiError::Unavailable(
                "the result could not be read right now; retry".into(),
            ))
        }
    }
}
