//! The command-line client end to end, against `adder serve --backend aws`
//! on moto: submit (arguments, JSON file, stdin, CSV column), wait, get,
//! pending, scratchpad, and a dead-letter replay (list, redrive) after which
//! the array finishes with its exact sum. moto enforces IAM: the functions
//! sign as users holding exactly their template actions, the commands run as
//! the operator of docs/iam.md, the test's own setup as the harness.

mod common;

use async_trait::async_trait;
use common::{expected, run_adder, sdk_as, Server};
use pipeline::{PortError, Queue, Received};
use std::sync::Arc;
use std::time::{Duration, Instant};
use test_support::iam::{self, Principals};
use test_support::Moto;

/// moto enforcing IAM, and the principals it knows.
fn iam_on(moto: &Moto, prefix: &str) -> Principals {
    let stack = stack::Stack::embedded().expect("template.yaml parses");
    iam::enforce(moto, &stack, prefix).expect("IAM users on moto")
}

/// Runs `adder args…` as the operator, pointed at `server` and `moto`:
/// (exit code, stdout, stderr).
fn adder(
    moto: &Moto,
    principals: &Principals,
    server: &Server,
    args: &[&str],
    stdin: Option<&str>,
) -> (i32, String, String) {
    let mut env = principals.operator_env(moto);
    env.push(("ADDER_API", server.base.clone()));
    env.push(("AWS_ENDPOINT_URL", moto.endpoint().to_string()));
    env.push(("RUST_LOG", "warn".to_string()));
    run_adder(args, &env, stdin)
}

