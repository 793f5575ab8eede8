//! Object arrays on the in-process ports: an object in the in-process store,
//! summed by byte ranges through submit_object (or a notification), the map
//! and the reduce, driven by a plain loop.

use packet::{Number, ObjectRef};
use pipeline::memory::{MemoryBackend, Stage};
use pipeline::Queue;
use pipeline::{
    object_created, reduce, submit_object, times_two, Column, Config, FailureKind, FormatRequest,
    ObjectError, ObjectSubmitError, Status, SumRecord, SystemClock,
};
use std::sync::Arc;

fn config(range_bytes: u64, fan_in: u64) -> Config {
    Config {
        range_bytes,
        fan_in,
        ..Config::default()
    }
}

/// Delivers every message until the queues are empty. With `duplicate`,
/// every TimesTwo message is delivered twice.
async fn drain(backend: &MemoryBackend, config: &Config, duplicate: bool) {
    let ports = &backend.ports();
    backend
        .drain(100_000, |stage, batch| async move {
            let mut bodies: Vec<&str> = batch.iter().map(|m| m.body.as_str()).collect();
            match stage {
                Stage::Map => {
                    if duplicate {
                        bodies.extend(bodies.clone());
                    }
                    for r in times_two(ports, config, &bodies, None).await {
                        r.expect("map");
                    }
                }
                Stage::Reduce => {
                    for body in bodies {
                        reduce(ports, config, body).await.expect("reduce");
                    }
                }
            }
            batch.into_iter().map(|m| m.receipt).collect()
        })
        .await
        .expect("the pipeline drains");
}

async fn record(backend: &MemoryBackend, array_id: &str) -> SumRecord {
    backend
        .ports()
        .sums
        .get(array_id)
        .await
        .expect("get")
        .expect("record")
}

/// Sums `text` stored as an object, in `format`, with ranges of `range_bytes`.
async fn sum_object(
    text: &str,
    format: FormatRequest,
    range_bytes: u64,
    duplicate: bool,
) -> SumRecord {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let object = backend.objects.put("in", "data", text.as_bytes().to_vec());
    let config = config(range_bytes, 3);
    let accepted = submit_object(&backend.ports(), &config, &object, &format)
        .await
        .expect("accepted");
    drain(&backend, &config, duplicate).await;
    let live = backend
        .scratchpad
        .rows()
        .into_iter()
        .filter(|r| !r.consumed);
    assert_eq!(live.count(), 0, "a finished array leaves no live rows");
    record(&backend, &accepted.array_id).await
}

fn numbers(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i % 4 {
            0 => format!("{i}"),
            1 => format!("-{i}.25"),
            2 => format!("{i}e-3"),
            _ => format!("1.5e{}", i % 30),
        })
        .collect()
}

fn doubled_sum(values: &[String]) -> String {
    let mut sum = Number::zero();
    for v in values {
        sum += &Number::parse_unchecked(v).expect("number");
    }
    (sum.clone() + sum).to_string()
}

#[tokio::test]
async fn every_format_sums_exactly_for_every_range_size() {
    let values = numbers(200);
    let expected = doubled_sum(&values);
    let csv: String = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("row{i},\"{v}\"\n"))
        .collect();
    let cases = [
        (format!("[{}]", values.join(", ")), FormatRequest::JsonArray),
        (values.join("\n") + "\n", FormatRequest::Lines),
        (
            format!("id,value\n{csv}"),
            FormatRequest::Csv {
                column: Column::Name("value".into()),
                header: true,
            },
        ),
        (
            csv,
            FormatRequest::Csv {
                column: Column::Index(1),
                header: false,
            },
        ),
    ];
    for (text, format) in cases {
        for range_bytes in [1, 7, 64, 1000, 1 << 20] {
            let record = sum_object(&text, format.clone(), range_bytes, range_bytes == 7).await;
            assert_eq!(record.status, Status::Done, "{format:?} by {range_bytes}");
            assert_eq!(
                record.sum.as_ref().map(ToString::to_string),
                Some(expected.clone())
            );
            assert_eq!(
                record.element_count,
                Some(200),
                "{format:?} by {range_bytes}"
            );
            assert_eq!(record.elements(), Some(200));
        }
    }
}

