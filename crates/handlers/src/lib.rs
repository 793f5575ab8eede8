//! The Lambda-facing layer: the HTTP API as one axum Router (`api`), and SQS
//! batches turned into step calls and step results into the responses Lambda
//! expects (`sqs`).
//!
//! The Lambda binaries and the local runner both call these functions, so a
//! request answered locally is answered the same way when deployed.

pub mod api;
pub mod lambda;
pub mod metrics;
pub mod sqs;

pub use api::{router, MAX_BODY_BYTES};
pub use metrics::Metrics;
pub use sqs::{handle_reduce, handle_times_two, measure_reduce, measure_times_two, sqs_event};

/// Logs for Lambda: JSON lines (CloudWatch parses them), level from `RUST_LOG`
/// or Lambda's `AWS_LAMBDA_LOG_LEVEL`, `info` by default.
pub fn init_lambda_tracing() {
    let level = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_LEVEL").map(|l| l.to_lowercase()))
        .unwrap_or_else(|_| "info".to_string());
    let _ = tracing::subscriber::set_global_default(json_subscriber(&level, std::io::stdout));
}

/// The JSON log format: every line carries the spans it was logged in, so the
/// runtime's `requestId`, the function (`times_two`, `reduce`), the `array_id`
/// and the walk's `packet_id` are on every line a step writes.
pub fn json_subscriber<W>(level: &str, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .with_current_span(true)
        .with_span_list(true)
        .without_time()
        .with_target(false)
        .with_writer(writer)
        .finish()
}
