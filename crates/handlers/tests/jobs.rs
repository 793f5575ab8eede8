//! Jobs through the API Router and the queue handlers, on the in-process
//! ports: naming a job on POST /sumArray and /sumObject, reading its result,
//! the input bucket's job (NOTIFIED_JOB), and every refusal's exact text.

mod drain;

use handlers::{handle_times_two, router, sqs_event};
use http::Method;
use packet::job::{JobSpec, Registry};
use pipeline::memory::MemoryBackend;
use pipeline::{Config, Ports, Received, SystemClock};
use serde_json::{json, Value};
use std::sync::Arc;
use test_support::api::{request, send};

fn setup() -> (MemoryBackend, Ports, Config) {
    let b = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = b.ports();
    let config = Config {
        chunk_size: 2,
        fan_in: 2,
        range_bytes: 7,
        jobs: Registry::shipped().with::<histogram::Histogram>(),
        ..Config::default()
    };
    (b, ports, config)
}

async fn call(
    ports: &Ports,
    config: &Config,
    method: Method,
    path: &str,
    body: Option<&str>,
) -> (u16, Value) {
    let answer = send(
        router(ports.clone(), config.clone()),
        request(method, path, body),
    )
    .await;
    (answer.status.as_u16(), answer.json())
}

async fn posted(ports: &Ports, config: &Config, path: &str, body: &str) -> String {
    let (status, json) = call(ports, config, Method::POST, path, Some(body)).await;
    assert_eq!(status, 200, "{path}: {json}");
    json["arrayId"].as_str().expect("id").to_string()
}

async fn record(ports: &Ports, config: &Config, id: &str) -> Value {
    call(ports, config, Method::GET, &format!("/sums/{id}"), None)
        .await
        .1
}

#[tokio::test]
async fn an_array_runs_the_job_its_query_names_and_shows_its_result() {
    let (b, ports, config) = setup();
    let stats = posted(
        &ports,
        &config,
        "/sumArray?job=stats",
        "[3, -1.5, 10, 0.25, 7]",
    )
    .await;
    let pending = record(&ports, &config, &stats).await;
    assert_eq!(pending["job"], json!({"name": "stats"}));
    assert_eq!(pending["result"], Value::Null);
    let bounds = "%7B%22bounds%22%3A%5B0%2C5%5D%7D"; // {"bounds":[0,5]}
    let path = format!("/sumArray?job=histogram&params={bounds}");
    let histogram = posted(&ports, &config, &path, "[-1, 0, 4.9, 5, 6, 100]").await;
    let sum = posted(&ports, &config, "/sumArray", "[1, 2]").await;
    drain::drain_with(&b, &ports, &config).await;

    let done = record(&ports, &config, &stats).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(
        done["result"],
        json!({"count": 5, "sum": 18.75, "min": -1.5, "max": 10, "mean": 3.75, "meanExact": true})
    );
    assert_eq!(done["sum"], Value::Null, "sum is the sum job's");
    let done = record(&ports, &config, &histogram).await;
    assert_eq!(
        done["job"],
        json!({"name": "histogram", "params": {"bounds": [0, 5]}})
    );
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(
        done["result"],
        json!({"buckets": [
            {"from": null, "below": 0, "count": 1},
            {"from": 0, "below": 5, "count": 2},
            {"from": 5, "below": null, "count": 3},
        ]})
    );
    let done = record(&ports, &config, &sum).await;
    assert_eq!(done["sum"], 6);
    assert!(
        done.get("job").is_none() && done.get("result").is_none(),
        "the adder's record is what it was: {done}"
    );
}

