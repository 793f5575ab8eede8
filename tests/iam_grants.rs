//! What each function is granted in template.yaml must be exactly what its
//! code calls, derived from the code, not typed twice by hand.
//!
//! Each function's handler runs against moto through every path it has, with
//! its own ports: one SDK client per queue and table it is given, each
//! recording the IAM action of every request and the resource it is bound to.
//! The recorded set must equal the function's grants, less what Lambda's
//! poller calls with its role (receive, delete, GetQueueAttributes on its
//! queue), which the test plays with clients of its own.
//!
//! To cover a new code path, add a scenario to [`SCENARIOS`].
//!
//! Two things moto does not check are checked on the recorded DynamoDB
//! requests instead: moto authorises DynamoDB calls against `"*"`, not the
//! table (so IAM on moto cannot catch a function reaching the wrong table:
//! each request's `TableName` must be the table its client is for), and
//! moto's reads are always consistent (so every `GetItem` and `Query` must
//! ask for a strongly consistent read: reduce's exactly-once argument and
//! the map's record check rest on it, steps/reduce.rs).
//!
//! S3 grants are compared the way IAM matches them: an object action
//! (`s3:GetObject`) on the bucket's objects (`InputBucket/*`), a bucket
//! action (`s3:ListBucket`) on the bucket.

use aws_lambda_events::sqs::SqsEvent;
use aws_ports::{CallRecorder, Names};
use futures::future::BoxFuture;
use http::{HeaderValue, Method};
use pipeline::{Config, Ports, Received};
use serde_json::Value;
use stack::{EnvValue, FunctionSpec, Grant, Stack};
use stack_tools::Provisioned;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use test_support::Moto;

const SUM_ARRAY: &str = "SumArrayFunction";
const TIMES_TWO: &str = "TimesTwoFunction";
const REDUCE: &str = "ReduceFunction";
/// Prefix of the queue and table names on moto.
const PREFIX: &str = "grants";

/// Grants no request of the code records, which S3 consults all the same:
/// with `s3:ListBucket` on the bucket, a read of a missing key is a 404
/// (`NotFound`: "does not exist") instead of a 403 that cannot be told from a
/// missing grant. (function, action, resource, why). Each must be granted;
/// one that a request records fails the test until it is removed here.
const CONSULTED_BY_S3: &[(&str, &str, &str, &str)] = &[
    (
        SUM_ARRAY,
        "s3:ListBucket",
        "InputBucket",
        "POST a missing object: 404, not 403",
    ),
    (
        TIMES_TWO,
        "s3:ListBucket",
        "InputBucket",
        "a notification of a deleted object is skipped, not retried as denied",
    ),
];

/// One function as Lambda would run it: its environment, its own ports.
struct Function {
    spec: FunctionSpec,
    ports: Ports,
    config: Config,
    recorder: CallRecorder,
    /// What its environment names, as its ports were built from.
    names: Names,
    /// Its environment: the variables its clients' labels name.
    env: BTreeMap<String, String>,
}

/// The stack on moto, the three functions, and ports of the test's own (the
/// pollers', the client's) that record nothing.
struct World {
    functions: BTreeMap<String, Function>,
    unrecorded: Ports,
    sdk: aws_config::SdkConfig,
    /// The input bucket's name on moto.
    bucket: String,
}

type Scenario = for<'w> fn(&'w World) -> BoxFuture<'w, ()>;