/// Like [`adder`], asserting success; returns stdout.
fn ok(
    moto: &Moto,
    principals: &Principals,
    server: &Server,
    args: &[&str],
    stdin: Option<&str>,
) -> String {
    let (code, out, err) = adder(moto, principals, server, args, stdin);
    assert_eq!(code, 0, "adder {args:?} failed: {err}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_wait_get_pending_and_scratchpad() {
    let moto = Moto::start();
    let prefix = "cli";
    let principals = iam_on(&moto, prefix);
    let server = Server::aws_iam(
        &moto,
        &principals,
        prefix,
        &["--max-pollers", "2", "--chunk-size", "3", "--fan-in", "2"],
    );
    let run = |args: &[&str], stdin: Option<&str>| ok(&moto, &principals, &server, args, stdin);

    // Arguments, with --wait: the sum on stdout.
    assert_eq!(
        run(&["submit", "1", "2", "3", "4", "5", "--wait"], None),
        "30\n"
    );
    // Signed as for an IAM-authenticated stack (the local API ignores it).
    assert_eq!(run(&["submit", "--sigv4", "7", "--wait"], None), "14\n");
    let big = ["9007199254740993".to_string(), "0.1".to_string()];
    assert_eq!(
        run(&["submit", &big[0], &big[1], "--wait"], None),
        format!("{}\n", expected(&big))
    );

    // A JSON file: submit prints the id, wait the sum, get the record.
    let dir = std::env::temp_dir().join(format!("adder-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let json = dir.join("numbers.json");
    std::fs::write(&json, "[0.1, 0.2, 0.3, 10, 20, 30, 40]").expect("write");
    let id = run(&["submit", "--file", &json.to_string_lossy()], None)
        .trim()
        .to_string();
    assert_eq!(id.len(), 36, "an arrayId: {id}");
    let file_elements: Vec<String> = ["0.1", "0.2", "0.3", "10", "20", "30", "40"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        run(&["wait", &id], None),
        format!("{}\n", expected(&file_elements))
    );
    let record: serde_json::Value =
        serde_json::from_str(&run(&["get", &id], None)).expect("get prints JSON");
    assert_eq!(record["arrayId"], id.as_str());
    assert_eq!(record["status"], "done");
    assert_eq!(record["arrayLength"], 7);

    // Stdin: a JSON array, or plain numbers one per line.
    assert_eq!(run(&["submit", "--wait"], Some("[1, 2, 3]")), "12\n");
    let lines: String = (1..=100).map(|i| format!("{i}\n")).collect();
    assert_eq!(run(&["submit", "--wait"], Some(&lines)), "10100\n");

    // A CSV column, by name and by index, from a file and from stdin, read
    // as an object would be (a header line unless --no-header).
    let csv = dir.join("sales.csv");
    std::fs::write(
        &csv,
        "item,amount\n\"nuts, salted\",1.25\nbolts, 2\nwashers,-0.5\n",
    )
    .expect("write");
    let csv_path = csv.to_string_lossy().to_string();
    assert_eq!(
        run(
            &["submit", "--file", &csv_path, "--column", "amount", "--wait"],
            None
        ),
        format!(
            "{}\n",
            expected(&["1.25".into(), "2".into(), "-0.5".into()])
        )
    );
    assert_eq!(
        run(
            &["submit", "--format", "csv", "--column", "1", "--wait"],
            Some("item,amount\na,4\nb,5\n")
        ),
        "18\n"
    );
    let (code, _, err) = adder(
        &moto,
        &principals,
        &server,
        &["submit", "--file", &csv_path, "--column", "item"],
        None,
    );
    assert_eq!(code, 2, "a text column is refused before any request");
    assert!(
        err.contains(&format!("adder: {csv_path}: byte 12 (line 2): ")),
        "the file, byte and line of the first bad record: {err}"
    );
    let _ = std::fs::remove_dir_all(&dir);

    // Unknown id: the API's 404 is exit code 2 with the API's reason.
    let (code, _, err) = adder(
        &moto,
        &principals,
        &server,
        &["get", "0f8fad5b-d9cb-469f-a165-70867728950e"],
        None,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("404"), "{err}");

    // Everything finished: nothing pending.
    assert_eq!(
        run(&["pending", "--prefix", prefix], None),
        "no pending or failed arrays\n"
    );

    // The file's array: 7 elements in chunks of 3 are leaves L0-0..2 under
    // their parents' partitions, L1-0..1 under the array id, all merged.
    let pad = run(&["scratchpad", &id, "--prefix", prefix], None);
    let rows: Vec<&str> = pad.lines().skip(1).filter(|l| l.contains(&id)).collect();
    assert_eq!(rows.len(), 5, "{pad}");
    for leaf in 0..3 {
        let row = rows
            .iter()
            .find(|r| r.contains(&format!("L0-00000000{leaf} ")))
            .unwrap_or_else(|| panic!("leaf {leaf} missing: {pad}"));
        assert!(
            row.starts_with(&format!("{id}/L1-00000000{} ", leaf / 2)),
            "{row}"
        );
        assert!(row.ends_with("true"), "{row}");
    }
    let row = |packet: &str| {
        rows.iter()
            .find(|r| r.contains(&format!(" {packet} ")))
            .map(|r| r.split_whitespace().collect::<Vec<_>>())
            .unwrap_or_else(|| panic!("{packet} missing: {pad}"))
    };
    // partition, packetId, packetValue, packetContains, consumed
    assert_eq!(row("L0-000000000")[2..4], ["1.2", "3"]);
    assert_eq!(row("L0-000000002")[2..4], ["80", "1"]);
    assert_eq!(row("L1-000000000")[0], id);
    assert_eq!(row("L1-000000000")[2..4], ["121.2", "6"]);
    assert_eq!(row("L1-000000001")[0], id);
    assert!(pad.ends_with("5 rows, 0 not yet merged\n"), "{pad}");
    let scanned = run(&["scratchpad", &id, "--scan", "--prefix", prefix], None);
    assert_eq!(
        scanned.lines().filter(|l| l.contains(&id)).count(),
        5,
        "{scanned}"
    );

    // --json: one JSON document per command, for scripts.
    let json = |args: &[&str]| -> serde_json::Value {
        let out = run(args, None);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    };
    let rows = json(&["scratchpad", &id, "--prefix", prefix, "--json"]);
    assert_eq!(rows.as_array().map(Vec::len), Some(5), "{rows}");
    let root_child = rows
        .as_array()
        .and_then(|r| r.iter().find(|row| row["packetId"] == "L1-000000000"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (
            &root_child["packetValue"],
            &root_child["packetContains"],
            &root_child["consumed"]
        ),
        (
            &serde_json::json!("121.2"),
            &serde_json::json!(6),
            &serde_json::json!(true)
        )
    );
    assert_eq!(
        json(&["pending", "--prefix", prefix, "--json"]),
        serde_json::json!([])
    );
    assert_eq!(json(&["wait", &id, "--json"])["arrayLength"], 7);
    let accepted = json(&["submit", "--json", "1", "2"]);
    assert_eq!(
        (&accepted["status"], &accepted["arrayLength"]),
        (&serde_json::json!("success"), &serde_json::json!(2))
    );
    let done = json(&["submit", "--json", "--wait", "1", "2"]);
    assert_eq!(
        (&done["status"], &done["sum"]),
        (&serde_json::json!("done"), &serde_json::json!(6))
    );
    let letters = json(&["dlq", "list", "--prefix", prefix, "--json"]);
    assert_eq!(letters, serde_json::json!([]));
    let redriven = json(&["dlq", "redrive", "--prefix", prefix, "--json"]);
    assert_eq!(redriven["total"], 0, "{redriven}");

    // --idempotency-key: a retried submit is the same array.
    let keyed = |body: &str| run(&["submit", "--idempotency-key", "cli-k1", body], None);
    let first = keyed("[5, 6]");
    assert_eq!(
        keyed("[5, 6]"),
        first,
        "the same key and body: the same array"
    );
    let (code, _, err) = adder(
        &moto,
        &principals,
        &server,
        &["submit", "--idempotency-key", "cli-k1", "[5, 7]"],
        None,
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("422") && err.contains("already used for a different body"),
        "{err}"
    );
    server.assert_nothing_denied();
}

/// A TimesTwo queue that loses packets into the dead-letter queue, as if
/// `times_two` had failed on them `maxReceiveCount` times: leaf 0 goes to
/// the DLQ only (the array cannot finish without it), leaf 1 to both queues
/// (it will be delivered twice), the rest to the queue.
struct Diverting {
    queue: Arc<dyn Queue>,
    dead_letters: Arc<dyn Queue>,
}

#[async_trait]
impl Queue for Diverting {
    async fn send(&self, bodies: Vec<String>) -> Result<(), PortError> {
        let (mut queued, mut dead) = (Vec::new(), Vec::new());
        for body in bodies {
            let leaf = packet::MapMessage::decode(&body)
                .map_err(|e| PortError::Rejected(e.to_string()))?
                .leaf
                .index;
            if leaf <= 1 {
                dead.push(body.clone());
            }
            if leaf != 0 {
                queued.push(body);
            }
        }
        self.dead_letters.send(dead).await?;
        self.queue.send(queued).await
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Received>, PortError> {
        self.queue.receive(max, wait, visibility).await
    }

    async fn delete(&self, receipts: Vec<String>) -> Result<(), PortError> {
        self.queue.delete(receipts).await
    }

    async fn release(&self, receipts: Vec<String>) -> Result<(), PortError> {
        self.queue.release(receipts).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_with_reasons_and_redriven_exactly_once() {
    let moto = Moto::start();
    let prefix = "replay";
    let principals = iam_on(&moto, prefix);
    let server = Server::aws_iam(&moto, &principals, prefix, &["--max-pollers", "2"]);
    let run = |args: &[&str]| ok(&moto, &principals, &server, args, None);

    // The runner's own queues and tables (provisioning again is a no-op),
    // reached as the harness: the test plays SQS's and sum_array's parts.
    let sdk = sdk_as(&moto, &principals.harness).await;
    let stack = stack::Stack::embedded().expect("template.yaml");
    let provisioned = stack_tools::provision(&stack, &sdk, prefix)
        .await
        .expect("provision");
    let resources = stack_tools::Resources::from_prefix(&sdk, prefix)
        .await
        .expect("the runner's resources");
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let sqs_queue =
        |url: &str| -> Arc<dyn Queue> { Arc::new(aws_ports::SqsQueue::new(sqs.clone(), url)) };
    let times_two_dlq = sqs_queue(&resources.times_two_dead_letter_queue_url);
    let reduce_dlq = sqs_queue(&resources.reduce_dead_letter_queue_url);

    // Submit as sum_array does, through a TimesTwo queue that dead-letters
    // leaf 0 and duplicates leaf 1 there.
    let mut ports = aws_ports::ports(&sdk, &provisioned.names());
    ports.times_two_queue = Arc::new(Diverting {
        queue: ports.times_two_queue.clone(),
        dead_letters: times_two_dlq.clone(),
    });
    let config = pipeline::Config::from_lookup(jobs::registry(), |name| match name {
        "CHUNK_SIZE" => Some("2".into()),
        "FAN_IN" => Some("2".into()),
        _ => None,
    })
    .expect("config");
    let elements: Vec<String> = (1..=9).map(|i| format!("{i}.{i}")).collect();
    let submitted = pipeline::submit(&ports, &config, &format!("[{}]", elements.join(",")))
        .await
        .expect("submit");
    let id = submitted.array_id;

    // Beside them: a body that is no TimesTwo message, a valid one for an
    // array nobody submitted, and a Reduce trigger for the pending array.
    let tree = packet::Tree::new(9, 2, 2).expect("tree");
    let stranger = "6f9619ff-8b86-4011-b42d-00c04fc964ff";
    times_two_dlq
        .send(vec![
            "{not json".into(),
            packet::MapMessage::encode(stranger, &tree, 0, &["1", "2"]),
        ])
        .await
        .expect("send");
    let trigger = packet::ReduceMessage {
        array_id: id.clone(),
        tree,
        targets: vec![packet::NodeId::new(1, 0)],
    };
    reduce_dlq.send(vec![trigger.encode()]).await.expect("send");

    // Let the pipeline do all it can: every leaf but 0 mapped.
    let admin = stack_tools::Admin::new(&sdk, resources.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = admin.scan_scratchpad(&id).await.expect("scan");
        let leaves = rows
            .iter()
            .filter(|r| r.key.packet_id.starts_with("L0-"))
            .count();
        if leaves == 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "leaves 1..4 not mapped: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(run(&["pending", "--prefix", prefix]).contains(&id));

    // The list says why each letter is there, and leaves them in place.
    let listed = run(&["dlq", "list", "--prefix", prefix]);
    assert!(
        listed.contains("TimesTwo dead-letter queue: 4 message(s)"),
        "{listed}"
    );
    assert!(
        listed.contains("Reduce dead-letter queue: 1 message(s)"),
        "{listed}"
    );
    let pending_reason =
        format!("array {id} pending: failed repeatedly, see times_two's logs for message");
    assert_eq!(listed.matches(&pending_reason).count(), 2, "{listed}");
    assert!(
        listed.contains(&format!("array {stranger} unknown")),
        "{listed}"
    );
    assert!(
        listed.contains("undecodable: message is not valid JSON for this queue"),
        "{listed}"
    );
    assert!(
        listed.contains(&format!(
            "array {id} pending: failed repeatedly, see reduce's logs for message"
        )),
        "{listed}"
    );
    let again = run(&["dlq", "list", "--queue", "times-two", "--prefix", prefix]);
    assert!(
        again.contains("TimesTwo dead-letter queue: 4 message(s)"),
        "{again}"
    );
    assert!(!again.contains("Reduce"), "{again}");

    // Redrive: everything goes back, and the array finishes exactly although
    // leaf 1 and the reduce trigger are now delivered twice.
    let redriven = run(&["dlq", "redrive", "--prefix", prefix]);
    assert!(redriven.contains("5 message(s) redriven"), "{redriven}");
    let sum = run(&["wait", &id, "--timeout", "120"]);
    assert_eq!(sum.trim(), expected(&elements));
    let listed = run(&["dlq", "list", "--queue", "reduce", "--prefix", prefix]);
    assert!(
        listed.contains("Reduce dead-letter queue: 0 message(s)"),
        "{listed}"
    );
    assert!(!run(&["pending", "--prefix", prefix]).contains(&id));
    let rows = admin.scan_scratchpad(&id).await.expect("scan");
    let leaves = rows
        .iter()
        .filter(|r| r.key.packet_id.starts_with("L0-"))
        .count();
    assert_eq!(leaves, 5, "one row per leaf, none twice: {rows:?}");
    assert!(rows.iter().all(|r| r.consumed), "{rows:?}");

    // A copy arriving now is a late duplicate, and says so.
    let leaf_one: Vec<&str> = elements[2..4].iter().map(String::as_str).collect();
    times_two_dlq
        .send(vec![packet::MapMessage::encode(&id, &tree, 1, &leaf_one)])
        .await
        .expect("send");
    let listed = run(&["dlq", "list", "--queue", "times-two", "--prefix", prefix]);
    assert!(
        listed.contains(&format!("array {id} done (late duplicate)")),
        "{listed}"
    );
    server.assert_nothing_denied();
}

/// `adder sum --file` with `--backend aws` uploads the file to the input
/// bucket moto provisions and sums it by byte ranges: the exact sum, in
/// several ranges, with the upload's notification starting the same array.
#[test]
fn sum_file_on_aws_uploads_it_and_prints_the_exact_sum() {
    let moto = Moto::start();
    let numbers: Vec<i64> = (0..3000).map(|i| (i * 7919) % 10007 - 5000).collect();
    let text: String = numbers.iter().map(|n| format!("{n}\n")).collect();
    let path = std::env::temp_dir().join(format!("adder-sum-aws-{}.txt", std::process::id()));
    std::fs::write(&path, &text).expect("write the file");
    let file = path.display().to_string();
    let mut env = moto.env();
    env.push(("RUST_LOG", "warn".to_string()));
    let args = [
        "sum",
        "--file",
        &file,
        "--backend",
        "aws",
        "--endpoint-url",
        moto.endpoint(),
        "--prefix",
        "sumfile",
        "--range-bytes",
        "1024",
        "--max-pollers",
        "2",
        "--timeout",
        "120",
    ];
    let (code, out, err) = run_adder(&args, &env, None);
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, 0, "adder {args:?} failed: {err}");
    let doubled: i64 = 2 * numbers.iter().sum::<i64>();
    assert_eq!(out.trim(), doubled.to_string());
}

/// The ObjectCreated dead-letter queue is the commands' third: a dead S3
/// notification is listed with the objects it names, and redriven back to
/// ObjectCreatedQueue (where times_two reads it), not to another queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_s3_notification_is_listed_and_redriven_to_its_queue() {
    let moto = Moto::start();
    let prefix = "notified";
    let principals = iam_on(&moto, prefix);
    let sdk = sdk_as(&moto, &principals.harness).await;
    let stack = stack::Stack::embedded().expect("template.yaml");
    stack_tools::provision(&stack, &sdk, prefix)
        .await
        .expect("provision");
    let resources = stack_tools::Resources::from_prefix(&sdk, prefix)
        .await
        .expect("the runner's resources");
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let dlq =
        aws_ports::SqsQueue::new(sqs.clone(), &resources.object_created_dead_letter_queue_url);
    let queue = aws_ports::SqsQueue::new(sqs.clone(), &resources.object_created_queue_url);
    let note = serde_json::json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": "in"},
        "object": {"key": "day+1.csv", "size": 4, "eTag": "abc"}}}]})
    .to_string();
    dlq.send(vec![note.clone()]).await.expect("send");

    let run = |args: &[&str]| {
        let mut env = principals.operator_env(&moto);
        env.push(("AWS_ENDPOINT_URL", moto.endpoint().to_string()));
        env.push(("RUST_LOG", "warn".to_string()));
        let (code, out, err) = run_adder(args, &env, None);
        assert_eq!(code, 0, "adder {args:?} failed: {err}");
        out
    };
    let only = ["--queue", "object-created", "--prefix", prefix];
    let listed = run(&[&["dlq", "list"][..], &only].concat());
    let id = listed
        .lines()
        .nth(1)
        .and_then(|line| line.split_whitespace().next())
        .expect("a message id");
    assert_eq!(
        listed,
        format!(
            "ObjectCreated dead-letter queue: 1 message(s)\n  {id}  received 1x  S3 \
             notification of s3://in/day+1.csv, see times_two's logs for message {id}\n"
        )
    );
    let all = run(&["dlq", "list", "--prefix", prefix]);
    for line in [
        "TimesTwo dead-letter queue: 0 message(s)",
        "Reduce dead-letter queue: 0 message(s)",
        "ObjectCreated dead-letter queue: 1 message(s)",
    ] {
        assert!(all.contains(line), "{all}");
    }

    let redriven = run(&[&["dlq", "redrive"][..], &only].concat());
    assert_eq!(
        redriven,
        "moved 1 message(s) from the ObjectCreated dead-letter queue to the ObjectCreated queue\n"
    );
    let back = queue
        .receive(10, Duration::from_secs(1), Duration::from_secs(30))
        .await
        .expect("receive");
    // Beside the test event S3 sent when provisioning set notifications up.
    let bodies: Vec<&str> = back
        .iter()
        .map(|m| m.body.as_str())
        .filter(|b| !b.contains("s3:TestEvent"))
        .collect();
    assert_eq!(bodies, [note.as_str()], "the notification, unchanged");
    let listed = run(&[&["dlq", "list"][..], &only].concat());
    assert_eq!(listed, "ObjectCreated dead-letter queue: 0 message(s)\n");
}

/// A stack that does not exist is named with the service's own words and
/// a hint at what to check, never the SDK's Debug dump of the response.
#[test]
fn a_stack_that_does_not_exist_is_named_with_a_hint() {
    let moto = Moto::start();
    let env = moto.env();
    for args in [
        vec!["pending", "--stack", "nope"],
        vec!["submit", "--stack", "nope", "1"],
    ] {
        let (code, _, err) = run_adder(&args, &env, None);
        assert_eq!(
            (code, err.as_str()),
            (
                1,
                "adder: cannot describe stack nope: ValidationError: Stack with id nope does not \
                 exist\n  help: check --stack (the deployed stack's name) or --prefix, and \
                 AWS_REGION (us-east-1)\n"
            ),
            "{args:?}"
        );
    }
}

/// `adder setup` makes a prefix's queues, tables and bucket; `adder
/// teardown` removes all of it, the versioned bucket emptied first, and a
/// second teardown finds nothing left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_and_teardown_leave_nothing_behind() {
    let moto = Moto::start();
    let env = moto.env();
    let (code, out, err) = run_adder(&["setup", "--prefix", "tidy"], &env, None);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("tidy-TimesTwoQueue") && out.contains("tidy-SumsTable"),
        "{out}"
    );
    assert!(
        out.ends_with("remove them with: adder teardown --prefix tidy\n"),
        "{out}"
    );

    let sdk = aws_ports::local_sdk_config(moto.endpoint()).await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_ports::s3_config(&sdk).build());
    let bucket = stack_names::local_bucket_name("tidy", stack_names::INPUT_BUCKET);
    for text in ["1\n", "2\n"] {
        s3.put_object()
            .bucket(&bucket)
            .key("n.txt")
            .body(text.as_bytes().to_vec().into())
            .send()
            .await
            .expect("put a version");
    }
    let (code, out, err) = run_adder(&["teardown", "--prefix", "tidy", "--json"], &env, None);
    assert_eq!(code, 0, "{err}");
    let removed: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(removed["buckets"][0]["name"], bucket.as_str());
    assert!(
        removed["buckets"][0]["objectVersions"].as_u64() >= Some(2),
        "{removed}"
    );
    assert_eq!(removed["absent"], serde_json::json!([]), "{removed}");

    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queues = sqs
        .list_queues()
        .queue_name_prefix("tidy-")
        .send()
        .await
        .expect("list");
    assert!(queues.queue_urls().is_empty(), "{:?}", queues.queue_urls());
    let tables = aws_sdk_dynamodb::Client::new(&sdk)
        .list_tables()
        .send()
        .await
        .expect("list");
    assert!(
        !tables.table_names().iter().any(|t| t.starts_with("tidy-")),
        "{tables:?}"
    );
    let buckets = s3.list_buckets().send().await.expect("list");
    assert!(!buckets
        .buckets()
        .iter()
        .any(|b| b.name() == Some(bucket.as_str())));

    let (code, out, _) = run_adder(&["teardown", "--prefix", "tidy"], &env, None);
    assert_eq!(code, 0);
    assert!(out.starts_with("already absent: "), "{out}");
    let (code, _, err) = run_adder(&["teardown"], &env, None);
    assert_eq!(code, 2, "teardown names its prefix: {err}");
}

