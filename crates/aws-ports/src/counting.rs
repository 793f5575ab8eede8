//! Counts the requests the SDK clients really send, by service and operation,
//! for the benchmark's cost figures. Retries count: AWS bills every attempt.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Requests sent for one operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    pub requests: u64,
    /// Bytes of request bodies (SQS bills each started 64 KiB as one request).
    pub bytes: u64,
    /// Requests as SQS bills them: one per started 64 KiB of payload.
    pub billed: u64,
}

/// An SDK interceptor that tallies requests; clones share one tally.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    tally: Arc<Mutex<BTreeMap<(String, String), Sent>>>,
}

impl RequestCounter {
    pub fn new() -> RequestCounter {
        RequestCounter::default()
    }

    /// `(service, operation) -> Sent`, e.g. `("SQS", "SendMessageBatch")`.
    pub fn snapshot(&self) -> BTreeMap<(String, String), Sent> {
        self.tally.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Forgets everything counted so far.
    pub fn reset(&self) {
        if let Ok(mut t) = self.tally.lock() {
            t.clear();
        }
    }
}

const SQS_BILLING_CHUNK: u64 = 64 * 1024;

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        let bytes = context.request().body().content_length().unwrap_or(0);
        if let Ok(mut tally) = self.tally.lock() {
            let sent = tally.entry((service, operation)).or_default();
            sent.requests += 1;
            sent.bytes += bytes;
            sent.billed += bytes.div_ceil(SQS_BILLING_CHUNK).max(1);
        }
        Ok(())
    }
}
