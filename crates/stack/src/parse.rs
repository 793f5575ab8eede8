//! Reading the template. Serde gives its skeleton (parameters, globals,
//! resources by logical id, in order); inside a resource each property is
//! read by its path, `"Properties.RedrivePolicy.maxReceiveCount"`, and that
//! one string is both where to look and what an error names, so a typo in
//! `template.yaml` is reported as `Q: Properties.… is missing`.
//!
//! Why not a serde struct per resource type: serde_yaml_ng's errors carry no
//! path, and the values that may be intrinsics (`!Ref X` or `{Ref: X}`) stay
//! YAML values either way (serde reads the tag form into an enum, not the
//! mapping form), so structs would add the shapes without removing the checks.

use crate::{
    iam, objects_of, AttributeType, BucketSpec, EnvValue, FunctionSpec, Grant, QueueSpec, Redrive,
    SqsEventSpec, Stack, StackError, TableSpec, DEFAULT_BATCH_SIZE, DEFAULT_FUNCTION_MEMORY_MB,
    DEFAULT_FUNCTION_TIMEOUT, DEFAULT_MAXIMUM_MESSAGE_SIZE, DEFAULT_RETENTION,
    DEFAULT_VISIBILITY_TIMEOUT,
};
use serde::Deserialize;
use serde_yaml_ng::{Mapping, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const QUEUE: &str = "AWS::SQS::Queue";
const TABLE: &str = "AWS::DynamoDB::Table";
const FUNCTION: &str = "AWS::Serverless::Function";
const EVENT_SOURCE_MAPPING: &str = "AWS::Lambda::EventSourceMapping";
const BUCKET: &str = "AWS::S3::Bucket";
/// The S3 event a bucket's notifications may send: the pipeline sums new objects.
const OBJECT_CREATED: &str = "s3:ObjectCreated:*";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Template {
    #[serde(default)]
    parameters: BTreeMap<String, Value>,
    #[serde(default)]
    globals: Value,
    /// A mapping rather than a map type, to keep the template's order.
    resources: Option<Mapping>,
}

/// One section of the template (a resource, `Globals`, a parameter), whose
/// values are read by path.
#[derive(Clone, Copy)]
struct At<'a> {
    resource: &'a str,
    body: &'a Value,
}

impl<'a> At<'a> {
    fn missing(self, property: &str) -> StackError {
        StackError::Missing {
            resource: self.resource.to_string(),
            property: property.to_string(),
        }
    }

    fn invalid(self, property: &str, problem: impl Into<String>) -> StackError {
        StackError::Invalid {
            resource: self.resource.to_string(),
            property: property.to_string(),
            problem: problem.into(),
        }
    }

    /// The value at a dotted `path`; `None` when absent or null.
    fn get(self, path: &str) -> Option<&'a Value> {
        let value = path.split('.').try_fold(self.body, |v, key| v.get(key))?;
        (!value.is_null()).then_some(value)
    }

    fn required(self, path: &str) -> Result<&'a Value, StackError> {
        self.get(path).ok_or_else(|| self.missing(path))
    }

    fn string(self, value: &Value, path: &str) -> Result<String, StackError> {
        scalar_text(value).ok_or_else(|| self.invalid(path, "must be a plain string"))
    }

    fn count(self, value: &Value, path: &str) -> Result<u64, StackError> {
        let parsed = match value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed.ok_or_else(|| self.invalid(path, "must be a non-negative integer"))
    }

    fn seconds(self, path: &str) -> Result<Option<Duration>, StackError> {
        let seconds = self.get(path).map(|v| self.count(v, path)).transpose()?;
        Ok(seconds.map(Duration::from_secs))
    }

    /// A function's `MemorySize` at `path`, in MB: Lambda takes 128 to
    /// 10,240.
    fn memory_mb(self, path: &str) -> Result<Option<u32>, StackError> {
        let Some(value) = self.get(path) else {
            return Ok(None);
        };
        match self.count(value, path)? {
            mb @ 128..=10_240 => Ok(Some(mb as u32)),
            _ => Err(self.invalid(path, "must be 128 to 10240 (MB)")),
        }
    }

    /// The list at `path` (empty when absent).
    fn list(self, path: &str) -> Result<&'a [Value], StackError> {
        match self.get(path) {
            None => Ok(&[]),
            Some(Value::Sequence(items)) => Ok(items),
            Some(_) => Err(self.invalid(path, "must be a list")),
        }
    }
}