/// A runner that stops gives back what its pollers held: two `adder sum
/// --backend aws` in a row on one prefix, and `serve` stopped with Ctrl-C
/// and started again, each finish in seconds. (Before, the stopped
/// process's open 20 s receives took the next messages and hid them for
/// the queues' 180 s visibility timeout.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_runner_leaves_no_stall_for_the_next() {
    let moto = Moto::start();
    let env = moto.env();
    for i in 1..=2 {
        let started = Instant::now();
        let last = i.to_string();
        let args = [
            "sum",
            "--backend",
            "aws",
            "--prefix",
            "turns",
            "--timeout",
            "40",
            "1",
            "2",
            &last,
        ];
        let (code, out, err) = run_adder(&args, &env, None);
        assert_eq!(
            (code, out.clone()),
            (0, format!("{}\n", 2 * (3 + i))),
            "run {i}: {err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "run {i} took {:?}",
            started.elapsed()
        );
    }
    for round in 1..=2 {
        let mut server = Server::aws(&moto, "turns", &[]);
        let started = Instant::now();
        let (code, out, err) = run_adder(
            &[
                "submit",
                "--api",
                &server.base,
                "--wait",
                "--timeout",
                "40",
                "5",
                "6",
            ],
            &env,
            None,
        );
        assert_eq!((code, out.as_str()), (0, "22\n"), "round {round}: {err}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "round {round} took {:?}",
            started.elapsed()
        );
        let stopping = server.interrupt(Duration::from_secs(10));
        assert!(
            stopping < Duration::from_secs(6),
            "Ctrl-C took {stopping:?}"
        );
    }
}

