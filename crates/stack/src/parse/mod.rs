//! Walking the template's YAML. Every error names the resource (or section)
//! and the property path, so a typo in `template.yaml` is found at once.

mod mappings;
mod policies;

use crate::{
    AttributeType, EnvValue, FunctionSpec, QueueSpec, Redrive, Stack, StackError, TableSpec,
    DEFAULT_FUNCTION_TIMEOUT, DEFAULT_RETENTION, DEFAULT_VISIBILITY_TIMEOUT,
};
use serde_yaml_ng::{Mapping, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const QUEUE: &str = "AWS::SQS::Queue";
const TABLE: &str = "AWS::DynamoDB::Table";
const FUNCTION: &str = "AWS::Serverless::Function";

/// Where in the template a value sits, for error messages.
#[derive(Clone, Copy)]
struct At<'a> {
    resource: &'a str,
}

impl At<'_> {
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

    /// An optional mapping under `key` of `parent` (`property` is its full path).
    fn mapping<'v>(
        self,
        parent: Option<&'v Mapping>,
        key: &str,
        property: &str,
    ) -> Result<Option<&'v Mapping>, StackError> {
        match parent.and_then(|m| m.get(key)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Mapping(m)) => Ok(Some(m)),
            Some(_) => Err(self.invalid(property, "must be a mapping")),
        }
    }

    fn string(self, value: &Value, property: &str) -> Result<String, StackError> {
        scalar_text(value).ok_or_else(|| self.invalid(property, "must be a plain string"))
    }

    fn seconds(
        self,
        value: Option<&Value>,
        property: &str,
    ) -> Result<Option<Duration>, StackError> {
        value
            .map(|v| self.count(v, property).map(Duration::from_secs))
            .transpose()
    }

    fn count(self, value: &Value, property: &str) -> Result<u64, StackError> {
        let parsed = match value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed.ok_or_else(|| self.invalid(property, "must be a non-negative integer"))
    }

    fn count_u32(self, value: &Value, property: &str) -> Result<u32, StackError> {
        u32::try_from(self.count(value, property)?)
            .map_err(|_| self.invalid(property, "is too large"))
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
fn get_att(value: &Value) -> Option<(String, String)> {
    let inner = match value {
        Value::Tagged(t) if t.tag == "GetAtt" => &t.value,
        Value::Mapping(m) if m.len() == 1 => m.get("Fn::GetAtt")?,
        _ => return None,
    };
    match inner {
        Value::String(s) => {
            let (resource, attribute) = s.split_once('.')?;
            Some((resource.to_string(), attribute.to_string()))
        }
        Value::Sequence(parts) if parts.len() == 2 => Some((
            parts[0].as_str()?.to_string(),
            parts[1].as_str()?.to_string(),
        )),
        _ => None,
    }
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

pub(crate) fn stack(template: &str) -> Result<Stack, StackError> {
    let root: Value = serde_yaml_ng::from_str(template)?;
    let top = At {
        resource: "template",
    };
    let root = match root {
        Value::Mapping(m) => m,
        _ => return Err(top.invalid("(root)", "must be a mapping")),
    };

    let parameters = parameters(top.mapping(Some(&root), "Parameters", "Parameters")?)?;
    let resources = top
        .mapping(Some(&root), "Resources", "Resources")?
        .ok_or_else(|| top.missing("Resources"))?;

    // Logical id -> Type, so references can be checked against what exists.
    let mut types = BTreeMap::new();
    for (id, body) in resources {
        let id = id
            .as_str()
            .ok_or_else(|| top.invalid("Resources", "has a non-string logical id"))?;
        let at = At { resource: id };
        let kind = body
            .get("Type")
            .ok_or_else(|| at.missing("Type"))
            .and_then(|t| at.string(t, "Type"))?;
        types.insert(id.to_string(), kind);
    }
    let refs = Refs {
        parameters: &parameters,
        types: &types,
    };

    let globals = At {
        resource: "Globals",
    }
    .mapping(Some(&root), "Globals", "Globals")
    .and_then(|g| {
        At {
            resource: "Globals",
        }
        .mapping(g, "Function", "Globals.Function")
    })?;

    let mut stack = Stack {
        parameters: parameters.clone(),
        queues: Vec::new(),
        tables: Vec::new(),
        functions: Vec::new(),
    };
    for (id, body) in resources {
        let id = id.as_str().unwrap_or_default();
        let at = At { resource: id };
        let properties = at.mapping(body.as_mapping(), "Properties", "Properties")?;
        match types.get(id).map(String::as_str) {
            Some(QUEUE) => stack.queues.push(queue(at, properties, &refs)?),
            Some(TABLE) => stack.tables.push(table(at, properties)?),
            Some(FUNCTION) => {
                stack
                    .functions
                    .push(function(at, body.as_mapping(), properties, globals, &refs)?)
            }
            _ => {}
        }
    }
    mappings::attach(resources, &mut stack, &refs)?;
    check_redrive_cycles(&stack)?;
    Ok(stack)
}

/// What references may point at.
struct Refs<'a> {
    parameters: &'a BTreeMap<String, String>,
    types: &'a BTreeMap<String, String>,
}

impl Refs<'_> {
    /// The logical id behind `!GetAtt X.Arn`, checked to be a queue.
    fn queue_arn(&self, at: At, value: &Value, property: &str) -> Result<String, StackError> {
        let Some((id, attribute)) = get_att(value) else {
            return Err(at.invalid(property, "must be `!GetAtt <Queue>.Arn`"));
        };
        if attribute != "Arn" {
            return Err(at.invalid(
                property,
                format!("must be `!GetAtt {id}.Arn`, not .{attribute}"),
            ));
        }
        match self.types.get(&id).map(String::as_str) {
            Some(QUEUE) => Ok(id),
            Some(other) => Err(at.invalid(property, format!("names {id}, a {other}, not a queue"))),
            None => Err(at.invalid(property, format!("names {id}, which is not a resource"))),
        }
    }

    /// A count that may be `!Ref <Parameter>`: the parameter's default.
    fn count_u32(&self, at: At, value: &Value, property: &str) -> Result<u32, StackError> {
        let Some(target) = ref_target(value) else {
            return at.count_u32(value, property);
        };
        match self.parameters.get(target) {
            Some(default) => at.count_u32(&Value::String(default.clone()), property),
            None => Err(at.invalid(
                property,
                format!("refers to {target}, which is not a parameter"),
            )),
        }
    }

    fn env_value(&self, at: At, value: &Value, property: &str) -> Result<EnvValue, StackError> {
        if let Some(target) = ref_target(value) {
            return if self.parameters.contains_key(target) {
                Ok(EnvValue::Parameter(target.to_string()))
            } else if self.types.contains_key(target) {
                Ok(EnvValue::Resource(target.to_string()))
            } else {
                Err(at.invalid(
                    property,
                    format!("refers to {target}, which is neither a parameter nor a resource"),
                ))
            };
        }
        if let Some(name) = intrinsic_name(value) {
            return Err(at.invalid(
                property,
                format!("uses {name}; only literals and !Ref are supported"),
            ));
        }
        scalar_text(value)
            .map(EnvValue::Literal)
            .ok_or_else(|| at.invalid(property, "must be a string, a number or a !Ref"))
    }
}

