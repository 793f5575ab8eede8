//! A function's inline `Policies`, read into (action, resource) grants.
//!
//! Only plain `Statement` policies are accepted, each statement an `Allow` of
//! named actions on resources of this template: SAM policy templates, managed
//! policy names, wildcard resources, `NotAction` and conditions are refused,
//! because the tests compare these grants with what the code calls and a
//! grant they cannot see is a grant nobody checks.

use super::{get_att, ref_target, At, Refs};
use crate::{Grant, StackError};
use serde_yaml_ng::{Mapping, Value};
use std::collections::BTreeSet;

pub(super) fn grants(
    at: At,
    properties: Option<&Mapping>,
    refs: &Refs,
) -> Result<BTreeSet<Grant>, StackError> {
    let mut grants = BTreeSet::new();
    let policies = match properties.and_then(|p| p.get("Policies")) {
        None | Some(Value::Null) => return Ok(grants),
        Some(Value::Sequence(policies)) => policies,
        Some(_) => return Err(at.invalid("Properties.Policies", "must be a list")),
    };
    for (i, policy) in policies.iter().enumerate() {
        let path = format!("Properties.Policies[{i}]");
        let statements = match policy.as_mapping().and_then(|p| p.get("Statement")) {
            Some(Value::Sequence(list)) => list.iter().collect::<Vec<_>>(),
            Some(single @ Value::Mapping(_)) => vec![single],
            _ => {
                return Err(at.invalid(
                    &path,
                    "must be an inline policy with a Statement list (policy templates \
                     and managed policies hide their actions from the tests)",
                ))
            }
        };
        for (j, statement) in statements.into_iter().enumerate() {
            let path = format!("{path}.Statement[{j}]");
            grants.extend(statement_grants(at, statement, &path, refs)?);
        }
    }
    Ok(grants)
}

fn statement_grants(
    at: At,
    statement: &Value,
    path: &str,
    refs: &Refs,
) -> Result<Vec<Grant>, StackError> {
    let statement = statement
        .as_mapping()
        .ok_or_else(|| at.invalid(path, "must be a mapping"))?;
    for key in ["NotAction", "NotResource", "Condition", "Principal"] {
        if statement.contains_key(key) {
            return Err(at.invalid(path, format!("uses {key}, which is not supported")));
        }
    }
    match statement.get("Effect").and_then(Value::as_str) {
        Some("Allow") => {}
        _ => return Err(at.invalid(&format!("{path}.Effect"), "must be Allow")),
    }
    let actions = list(statement.get("Action"))
        .ok_or_else(|| at.missing(&format!("{path}.Action")))?
        .into_iter()
        .map(|a| {
            a.as_str()
                .map(str::to_string)
                .ok_or_else(|| at.invalid(&format!("{path}.Action"), "must be action names"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let resources = list(statement.get("Resource"))
        .ok_or_else(|| at.missing(&format!("{path}.Resource")))?
        .into_iter()
        .map(|r| resource(at, r, &format!("{path}.Resource"), refs))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(actions
        .iter()
        .flat_map(|action| {
            resources.iter().map(move |resource| Grant {
                action: action.clone(),
                resource: resource.clone(),
            })
        })
        .collect())
}

/// A value that may be one item or a list of items.
fn list(value: Option<&Value>) -> Option<Vec<&Value>> {
    match value? {
        Value::Sequence(items) if !items.is_empty() => Some(items.iter().collect()),
        Value::Sequence(_) => None,
        single => Some(vec![single]),
    }
}

/// The logical id behind `!GetAtt X.Arn` or `!Ref X`.
fn resource(at: At, value: &Value, property: &str, refs: &Refs) -> Result<String, StackError> {
    let id = match (get_att(value), ref_target(value)) {
        (Some((id, attribute)), _) if attribute == "Arn" => id,
        (_, Some(id)) => id.to_string(),
        _ => {
            return Err(at.invalid(
                property,
                format!(
                    "must name a resource of this template (`!GetAtt X.Arn` or `!Ref X`), \
                     not {}",
                    serde_yaml_ng::to_string(value)
                        .unwrap_or_default()
                        .trim_end()
                ),
            ))
        }
    };
    if !refs.types.contains_key(&id) {
        return Err(at.invalid(property, format!("names {id}, which is not a resource")));
    }
    Ok(id)
}
