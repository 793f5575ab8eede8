//! The ports' contract, written once and run against both implementations:
//! the in-process ports of `pipeline::memory` and the SQS/DynamoDB ports on a
//! moto server provisioned from `template.yaml`. The steps are tested on the
//! in-process ports only, so every behaviour they rely on must hold here for
//! both, or the simulation proves nothing about AWS.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_ports::{local_sdk_config, DynamoScratchpad, DynamoSums, LoseAnswers, SqsQueue};
use futures::stream::{self, StreamExt, TryStreamExt};
use packet::job::{JobSpec, Stored};
use packet::Number;
use packet::MAX_MESSAGE_BYTES;
use pipeline::injected::{InjectedSums, Injection};
use pipeline::memory::{MemoryBackend, MemoryQueue, MemoryScratchpad, MemorySums};
use pipeline::{
    Completion, Failing, Failure, FailureKind, PortError, Progress, Put, Queue, Received, RowKey,
    Scratchpad, ScratchpadRow, Status, SumRecord, Sums, SystemClock,
    FAILED_RECORD_RETENTION_SECONDS,
};
use stack::Stack;
use stack_tools::{provision, Provisioned};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use test_support::Moto;

/// Ports to check, made fresh where a check needs an empty one.
#[async_trait]
trait Backend: Send + Sync {
    fn scratchpad(&self) -> Arc<dyn Scratchpad>;
    fn sums(&self) -> Arc<dyn Sums>;
    /// A new, empty queue without a dead-letter queue.
    async fn queue(&self) -> Arc<dyn Queue>;
    /// A new queue that moves a message to the returned dead-letter queue
    /// once it has been received `max_receive_count` times.
    async fn redriven(&self, max_receive_count: u32) -> (Arc<dyn Queue>, Arc<dyn Queue>);
    /// The sums table, except that the answer to the next call of `op` (a
    /// `Sums` method name) is lost after the call took effect: the AWS
    /// ports' SDK then retries it, unless the adapter sends it once.
    fn sums_losing_an_answer(&self, op: &'static str) -> Arc<dyn Sums>;
}

struct InProcess {
    scratchpad: Arc<MemoryScratchpad>,
    sums: Arc<MemorySums>,
}

impl InProcess {
    fn new() -> InProcess {
        InProcess {
            scratchpad: Arc::new(MemoryScratchpad::new()),
            sums: Arc::new(MemorySums::new()),
        }
    }
}

#[async_trait]
impl Backend for InProcess {
    fn scratchpad(&self) -> Arc<dyn Scratchpad> {
        self.scratchpad.clone()
    }
    fn sums(&self) -> Arc<dyn Sums> {
        self.sums.clone()
    }
    async fn queue(&self) -> Arc<dyn Queue> {
        Arc::new(MemoryQueue::new("q", Arc::new(SystemClock), None))
    }
    async fn redriven(&self, max_receive_count: u32) -> (Arc<dyn Queue>, Arc<dyn Queue>) {
        let backend = MemoryBackend::new(Arc::new(SystemClock), max_receive_count);
        (backend.times_two_queue, backend.times_two_dlq)
    }
    fn sums_losing_an_answer(&self, op: &'static str) -> Arc<dyn Sums> {
        let sums = InjectedSums::new(self.sums.clone());
        sums.faults.set_for(op, Injection::lost_answer(op), 1);
        sums
    }
}

/// The AWS ports on a fresh moto server, with the template's tables.
struct OnMoto {
    _moto: Moto,
    sdk: SdkConfig,
    provisioned: Provisioned,
    prefix: String,
    queues_made: AtomicUsize,
}

impl OnMoto {
    async fn start() -> OnMoto {
        let moto = Moto::start();
        let sdk = local_sdk_config(moto.endpoint()).await;
        let prefix = format!(
            "contract-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let stack = Stack::embedded().expect("template.yaml parses");
        let provisioned = provision(&stack, &sdk, &prefix)
            .await
            .expect("provisions the template on moto");
        OnMoto {
            _moto: moto,
            sdk,
            provisioned,
            prefix,
            queues_made: AtomicUsize::new(0),
        }
    }

    fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    fn table(&self, logical_id: &str) -> String {
        self.provisioned.table_names[logical_id].clone()
    }

    /// Ports on a table that does not exist (the in-process ports have no
    /// tables to miss).
    fn missing_tables(&self) -> (Arc<dyn Scratchpad>, Arc<dyn Sums>) {
        (
            Arc::new(DynamoScratchpad::new(self.dynamodb(), "no-such-table")),
            Arc::new(DynamoSums::new(self.dynamodb(), "no-such-table")),
        )
    }

    /// Ports on a service that cannot be reached (the in-process ports are
    /// always there).
    async fn unreachable(&self) -> (Arc<dyn Queue>, Arc<dyn Scratchpad>, Arc<dyn Sums>) {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let sdk = local_sdk_config(&format!("http://127.0.0.1:{port}")).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        (
            Arc::new(SqsQueue::new(
                aws_sdk_sqs::Client::new(&sdk),
                format!("http://127.0.0.1:{port}/000000000000/q"),
            )),
            Arc::new(DynamoScratchpad::new(dynamodb.clone(), "t")),
            Arc::new(DynamoSums::new(dynamodb, "t")),
        )
    }

    /// A queue of a one-queue template, provisioned under a fresh prefix.
    async fn provision_queue(&self, template: &str) -> Provisioned {
        let n = self.queues_made.fetch_add(1, Ordering::Relaxed);
        let stack = Stack::parse(template).expect("test template parses");
        provision(&stack, &self.sdk, &format!("{}-{n}", self.prefix))
            .await
            .expect("provisions a test queue")
    }
}

#[async_trait]
impl Backend for OnMoto {
    fn scratchpad(&self) -> Arc<dyn Scratchpad> {
        Arc::new(DynamoScratchpad::new(
            self.dynamodb(),
            self.table("ScratchpadTable"),
        ))
    }
    fn sums(&self) -> Arc<dyn Sums> {
        Arc::new(DynamoSums::new(self.dynamodb(), self.table("SumsTable")))
    }
    async fn queue(&self) -> Arc<dyn Queue> {
        let made = self
            .provision_queue("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n")
            .await;
        Arc::new(SqsQueue::new(
            aws_sdk_sqs::Client::new(&self.sdk),
            &made.queue_urls["Q"],
        ))
    }
    async fn redriven(&self, max_receive_count: u32) -> (Arc<dyn Queue>, Arc<dyn Queue>) {
        let made = self
            .provision_queue(&format!(
                "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: 1\n      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt D.Arn\n        maxReceiveCount: {max_receive_count}\n  D:\n    Type: AWS::SQS::Queue\n"
            ))
            .await;
        let client = aws_sdk_sqs::Client::new(&self.sdk);
        (
            Arc::new(SqsQueue::new(client.clone(), &made.queue_urls["Q"])),
            Arc::new(SqsQueue::new(client, &made.queue_urls["D"])),
        )
    }
    fn sums_losing_an_answer(&self, op: &'static str) -> Arc<dyn Sums> {
        let operation = match op {
            "insert" | "claim_idempotency_key" => "PutItem",
            "get" => "GetItem",
            _ => "UpdateItem",
        };
        let config = aws_sdk_dynamodb::config::Builder::from(&self.sdk)
            .interceptor(LoseAnswers::new(operation, 1))
            .build();
        Arc::new(DynamoSums::new(
            aws_sdk_dynamodb::Client::from_conf(config),
            self.table("SumsTable"),
        ))
    }
}

fn fresh_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn num(text: &str) -> Number {
    Number::parse_unchecked(text).expect("a number")
}

fn row(partition_key: &str, packet_id: &str, value: &str) -> ScratchpadRow {
    ScratchpadRow {
        key: RowKey {
            partition_key: partition_key.to_string(),
            packet_id: packet_id.to_string(),
        },
        packet_value: num(value).into(),
        array_length: 12,
        packet_contains: 3,
        elements: 3,
        expires_at: 1_900_000_000,
        consumed: false,
    }
}

/// Receives until `count` messages have come, or `within` has passed.
async fn receive_all(
    queue: &dyn Queue,
    count: usize,
    visibility: Duration,
    within: Duration,
) -> Vec<Received> {
    let started = Instant::now();
    let mut got = Vec::new();
    while got.len() < count && started.elapsed() < within {
        let batch = queue
            .receive(10, Duration::from_secs(1), visibility)
            .await
            .expect("receive");
        got.extend(batch);
    }
    got
}

// ---- the checks ----

async fn put_new_is_conditional(b: &dyn Backend) {
    let pad = b.scratchpad();
    let array = fresh_id();
    let first = row(&array, "0", "1.5");
    assert_eq!(pad.put_new(&first).await, Ok(Put::Created));
    let second = ScratchpadRow {
        packet_value: num("99").into(),
        consumed: true,
        ..first.clone()
    };
    assert_eq!(pad.put_new(&second).await, Ok(Put::AlreadyThere));
    assert_eq!(
        pad.group(&array).await,
        Ok(vec![first]),
        "stored row unchanged"
    );
}

async fn group_reads_one_partition_across_pages(b: &dyn Backend) {
    let pad = b.scratchpad();
    let (array, other) = (fresh_id(), fresh_id());
    // ~1 KB sort keys make the partition larger than one 1 MB Query page.
    const ROWS: usize = 1_200;
    let padding = "p".repeat(1_000);
    let rows: Vec<ScratchpadRow> = (0..ROWS)
        .map(|i| row(&array, &format!("{i:05}-{padding}"), &format!("{i}.25")))
        .chain((0..3).map(|i| row(&other, &i.to_string(), "7")))
        .collect();
    let created: Vec<Put> = stream::iter(rows.iter())
        .map(|r| pad.put_new(r))
        .buffer_unordered(16)
        .try_collect()
        .await
        .expect("puts");
    assert!(created.iter().all(|p| *p == Put::Created));

    let group = pad.group(&array).await.expect("group");
    assert_eq!(group.len(), ROWS);
    assert_eq!(group, rows[..ROWS].to_vec(), "every row, in sort-key order");
    let small = pad.group(&other).await.expect("group");
    assert_eq!(small, rows[ROWS..].to_vec());
    assert_eq!(pad.group(&fresh_id()).await, Ok(Vec::new()));
}

async fn retire_leaves_tombstones(b: &dyn Backend) {
    let pad = b.scratchpad();
    let array = fresh_id();
    // More rows than one BatchWriteItem takes, and one named twice.
    let rows: Vec<ScratchpadRow> = (0..30)
        .map(|i| row(&array, &format!("{i:02}"), &format!("-{i}.5")))
        .collect();
    for r in &rows {
        assert_eq!(pad.put_new(r).await, Ok(Put::Created));
    }
    let mut retired = rows.clone();
    retired.push(rows[3].clone());
    pad.retire(&retired).await.expect("retire");

    let group = pad.group(&array).await.expect("group");
    let expected: Vec<ScratchpadRow> = rows
        .iter()
        .map(|r| ScratchpadRow {
            consumed: true,
            ..r.clone()
        })
        .collect();
    assert_eq!(group, expected);
    for r in &rows {
        assert_eq!(
            pad.put_new(r).await,
            Ok(Put::AlreadyThere),
            "a tombstone stays"
        );
    }
    assert_eq!(pad.retire(&[]).await, Ok(()));
}

/// Values that a double, or a careless encoding, would change.
const VALUES: &[&str] = &[
    "0",
    "0.3",
    "-0.000001",
    "9007199254740993",
    "-9007199254740993",
    "12345678901234567890123456789012345678",
    "1.2345678901234567890123456789012345678",
    "9.9999999999999999999999999999999999999E+125",
    "1E-130",
    "-42",
    "123456789012345678901234567890123456789012345678901234567890",
    "1E+200",
];

async fn numbers_round_trip_exactly(b: &dyn Backend) {
    let sum_of_doubles: Number = ["0.1", "0.2"].iter().map(|s| num(s)).sum();
    assert_eq!(sum_of_doubles, num("0.3"));
    let mut values: Vec<Number> = VALUES.iter().map(|v| num(v)).collect();
    values.push(sum_of_doubles);
    assert!(
        !values[10].fits_dynamodb(),
        "the 60-digit value goes through the string fallback"
    );

    let pad = b.scratchpad();
    let array = fresh_id();
    for (i, v) in values.iter().enumerate() {
        let r = ScratchpadRow {
            packet_value: v.clone().into(),
            ..row(&array, &format!("{i:02}"), "0")
        };
        assert_eq!(pad.put_new(&r).await, Ok(Put::Created));
    }
    let back: Vec<Number> = pad
        .group(&array)
        .await
        .expect("group")
        .into_iter()
        .filter_map(|r| r.packet_value.number().cloned())
        .collect();
    assert_eq!(back, values);

    let sums = b.sums();
    for v in &values {
        let id = fresh_id();
        sums.insert(&pending(&id)).await.expect("insert");
        assert_eq!(
            sums.complete(&id, &v.clone().into(), 1, 5).await,
            Ok(Completion::Completed)
        );
        let record = sums.get(&id).await.expect("get").expect("record");
        assert_eq!(record.sum.as_ref(), Some(v), "{v}");
    }
}

fn pending(id: &str) -> SumRecord {
    SumRecord {
        job: Default::default(),
        result: None,
        array_id: id.to_string(),
        status: Status::Pending,
        array_length: 2_000_000,
        chunk_size: 1_000,
        fan_in: 100,
        sum: None,
        submitted_at_ms: 1_700_000_000_123,
        finished_at_ms: None,
        reduced_elements: 0,
        mapped_bytes: 0,
        enqueued: false,
        source: None,
        element_count: None,
        deadline_ms: 1_700_259_200_123,
        failure: None,
        expires_at_s: Some(1_702_851_200),
    }
}

async fn sums_complete_once(b: &dyn Backend) {
    let sums = b.sums();
    let id = fresh_id();
    let record = pending(&id);
    assert_eq!(sums.get(&id).await, Ok(None));
    assert_eq!(sums.insert(&record).await, Ok(Put::Created));
    assert_eq!(
        sums.insert(&record).await,
        Ok(Put::AlreadyThere),
        "a second insert changes nothing and says so"
    );
    assert_eq!(sums.get(&id).await, Ok(Some(record.clone())));

    let progress = |elements, bytes| Progress { elements, bytes };
    sums.add_progress(&id, progress(1_000, 8_388_608))
        .await
        .expect("progress");
    sums.add_progress(&id, progress(234, 0))
        .await
        .expect("progress");
    let record = SumRecord {
        reduced_elements: 1_234,
        mapped_bytes: 8_388_608,
        ..record
    };
    assert_eq!(sums.get(&id).await, Ok(Some(record.clone())));
    assert!(
        matches!(
            sums.add_progress(
                &fresh_id(),
                Progress {
                    elements: 1,
                    bytes: 0
                }
            )
            .await,
            Err(PortError::Rejected(_))
        ),
        "progress on an unknown array is refused, not created"
    );

    let sum = num("-12.75");
    assert_eq!(
        sums.complete(&id, &sum.clone().into(), 1_999_999, 1_700_000_009_000)
            .await,
        Ok(Completion::Completed)
    );
    let done = SumRecord {
        status: Status::Done,
        sum: Some(sum.clone()),
        element_count: Some(1_999_999),
        finished_at_ms: Some(1_700_000_009_000),
        expires_at_s: None,
        ..record
    };
    assert_eq!(sums.get(&id).await, Ok(Some(done.clone())));
    assert_eq!(
        sums.complete(&id, &num("1").into(), 1, 1_700_000_010_000)
            .await,
        Ok(Completion::AlreadyDone)
    );
    assert_eq!(sums.get(&id).await, Ok(Some(done)), "the first sum is kept");
    assert_eq!(
        sums.complete(&fresh_id(), &sum.clone().into(), 1, 1).await,
        Ok(Completion::Unknown)
    );
}

async fn object_records_keep_their_source(b: &dyn Backend) {
    let sums = b.sums();
    let source = packet::ObjectSource {
        object: packet::ObjectRef {
            bucket: "input".into(),
            key: "daily/2026-11-25.csv".into(),
            version_id: Some("3HL4kqtJlcpXroDTDmJ".into()),
            etag: Some("\"9b2cf535f27731c974343645a3985328\"".into()),
        },
        size: 123_456_789,
        format: packet::ranges::Format::Csv {
            column: 2,
            header: true,
        },
        key_column: Some(0),
    };
    let id = source.array_id(&JobSpec::default());
    let record = SumRecord {
        array_length: source.size,
        chunk_size: 8_388_608,
        source: Some(source),
        ..pending(&id)
    };
    assert_eq!(sums.insert(&record).await, Ok(Put::Created));
    assert_eq!(sums.get(&id).await, Ok(Some(record.clone())));
    sums.mark_enqueued(&id).await.expect("mark");
    sums.mark_enqueued(&id)
        .await
        .expect("marking twice is marking once");
    let marked = SumRecord {
        enqueued: true,
        ..record
    };
    assert_eq!(sums.get(&id).await, Ok(Some(marked)));
    assert!(matches!(
        sums.mark_enqueued(&fresh_id()).await,
        Err(PortError::Rejected(_))
    ));
    for kind in [FailureKind::BadData, FailureKind::Unreadable] {
        let id = fresh_id();
        sums.insert(&pending(&id)).await.expect("insert");
        sums.fail(&id, &failure(kind), 1).await.expect("fail");
        let read = sums.get(&id).await.expect("get").expect("there");
        assert_eq!(read.failure, Some(failure(kind)));
    }
}

/// A job other than `sum` keeps its spec on the record and its values as
/// text (`jobValue`, `resultValue`), any character included; `sum` keeps
/// its Numbers and writes no `job`.
async fn job_values_round_trip_as_text(b: &dyn Backend) {
    let pad = b.scratchpad();
    let array = fresh_id();
    let text = "3:a,\"b 2 -1.5\n0: 1 0.5\n\u{e9}\u{0}\t";
    let row = ScratchpadRow {
        packet_value: Stored::Text(text.to_string()),
        ..row(&array, "L0-0", "0")
    };
    assert_eq!(pad.put_new(&row).await, Ok(Put::Created));
    let back = pad.group(&array).await.expect("group");
    assert_eq!(back, vec![row]);

    let sums = b.sums();
    let mut spec = JobSpec::named("sum-by");
    spec.params.insert("by".into(), serde_json::json!(2));
    let id = fresh_id();
    let record = SumRecord {
        job: spec,
        ..pending(&id)
    };
    assert_eq!(sums.insert(&record).await, Ok(Put::Created));
    assert_eq!(sums.get(&id).await, Ok(Some(record.clone())));
    let result = Stored::Text(text.to_string());
    assert_eq!(
        sums.complete(&id, &result, 7, 9).await,
        Ok(Completion::Completed)
    );
    let done = sums.get(&id).await.expect("get").expect("there");
    assert_eq!((done.sum, done.result.as_deref()), (None, Some(text)));
    assert_eq!(done.job, record.job);
    assert_eq!(done.status, Status::Done);
}

fn failure(kind: FailureKind) -> Failure {
    Failure::new(kind, format!("{} because of a test", kind.as_str()))
}

/// Ranges find an object's bad records in any order: the record keeps the
/// first in the object, and no other failure replaces a bad-data one.
async fn the_first_bad_record_wins(b: &dyn Backend) {
    let sums = b.sums();
    let id = fresh_id();
    sums.insert(&pending(&id)).await.expect("insert");
    let bad = |offset: u64| Failure {
        kind: FailureKind::BadData,
        reason: format!("byte {offset}: not a number"),
        offset: Some(offset),
    };
    assert_eq!(sums.fail(&id, &bad(50), 1).await, Ok(Failing::Failed));
    assert_eq!(
        sums.fail(&id, &bad(80), 2).await,
        Ok(Failing::AlreadyEnded(Status::Failed))
    );
    assert_eq!(sums.fail(&id, &bad(20), 3).await, Ok(Failing::Failed));
    let expired = failure(FailureKind::Expired);
    assert_eq!(
        sums.fail(&id, &expired, 4).await,
        Ok(Failing::AlreadyEnded(Status::Failed))
    );
    let read = sums.get(&id).await.expect("get").expect("record");
    assert_eq!(read.failure, Some(bad(20)));
    assert_eq!(read.finished_at_ms, Some(3));
}

async fn arrays_fail_once_and_only_while_unfinished(b: &dyn Backend) {
    let sums = b.sums();
    let now = 1_700_000_050_000;
    let id = fresh_id();
    sums.insert(&pending(&id)).await.expect("insert");
    let lost = failure(FailureKind::NotEnqueued);
    assert_eq!(sums.fail(&id, &lost, now).await, Ok(Failing::Failed));
    let failed = SumRecord {
        status: Status::Failed,
        finished_at_ms: Some(now),
        failure: Some(lost.clone()),
        expires_at_s: Some(now / 1000 + FAILED_RECORD_RETENTION_SECONDS),
        ..pending(&id)
    };
    assert_eq!(sums.get(&id).await, Ok(Some(failed.clone())));
    assert_eq!(
        sums.fail(&id, &failure(FailureKind::Expired), now + 1)
            .await,
        Ok(Failing::AlreadyEnded(Status::Failed)),
        "the first final reason stays"
    );
    assert_eq!(
        sums.complete(&id, &num("2").into(), 1, now + 2).await,
        Ok(Completion::Failed)
    );
    assert_eq!(sums.get(&id).await, Ok(Some(failed)), "nothing changed");

    // Dead-lettered is not final: a redrive may still finish the array, and
    // an expiry replaces it.
    let revived = fresh_id();
    sums.insert(&pending(&revived)).await.expect("insert");
    let dead = failure(FailureKind::DeadLettered);
    assert_eq!(sums.fail(&revived, &dead, now).await, Ok(Failing::Failed));
    assert_eq!(
        sums.complete(&revived, &num("8").into(), 1, now + 5).await,
        Ok(Completion::Completed)
    );
    let done = sums.get(&revived).await.expect("get").expect("record");
    assert_eq!(
        (done.status, done.failure, done.expires_at_s, done.sum),
        (Status::Done, None, None, Some(num("8")))
    );
    assert_eq!(
        sums.fail(&revived, &dead, now + 6).await,
        Ok(Failing::AlreadyEnded(Status::Done))
    );
    let expired = fresh_id();
    sums.insert(&pending(&expired)).await.expect("insert");
    sums.fail(&expired, &dead, now).await.expect("fail");
    let late = failure(FailureKind::Expired);
    assert_eq!(
        sums.fail(&expired, &late, now + 7).await,
        Ok(Failing::Failed)
    );
    let record = sums.get(&expired).await.expect("get").expect("record");
    assert_eq!(record.failure, Some(late));
    assert_eq!(
        sums.fail(&fresh_id(), &dead, now).await,
        Ok(Failing::Unknown)
    );
}

/// The SDK retries a request whose answer was lost; for a write that had
/// applied, the ports must still give the right answer.
async fn a_lost_answer_is_retried_without_harm(b: &dyn Backend) {
    let id = fresh_id();
    let record = pending(&id);
    assert_eq!(
        b.sums_losing_an_answer("insert").insert(&record).await,
        Ok(Put::AlreadyThere),
        "the retry finds the first attempt's record"
    );
    assert_eq!(b.sums().get(&id).await, Ok(Some(record.clone())));

    let progress = b.sums_losing_an_answer("add_progress");
    assert!(
        progress
            .add_progress(
                &id,
                Progress {
                    elements: 10,
                    bytes: 0
                }
            )
            .await
            .is_err(),
        "progress is sent once: a lost answer is an error, not a retry"
    );
    let counted = b.sums().get(&id).await.expect("get").expect("record");
    assert_eq!(counted.reduced_elements, 10, "never counted twice");

    assert_eq!(
        b.sums_losing_an_answer("complete")
            .complete(&id, &num("3").into(), 1, 9)
            .await,
        Ok(Completion::AlreadyDone),
        "the retried completion finds its own sum"
    );
    let other = fresh_id();
    b.sums().insert(&pending(&other)).await.expect("insert");
    assert_eq!(
        b.sums_losing_an_answer("fail")
            .fail(&other, &failure(FailureKind::NotEnqueued), 9)
            .await,
        Ok(Failing::AlreadyEnded(Status::Failed))
    );
}

async fn a_message_over_the_size_limit_is_rejected(b: &dyn Backend) {
    let queue = b.queue().await;
    let fits = "x".repeat(MAX_MESSAGE_BYTES);
    let too_big = "x".repeat(MAX_MESSAGE_BYTES + 1);
    match queue.send(vec!["small".into(), too_big]).await {
        Err(PortError::Rejected(m)) => assert!(m.contains("limit"), "{m}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
    queue
        .send(vec![fits.clone()])
        .await
        .expect("the limit itself fits");
    let got = receive_all(
        queue.as_ref(),
        2,
        Duration::from_secs(30),
        Duration::from_secs(3),
    )
    .await;
    assert_eq!(got.len(), 1, "nothing of the refused send was delivered");
    assert_eq!(got[0].body.len(), fits.len());
}

async fn idempotency_keys_are_claimed_once(b: &dyn Backend) {
    let sums = b.sums();
    let key = format!("iam:arn:aws:iam::1:user/c#{}", fresh_id());
    let (first, second) = (fresh_id(), fresh_id());
    let claim = |array_id, fingerprint, expires_at_s| pipeline::KeyClaim {
        key: &key,
        array_id,
        fingerprint,
        expires_at_s,
    };
    let now = 1_700_000_000;
    assert_eq!(
        sums.claim_idempotency_key(&claim(&first, "5:aa", now + 86_400), now)
            .await,
        Ok(pipeline::Claimed::New)
    );
    let held = pipeline::Claimed::Existing {
        array_id: first.clone(),
        fingerprint: "5:aa".into(),
    };
    assert_eq!(
        sums.claim_idempotency_key(&claim(&second, "5:bb", now + 90_000), now + 10)
            .await,
        Ok(held.clone()),
        "a live claim keeps its array and fingerprint"
    );
    assert_eq!(
        sums.claim_idempotency_key(&claim(&second, "5:bb", now + 90_000), now + 86_400)
            .await,
        Ok(held),
        "still live at its expiry second"
    );
    // A claim is not an array: nothing is readable under either id.
    assert_eq!(sums.get(&first).await, Ok(None));
    assert_eq!(
        sums.complete(&first, &num("1").into(), 1, 1).await,
        Ok(Completion::Unknown)
    );
    // Once expired (TTL deletes lazily), the key is free again.
    let later = now + 86_401;
    assert_eq!(
        sums.claim_idempotency_key(&claim(&second, "5:bb", later + 86_400), later)
            .await,
        Ok(pipeline::Claimed::New)
    );
    assert_eq!(
        sums.claim_idempotency_key(&claim(&first, "5:aa", later + 86_400), later)
            .await,
        Ok(pipeline::Claimed::Existing {
            array_id: second,
            fingerprint: "5:bb".into(),
        })
    );
    // Keys are independent of each other.
    let other = format!("{key}-2");
    let claim = pipeline::KeyClaim {
        key: &other,
        array_id: &first,
        fingerprint: "5:aa",
        expires_at_s: now + 86_400,
    };
    assert_eq!(
        sums.claim_idempotency_key(&claim, now).await,
        Ok(pipeline::Claimed::New)
    );
}

async fn queue_sends_in_batches(b: &dyn Backend) {
    let queue = b.queue().await;
    // 23 small bodies and 5 of ~300 KB: more than 10 entries and more than
    // the 1 MiB a batch may carry, so several batches of either kind.
    let mut bodies: Vec<String> = (0..23).map(|i| format!("small-{i}")).collect();
    bodies.extend((0..5).map(|i| format!("big-{i}-{}", "x".repeat(300 * 1024))));
    queue.send(bodies.clone()).await.expect("send");
    queue.send(Vec::new()).await.expect("sending nothing");

    let got = receive_all(
        queue.as_ref(),
        bodies.len(),
        Duration::from_secs(60),
        Duration::from_secs(20),
    )
    .await;
    let mut received: Vec<String> = got.iter().map(|m| m.body.clone()).collect();
    received.sort();
    bodies.sort();
    assert_eq!(received, bodies);
    assert!(got.iter().all(|m| m.receive_count == 1));

    queue
        .delete(got.iter().map(|m| m.receipt.clone()).collect())
        .await
        .expect("delete");
    let left = queue
        .receive(10, Duration::from_secs(1), Duration::from_secs(1))
        .await
        .expect("receive");
    assert!(left.is_empty(), "deleted messages stay deleted");
    assert_eq!(
        queue
            .receive(0, Duration::ZERO, Duration::from_secs(1))
            .await,
        Ok(Vec::new())
    );
}

async fn visibility_timeout_hides_then_returns(b: &dyn Backend) {
    let queue = b.queue().await;
    queue.send(vec!["once".into()]).await.expect("send");
    let first = receive_all(
        queue.as_ref(),
        1,
        Duration::from_secs(2),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].receive_count, 1);
    let hidden = queue
        .receive(10, Duration::ZERO, Duration::from_secs(2))
        .await
        .expect("receive");
    assert!(hidden.is_empty(), "in flight, hidden");

    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let again = receive_all(
        queue.as_ref(),
        1,
        Duration::from_secs(30),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message_id, first[0].message_id);
    assert_eq!(again[0].body, "once");
    assert_eq!(again[0].receive_count, 2);

    queue
        .delete(vec![again[0].receipt.clone()])
        .await
        .expect("delete");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let left = queue
        .receive(10, Duration::ZERO, Duration::from_secs(1))
        .await
        .expect("receive");
    assert!(left.is_empty());
}

/// A stopping receiver gives back what it holds: visible again at once,
/// not after the visibility timeout; a receipt of a message since deleted
/// is skipped, not an error.
async fn released_messages_are_received_again_at_once(b: &dyn Backend) {
    let queue = b.queue().await;
    queue
        .send(vec!["a".into(), "b".into()])
        .await
        .expect("send");
    let held = receive_all(
        queue.as_ref(),
        2,
        Duration::from_secs(2),
        Duration::from_secs(300),
    )
    .await;
    assert_eq!(held.len(), 2);
    queue
        .delete(vec![held[1].receipt.clone()])
        .await
        .expect("delete");
    let receipts = held.iter().map(|m| m.receipt.clone()).collect();
    queue
        .release(receipts)
        .await
        .expect("release skips the deleted one");
    let again = receive_all(
        queue.as_ref(),
        1,
        Duration::from_secs(5),
        Duration::from_secs(300),
    )
    .await;
    assert_eq!(again.len(), 1, "back at once, not in 300 s");
    assert_eq!(
        (again[0].body.as_str(), again[0].receive_count),
        (held[0].body.as_str(), 2)
    );
}

async fn redrive_moves_to_the_dead_letter_queue(b: &dyn Backend) {
    const MAX: u32 = 2;
    let (queue, dead) = b.redriven(MAX).await;
    queue.send(vec!["poison".into()]).await.expect("send");
    let mut id = None;
    for n in 1..=MAX {
        let got = receive_all(
            queue.as_ref(),
            1,
            Duration::from_secs(1),
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(got.len(), 1, "receive {n}");
        assert_eq!(got[0].receive_count, n);
        id = Some(got[0].message_id.clone());
        tokio::time::sleep(Duration::from_millis(1_200)).await;
    }
    let after = queue
        .receive(10, Duration::from_secs(1), Duration::from_secs(1))
        .await
        .expect("receive");
    assert!(
        after.is_empty(),
        "received {MAX} times: moved, not delivered"
    );

    let dead_letters = receive_all(
        dead.as_ref(),
        1,
        Duration::from_secs(30),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(dead_letters.len(), 1);
    assert_eq!(dead_letters[0].body, "poison");
    assert_eq!(
        Some(&dead_letters[0].message_id),
        id.as_ref(),
        "same message"
    );
    assert_eq!(
        dead_letters[0].receive_count,
        MAX + 1,
        "the receive count carries over"
    );
}

async fn a_missing_table_is_rejected(b: &OnMoto) {
    let (pad, sums) = b.missing_tables();
    let r = row("a", "p", "1");
    let rejected = |result: Result<(), PortError>, what: &str| match result {
        Err(PortError::Rejected(m)) => assert!(m.contains("ResourceNotFound"), "{what}: {m}"),
        other => panic!("{what}: expected Rejected, got {other:?}"),
    };
    rejected(pad.put_new(&r).await.map(drop), "put_new");
    rejected(pad.group("a").await.map(drop), "group");
    rejected(pad.retire(&[r]).await, "retire");
    rejected(sums.insert(&pending("a")).await.map(drop), "insert");
    rejected(sums.get("a").await.map(drop), "get");
    rejected(
        sums.complete("a", &num("1").into(), 1, 1).await.map(drop),
        "complete",
    );
}

async fn an_unreachable_service_is_unavailable(b: &OnMoto) {
    let (queue, pad, sums) = b.unreachable().await;
    let unavailable = |result: Result<(), PortError>, what: &str| {
        assert!(
            matches!(result, Err(PortError::Unavailable(_))),
            "{what}: expected Unavailable, got {result:?}"
        );
    };
    unavailable(queue.send(vec!["x".into()]).await, "send");
    unavailable(
        queue
            .receive(1, Duration::ZERO, Duration::from_secs(1))
            .await
            .map(drop),
        "receive",
    );
    unavailable(pad.group("a").await.map(drop), "group");
    unavailable(sums.get("a").await.map(drop), "get");
}

/// Runs each check on both backends, as separate tests; the checks after
/// `moto only:` have no in-process counterpart and run on moto alone.
macro_rules! contract {
    ($($check:ident),* $(,)? ; moto only: $($moto:ident),* $(,)?) => {
        mod in_process {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(&super::InProcess::new()).await;
                }
            )*
        }
        mod on_moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check(&super::OnMoto::start().await).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $moto() {
                    super::$moto(&super::OnMoto::start().await).await;
                }
            )*
        }
    };
}

contract!(
    put_new_is_conditional,
    group_reads_one_partition_across_pages,
    retire_leaves_tombstones,
    numbers_round_trip_exactly,
    sums_complete_once,
    object_records_keep_their_source,
    job_values_round_trip_as_text,
    the_first_bad_record_wins,
    idempotency_keys_are_claimed_once,
    queue_sends_in_batches,
    visibility_timeout_hides_then_returns,
    released_messages_are_received_again_at_once,
    redrive_moves_to_the_dead_letter_queue,
    arrays_fail_once_and_only_while_unfinished,
    a_lost_answer_is_retried_without_harm,
    a_message_over_the_size_limit_is_rejected;
    moto only:
    a_missing_table_is_rejected,
    an_unreachable_service_is_unavailable,
);

/// Provisioning twice gives the same names, and functions get the
/// environment CloudFormation would give them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_is_idempotent_and_resolves_environments() {
    let moto = OnMoto::start().await;
    let stack = Stack::embedded().expect("template.yaml parses");
    let again = provision(&stack, &moto.sdk, &moto.prefix)
        .await
        .expect("provisions again");
    assert_eq!(again, moto.provisioned);
    assert_eq!(again.queue_urls.len(), stack.queues.len());