#[tokio::test]
async fn an_empty_line_object_is_zero_and_an_empty_json_object_is_bad() {
    let record = sum_object("", FormatRequest::Lines, 8, false).await;
    assert_eq!(
        (record.status, record.element_count),
        (Status::Done, Some(0))
    );
    let record = sum_object("", FormatRequest::JsonArray, 8, false).await;
    assert_eq!(record.status, Status::Failed);
    assert_eq!(record.failure.map(|f| f.kind), Some(FailureKind::BadData));
}

#[tokio::test]
async fn bad_data_fails_the_array_with_its_offset_and_line() {
    let text = "1\n2\n3\nseven\n5\n";
    let record = sum_object(text, FormatRequest::Lines, 3, false).await;
    assert_eq!(record.status, Status::Failed);
    let failure = record.failure.expect("a failure");
    assert_eq!(failure.kind, FailureKind::BadData);
    assert!(
        failure.reason.contains("byte 6 (line 4)"),
        "{}",
        failure.reason
    );
    let json = "[1, 2, {}, 4]";
    let record = sum_object(json, FormatRequest::JsonArray, 4, false).await;
    let failure = record.failure.expect("a failure");
    assert!(failure.reason.contains("byte 7"), "{}", failure.reason);
    assert!(!failure.reason.contains("line"), "{}", failure.reason);
}

#[tokio::test]
async fn the_same_object_is_one_array_and_a_new_version_another() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = backend.ports();
    let config = config(4, 2);
    let object = backend
        .objects
        .put("in", "k.txt", b"1\n2\n3\n4\n5\n".to_vec());
    let bare = ObjectRef {
        etag: None,
        ..object.clone()
    };
    let first = submit_object(&ports, &config, &bare, &FormatRequest::Lines)
        .await
        .expect("accepted");
    let sent = backend.times_two_queue.len();
    let again = submit_object(&ports, &config, &bare, &FormatRequest::Lines)
        .await
        .expect("accepted");
    assert_eq!(first.array_id, again.array_id);
    assert_eq!(
        backend.times_two_queue.len(),
        sent,
        "its ranges were all sent: a repeat sends none"
    );
    drain(&backend, &config, false).await;
    let done = record(&backend, &first.array_id).await;
    assert_eq!(done.sum.map(|s| s.to_string()), Some("30".into()));
    let sent_before = backend.times_two_queue.len();
    let after = submit_object(&ports, &config, &bare, &FormatRequest::Lines)
        .await
        .expect("accepted");
    assert_eq!(
        (after.array_id.as_str(), after.status),
        (first.array_id.as_str(), Status::Done)
    );
    assert_eq!(
        backend.times_two_queue.len(),
        sent_before,
        "a done array sends nothing"
    );

    backend.objects.put("in", "k.txt", b"1\n".to_vec());
    let newer = submit_object(&ports, &config, &bare, &FormatRequest::Lines)
        .await
        .expect("accepted");
    assert_ne!(newer.array_id, first.array_id);
}

#[tokio::test]
async fn unreadable_objects_are_refused_or_fail_their_array() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = backend.ports();
    let config = config(4, 2);
    let missing = ObjectRef {
        bucket: "in".into(),
        key: "nope".into(),
        version_id: None,
        etag: None,
    };
    let refused = submit_object(&ports, &config, &missing, &FormatRequest::Lines).await;
    assert!(matches!(
        refused,
        Err(ObjectSubmitError::Object(ObjectError::NotFound(_)))
    ));

    // Overwritten between submission and map: the array fails, unmixed.
    let object = backend.objects.put("in", "k", b"1\n2\n3\n4\n5\n".to_vec());
    let accepted = submit_object(&ports, &config, &object, &FormatRequest::Lines)
        .await
        .expect("accepted");
    backend.objects.put("in", "k", b"9\n9\n9\n9\n9\n".to_vec());
    drain(&backend, &config, false).await;
    let failed = record(&backend, &accepted.array_id).await;
    assert_eq!(failed.status, Status::Failed);
    let failure = failed.failure.expect("failure");
    assert_eq!(failure.kind, FailureKind::Unreadable);
    assert!(failure.reason.contains("overwritten"), "{}", failure.reason);

    backend.objects.deny("secret");
    let denied = ObjectRef {
        bucket: "secret".into(),
        ..missing
    };
    let refused = submit_object(&ports, &config, &denied, &FormatRequest::Lines).await;
    assert!(matches!(
        refused,
        Err(ObjectSubmitError::Object(ObjectError::Forbidden(_)))
    ));
}