/// Every path of every function, in an order where each finds the messages
/// and rows the ones before it left. The failure paths come last: their
/// arrays' packets stay in the queues, unmapped.
const SCENARIOS: &[(&str, Scenario)] = &[
    ("POST without a key", |w| Box::pin(post_unkeyed(w))),
    ("POST with a key, twice", |w| Box::pin(post_keyed_twice(w))),
    ("POST an empty array", |w| Box::pin(post_empty(w))),
    (
        "POST objects: current, by version, by CSV column name",
        |w| Box::pin(post_objects(w)),
    ),
    (
        "a notification records its object and enqueues its ranges",
        |w| Box::pin(notify_object(w)),
    ),
    ("GET a pending array and a missing one", |w| {
        Box::pin(get_pending_and_missing(w))
    }),
    ("map every packet, one delivered twice", |w| {
        Box::pin(map_all(w))
    }),
    ("reduce out of time: the rest is re-sent", |w| {
        Box::pin(reduce_out_of_time(w))
    }),
    ("reduce to done, one message delivered twice", |w| {
        Box::pin(reduce_all(w))
    }),
    ("GET the done arrays", |w| Box::pin(get_done(w))),
    ("POST whose fan-out fails: the array is failed", |w| {
        Box::pin(fan_out_fails(w))
    }),
    (
        "GET an array past its deadline: it is failed as expired",
        |w| Box::pin(get_expired(w)),
    ),
    ("times_two fails a message on its last receive", |w| {
        Box::pin(last_receive(w, TIMES_TWO))
    }),
    ("reduce fails a message on its last receive", |w| {
        Box::pin(last_receive(w, REDUCE))
    }),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_function_is_granted_exactly_what_its_code_calls() {
    let moto = Moto::start();
    let world = World::on(&moto).await;
    for (name, scenario) in SCENARIOS {
        eprintln!("scenario: {name}");
        scenario(&world).await;
    }
    // First the requests' tables: the grants below trust each client's label.
    let dynamodb = dynamodb_problems(&world);
    assert!(dynamodb.is_empty(), "{}", dynamodb.join("\n"));
    let mut problems = Vec::new();
    for (id, function) in &world.functions {
        let called = function.called();
        let granted = function.spec.code_grants();
        for missing in called.difference(&granted) {
            problems.push(format!(
                "{id}: its code calls {missing}, which template.yaml does not grant"
            ));
        }
        let awaiting = consulted_by_s3(id);
        for unused in granted.difference(&called) {
            if !awaiting.contains(unused) {
                problems.push(format!(
                    "{id}: template.yaml grants {unused}, which no scenario calls"
                ));
            }
        }
        for grant in &awaiting {
            if !granted.contains(grant) {
                problems.push(format!(
                    "{id}: CONSULTED_BY_S3 lists {grant}, which template.yaml does not grant"
                ));
            }
            if called.contains(grant) {
                problems.push(format!(
                    "{id}: {grant} is called now: remove it from CONSULTED_BY_S3"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// What the functions' DynamoDB requests did wrong: a table other than the
/// one their client is for, a read not strongly consistent. Also fails when
/// the scenarios made no read of each kind, so the check cannot pass empty.
fn dynamodb_problems(world: &World) -> Vec<String> {
    let mut problems = Vec::new();
    let mut reads = BTreeSet::new();
    for (id, function) in &world.functions {
        for request in function.recorder.dynamodb_requests() {
            let expected = function.env.get(&request.resource);
            if request.tables.is_empty() || request.tables.iter().any(|t| Some(t) != expected) {
                problems.push(format!(
                    "{id}: {} on tables {:?} through its {} client, which is for {expected:?}",
                    request.operation, request.tables, request.resource
                ));
            }
            if matches!(
                request.operation.as_str(),
                "GetItem" | "Query" | "Scan" | "BatchGetItem"
            ) {
                reads.insert((
                    id.clone(),
                    request.operation.clone(),
                    request.resource.clone(),
                ));
                if request.consistent_read != Some(true) {
                    problems.push(format!(
                        "{id}: {} on {} without ConsistentRead (sent {:?})",
                        request.operation, request.resource, request.consistent_read
                    ));
                }
            }
        }
    }
    for needed in [
        (REDUCE, "GetItem", aws_ports::SUMS_TABLE),
        (REDUCE, "Query", aws_ports::SCRATCHPAD_TABLE),
        (TIMES_TWO, "GetItem", aws_ports::SUMS_TABLE),
    ] {
        let key = (
            needed.0.to_string(),
            needed.1.to_string(),
            needed.2.to_string(),
        );
        if !reads.contains(&key) {
            problems.push(format!("no scenario recorded {needed:?}: {reads:?}"));
        }
    }
    problems
}

/// The grants of `function` in [`CONSULTED_BY_S3`].
fn consulted_by_s3(function: &str) -> BTreeSet<Grant> {
    CONSULTED_BY_S3
        .iter()
        .filter(|(f, ..)| *f == function)
        .map(|(_, action, resource, _)| Grant::new(*action, *resource))
        .collect()
}

impl World {
    async fn on(moto: &Moto) -> World {
        let stack = Stack::embedded().expect("template.yaml parses");
        let sdk = aws_ports::local_sdk_config(moto.endpoint()).await;
        let provisioned = stack_tools::provision(&stack, &sdk, PREFIX)
            .await
            .expect("provision on moto");
        let mut functions = BTreeMap::new();
        for spec in &stack.functions {
            let function = Function::new(spec, &provisioned, &stack, &sdk);
            functions.insert(spec.logical_id.clone(), function);
        }
        World {
            functions,
            unrecorded: aws_ports::ports(&sdk, &provisioned.names()),
            sdk,
            bucket: provisioned.bucket_names[stack_names::INPUT_BUCKET].clone(),
        }
    }

    fn function(&self, id: &str) -> &Function {
        self.functions
            .get(id)
            .unwrap_or_else(|| panic!("template.yaml has no {id}"))
    }
}

impl Function {
    fn new(
        spec: &FunctionSpec,
        provisioned: &Provisioned,
        stack: &Stack,
        sdk: &aws_config::SdkConfig,
    ) -> Function {
        let env = provisioned
            .function_env(stack, &spec.logical_id)
            .expect("the function's environment");
        // Small packets and fan-in so a few elements make a tree of several levels.
        let config = Config::from_lookup(jobs::registry(), |name| match name {
            "CHUNK_SIZE" | "FAN_IN" => Some("2".into()),
            _ => env.get(name).cloned(),
        })
        .expect("the function's configuration");
        let recorder = CallRecorder::new();
        let names = Names::from_lookup(|name| env.get(name).cloned());
        Function {
            spec: spec.clone(),
            ports: aws_ports::ports_recorded(sdk, &names, &recorder),
            config,
            recorder,
            names,
            env,
        }
    }

    /// What its clients sent, as grants: each client's label is the variable
    /// that names its resource, which the template binds to a logical id (an
    /// S3 object action is on that bucket's objects).
    fn called(&self) -> BTreeSet<Grant> {
        let resource_of = |variable: &str| match self.spec.environment.get(variable) {
            Some(EnvValue::Resource(id)) => id.clone(),
            other => panic!("{variable} is {other:?}, not a resource"),
        };
        self.recorder
            .calls()
            .into_iter()
            .map(|c| {
                let resource = resource_of(&c.resource);
                match stack::iam::is_object_action(&c.action) {
                    true => Grant::new(c.action, stack::objects_of(&resource)),
                    false => Grant::new(c.action, resource),
                }
            })
            .collect()
    }
}

async fn api(
    w: &World,
    method: Method,
    path: &str,
    body: Option<&str>,
    key: Option<&str>,
) -> (u16, Value) {
    let f = w.function(SUM_ARRAY);
    api_with(&f.ports, &f.config, method, path, body, key).await
}

/// [`api`] through sum_array's code with other ports or configuration.
async fn api_with(
    ports: &Ports,
    config: &Config,
    method: Method,
    path: &str,
    body: Option<&str>,
    key: Option<&str>,
) -> (u16, Value) {
    let mut request = test_support::api::request(method, path, body);
    if let Some(key) = key {
        let value = HeaderValue::from_str(key).expect("a header value");
        request
            .headers_mut()
            .insert(handlers::api::IDEMPOTENCY_HEADER, value);
    }
    let app = handlers::router(ports.clone(), config.clone());
    let answer = test_support::api::send(app, request).await;
    (answer.status.as_u16(), answer.json())
}

async fn post(w: &World, body: &str, key: Option<&str>) -> (u16, Value) {
    api(w, Method::POST, "/sumArray", Some(body), key).await
}

async fn post_unkeyed(w: &World) {
    let (status, answer) = post(w, "[1,2,3,4,5,6,7,8,9]", None).await;
    assert_eq!(status, 200, "{answer}");
}

async fn post_keyed_twice(w: &World) {
    let body = "[10,20,30,40,50]";
    let (first, a) = post(w, body, Some("grants-key")).await;
    let (second, b) = post(w, body, Some("grants-key")).await;
    assert_eq!((first, second), (200, 200), "{a} {b}");
    assert_eq!(a["arrayId"], b["arrayId"]);
    let (other, answer) = post(w, "[1]", Some("grants-key")).await;
    assert_eq!(other, 422, "{answer}");
}

async fn post_empty(w: &World) {
    let (status, answer) = post(w, "[]", None).await;
    assert_eq!(status, 200, "{answer}");
}

async fn get_pending_and_missing(w: &World) {
    let (status, answer) = post(w, "[0.5,0.25]", None).await;
    assert_eq!(status, 200, "{answer}");
    let id = answer["arrayId"].as_str().expect("arrayId");
    let (status, answer) = api(w, Method::GET, &format!("/sums/{id}"), None, None).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("pending")));
    let missing = "/sums/0f8fad5b-d9cb-469f-a165-70867728950e";
    assert_eq!(api(w, Method::GET, missing, None, None).await.0, 404);
}

/// The input bucket as the functions' environment names it, and a client
/// of the test's own to put objects in it.
fn input_bucket(w: &World) -> (String, aws_sdk_s3::Client) {
    let bucket = w.bucket.clone();
    let client = aws_sdk_s3::Client::from_conf(aws_ports::s3_config(&w.sdk).build());
    (bucket, client)
}

/// Puts `text` as `key`; returns the version id.
async fn put_object(w: &World, key: &str, text: &str) -> (String, Option<String>) {
    let (bucket, client) = input_bucket(w);
    let out = client
        .put_object()
        .bucket(&bucket)
        .key(key)
        .body(text.as_bytes().to_vec().into())
        .send()
        .await
        .expect("put object");
    (bucket, out.version_id().map(str::to_string))
}

async fn post_objects(w: &World) {
    let (bucket, version) = put_object(w, "grants/a.csv", "n,v\n1,2\n3,4\n").await;
    let version = version.expect("the input bucket is versioned");
    let bodies = [
        serde_json::json!({"bucket": bucket, "key": "grants/a.csv", "column": "v"}),
        serde_json::json!({"bucket": bucket, "key": "grants/a.csv", "versionId": version}),
    ];
    for body in bodies {
        let text = body.to_string();
        let (status, answer) = api(w, Method::POST, "/sumObject", Some(&text), None).await;
        assert_eq!(status, 200, "{body}: {answer}");
    }
    let missing = serde_json::json!({"bucket": bucket, "key": "grants/none.txt"}).to_string();
    let (status, answer) = api(w, Method::POST, "/sumObject", Some(&missing), None).await;
    assert_eq!(status, 404, "{answer}");
}

async fn notify_object(w: &World) {
    let (bucket, _) = put_object(w, "grants/n.txt", "5\n6\n").await;
    let etag = input_bucket(w)
        .1
        .head_object()
        .bucket(&bucket)
        .key("grants/n.txt")
        .send()
        .await
        .expect("head")
        .e_tag()
        .map(str::to_string)
        .expect("an ETag");
    let note = serde_json::json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": bucket},
        "object": {"key": "grants/n.txt", "size": 4, "eTag": etag.trim_matches('"')}}}]});
    let f = w.function(TIMES_TWO);
    let received = Received {
        message_id: "note-1".into(),
        receipt: "note-1".into(),
        body: note.to_string(),
        receive_count: 1,
    };
    let response =
        handlers::handle_times_two(&f.ports, &f.config, &handlers::sqs_event(&[received]), None)
            .await;
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
}

