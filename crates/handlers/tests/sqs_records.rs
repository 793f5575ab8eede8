//! An SQS record without a `messageId` cannot be reported by id: the handlers
//! fail the whole batch for it (an empty `itemIdentifier`, which Lambda reads
//! as "every message failed"), log an error and count it, rather than let it
//! be acknowledged, and so deleted, unprocessed.

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use handlers::{measure_reduce, measure_times_two};
use pipeline::memory::MemoryBackend;
use pipeline::{submit, Config, Ports, Queue, SystemClock};
use std::sync::Arc;
use std::time::Duration;

/// An event of `bodies`, each with its id (`None`: no `messageId`).
fn event(bodies: &[(Option<&str>, &str)]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = bodies
        .iter()
        .map(|(id, body)| {
            let mut record = SqsMessage::default();
            record.message_id = id.map(str::to_string);
            record.body = Some(body.to_string());
            record
        })
        .collect();
    event
}

fn cfg() -> Config {
    Config {
        chunk_size: 2,
        fan_in: 2,
        ..Config::default()
    }
}

async fn bodies(queue: &dyn Queue) -> Vec<String> {
    queue
        .receive(10, Duration::ZERO, Duration::from_secs(60))
        .await
        .expect("receive")
        .into_iter()
        .map(|m| m.body)
        .collect()
}

fn identifiers(response: &aws_lambda_events::sqs::SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

#[tokio::test]
async fn a_record_without_a_message_id_fails_the_whole_times_two_batch() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports: Ports = backend.ports();
    let config = cfg();
    submit(&ports, &config, "[1,2,3,4]").await.expect("ok");
    let packets = bodies(backend.times_two_queue.as_ref()).await;
    assert_eq!(packets.len(), 2);
    let (response, metrics) = measure_times_two(
        &ports,
        &config,
        &event(&[(Some("m0"), &packets[0]), (None, &packets[1])]),
        None,
    )
    .await;
    assert_eq!(
        identifiers(&response),
        vec![String::new()],
        "the whole batch"
    );
    assert_eq!(metrics.batch_item_failures, 1);
    assert_eq!(
        metrics.packets_mapped, 1,
        "the identified message was mapped"
    );
    assert_eq!(
        backend.scratchpad.rows().len(),
        1,
        "the record without an id was not processed"
    );

    let (response, metrics) =
        measure_times_two(&ports, &config, &event(&[(Some("m1"), &packets[1])]), None).await;
    assert!(identifiers(&response).is_empty(), "{response:?}");
    assert_eq!(metrics.batch_item_failures, 0);
}

#[tokio::test]
async fn a_record_without_a_message_id_fails_the_whole_reduce_batch() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports: Ports = backend.ports();
    let config = cfg();
    submit(&ports, &config, "[1,2,3,4]").await.expect("ok");
    let packets = bodies(backend.times_two_queue.as_ref()).await;
    let mapped = event(&[(Some("m0"), &packets[0]), (Some("m1"), &packets[1])]);
    let (response, _) = measure_times_two(&ports, &config, &mapped, None).await;
    assert!(identifiers(&response).is_empty(), "{response:?}");
    let triggers = bodies(backend.reduce_queue.as_ref()).await;
    assert!(!triggers.is_empty());
    let unidentified: Vec<(Option<&str>, &str)> =
        triggers.iter().map(|t| (None, t.as_str())).collect();
    let (response, metrics) = measure_reduce(&ports, &config, &event(&unidentified), None).await;
    assert_eq!(
        identifiers(&response),
        vec![String::new()],
        "the whole batch"
    );
    assert_eq!(metrics.batch_item_failures, triggers.len() as u64);
    assert_eq!(metrics.arrays_completed, 0, "nothing was reduced");
}
