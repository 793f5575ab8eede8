//! The three bootstraps, run as Lambda runs them.
//!
//! Each function's `bootstrap` (the binary as `cargo build` makes it for this
//! machine's architecture, copied where `cargo lambda build` puts one) runs under `test_support::runtime`, a Lambda
//! Runtime API, with the environment Lambda and template.yaml give it, against
//! a moto server provisioned from the template. The events start from
//! events/ (AWS's own samples from `aws_lambda_events`, changed only where a
//! case needs it); SQS batches are built, as the event source mapping builds
//! them, from the messages actually received from moto's queues.
//!
//! moto enforces IAM (`test_support::iam`, as in tests/e2e_iam.rs): each
//! bootstrap signs as the IAM user holding exactly its function's
//! template.yaml grants, the event source mappings played here receive and
//! delete as the function whose mapping they are (Lambda's poller uses the
//! function's role), the template is provisioned as the deployer and the
//! test's own sends and reads are the harness's. A request IAM denies fails
//! the test naming the action ([`invoke`]); DynamoDB statements are on `"*"`,
//! the only resource moto checks DynamoDB requests against.
//!
//! The bootstraps are built by `scripts/test`'s lambda-host step before
//! `cargo test` (in the dev profile, which unwinds panics as the release
//! profile does; the optimised arm64 build is the lambda-build step's); a
//! missing or stale one fails with the command that builds it.

mod common;

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use common::{array, expected, raw_sum, sdk_as};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};
use test_support::denials::{DenialWatch, Denials};
use test_support::iam::{self, Principal, Principals};
use test_support::runtime::{Function, FunctionConfig, InvokeError};
use test_support::Moto;

/// Binary and template.yaml function, for each Lambda.
const FUNCTIONS: [(&str, &str); 3] = [
    ("sum_array", "SumArrayFunction"),
    ("times_two", "TimesTwoFunction"),
    ("reduce", "ReduceFunction"),
];
/// The array id events/ carries where a real one goes.
const PLACEHOLDER_ID: &str = "00000000-0000-4000-8000-000000000000";
/// Crates whose sources go into the bootstraps: newer sources mean a stale build.
const SOURCES: [&str; 8] = [
    "crates/sum_array",
    "crates/times_two",
    "crates/reduce",
    "crates/handlers",
    "crates/pipeline",
    "crates/packet",
    "crates/aws-ports",
    "crates/stack-names",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The target directory this test was built in (…/target/debug/deps/this-test).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    exe.ancestors()
        .nth(3)
        .expect("the test runs from <target>/<profile>/deps")
        .to_path_buf()
}

fn build_command() -> String {
    "scripts/test --only lambda-host".to_string()
}

fn newest_source(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let modified = if path.is_dir() {
            newest_source(&path)
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH)
        };
        newest = newest.max(modified);
    }
    newest
}

/// The host-architecture bootstrap of `binary`, checked present, of
/// this machine's architecture and newer than every source it is built from.
fn bootstrap(binary: &str) -> PathBuf {
    let path = target_dir()
        .join("lambda-host")
        .join(binary)
        .join("bootstrap");
    let rebuild = format!(
        "run `{}` first (a full scripts/test does, before this test)",
        build_command()
    );
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: {rebuild}", path.display()));
    let sources = SOURCES
        .iter()
        .map(|c| newest_source(&workspace().join(c)))
        .chain(["Cargo.toml", "Cargo.lock"].map(|f| newest_source_file(&workspace().join(f))))
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    assert!(
        built >= sources,
        "{} is older than its sources: {rebuild}",
        path.display()
    );
    let elf = std::fs::read(&path).expect("read the bootstrap");
    // ELF e_machine, at offset 18, little endian.
    let machine = elf.get(18..20).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let host = match std::env::consts::ARCH {
        "aarch64" => 0xb7,
        _ => 0x3e,
    };
    assert_eq!(
        machine,
        Some(host),
        "{} is not built for this machine: {rebuild}",
        path.display()
    );
    path
}