/// A scalar as CloudFormation would pass it: numbers and booleans as text.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Target of `!Ref X` or `{Ref: X}`.
fn ref_target(value: &Value) -> Option<&str> {
    match value {
        Value::Tagged(t) if t.tag == "Ref" => t.value.as_str(),
        Value::Mapping(m) if m.len() == 1 => m.get("Ref").and_then(Value::as_str),
        _ => None,
    }
}

/// `(resource, attribute)` of `!GetAtt X.Attr`, `!GetAtt [X, Attr]` or `{Fn::GetAtt: ...}`.
fn get_att(value: &Value) -> Option<(&str, &str)> {
    let inner = match value {
        Value::Tagged(t) if t.tag == "GetAtt" => &t.value,
        Value::Mapping(m) if m.len() == 1 => m.get("Fn::GetAtt")?,
        _ => return None,
    };
    match inner {
        Value::String(s) => s.split_once('.'),
        Value::Sequence(parts) if parts.len() == 2 => {
            Some((parts[0].as_str()?, parts[1].as_str()?))
        }
        _ => None,
    }
}

/// The bucket X of `!Sub "${X.Arn}/*"` or `{Fn::Sub: "${X.Arn}/*"}`: the
/// ARN of every object in X, the one wildcard a policy may hold.
fn objects_arn(value: &Value) -> Option<&str> {
    let text = match value {
        Value::Tagged(t) if t.tag == "Sub" => t.value.as_str()?,
        Value::Mapping(m) if m.len() == 1 => m.get("Fn::Sub")?.as_str()?,
        _ => return None,
    };
    text.strip_prefix("${")?.strip_suffix(".Arn}/*")
}

/// Name of an intrinsic this crate does not resolve, for the error message.
fn intrinsic_name(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(t) => Some(t.tag.to_string()),
        Value::Mapping(m) if m.len() == 1 => m
            .keys()
            .next()
            .and_then(Value::as_str)
            .filter(|k| *k == "Ref" || k.starts_with("Fn::"))
            .map(str::to_string),
        _ => None,
    }
}

pub(crate) fn stack(text: &str) -> Result<Stack, StackError> {
    let template: Template = serde_yaml_ng::from_str(text)?;
    let top = At {
        resource: "template",
        body: &Value::Null,
    };
    let mut refs = Refs {
        parameters: parameters(&template.parameters)?,
        types: BTreeMap::new(),
    };
    let resources = template.resources.ok_or_else(|| top.missing("Resources"))?;
    let mut sections = Vec::new();
    for (id, body) in &resources {
        let id = id
            .as_str()
            .ok_or_else(|| top.invalid("Resources", "has a non-string logical id"))?;
        let at = At { resource: id, body };
        let kind = at.string(at.required("Type")?, "Type")?;
        refs.types.insert(id.to_string(), kind.clone());
        sections.push((at, kind));
    }
    let globals = At {
        resource: "Globals",
        body: &template.globals,
    };
    let mut stack = Stack {
        parameters: refs.parameters.clone(),
        queues: Vec::new(),
        tables: Vec::new(),
        functions: Vec::new(),
        buckets: Vec::new(),
    };
    for (at, kind) in &sections {
        match kind.as_str() {
            QUEUE => stack.queues.push(queue(*at, &refs)?),
            TABLE => stack.tables.push(table(*at)?),
            FUNCTION => stack.functions.push(function(*at, globals, &refs)?),
            BUCKET => stack.buckets.push(bucket(*at, &refs)?),
            _ => {}
        }
    }
    for (at, _) in sections
        .iter()
        .filter(|(_, kind)| kind == EVENT_SOURCE_MAPPING)
    {
        attach_mapping(*at, &mut stack, &refs)?;
    }
    check_redrive_cycles(&stack)?;
    Ok(stack)
}

fn parameters(section: &BTreeMap<String, Value>) -> Result<BTreeMap<String, String>, StackError> {
    let mut defaults = BTreeMap::new();
    for (name, body) in section {
        let resource = format!("Parameters.{name}");
        let at = At {
            resource: &resource,
            body,
        };
        let default = at
            .get("Default")
            .ok_or_else(|| at.missing("Default (the local runner needs a value)"))?;
        defaults.insert(name.clone(), at.string(default, "Default")?);
    }
    Ok(defaults)
}

