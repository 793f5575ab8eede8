//! The adder's stack as described by `template.yaml`, in plain structs.
//!
//! The SAM template at the repository root is the single source of truth for
//! the queues, tables and functions: CloudFormation deploys it to AWS, and the
//! local runner and the tests read it through this crate to create the same
//! queues and tables (on moto or in memory) and to play the same event source
//! mappings. The functions' inline policies are read too, as (action,
//! resource) grants, so the tests can compare them with what the code calls.
//! The input bucket is read for what provisioning and the tests need
//! (versioning, where its notifications go). Everything else in the template
//! (the API, queues' SSE settings, the queue policy that lets S3 send to the
//! notification queue, alarms...) is ignored: the local runner does not need
//! it, and crates/stack/tests/security.rs checks it on the YAML itself.
//!
//! CloudFormation's short-form intrinsics (`!Ref X`, `!GetAtt X.Arn`) arrive
//! from `serde_yaml_ng` as tagged values; their long forms (`{Ref: X}`,
//! `{Fn::GetAtt: [X, Arn]}`) are accepted too.

pub use stack_names::iam;
mod parse;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The repository's `template.yaml`, compiled in so binaries and tests read
/// the same file CloudFormation deploys.
pub const TEMPLATE: &str = include_str!("../../../template.yaml");

/// SQS's visibility timeout when a queue does not set one.
pub const DEFAULT_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(30);
/// SQS's largest message when a queue does not set `MaximumMessageSize`
/// (1 MiB since 2025).
pub const DEFAULT_MAXIMUM_MESSAGE_SIZE: usize = 1024 * 1024;
/// SQS's retention period when a queue does not set one (4 days).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(345_600);
/// Lambda's timeout when neither the function nor `Globals` sets one.
pub const DEFAULT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(3);
/// Lambda's memory, in MB, when neither the function nor `Globals` sets
/// `MemorySize`.
pub const DEFAULT_FUNCTION_MEMORY_MB: u32 = 128;
/// An SQS event source's batch size when the template does not set one.
pub const DEFAULT_BATCH_SIZE: u32 = 10;

/// Why a template could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("the template is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    #[error("{resource}: {property} is missing")]
    Missing { resource: String, property: String },
    #[error("{resource}: {property} {problem}")]
    Invalid {
        resource: String,
        property: String,
        problem: String,
    },
    #[error("{function}: environment variable {variable} refers to {target}, which {problem}")]
    Unresolved {
        function: String,
        variable: String,
        target: String,
        problem: String,
    },
}

/// The parts of the template the runner, the provisioner and the tests use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    /// Each parameter's `Default`, as text (CloudFormation passes parameters
    /// as strings). Every parameter must have one: the local runner has no
    /// other way to get a value.
    pub parameters: BTreeMap<String, String>,
    /// In template order.
    pub queues: Vec<QueueSpec>,
    /// In template order.
    pub tables: Vec<TableSpec>,
    /// In template order.
    pub functions: Vec<FunctionSpec>,
    /// In template order.
    pub buckets: Vec<BucketSpec>,
}

/// An `AWS::S3::Bucket`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSpec {
    pub logical_id: String,
    /// `VersioningConfiguration.Status` is `Enabled`.
    pub versioned: bool,
    /// Logical id of the queue its `s3:ObjectCreated:*` notifications go to
    /// (`NotificationConfiguration.QueueConfigurations`).
    pub object_created_queue: Option<String>,
    /// `BucketEncryption` sets a default server-side encryption.
    pub encrypted: bool,
    /// `PublicAccessBlockConfiguration` sets all four blocks.
    pub public_access_blocked: bool,
}

/// An `AWS::SQS::Queue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub logical_id: String,
    pub visibility_timeout: Duration,
    /// `MessageRetentionPeriod`.
    pub retention: Duration,
    /// `MaximumMessageSize`, bytes.
    pub maximum_message_size: usize,
    pub redrive: Option<Redrive>,
}

/// A queue's `RedrivePolicy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redrive {
    /// Logical id of the dead-letter queue (a queue of this template).
    pub dead_letter: String,
    /// Receives after which SQS moves a message to the dead-letter queue.
    pub max_receive_count: u32,
}