#[tokio::test]
async fn a_csv_column_name_must_be_in_the_header() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let object = backend.objects.put("in", "t.csv", b"a,b\n1,2\n".to_vec());
    let format = FormatRequest::Csv {
        column: Column::Name("c".into()),
        header: true,
    };
    let refused = submit_object(&backend.ports(), &config(4, 2), &object, &format).await;
    match refused {
        Err(ObjectSubmitError::Format(text)) => assert!(text.contains("\"c\""), "{text}"),
        other => panic!("expected a format error, got {other:?}"),
    }
}

fn notification(key: &str, etag: &str) -> String {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "in"}, "object": {"key": key, "size": 10, "eTag": etag}}
    }]})
    .to_string()
}

#[tokio::test]
async fn a_notification_starts_one_computation_however_often_it_comes() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = backend.ports();
    let config = config(4, 2);
    let object = backend
        .objects
        .put("in", "my data/day 1.csv", b"n\n1\n2\n3\n".to_vec());
    let etag = object.etag.clone().expect("etag");
    let body = notification("my+data/day+1.csv", etag.trim_matches('"'));
    let first = object_created(&ports, &config, &body)
        .await
        .expect("started");
    let again = object_created(&ports, &config, &body)
        .await
        .expect("started");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].array_id, again[0].array_id);
    drain(&backend, &config, true).await;
    let done = record(&backend, &first[0].array_id).await;
    assert_eq!(done.sum.map(|s| s.to_string()), Some("12".into()));

    let test_event = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"in"}"#;
    let started = object_created(&ports, &config, test_event)
        .await
        .expect("ignored");
    assert!(started.is_empty());
    // An object deleted since its event is skipped, not retried forever.
    backend.objects.remove("in", "my data/day 1.csv");
    let gone = notification("my+data/day+1.csv", etag.trim_matches('"'));
    assert!(object_created(&ports, &config, &gone)
        .await
        .expect("skipped")
        .is_empty());
}

/// Every TimesTwo message of the array, taken off the queue.
async fn take_all(backend: &MemoryBackend) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let batch = backend
            .times_two_queue
            .receive(
                10,
                std::time::Duration::ZERO,
                std::time::Duration::from_secs(600),
            )
            .await
            .expect("receive");
        if batch.is_empty() {
            return bodies;
        }
        bodies.extend(batch.into_iter().map(|m| m.body));
    }
}

#[tokio::test]
async fn the_first_bad_record_is_reported_whatever_order_ranges_run_in() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = backend.ports();
    let config = config(4, 2);
    // Bad records at bytes 4 ("x") and 12 ("y"): ranges map last to first.
    let text = "1\n2\nx\n4\n5\n6\ny\n8\n";
    let object = backend
        .objects
        .put("in", "two-bad.txt", text.as_bytes().to_vec());
    let accepted = submit_object(&ports, &config, &object, &FormatRequest::Lines)
        .await
        .expect("accepted");
    for body in take_all(&backend).await.iter().rev() {
        for r in times_two(&ports, &config, &[body], None).await {
            r.expect("a bad range's message is done once the array is failed");
        }
    }
    let failed = record(&backend, &accepted.array_id).await;
    let failure = failed.failure.expect("failed");
    assert_eq!(failure.kind, FailureKind::BadData);
    assert_eq!(failure.offset, Some(4), "{}", failure.reason);
    assert!(
        failure.reason.contains("byte 4 (line 3)"),
        "{}",
        failure.reason
    );
}

