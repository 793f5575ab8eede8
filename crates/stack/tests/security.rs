//! The security settings of `template.yaml` that no linter checks for us:
//! authentication on by default, throttling, least-privilege policies (each
//! function granted exactly what it uses, pollers scoped to their own queue),
//! a valid OpenAPI body, encryption, backups. A change that weakens one fails here.

use serde_yaml_ng::Value;
use stack::{objects_of, FunctionSpec, Grant, Stack, POLLER_ACTIONS};
use std::collections::BTreeSet;

fn template() -> Value {
    let text = include_str!("../../../template.yaml");
    serde_yaml_ng::from_str(text).expect("template.yaml is YAML")
}

fn resource<'a>(t: &'a Value, id: &str) -> &'a Value {
    &t["Resources"][id]
}

/// `!Ref X` as the logical id X.
fn target(v: &Value) -> String {
    match v {
        Value::Tagged(t) => t.value.as_str().unwrap_or_default().to_string(),
        other => format!("{other:?}"),
    }
}

fn stack() -> Stack {
    Stack::embedded().expect("template.yaml parses")
}

fn function<'a>(stack: &'a Stack, id: &str) -> &'a FunctionSpec {
    stack
        .function(id)
        .unwrap_or_else(|| panic!("no function {id}"))
}

fn set(pairs: &[(&str, &str)]) -> BTreeSet<Grant> {
    pairs.iter().map(|(a, r)| Grant::new(*a, *r)).collect()
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
    let contract: Value =
        serde_yaml_ng::from_str(include_str!("../../../openapi.yaml")).expect("openapi.yaml");
    let documented = contract["paths"].as_mapping().expect("openapi.yaml paths");
    assert_eq!(
        paths.keys().collect::<Vec<_>>(),
        documented.keys().collect::<Vec<_>>(),
        "every route of openapi.yaml is deployed"
    );
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

/// The grants as intended, written out so a change to them shows in review.
/// `tests/iam_grants.rs` checks the same grants against what the code calls.
#[test]
fn each_function_gets_exactly_what_it_uses() {
    let stack = stack();
    let sums_failed = ("dynamodb:UpdateItem", "SumsTable");
    let input_objects = objects_of("InputBucket");
    // Read the input bucket's objects (by version too), and know a missing
    // key from a forbidden one: nothing else of S3.
    let read_inputs = [
        ("s3:GetObject", input_objects.as_str()),
        ("s3:GetObjectVersion", input_objects.as_str()),
        ("s3:ListBucket", "InputBucket"),
    ];
    let expected = [
        (
            "SumArrayFunction",
            set(&[
                ("sqs:SendMessage", "TimesTwoQueue"),
                ("dynamodb:PutItem", "SumsTable"),
                ("dynamodb:GetItem", "SumsTable"),
                sums_failed,
                read_inputs[0],
                read_inputs[1],
                read_inputs[2],
            ]),
        ),
        (
            "TimesTwoFunction",
            set(&[
                ("sqs:SendMessage", "ReduceQueue"),
                // The ranges of a notified object.
                ("sqs:SendMessage", "TimesTwoQueue"),
                ("dynamodb:PutItem", "ScratchpadTable"),
                // The record of a notified object.
                ("dynamodb:PutItem", "SumsTable"),
                ("dynamodb:GetItem", "SumsTable"),
                sums_failed,
                read_inputs[0],
                read_inputs[1],
                read_inputs[2],
                ("sqs:ReceiveMessage", "TimesTwoQueue"),
                ("sqs:DeleteMessage", "TimesTwoQueue"),
                ("sqs:GetQueueAttributes", "TimesTwoQueue"),
                ("sqs:ReceiveMessage", "ObjectCreatedQueue"),
                ("sqs:DeleteMessage", "ObjectCreatedQueue"),
                ("sqs:GetQueueAttributes", "ObjectCreatedQueue"),
            ]),
        ),
        (
            "ReduceFunction",
            set(&[
                ("sqs:SendMessage", "ReduceQueue"),
                ("dynamodb:PutItem", "ScratchpadTable"),
                ("dynamodb:Query", "ScratchpadTable"),
                ("dynamodb:BatchWriteItem", "ScratchpadTable"),
                ("dynamodb:GetItem", "SumsTable"),
                sums_failed,
                ("sqs:ReceiveMessage", "ReduceQueue"),
                ("sqs:DeleteMessage", "ReduceQueue"),
                ("sqs:GetQueueAttributes", "ReduceQueue"),
            ]),
        ),
    ];
    assert_eq!(
        stack.functions.len(),
        expected.len(),
        "a function is missing here"
    );
    for (id, grants) in expected {
        let granted = &function(&stack, id).grants;
        let missing: Vec<_> = grants.difference(granted).map(Grant::to_string).collect();
        let extra: Vec<_> = granted.difference(&grants).map(Grant::to_string).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{id}: not granted {missing:?}; granted but not used {extra:?}"
        );
    }
}