/// The type of a key attribute (`AttributeDefinitions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeType {
    S,
    N,
    B,
}

impl AttributeType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeType::S => "S",
            AttributeType::N => "N",
            AttributeType::B => "B",
        }
    }
}

/// An `AWS::DynamoDB::Table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub logical_id: String,
    pub hash_key: String,
    pub range_key: Option<String>,
    /// Types of the key attributes (CreateTable needs them).
    pub attributes: BTreeMap<String, AttributeType>,
    /// The TTL attribute, when `TimeToLiveSpecification` is enabled.
    pub ttl_attribute: Option<String>,
}

/// An `AWS::Serverless::Function`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary`: the cargo binary that implements it.
    pub binary: String,
    /// The function's `Timeout`, else `Globals.Function.Timeout`, else Lambda's 3 s.
    pub timeout: Duration,
    /// The function's `MemorySize` in MB, else `Globals.Function.MemorySize`,
    /// else Lambda's 128: what Lambda bills GB-seconds by.
    pub memory_mb: u32,
    /// `Globals.Function.Environment.Variables` overlaid with the function's own.
    pub environment: BTreeMap<String, EnvValue>,
    /// What Lambda itself sets from `LoggingConfig` (the function's, else the
    /// globals'): `AWS_LAMBDA_LOG_FORMAT`, and `AWS_LAMBDA_LOG_LEVEL` when
    /// the format is JSON, as Lambda does.
    pub logging: BTreeMap<String, EnvValue>,
    /// What its role's inline policies allow.
    pub grants: BTreeSet<Grant>,
    /// The `AWS::Lambda::EventSourceMapping`s that feed it queues, in
    /// template order (one per queue).
    pub sqs_events: Vec<SqsEventSpec>,
}

/// One action a function's role allows on one resource of the template.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    /// An IAM action, e.g. `dynamodb:UpdateItem`.
    pub action: String,
    /// Logical id of the resource (`!GetAtt X.Arn` or `!Ref X` in the
    /// policy), or [`objects_of`] a bucket (`!Sub "${X.Arn}/*"`).
    pub resource: String,
}

/// The resource of a grant on every object of `bucket` (a logical id), as
/// the ARN `arn:aws:s3:::<bucket>/*` is to the bucket's `arn:aws:s3:::<bucket>`.
pub fn objects_of(bucket: &str) -> String {
    format!("{bucket}/*")
}

impl Grant {
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Grant {
        Grant {
            action: action.into(),
            resource: resource.into(),
        }
    }
}

impl std::fmt::Display for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {}", self.action, self.resource)
    }
}

/// What Lambda's SQS poller calls with the function's role: an event source
/// mapping needs these on its queue, and the function's code never calls them.
pub const POLLER_ACTIONS: [&str; 3] = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
];

impl FunctionSpec {
    /// The grants its event source mappings need: [`POLLER_ACTIONS`] on their queues.
    pub fn poller_grants(&self) -> BTreeSet<Grant> {
        self.sqs_events
            .iter()
            .flat_map(|e| POLLER_ACTIONS.map(|a| Grant::new(a, e.queue.clone())))
            .collect()
    }

    /// Its grants for its own code to call: all of them but the poller's.
    pub fn code_grants(&self) -> BTreeSet<Grant> {
        self.grants
            .difference(&self.poller_grants())
            .cloned()
            .collect()
    }

    /// Its distinct actions, whatever the resource.
    pub fn actions(&self) -> BTreeSet<String> {
        self.grants.iter().map(|g| g.action.clone()).collect()
    }
}

/// The value of an environment variable, before deployment fills it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    Literal(String),
    /// `!Ref` to a parameter of the template.
    Parameter(String),
    /// `!Ref` to a resource: a queue's URL, a table's or a bucket's name once it exists.
    Resource(String),
}