/// What references may point at.
struct Refs {
    parameters: BTreeMap<String, String>,
    /// Logical id -> Type.
    types: BTreeMap<String, String>,
}

impl Refs {
    /// `id`, checked to be a resource of type `kind` (a `what`, in messages).
    fn typed(
        &self,
        at: At,
        id: &str,
        (kind, what): (&str, &str),
        path: &str,
    ) -> Result<String, StackError> {
        match self.types.get(id).map(String::as_str) {
            Some(k) if k == kind => Ok(id.to_string()),
            Some(other) => Err(at.invalid(path, format!("names {id}, a {other}, not a {what}"))),
            None => Err(at.invalid(path, format!("names {id}, which is not a resource"))),
        }
    }

    /// The queue behind the `!GetAtt X.Arn` at `path`.
    fn queue_arn(&self, at: At, path: &str) -> Result<String, StackError> {
        match get_att(at.required(path)?) {
            Some((id, "Arn")) => self.typed(at, id, (QUEUE, "queue"), path),
            Some((id, attribute)) => Err(at.invalid(
                path,
                format!("must be `!GetAtt {id}.Arn`, not .{attribute}"),
            )),
            None => Err(at.invalid(path, "must be `!GetAtt <Queue>.Arn`")),
        }
    }

    /// The count at `path`, which may be `!Ref <Parameter>` (its default).
    fn count_u32(&self, at: At, path: &str) -> Result<Option<u32>, StackError> {
        let Some(value) = at.get(path) else {
            return Ok(None);
        };
        let count = match ref_target(value) {
            None => at.count(value, path)?,
            Some(target) => match self.parameters.get(target) {
                Some(default) => at.count(&Value::String(default.clone()), path)?,
                None => {
                    return Err(at.invalid(
                        path,
                        format!("refers to {target}, which is not a parameter"),
                    ))
                }
            },
        };
        u32::try_from(count)
            .map(Some)
            .map_err(|_| at.invalid(path, "is too large"))
    }

    /// Like [`Refs::count_u32`], refusing 0.
    fn positive(&self, at: At, path: &str) -> Result<Option<u32>, StackError> {
        match self.count_u32(at, path)? {
            Some(0) => Err(at.invalid(path, "must be at least 1")),
            count => Ok(count),
        }
    }

    fn env_value(&self, at: At, value: &Value, path: &str) -> Result<EnvValue, StackError> {
        if let Some(target) = ref_target(value) {
            return if self.parameters.contains_key(target) {
                Ok(EnvValue::Parameter(target.to_string()))
            } else if self.types.contains_key(target) {
                Ok(EnvValue::Resource(target.to_string()))
            } else {
                let problem =
                    format!("refers to {target}, which is neither a parameter nor a resource");
                Err(at.invalid(path, problem))
            };
        }
        if let Some(name) = intrinsic_name(value) {
            return Err(at.invalid(
                path,
                format!("uses {name}; only literals and !Ref are supported"),
            ));
        }
        scalar_text(value)
            .map(EnvValue::Literal)
            .ok_or_else(|| at.invalid(path, "must be a string, a number or a !Ref"))
    }

    /// The resource behind a policy's `!GetAtt X.Arn` or `!Ref X`, or
    /// [`objects_of`] the bucket X for `!Sub "${X.Arn}/*"`.
    fn granted(&self, at: At, value: &Value, path: &str) -> Result<String, StackError> {
        if let Some(bucket) = objects_arn(value) {
            return self
                .typed(at, bucket, (BUCKET, "bucket"), path)
                .map(|b| objects_of(&b));
        }
        let id = match (get_att(value), ref_target(value)) {
            (Some((id, "Arn")), _) | (_, Some(id)) => id,
            _ => {
                let text = serde_yaml_ng::to_string(value).unwrap_or_default();
                let problem = format!(
                    "must name a resource of this template (`!GetAtt X.Arn`, `!Ref X` or, \
                     for a bucket's objects, `!Sub \"${{X.Arn}}/*\"`), not {}",
                    text.trim_end()
                );
                return Err(at.invalid(path, problem));
            }
        };
        match self.types.contains_key(id) {
            true => Ok(id.to_string()),
            false => Err(at.invalid(path, format!("names {id}, which is not a resource"))),
        }
    }
}