/// Every message of `queue`, taken as the poller would (by the test's own
/// clients), in batches of up to ten.
async fn receive_every_batch(queue: &dyn pipeline::Queue) -> Vec<Vec<Received>> {
    let mut batches = Vec::new();
    loop {
        let batch = queue
            .receive(10, Duration::from_millis(200), Duration::from_secs(60))
            .await
            .expect("receive");
        if batch.is_empty() {
            return batches;
        }
        batches.push(batch);
    }
}

/// Delivers every batch, the first message of the first batch twice (as SQS
/// may), and deletes what the handler did not report failed.
async fn deliver<'w>(
    queue: &dyn pipeline::Queue,
    batches: Vec<Vec<Received>>,
    handle: impl Fn(SqsEvent) -> BoxFuture<'w, aws_lambda_events::sqs::SqsBatchResponse>,
) {
    for (i, mut batch) in batches.into_iter().enumerate() {
        if i == 0 {
            batch.push(batch[0].clone());
        }
        let response = handle(handlers::sqs_event(&batch)).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "failed items: {:?}",
            response.batch_item_failures
        );
        let mut receipts: Vec<String> = batch.into_iter().map(|m| m.receipt).collect();
        receipts.sort();
        receipts.dedup();
        queue.delete(receipts).await.expect("delete");
    }
}

