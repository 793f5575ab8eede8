//! The template's parameter bounds are the code's: a stack deployed with a
//! value the functions refuse at start would fail every cold start.

use serde_yaml_ng::Value;

fn parameter(name: &str) -> Value {
    let template: Value = serde_yaml_ng::from_str(stack::TEMPLATE).expect("template.yaml is YAML");
    template["Parameters"][name].clone()
}

#[test]
fn chunk_size_is_bounded_by_what_one_message_holds() {
    let chunk = parameter("ChunkSize");
    assert_eq!(chunk["MaxValue"].as_u64(), Some(pipeline::MAX_CHUNK_SIZE));
    const { assert!(pipeline::MAX_CHUNK_SIZE <= packet::MAX_CHUNK_SIZE) };
    let default = chunk["Default"].as_u64().expect("a default");
    assert!(default <= pipeline::MAX_CHUNK_SIZE);
}

#[test]
fn the_array_deadline_comes_before_rows_and_messages_expire() {
    let deadline = parameter("ArrayDeadlineSeconds")["Default"]
        .as_u64()
        .expect("a default");
    let ttl = parameter("ScratchpadTtlSeconds")["Default"]
        .as_u64()
        .expect("a default");
    assert!(
        deadline < ttl,
        "deadline {deadline} s, scratchpad TTL {ttl} s"
    );
    assert!(
        deadline < 14 * 24 * 3600,
        "SQS keeps messages 14 days at most"
    );
}

#[test]
fn every_queue_takes_the_largest_message_the_pipeline_sends() {
    let stack = stack::Stack::embedded().expect("template.yaml parses");
    for queue in &stack.queues {
        assert!(
            queue.maximum_message_size >= packet::MAX_MESSAGE_BYTES,
            "{} takes {} bytes, packets may be {}",
            queue.logical_id,
            queue.maximum_message_size,
            packet::MAX_MESSAGE_BYTES
        );
    }
}

/// The value under a CloudFormation short-form tag (`!Ref X` is X).
fn untagged(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => &tagged.value,
        other => other,
    }
}

fn resources_of_type<'t>(template: &'t Value, kind: &str) -> Vec<(&'t str, &'t Value)> {
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(id, r)| (id.as_str().expect("a logical id"), r))
        .collect()
}

/// S3 sends `s3:TestEvent` the moment the bucket's notification is set, so
/// a mapping can invoke its function while the stack is still being made;
/// if the function's LogGroup does not exist yet, Lambda creates it and the
/// stack's LogGroup fails with "already exists".
#[test]
fn every_event_source_mapping_waits_for_its_functions_log_group() {
    let template: Value = serde_yaml_ng::from_str(stack::TEMPLATE).expect("template.yaml is YAML");
    let log_groups = resources_of_type(&template, "AWS::Logs::LogGroup");
    let mappings = resources_of_type(&template, "AWS::Lambda::EventSourceMapping");
    assert_eq!(mappings.len(), 3, "TimesTwo, ObjectCreated and Reduce");
    for (id, mapping) in mappings {
        let function = untagged(&mapping["Properties"]["FunctionName"])
            .as_str()
            .expect("FunctionName: !Ref Function");
        let wanted = format!("/aws/lambda/${{{function}}}");
        let (log_group, _) = log_groups
            .iter()
            .find(|(_, g)| untagged(&g["Properties"]["LogGroupName"]).as_str() == Some(&wanted))
            .unwrap_or_else(|| panic!("no LogGroup named {wanted} for {id}"));
        let depends: Vec<&str> = match &mapping["DependsOn"] {
            Value::String(one) => vec![one.as_str()],
            Value::Sequence(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        assert!(
            depends.contains(log_group),
            "{id} invokes {function} but does not depend on {log_group} (DependsOn: {depends:?})"
        );
    }
}

/// The largest body the pipeline puts on `queue`.
fn largest_body(queue: &str) -> String {
    const ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
    match queue {
        "TimesTwoQueue" => {
            // A full packet of the longest elements; a range message is far smaller.
            let longest = format!("-0.{}e-130", "1".repeat(packet::MAX_ELEMENT_TEXT - 8));
            assert_eq!(longest.len(), packet::MAX_ELEMENT_TEXT);
            let chunk = parameter("ChunkSize")["MaxValue"].as_u64().expect("a MaxValue");
            let tree = packet::Tree::new(u64::MAX / 2, chunk, 2).expect("a tree");
            let elements = vec![longest.as_str(); chunk as usize];
            let body = packet::MapMessage::encode(ID, &tree, tree.leaves() - 1, &elements);
            assert!(body.len() <= packet::MAX_MESSAGE_BYTES);
            body
        }
        "ReduceQueue" => {
            let tree = packet::Tree::new(u64::MAX / 2, 1, 2).expect("a tree");
            let targets = (0..packet::MAX_REDUCE_TARGETS as u64)
                .map(|i| packet::NodeId::new(1, tree.width(1) - 1 - i))
                .collect();
            let message = packet::ReduceMessage {
                array_id: ID.to_string(),
                tree,
                targets,
            };
            let bodies = message.encode_all();
            assert_eq!(bodies.len(), 1);
            assert!(bodies[0].len() <= packet::MAX_REDUCE_MESSAGE_BYTES);
            bodies[0].clone()
        }
        // S3's event for a key of 1,024 bytes (S3's largest), each byte
        // percent-encoded, in a bucket name of 63: about 5 KB.
        "ObjectCreatedQueue" => serde_json::json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "ap-southeast-2",
            "eventTime": "2026-12-07T00:00:00.000Z", "eventName": "ObjectCreated:CompleteMultipartUpload",
            "userIdentity": {"principalId": "AWS:AIDAJDPLRKLG7UEXAMPLE:someone-with-a-long-session-name"},
            "requestParameters": {"sourceIPAddress": "2001:0db8:85a3:0000:0000:8a2e:0370:7334"},
            "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "x".repeat(128)},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "c".repeat(255),
                "bucket": {"name": "b".repeat(63), "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                    "arn": format!("arn:aws-us-gov:s3:::{}", "b".repeat(63))},
                "object": {"key": "%22".repeat(1024), "size": u64::MAX, "eTag": "e".repeat(34),
                    "versionId": "v".repeat(1024), "sequencer": "0".repeat(32)}}}]})
        .to_string(),
        other => panic!("no largest message known for {other}: add it here"),
    }
}

