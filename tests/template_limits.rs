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
    assert_eq!(chunk["MaxValue"].as_u64(), Some(packet::MAX_CHUNK_SIZE));
    let default = chunk["Default"].as_u64().expect("a default");
    assert!(default <= packet::MAX_CHUNK_SIZE);
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
