//! Objects end to end against moto: `adder serve --backend aws` creates the
//! input bucket with its ObjectCreated notifications; a file dropped in it
//! is summed by byte ranges, found by its key, and a bad one fails with the
//! place of its bad record. moto enforces IAM: each function signs as a user
//! holding exactly its template.yaml actions.

mod common;

use common::Server;
use serde_json::Value;
use std::time::{Duration, Instant};
use test_support::{iam, Moto};

const PREFIX: &str = "objs";

/// The server, and an S3 client signing as the test harness.
async fn server(moto: &Moto) -> (Server, aws_sdk_s3::Client) {
    server_with(moto, &[]).await
}

/// [`server`], its functions given `settings` (as template parameters would).
async fn server_with(
    moto: &Moto,
    settings: &[(&'static str, String)],
) -> (Server, aws_sdk_s3::Client) {
    let stack = stack::Stack::embedded().expect("template.yaml parses");
    let principals = iam::enforce(moto, &stack, PREFIX).expect("IAM users on moto");
    let extra = [
        "--max-pollers",
        "4",
        "--range-bytes",
        "1000",
        "--fan-in",
        "4",
    ];
    let server = Server::aws_iam_env(moto, &principals, PREFIX, &extra, settings);
    let sdk = aws_ports::local_sdk_config(moto.endpoint()).await;
    let harness = &principals.harness;
    let keys = aws_sdk_s3::config::Credentials::new(
        &harness.access_key_id,
        &harness.secret_access_key,
        None,
        None,
        "harness",
    );
    let config = aws_ports::s3_config(&sdk)
        .credentials_provider(keys)
        .build();
    (server, aws_sdk_s3::Client::from_conf(config))
}

fn bucket() -> String {
    stack_names::local_bucket_name(PREFIX, stack_names::INPUT_BUCKET)
}

async fn put(client: &aws_sdk_s3::Client, key: &str, text: String) {
    client
        .put_object()
        .bucket(bucket())
        .key(key)
        .body(text.into_bytes().into())
        .send()
        .await
        .expect("put object");
}

/// GET /sumObject for `key` until its array has ended; returns the record.
async fn wait_for(server: &Server, key: &str, within: Duration) -> Value {
    wait_for_job(server, key, &[], within).await
}

/// [`wait_for`] the array of `key` run by the job `job` names (`job`,
/// `params` query pairs).
async fn wait_for_job(server: &Server, key: &str, job: &[(&str, &str)], within: Duration) -> Value {
    let url = format!("{}/sumObject", server.base);
    let deadline = Instant::now() + within;
    loop {
        server.assert_nothing_denied();
        let response = server
            .client
            .get(&url)
            .query(&[("bucket", bucket().as_str()), ("key", key)])
            .query(job)
            .send()
            .await
            .expect("GET /sumObject");
        let status = response.status().as_u16();
        let json: Value = response.json().await.expect("JSON");
        if status == 200 && json["status"] != "pending" {
            return json;
        }
        assert!(
            status == 200 || status == 404,
            "GET /sumObject answered {status}: {json}"
        );
        assert!(
            Instant::now() < deadline,
            "{key} not ended in {within:?}: {json}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_dropped_in_the_input_bucket_is_summed_exactly() {
    let moto = Moto::start();
    let (server, client) = server(&moto).await;
    // Column 0 (INPUT_CSV_COLUMN's default) of a CSV with a header.
    let rows: String = (0..3000)
        .map(|i| format!("{}.25,row {i}\n", i - 1000))
        .collect();
    put(
        &client,
        "drop/2026-11-25.csv",
        format!("amount,label\n{rows}"),
    )
    .await;
    let lines: String = (1..=5000).map(|i| format!("{i}\n")).collect();
    put(&client, "drop/numbers.txt", lines).await;

    let csv = wait_for(&server, "drop/2026-11-25.csv", Duration::from_secs(120)).await;
    assert_eq!(csv["status"], "done", "{csv}");
    // Rows i < 1000 hold −(1000 − i) − 0.25, the others i − 1000 + 0.25:
    // 2 × (Σ_{i<3000} (i − 1000) − 1000 × 0.25 + 2000 × 0.25) = 2 × 1,498,750.
    assert_eq!(csv["sum"].to_string(), "2997500");
    assert_eq!(csv["arrayLength"], 3000);
    let lines = wait_for(&server, "drop/numbers.txt", Duration::from_secs(120)).await;
    assert_eq!(lines["sum"].to_string(), "25005000", "{lines}");
    assert!(lines["object"]["object"]["etag"].is_string(), "{lines}");

    // The same object POSTed is the same array, already done.
    let body = serde_json::json!({"bucket": bucket(), "key": "drop/numbers.txt"});
    let response = server
        .client
        .post(format!("{}/sumObject", server.base))
        .body(body.to_string())
        .send()
        .await
        .expect("POST /sumObject");
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(answer["arrayId"], lines["arrayId"]);
    assert_eq!(answer["arrayStatus"], "done");
    server.assert_nothing_denied();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_fails_with_the_line_of_its_bad_record() {
    let moto = Moto::start();
    let (server, client) = server(&moto).await;
    let mut text: String = (0..2000).map(|i| format!("{i}\n")).collect();
    let offset = text.len();
    text.push_str("12,5\n7\n");
    put(&client, "drop/bad.txt", text).await;
    let failed = wait_for(&server, "drop/bad.txt", Duration::from_secs(120)).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["failure"], "bad_data");
    let reason = failed["reason"].as_str().expect("reason");
    assert!(
        reason.contains(&format!("byte {offset} (line 2001)")),
        "{reason}"
    );
    server.assert_nothing_denied();
}

/// A file dropped in an archive storage class (S3 Glacier) is notified, but
/// S3 refuses to read it (InvalidObjectState): its array fails naming the
/// storage class, not a missing s3:GetObject, and is found by its key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archived_file_fails_naming_its_storage_class() {
    let moto = Moto::start();
    let (server, client) = server(&moto).await;
    client
        .put_object()
        .bucket(bucket())
        .key("drop/cold.txt")
        .storage_class(aws_sdk_s3::types::StorageClass::Glacier)
        .body(b"1\n2\n".to_vec().into())
        .send()
        .await
        .expect("put object");
    let failed = wait_for(&server, "drop/cold.txt", Duration::from_secs(120)).await;
    let version = failed["object"]["object"]["versionId"]
        .as_str()
        .expect("the input bucket is versioned");
    assert_eq!(
        (&failed["status"], &failed["failure"], &failed["reason"]),
        (
            &Value::from("failed"),
            &Value::from("unreadable"),
            &Value::from(format!(
                "s3://{}/drop/cold.txt?versionId={version} is in an archive storage class \
                 (S3 answered InvalidObjectState): restore it and copy it to a storage class \
                 that can be read at once (e.g. STANDARD), or upload it again",
                bucket()
            ))
        )
    );
    server.assert_nothing_denied();
}

/// Rows of a sales CSV: `region,amount`, with quoted regions, an empty one,
/// and amounts of several signs and scales.
fn sales(rows: usize) -> (String, Vec<(String, String)>) {
    let regions = ["north", "\"south, east\"", "", "west", "North"];
    let mut text = String::from("region,amount\n");
    let mut records = Vec::new();
    for i in 0..rows {
        let region = regions[i % regions.len()];
        let amount = format!("{}.{:02}", i as i64 - 700, i % 100);
        text.push_str(&format!("{region},{amount}\n"));
        records.push((region.trim_matches('"').to_string(), amount));
    }
    (text, records)
}

/// `job` computed directly over `records` (number, key), as the API shows it.
fn direct(spec: &packet::job::JobSpec, records: &[(String, String)]) -> Value {
    let job = jobs::registry().job(spec).expect("a shipped job");
    let mut all = records.iter().map(|(key, number)| packet::job::Record {
        number,
        key: Some(key),
    });
    let value = job.map_records(&mut all).expect("mapped");
    serde_json::from_str(&job.show_stored(&value).expect("shown")).expect("JSON")
}

/// The input bucket's job (template parameter NotifiedJob) runs over every
/// dropped object, with each function holding only its template actions:
/// `stats` and `sum-by` over a CSV of 3,000 rows in ranges of 1,000 bytes,
/// equal to the job computed directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_input_buckets_job_runs_stats_and_sum_by_over_a_dropped_csv() {
    let (text, records) = sales(3000);
    let cases = [
        ("stats", r#"{"name":"stats"}"#, vec![("job", "stats")]),
        (
            "sum-by",
            r#"{"name":"sum-by","params":{"by":"region"}}"#,
            vec![("job", "sum-by"), ("params", r#"{"by":"region"}"#)],
        ),
    ];
    for (name, notified, query) in cases {
        let moto = Moto::start();
        let settings = [
            ("NOTIFIED_JOB", notified.to_string()),
            ("INPUT_CSV_COLUMN", "amount".to_string()),
        ];
        let (server, client) = server_with(&moto, &settings).await;
        put(&client, "drop/sales.csv", text.clone()).await;
        let done = wait_for_job(&server, "drop/sales.csv", &query, Duration::from_secs(120)).await;
        assert_eq!(done["status"], "done", "{name}: {done}");
        let spec: packet::job::JobSpec = serde_json::from_str(notified).expect("spec");
        assert_eq!(
            done["job"],
            serde_json::to_value(&spec).expect("json"),
            "{name}"
        );
        assert_eq!(done["result"], direct(&spec, &records), "{name}");
        server.assert_nothing_denied();
    }
}
