//! The exactly-once faults end to end on moto: duplicate messages injected
//! into both queues, the runner killed mid-run and restarted, and still the
//! exact sums, written once, with no live packet left in the scratchpad.
//! moto enforces IAM: each function signs as its own user (docs/iam.md); the
//! test injects its duplicates as the harness.

mod common;

use common::{array, expected, sdk_as, Server};
use stack_tools::provision;
use std::time::Duration;
use test_support::{iam, Moto};

/// Copies up to `rounds * 10` visible messages of `queue` back into it:
/// SQS's at-least-once delivery, on demand.
async fn duplicate(sqs: &aws_sdk_sqs::Client, queue: &str, rounds: usize) -> usize {
    let mut copied = 0;
    for _ in 0..rounds {
        let Ok(got) = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
        else {
            break;
        };
        let bodies: Vec<String> = got
            .messages()
            .iter()
            .filter_map(|m| m.body().map(str::to_string))
            .collect();
        if bodies.is_empty() {
            break;
        }
        for body in bodies {
            if sqs
                .send_message()
                .queue_url(queue)
                .message_body(body)
                .send()
                .await
                .is_ok()
            {
                copied += 1;
            }
        }
    }
    copied
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_and_a_killed_runner_still_give_exact_sums() {
    let moto = Moto::start();
    let flags = [
        "--max-pollers",
        "2",
        "--chunk-size",
        "10",
        "--fan-in",
        "3",
        "--visibility-timeout",
        "3",
    ];
    let stack = stack::Stack::embedded().expect("template");
    let principals = iam::enforce(&moto, &stack, "chaos").expect("IAM users on moto");
    let mut first = Server::aws_iam(&moto, &principals, "chaos", &flags);
    let sdk = sdk_as(&moto, &principals.harness).await;
    let provisioned = provision(&stack, &sdk, "chaos")
        .await
        .expect("same queues and tables");
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let times_two = provisioned.queue_urls["TimesTwoQueue"].clone();
    let reduce = provisioned.queue_urls["ReduceQueue"].clone();

    let arrays: Vec<Vec<String>> = vec![
        (0..300).map(|i| format!("{}.25", i as i64 - 150)).collect(),
        (0..500).map(|i| format!("{}", i * 7 % 1000)).collect(),
        (0..250).map(|i| format!("-{i}e-3")).collect(),
    ];
    let mut ids = Vec::new();
    for elements in &arrays {
        let (status, answer) = first.post(&array(elements)).await;
        assert_eq!(status, 200, "{answer}");
        ids.push(answer["arrayId"].as_str().expect("id").to_string());
    }
    let mut copies = duplicate(&sqs, &times_two, 3).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    copies += duplicate(&sqs, &reduce, 3).await + duplicate(&sqs, &times_two, 2).await;
    first.kill();
    copies += duplicate(&sqs, &times_two, 2).await + duplicate(&sqs, &reduce, 2).await;
    assert!(copies > 0, "the test must actually duplicate messages");

    first.assert_nothing_denied();
    let second = Server::aws_iam(&moto, &principals, "chaos", &flags);
    for (id, elements) in ids.iter().zip(&arrays) {
        let sum = second.wait(id, Duration::from_secs(240)).await;
        assert_eq!(sum, expected(elements), "array {id}");
    }
    // Late duplicates after completion change nothing.
    duplicate(&sqs, &times_two, 1).await;
    for (id, elements) in ids.iter().zip(&arrays) {
        assert_eq!(
            second.wait(id, Duration::from_secs(5)).await,
            expected(elements)
        );
    }
    // Give in-flight duplicates a moment, then no packet may be left live.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let table = provisioned.table_names["ScratchpadTable"].clone();
    let scan = dynamodb
        .scan()
        .table_name(&table)
        .send()
        .await
        .expect("scan");
    let live: Vec<String> = scan
        .items()
        .iter()
        .filter(|item| {
            !matches!(
                item.get("consumed"),
                Some(aws_sdk_dynamodb::types::AttributeValue::Bool(true))
            )
        })
        .map(|item| format!("{:?}", item.get("packetId")))
        .collect();
    assert!(live.is_empty(), "live packets left behind: {live:?}");
    second.assert_nothing_denied();
}
