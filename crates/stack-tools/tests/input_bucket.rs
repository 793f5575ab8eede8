//! The input bucket on moto, as provisioning makes it from template.yaml:
//! versioned, encrypted, private, and notifying its queue of every new
//! object with what the pipeline needs to pin it (bucket, key, size, ETag,
//! version when the emulator sends it).

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use serde_json::Value;
use stack::Stack;
use stack_names as ids;
use std::time::{Duration, Instant};
use test_support::Moto;

const PREFIX: &str = "Bucket-Test";

async fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk).force_path_style(true);
    aws_sdk_s3::Client::from_conf(config.build())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_input_bucket_is_provisioned_once_and_set_as_the_template_says() {
    let moto = Moto::start();
    let sdk = aws_ports::local_sdk_config(moto.endpoint()).await;
    let stack = Stack::embedded().expect("template.yaml parses");
    let first = stack_tools::provision(&stack, &sdk, PREFIX)
        .await
        .expect("provisions on moto");
    let again = stack_tools::provision(&stack, &sdk, PREFIX)
        .await
        .expect("provisions again");
    assert_eq!(first, again);
    let bucket = &again.bucket_names[ids::INPUT_BUCKET];
    assert_eq!(bucket, "bucket-test-inputbucket");
    for function in [ids::SUM_ARRAY_FUNCTION, ids::TIMES_TWO_FUNCTION] {
        let env = again.function_env(&stack, function).expect("resolves");
        assert_eq!(&env["INPUT_BUCKET"], bucket, "{function}");
    }

    let s3 = s3_client(&sdk).await;
    // (moto's GetBucketVersioning answer has a root element the SDK refuses,
    // so versioning is seen at work: each put of a key is a new version.)
    let mut versions = Vec::new();
    for body in ["[1]", "[2]"] {
        let put = s3
            .put_object()
            .bucket(bucket)
            .key("twice.json")
            .body(ByteStream::from_static(body.as_bytes()))
            .send()
            .await
            .expect("put object");
        versions.push(put.version_id().map(str::to_string));
    }
    assert!(
        versions[0].is_some() && versions[1].is_some() && versions[0] != versions[1],
        "{versions:?}"
    );
    let encryption = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .expect("encryption");
    let algorithm = encryption
        .server_side_encryption_configuration()
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default())
        .map(|d| d.sse_algorithm().clone());
    assert_eq!(algorithm, Some(ServerSideEncryption::Aes256));
    let block = s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .expect("public access block");
    let block = block
        .public_access_block_configuration()
        .expect("a configuration");
    let all = [
        block.block_public_acls(),
        block.block_public_policy(),
        block.ignore_public_acls(),
        block.restrict_public_buckets(),
    ];
    assert_eq!(all, [Some(true); 4]);

    let notifications = s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
        .expect("notification configuration");
    let queues = notifications.queue_configurations();
    assert_eq!(queues.len(), 1, "{queues:?}");
    assert!(
        queues[0]
            .queue_arn()
            .ends_with(&format!(":{PREFIX}-{}", ids::OBJECT_CREATED_QUEUE)),
        "{queues:?}"
    );
    assert_eq!(
        queues[0]
            .events()
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>(),
        ["s3:ObjectCreated:*"]
    );
}

/// The ObjectCreated records that reach `queue_url` within `wait`, deleting
/// every message read; S3's `s3:TestEvent`s (one per notification
/// configuration set) are counted apart.
async fn object_created_records(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    wanted: usize,
    wait: Duration,
) -> (Vec<Value>, usize) {
    let (mut records, mut test_events) = (Vec::new(), 0);
    let deadline = Instant::now() + wait;
    while records.len() < wanted && Instant::now() < deadline {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        for message in received.messages() {
            let body: Value =
                serde_json::from_str(message.body().unwrap_or_default()).expect("JSON body");
            match body["Event"].as_str() {
                Some("s3:TestEvent") => test_events += 1,
                _ => records.extend(body["Records"].as_array().cloned().unwrap_or_default()),
            }
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete");
        }
    }
    (records, test_events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_object_is_notified_to_the_object_created_queue() {
    let moto = Moto::start();
    let sdk = aws_ports::local_sdk_config(moto.endpoint()).await;
    let stack = Stack::embedded().expect("template.yaml parses");
    for _ in 0..2 {
        stack_tools::provision(&stack, &sdk, PREFIX)
            .await
            .expect("provisions on moto");
    }
    let provisioned = stack_tools::provision(&stack, &sdk, PREFIX)
        .await
        .expect("provisions a third time");
    let bucket = &provisioned.bucket_names[ids::INPUT_BUCKET];
    let queue_url = &provisioned.queue_urls[ids::OBJECT_CREATED_QUEUE];

    let s3 = s3_client(&sdk).await;
    let body = "[1, 2.5, -3]\n";
    // S3 writes the key form-encoded in a notification (a space as `+`;
    // moto encodes `/` too, AWS does not): form-decoding gives it back.
    let key = "inputs/day 1.json";
    let put = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(body.as_bytes()))
        .send()
        .await
        .expect("put object");
    let version = put
        .version_id()
        .expect("a version: the bucket is versioned");
    let etag = put.e_tag().expect("an ETag").trim_matches('"');

    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let wait = Duration::from_secs(10);
    let (records, test_events) = object_created_records(&sqs, queue_url, 1, wait).await;
    assert_eq!(test_events, 3, "one s3:TestEvent per provisioning");
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    assert_eq!(record["eventSource"], "aws:s3");
    assert!(
        record["eventName"]
            .as_str()
            .is_some_and(|n| n.starts_with("ObjectCreated:")),
        "{record}"
    );
    let s3_part = &record["s3"];
    assert_eq!(s3_part["bucket"]["name"].as_str(), Some(bucket.as_str()));
    let notified_key = s3_part["object"]["key"].as_str().expect("a key");
    assert!(notified_key.contains("day+1.json"), "{notified_key}");
    assert_eq!(form_decoded(notified_key), key);
    assert_eq!(s3_part["object"]["size"], body.len());
    assert_eq!(s3_part["object"]["eTag"].as_str(), Some(etag));
    // AWS sends the versionId of an object in a versioned bucket; moto
    // 5.2.5 leaves it out, so the pipeline pins such an object by its ETag.
    match s3_part["object"].get("versionId") {
        None => {}
        Some(notified) => assert_eq!(notified.as_str(), Some(version)),
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte.
fn form_decoded(text: &str) -> String {
    let mut bytes = Vec::new();
    let mut rest = text.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        match first {
            b'+' => bytes.push(b' '),
            b'%' if tail.len() >= 2 => {
                let hex = std::str::from_utf8(&tail[..2]).expect("ASCII");
                bytes.push(u8::from_str_radix(hex, 16).expect("a %XX escape"));
                rest = &tail[2..];
                continue;
            }
            other => bytes.push(other),
        }
        rest = tail;
    }
    String::from_utf8(bytes).expect("UTF-8")
}