#[tokio::test]
async fn a_job_that_cannot_run_is_a_400_saying_why() {
    let (b, ports, config) = setup();
    let cases = [
        (
            "/sumArray?job=median",
            r#"no job is called "median"; this deployment runs histogram, stats, sum, sum-by"#,
        ),
        (
            "/sumArray?job=stats&params=%7B%22x%22%3A1%7D",
            r#"job stats: takes no parameter "x""#,
        ),
        (
            "/sumArray?job=stats&params=nope",
            r#"params must be a JSON object, like {"by":"region"}: expected ident at line 1 column 2"#,
        ),
        (
            "/sumArray?job=sum-by&params=%7B%22by%22%3A%22k%22%7D",
            "job sum-by: groups by a CSV column, so it takes CSV objects only, not a JSON array",
        ),
        (
            "/sumArray?params=%7B%22x%22%3A1%7D",
            r#"job sum: takes no parameter "x""#,
        ),
        (
            "/sumArray?jobs=stats",
            "the query may name only job and params (?job=stats, ?job=histogram&params={\"bounds\":[0,10]}): \
             jobs: unknown field `jobs`, expected `job` or `params`",
        ),
    ];
    for (path, says) in cases {
        let (status, json) = call(&ports, &config, Method::POST, path, Some("[1]")).await;
        assert_eq!(
            (status, json["error"].as_str()),
            (400, Some(says)),
            "{path}"
        );
    }
    assert!(b.sums.records().is_empty(), "a refused job records nothing");
    assert!(b.times_two_queue.is_empty(), "a refused job sends nothing");
}

#[tokio::test]
async fn a_key_names_one_body_and_job() {
    let (_b, ports, config) = setup();
    let post = |path: &'static str| {
        let app = router(ports.clone(), config.clone());
        let mut r = request(Method::POST, path, Some("[1, 2]"));
        r.headers_mut()
            .insert("idempotency-key", "k-1".parse().expect("header"));
        async move {
            let answer = send(app, r).await;
            (answer.status.as_u16(), answer.json())
        }
    };
    let (status, first) = post("/sumArray?job=stats").await;
    assert_eq!(status, 200);
    let (status, again) = post("/sumArray?job=stats").await;
    assert_eq!((status, &again["arrayId"]), (200, &first["arrayId"]));
    let (status, other) = post("/sumArray").await;
    assert_eq!(status, 422, "the same key for another job: {other}");
}

/// A CSV of sales: quoted keys are unquoted, the empty key is a key, keys
/// are compared byte for byte.
const SALES: &str =
    "region,amount\n\"north, east\",1.5\nsouth,2\n,4\nSouth,8\nsouth,0.25\n\"north, east\",-1\n";

#[tokio::test]
async fn sum_by_groups_an_object_by_a_column_named_in_its_header() {
    let (b, ports, config) = setup();
    b.objects
        .put("input", "sales.csv", SALES.as_bytes().to_vec());
    let body = json!({"bucket": "input", "key": "sales.csv", "column": "amount",
        "job": "sum-by", "params": {"by": "region"}});
    let id = posted(&ports, &config, "/sumObject", &body.to_string()).await;
    let summed = json!({"bucket": "input", "key": "sales.csv", "column": "amount"});
    let sum_id = posted(&ports, &config, "/sumObject", &summed.to_string()).await;
    assert_ne!(
        id, sum_id,
        "another job over the same object is another array"
    );
    drain::drain_with(&b, &ports, &config).await;

    let done = record(&ports, &config, &id).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["object"]["keyColumn"], 0);
    assert_eq!(
        done["result"],
        json!({"groups": [
            {"key": "", "count": 1, "sum": 4},
            {"key": "South", "count": 1, "sum": 8},
            {"key": "north, east", "count": 2, "sum": 0.5},
            {"key": "south", "count": 2, "sum": 2.25},
        ]})
    );
    assert_eq!(record(&ports, &config, &sum_id).await["sum"], json!(29.5));

    let query = "/sumObject?bucket=input&key=sales.csv&column=amount&job=sum-by\
                 &params=%7B%22by%22%3A%22region%22%7D";
    let (status, found) = call(&ports, &config, Method::GET, query, None).await;
    assert_eq!(
        (status, found["arrayId"].as_str()),
        (200, Some(id.as_str()))
    );
    let query = "/sumObject?bucket=input&key=sales.csv&column=amount&job=stats";
    let (status, missing) = call(&ports, &config, Method::GET, query, None).await;
    assert_eq!(
        (status, missing["error"].as_str()),
        (
            404,
            Some("s3://input/sales.csv (as it is now, in this format, with this job) was never submitted")
        )
    );
}