    let env = again
        .function_env(&stack, "ReduceFunction")
        .expect("resolves");
    assert_eq!(env["REDUCE_QUEUE_URL"], again.queue_urls["ReduceQueue"]);
    assert_eq!(
        env["SCRATCHPAD_TABLE"],
        format!("{}-ScratchpadTable", moto.prefix)
    );
    assert_eq!(
        Some(env["CHUNK_SIZE"].as_str()),
        stack.parameter("ChunkSize")
    );
    assert!(!env.contains_key("TIMES_TWO_QUEUE_URL"));
    assert!(again.function_env(&stack, "Nope").is_err());
    let names = again.names();
    assert_eq!(
        names.times_two_queue_url.as_deref(),
        Some(again.queue_urls["TimesTwoQueue"].as_str())
    );
    assert_eq!(names.sums_table, Some(format!("{}-SumsTable", moto.prefix)));

    let sqs = aws_sdk_sqs::Client::new(&moto.sdk);
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&again.queue_urls["TimesTwoQueue"])
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .expect("queue attributes");
    let attributes: BTreeMap<String, String> = attributes
        .attributes()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str().to_string(), v.clone()))
        .collect();
    assert_eq!(attributes["VisibilityTimeout"], "180");
    assert_eq!(attributes["MaximumMessageSize"], "1048576");
    assert!(
        attributes["RedrivePolicy"].contains("TimesTwoDeadLetterQueue"),
        "{}",
        attributes["RedrivePolicy"]
    );

    let ttl = moto
        .dynamodb()
        .describe_time_to_live()
        .table_name(moto.table("ScratchpadTable"))
        .send()
        .await
        .expect("describe ttl");
    let description = ttl.time_to_live_description().expect("a TTL description");
    assert_eq!(description.attribute_name(), Some("expiresAt"));

    let sqs_queue = SqsQueue::new(sqs, &again.queue_urls["ReduceQueue"]);
    sqs_queue
        .send(vec!["a".into(), "b".into()])
        .await
        .expect("send");
    assert_eq!(sqs_queue.approximate_depth().await, Ok(2));
}