#[tokio::test]
async fn a_bad_range_whose_failure_cannot_be_written_comes_again() {
    use pipeline::injected::{InjectedSums, Injection};
    use pipeline::PortError;
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let sums = InjectedSums::new(backend.sums.clone());
    let ports = pipeline::Ports {
        sums: sums.clone(),
        ..backend.ports()
    };
    let config = config(1000, 2);
    let object = backend.objects.put("in", "bad.txt", b"1\nnope\n".to_vec());
    let accepted = submit_object(&ports, &config, &object, &FormatRequest::Lines)
        .await
        .expect("accepted");
    let bodies = take_all(&backend).await;
    let outage = PortError::Unavailable("DynamoDB is down".into());
    sums.faults.set("fail", Injection::Before(outage));
    let first = times_two(&ports, &config, &[&bodies[0]], None).await;
    assert!(first[0].is_err(), "the reason must not be lost: {first:?}");
    sums.faults.clear("fail");
    let again = times_two(&ports, &config, &[&bodies[0]], None).await;
    assert!(again[0].is_ok());
    let failed = record(&backend, &accepted.array_id).await;
    assert_eq!(failed.failure.map(|f| f.kind), Some(FailureKind::BadData));
}

#[tokio::test]
async fn an_object_whose_ranges_were_not_all_sent_fails_and_revives_when_submitted_again() {
    use pipeline::injected::{InjectedQueue, Injection};
    use pipeline::PortError;
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let queue = InjectedQueue::new(backend.times_two_queue.clone());
    let ports = pipeline::Ports {
        times_two_queue: queue.clone(),
        ..backend.ports()
    };
    let config = config(4, 2);
    let object = backend
        .objects
        .put("in", "k.txt", b"1\n2\n3\n4\n5\n".to_vec());
    queue.faults.set(
        "send",
        Injection::Before(PortError::Throttled("slow down".into())),
    );
    let refused = submit_object(&ports, &config, &object, &FormatRequest::Lines).await;
    assert!(
        matches!(refused, Err(ObjectSubmitError::Port(_))),
        "{refused:?}"
    );
    let array_id = backend.sums.records()[0].array_id.clone();
    let failed = record(&backend, &array_id).await;
    assert_eq!(
        failed.failure.map(|f| f.kind),
        Some(FailureKind::NotEnqueued)
    );

    queue.faults.clear("send");
    let again = submit_object(&ports, &config, &object, &FormatRequest::Lines)
        .await
        .expect("accepted");
    assert_eq!(
        (again.array_id.as_str(), again.status),
        (array_id.as_str(), Status::Pending)
    );
    drain(&backend, &config, false).await;
    let done = record(&backend, &array_id).await;
    assert_eq!(done.status, Status::Done);
    assert_eq!(done.sum.map(|s| s.to_string()), Some("30".into()));
    assert_eq!(done.failure, None);
}

/// More ranges than one submission may enqueue: refused with the numbers,
/// before anything is recorded or sent.
#[tokio::test]
async fn more_ranges_than_allowed_are_refused() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let object = backend
        .objects
        .put("in", "big.txt", "1\n".repeat(5_001).into_bytes());
    let refused = submit_object(
        &backend.ports(),
        &config(1, 2),
        &object,
        &FormatRequest::Lines,
    )
    .await
    .expect_err("too many ranges");
    assert_eq!(
        refused.to_string(),
        "the object is 10002 bytes: 10002 ranges of RANGE_BYTES=1; at most 10000 ranges \
         are accepted"
    );
    assert!(matches!(refused, ObjectSubmitError::TooLarge { .. }));
    assert!(backend.sums.records().is_empty());
    assert!(take_all(&backend).await.is_empty());
}

