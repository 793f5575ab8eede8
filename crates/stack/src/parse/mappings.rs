//! `AWS::Lambda::EventSourceMapping` resources: which queue feeds which
//! function, and how (batch size, window, concurrency, partial failures).

use super::{ref_target, At, Refs, FUNCTION};
use crate::{SqsEventSpec, Stack, StackError, DEFAULT_BATCH_SIZE};
use serde_yaml_ng::{Mapping, Value};
use std::time::Duration;

pub(super) const EVENT_SOURCE_MAPPING: &str = "AWS::Lambda::EventSourceMapping";

/// Sets each function's `sqs_event` from the mapping that names it.
pub(super) fn attach(
    resources: &Mapping,
    stack: &mut Stack,
    refs: &Refs,
) -> Result<(), StackError> {
    for (id, body) in resources {
        let id = id.as_str().unwrap_or_default();
        if refs.types.get(id).map(String::as_str) != Some(EVENT_SOURCE_MAPPING) {
            continue;
        }
        let at = At { resource: id };
        let props = at
            .mapping(body.as_mapping(), "Properties", "Properties")?
            .ok_or_else(|| at.missing("Properties"))?;
        let function = function_of(at, props, refs)?;
        let event = sqs(at, props, refs)?;
        let spec = stack
            .functions
            .iter_mut()
            .find(|f| f.logical_id == function)
            .ok_or_else(|| at.invalid("Properties.FunctionName", "names no function"))?;
        if spec.sqs_event.is_some() {
            return Err(at.invalid(
                "Properties.FunctionName",
                format!("names {function}, which already has an event source mapping"),
            ));
        }
        spec.sqs_event = Some(event);
    }
    Ok(())
}

/// The logical id behind `FunctionName: !Ref F`, checked to be a function.
fn function_of(at: At, props: &Mapping, refs: &Refs) -> Result<String, StackError> {
    let property = "Properties.FunctionName";
    let value = props
        .get("FunctionName")
        .ok_or_else(|| at.missing(property))?;
    let id = ref_target(value).ok_or_else(|| at.invalid(property, "must be `!Ref <Function>`"))?;
    match refs.types.get(id).map(String::as_str) {
        Some(FUNCTION) => Ok(id.to_string()),
        Some(other) => Err(at.invalid(property, format!("names {id}, a {other}, not a function"))),
        None => Err(at.invalid(property, format!("names {id}, which is not a resource"))),
    }
}

fn sqs(at: At, props: &Mapping, refs: &Refs) -> Result<SqsEventSpec, StackError> {
    let queue = props
        .get("EventSourceArn")
        .ok_or_else(|| at.missing("Properties.EventSourceArn"))?;
    let queue = refs.queue_arn(at, queue, "Properties.EventSourceArn")?;
    let batch_size = props
        .get("BatchSize")
        .map(|v| refs.count_u32(at, v, "Properties.BatchSize"))
        .transpose()?
        .unwrap_or(DEFAULT_BATCH_SIZE);
    if batch_size == 0 {
        return Err(at.invalid("Properties.BatchSize", "must be at least 1"));
    }
    let batching_window = props
        .get("MaximumBatchingWindowInSeconds")
        .map(|v| refs.count_u32(at, v, "Properties.MaximumBatchingWindowInSeconds"))
        .transpose()?
        .map_or(Duration::ZERO, |s| Duration::from_secs(s.into()));
    let scaling = at.mapping(Some(props), "ScalingConfig", "Properties.ScalingConfig")?;
    let maximum_concurrency = scaling
        .and_then(|s| s.get("MaximumConcurrency"))
        .map(|v| refs.count_u32(at, v, "Properties.ScalingConfig.MaximumConcurrency"))
        .transpose()?;
    let report_batch_item_failures = match props.get("FunctionResponseTypes") {
        None => false,
        Some(Value::Sequence(types)) => types
            .iter()
            .any(|t| t.as_str() == Some("ReportBatchItemFailures")),
        Some(_) => return Err(at.invalid("Properties.FunctionResponseTypes", "must be a list")),
    };
    Ok(SqsEventSpec {
        queue,
        batch_size,
        batching_window,
        maximum_concurrency,
        report_batch_item_failures,
    })
}
