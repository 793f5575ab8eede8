//! The API's answers: every one is JSON; a success is its body with 200
//! ([`ok`]), and every error one type that turns itself into the response
//! ([`ApiError`]): a status and `{"status":"error","error":"…"}`, whose
//! message says what was wrong and where (and, for a 503, that a retry is
//! safe).

use crate::wire::ProblemBody;
use axum::http::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A refused or failed request, by what the client should do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed: fix it.
    #[error("{0}")]
    BadRequest(String),
    /// The functions may not read what the request names.
    #[error("{0}")]
    Forbidden(String),
    /// No such route, array or object.
    #[error("{0}")]
    NotFound(String),
    /// The route exists for other methods (answered with `Allow`).
    #[error("this path only accepts {0}")]
    MethodNotAllowed(&'static str),
    /// The object is in a state no retry cures (changed, archived).
    #[error("{0}")]
    Conflict(String),
    /// Over a size limit; the message gives it.
    #[error("{0}")]
    TooLarge(String),
    /// Well-formed but refused (a reused idempotency key, a missing column).
    #[error("{0}")]
    Unprocessable(String),
    /// SQS, DynamoDB or S3 failed: nothing was done, retry.
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ProblemBody {
            status: "error".to_string(),
            error: self.to_string(),
        };
        let mut response = json(
            self.status(),
            serde_json::to_string(&body).unwrap_or_default(),
        );
        if let ApiError::MethodNotAllowed(allowed) = self {
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allowed));
        }
        response
    }
}

/// `body` as the JSON answer of a 200.
pub fn ok(body: &impl serde::Serialize) -> Response {
    json(
        StatusCode::OK,
        serde_json::to_string(body).unwrap_or_default(),
    )
}

/// A JSON answer: every answer of the API is one.
pub fn json(status: StatusCode, body: String) -> Response {
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}