/// A column named without a header line (or in an empty object) has no
/// header to be found in: refused as the request's fault.
#[tokio::test]
async fn a_named_column_needs_a_header_line() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = backend.ports();
    let object = backend.objects.put("in", "t.csv", b"1,2\n".to_vec());
    let empty = backend.objects.put("in", "e.csv", Vec::new());
    let named = |header| FormatRequest::Csv {
        column: Column::Name("b".into()),
        header,
    };
    for (object, format) in [(&object, named(false)), (&empty, named(true))] {
        let refused = submit_object(&ports, &config(4, 2), object, &format)
            .await
            .expect_err("no header");
        assert_eq!(
            refused.to_string(),
            format!("column \"b\" is named, but {object} has no header line to find it in")
        );
    }
}

/// A header line that cannot be read (here: a file that is a directory)
/// is not a bad request but a failure worth a retry, by a client or by
/// the notification's next delivery; nothing is recorded.
#[tokio::test]
async fn a_header_that_cannot_be_read_is_retried() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = backend.ports();
    let config = Config {
        input_csv_column: "b".into(),
        ..config(4, 2)
    };
    let directory = std::env::temp_dir();
    let object = backend
        .objects
        .put_file("in", "dir.csv", directory.clone())
        .expect("a directory has metadata");
    let format = FormatRequest::Csv {
        column: Column::Name("b".into()),
        header: true,
    };
    let refused = submit_object(&ports, &config, &object, &format)
        .await
        .expect_err("unreadable header");
    match &refused {
        ObjectSubmitError::Port(e) => {
            assert!(e.is_transient(), "{e}");
            assert!(
                e.to_string().starts_with(
                    "service unavailable: reading the header of s3://in/dir.csv: \
                     reading the object failed at byte 0: "
                ),
                "{e}"
            );
        }
        other => panic!("expected a retry, got {other:?}"),
    }
    let etag = object.etag.clone().expect("etag");
    let note = notification("dir.csv", etag.trim_matches('"'));
    assert!(object_created(&ports, &config, &note).await.is_err());
    assert!(backend.sums.records().is_empty(), "a retry records nothing");
}

/// A notification of several objects handles each: one that can never be
/// summed gets its failed record, the others start; a transient failure
/// (the failed record's write throttled) has the message come again.
#[tokio::test]
async fn each_record_of_a_notification_is_handled_even_when_one_fails() {
    use pipeline::injected::{InjectedSums, Injection};
    use pipeline::PortError;
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let config = config(4, 2);
    let bad = backend.objects.put("in", "bad.csv", b"a,b\n1,2\n".to_vec());
    let good = backend.objects.put("in", "good.txt", b"1\n2\n".to_vec());
    let records: Vec<serde_json::Value> = [&bad, &good]
        .iter()
        .map(|o| {
            serde_json::json!({"eventName": "ObjectCreated:Put", "s3": {
                "bucket": {"name": "in"},
                "object": {"key": o.key, "eTag": o.etag.as_deref().map(|e| e.trim_matches('"'))}}})
        })
        .collect();
    let body = serde_json::json!({ "Records": records }).to_string();
    let bad_format = FormatRequest::Csv {
        column: Column::Name("amount".into()),
        header: true,
    };
    let config = Config {
        input_csv_column: "amount".into(),
        ..config
    };

    let sums = InjectedSums::new(backend.sums.clone());
    let throttled = pipeline::Ports {
        sums: sums.clone(),
        ..backend.ports()
    };
    sums.faults.set(
        "insert",
        Injection::Before(PortError::Throttled("slow down".into())),
    );
    let retried = object_created(&throttled, &config, &body).await;
    assert!(retried.is_err(), "throttled: the message comes again");
    sums.faults.clear("insert");

    let started = object_created(&backend.ports(), &config, &body)
        .await
        .expect("handled");
    assert_eq!(started.len(), 1, "the good object starts");
    drain(&backend, &config, false).await;
    let found = pipeline::find_object(
        &backend.ports(),
        &bad,
        &bad_format,
        &pipeline::ObjectJob::sum(),
    )
    .await
    .expect("found")
    .expect("a record");
    assert_eq!(found.status, Status::Failed);
    assert_eq!(found.failure.map(|f| f.kind), Some(FailureKind::BadData));
    let done = record(&backend, &started[0].array_id).await;
    assert_eq!(done.sum.map(|s| s.to_string()), Some("6".into()));
}