/// The one wildcard allowed: every object of a bucket of the template
/// (`!Sub "${X.Arn}/*"`, which is how IAM names objects).
#[test]
fn no_wildcards_anywhere_in_the_functions_policies() {
    let t = template();
    let stack = stack();
    let buckets: Vec<String> = stack.buckets.iter().map(|b| b.logical_id.clone()).collect();
    let objects: Vec<String> = buckets.iter().map(|b| objects_of(b)).collect();
    for f in &stack.functions {
        for grant in &f.grants {
            let resource_ok = !grant.resource.contains('*') || objects.contains(&grant.resource);
            assert!(
                !grant.action.contains('*') && resource_ok,
                "{}: wildcard in {grant}",
                f.logical_id
            );
        }
        // The parser refuses a "*" resource; check the text too, so a
        // parser change cannot let one through unseen.
        let policies = &resource(&t, &f.logical_id)["Properties"]["Policies"];
        let mut text = serde_yaml_ng::to_string(policies).expect("policies as text");
        for bucket in &buckets {
            text = text.replace(&format!("${{{bucket}.Arn}}/*"), "");
        }
        assert!(!text.contains('*'), "{}: {text}", f.logical_id);
    }
}

/// SAM's `Type: SQS` event would attach AWSLambdaSQSQueueExecutionRole:
/// receive and delete on every queue of the account.
#[test]
fn pollers_read_only_their_own_queue() {
    let t = template();
    let resources = t["Resources"].as_mapping().expect("Resources");
    for (id, body) in resources {
        let events = body["Properties"]["Events"].as_mapping();
        for (name, event) in events.into_iter().flatten() {
            assert_ne!(
                event["Type"].as_str(),
                Some("SQS"),
                "{id:?}: event {name:?} brings the managed SQS execution policy"
            );
        }
        let managed = format!("{:?}", body["Properties"]["ManagedPolicyArns"]);
        assert!(!managed.contains("SQS"), "{id:?}: {managed}");
    }
    let stack = stack();
    let mut polled = BTreeSet::new();
    for f in &stack.functions {
        let on_queues: BTreeSet<Grant> = f
            .grants
            .iter()
            .filter(|g| POLLER_ACTIONS.contains(&g.action.as_str()))
            .cloned()
            .collect();
        assert_eq!(on_queues, f.poller_grants(), "{}", f.logical_id);
        for event in &f.sqs_events {
            polled.insert(event.queue.clone());
            let mapping = resources
                .iter()
                .find(|(_, body)| {
                    body["Type"].as_str() == Some("AWS::Lambda::EventSourceMapping")
                        && target(&body["Properties"]["FunctionName"]) == f.logical_id
                        && format!("{:?}", body["Properties"]["EventSourceArn"])
                            .contains(&format!("\"{}.Arn\"", event.queue))
                })
                .expect("the function's mapping");
            let depends: Vec<&str> = match &mapping.1["DependsOn"] {
                Value::String(one) => vec![one.as_str()],
                Value::Sequence(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            assert!(
                depends.contains(&format!("{}Role", f.logical_id).as_str()),
                "{}: its mapping must wait for the role's permissions",
                f.logical_id
            );
        }
    }
    assert_eq!(
        polled,
        set_of(&["TimesTwoQueue", "ReduceQueue", "ObjectCreatedQueue"])
    );
}

fn set_of(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Without OpenApiVersion SAM also deploys a stage named `Stage`, with no
/// throttling, whose requests fail; without responses the import warns.
#[test]
fn the_api_body_is_valid_openapi_3() {
    let t = template();
    let api = &resource(&t, "Api")["Properties"];
    assert_eq!(api["OpenApiVersion"].as_str(), Some("3.0.1"));
    let body = &api["DefinitionBody"];
    assert!(
        body["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.0")),
        "{:?}",
        body["openapi"]
    );
    let contract: Value =
        serde_yaml_ng::from_str(include_str!("../../../openapi.yaml")).expect("openapi.yaml");
    for (path, methods) in body["paths"].as_mapping().expect("paths") {
        for (method, operation) in methods.as_mapping().expect("methods") {
            let statuses = |op: &Value| -> BTreeSet<String> {
                op["responses"]
                    .as_mapping()
                    .into_iter()
                    .flatten()
                    .map(|(status, response)| {
                        assert!(
                            response["description"].as_str().is_some(),
                            "{path:?} {method:?} {status:?}: a response needs a description"
                        );
                        status.as_str().unwrap_or_default().to_string()
                    })
                    .collect()
            };
            let declared = statuses(operation);
            assert!(!declared.is_empty(), "{path:?} {method:?}: no responses");
            let documented = statuses(&contract["paths"][path][method]);
            assert_eq!(
                declared, documented,
                "{path:?} {method:?} as in openapi.yaml"
            );
        }
    }
}

#[test]
fn data_at_rest_is_encrypted_and_sums_are_backed_up() {
    let t = template();
    for queue in stack_names::QUEUES {
        assert_eq!(
            resource(&t, queue)["Properties"]["SqsManagedSseEnabled"].as_bool(),
            Some(true),
            "{queue}"
        );
    }
    for table in ["ScratchpadTable", "SumsTable"] {
        let p = &resource(&t, table)["Properties"];
        // Every DynamoDB table is encrypted at rest; `false` chooses the AWS
        // owned key over the AWS managed KMS key (docs/operating.md, "Data at
        // rest"), and is written out so the choice is visible.
        assert_eq!(
            p["SSESpecification"]["SSEEnabled"].as_bool(),
            Some(false),
            "{table}: the AWS owned key, as documented"
        );
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

#[test]
fn the_input_bucket_is_private_encrypted_versioned_and_notifies_its_queue() {
    let stack = stack();
    let bucket = stack.bucket("InputBucket").expect("InputBucket");
    assert!(bucket.encrypted && bucket.public_access_blocked && bucket.versioned);
    assert_eq!(
        bucket.object_created_queue.as_deref(),
        Some("ObjectCreatedQueue")
    );
    let t = template();
    let p = &resource(&t, "InputBucket")["Properties"];
    let default = &p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
    assert_eq!(
        default["ServerSideEncryptionByDefault"]["SSEAlgorithm"].as_str(),
        Some("AES256")
    );
    let noncurrent = &p["LifecycleConfiguration"]["Rules"][0]["NoncurrentVersionExpiration"];
    assert!(
        noncurrent["NoncurrentDays"]
            .as_u64()
            .is_some_and(|d| d <= 30),
        "overwritten inputs expire: {noncurrent:?}"
    );
}

/// `!Sub [text, {vars}]` as (text, vars as Debug text).
fn sub_of(v: &Value) -> (String, String) {
    let Value::Tagged(t) = v else {
        panic!("not a !Sub: {v:?}")
    };
    assert_eq!(t.tag, "Sub");
    let parts = t.value.as_sequence().expect("!Sub [text, vars]");
    let text = parts[0].as_str().expect("the text").to_string();
    (text, format!("{:?}", parts[1]))
}

/// S3 may send to the notification queue only for this bucket of this
/// account; the policy names the bucket by the same name the bucket takes
/// (it cannot reference the bucket, which depends on it).
#[test]
fn only_the_input_bucket_may_send_to_the_notification_queue() {
    let t = template();
    let policy = resource(&t, "ObjectCreatedQueuePolicy");
    assert_eq!(policy["Type"].as_str(), Some("AWS::SQS::QueuePolicy"));
    let queues = policy["Properties"]["Queues"]
        .as_sequence()
        .expect("Queues");
    assert_eq!(
        queues.iter().map(target).collect::<Vec<_>>(),
        ["ObjectCreatedQueue"]
    );
    let statements = policy["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("Statement");
    assert_eq!(statements.len(), 1);
    let s = &statements[0];
    assert_eq!(s["Effect"].as_str(), Some("Allow"));
    assert_eq!(s["Principal"]["Service"].as_str(), Some("s3.amazonaws.com"));
    assert_eq!(s["Action"].as_str(), Some("sqs:SendMessage"));
    let account = target(&s["Condition"]["StringEquals"]["aws:SourceAccount"]);
    assert_eq!(account, "AWS::AccountId");
    let (arn, arn_vars) = sub_of(&s["Condition"]["ArnEquals"]["aws:SourceArn"]);
    let bucket = resource(&t, "InputBucket");
    let (name, name_vars) = sub_of(&bucket["Properties"]["BucketName"]);
    assert_eq!(arn, format!("arn:${{AWS::Partition}}:s3:::{name}"));
    assert_eq!(arn_vars, name_vars);
    assert!(
        name.contains("${AWS::AccountId}") && name.contains("${AWS::Region}"),
        "{name}"
    );
    let constant: String = name
        .split("${")
        .map(|part| part.split_once('}').map_or(part, |(_, rest)| rest))
        .collect();
    assert_eq!(
        constant,
        constant.to_lowercase(),
        "S3 bucket names are lowercase: {name}"
    );
    assert_eq!(
        bucket["DependsOn"].as_str(),
        Some("ObjectCreatedQueuePolicy"),
        "S3 checks it may send when the notification is configured"
    );
}
