//! The security settings of `template.yaml` that no linter checks for us:
//! authentication on by default, throttling, least-privilege policies,
//! encryption, backups. A change that weakens one fails here.

use serde_yaml_ng::Value;
use std::collections::BTreeSet;

fn template() -> Value {
    let text = include_str!("../../../template.yaml");
    serde_yaml_ng::from_str(text).expect("template.yaml is YAML")
}

fn resource<'a>(t: &'a Value, id: &str) -> &'a Value {
    &t["Resources"][id]
}

/// `!GetAtt X.Arn` or `!Ref X` as the logical id X.
fn target(v: &Value) -> String {
    match v {
        Value::Tagged(t) => t
            .value
            .as_str()
            .map(|s| s.trim_end_matches(".Arn").to_string())
            .unwrap_or_default(),
        other => format!("{other:?}"),
    }
}

/// Every (action, resource) a function's inline policies allow.
fn grants(t: &Value, function: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let policies = resource(t, function)["Properties"]["Policies"]
        .as_sequence()
        .expect("Policies");
    for policy in policies {
        for statement in policy["Statement"].as_sequence().expect("Statement") {
            assert_eq!(statement["Effect"].as_str(), Some("Allow"));
            let on = target(&statement["Resource"]);
            for action in statement["Action"].as_sequence().expect("Action list") {
                let action = action.as_str().expect("action").to_string();
                assert!(
                    !action.contains('*'),
                    "{function}: wildcard action {action}"
                );
                out.insert((action, on.clone()));
            }
        }
    }
    out
}

fn set(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(a, r)| (a.to_string(), r.to_string()))
        .collect()
}

#[test]
fn the_api_requires_iam_auth_unless_told_otherwise() {
    let t = template();
    let auth = &t["Parameters"]["ApiAuth"];
    assert_eq!(auth["Default"].as_str(), Some("AWS_IAM"));
    let allowed: Vec<&str> = auth["AllowedValues"]
        .as_sequence()
        .expect("AllowedValues")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(allowed, ["AWS_IAM", "API_KEY", "NONE"]);
    let body = &resource(&t, "Api")["Properties"]["DefinitionBody"];
    let paths = body["paths"].as_mapping().expect("paths");
    assert_eq!(paths.len(), 2, "every route is listed here");
    for (path, methods) in paths {
        for (method, spec) in methods.as_mapping().expect("methods") {
            let security = format!("{:?}", spec["security"]);
            // !If [IamAuth, [{sigv4: []}], !If [KeyAuth, [{api_key: []}], []]]
            assert!(
                security.contains("IamAuth")
                    && security.contains("sigv4")
                    && security.contains("KeyAuth")
                    && security.contains("api_key"),
                "{path:?} {method:?}: {security}"
            );
        }
    }
    for id in ["ApiKey", "ApiUsagePlan", "ApiUsagePlanKey"] {
        assert_eq!(
            resource(&t, id)["Condition"].as_str(),
            Some("KeyAuth"),
            "{id}"
        );
    }
}

#[test]
fn the_stage_is_throttled_from_parameters() {
    let t = template();
    let settings = &resource(&t, "Api")["Properties"]["MethodSettings"][0];
    assert_eq!(
        target(&settings["ThrottlingRateLimit"]),
        "ThrottleRateLimit"
    );
    assert_eq!(
        target(&settings["ThrottlingBurstLimit"]),
        "ThrottleBurstLimit"
    );
    assert_eq!(settings["ResourcePath"].as_str(), Some("/*"));
}

#[test]
fn each_function_gets_only_what_it_uses() {
    let t = template();
    assert_eq!(
        grants(&t, "SumArrayFunction"),
        set(&[
            ("sqs:SendMessage", "TimesTwoQueue"),
            ("dynamodb:PutItem", "SumsTable"),
            ("dynamodb:GetItem", "SumsTable"),
        ])
    );
    let times_two = grants(&t, "TimesTwoFunction");
    assert!(
        times_two.is_subset(&set(&[
            ("sqs:SendMessage", "ReduceQueue"),
            ("dynamodb:PutItem", "ScratchpadTable"),
            ("dynamodb:GetItem", "SumsTable"),
            ("dynamodb:UpdateItem", "SumsTable"),
        ])),
        "{times_two:?}"
    );
    let reduce = grants(&t, "ReduceFunction");
    assert!(
        reduce.is_subset(&set(&[
            ("sqs:SendMessage", "ReduceQueue"),
            ("dynamodb:PutItem", "ScratchpadTable"),
            ("dynamodb:Query", "ScratchpadTable"),
            ("dynamodb:BatchWriteItem", "ScratchpadTable"),
            ("dynamodb:GetItem", "SumsTable"),
            ("dynamodb:UpdateItem", "SumsTable"),
        ])),
        "{reduce:?}"
    );
}

#[test]
fn data_at_rest_is_encrypted_and_sums_are_backed_up() {
    let t = template();
    for queue in [
        "TimesTwoQueue",
        "TimesTwoDeadLetterQueue",
        "ReduceQueue",
        "ReduceDeadLetterQueue",
    ] {
        assert_eq!(
            resource(&t, queue)["Properties"]["SqsManagedSseEnabled"].as_bool(),
            Some(true),
            "{queue}"
        );
    }
    for table in ["ScratchpadTable", "SumsTable"] {
        let p = &resource(&t, table)["Properties"];
        assert_eq!(p["SSESpecification"]["SSEEnabled"].as_bool(), Some(true));
        assert_eq!(
            p["TimeToLiveSpecification"]["AttributeName"].as_str(),
            Some("expiresAt"),
            "{table}: TTL (scratchpad rows, idempotency claims)"
        );
    }
    let sums = &resource(&t, "SumsTable")["Properties"];
    assert_eq!(
        sums["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );
}