fn parameters(section: Option<&Mapping>) -> Result<BTreeMap<String, String>, StackError> {
    let mut out = BTreeMap::new();
    for (name, body) in section.into_iter().flatten() {
        let name = name.as_str().ok_or_else(|| {
            At {
                resource: "Parameters",
            }
            .invalid("(name)", "must be a string")
        })?;
        let resource = format!("Parameters.{name}");
        let at = At {
            resource: &resource,
        };
        let default = body
            .get("Default")
            .ok_or_else(|| at.missing("Default (the local runner needs a value)"))?;
        out.insert(name.to_string(), at.string(default, "Default")?);
    }
    Ok(out)
}

fn queue(at: At, properties: Option<&Mapping>, refs: &Refs) -> Result<QueueSpec, StackError> {
    let get = |key: &str| properties.and_then(|p| p.get(key));
    let redrive = match at.mapping(properties, "RedrivePolicy", "Properties.RedrivePolicy")? {
        None => None,
        Some(policy) => {
            let target = policy
                .get("deadLetterTargetArn")
                .ok_or_else(|| at.missing("Properties.RedrivePolicy.deadLetterTargetArn"))?;
            let count = policy
                .get("maxReceiveCount")
                .ok_or_else(|| at.missing("Properties.RedrivePolicy.maxReceiveCount"))?;
            let max_receive_count =
                refs.count_u32(at, count, "Properties.RedrivePolicy.maxReceiveCount")?;
            if max_receive_count == 0 {
                return Err(at.invalid(
                    "Properties.RedrivePolicy.maxReceiveCount",
                    "must be at least 1",
                ));
            }
            Some(Redrive {
                dead_letter: refs.queue_arn(
                    at,
                    target,
                    "Properties.RedrivePolicy.deadLetterTargetArn",
                )?,
                max_receive_count,
            })
        }
    };
    Ok(QueueSpec {
        logical_id: at.resource.to_string(),
        visibility_timeout: at
            .seconds(get("VisibilityTimeout"), "Properties.VisibilityTimeout")?
            .unwrap_or(DEFAULT_VISIBILITY_TIMEOUT),
        retention: at
            .seconds(
                get("MessageRetentionPeriod"),
                "Properties.MessageRetentionPeriod",
            )?
            .unwrap_or(DEFAULT_RETENTION),
        redrive,
    })
}

