//! The exactly-once faults end to end on moto: duplicate messages injected
//! into both queues (counted: the test fails if it copied none), the runner
//! killed once while an array is still pending (checked after the kill) and
//! restarted, and late duplicates of both queues after every array is done,
//! waited for until both queues are empty: still the exact sums, written once,
//! nothing dead-lettered, and no live packet left in the scratchpad.
//! moto enforces IAM: each function signs as its own user (docs/iam.md); the
//! test submits as the SumArray function's user and injects its duplicates
//! as the harness.

mod common;

use common::{depth, expected, sdk_as, wait_until_empty, Server};
use pipeline::Status;
use stack_tools::provision;
use std::time::{Duration, Instant};
use test_support::{iam, Moto};

/// Copies up to `rounds * 10` visible messages of `queue` back into it
/// (SQS's at-least-once delivery, on demand); returns the copied bodies.
async fn duplicate(sqs: &aws_sdk_sqs::Client, queue: &str, rounds: usize) -> Vec<String> {
    let mut copied = Vec::new();
    for _ in 0..rounds {
        let got = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .expect("receive as the harness");
        let bodies: Vec<String> = got
            .messages()
            .iter()
            .filter_map(|m| m.body().map(str::to_string))
            .collect();
        if bodies.is_empty() {
            break;
        }
        resend(sqs, queue, &bodies).await;
        copied.extend(bodies);
    }
    copied
}

/// Sends each of `bodies` to `queue` once more.
async fn resend(sqs: &aws_sdk_sqs::Client, queue: &str, bodies: &[String]) {
    for body in bodies {
        sqs.send_message()
            .queue_url(queue)
            .message_body(body)
            .send()
            .await
            .expect("send a copy as the harness");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_and_a_killed_runner_still_give_exact_sums() {
    let moto = Moto::start();
    let (chunk_size, fan_in) = ("10", "3");
    let flags = [
        "--max-pollers",
        "2",
        "--chunk-size",
        chunk_size,
        "--fan-in",
        fan_in,
        "--visibility-timeout",
        "3",
    ];
    let stack = stack::Stack::embedded().expect("template");
    let principals = iam::enforce(&moto, &stack, "chaos").expect("IAM users on moto");
    let sdk = sdk_as(&moto, &principals.harness).await;
    let provisioned = provision(&stack, &sdk, "chaos")
        .await
        .expect("the runner's queues and tables");
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = |id: &str| provisioned.queue_urls[id].clone();
    let (times_two, reduce) = (queue("TimesTwoQueue"), queue("ReduceQueue"));
    let dead_letters = [
        queue("TimesTwoDeadLetterQueue"),
        queue("ReduceDeadLetterQueue"),
    ];

    // Submitted as SumArray's own user before any runner polls, so the
    // TimesTwo queue holds every packet when the test copies some.
    let env = provisioned
        .function_env(&stack, "SumArrayFunction")
        .expect("SumArray's environment");
    let config = pipeline::Config::from_lookup(jobs::registry(), |name| match name {
        "CHUNK_SIZE" => Some(chunk_size.into()),
        "FAN_IN" => Some(fan_in.into()),
        _ => env.get(name).cloned(),
    })
    .expect("SumArray's configuration");
    let sum_array = aws_ports::ports(
        &sdk_as(&moto, &principals.functions["SumArrayFunction"]).await,
        &aws_ports::Names::from_lookup(|name| env.get(name).cloned()),
    );
    let arrays: Vec<Vec<String>> = vec![
        (0..300).map(|i| format!("{}.25", i as i64 - 150)).collect(),
        (0..500).map(|i| format!("{}", i * 7 % 1000)).collect(),
        (0..250).map(|i| format!("-{i}e-3")).collect(),
    ];
    let mut ids = Vec::new();
    for elements in &arrays {
        let body = format!("[{}]", elements.join(","));
        let accepted = pipeline::submit(&sum_array, &config, &body)
            .await
            .expect("accepted");
        ids.push(accepted.array_id);
    }
    let mut map_copies = duplicate(&sqs, &times_two, 3).await;
    assert!(!map_copies.is_empty(), "no TimesTwo message was copied");

    // Kill the runner once reduce has work, then check that it was mid-run.
    let mut first = Server::aws_iam(&moto, &principals, "chaos", &flags);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (visible, in_flight) = depth(&sqs, &reduce).await;
        if visible + in_flight > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no Reduce message within 120 s");
        first.assert_nothing_denied();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill();
    first.assert_nothing_denied();
    let mut pending = 0;
    for id in &ids {
        let record = sum_array
            .sums
            .get(id)
            .await
            .expect("read the record")
            .expect("a record");
        pending += usize::from(record.status == Status::Pending);
    }
    assert!(pending > 0, "every array was done before the kill");

    // The killed runner's messages come back after the visibility timeout.
    map_copies.extend(duplicate(&sqs, &times_two, 2).await);
    let mut reduce_copies = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while reduce_copies.is_empty() {
        assert!(
            Instant::now() < deadline,
            "no Reduce message came back within 30 s of the kill"
        );
        reduce_copies = duplicate(&sqs, &reduce, 2).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let second = Server::aws_iam(&moto, &principals, "chaos", &flags);
    for (id, elements) in ids.iter().zip(&arrays) {
        let sum = second.wait(id, Duration::from_secs(240)).await;
        assert_eq!(sum, expected(elements), "array {id}");
    }
    // Late duplicates of both queues after completion, handled before the
    // checks: they change no sum, dead-letter nothing, and leave no live row.
    resend(&sqs, &times_two, &map_copies).await;
    resend(&sqs, &reduce, &reduce_copies).await;
    wait_until_empty(
        &sqs,
        &[times_two.as_str(), reduce.as_str()],
        Duration::from_secs(120),
    )
    .await;
    for (id, elements) in ids.iter().zip(&arrays) {
        assert_eq!(
            second.wait(id, Duration::from_secs(5)).await,
            expected(elements)
        );
    }
    for dlq in &dead_letters {
        assert_eq!(depth(&sqs, dlq).await, (0, 0), "{dlq}");
    }
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let table = provisioned.table_names["ScratchpadTable"].clone();
    let scan = dynamodb
        .scan()
        .table_name(&table)
        .send()
        .await
        .expect("scan");
    assert!(scan.count() > 0, "the scratchpad kept its tombstones");
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