fn newest_source_file(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

fn event_file(name: &str) -> Value {
    let path = workspace().join("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// template.yaml's resources on a moto that enforces IAM.
struct Deployed {
    stack: stack::Stack,
    provisioned: stack_tools::Provisioned,
    principals: Principals,
    /// The harness's SDK config, for the test's own sends and reads.
    harness: aws_config::SdkConfig,
    /// The relay the functions and mappings reach moto through, noting denials.
    watch: DenialWatch,
}

impl Deployed {
    /// Makes `moto` enforce IAM (one user per principal, see
    /// `test_support::iam`), then provisions template.yaml under `prefix` as
    /// the deployer, as `adder serve` does.
    async fn on(moto: &Moto, prefix: &str) -> Deployed {
        Deployed::with_users(moto, prefix, &[]).await.0
    }

    /// Like [`Deployed::on`], with extra IAM users, each allowed exactly its
    /// statements (`iam::enforce_with_users`), by name.
    async fn with_users(
        moto: &Moto,
        prefix: &str,
        extra: &[(&str, Vec<Value>)],
    ) -> (Deployed, BTreeMap<String, Principal>) {
        let stack = stack::Stack::embedded().expect("template.yaml");
        let (principals, users) =
            iam::enforce_with_users(moto, &stack, prefix, extra).expect("IAM users on moto");
        let deployer = sdk_as(moto, &principals.deployer).await;
        let provisioned = stack_tools::provision(&stack, &deployer, prefix)
            .await
            .expect("provision as the deployer");
        let harness = sdk_as(moto, &principals.harness).await;
        let watch = DenialWatch::start(moto).await.expect("a relay to moto");
        let deployed = Deployed {
            stack,
            provisioned,
            principals,
            harness,
            watch,
        };
        (deployed, users)
    }

    /// The IAM user `logical_id`'s bootstrap signs as.
    fn user(&self, logical_id: &str) -> &Principal {
        self.principals
            .functions
            .get(logical_id)
            .unwrap_or_else(|| panic!("no IAM user for {logical_id}"))
    }

    /// Starts `function` signing as its own IAM user.
    async fn start(
        &self,
        moto: &Moto,
        function: (&str, &str),
        overrides: &[(&str, &str)],
    ) -> Lambda {
        self.start_as(moto, self.user(function.1), function, overrides)
            .await
    }

    /// Starts `function` signing as `user`, through the relay.
    async fn start_as(
        &self,
        moto: &Moto,
        user: &Principal,
        function: (&str, &str),
        overrides: &[(&str, &str)],
    ) -> Lambda {
        let env = self.watch.env(user.env_on(moto));
        let function = start(&self.stack, &self.provisioned, &env, function, overrides).await;
        Lambda {
            function,
            denials: self.watch.denials(),
        }
    }

    /// `function`'s event source mapping on queue `queue_id`, signing as the
    /// function (Lambda's poller uses the function's role) through the relay.
    async fn mapping(&self, function: (&str, &str), queue_id: &str, events_file: &str) -> Mapping {
        let sqs = self.sqs_as(function.1).await;
        let url = &self.provisioned.queue_urls[queue_id];
        Mapping::new(&sqs, self.watch.denials(), url, events_file).await
    }

    /// An SQS client signing as `logical_id` through the relay.
    async fn sqs_as(&self, logical_id: &str) -> aws_sdk_sqs::Client {
        let user = self.user(logical_id);
        let sdk = aws_ports::load_sdk_config(aws_ports::Account::Emulator {
            endpoint: self.watch.endpoint(),
            access_key_id: &user.access_key_id,
            secret_access_key: &user.secret_access_key,
        })
        .await;
        aws_sdk_sqs::Client::new(&sdk)
    }
}

/// Fails the test if moto denied any request so far, naming the action and
/// the user (`about`: what was going on).
fn assert_nothing_denied(denials: &Denials, about: &str) {
    if let Some(text) = first_denial(denials) {
        panic!("{text}\nwhile {about}");
    }
}

/// The first denial moto answered, as the test fails with it.
fn first_denial(denials: &Denials) -> Option<String> {
    let (action, message) = denials.all().into_iter().next()?;
    // moto names a batch by its own action; the template grants AWS's.
    let granted = action
        .split_once(':')
        .map(|(service, operation)| stack::iam::action_of(service, operation))
        .filter(|granted| *granted != action)
        .map_or(String::new(), |granted| format!(" (AWS checks {granted})"));
    Some(format!(
        "IAM denied {action}{granted}: moto said \"{message}\""
    ))
}

/// A function under the Runtime API that reaches moto through the relay.
struct Lambda {
    function: Function,
    denials: Denials,
}

impl std::ops::Deref for Lambda {
    type Target = Function;
    fn deref(&self) -> &Function {
        &self.function
    }
}

impl std::ops::DerefMut for Lambda {
    fn deref_mut(&mut self) -> &mut Function {
        &mut self.function
    }
}

/// [`Function::invoke`], then fails the test if IAM denied a request: a
/// denial otherwise shows only as a failed answer or a retried message,
/// which the SDK's error may not even name (`Unknown: no message`).
async fn invoke(lambda: &mut Lambda, event: &Value) -> Result<Value, InvokeError> {
    let outcome = lambda.function.invoke(event).await;
    let about = format!(
        "invoking {}: {outcome:?}\nits logs:\n{}",
        lambda.config().name,
        lambda.logs()
    );
    assert_nothing_denied(&lambda.denials, &about);
    outcome
}

/// Starts `function` of template.yaml under the Runtime API, with its template
/// environment (resources resolved against `provisioned`), `overrides`
/// applied as a deployment's parameters would be, and moto's endpoint.
async fn start(
    stack: &stack::Stack,
    provisioned: &stack_tools::Provisioned,
    moto_env: &[(&'static str, String)],
    (binary, logical_id): (&str, &str),
    overrides: &[(&str, &str)],
) -> Function {
    let spec = stack.function(logical_id).expect("function in template");
    let mut env: BTreeMap<String, String> = provisioned
        .function_env(stack, logical_id)
        .expect("template environment");
    // What Lambda adds from the function's LoggingConfig (JSON lines).
    env.extend(stack.logging_env(spec).expect("LoggingConfig"));
    env.extend(moto_env.iter().map(|(k, v)| (k.to_string(), v.clone())));
    env.extend(
        overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    Function::start(FunctionConfig {
        binary: bootstrap(binary),
        name: format!("adder-{logical_id}"),
        memory_mb: spec.memory_mb,
        timeout: spec.timeout,
        env,
        fixed_deadline_ms: None,
    })
    .await
    .unwrap_or_else(|e| panic!("start {binary}: {e}"))
}

/// The element texts of events/sum_array-post.json's body, as sum_array reads them.
fn shipped_elements() -> Vec<String> {
    let event = event_file("sum_array-post.json");
    let body = event["body"].as_str().expect("a body");
    packet::parse_array(body)
        .expect("events/sum_array-post.json's body is an array of numbers")
        .into_iter()
        .map(|e| e.into_owned())
        .collect()
}

/// events/sum_array-post.json with `body`.
fn post_event(body: &str) -> Value {
    let mut event = event_file("sum_array-post.json");
    event["body"] = json!(body);
    event
}

/// events/sum_array-get.json for array `id`.
fn get_event(id: &str) -> Value {
    let text = serde_json::to_string(&event_file("sum_array-get.json")).expect("JSON");
    serde_json::from_str(&text.replace(PLACEHOLDER_ID, id)).expect("JSON")
}

/// Calls `sum_array`: (statusCode, body text).
async fn call_api(api: &mut Lambda, event: &Value) -> (i64, String) {
    let response = invoke(api, event)
        .await
        .unwrap_or_else(|e| panic!("sum_array: {e}\n{}", api.logs()));
    let status = response["statusCode"].as_i64().expect("statusCode");
    let body = response["body"].as_str().unwrap_or_default().to_string();
    (status, body)
}

async fn post(api: &mut Lambda, body: &str) -> String {
    let (status, answer) = call_api(api, &post_event(body)).await;
    assert_eq!(status, 200, "POST answered {answer}");
    let answer: Value = serde_json::from_str(&answer).expect("JSON answer");
    answer["arrayId"].as_str().expect("arrayId").to_string()
}

/// GET /sums/{id} through `sum_array`: the exact sum once done.
async fn done_sum(api: &mut Lambda, id: &str) -> Option<String> {
    let (status, body) = call_api(api, &get_event(id)).await;
    assert_eq!(status, 200, "GET /sums/{id} answered {body}");
    let json: Value = serde_json::from_str(&body).expect("JSON");
    (json["status"] == "done").then(|| raw_sum(&body))
}

/// Plays Lambda's SQS event source mapping for one queue.
struct Mapping {
    sqs: aws_sdk_sqs::Client,
    url: String,
    arn: String,
    /// What moto denied the mapping (it signs as its function).
    denials: Denials,
    /// A record of events/<function>-batch.json: what every record starts from.
    template: Value,
}

impl Mapping {
    async fn new(
        sqs: &aws_sdk_sqs::Client,
        denials: Denials,
        url: &str,
        events_file: &str,
    ) -> Mapping {
        let arn = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap_or_else(|e| mapping_failed(&denials, "GetQueueAttributes", e))
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .cloned()
            .expect("QueueArn");
        Mapping {
            sqs: sqs.clone(),
            url: url.to_string(),
            arn,
            denials,
            template: event_file(events_file)["Records"][0].clone(),
        }
    }

    async fn receive(&self) -> Vec<Message> {
        self.sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap_or_else(|e| mapping_failed(&self.denials, "ReceiveMessage", e))
            .messages
            .unwrap_or_default()
    }

    /// The SQS event Lambda would build from `messages`.
    fn event(&self, messages: &[Message]) -> Value {
        let records: Vec<Value> = messages.iter().map(|m| self.record(m)).collect();
        json!({ "Records": records })
    }

    fn record(&self, message: &Message) -> Value {
        let attributes: BTreeMap<&str, &str> = message
            .attributes()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut record = self.template.clone();
        record["messageId"] = json!(message.message_id());
        record["receiptHandle"] = json!(message.receipt_handle());
        record["body"] = json!(message.body());
        record["md5OfBody"] = json!(message.md5_of_body());
        record["attributes"] = json!(attributes);
        record["eventSourceARN"] = json!(self.arn);
        record
    }

    /// Deletes what the function did not report as failed, as the mapping does.
    async fn delete_done(&self, messages: &[Message], failed: &[String]) {
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .filter(|m| !failed.iter().any(|f| Some(f.as_str()) == m.message_id()))
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(m.receipt_handle().map(str::to_string))
                    .build()
                    .expect("entry")
            })
            .collect();
        if entries.is_empty() {
            return;
        }
        let out = self
            .sqs
            .delete_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap_or_else(|e| mapping_failed(&self.denials, "DeleteMessageBatch", e));
        assert!(out.failed().is_empty(), "{:?}", out.failed());
    }
}

/// A mapping's call failed: IAM's denial if moto denied it, else the error.
fn mapping_failed(denials: &Denials, call: &str, error: impl std::error::Error) -> ! {
    assert_nothing_denied(denials, &format!("the event source mapping's {call}"));
    panic!("{call}: {}", aws_sdk_sqs::error::DisplayErrorContext(error))
}

/// The ids a `SqsBatchResponse` reports failed.
fn failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_string))
        .collect()
}

/// An SQS event that the queue delivers again (the same messages, received once more).
fn redelivered(event: &Value) -> Value {
    let mut again = event.clone();
    for record in again["Records"].as_array_mut().into_iter().flatten() {
        record["attributes"]["ApproximateReceiveCount"] = json!("2");
    }
    again
}

fn numbers(n: usize, f: impl Fn(usize) -> String) -> Vec<String> {
    (0..n).map(f).collect()
}

fn report_figures(functions: &[(&str, &Function)]) {
    println!(
        "{:<10} {:>12} {:>15} {:>14}",
        "function", "size", "cold start", "peak RSS"
    );
    for (binary, f) in functions {
        let size = std::fs::metadata(&f.config().binary).map_or(0, |m| m.len());
        let cold = f
            .cold_start()
            .map_or("?".into(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3));
        let rss = f
            .peak_rss_kib()
            .map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
        println!(
            "{binary:<10} {:>9.1} MB {cold:>15} {rss:>14}",
            size as f64 / 1e6
        );
    }
}

/// The three functions under the Runtime API and the two mappings feeding them.
struct Pipeline {
    api: Lambda,
    map: Lambda,
    merge: Lambda,
    map_queue: Mapping,
    merge_queue: Mapping,
    /// The first batch each function handled, once it was delivered again.
    redelivered: (Option<Value>, Option<Value>),
    /// The harness's SQS client, for the test's own messages.
    sqs: aws_sdk_sqs::Client,
    /// Kept for its relay, which the functions and mappings reach moto through.
    _deployed: Deployed,
}

/// The malformed TimesTwo message: it must fail alone, batch after batch.
const POISON: &str = r#"{"arrayId":"not an id","packetValue":[1]}"#;

impl Pipeline {
    /// Provisions template.yaml on `moto`, IAM enforced, and starts the
    /// three bootstraps, each signing as its function's user.
    async fn start(moto: &Moto, overrides: &[(&str, &str)]) -> Pipeline {
        let d = Deployed::on(moto, "bins").await;
        Pipeline {
            api: d.start(moto, FUNCTIONS[0], overrides).await,
            map: d.start(moto, FUNCTIONS[1], overrides).await,
            merge: d.start(moto, FUNCTIONS[2], overrides).await,
            map_queue: d
                .mapping(FUNCTIONS[1], "TimesTwoQueue", "times_two-batch.json")
                .await,
            merge_queue: d
                .mapping(FUNCTIONS[2], "ReduceQueue", "reduce-batch.json")
                .await,
            redelivered: (None, None),
            sqs: aws_sdk_sqs::Client::new(&d.harness),
            _deployed: d,
        }
    }

    /// One round of both mappings: each function gets a batch if its queue
    /// has one, and must report exactly the [`POISON`] messages in it as
    /// failed. The first batch of each is then delivered again, as SQS may.
    async fn round(&mut self) {
        for stage in 0..2 {
            let (queue, function, first) = match stage {
                0 => (&self.map_queue, &mut self.map, &mut self.redelivered.0),
                _ => (&self.merge_queue, &mut self.merge, &mut self.redelivered.1),
            };
            let messages = queue.receive().await;
            if messages.is_empty() {
                continue;
            }
            let event = queue.event(&messages);
            let poisoned = handle(function, &event).await;
            queue.delete_done(&messages, &poisoned).await;
            if first.is_none() {
                handle(function, &redelivered(&event)).await;
                *first = Some(event);
            }
        }
    }

    /// GET /sums/{id} for each array not yet done.
    async fn poll(&mut self, ids: &[String], sums: &mut [Option<String>]) {
        for (sum, id) in sums.iter_mut().zip(ids) {
            if sum.is_none() {
                *sum = done_sum(&mut self.api, id).await;
            }
        }
    }
}

/// Invokes `function` with an SQS `event`; checks that it reported exactly
/// the [`POISON`] messages failed, and returns their ids.
async fn handle(function: &mut Lambda, event: &Value) -> Vec<String> {
    let response = invoke(function, event)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", function.logs()));
    let poisoned: Vec<String> = event["Records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["body"] == POISON)
        .filter_map(|r| r["messageId"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        failures(&response),
        poisoned,
        "batch {event}\nanswered {response}"
    );
    poisoned
}

/// Arrays of 1, 5 (events/'s) and 2,500 elements.
fn cases() -> [Vec<String>; 3] {
    let signed = |i: usize| if i.is_multiple_of(3) { "-" } else { "" };
    [
        numbers(1, |_| "-7.25".into()),
        shipped_elements(),
        numbers(2_500, |i| format!("{}{i}.{:03}", signed(i), i * 7 % 1000)),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_binaries_sum_exactly_under_the_runtime_api() {
    let moto = Moto::start();
    // Small packets and fan-in, so 2,500 elements make 25 packets and a 4-level tree.
    let mut p = Pipeline::start(&moto, &[("CHUNK_SIZE", "100"), ("FAN_IN", "3")]).await;
    let cases = cases();
    let mut ids = Vec::new();
    for (i, elements) in cases.iter().enumerate() {
        ids.push(post(&mut p.api, &array(elements)).await);
        if i == 1 {
            // Among the first packets, so that it shares times_two's first batch with them.
            let send = p
                .sqs
                .send_message()
                .queue_url(&p.map_queue.url)
                .message_body(POISON);
            send.send().await.expect("SendMessage");
        }
    }
    let mut sums: Vec<Option<String>> = vec![None; ids.len()];
    let deadline = Instant::now() + Duration::from_secs(180);
    while sums.iter().any(Option::is_none) {
        assert!(Instant::now() < deadline, "not done in 180 s: {sums:?}");
        p.round().await;
        p.poll(&ids, &mut sums).await;
    }
    let first_map = p.redelivered.0.take().expect("times_two got a batch");
    let records = first_map["Records"].as_array().expect("records");
    assert!(
        records.len() > 1 && records.iter().any(|r| r["body"] == POISON),
        "the malformed message must be in times_two's first batch, with others: {first_map}"
    );
    assert!(p.redelivered.1.is_some(), "reduce got no batch");
    for ((elements, sum), id) in cases.iter().zip(&sums).zip(&ids) {
        let len = elements.len();
        assert_eq!(
            sum.as_deref(),
            Some(expected(elements).as_str()),
            "array {id} of {len} elements"
        );
    }
    for (name, f) in [("times_two", &p.map), ("reduce", &p.merge)] {
        assert_json_logs(name, &f.logs());
    }
    report_figures(&[
        ("sum_array", &p.api),
        ("times_two", &p.map),
        ("reduce", &p.merge),
    ]);
}

/// Under template.yaml's LoggingConfig (LogFormat JSON) every tracing line
/// is a JSON object with its level and the spans it was logged in, which is
/// what Lambda's level filter and CloudWatch Logs Insights read.
fn assert_json_logs(function: &str, logs: &str) {
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l.get("level").is_some())
        .collect();
    assert!(
        !lines.is_empty(),
        "{function} wrote no JSON log line:\n{logs}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["spans"].as_array().is_some_and(|s| !s.is_empty())),
        "{function}'s JSON lines carry no spans:\n{logs}"
    );
    let text_lines = logs
        .lines()
        .filter(|l| l.contains(" INFO ") || l.contains(" WARN "));
    assert_eq!(
        text_lines.count(),
        0,
        "{function} logged plain text:\n{logs}"
    );
}

/// Resource names that lead nowhere: for functions that must stop before any AWS call.
fn unreachable_resources(stack: &stack::Stack) -> stack_tools::Provisioned {
    let queue = |id: &String| (id.clone(), format!("http://127.0.0.1:9/123456789012/{id}"));
    stack_tools::Provisioned {
        queue_urls: stack.queues.iter().map(|q| queue(&q.logical_id)).collect(),
        table_names: stack
            .tables
            .iter()
            .map(|t| (t.logical_id.clone(), t.logical_id.clone()))
            .collect(),
        bucket_names: stack
            .buckets
            .iter()
            .map(|b| (b.logical_id.clone(), b.logical_id.to_lowercase()))
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_setting_reaches_the_runtime_api_init_error() {
    let stack = stack::Stack::embedded().expect("template.yaml");
    let provisioned = unreachable_resources(&stack);
    for (function, value) in FUNCTIONS.into_iter().zip(["0", "abc", "0"]) {
        let binary = function.0;
        let mut f = start(
            &stack,
            &provisioned,
            &[],
            function,
            &[("CHUNK_SIZE", value)],
        )
        .await;
        let event = match binary {
            "sum_array" => event_file("sum_array-post.json"),
            _ => event_file("times_two-batch.json"),
        };
        // Lambda answers the invoke with what the function posted to /init/error.
        let init = match f.invoke(&event).await {
            Err(InvokeError::Init(init)) => init,
            other => panic!(
                "{binary}: CHUNK_SIZE={value} must fail the init: {other:?}\n{}",
                f.logs()
            ),
        };
        let (posted, status) = f
            .init_error(Duration::from_secs(10))
            .await
            .expect("init error, exit");
        assert_eq!(posted, init);
        assert!(!status.success(), "{binary}: exited {status}");
        assert_eq!(
            init.error_type.as_deref(),
            Some("Runtime.InitError"),
            "{init:?}"
        );
        let message = init.body["errorMessage"].as_str().unwrap_or_default();
        assert!(
            message.contains("CHUNK_SIZE") && message.contains(value),
            "{binary}: {init:?}"
        );
        let error_type = init.body["errorType"].as_str().unwrap_or_default();
        assert!(!error_type.is_empty(), "{binary}: {init:?}");
        assert!(
            f.logs().contains("CHUNK_SIZE"),
            "{binary} logs the reason too:\n{}",
            f.logs()
        );
    }
}

/// Each file of events/ is the event its function takes, and its bodies are
/// messages that function reads.
#[test]
fn every_shipped_event_is_its_functions_event() {
    let mut seen = 0;
    for entry in std::fs::read_dir(workspace().join("events")).expect("events/") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let text = std::fs::read_to_string(&path).expect("read");
        let function = name.split('-').next().unwrap_or_default();
        match function {
            "sum_array" => {
                serde_json::from_str::<ApiGatewayProxyRequest>(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            "times_two" | "reduce" => {
                let event: SqsEvent = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(!event.records.is_empty(), "{name}: no records");
                for body in event.records.iter().map(|r| r.body.as_deref().unwrap_or_default()) {
                    let decoded = if function == "times_two" {
                        packet::MapMessage::decode(body).map(|_| ())
                    } else {
                        packet::ReduceMessage::decode(body).map(|_| ())
                    };
                    decoded.unwrap_or_else(|e| panic!("{name}: {e}: {body}"));
                }
            }
            _ => panic!("events/{name}: name it <function>-<case>.json after sum_array, times_two or reduce"),
        }
        seen += 1;
    }
    assert!(seen >= 4, "events/ holds {seen} files");
}

/// `[package.metadata.lambda.env]` of `binary`'s Cargo.toml (what `cargo lambda watch` gives it).
fn watch_env(binary: &str) -> BTreeMap<String, String> {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let package = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == binary)
        .unwrap_or_else(|| panic!("package {binary}"));
    serde_json::from_value(package["metadata"]["lambda"]["env"].clone())
        .unwrap_or_else(|e| panic!("crates/{binary}/Cargo.toml [package.metadata.lambda.env]: {e}"))
}

/// Where `[package.metadata.lambda.env]` expects moto (`moto_server -p 5000`).
const WATCH_ENDPOINT: &str = "http://127.0.0.1:5000";

/// Starts `binary` as `cargo lambda watch` would: its Cargo.toml's watch
/// environment (pointed at `moto`) and watch's deadline header. That
/// environment must set every variable template.yaml gives the function,
/// resources named as `adder serve --prefix adder` creates them.
async fn start_as_watch(moto: &Moto, d: &Deployed, (binary, logical_id): (&str, &str)) -> Lambda {
    let (stack, provisioned) = (&d.stack, &d.provisioned);
    let local = |v: &String| v.replace(WATCH_ENDPOINT, moto.endpoint());
    let mut watch: BTreeMap<String, String> = watch_env(binary)
        .iter()
        .map(|(k, v)| (k.clone(), local(v)))
        .collect();
    let resources: Vec<&String> = provisioned
        .queue_urls
        .values()
        .chain(provisioned.table_names.values())
        .chain(provisioned.bucket_names.values())
        .collect();
    for (name, value) in provisioned
        .function_env(stack, logical_id)
        .expect("template env")
    {
        let Some(set) = watch.get(&name) else {
            panic!("crates/{binary}/Cargo.toml [package.metadata.lambda.env] lacks {name} (template.yaml sets it)");
        };
        if resources.contains(&&value) {
            assert_eq!(
                set, &value,
                "{binary}: {name} must name what `adder serve --prefix adder` creates"
            );
        }
    }
    // The Cargo.toml's keys are moto's default user's, which IAM now
    // refuses: the function's user's instead, reaching moto through the relay.
    let own = d.watch.env(d.user(logical_id).env_on(moto));
    watch.extend(own.into_iter().map(|(k, v)| (k.to_string(), v)));
    let spec = stack.function(logical_id).expect("function");
    let config = FunctionConfig {
        binary: bootstrap(binary),
        name: binary.to_string(),
        memory_mb: spec.memory_mb,
        timeout: spec.timeout,
        env: watch,
        // What `cargo lambda watch` (1.9) sends, whatever the function's timeout.
        fixed_deadline_ms: Some(600_000),
    };
    Lambda {
        function: Function::start(config).await.expect("start"),
        denials: d.watch.denials(),
    }
}

/// events/`file` with array `id` for the placeholder.
fn with_id(file: &str, id: &str) -> Value {
    let text = serde_json::to_string(&event_file(file)).expect("JSON");
    serde_json::from_str(&text.replace(PLACEHOLDER_ID, id)).expect("JSON")
}

/// The bodies of an SQS event's records, sorted.
fn bodies(event: &Value) -> Vec<String> {
    let records = event["Records"].as_array().into_iter().flatten();
    let mut bodies: Vec<String> = records
        .filter_map(|r| r["body"].as_str().map(str::to_string))
        .collect();
    bodies.sort();
    bodies
}

/// The bodies of what waits in queue `url`, sorted.
async fn queued(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let receive = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10);
    let received = receive.send().await.expect("ReceiveMessage");
    let mut bodies: Vec<String> = received
        .messages()
        .iter()
        .filter_map(|m| m.body().map(str::to_string))
        .collect();
    bodies.sort();
    bodies
}

/// Invokes an SQS function with `event`, which must fail no message.
async fn handle_all(function: &mut Lambda, event: &Value) {
    let response = invoke(function, event)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", function.logs()));
    assert_eq!(failures(&response), Vec::<String>::new(), "{response}");
}

/// docs/local.md's walkthrough (`cargo lambda watch`, `cargo lambda invoke
/// --data-file events/…`) with its own files and settings; the shipped SQS
/// events, the placeholder id replaced, carry exactly what the functions send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_events_walk_one_array_through_all_three_functions() {
    let moto = Moto::start();
    let d = Deployed::on(&moto, "adder").await;
    let provisioned = &d.provisioned;
    let mut functions = Vec::new();
    for function in FUNCTIONS {
        functions.push(start_as_watch(&moto, &d, function).await);
    }
    let [api, map, merge] = &mut functions[..] else {
        unreachable!("three functions")
    };
    let sqs = aws_sdk_sqs::Client::new(&d.harness);
    let post_body = event_file("sum_array-post.json")["body"]
        .as_str()
        .map(str::to_string);
    let id = post(api, &post_body.expect("a body")).await;

    let map_event = with_id("times_two-batch.json", &id);
    assert_eq!(
        queued(&sqs, &provisioned.queue_urls["TimesTwoQueue"]).await,
        bodies(&map_event),
        "events/times_two-batch.json must carry what sum_array sends (left; {PLACEHOLDER_ID} for {id})"
    );
    handle_all(map, &map_event).await;
    let merge_event = with_id("reduce-batch.json", &id);
    assert_eq!(
        queued(&sqs, &provisioned.queue_urls["ReduceQueue"]).await,
        bodies(&merge_event),
        "events/reduce-batch.json must carry what times_two sends (left; {PLACEHOLDER_ID} for {id})"
    );
    handle_all(merge, &merge_event).await;
    let sum = done_sum(api, &id).await;
    assert_eq!(sum.as_deref(), Some(expected(&shipped_elements()).as_str()));
}

/// A panic in a handler fails that invocation, not the process: the release
/// profile unwinds (Cargo.toml; crates/handlers/src/lambda.rs refuses to
/// build otherwise), so lambda_runtime catches it and the next request is
/// answered by the same warm process. The panic here is lambda_http's, on a
/// hand-made REST event marked base64 whose body is not base64 (API Gateway
/// never sends one: it marks only bodies it encoded itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_fails_one_invocation_and_the_process_carries_on() {
    let moto = Moto::start();
    let d = Deployed::on(&moto, "panic").await;
    let mut api = d.start(&moto, FUNCTIONS[0], &[]).await;
    let mut event = post_event("[1,2,3]");
    event["isBase64Encoded"] = json!(true);
    event["body"] = json!("*** not base64 ***");
    match invoke(&mut api, &event).await {
        Err(InvokeError::Function { body, .. }) => {
            let message = body.to_string();
            assert!(
                message.contains("base64") || message.contains("panic"),
                "{message}"
            );
        }
        other => panic!(
            "expected an invocation error, got {other:?}\n{}",
            api.logs()
        ),
    }
    // The emulator never restarts a process: an aborted one would answer
    // this with InvokeError::Exited.
    let id = post(&mut api, "[1,2,3]").await;
    assert_eq!(id.len(), 36, "the same process answers the next request");
}

/// The enforcement bites: sum_array signing as a user that holds all of
/// SumArrayFunction's grants but `sqs:SendMessage` cannot fan an array out,
/// and the test fails naming the action, as the others do when the template
/// lacks a grant a function needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_short_of_one_grant_is_denied_that_action() {
    let moto = Moto::start();
    let (prefix, function, missing) = ("short", FUNCTIONS[0], "sqs:SendMessage");
    let stack = stack::Stack::embedded().expect("template.yaml");
    let all = iam::function_statements(&stack, function.1, prefix);
    let short = iam::without_action(&all, missing);
    let user = "SumArrayWithoutSendMessage";
    let (d, users) = Deployed::with_users(&moto, prefix, &[(user, short)]).await;
    let mut api = d.start_as(&moto, &users[user], function, &[]).await;
    // Not `invoke`, which would fail this test at the denial.
    let outcome = api.function.invoke(&post_event("[1,2,3]")).await;
    let status = outcome.as_ref().ok().and_then(|r| r["statusCode"].as_i64());
    assert_ne!(status, Some(200), "the POST must fail: {outcome:?}");
    // moto names the batch call by its own name (`sqs:SendMessageBatch`),
    // which sqs:SendMessage authorises on AWS.
    let denied = api.denials.all();
    let names = stack::iam::operations_allowed_by(missing);
    assert!(
        !denied.is_empty() && denied.keys().all(|a| names.contains(a)),
        "only {names:?} may be denied: {denied:?}\n{}",
        api.logs()
    );
    let text = first_denial(&api.denials).unwrap_or_default();
    println!("{text}");
    assert!(
        [
            "IAM denied sqs:SendMessage: ",
            "IAM denied sqs:SendMessageBatch (AWS checks sqs:SendMessage): "
        ]
        .iter()
        .any(|first| text.starts_with(first))
            && text.contains(&format!(
                "user/{user} is not authorized to perform: sqs:SendMessage"
            )),
        "{text}"
    );
}