async fn map_all(w: &World) {
    let f = w.function(TIMES_TWO);
    let queue = w.unrecorded.times_two_queue.as_ref();
    let batches = receive_every_batch(queue).await;
    assert!(!batches.is_empty(), "the POSTs left packets to map");
    deliver(queue, batches, |event| {
        Box::pin(async move { handlers::handle_times_two(&f.ports, &f.config, &event, None).await })
    })
    .await;
}

async fn reduce_all(w: &World) {
    let f = w.function(REDUCE);
    let queue = w.unrecorded.reduce_queue.as_ref();
    loop {
        let batches = receive_every_batch(queue).await;
        if batches.is_empty() {
            return;
        }
        deliver(queue, batches, |event| {
            Box::pin(
                async move { handlers::handle_reduce(&f.ports, &f.config, &event, None).await },
            )
        })
        .await;
    }
}

/// Every reduce message handled with its deadline already passed: each is
/// re-sent as it is, for the next invocation.
async fn reduce_out_of_time(w: &World) {
    let f = w.function(REDUCE);
    let queue = w.unrecorded.reduce_queue.as_ref();
    let batches = receive_every_batch(queue).await;
    assert!(!batches.is_empty(), "mapping left reduce messages");
    let passed = Some(0);
    deliver(queue, batches, |event| {
        Box::pin(async move { handlers::handle_reduce(&f.ports, &f.config, &event, passed).await })
    })
    .await;
}

