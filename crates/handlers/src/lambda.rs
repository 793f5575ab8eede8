//! What the three Lambda binaries share around `lambda_runtime`: a cold start
//! that cannot build its handler (a refused `CHUNK_SIZE`, say) is reported to
//! the Runtime API's `/runtime/init/error`, so Lambda shows the reason in the
//! invoke's answer, the console and the logs instead of a bare
//! `Runtime.ExitError`.
//!
//! `lambda_runtime` 1.5 posts `/init/error` only when a SnapStart hook fails;
//! whatever fails before `lambda_runtime::run` is the function's own to
//! report. It is posted with the runtime crate's own client and `Diagnostic`,
//! to the address the runtime itself would use (`AWS_LAMBDA_RUNTIME_API`).

// `lambda_runtime` catches a panic in a handler and reports it as that
// invocation's error: the SQS batch comes back later, the process stays warm,
// and the panic's message reaches the logs. Built with `panic = "abort"` (which
// cargo-lambda puts into release builds unless the profile says otherwise),
// the process dies instead: a bare `Runtime.ExitError` and a cold start. The
// workspace's `[profile.release]` says `unwind`; this keeps it so.
#[cfg(panic = "abort")]
compile_error!(
    "the Lambda functions need panic = \"unwind\" (Cargo.toml [profile.release]): \
     lambda_runtime can only catch a handler's panic by unwinding"
);

use http::{Method, Uri};
use lambda_runtime::Diagnostic;
use lambda_runtime_api_client::{body::Body, build_request, PooledClient};
use std::time::{SystemTime, UNIX_EPOCH};

/// The Runtime API's path for a failed initialisation.
pub const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";

/// The header carrying the error's category (Lambda's `INIT_REPORT ... Error Type`).
pub const ERROR_TYPE_HEADER: &str = "Lambda-Runtime-Function-Error-Type";

/// The category this module reports: the same one `lambda_runtime` uses for
/// the init failures it reports itself.
pub const INIT_ERROR_TYPE: &str = "Runtime.InitError";

/// Why the Runtime API could not be told about a failed initialisation.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("AWS_LAMBDA_RUNTIME_API={0:?} is not an address: {1}")]
    Address(String, http::uri::InvalidUri),
    #[error("could not build the init error request: {0}")]
    Request(#[from] http::Error),
    #[error("could not encode the init error: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("could not reach the Runtime API: {0}")]
    Send(lambda_runtime::Error),
    #[error("the Runtime API answered {0} to the init error")]
    Refused(http::StatusCode),
}

/// Passes `init`'s value through; on an error, reports it to the Runtime API
/// (and the log) before returning it, so `main` can exit with it.
pub async fn init_or_report<T, E>(init: Result<T, E>) -> Result<T, lambda_runtime::Error>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match init {
        Ok(value) => Ok(value),
        Err(error) => {
            let diagnostic = Diagnostic {
                error_type: std::any::type_name::<E>().to_string(),
                error_message: error.to_string(),
            };
            tracing::error!(error = %error, "the function cannot start");
            if let Err(failure) = report_init_error(&diagnostic).await {
                tracing::error!(error = %failure, "could not report the init error");
            }
            Err(error.into())
        }
    }
}

/// Posts `diagnostic` to `/runtime/init/error`. Outside Lambda (no
/// `AWS_LAMBDA_RUNTIME_API`) there is nobody to tell: the log line is all.
pub async fn report_init_error(diagnostic: &Diagnostic) -> Result<(), ReportError> {
    let Ok(address) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return Ok(());
    };
    let base = Uri::try_from(address.as_str()).map_err(|e| ReportError::Address(address, e))?;
    let request = build_request()
        .method(Method::POST)
        .uri(INIT_ERROR_PATH)
        .header(ERROR_TYPE_HEADER, INIT_ERROR_TYPE)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(diagnostic)?))?;
    let client = PooledClient::builder().with_endpoint(base).build();
    let response = client.call(request).await.map_err(ReportError::Send)?;
    if !response.status().is_success() {
        return Err(ReportError::Refused(response.status()));
    }
    Ok(())
}

/// An invocation's deadline (Unix ms, from `Lambda-Runtime-Deadline-Ms`), or
/// `None` if it had already passed when the event arrived. Lambda always sends
/// a deadline in the future; `cargo lambda watch` sends the constant 600000
/// (1970), with which `reduce` would hand every walk on to a new message and
/// never merge anything.
pub fn live_deadline(deadline_ms: u64) -> Option<u64> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    (u128::from(deadline_ms) > now_ms).then_some(deadline_ms)
}

#[cfg(test)]
mod tests {
    use super::live_deadline;
    use std::time::{SystemTime, UNIX_EPOCH};

    #[test]
    fn a_deadline_already_past_is_no_deadline() {
        assert_eq!(
            live_deadline(600_000),
            None,
            "cargo lambda watch's constant"
        );
        let in_30_s = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64 + 30_000)
            .expect("after 1970");
        assert_eq!(live_deadline(in_30_s), Some(in_30_s));
    }
}
