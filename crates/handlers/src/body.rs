//! A request body as text, within what one Lambda event can carry.

use crate::answer::ApiError;
use crate::payload::{event_body_bytes, MAX_BODY_BYTES};
use axum::body::{to_bytes, Body, HttpBody};

/// The request body as text, or the 413/400 that refuses it. A body whose
/// length is known (all of a Lambda event's; a `Content-Length` over HTTP) is
/// refused with that length before any of it is read; a body that fits in
/// bytes but not once escaped into the Lambda event ([`event_body_bytes`])
/// is refused with both figures, so the local server refuses exactly what
/// Lambda could not be given.
pub(crate) async fn body_text(body: Body) -> Result<String, ApiError> {
    if let Some(len) = body.size_hint().exact() {
        if len > MAX_BODY_BYTES as u64 {
            return Err(ApiError::TooLarge(format!(
                "the request body is {len} bytes; the limit is {MAX_BODY_BYTES} bytes"
            )));
        }
    }
    let bytes = to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        ApiError::TooLarge(format!(
            "the request body is larger than the limit of {MAX_BODY_BYTES} bytes"
        ))
    })?;
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::BadRequest("the request body is not UTF-8 text".into()))?;
    let escaped = event_body_bytes(&text);
    if escaped > MAX_BODY_BYTES {
        return Err(ApiError::TooLarge(format!(
            "the request body is {} bytes, but {escaped} bytes once API Gateway escapes it into \
             the Lambda event (line breaks, tabs, quotes and slashes take two bytes each); the \
             limit is {MAX_BODY_BYTES} bytes: send the array without line breaks or \
             indentation, or as an S3 object (POST /sumObject)",
            text.len()
        )));
    }
    Ok(text)
}