/// An SQS record with every field besides the body at its largest.
fn largest_record(body: &str) -> aws_lambda_events::sqs::SqsMessage {
    let mut record = aws_lambda_events::sqs::SqsMessage::default();
    record.message_id = Some("0f8fad5b-d9cb-469f-a165-70867728950e".into());
    record.receipt_handle = Some("r".repeat(1024));
    record.body = Some(body.to_string());
    record.md5_of_body = Some("0".repeat(32));
    record.event_source = Some("aws:sqs".into());
    record.event_source_arn = Some(format!(
        "arn:aws-us-gov:sqs:ap-southeast-2:123456789012:{}",
        "q".repeat(80)
    ));
    record.aws_region = Some("ap-southeast-2".into());
    for (name, value) in [
        ("ApproximateReceiveCount", "99999".to_string()),
        ("SentTimestamp", "1".repeat(13)),
        ("SenderId", "AROA".to_string() + &"S".repeat(124)),
        ("ApproximateFirstReceiveTimestamp", "1".repeat(13)),
        ("AWSTraceHeader", "T".repeat(256)),
        ("MessageDeduplicationId", "d".repeat(128)),
        ("MessageGroupId", "g".repeat(128)),
        ("SequenceNumber", "9".repeat(20)),
    ] {
        record.attributes.insert(name.into(), value);
    }
    record
}

/// Lambda invokes an SQS function when a batch's payload reaches 6 MB, and
/// does not say what becomes of messages it received but did not pass: they
/// would use up a receive (towards maxReceiveCount) unprocessed. So every
/// mapping's BatchSize times its queue's largest record must fit.
#[test]
fn every_mapping_batch_fits_one_invocation() {
    use handlers::payload::{sqs_record_bytes, BATCH_PAYLOAD_LIMIT, SQS_RECORD_ENVELOPE_BYTES};
    let stack = stack::Stack::embedded().expect("template.yaml parses");
    let mut mappings = 0;
    for function in &stack.functions {
        for mapping in &function.sqs_events {
            mappings += 1;
            let body = largest_body(&mapping.queue);
            let record = largest_record(&body);
            let measured = serde_json::to_vec(&record).expect("a record").len();
            let counted = sqs_record_bytes(&body);
            assert!(
                measured <= counted,
                "{}: a record of {measured} bytes, counted {counted}",
                mapping.queue
            );
            let envelope = serde_json::to_vec(&largest_record(""))
                .expect("a record")
                .len();
            assert!(
                envelope <= SQS_RECORD_ENVELOPE_BYTES,
                "an empty record is {envelope} bytes"
            );
            let batch = mapping.batch_size as usize * counted + 64;
            assert!(
                batch <= BATCH_PAYLOAD_LIMIT,
                "{} → {}: BatchSize {} × {counted} bytes = {batch}, over {BATCH_PAYLOAD_LIMIT}",
                mapping.queue,
                function.logical_id,
                mapping.batch_size
            );
        }
    }
    assert_eq!(mappings, 3);
}

/// A times_two invocation maps up to BatchSize ranges of RangeBytes on its
/// share of a vCPU; at the largest RangeBytes the template allows, that must
/// take under half the time the function keeps for reading (its timeout less
/// handlers' margin), at the slowest measured per-core rate. Past it, a
/// batch would time out, return, and come back until it is dead-lettered.
#[test]
fn the_largest_ranges_are_read_well_within_the_timeout() {
    let stack = stack::Stack::embedded().expect("template.yaml parses");
    let largest = parameter("RangeBytes")["MaxValue"]
        .as_u64()
        .expect("a MaxValue");
    assert_eq!(largest, pipeline::MAX_RANGE_BYTES);
    let template: Value = serde_yaml_ng::from_str(stack::TEMPLATE).expect("YAML");
    let memory_mb = template["Globals"]["Function"]["MemorySize"]
        .as_u64()
        .expect("a MemorySize");
    let function = stack
        .functions
        .iter()
        .find(|f| f.binary == "times_two")
        .expect("times_two");
    let batch = function
        .sqs_events
        .iter()
        .find(|m| m.queue == "TimesTwoQueue")
        .expect("its mapping")
        .batch_size as f64;
    let bytes_per_second = pipeline::RANGE_BYTES_PER_CPU_SECOND as f64 * memory_mb as f64
        / pipeline::MEMORY_MB_PER_VCPU as f64;
    let reading = batch * largest as f64 / bytes_per_second;
    let available =
        function.timeout.as_secs_f64() - handlers::sqs::MAP_DEADLINE_MARGIN_MS as f64 / 1000.0;
    assert!(
        reading <= available / 2.0,
        "{batch} ranges of {largest} bytes at {bytes_per_second:.0} B/s take {reading:.1} s; \
         {available} s are kept for reading"
    );
}