fn table(at: At, properties: Option<&Mapping>) -> Result<TableSpec, StackError> {
    let properties = properties.ok_or_else(|| at.missing("Properties"))?;
    let mut attributes = BTreeMap::new();
    let definitions = properties
        .get("AttributeDefinitions")
        .ok_or_else(|| at.missing("Properties.AttributeDefinitions"))?
        .as_sequence()
        .ok_or_else(|| at.invalid("Properties.AttributeDefinitions", "must be a list"))?;
    for (i, d) in definitions.iter().enumerate() {
        let property = format!("Properties.AttributeDefinitions[{i}]");
        let name = d
            .get("AttributeName")
            .ok_or_else(|| at.missing(&format!("{property}.AttributeName")))
            .and_then(|v| at.string(v, &format!("{property}.AttributeName")))?;
        let kind = d
            .get("AttributeType")
            .ok_or_else(|| at.missing(&format!("{property}.AttributeType")))
            .and_then(|v| at.string(v, &format!("{property}.AttributeType")))?;
        let kind = match kind.as_str() {
            "S" => AttributeType::S,
            "N" => AttributeType::N,
            "B" => AttributeType::B,
            other => {
                return Err(at.invalid(
                    &format!("{property}.AttributeType"),
                    format!("is {other}; expected S, N or B"),
                ))
            }
        };
        attributes.insert(name, kind);
    }

    let schema = properties
        .get("KeySchema")
        .ok_or_else(|| at.missing("Properties.KeySchema"))?
        .as_sequence()
        .ok_or_else(|| at.invalid("Properties.KeySchema", "must be a list"))?;
    let (mut hash_key, mut range_key) = (None, None);
    for (i, k) in schema.iter().enumerate() {
        let property = format!("Properties.KeySchema[{i}]");
        let name = k
            .get("AttributeName")
            .ok_or_else(|| at.missing(&format!("{property}.AttributeName")))
            .and_then(|v| at.string(v, &format!("{property}.AttributeName")))?;
        if !attributes.contains_key(&name) {
            return Err(at.invalid(
                &format!("{property}.AttributeName"),
                format!("is {name}, which AttributeDefinitions does not define"),
            ));
        }
        let kind = k
            .get("KeyType")
            .ok_or_else(|| at.missing(&format!("{property}.KeyType")))
            .and_then(|v| at.string(v, &format!("{property}.KeyType")))?;
        let slot = match kind.as_str() {
            "HASH" => &mut hash_key,
            "RANGE" => &mut range_key,
            other => {
                return Err(at.invalid(
                    &format!("{property}.KeyType"),
                    format!("is {other}; expected HASH or RANGE"),
                ))
            }
        };
        if slot.replace(name).is_some() {
            return Err(at.invalid(
                "Properties.KeySchema",
                format!("has more than one {kind} key"),
            ));
        }
    }
    let hash_key = hash_key.ok_or_else(|| at.invalid("Properties.KeySchema", "has no HASH key"))?;

    let ttl = at.mapping(
        Some(properties),
        "TimeToLiveSpecification",
        "Properties.TimeToLiveSpecification",
    )?;
    let ttl_attribute = match ttl {
        None => None,
        Some(spec) => {
            let enabled = match spec.get("Enabled") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    return Err(at.invalid(
                        "Properties.TimeToLiveSpecification.Enabled",
                        "must be true or false",
                    ))
                }
            };
            let name = spec
                .get("AttributeName")
                .map(|v| at.string(v, "Properties.TimeToLiveSpecification.AttributeName"))
                .transpose()?;
            match (enabled, name) {
                (true, None) => {
                    return Err(at.missing("Properties.TimeToLiveSpecification.AttributeName"))
                }
                (true, name) => name,
                (false, _) => None,
            }
        }
    };

    Ok(TableSpec {
        logical_id: at.resource.to_string(),
        hash_key,
        range_key,
        attributes,
        ttl_attribute,
    })
}