fn queue(at: At, refs: &Refs) -> Result<QueueSpec, StackError> {
    let redrive = match at.get("Properties.RedrivePolicy") {
        None => None,
        Some(_) => {
            at.required("Properties.RedrivePolicy.deadLetterTargetArn")?;
            let count = "Properties.RedrivePolicy.maxReceiveCount";
            Some(Redrive {
                max_receive_count: refs.positive(at, count)?.ok_or_else(|| at.missing(count))?,
                dead_letter: refs.queue_arn(at, "Properties.RedrivePolicy.deadLetterTargetArn")?,
            })
        }
    };
    Ok(QueueSpec {
        logical_id: at.resource.to_string(),
        visibility_timeout: at
            .seconds("Properties.VisibilityTimeout")?
            .unwrap_or(DEFAULT_VISIBILITY_TIMEOUT),
        retention: at
            .seconds("Properties.MessageRetentionPeriod")?
            .unwrap_or(DEFAULT_RETENTION),
        maximum_message_size: refs
            .positive(at, "Properties.MaximumMessageSize")?
            .map_or(DEFAULT_MAXIMUM_MESSAGE_SIZE, |n: u32| n as usize),
        redrive,
    })
}

fn table(at: At) -> Result<TableSpec, StackError> {
    let mut attributes = BTreeMap::new();
    for (i, definition) in at
        .list("Properties.AttributeDefinitions")?
        .iter()
        .enumerate()
    {
        let path = |key: &str| format!("Properties.AttributeDefinitions[{i}].{key}");
        let name = definition.get("AttributeName").and_then(scalar_text);
        let name = name.ok_or_else(|| at.missing(&path("AttributeName")))?;
        let kind = match definition.get("AttributeType").and_then(Value::as_str) {
            Some("S") => AttributeType::S,
            Some("N") => AttributeType::N,
            Some("B") => AttributeType::B,
            _ => return Err(at.invalid(&path("AttributeType"), "must be S, N or B")),
        };
        attributes.insert(name, kind);
    }
    let (mut hash_key, mut range_key) = (None, None);
    for (i, key) in at.list("Properties.KeySchema")?.iter().enumerate() {
        let path = |field: &str| format!("Properties.KeySchema[{i}].{field}");
        let name = key.get("AttributeName").and_then(scalar_text);
        let name = name.ok_or_else(|| at.missing(&path("AttributeName")))?;
        if !attributes.contains_key(&name) {
            let problem = format!("is {name}, which AttributeDefinitions does not define");
            return Err(at.invalid(&path("AttributeName"), problem));
        }
        let (slot, kind) = match key.get("KeyType").and_then(Value::as_str) {
            Some("HASH") => (&mut hash_key, "HASH"),
            Some("RANGE") => (&mut range_key, "RANGE"),
            _ => return Err(at.invalid(&path("KeyType"), "must be HASH or RANGE")),
        };
        if slot.replace(name).is_some() {
            return Err(at.invalid(
                "Properties.KeySchema",
                format!("has more than one {kind} key"),
            ));
        }
    }
    let ttl = "Properties.TimeToLiveSpecification";
    let ttl_attribute = match at.get(&format!("{ttl}.Enabled")).map(Value::as_bool) {
        None | Some(Some(false)) => None,
        Some(Some(true)) => {
            let name = format!("{ttl}.AttributeName");
            Some(at.string(at.required(&name)?, &name)?)
        }
        Some(None) => return Err(at.invalid(&format!("{ttl}.Enabled"), "must be true or false")),
    };
    Ok(TableSpec {
        logical_id: at.resource.to_string(),
        hash_key: hash_key.ok_or_else(|| at.invalid("Properties.KeySchema", "has no HASH key"))?,
        range_key,
        attributes,
        ttl_attribute,
    })
}