/// An object version S3 will not delete (here under a legal hold) ends
/// teardown with S3's reason, instead of listing and deleting it forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teardown_names_what_s3_would_not_delete() {
    use aws_sdk_s3::types::{
        ObjectLockConfiguration, ObjectLockEnabled, ObjectLockLegalHold, ObjectLockLegalHoldStatus,
    };
    let moto = Moto::start();
    let env = moto.env();
    let (code, _, err) = run_adder(&["setup", "--prefix", "held"], &env, None);
    assert_eq!(code, 0, "{err}");
    let sdk = aws_ports::local_sdk_config(moto.endpoint()).await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_ports::s3_config(&sdk).build());
    let bucket = stack_names::local_bucket_name("held", stack_names::INPUT_BUCKET);
    let lock = ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .build();
    s3.put_object_lock_configuration()
        .bucket(&bucket)
        .object_lock_configuration(lock)
        .send()
        .await
        .expect("object lock on");
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key("kept.txt")
        .body(b"1\n".to_vec().into())
        .send()
        .await
        .expect("put");
    s3.put_object_legal_hold()
        .bucket(&bucket)
        .key("kept.txt")
        .set_version_id(put.version_id().map(str::to_string))
        .legal_hold(
            ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::On)
                .build(),
        )
        .send()
        .await
        .expect("legal hold");
    let (code, _, err) = run_adder(&["teardown", "--prefix", "held"], &env, None);
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            format!(
                "adder: could not remove everything of held: {bucket}: request rejected: 1 object versions were \
                 not deleted, first kept.txt: AccessDenied: Access Denied because object \
                 protected by object lock.\n"
            )
            .as_str()
        )
    );
}
