//! The Lambda-facing layer: the HTTP API as one axum Router (`api`), and SQS
//! batches turned into step calls and step results into the responses Lambda
//! expects (`sqs`).
//!
//! The Lambda binaries and the local runner both call these functions, so a
//! request answered locally is answered the same way when deployed.

pub mod answer;
pub mod api;
mod body;
pub mod lambda;
pub mod metrics;
mod objects;
pub mod payload;
pub mod sqs;
pub mod wire;

pub use answer::ApiError;
pub use api::router;
pub use payload::MAX_BODY_BYTES;

/// What every route handler shares: the ports and the settings.
pub(crate) struct Api {
    pub(crate) ports: pipeline::Ports,
    pub(crate) config: pipeline::Config,
}

pub(crate) type Shared = axum::extract::State<std::sync::Arc<Api>>;
pub use metrics::Metrics;
pub use payload::{event_body_bytes, LAMBDA_EVENT_LIMIT};
pub use sqs::{handle_reduce, handle_times_two, measure_reduce, measure_times_two, sqs_event};

/// Logs for Lambda, set up by the runtime crate itself, so they follow the
/// function's `LoggingConfig` (template.yaml Globals): JSON lines when Lambda
/// sets `AWS_LAMBDA_LOG_FORMAT=JSON`, the level from `AWS_LAMBDA_LOG_LEVEL`
/// (else `RUST_LOG`, else `info`). JSON lines carry the spans they were logged
/// in, so the runtime's `requestId`, the function (`times_two`, `reduce`), the
/// `array_id` and the walk's `packet_id` are on every line a step writes;
/// Lambda's application log level filters on their `level` field.
pub fn init_lambda_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}