fn function(at: At, globals: At, refs: &Refs) -> Result<FunctionSpec, StackError> {
    let binary = "Metadata.BuildProperties.Binary";
    let binary = at.string(at.required(binary)?, binary)?;
    let timeout = match at.get("Properties.Timeout") {
        Some(_) => at.seconds("Properties.Timeout")?,
        None => globals.seconds("Function.Timeout")?,
    };
    let memory_mb = match at.get("Properties.MemorySize") {
        Some(_) => at.memory_mb("Properties.MemorySize")?,
        None => globals.memory_mb("Function.MemorySize")?,
    };
    let mut environment = BTreeMap::new();
    let sources = [
        (globals, "Function.Environment.Variables"),
        (at, "Properties.Environment.Variables"),
    ];
    for (who, path) in sources {
        let variables = match who.get(path) {
            None => continue,
            Some(Value::Mapping(variables)) => variables,
            Some(_) => return Err(who.invalid(path, "must be a mapping")),
        };
        for (name, value) in variables {
            let name = who.string(name, path)?;
            let value = refs.env_value(who, value, &format!("{path}.{name}"))?;
            environment.insert(name, value);
        }
    }
    refuse_sam_sqs_events(at)?;
    Ok(FunctionSpec {
        logical_id: at.resource.to_string(),
        binary,
        timeout: timeout.unwrap_or(DEFAULT_FUNCTION_TIMEOUT),
        memory_mb: memory_mb.unwrap_or(DEFAULT_FUNCTION_MEMORY_MB),
        environment,
        logging: logging(at, globals, refs)?,
        grants: grants(at, refs)?,
        sqs_events: Vec::new(),
    })
}

/// The variables Lambda sets from `LoggingConfig`: the format always, the
/// application log level only for JSON (Lambda filters JSON lines by it).
fn logging(at: At, globals: At, refs: &Refs) -> Result<BTreeMap<String, EnvValue>, StackError> {
    let setting = |name: &str| {
        let own = format!("Properties.LoggingConfig.{name}");
        let global = format!("Function.LoggingConfig.{name}");
        match at.get(&own) {
            Some(v) => refs.env_value(at, v, &own).map(Some),
            None => globals
                .get(&global)
                .map(|v| refs.env_value(globals, v, &global))
                .transpose(),
        }
    };
    let mut env = BTreeMap::new();
    let Some(format) = setting("LogFormat")? else {
        return Ok(env);
    };
    let json = matches!(&format, EnvValue::Literal(f) if f == "JSON");
    env.insert("AWS_LAMBDA_LOG_FORMAT".to_string(), format);
    if let (true, Some(level)) = (json, setting("ApplicationLogLevel")?) {
        env.insert("AWS_LAMBDA_LOG_LEVEL".to_string(), level);
    }
    Ok(env)
}

/// SAM's `Type: SQS` event attaches AWSLambdaSQSQueueExecutionRole, which may
/// receive from and delete in every queue of the account.
fn refuse_sam_sqs_events(at: At) -> Result<(), StackError> {
    let Some(Value::Mapping(events)) = at.get("Properties.Events") else {
        return Ok(());
    };
    match events
        .iter()
        .find(|(_, e)| e.get("Type").and_then(Value::as_str) == Some("SQS"))
    {
        Some((name, _)) => Err(at.invalid(
            &format!(
                "Properties.Events.{}",
                scalar_text(name).unwrap_or_default()
            ),
            "is a SAM SQS event, whose managed policy covers every queue of the account: \
             declare an AWS::Lambda::EventSourceMapping and grant the function its own queue",
        )),
        None => Ok(()),
    }
}

/// A function's inline `Policies`, as (action, resource) grants. Only plain
/// `Statement` policies are accepted, each statement an `Allow` of named
/// actions on resources of this template: SAM policy templates, managed
/// policy names, wildcard resources, `NotAction` and conditions are refused,
/// because the tests compare these grants with what the code calls and a
/// grant they cannot see is a grant nobody checks.
fn grants(at: At, refs: &Refs) -> Result<BTreeSet<Grant>, StackError> {
    let mut grants = BTreeSet::new();
    for (i, policy) in at.list("Properties.Policies")?.iter().enumerate() {
        let path = format!("Properties.Policies[{i}]");
        let statements = policy.get("Statement").and_then(items).ok_or_else(|| {
            at.invalid(
                &path,
                "must be an inline policy with a Statement list (policy templates \
                 and managed policies hide their actions from the tests)",
            )
        })?;
        for (j, statement) in statements.into_iter().enumerate() {
            let statement = At {
                resource: at.resource,
                body: statement,
            };
            grants.extend(statement_grants(
                statement,
                &format!("{path}.Statement[{j}]"),
                refs,
            )?);
        }
    }
    Ok(grants)
}

