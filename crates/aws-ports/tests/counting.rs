//! The request counter sees every SDK request, by operation, on a real API.

use aws_ports::{local_sdk_config, ports_counted, RequestCounter};
use stack::Stack;
use stack_tools::provision;
use std::time::Duration;
use test_support::Moto;

#[tokio::test]
async fn counts_each_operation_the_ports_send() {
    let moto = Moto::start();
    let sdk = local_sdk_config(moto.endpoint()).await;
    let stack = Stack::embedded().expect("template");
    let provisioned = provision(&stack, &sdk, "count").await.expect("provision");
    let counter = RequestCounter::new();
    let ports = ports_counted(&sdk, &provisioned.names(), Some(&counter));
    let bodies: Vec<String> = (0..25).map(|i| format!("body {i}")).collect();
    ports.times_two_queue.send(bodies).await.expect("send");
    let got = ports
        .times_two_queue
        .receive(10, Duration::ZERO, Duration::from_secs(30))
        .await
        .expect("receive");
    assert_eq!(got.len(), 10);
    ports.scratchpad.group("nothing-here").await.expect("query");
    let tally = counter.snapshot();
    let count = |op: &str| {
        tally
            .iter()
            .filter(|((_, o), _)| o == op)
            .map(|(_, s)| s.requests)
            .sum::<u64>()
    };
    assert_eq!(count("SendMessageBatch"), 3, "{tally:?}");
    assert_eq!(count("ReceiveMessage"), 1, "{tally:?}");
    assert_eq!(count("Query"), 1, "{tally:?}");
    assert!(tally.values().all(|s| s.billed >= s.requests));
    counter.reset();
    assert!(counter.snapshot().is_empty());
}
