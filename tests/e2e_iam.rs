//! End to end on a moto that enforces IAM (docs/iam.md): each function signs
//! as an IAM user holding exactly its actions from template.yaml, the runner
//! provisions as a deployer, the admin commands run as the operator of
//! docs/iam.md. A grant missing from the template is an AccessDenied naming
//! the action, which fails these tests (e2e_moto, cli_moto and chaos_moto run
//! the same way).

mod common;

use common::{array, expected, run_adder, sdk_as, wait_until_empty, Server};
use pipeline::Queue;
use stack::Stack;
use std::time::Duration;
use test_support::iam::{self, Principals};
use test_support::Moto;

fn iam_on(moto: &Moto, prefix: &str) -> Principals {
    let stack = Stack::embedded().expect("template.yaml parses");
    iam::enforce(moto, &stack, prefix).expect("IAM users on moto")
}

/// Runs `adder args…` as the operator: (exit code, stdout, stderr).
fn operator(moto: &Moto, principals: &Principals, args: &[&str]) -> (i32, String, String) {
    let mut env = principals.operator_env(moto);
    env.push(("RUST_LOG", "warn".into()));
    run_adder(args, &env, None)
}

fn operator_ok(moto: &Moto, principals: &Principals, args: &[&str]) -> String {
    let (code, out, err) = operator(moto, principals, args);
    assert_eq!(code, 0, "adder {args:?} as the operator failed: {err}");
    out
}

/// The ground the other tests stand on: moto really refuses unknown keys
/// and actions a user was not given, and says which action.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_enforces_each_users_actions() {
    let moto = Moto::start();
    let principals = iam_on(&moto, "any");
    let any_table = "any-table";
    let harness = aws_sdk_dynamodb::Client::new(&sdk_as(&moto, &principals.harness).await);
    let listed = harness.list_tables().send().await;
    assert!(listed.is_ok(), "the harness may do anything: {listed:?}");

    let anonymous = aws_ports::local_sdk_config(moto.endpoint()).await;
    let refused = aws_sdk_dynamodb::Client::new(&anonymous)
        .list_tables()
        .send()
        .await;
    assert!(refused.is_err(), "keys no user owns are refused");

    let times_two = &principals.functions["TimesTwoFunction"];
    let client = aws_sdk_dynamodb::Client::new(&sdk_as(&moto, times_two).await);
    let denied = client
        .scan()
        .table_name(any_table)
        .send()
        .await
        .expect_err("TimesTwoFunction may not Scan");
    let text = format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&denied));
    assert!(
        text.contains("not authorized to perform: dynamodb:Scan"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sums_and_admin_commands_with_exactly_the_granted_actions() {
    let moto = Moto::start();
    let prefix = "iam";
    let principals = iam_on(&moto, prefix);
    let server = Server::aws_iam(
        &moto,
        &principals,
        prefix,
        &["--max-pollers", "2", "--chunk-size", "3", "--fan-in", "2"],
    );
    let cases: Vec<Vec<String>> = vec![
        vec!["21".into()],
        (1..=20).map(|i| format!("{i}.5")).collect(),
        (0..100).map(|i| format!("{}", i * 7 - 300)).collect(),
    ];
    let mut ids = Vec::new();
    for elements in &cases {
        let (status, answer) = server.post(&array(elements)).await;
        assert_eq!(status, 200, "{answer}");
        let id = answer["arrayId"].as_str().expect("arrayId").to_string();
        let sum = server.wait(&id, Duration::from_secs(120)).await;
        assert_eq!(sum, expected(elements), "{} elements", elements.len());
        ids.push(id);
    }

    // A late duplicate in the TimesTwo dead-letter queue, put there as SQS
    // would: the operator lists it (reading the sums table for the reason)
    // and redrives it (times_two then finds its leaf taken).
    let sdk = sdk_as(&moto, &principals.harness).await;
    let resources = stack_tools::Resources::from_prefix(&sdk, prefix)
        .await
        .expect("the runner's resources");
    let dlq = aws_ports::SqsQueue::new(
        aws_sdk_sqs::Client::new(&sdk),
        &resources.times_two_dead_letter_queue_url,
    );
    let tree = packet::Tree::new(1, 3, 2).expect("tree");
    let late = packet::MapMessage::encode(&ids[0], &tree, 0, &["21"]);
    dlq.send(vec![late]).await.expect("send to the DLQ");

    let listed = operator_ok(&moto, &principals, &["dlq", "list", "--prefix", prefix]);
    assert!(
        listed.contains("TimesTwo dead-letter queue: 1 message(s)")
            && listed.contains(&format!("array {} done (late duplicate)", ids[0])),
        "{listed}"
    );
    let redriven = operator_ok(&moto, &principals, &["dlq", "redrive", "--prefix", prefix]);
    assert!(redriven.contains("1 message(s) redriven"), "{redriven}");
    let pending = operator_ok(&moto, &principals, &["pending", "--prefix", prefix]);
    assert!(pending.contains("no pending or failed arrays"), "{pending}");
    let rows = operator_ok(
        &moto,
        &principals,
        &["scratchpad", &ids[1], "--prefix", prefix],
    );
    assert!(rows.contains(&ids[1]), "{rows}");

    // The redriven duplicate went through times_two (both queues empty:
    // handled and deleted, not dead-lettered again) without a denial.
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    wait_until_empty(
        &sqs,
        &[
            resources.times_two_queue_url.as_str(),
            resources.times_two_dead_letter_queue_url.as_str(),
        ],
        Duration::from_secs(60),
    )
    .await;
    server.assert_nothing_denied();
}