/// An empty CSV read with a header has lost its header (a truncated export
/// more likely than an empty table, which keeps its header line): it fails
/// as bad data, as docs/objects.md says. Without a header it holds no
/// record and sums to 0, like an empty `lines` object; so does a CSV that
/// is only its header.
#[tokio::test]
async fn an_empty_csv_fails_with_a_header_and_sums_to_zero_without() {
    let csv = |header| FormatRequest::Csv {
        column: Column::Index(0),
        header,
    };
    let record = sum_object("", csv(true), 8, false).await;
    assert_eq!(record.status, Status::Failed);
    let failure = record.failure.expect("failure");
    assert_eq!(
        (failure.kind, failure.reason.as_str()),
        (
            FailureKind::BadData,
            "s3://in/data is not valid CSV data: byte 0 (line 1): the object has no header line"
        )
    );
    for (text, header) in [("", false), ("amount\r\n", true)] {
        let record = sum_object(text, csv(header), 8, false).await;
        assert_eq!(
            (record.status, record.element_count),
            (Status::Done, Some(0)),
            "{text:?}"
        );
    }
}

/// An archived object of a known format starts (HEAD works), and its array
/// fails when a range is read: the reason names the storage class.
#[tokio::test]
async fn an_archived_object_fails_its_array_naming_the_storage_class() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let config = config(4, 2);
    let object = backend.objects.put("in", "cold.txt", b"1\n2\n".to_vec());
    backend.objects.archive("in", "cold.txt");
    let etag = object.etag.clone().expect("etag");
    let started = object_created(
        &backend.ports(),
        &config,
        &notification("cold.txt", etag.trim_matches('"')),
    )
    .await
    .expect("started");
    drain(&backend, &config, false).await;
    let failed = record(&backend, &started[0].array_id).await;
    let failure = failed.failure.expect("failure");
    assert_eq!(
        (failure.kind, failure.reason.as_str()),
        (
            FailureKind::Unreadable,
            "s3://in/cold.txt is in an archive storage class (S3 answered InvalidObjectState): \
             restore it and copy it to a storage class that can be read at once (e.g. \
             STANDARD), or upload it again"
        )
    );
}

/// A notification whose ranges could not all be sent comes again; if the
/// object is unreadable by then, no delivery will send them: the array
/// ends now with the reason (not at its deadline), and the key's record
/// says it too. (Found by the simulation, seed 2414.)
#[tokio::test]
async fn an_array_left_unsent_ends_when_its_object_becomes_unreadable() {
    use pipeline::injected::{InjectedQueue, Injection};
    use pipeline::PortError;
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let queue = InjectedQueue::new(backend.times_two_queue.clone());
    let ports = pipeline::Ports {
        times_two_queue: queue.clone(),
        ..backend.ports()
    };
    let config = config(4, 2);
    let object = backend
        .objects
        .put("in", "k.txt", b"1\n2\n3\n4\n5\n".to_vec());
    let body = notification(
        "k.txt",
        object.etag.as_deref().expect("etag").trim_matches('"'),
    );
    queue.faults.set(
        "send",
        Injection::Before(PortError::Throttled("slow down".into())),
    );
    assert!(object_created(&ports, &config, &body).await.is_err());
    let array_id = backend.sums.records()[0].array_id.clone();
    queue.faults.clear("send");

    backend.objects.deny("in");
    let started = object_created(&ports, &config, &body)
        .await
        .expect("handled: nothing to retry");
    assert!(started.is_empty());
    let ended = record(&backend, &array_id).await;
    assert_eq!(ended.status, Status::Failed);
    let failure = ended.failure.expect("failure");
    assert_eq!(
        (failure.kind, failure.reason.as_str()),
        (
            FailureKind::Unreadable,
            "s3://in/k.txt may not be read by the pipeline's functions (access denied): grant \
             them s3:GetObject on it, or put it in the stack's input bucket"
        )
    );
}
