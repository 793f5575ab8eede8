//! Counts the requests the SDK clients really send, by service and operation,
//! for the benchmark's cost figures (retries count: AWS bills every attempt),
//! and reports the ones IAM refused, for the local runner's log.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
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

/// Logs every request IAM refused (HTTP 403) as an error naming the action.
/// moto's AccessDenied answer to a JSON-protocol client (DynamoDB, SQS) is
/// XML, which the SDK reports as `Unknown: no message`; this line keeps the
/// action's name in the local runner's log, where the IAM-enforced tests look.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReportDenials;

/// The IAM action of the attempt in flight, kept for [`ReportDenials`],
/// which sees only the response.
#[derive(Debug, Clone)]
struct AttemptAction(String);

impl Storable for AttemptAction {
    type Storer = StoreReplace<Self>;
}

/// The IAM action a request needs: from its operation, and for S3's object
/// reads from its URI too (naming a version needs another action).
pub(crate) fn action_of_request(cfg: &ConfigBag, uri: &str) -> Option<String> {
    let m = cfg.load::<Metadata>()?;
    let prefix = stack_names::iam::prefix_of(m.service());
    Some(stack_names::iam::action_of_request(
        &prefix,
        m.name(),
        names_version(uri),
    ))
}

/// Whether a request's URI has a `versionId` query parameter.
fn names_version(uri: &str) -> bool {
    let query = uri.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .any(|pair| pair.split('=').next() == Some("versionId"))
}

impl Intercept for ReportDenials {
    fn name(&self) -> &'static str {
        "ReportDenials"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(action) = action_of_request(cfg, context.request().uri()) {
            cfg.interceptor_state().store_put(AttemptAction(action));
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        if response.status().as_u16() != 403 {
            return Ok(());
        }
        let action = cfg
            .load::<AttemptAction>()
            .map_or_else(|| "an unknown action".to_string(), |a| a.0.clone());
        let answer = response
            .body()
            .bytes()
            .map(|b| {
                String::from_utf8_lossy(b)
                    .chars()
                    .take(400)
                    .collect::<String>()
            })
            .unwrap_or_default();
        // S3 answers GetObject of an archived object 403 InvalidObjectState:
        // a refusal by the object's storage class, which no grant changes.
        if answer.contains("<Code>InvalidObjectState</Code>") {
            return Ok(());
        }
        tracing::error!(%action, %answer, "IAM denied {action} (HTTP 403)");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_version_is_named_by_the_version_id_parameter() {
        use super::names_version;
        assert!(names_version("http://h/b/k?versionId=abc&x-id=GetObject"));
        assert!(names_version("http://h/b/k?x-id=GetObject&versionId=abc"));
        assert!(!names_version("http://h/b/k?x-id=GetObject"));
        assert!(!names_version("http://h/b/k?versionIdx=1"));
        assert!(!names_version("http://h/b/versionId"));
    }
}