async fn get_done(w: &World) {
    let (status, answer) = post(w, "[1,2,3,4,5,6,7,8,9]", Some("grants-done")).await;
    assert_eq!(status, 200, "{answer}");
    map_all(w).await;
    reduce_all(w).await;
    let id = answer["arrayId"].as_str().expect("arrayId");
    let (status, answer) = api(w, Method::GET, &format!("/sums/{id}"), None, None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "done", "{answer}");
    assert_eq!(answer["sum"], 90);
}

async fn status_of(w: &World, id: &str) -> Value {
    let (status, answer) = api(w, Method::GET, &format!("/sums/{id}"), None, None).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// sum_array's code with its TimesTwo queue's URL pointing at a queue that
/// does not exist: the record is written, the fan-out refused.
async fn fan_out_fails(w: &World) {
    let f = w.function(SUM_ARRAY);
    let mut names = f.names.clone();
    let url = names.times_two_queue_url.take().expect("its queue");
    names.times_two_queue_url = Some(format!("{url}-missing"));
    let ports = aws_ports::ports_recorded(&w.sdk, &names, &f.recorder);
    let body = Some("[4,5]");
    let (status, answer) = api_with(&ports, &f.config, Method::POST, "/sumArray", body, None).await;
    assert_eq!(status, 503, "{answer}");
    let resources = stack_tools::Resources::from_prefix(&w.sdk, PREFIX)
        .await
        .expect("the queues and tables");
    let listed = stack_tools::Admin::new(&w.sdk, resources)
        .pending()
        .await
        .expect("a scan of the sums table");
    let failed = listed
        .iter()
        .find(|a| a.status == "failed" && a.array_length == 2)
        .expect("the array's record, failed");
    let answer = status_of(w, &failed.array_id).await;
    assert_eq!(answer["failure"], "not_enqueued", "{answer}");
}

async fn get_expired(w: &World) {
    let f = w.function(SUM_ARRAY);
    let mut short = f.config.clone();
    short.array_deadline = Duration::from_secs(1);
    let body = Some("[7,8,9]");
    let (status, answer) = api_with(&f.ports, &short, Method::POST, "/sumArray", body, None).await;
    assert_eq!(status, 200, "{answer}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let answer = status_of(w, answer["arrayId"].as_str().expect("arrayId")).await;
    assert_eq!(answer["status"], "failed", "{answer}");
    assert_eq!(answer["failure"], "expired", "{answer}");
}

/// A message of a pending array that `function` cannot decode, delivered for
/// the last time before the dead-letter queue: the array is failed.
async fn last_receive(w: &World, function: &str) {
    let (status, answer) = post(w, "[1,2,3]", None).await;
    assert_eq!(status, 200, "{answer}");
    let id = answer["arrayId"].as_str().expect("arrayId");
    let f = w.function(function);
    let broken = Received {
        message_id: format!("broken-{function}"),
        receipt: "unused".into(),
        body: serde_json::json!({ "arrayId": id }).to_string(),
        receive_count: f.config.max_receive_count,
    };
    let event = handlers::sqs_event(&[broken]);
    let response = match function {
        TIMES_TWO => handlers::handle_times_two(&f.ports, &f.config, &event, None).await,
        _ => handlers::handle_reduce(&f.ports, &f.config, &event, None).await,
    };
    assert_eq!(response.batch_item_failures.len(), 1, "{function}");
    let answer = status_of(w, id).await;
    assert_eq!(answer["status"], "failed", "{answer}");
    assert_eq!(answer["failure"], "dead_lettered", "{answer}");
}

/// Why the moto users' DynamoDB statements are on `"*"` and not on the
/// stack's tables, as template.yaml scopes them: moto authorises a DynamoDB
/// request against the resource `"*"`, so a statement on a table's ARN
/// denies even a request on that very table. The table scoping is checked
/// instead on the recorded requests (`dynamodb_problems`). When moto starts
/// checking tables this test fails: then scope the statements
/// (`test_support::iam::function_statements`) to the tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_authorises_dynamodb_against_star_only() {
    let moto = Moto::start();
    let stack = Stack::embedded().expect("template.yaml parses");
    let sdk = aws_ports::local_sdk_config(moto.endpoint()).await;
    let provisioned = stack_tools::provision(&stack, &sdk, "probe")
        .await
        .expect("provision on moto");
    let table = provisioned.table_names[stack_names::SUMS_TABLE].clone();
    let statement = |resource: &str| serde_json::json!({"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": resource});
    let arn = format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}");
    let (_, users) = test_support::iam::enforce_with_users(
        &moto,
        &stack,
        "probe",
        &[
            ("on-the-table", vec![statement(&arn)]),
            ("on-star", vec![statement("*")]),
        ],
    )
    .expect("IAM users on moto");
    let status_as = |user: &str| {
        let user = users[user].clone();
        let (moto, table) = (moto.endpoint().to_string(), table.clone());
        async move {
            let sdk = aws_ports::load_sdk_config(aws_ports::Account::Emulator {
                endpoint: &moto,
                access_key_id: &user.access_key_id,
                secret_access_key: &user.secret_access_key,
            })
            .await;
            let key = aws_sdk_dynamodb::types::AttributeValue::S("no-such-array".into());
            match aws_sdk_dynamodb::Client::new(&sdk)
                .get_item()
                .table_name(table)
                .key("arrayId", key)
                .send()
                .await
            {
                Ok(_) => 200,
                Err(e) => e.raw_response().map_or(0, |r| r.status().as_u16()),
            }
        }
    };
    assert_eq!(
        status_as("on-star").await,
        200,
        "the request itself is valid"
    );
    assert_eq!(
        status_as("on-the-table").await,
        403,
        "moto now authorises DynamoDB by table: scope the test users' table statements"
    );
}
