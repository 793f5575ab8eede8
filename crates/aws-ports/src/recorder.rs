//! Records which IAM actions the SDK clients needed on which resource, for
//! the test that compares them with template.yaml's grants. Test-only: built
//! with the `test-ports` feature, which the Lambdas never enable.

use crate::counting::action_of_request;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

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