#[tokio::test]
async fn an_object_a_job_does_not_take_is_refused_with_the_reason() {
    let (b, ports, config) = setup();
    b.objects
        .put("input", "sales.csv", SALES.as_bytes().to_vec());
    b.objects.put("input", "n.json", b"[1]".to_vec());
    let cases = [
        (
            json!({"bucket": "input", "key": "n.json", "job": "sum-by", "params": {"by": 0}}),
            400,
            "job sum-by: groups by a CSV column, so it takes CSV objects only (format csv)",
        ),
        (
            json!({"bucket": "input", "key": "sales.csv", "column": "amount", "job": "sum-by",
                "params": {"by": "country"}}),
            422,
            "s3://input/sales.csv as CSV: byte 0: the header has no column named \"country\"",
        ),
        (
            json!({"bucket": "input", "key": "sales.csv", "column": "amount", "job": "sum-by"}),
            400,
            "job sum-by: needs \"by\": the column to group by, a header name or a 0-based index",
        ),
        (
            json!({"bucket": "input", "key": "sales.csv", "job": "nope"}),
            400,
            "no job is called \"nope\"; this deployment runs histogram, stats, sum, sum-by",
        ),
    ];
    for (body, status, says) in cases {
        let answer = call(
            &ports,
            &config,
            Method::POST,
            "/sumObject",
            Some(&body.to_string()),
        )
        .await;
        assert_eq!(
            (answer.0, answer.1["error"].as_str()),
            (status, Some(says)),
            "{body}"
        );
    }
}

fn notification(key: &str, etag: &str) -> Received {
    let note = json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": "input"},
        "object": {"key": key, "eTag": etag.trim_matches('"')}}}]});
    Received {
        message_id: format!("m-{key}"),
        receipt: format!("r-{key}"),
        body: note.to_string(),
        receive_count: 1,
    }
}

#[tokio::test]
async fn the_input_buckets_job_runs_over_every_dropped_object_it_takes() {
    let (b, ports, mut config) = setup();
    config.input_csv_column = "amount".into();
    config.notified_job =
        serde_json::from_value::<JobSpec>(json!({"name": "sum-by", "params": {"by": "region"}}))
            .expect("spec");
    let csv = b
        .objects
        .put("input", "sales.csv", SALES.as_bytes().to_vec());
    let json = b.objects.put("input", "n.json", b"[1]".to_vec());
    let event = sqs_event(&[
        notification("sales.csv", &csv.etag.expect("etag")),
        notification("n.json", &json.etag.expect("etag")),
    ]);
    let response = handle_times_two(&ports, &config, &event, None).await;
    assert!(response.batch_item_failures.is_empty());
    drain::drain_with(&b, &ports, &config).await;
    let records = b.sums.records();
    let by_key = |key: &str| {
        records
            .iter()
            .find(|r| {
                r.source.as_ref().is_some_and(|s| s.object.key == key)
                    || r.failure.as_ref().is_some_and(|f| f.reason.contains(key))
            })
            .cloned()
            .expect("a record")
    };
    let sales = by_key("sales.csv");
    assert_eq!(sales.job, config.notified_job);
    assert_eq!(
        sales.result.as_deref(),
        Some("0: 1 4\n5:South 1 8\n11:north, east 2 0.5\n5:south 2 2.25\n")
    );
    let refused = by_key("n.json");
    let failure = refused.failure.expect("failed");
    assert_eq!(failure.kind.as_str(), "bad_data");
    assert_eq!(
        failure.reason,
        "s3://input/n.json cannot be run by the input bucket's job (NOTIFIED_JOB): job sum-by: \
         groups by a CSV column, so it takes CSV objects only (format csv); submit it with \
         POST /sumObject naming a job that takes it"
    );
}
