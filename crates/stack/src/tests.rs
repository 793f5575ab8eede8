use super::*;
use std::collections::BTreeSet;

fn real() -> Stack {
    Stack::embedded().expect("template.yaml parses")
}

/// A minimal template around `resources` (indented as under `Resources:`).
fn with_resources(resources: &str) -> String {
    format!("Parameters:\n  Size:\n    Type: Number\n    Default: 7\nResources:\n{resources}")
}

fn error_of(template: &str) -> String {
    match Stack::parse(template) {
        Ok(stack) => panic!("expected an error, parsed {stack:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn reads_the_queues_of_the_real_template() {
    let stack = real();
    let q = stack.queue("TimesTwoQueue").expect("TimesTwoQueue");
    assert_eq!(q.visibility_timeout, Duration::from_secs(180));
    assert_eq!(q.retention, Duration::from_secs(1_209_600));
    assert_eq!(
        q.redrive,
        Some(Redrive {
            dead_letter: "TimesTwoDeadLetterQueue".into(),
            max_receive_count: 5
        })
    );
    let dlq = stack
        .queue("TimesTwoDeadLetterQueue")
        .expect("TimesTwoDeadLetterQueue");
    assert_eq!(dlq.visibility_timeout, DEFAULT_VISIBILITY_TIMEOUT);
    assert_eq!(dlq.redrive, None);
    assert_eq!(
        stack
            .queues
            .iter()
            .map(|q| q.logical_id.as_str())
            .collect::<Vec<_>>(),
        [
            "TimesTwoQueue",
            "TimesTwoDeadLetterQueue",
            "ReduceQueue",
            "ReduceDeadLetterQueue",
            "ObjectCreatedQueue",
            "ObjectCreatedDeadLetterQueue"
        ]
    );
}

#[test]
fn dead_letter_queues_are_created_first() {
    let stack = real();
    let order: Vec<_> = stack
        .queues_in_creation_order()
        .iter()
        .map(|q| q.logical_id.as_str())
        .collect();
    assert_eq!(
        order,
        [
            "TimesTwoDeadLetterQueue",
            "TimesTwoQueue",
            "ReduceDeadLetterQueue",
            "ReduceQueue",
            "ObjectCreatedDeadLetterQueue",
            "ObjectCreatedQueue"
        ]
    );
}

#[test]
fn reads_the_tables_of_the_real_template() {
    let stack = real();
    let scratch = stack.table("ScratchpadTable").expect("ScratchpadTable");
    assert_eq!(scratch.hash_key, "arrayId");
    assert_eq!(scratch.range_key.as_deref(), Some("packetId"));
    assert_eq!(scratch.ttl_attribute.as_deref(), Some("expiresAt"));
    assert_eq!(scratch.attributes.get("packetId"), Some(&AttributeType::S));
    let sums = stack.table("SumsTable").expect("SumsTable");
    assert_eq!(sums.hash_key, "arrayId");
    assert_eq!(sums.range_key, None);
    assert_eq!(sums.ttl_attribute.as_deref(), Some("expiresAt"));
}

#[test]
fn reads_the_functions_of_the_real_template() {
    let stack = real();
    let reduce = stack.function("ReduceFunction").expect("ReduceFunction");
    assert_eq!(reduce.binary, "reduce");
    assert_eq!(reduce.timeout, Duration::from_secs(30), "from Globals");
    assert_eq!(reduce.memory_mb, 512, "from Globals");
    assert_eq!(
        reduce.environment.get("REDUCE_QUEUE_URL"),
        Some(&EnvValue::Resource("ReduceQueue".into()))
    );
    assert_eq!(
        reduce.environment.get("CHUNK_SIZE"),
        Some(&EnvValue::Parameter("ChunkSize".into()))
    );
    assert_eq!(reduce.environment.get("TIMES_TWO_QUEUE_URL"), None);
    assert_eq!(
        reduce.sqs_events,
        vec![SqsEventSpec {
            queue: "ReduceQueue".into(),
            batch_size: 10,
            batching_window: Duration::ZERO,
            maximum_concurrency: Some(20),
            report_batch_item_failures: true,
        }]
    );

    let submit = stack
        .function("SumArrayFunction")
        .expect("SumArrayFunction");
    assert_eq!(submit.binary, "sum_array");
    assert_eq!(
        submit.timeout,
        Duration::from_secs(29),
        "its own Timeout wins"
    );
    assert_eq!(submit.sqs_events, [], "no mapping feeds it a queue");

    let times_two = stack
        .function("TimesTwoFunction")
        .expect("TimesTwoFunction");
    let fed_by: Vec<&str> = times_two
        .sqs_events
        .iter()
        .map(|e| e.queue.as_str())
        .collect();
    assert_eq!(fed_by, ["TimesTwoQueue", "ObjectCreatedQueue"]);
    let notifications = &times_two.sqs_events[1];
    assert_eq!(notifications.batch_size, 10);
    assert!(notifications.report_batch_item_failures);
}

#[test]
fn logging_config_becomes_what_lambda_sets() {
    let stack = real();
    for function in &stack.functions {
        let env = stack.logging_env(function).expect("resolves");
        assert_eq!(
            env.get("AWS_LAMBDA_LOG_FORMAT").map(String::as_str),
            Some("JSON")
        );
        assert_eq!(
            env.get("AWS_LAMBDA_LOG_LEVEL").map(String::as_str),
            Some("INFO")
        );
    }
}

#[test]
fn resolves_parameters_to_their_defaults() {
    let stack = real();
    assert_eq!(stack.parameter("ChunkSize"), Some("20000"));
    assert_eq!(stack.parameter("LogLevel"), Some("INFO"));
    let reduce = stack.function("ReduceFunction").expect("ReduceFunction");
    let env = stack
        .resolve_env(reduce, |id| Some(format!("made-{id}")))
        .expect("resolves");
    assert_eq!(env["CHUNK_SIZE"], "20000");
    assert_eq!(env["FAN_IN"], "100");
    assert_eq!(env["MAX_RECEIVE_COUNT"], "5");
    // The log level is LoggingConfig's, which Lambda passes as AWS_LAMBDA_LOG_LEVEL.
    assert!(!env.contains_key("RUST_LOG"), "{env:?}");
    assert_eq!(env["REDUCE_QUEUE_URL"], "made-ReduceQueue");
    assert_eq!(env["SCRATCHPAD_TABLE"], "made-ScratchpadTable");

    let err = stack
        .resolve_env(reduce, |_| None)
        .expect_err("resources not created")
        .to_string();
    assert!(err.contains("ReduceFunction"), "{err}");
    assert!(err.contains("has not been created"), "{err}");
}

#[test]
fn applies_sqs_defaults() {
    let t = with_resources(
        "  Q:\n    Type: AWS::SQS::Queue\n  F:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildProperties:\n        Binary: f\n    Properties:\n      Timeout: \"12\"\n      Environment:\n        Variables:\n          N: 5\n          FLAG: true\n          S: {Ref: Size}\n  E:\n    Type: AWS::Lambda::EventSourceMapping\n    Properties:\n      FunctionName: !Ref F\n      EventSourceArn: {\"Fn::GetAtt\": [Q, Arn]}\n      MaximumBatchingWindowInSeconds: 2\n",
    );
    let stack = Stack::parse(&t).expect("parses");
    let q = stack.queue("Q").expect("Q");
    assert_eq!(q.visibility_timeout, Duration::from_secs(30));
    assert_eq!(q.retention, DEFAULT_RETENTION);
    let f = stack.function("F").expect("F");
    assert_eq!(f.timeout, Duration::from_secs(12));
    assert_eq!(
        f.memory_mb, DEFAULT_FUNCTION_MEMORY_MB,
        "no MemorySize anywhere"
    );
    assert_eq!(f.environment["N"], EnvValue::Literal("5".into()));
    assert_eq!(f.environment["FLAG"], EnvValue::Literal("true".into()));
    assert_eq!(f.environment["S"], EnvValue::Parameter("Size".into()));
    let e = f.sqs_events.first().expect("sqs event");
    assert_eq!(e.queue, "Q");
    assert_eq!(e.batch_size, 10);
    assert_eq!(e.batching_window, Duration::from_secs(2));
    assert_eq!(e.maximum_concurrency, None);
    assert!(!e.report_batch_item_failures);
}

#[test]
fn names_the_resource_and_property_of_a_bad_value() {
    let err = error_of(&with_resources(
        "  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: soon\n",
    ));
    assert_eq!(
        err,
        "Q: Properties.VisibilityTimeout must be a non-negative integer"
    );
}

#[test]
fn refuses_a_redrive_to_something_that_is_not_a_queue() {
    let err = error_of(&with_resources(
        "  T:\n    Type: AWS::SNS::Topic\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt T.Arn\n        maxReceiveCount: 3\n",
    ));
    assert!(
        err.starts_with("Q: Properties.RedrivePolicy.deadLetterTargetArn"),
        "{err}"
    );
    assert!(err.contains("not a queue"), "{err}");

    let err = error_of(&with_resources(
        "  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt Nowhere.Arn\n        maxReceiveCount: 3\n",
    ));
    assert!(err.contains("Nowhere, which is not a resource"), "{err}");
}

#[test]
fn refuses_a_missing_max_receive_count() {
    let err = error_of(&with_resources(
        "  D:\n    Type: AWS::SQS::Queue\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt D.Arn\n",
    ));
    assert_eq!(
        err,
        "Q: Properties.RedrivePolicy.maxReceiveCount is missing"
    );
}

#[test]
fn refuses_redrive_cycles() {
    let err = error_of(&with_resources(
        "  A:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt B.Arn\n        maxReceiveCount: 1\n  B:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt A.Arn\n        maxReceiveCount: 1\n",
    ));
    assert!(err.contains("cycle"), "{err}");
}

#[test]
fn refuses_a_key_without_a_definition() {
    let err = error_of(&with_resources(
        "  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      AttributeDefinitions:\n        - AttributeName: id\n          AttributeType: S\n      KeySchema:\n        - AttributeName: other\n          KeyType: HASH\n",
    ));
    assert_eq!(
        err,
        "T: Properties.KeySchema[0].AttributeName is other, which AttributeDefinitions does not define"
    );
    let err = error_of(&with_resources(
        "  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      AttributeDefinitions:\n        - AttributeName: id\n          AttributeType: S\n      KeySchema: []\n",
    ));
    assert_eq!(err, "T: Properties.KeySchema has no HASH key");
}

#[test]
fn refuses_a_function_without_a_binary() {
    let err = error_of(&with_resources(
        "  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: .\n",
    ));
    assert_eq!(err, "F: Metadata.BuildProperties.Binary is missing");
}

#[test]
fn refuses_unsupported_intrinsics_and_dangling_refs() {
    let err = error_of(&with_resources(
        "  F:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildProperties:\n        Binary: f\n    Properties:\n      Environment:\n        Variables:\n          URL: !Sub \"https://${AWS::Region}\"\n",
    ));
    assert!(
        err.starts_with("F: Properties.Environment.Variables.URL uses !Sub"),
        "{err}"
    );
    let err = error_of(&with_resources(
        "  F:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildProperties:\n        Binary: f\n    Properties:\n      Environment:\n        Variables:\n          Q: !Ref Missing\n",
    ));
    assert!(err.contains("refers to Missing"), "{err}");
}

#[test]
fn refuses_a_parameter_without_default_and_bad_yaml() {
    let err = error_of("Parameters:\n  P:\n    Type: String\nResources: {}\n");
    assert!(err.starts_with("Parameters.P: Default"), "{err}");
    let err = error_of("Resources: [unclosed\n");
    assert!(err.starts_with("the template is not valid YAML"), "{err}");
    let err = error_of("Parameters: {}\n");
    assert_eq!(err, "template: Resources is missing");
}

/// A function `F` and a queue `Q`, then `more` (indented as under `Resources:`).
fn function_and_queue(more: &str) -> String {
    with_resources(&format!(
        "  Q:\n    Type: AWS::SQS::Queue\n  F:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildProperties:\n        Binary: f\n{more}"
    ))
}

#[test]
fn refuses_two_mappings_of_one_queue_to_one_function() {
    let mapping = |id: &str| {
        format!("  {id}:\n    Type: AWS::Lambda::EventSourceMapping\n    Properties:\n      FunctionName: !Ref F\n      EventSourceArn: !GetAtt Q.Arn\n")
    };
    let err = error_of(&function_and_queue(&format!(
        "{}{}",
        mapping("A"),
        mapping("B")
    )));
    assert_eq!(
        err,
        "B: Properties.FunctionName names F, which already has an event source mapping on Q"
    );
}

#[test]
fn refuses_sam_sqs_events_and_their_managed_policy() {
    let err = error_of(&function_and_queue(
        "    Properties:\n      Events:\n        A:\n          Type: SQS\n          Properties:\n            Queue: !GetAtt Q.Arn\n",
    ));
    assert!(
        err.starts_with("F: Properties.Events.A is a SAM SQS event"),
        "{err}"
    );
}

#[test]
fn a_mapping_must_name_a_function_and_a_queue() {
    let err = error_of(&function_and_queue(
        "  M:\n    Type: AWS::Lambda::EventSourceMapping\n    Properties:\n      FunctionName: !Ref Q\n      EventSourceArn: !GetAtt Q.Arn\n",
    ));
    assert_eq!(
        err,
        "M: Properties.FunctionName names Q, a AWS::SQS::Queue, not a function"
    );
    let err = error_of(&function_and_queue(
        "  M:\n    Type: AWS::Lambda::EventSourceMapping\n    Properties:\n      FunctionName: !Ref F\n      EventSourceArn: !GetAtt F.Arn\n",
    ));
    assert!(err.contains("not a queue"), "{err}");
}

#[test]
fn resolves_counts_given_by_parameters() {
    let t = function_and_queue(
        "  D:\n    Type: AWS::SQS::Queue\n  R:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt D.Arn\n        maxReceiveCount: !Ref Size\n  M:\n    Type: AWS::Lambda::EventSourceMapping\n    Properties:\n      FunctionName: !Ref F\n      EventSourceArn: !GetAtt R.Arn\n      BatchSize: {Ref: Size}\n",
    );
    let stack = Stack::parse(&t).expect("parses");
    let redrive = stack.queue("R").and_then(|q| q.redrive.clone());
    assert_eq!(redrive.map(|r| r.max_receive_count), Some(7));
    let event = stack
        .function("F")
        .and_then(|f| f.sqs_events.first().cloned());
    assert_eq!(event.map(|e| e.batch_size), Some(7));

    let err = error_of(&function_and_queue(
        "  R:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt Q.Arn\n        maxReceiveCount: !Ref Nothing\n",
    ));
    assert_eq!(
        err,
        "R: Properties.RedrivePolicy.maxReceiveCount refers to Nothing, which is not a parameter"
    );
}

#[test]
fn the_real_template_passes_max_receive_count_everywhere() {
    let stack = real();
    assert_eq!(stack.parameter("MaxReceiveCount"), Some("5"));
    assert_eq!(stack.parameter("ArrayDeadlineSeconds"), Some("259200"));
    for queue in ["TimesTwoQueue", "ReduceQueue", "ObjectCreatedQueue"] {
        let redrive = stack.queue(queue).and_then(|q| q.redrive.clone());
        assert_eq!(redrive.map(|r| r.max_receive_count), Some(5), "{queue}");
    }
    for function in &stack.functions {
        let env = stack
            .resolve_env(function, |id| Some(id.to_string()))
            .expect("resolves");
        assert_eq!(env["MAX_RECEIVE_COUNT"], "5", "{}", function.logical_id);
        assert_eq!(
            env["ARRAY_DEADLINE_SECONDS"], "259200",
            "{}",
            function.logical_id
        );
    }
}

#[test]
fn reads_grants_from_inline_statements() {
    let t = function_and_queue(
        "    Properties:\n      Policies:\n        - Statement:\n            - Effect: Allow\n              Action: [sqs:SendMessage, sqs:ReceiveMessage]\n              Resource: !GetAtt Q.Arn\n            - Effect: Allow\n              Action: sqs:GetQueueUrl\n              Resource: [!Ref Q]\n",
    );
    let stack = Stack::parse(&t).expect("parses");
    let f = stack.function("F").expect("F");
    let grants: Vec<String> = f.grants.iter().map(Grant::to_string).collect();
    assert_eq!(
        grants,
        [
            "sqs:GetQueueUrl on Q",
            "sqs:ReceiveMessage on Q",
            "sqs:SendMessage on Q"
        ]
    );
}

#[test]
fn refuses_grants_the_tests_could_not_check() {
    let policy =
        |body: &str| function_and_queue(&format!("    Properties:\n      Policies:\n{body}"));
    let err = error_of(&policy(
        "        - Statement:\n            - Effect: Allow\n              Action: [sqs:SendMessage]\n              Resource: \"*\"\n",
    ));
    assert!(
        err.starts_with(
            "F: Properties.Policies[0].Statement[0].Resource must name a resource of this template"
        ),
        "{err}"
    );
    let err = error_of(&policy("        - AmazonSQSFullAccess\n"));
    assert!(
        err.starts_with("F: Properties.Policies[0] must be an inline policy"),
        "{err}"
    );
    let err = error_of(&policy(
        "        - SQSSendMessagePolicy:\n            QueueName: !GetAtt Q.QueueName\n",
    ));
    assert!(err.contains("must be an inline policy"), "{err}");
    let err = error_of(&policy(
        "        - Statement:\n            - Effect: Deny\n              Action: [sqs:SendMessage]\n              Resource: !GetAtt Q.Arn\n",
    ));
    assert_eq!(
        err,
        "F: Properties.Policies[0].Statement[0].Effect must be Allow"
    );
    let err = error_of(&policy(
        "        - Statement:\n            - Effect: Allow\n              NotAction: [sqs:SendMessage]\n              Resource: !GetAtt Q.Arn\n",
    ));
    assert!(err.contains("uses NotAction"), "{err}");
}

#[test]
fn the_shared_logical_ids_name_resources_of_their_type() {
    let stack = real();
    let ids = |ids: &[&str]| ids.iter().map(|id| id.to_string()).collect::<Vec<_>>();
    let queues: Vec<String> = stack.queues.iter().map(|q| q.logical_id.clone()).collect();
    let tables: Vec<String> = stack.tables.iter().map(|t| t.logical_id.clone()).collect();
    let functions: Vec<String> = stack
        .functions
        .iter()
        .map(|f| f.logical_id.clone())
        .collect();
    assert_eq!(queues, ids(&stack_names::QUEUES), "stack_names::QUEUES");
    assert_eq!(tables, ids(&stack_names::TABLES), "stack_names::TABLES");
    assert_eq!(
        functions,
        ids(&stack_names::FUNCTIONS),
        "stack_names::FUNCTIONS"
    );
    let fed_by = |function: &str| {
        stack
            .function(function)
            .map(|f| f.sqs_events.iter().map(|e| e.queue.clone()).collect())
            .unwrap_or_default()
    };
    let map_queues: Vec<String> = fed_by(stack_names::TIMES_TWO_FUNCTION);
    assert_eq!(
        map_queues,
        [
            stack_names::TIMES_TWO_QUEUE,
            stack_names::OBJECT_CREATED_QUEUE
        ]
    );
    let merge_queues: Vec<String> = fed_by(stack_names::REDUCE_FUNCTION);
    assert_eq!(merge_queues, [stack_names::REDUCE_QUEUE]);
    let buckets: Vec<String> = stack.buckets.iter().map(|b| b.logical_id.clone()).collect();
    assert_eq!(buckets, ids(&stack_names::BUCKETS), "stack_names::BUCKETS");
    let notified = stack
        .bucket(stack_names::INPUT_BUCKET)
        .and_then(|b| b.object_created_queue.clone());
    assert_eq!(notified.as_deref(), Some(stack_names::OBJECT_CREATED_QUEUE));
    let dead_letter = |queue: &str| stack.queue(queue).and_then(|q| q.redrive.clone());
    assert_eq!(
        dead_letter(stack_names::TIMES_TWO_QUEUE).map(|r| r.dead_letter),
        Some(stack_names::TIMES_TWO_DEAD_LETTER_QUEUE.to_string())
    );
    assert_eq!(
        dead_letter(stack_names::REDUCE_QUEUE).map(|r| r.dead_letter),
        Some(stack_names::REDUCE_DEAD_LETTER_QUEUE.to_string())
    );
    assert_eq!(
        dead_letter(stack_names::OBJECT_CREATED_QUEUE).map(|r| r.dead_letter),
        Some(stack_names::OBJECT_CREATED_DEAD_LETTER_QUEUE.to_string())
    );
}

#[test]
fn a_queue_without_a_maximum_message_size_takes_sqs_default() {
    let stack = Stack::parse(&with_resources(
        "  Q:\n    Type: AWS::SQS::Queue\n  S:\n    Type: AWS::SQS::Queue\n    Properties:\n      MaximumMessageSize: 262144\n",
    ))
    .expect("parses");
    let sizes: Vec<usize> = stack
        .queues
        .iter()
        .map(|q| q.maximum_message_size)
        .collect();
    assert_eq!(sizes, vec![DEFAULT_MAXIMUM_MESSAGE_SIZE, 262_144]);
}

#[test]
fn a_function_may_be_fed_by_two_queues() {
    let mapping = |id: &str, queue: &str| {
        format!("  {id}:\n    Type: AWS::Lambda::EventSourceMapping\n    Properties:\n      FunctionName: !Ref F\n      EventSourceArn: !GetAtt {queue}.Arn\n")
    };
    let t = function_and_queue(&format!(
        "  R:\n    Type: AWS::SQS::Queue\n{}{}",
        mapping("A", "Q"),
        mapping("B", "R")
    ));
    let stack = Stack::parse(&t).expect("parses");
    let f = stack.function("F").expect("F");
    let queues: Vec<&str> = f.sqs_events.iter().map(|e| e.queue.as_str()).collect();
    assert_eq!(queues, ["Q", "R"]);
    let pollers: Vec<String> = f.poller_grants().iter().map(Grant::to_string).collect();
    assert_eq!(
        pollers,
        [
            "sqs:DeleteMessage on Q",
            "sqs:DeleteMessage on R",
            "sqs:GetQueueAttributes on Q",
            "sqs:GetQueueAttributes on R",
            "sqs:ReceiveMessage on Q",
            "sqs:ReceiveMessage on R"
        ]
    );
}

#[test]
fn reads_the_input_bucket_of_the_real_template() {
    let stack = real();
    assert_eq!(
        stack.buckets,
        [BucketSpec {
            logical_id: "InputBucket".into(),
            versioned: true,
            object_created_queue: Some("ObjectCreatedQueue".into()),
            encrypted: true,
            public_access_blocked: true,
        }]
    );
    let redrive = stack
        .queue("ObjectCreatedQueue")
        .and_then(|q| q.redrive.clone());
    assert_eq!(
        redrive,
        Some(Redrive {
            dead_letter: "ObjectCreatedDeadLetterQueue".into(),
            max_receive_count: 5
        })
    );
    for id in ["SumArrayFunction", "TimesTwoFunction"] {
        let f = stack.function(id).expect("function");
        assert_eq!(
            f.environment.get("INPUT_BUCKET"),
            Some(&EnvValue::Resource("InputBucket".into())),
            "{id}"
        );
        let env = stack
            .resolve_env(f, |r| Some(format!("made-{r}")))
            .expect("resolves");
        assert_eq!(env["INPUT_BUCKET"], "made-InputBucket", "{id}");
        assert_eq!(env["RANGE_BYTES"], "8388608", "{id}");
        assert_eq!(env["INPUT_CSV_COLUMN"], "0", "{id}");
        assert_eq!(env["TIMES_TWO_QUEUE_URL"], "made-TimesTwoQueue", "{id}");
    }
}

/// A bucket `B` notifying queue `Q`, with `properties` added under its
/// `Properties` (indented by six spaces) and `more` resources after it.
fn bucket_with(properties: &str, more: &str) -> String {
    with_resources(&format!(
        "  Q:\n    Type: AWS::SQS::Queue\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n{properties}{more}"
    ))
}

const NOTIFY_Q: &str = "      NotificationConfiguration:\n        QueueConfigurations:\n          - Event: s3:ObjectCreated:*\n            Queue: !GetAtt Q.Arn\n";

#[test]
fn reads_a_bucket_and_its_defaults() {
    let stack = Stack::parse(&bucket_with(NOTIFY_Q, "")).expect("parses");
    assert_eq!(
        stack.bucket("B"),
        Some(&BucketSpec {
            logical_id: "B".into(),
            versioned: false,
            object_created_queue: Some("Q".into()),
            encrypted: false,
            public_access_blocked: false,
        })
    );
    let partly_blocked = "      VersioningConfiguration:\n        Status: Suspended\n      PublicAccessBlockConfiguration:\n        BlockPublicAcls: true\n        BlockPublicPolicy: true\n        IgnorePublicAcls: true\n";
    let stack = Stack::parse(&bucket_with(partly_blocked, "")).expect("parses");
    let b = stack.bucket("B").expect("B");
    assert!(!b.versioned && !b.public_access_blocked && b.object_created_queue.is_none());
}

#[test]
fn refuses_bucket_settings_it_cannot_honour() {
    let err = error_of(&bucket_with(
        "      VersioningConfiguration:\n        Status: On\n",
        "",
    ));
    assert_eq!(
        err,
        "B: Properties.VersioningConfiguration.Status must be Enabled or Suspended"
    );
    let err = error_of(&bucket_with(
        &NOTIFY_Q.replace("s3:ObjectCreated:*", "s3:ObjectRemoved:*"),
        "",
    ));
    assert_eq!(
        err,
        "B: Properties.NotificationConfiguration.QueueConfigurations[0].Event must be s3:ObjectCreated:*"
    );
    let err = error_of(&bucket_with(&NOTIFY_Q.replace("Q.Arn", "B.Arn"), ""));
    assert_eq!(
        err,
        "B: Properties.NotificationConfiguration.QueueConfigurations[0].Queue names B, a AWS::S3::Bucket, not a queue"
    );
    let err = error_of(&bucket_with(
        &NOTIFY_Q.replace("!GetAtt Q.Arn", "!Ref Q"),
        "",
    ));
    assert_eq!(
        err,
        "B: Properties.NotificationConfiguration.QueueConfigurations[0].Queue must be `!GetAtt <Queue>.Arn`"
    );
    let twice = format!(
        "{NOTIFY_Q}          - Event: s3:ObjectCreated:*\n            Queue: !GetAtt Q.Arn\n"
    );
    let err = error_of(&bucket_with(&twice, ""));
    assert_eq!(
        err,
        "B: Properties.NotificationConfiguration.QueueConfigurations has more than one queue; one is supported"
    );
    let filtered =
        format!("{NOTIFY_Q}            Filter:\n              S3Key:\n                Rules: []\n");
    let err = error_of(&bucket_with(&filtered, ""));
    assert_eq!(
        err,
        "B: Properties.NotificationConfiguration.QueueConfigurations[0].Filter is not supported: every new object is summed"
    );
    let no_queue = "      NotificationConfiguration:\n        QueueConfigurations:\n          - Event: s3:ObjectCreated:*\n";
    let err = error_of(&bucket_with(no_queue, ""));
    assert_eq!(
        err,
        "B: Properties.NotificationConfiguration.QueueConfigurations[0].Queue is missing"
    );
    let lambda = "      NotificationConfiguration:\n        LambdaConfigurations: []\n";
    let err = error_of(&bucket_with(lambda, ""));
    assert_eq!(
        err,
        "B: Properties.NotificationConfiguration.LambdaConfigurations is not supported: notifications go to a queue"
    );
}

/// A function `F` with one policy statement of `actions` on `resource`, and
/// the bucket `B` of [`bucket_with`].
fn s3_grant(actions: &str, resource: &str) -> String {
    bucket_with(
        NOTIFY_Q,
        &format!("  F:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildProperties:\n        Binary: f\n    Properties:\n      Policies:\n        - Statement:\n            - Effect: Allow\n              Action: [{actions}]\n              Resource: {resource}\n"),
    )
}

#[test]
fn reads_s3_grants_on_a_bucket_and_its_objects() {
    let stack = Stack::parse(&s3_grant(
        "s3:GetObject, s3:GetObjectVersion",
        "!Sub \"${B.Arn}/*\"",
    ))
    .expect("parses");
    let grants: Vec<String> = stack
        .function("F")
        .expect("F")
        .grants
        .iter()
        .map(Grant::to_string)
        .collect();
    assert_eq!(
        grants,
        ["s3:GetObject on B/*", "s3:GetObjectVersion on B/*"]
    );
    let long_form = s3_grant("s3:GetObject", "{\"Fn::Sub\": \"${B.Arn}/*\"}");
    let stack = Stack::parse(&long_form).expect("parses");
    let f = stack.function("F").expect("F");
    assert!(f
        .grants
        .contains(&Grant::new("s3:GetObject", objects_of("B"))));
    let stack = Stack::parse(&s3_grant("s3:ListBucket", "!GetAtt B.Arn")).expect("parses");
    let f = stack.function("F").expect("F");
    assert_eq!(f.actions(), BTreeSet::from(["s3:ListBucket".to_string()]));
    assert!(f.grants.contains(&Grant::new("s3:ListBucket", "B")));
}

#[test]
fn refuses_s3_grants_that_allow_nothing_or_too_much() {
    let err = error_of(&s3_grant("s3:GetObject", "!GetAtt B.Arn"));
    assert_eq!(
        err,
        "F: Properties.Policies[0].Statement[0].Resource grants s3:GetObject, an object action, on the bucket B: grant it on its objects, `!Sub \"${B.Arn}/*\"`"
    );
    let err = error_of(&s3_grant("s3:ListBucket", "!Sub \"${B.Arn}/*\""));
    assert_eq!(
        err,
        "F: Properties.Policies[0].Statement[0].Resource grants s3:ListBucket on the objects of B: it applies to the bucket, `!GetAtt B.Arn`"
    );
    let err = error_of(&s3_grant("sqs:SendMessage", "!Sub \"${Q.Arn}/*\""));
    assert_eq!(
        err,
        "F: Properties.Policies[0].Statement[0].Resource names Q, a AWS::SQS::Queue, not a bucket"
    );
    let err = error_of(&s3_grant("s3:GetObject", "!Sub \"${B.Arn}/private/*\""));
    assert!(
        err.starts_with(
            "F: Properties.Policies[0].Statement[0].Resource must name a resource of this template"
        ),
        "{err}"
    );
    let err = error_of(&s3_grant("s3:GetObject", "\"arn:aws:s3:::any-bucket/*\""));
    assert!(
        err.contains("must name a resource of this template"),
        "{err}"
    );
}

#[test]
fn a_function_s_memory_size_wins_over_the_globals() {
    let function = |name: &str, own: &str| {
        format!("  {name}:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildProperties:\n        Binary: {name}\n    Properties:\n{own}      Timeout: 3\n")
    };
    let resources = function("Own", "      MemorySize: 1024\n") + &function("Global", "");
    let t = format!(
        "Globals:\n  Function:\n    MemorySize: 256\n{}",
        with_resources(&resources)
    );
    let stack = Stack::parse(&t).expect("parses");
    assert_eq!(stack.function("Own").map(|f| f.memory_mb), Some(1024));
    assert_eq!(stack.function("Global").map(|f| f.memory_mb), Some(256));
    let too_small = t.replace("MemorySize: 1024", "MemorySize: 64");
    assert!(
        error_of(&too_small).contains("MemorySize"),
        "{}",
        error_of(&too_small)
    );
}