fn function(
    at: At,
    body: Option<&Mapping>,
    properties: Option<&Mapping>,
    globals: Option<&Mapping>,
    refs: &Refs,
) -> Result<FunctionSpec, StackError> {
    let binary = at
        .mapping(body, "Metadata", "Metadata")
        .and_then(|m| at.mapping(m, "BuildProperties", "Metadata.BuildProperties"))?
        .and_then(|b| b.get("Binary"))
        .ok_or_else(|| at.missing("Metadata.BuildProperties.Binary"))
        .and_then(|v| at.string(v, "Metadata.BuildProperties.Binary"))?;

    let global = At {
        resource: "Globals",
    };
    let timeout = match properties.and_then(|p| p.get("Timeout")) {
        Some(v) => at.seconds(Some(v), "Properties.Timeout")?,
        None => global.seconds(globals.and_then(|g| g.get("Timeout")), "Function.Timeout")?,
    }
    .unwrap_or(DEFAULT_FUNCTION_TIMEOUT);

    let mut environment = BTreeMap::new();
    let sources = [
        (global, globals, "Function.Environment"),
        (at, properties, "Properties.Environment"),
    ];
    for (who, parent, path) in sources {
        let variables = who
            .mapping(parent, "Environment", path)
            .and_then(|e| who.mapping(e, "Variables", &format!("{path}.Variables")))?;
        for (name, value) in variables.into_iter().flatten() {
            let name = who.string(name, &format!("{path}.Variables"))?;
            let property = format!("{path}.Variables.{name}");
            environment.insert(name, refs.env_value(who, value, &property)?);
        }
    }

    refuse_sam_sqs_events(at, properties)?;
    Ok(FunctionSpec {
        logical_id: at.resource.to_string(),
        binary,
        timeout,
        environment,
        grants: policies::grants(at, properties, refs)?,
        sqs_event: None,
    })
}

/// SAM's `Type: SQS` event attaches AWSLambdaSQSQueueExecutionRole, which may
/// receive from and delete in every queue of the account.
fn refuse_sam_sqs_events(at: At, properties: Option<&Mapping>) -> Result<(), StackError> {
    let events = at.mapping(properties, "Events", "Properties.Events")?;
    for (name, event) in events.into_iter().flatten() {
        if event.get("Type").and_then(Value::as_str) == Some("SQS") {
            let name = at.string(name, "Properties.Events")?;
            return Err(at.invalid(
                &format!("Properties.Events.{name}"),
                "is a SAM SQS event, whose managed policy covers every queue of the account: \
                 declare an AWS::Lambda::EventSourceMapping and grant the function its own queue",
            ));
        }
    }
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
                return Err(At {
                    resource: &start.logical_id,
                }
                .invalid(
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