/// One statement's grants; `path` is the statement's, for messages.
fn statement_grants(statement: At, path: &str, refs: &Refs) -> Result<Vec<Grant>, StackError> {
    let at = |key: &str| format!("{path}.{key}");
    if !statement.body.is_mapping() {
        return Err(statement.invalid(path, "must be a mapping"));
    }
    for key in ["NotAction", "NotResource", "Condition", "Principal"] {
        if statement.get(key).is_some() {
            return Err(statement.invalid(path, format!("uses {key}, which is not supported")));
        }
    }
    if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
        return Err(statement.invalid(&at("Effect"), "must be Allow"));
    }
    let listed = |key: &str| {
        statement
            .get(key)
            .and_then(items)
            .ok_or_else(|| statement.missing(&at(key)))
    };
    let actions = listed("Action")?
        .into_iter()
        .map(|a| {
            a.as_str()
                .ok_or_else(|| statement.invalid(&at("Action"), "must be action names"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let resources = listed("Resource")?
        .into_iter()
        .map(|r| refs.granted(statement, r, &at("Resource")))
        .collect::<Result<Vec<_>, _>>()?;
    let grants: Vec<Grant> = actions
        .iter()
        .flat_map(|a| resources.iter().map(move |r| Grant::new(*a, r)))
        .collect();
    for grant in &grants {
        check_s3_resource_kind(statement, grant, &at("Resource"))?;
    }
    Ok(grants)
}

/// An S3 object action granted on a bucket, or a bucket action on its
/// objects, allows nothing (IAM matches each against its own kind of ARN):
/// refused, as the intended grant is surely the other one.
fn check_s3_resource_kind(statement: At, grant: &Grant, path: &str) -> Result<(), StackError> {
    let on_objects = grant.resource.ends_with("/*");
    let wants_objects = iam::is_object_action(&grant.action);
    if !on_objects && !wants_objects {
        return Ok(());
    }
    let bucket = grant.resource.trim_end_matches("/*");
    let problem = match (wants_objects, on_objects) {
        (true, false) => format!(
            "grants {}, an object action, on the bucket {bucket}: \
             grant it on its objects, `!Sub \"${{{bucket}.Arn}}/*\"`",
            grant.action
        ),
        (false, true) => format!(
            "grants {} on the objects of {bucket}: it applies to the bucket, `!GetAtt {bucket}.Arn`",
            grant.action
        ),
        _ => return Ok(()),
    };
    Err(statement.invalid(path, problem))
}

/// An `AWS::S3::Bucket`: what provisioning needs. Its notifications may only
/// send `s3:ObjectCreated:*` to one queue of this template, the one the
/// pipeline's event source mapping polls.
fn bucket(at: At, refs: &Refs) -> Result<BucketSpec, StackError> {
    let status = "Properties.VersioningConfiguration.Status";
    let versioned = match at.get(status).map(Value::as_str) {
        None => false,
        Some(Some("Enabled")) => true,
        Some(Some("Suspended")) => false,
        Some(_) => return Err(at.invalid(status, "must be Enabled or Suspended")),
    };
    let path = "Properties.NotificationConfiguration.QueueConfigurations";
    let object_created_queue = match at.list(path)? {
        [] => None,
        [only] => Some(notification_queue(at, only, &format!("{path}[0]"), refs)?),
        _ => return Err(at.invalid(path, "has more than one queue; one is supported")),
    };
    for other in [
        "LambdaConfigurations",
        "TopicConfigurations",
        "EventBridgeConfiguration",
    ] {
        let path = format!("Properties.NotificationConfiguration.{other}");
        if at.get(&path).is_some() {
            return Err(at.invalid(&path, "is not supported: notifications go to a queue"));
        }
    }
    let encryption = "Properties.BucketEncryption.ServerSideEncryptionConfiguration";
    let block = |name: &str| {
        at.get(&format!("Properties.PublicAccessBlockConfiguration.{name}"))
            .and_then(Value::as_bool)
            == Some(true)
    };
    Ok(BucketSpec {
        logical_id: at.resource.to_string(),
        versioned,
        object_created_queue,
        encrypted: !at.list(encryption)?.is_empty(),
        public_access_blocked: [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ]
        .iter()
        .all(|name| block(name)),
    })
}

/// The queue of one `QueueConfigurations` entry, at `path`.
fn notification_queue(
    at: At,
    entry: &Value,
    path: &str,
    refs: &Refs,
) -> Result<String, StackError> {
    let entry = At {
        resource: at.resource,
        body: entry,
    };
    let event = format!("{path}.Event");
    if entry.get("Event").and_then(Value::as_str) != Some(OBJECT_CREATED) {
        return Err(at.invalid(&event, format!("must be {OBJECT_CREATED}")));
    }
    if entry.get("Filter").is_some() {
        let filter = format!("{path}.Filter");
        return Err(at.invalid(&filter, "is not supported: every new object is summed"));
    }
    let queue = entry
        .required("Queue")
        .map_err(|_| at.missing(&format!("{path}.Queue")))?;
    match get_att(queue) {
        Some((id, "Arn")) => refs.typed(at, id, (QUEUE, "queue"), &format!("{path}.Queue")),
        _ => Err(at.invalid(&format!("{path}.Queue"), "must be `!GetAtt <Queue>.Arn`")),
    }
}

/// IAM's "a value or a list of values"; `None` for an empty list.
fn items(value: &Value) -> Option<Vec<&Value>> {
    match value {
        Value::Sequence(items) if items.is_empty() => None,
        Value::Sequence(items) => Some(items.iter().collect()),
        single => Some(vec![single]),
    }
}

/// Adds an `AWS::Lambda::EventSourceMapping` to the `sqs_events` of the
/// function it names; a second mapping of one queue to one function is refused
/// (Lambda would invoke it twice per message).
fn attach_mapping(at: At, stack: &mut Stack, refs: &Refs) -> Result<(), StackError> {
    let name = "Properties.FunctionName";
    let function = ref_target(at.required(name)?)
        .ok_or_else(|| at.invalid(name, "must be `!Ref <Function>`"))?;
    let function = refs.typed(at, function, (FUNCTION, "function"), name)?;
    let event = SqsEventSpec {
        queue: refs.queue_arn(at, "Properties.EventSourceArn")?,
        batch_size: refs
            .positive(at, "Properties.BatchSize")?
            .unwrap_or(DEFAULT_BATCH_SIZE),
        batching_window: Duration::from_secs(
            (refs.count_u32(at, "Properties.MaximumBatchingWindowInSeconds")?)
                .unwrap_or(0)
                .into(),
        ),
        maximum_concurrency: refs.count_u32(at, "Properties.ScalingConfig.MaximumConcurrency")?,
        report_batch_item_failures: at
            .list("Properties.FunctionResponseTypes")?
            .iter()
            .any(|t| t.as_str() == Some("ReportBatchItemFailures")),
    };
    let spec = stack
        .functions
        .iter_mut()
        .find(|f| f.logical_id == function);
    let spec = spec.ok_or_else(|| at.invalid(name, "names no function"))?;
    if spec.sqs_events.iter().any(|e| e.queue == event.queue) {
        let problem = format!(
            "names {function}, which already has an event source mapping on {}",
            event.queue
        );
        return Err(at.invalid(name, problem));
    }
    spec.sqs_events.push(event);
    Ok(())
}

/// Refuses a chain of redrive policies that loops back on itself, which SQS
/// would accept but no creation order can satisfy.
fn check_redrive_cycles(stack: &Stack) -> Result<(), StackError> {
    for start in &stack.queues {
        let mut seen = BTreeSet::new();
        let mut current = start;
        while let Some(r) = &current.redrive {
            if !seen.insert(current.logical_id.as_str()) {
                let at = At {
                    resource: &start.logical_id,
                    body: &Value::Null,
                };
                return Err(at.invalid(
                    "Properties.RedrivePolicy",
                    "forms a cycle of dead-letter queues",
                ));
            }
            match stack.queue(&r.dead_letter) {
                Some(next) => current = next,
                None => break,
            }
        }
    }
    Ok(())
}
