//! Counts the requests the SDK clients really send, by service and operation,
//! for the benchmark's cost figures (retries count: AWS bills every attempt),
//! and records which IAM actions they needed on which resource, for the test
//! that compares them with template.yaml's grants.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use std::collections::{BTreeMap, BTreeSet};
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

/// One request as IAM authorises it: the action and the resource the client
/// that sent it is bound to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Call {
    /// e.g. `sqs:SendMessage` for a `SendMessageBatch` request (see [`stack_names::iam`]).
    pub action: String,
    /// The label given to [`CallRecorder::on`]: which queue or table.
    pub resource: String,
}

/// One DynamoDB request as sent, for checks on what it asked of the table:
/// which table it named, and whether it asked for a strongly consistent read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoRequest {
    /// The operation, e.g. `GetItem`, `Query`.
    pub operation: String,
    /// The label given to [`CallRecorder::on`]: which table the client is for.
    pub resource: String,
    /// The tables the request names: its `TableName`, or the keys of a
    /// batch's `RequestItems`, or each `TransactItems` entry's `TableName`.
    pub tables: Vec<String>,
    /// The request's `ConsistentRead`; `None` when absent (an eventually
    /// consistent read, for a read operation).
    pub consistent_read: Option<bool>,
}

/// Records which IAM actions the SDK clients needed, by resource, so a test
/// can compare what the code calls with what the template grants, and every
/// DynamoDB request's table and read consistency, which moto neither
/// authorises by table nor serves inconsistently. Clones share one record.
#[derive(Debug, Clone, Default)]
pub struct CallRecorder {
    calls: Arc<Mutex<BTreeSet<Call>>>,
    dynamodb: Arc<Mutex<Vec<DynamoRequest>>>,
}

impl CallRecorder {
    pub fn new() -> CallRecorder {
        CallRecorder::default()
    }

    /// An interceptor for a client that only talks to `resource`.
    pub fn on(&self, resource: impl Into<String>) -> RecordCalls {
        RecordCalls {
            recorder: self.clone(),
            resource: resource.into(),
        }
    }

    pub fn calls(&self) -> BTreeSet<Call> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Every DynamoDB request attempt, in the order sent.
    pub fn dynamodb_requests(&self) -> Vec<DynamoRequest> {
        self.dynamodb.lock().map(|d| d.clone()).unwrap_or_default()
    }
}

/// The tables a DynamoDB request body names.
fn tables_named(json: &serde_json::Value) -> Vec<String> {
    let mut tables: Vec<String> = json["TableName"]
        .as_str()
        .map(str::to_string)
        .into_iter()
        .collect();
    if let Some(items) = json["RequestItems"].as_object() {
        tables.extend(items.keys().cloned());
    }
    if let Some(items) = json["TransactItems"].as_array() {
        for item in items.iter().filter_map(|i| i.as_object()) {
            tables.extend(
                item.values()
                    .filter_map(|action| action["TableName"].as_str())
                    .map(str::to_string),
            );
        }
    }
    tables
}

/// The DynamoDB request in flight, from its JSON body (DynamoDB's protocol
/// is JSON, and the SDK's bodies are in memory before they are sent).
fn dynamodb_request(cfg: &ConfigBag, body: Option<&[u8]>, resource: &str) -> Option<DynamoRequest> {
    let m = cfg.load::<Metadata>()?;
    if stack_names::iam::prefix_of(m.service()) != "dynamodb" {
        return None;
    }
    let json: serde_json::Value = body
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_default();
    Some(DynamoRequest {
        operation: m.name().to_string(),
        resource: resource.to_string(),
        tables: tables_named(&json),
        consistent_read: json["ConsistentRead"].as_bool(),
    })
}

/// The interceptor [`CallRecorder::on`] makes: every attempt is recorded,
/// since every attempt must be authorised.
#[derive(Debug, Clone)]
pub struct RecordCalls {
    recorder: CallRecorder,
    resource: String,
}

impl Intercept for RecordCalls {
    fn name(&self) -> &'static str {
        "RecordCalls"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let action = action_of_request(cfg, context.request().uri())
            .unwrap_or_else(|| "unknown:unknown".to_string());
        if let Ok(mut calls) = self.recorder.calls.lock() {
            calls.insert(Call {
                action,
                resource: self.resource.clone(),
            });
        }
        let body = context.request().body().bytes();
        if let Some(request) = dynamodb_request(cfg, body, &self.resource) {
            if let Ok(mut requests) = self.recorder.dynamodb.lock() {
                requests.push(request);
            }
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
fn action_of_request(cfg: &ConfigBag, uri: &str) -> Option<String> {
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