/// The ports built from [`aws_ports::Names`] talk to the provisioned resources.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ports_from_names_reach_the_provisioned_resources() {
    let moto = OnMoto::start().await;
    let ports = aws_ports::ports(&moto.sdk, &moto.provisioned.names());
    let id = fresh_id();
    ports.sums.insert(&pending(&id)).await.expect("insert");
    assert_eq!(ports.sums.get(&id).await, Ok(Some(pending(&id))));
    ports
        .times_two_queue
        .send(vec!["hello".into()])
        .await
        .expect("send");
    let got = receive_all(
        ports.times_two_queue.as_ref(),
        1,
        Duration::from_secs(30),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "hello");
}

/// A row written by someone else with the wrong types is refused, by name,
/// rather than misread or retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_row_is_rejected_naming_the_attribute() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let moto = OnMoto::start().await;
    let array = fresh_id();
    moto.dynamodb()
        .put_item()
        .table_name(moto.table("ScratchpadTable"))
        .item("arrayId", AttributeValue::S(array.clone()))
        .item("packetId", AttributeValue::S("0".into()))
        .item("packetValue", AttributeValue::Bool(true))
        .send()
        .await
        .expect("raw put");
    match moto.scratchpad().group(&array).await {
        Err(PortError::Rejected(m)) => assert!(m.contains("packetValue"), "{m}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
    moto.dynamodb()
        .put_item()
        .table_name(moto.table("SumsTable"))
        .item("arrayId", AttributeValue::S(array.clone()))
        .item("status", AttributeValue::S("lost".into()))
        .send()
        .await
        .expect("raw put");
    match moto.sums().get(&array).await {
        Err(PortError::Rejected(m)) => assert!(m.contains("status"), "{m}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
}