/// An SQS event source mapping (`AWS::Lambda::EventSourceMapping`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsEventSpec {
    /// Logical id of the queue it polls.
    pub queue: String,
    pub batch_size: u32,
    /// `MaximumBatchingWindowInSeconds` (0 when absent).
    pub batching_window: Duration,
    /// `ScalingConfig.MaximumConcurrency`.
    pub maximum_concurrency: Option<u32>,
    /// `FunctionResponseTypes` contains `ReportBatchItemFailures`.
    pub report_batch_item_failures: bool,
}

impl Stack {
    /// Reads a SAM template.
    pub fn parse(template: &str) -> Result<Stack, StackError> {
        parse::stack(template)
    }

    /// The repository's `template.yaml`.
    pub fn embedded() -> Result<Stack, StackError> {
        Stack::parse(TEMPLATE)
    }

    pub fn queue(&self, logical_id: &str) -> Option<&QueueSpec> {
        self.queues.iter().find(|q| q.logical_id == logical_id)
    }

    pub fn table(&self, logical_id: &str) -> Option<&TableSpec> {
        self.tables.iter().find(|t| t.logical_id == logical_id)
    }

    pub fn function(&self, logical_id: &str) -> Option<&FunctionSpec> {
        self.functions.iter().find(|f| f.logical_id == logical_id)
    }

    pub fn bucket(&self, logical_id: &str) -> Option<&BucketSpec> {
        self.buckets.iter().find(|b| b.logical_id == logical_id)
    }

    /// A parameter's default.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters.get(name).map(String::as_str)
    }

    /// Queues ordered so that every dead-letter queue comes before the queues
    /// that redrive to it: SQS needs the target's ARN to set a RedrivePolicy.
    /// (Parsing has already refused redrive cycles.)
    pub fn queues_in_creation_order(&self) -> Vec<&QueueSpec> {
        let mut ordered: Vec<&QueueSpec> = Vec::with_capacity(self.queues.len());
        fn visit<'a>(stack: &'a Stack, queue: &'a QueueSpec, ordered: &mut Vec<&'a QueueSpec>) {
            if ordered.iter().any(|q| q.logical_id == queue.logical_id) {
                return;
            }
            if let Some(target) = queue
                .redrive
                .as_ref()
                .and_then(|r| stack.queue(&r.dead_letter))
            {
                visit(stack, target, ordered);
            }
            ordered.push(queue);
        }
        for q in &self.queues {
            visit(self, q, &mut ordered);
        }
        ordered
    }

    /// What Lambda adds to a function's environment from its `LoggingConfig`,
    /// as text (parameters at their defaults).
    pub fn logging_env(
        &self,
        function: &FunctionSpec,
    ) -> Result<BTreeMap<String, String>, StackError> {
        self.resolve(function, &function.logging, |_| None)
    }

    /// A function's environment as text: parameters become their defaults,
    /// resources whatever `resource` says they are once deployed (a queue's
    /// URL, a table's name).
    pub fn resolve_env(
        &self,
        function: &FunctionSpec,
        resource: impl Fn(&str) -> Option<String>,
    ) -> Result<BTreeMap<String, String>, StackError> {
        self.resolve(function, &function.environment, resource)
    }

    /// `variables` of `function` as text.
    fn resolve(
        &self,
        function: &FunctionSpec,
        variables: &BTreeMap<String, EnvValue>,
        resource: impl Fn(&str) -> Option<String>,
    ) -> Result<BTreeMap<String, String>, StackError> {
        let unresolved = |variable: &str, target: &str, problem: &str| StackError::Unresolved {
            function: function.logical_id.clone(),
            variable: variable.to_string(),
            target: target.to_string(),
            problem: problem.to_string(),
        };
        let mut env = BTreeMap::new();
        for (name, value) in variables {
            let text = match value {
                EnvValue::Literal(s) => s.clone(),
                EnvValue::Parameter(p) => self
                    .parameter(p)
                    .ok_or_else(|| unresolved(name, p, "is not a parameter of the template"))?
                    .to_string(),
                EnvValue::Resource(r) => {
                    resource(r).ok_or_else(|| unresolved(name, r, "has not been created"))?
                }
            };
            env.insert(name.clone(), text);
        }
        Ok(env)
    }
}
