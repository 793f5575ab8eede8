//! End to end against moto: `adder serve --backend aws` creates the queues and
//! tables of template.yaml on a moto server, plays the event source mappings,
//! and must return exact sums. moto enforces IAM: each function signs as a
//! user holding exactly its actions from template.yaml (docs/iam.md), and a
//! denied request fails the test naming its action.

mod common;

use common::{array, expected, Server};
use std::time::Duration;
use test_support::{iam, Moto};

/// `adder serve --backend aws` on `moto`, with IAM enforced.
fn server(moto: &Moto, prefix: &str, extra: &[&str]) -> Server {
    let stack = stack::Stack::embedded().expect("template.yaml parses");
    let principals = iam::enforce(moto, &stack, prefix).expect("IAM users on moto");
    Server::aws_iam(moto, &principals, prefix, extra)
}

fn numbers(n: usize, f: impl Fn(usize) -> String) -> Vec<String> {
    (0..n).map(f).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_sums_for_every_kind_of_array() {
    let moto = Moto::start();
    let server = server(&moto, "e2e", &["--max-pollers", "4"]);
    let cases: Vec<Vec<String>> = vec![
        numbers(1, |_| "21".into()),
        numbers(5, |i| (i + 1).to_string()),
        numbers(1000, |i| format!("{}", i as i64 - 400)),
        numbers(10_000, |i| format!("{}.{:02}", i % 97, i % 100)),
        vec!["0.1".into(), "0.2".into(), "0.3".into()],
        vec!["-1.5".into(), "-2".into(), "3e-3".into(), "-7E2".into()],
        vec!["9007199254740993".into(), "1".into()],
        vec!["99999999999999999999999999999999999999".into(); 3],
        // Valid numbers written long: 1,000 of them verbatim would be a
        // 400 KB message, which SQS refuses (the array used to stay pending).
        numbers(1000, |i| match i % 2 {
            0 => format!("1.{}", "0".repeat(400)),
            _ => format!("-0.{}3e{}", "0".repeat(400), 401),
        }),
    ];
    for elements in &cases {
        let sum = server.sum(&array(elements), Duration::from_secs(120)).await;
        assert_eq!(sum, expected(elements), "{} elements", elements.len());
    }
    assert_eq!(server.sum("[]", Duration::from_secs(5)).await, "0");
    assert_eq!(
        server.sum("[0.1,0.2,0.3]", Duration::from_secs(60)).await,
        "1.2"
    );
    server.assert_nothing_denied();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_trees_with_small_chunks() {
    let moto = Moto::start();
    let server = server(
        &moto,
        "deep",
        &["--max-pollers", "4", "--chunk-size", "7", "--fan-in", "3"],
    );
    let elements = numbers(300, |i| format!("-{i}.5"));
    let sum = server
        .sum(&array(&elements), Duration::from_secs(180))
        .await;
    assert_eq!(sum, expected(&elements));
    server.assert_nothing_denied();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_reach_the_client() {
    let moto = Moto::start();
    let server = server(&moto, "bad", &["--max-pollers", "1"]);
    let (status, answer) = server.post("[1,\"a\",3]").await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["error"],
        "element 1 is a string, but every element must be a number"
    );
    let (status, _) = server.get("0f8fad5b-d9cb-469f-a165-70867728950e").await;
    assert_eq!(status, 404);
    server.assert_nothing_denied();
}

/// README "Reading a result": the sums table's row for an array, read the way
/// `aws dynamodb get-item --table-name <prefix>-SumsTable --key
/// '{"arrayId":{"S":"<arrayId>"}}'` reads it, holds the result under the
/// original's attribute name, `resultSum`, as an exact Number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sums_table_row_holds_result_sum() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let moto = Moto::start();
    let server = Server::aws(&moto, "row", &[]);
    let (status, answer) = server.post("[1,2,3,4,5.5]").await;
    assert_eq!(status, 200, "{answer}");
    let id = answer["arrayId"].as_str().expect("arrayId");
    assert_eq!(server.wait(id, Duration::from_secs(60)).await, "31");
    let sdk = aws_ports::local_sdk_config(moto.endpoint()).await;
    let row = aws_sdk_dynamodb::Client::new(&sdk)
        .get_item()
        .table_name("row-SumsTable")
        .key("arrayId", AttributeValue::S(id.to_string()))
        .send()
        .await
        .expect("get-item")
        .item
        .expect("the array's row");
    assert_eq!(
        row.get("resultSum"),
        Some(&AttributeValue::N("31".into())),
        "{row:?}"
    );
    assert_eq!(
        row.get("status"),
        Some(&AttributeValue::S("done".into())),
        "{row:?}"
    );
}
