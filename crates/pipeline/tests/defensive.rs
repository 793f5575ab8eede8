//! The steps' defensive branches, each reached on purpose: a message whose
//! tree is not its record's, a corrupt scratchpad row, a record that vanishes
//! between the read and the completing write, a re-trigger that cannot be
//! sent. Each must fail the message (so SQS delivers it again, or
//! dead-letters it) without writing a sum or retiring a row.

use async_trait::async_trait;
use packet::{MapMessage, NodeId, Number, ReduceMessage, Tree};
use pipeline::injected::{InjectedQueue, Injection};
use pipeline::memory::MemoryBackend;
use pipeline::{
    reduce, reduce_batch, submit, times_two, Claimed, Completion, Config, Failing, Failure,
    KeyClaim, PortError, Ports, Progress, Put, Queue, Received, ScratchpadRow, Status, StepError,
    SumRecord, Sums, SystemClock,
};
use std::sync::Arc;
use std::time::Duration;

fn cfg(chunk_size: u64, fan_in: u64) -> Config {
    Config {
        chunk_size,
        fan_in,
        ..Config::default()
    }
}

/// Up to 10 visible messages of `queue`, hidden for a minute.
async fn take(queue: &dyn Queue) -> Vec<Received> {
    queue
        .receive(10, Duration::ZERO, Duration::from_secs(60))
        .await
        .expect("receive")
}

/// Submits `body` and maps every packet: the Reduce queue then holds the
/// triggers, the scratchpad the leaves. Returns the array id.
async fn mapped(backend: &MemoryBackend, config: &Config, body: &str) -> String {
    let ports = backend.ports();
    let accepted = submit(&ports, config, body).await.expect("accepted");
    let maps = take(backend.times_two_queue.as_ref()).await;
    let bodies: Vec<&str> = maps.iter().map(|m| m.body.as_str()).collect();
    for r in times_two(&ports, config, &bodies, None).await {
        r.expect("map");
    }
    accepted.array_id
}

/// The array's record: still pending, no sum.
async fn assert_pending(ports: &Ports, array_id: &str) {
    let record = ports
        .sums
        .get(array_id)
        .await
        .expect("get")
        .expect("record");
    assert_eq!(record.status, Status::Pending, "{record:?}");
    assert_eq!(record.sum, None);
}

fn live(backend: &MemoryBackend) -> usize {
    backend
        .scratchpad
        .rows()
        .iter()
        .filter(|r| !r.consumed)
        .count()
}

/// A map message whose tree (chunk size 1 instead of 2) is not its record's
/// is refused before anything is written.
#[tokio::test]
async fn a_map_message_whose_tree_is_not_its_records_is_refused() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = backend.ports();
    let config = cfg(2, 2);
    let accepted = submit(&ports, &config, "[1,2,3,4]").await.expect("ok");
    let other = Tree::new(4, 1, 2).expect("tree");
    let forged = MapMessage::encode(&accepted.array_id, &other, 0, &["1"]);
    let results = times_two(&ports, &config, &[&forged], None).await;
    assert!(
        matches!(&results[0], Err(StepError::Mismatch { array_id, .. }) if *array_id == accepted.array_id),
        "{results:?}"
    );
    assert!(backend.scratchpad.rows().is_empty(), "no leaf written");
    assert_eq!(backend.reduce_queue.len(), 0, "no Reduce message");
    assert_pending(&ports, &accepted.array_id).await;
}

/// A Reduce message whose tree is not its record's is refused before
/// anything is merged or retired.
#[tokio::test]
async fn a_reduce_message_whose_tree_is_not_its_records_is_refused() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = backend.ports();
    let config = cfg(2, 2);
    let id = mapped(&backend, &config, "[1,2,3,4]").await;
    let rows = backend.scratchpad.rows().len();
    let forged = ReduceMessage {
        array_id: id.clone(),
        tree: Tree::new(4, 2, 3).expect("tree"),
        targets: vec![NodeId::new(1, 0)],
    };
    let result = reduce(&ports, &config, &forged.encode()).await;
    assert!(
        matches!(&result, Err(StepError::Mismatch { array_id, .. }) if *array_id == id),
        "{result:?}"
    );
    assert_eq!(backend.scratchpad.rows().len(), rows, "nothing merged");
    assert_eq!(live(&backend), rows, "nothing retired");
    assert_pending(&ports, &id).await;
}

/// A leaf row whose `packetContains` is not what the tree says is refused:
/// the exactly-once guard does not sum a row it cannot trust, nor retire it.
#[tokio::test]
async fn a_corrupt_scratchpad_row_fails_the_walk_without_a_sum() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = backend.ports();
    let config = cfg(2, 2);
    let accepted = submit(&ports, &config, "[1,2,3,4]").await.expect("ok");
    let maps = take(backend.times_two_queue.as_ref()).await;
    // Map only the first packet; write the second leaf's row by hand, wrong.
    let first = maps
        .iter()
        .find(|m| {
            MapMessage::decode(&m.body)
                .map(|d| d.leaf == NodeId::new(0, 0))
                .unwrap_or(false)
        })
        .expect("leaf 0's message");
    times_two(&ports, &config, &[first.body.as_str()], None).await[0]
        .as_ref()
        .expect("map");
    let tree = Tree::new(4, 2, 2).expect("tree");
    let leaf = NodeId::new(0, 1);
    let corrupt = ScratchpadRow {
        key: pipeline::RowKey {
            partition_key: tree.partition_key(&accepted.array_id, leaf),
            packet_id: leaf.to_string(),
        },
        packet_value: Number::parse("14").expect("n").into(),
        array_length: 4,
        packet_contains: 3,
        elements: 3,
        expires_at: u64::MAX / 2,
        consumed: false,
    };
    assert_eq!(
        ports.scratchpad.put_new(&corrupt).await.expect("put"),
        Put::Created
    );
    let parent = tree.parent(leaf).expect("a parent");
    let trigger = ReduceMessage {
        array_id: accepted.array_id.clone(),
        tree,
        targets: vec![parent],
    };
    let result = reduce(&ports, &config, &trigger.encode()).await;
    assert!(
        matches!(&result, Err(StepError::Corrupt { packet, .. }) if *packet == leaf),
        "{result:?}"
    );
    assert_eq!(live(&backend), 2, "both leaves still live");
    assert_pending(&ports, &accepted.array_id).await;
}

/// The sums table, except that every record vanishes between a step's read
/// and its completing write: `complete` answers `Unknown`, as DynamoDB's
/// conditional update does for a record deleted meanwhile (a failed
/// record's TTL).
struct Vanishing(Arc<dyn Sums>);

#[async_trait]
impl Sums for Vanishing {
    async fn claim_idempotency_key(
        &self,
        claim: &KeyClaim<'_>,
        now_s: u64,
    ) -> Result<Claimed, PortError> {
        self.0.claim_idempotency_key(claim, now_s).await
    }
    async fn insert(&self, record: &SumRecord) -> Result<Put, PortError> {
        self.0.insert(record).await
    }
    async fn get(&self, array_id: &str) -> Result<Option<SumRecord>, PortError> {
        self.0.get(array_id).await
    }
    async fn complete(
        &self,
        _array_id: &str,
        _result: &packet::job::Stored,
        _elements: u64,
        _finished_at_ms: u64,
    ) -> Result<Completion, PortError> {
        Ok(Completion::Unknown)
    }
    async fn add_progress(&self, array_id: &str, progress: Progress) -> Result<(), PortError> {
        self.0.add_progress(array_id, progress).await
    }
    async fn mark_enqueued(&self, array_id: &str) -> Result<(), PortError> {
        self.0.mark_enqueued(array_id).await
    }
    async fn fail(
        &self,
        array_id: &str,
        failure: &Failure,
        now_ms: u64,
    ) -> Result<Failing, PortError> {
        self.0.fail(array_id, failure, now_ms).await
    }
}

/// The root's completing write finds no record: the walk fails naming the
/// array, and the children it merged stay live for a redelivery.
#[tokio::test]
async fn reduce_fails_when_the_record_vanishes_before_the_sum() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let config = cfg(2, 2);
    let id = mapped(&backend, &config, "[1,2,3,4]").await;
    let ports = Ports {
        sums: Arc::new(Vanishing(backend.sums.clone())),
        ..backend.ports()
    };
    let triggers = take(backend.reduce_queue.as_ref()).await;
    let bodies: Vec<&str> = triggers.iter().map(|m| m.body.as_str()).collect();
    let results = reduce_batch(&ports, &config, &bodies, None).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(StepError::UnknownArray(a)) if *a == id)),
        "{results:?}"
    );
    assert_eq!(live(&backend), 2, "the leaves are not retired");
    assert_pending(&backend.ports(), &id).await;
}

/// An array of one packet whose record vanishes before the map writes its
/// sum: the message fails naming the array.
#[tokio::test]
async fn a_single_leaf_map_fails_when_the_record_vanishes() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let config = Config::default();
    let accepted = submit(&backend.ports(), &config, "[1,2]")
        .await
        .expect("ok");
    let ports = Ports {
        sums: Arc::new(Vanishing(backend.sums.clone())),
        ..backend.ports()
    };
    let packet = take(backend.times_two_queue.as_ref()).await.remove(0).body;
    let results = times_two(&ports, &config, &[&packet], None).await;
    assert!(
        matches!(&results[0], Err(StepError::UnknownArray(a)) if *a == accepted.array_id),
        "{results:?}"
    );
    assert_pending(&backend.ports(), &accepted.array_id).await;
}

/// Out of time, the rest of the work cannot be sent on: the message fails
/// (SQS delivers it again) instead of being acknowledged with its work lost.
#[tokio::test]
async fn a_failed_re_trigger_fails_the_message() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let config = cfg(2, 2);
    let id = mapped(&backend, &config, "[1,2,3,4,5,6,7,8]").await;
    let reduce_queue = InjectedQueue::new(backend.reduce_queue.clone());
    reduce_queue.faults.set(
        "send",
        Injection::Before(PortError::Throttled("injected".into())),
    );
    let ports = Ports {
        reduce_queue: reduce_queue.clone(),
        ..backend.ports()
    };
    let triggers = take(backend.reduce_queue.as_ref()).await;
    let bodies: Vec<&str> = triggers.iter().map(|m| m.body.as_str()).collect();
    let queued = backend.reduce_queue.len();
    let past = Some(ports.clock.now_ms());
    let results = reduce_batch(&ports, &config, &bodies, past).await;
    assert!(!results.is_empty());
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(StepError::Port(PortError::Throttled(_))))),
        "{results:?}"
    );
    assert_eq!(backend.reduce_queue.len(), queued, "nothing was sent on");
    assert_eq!(live(&backend), 4, "nothing merged or retired");
    assert_pending(&ports, &id).await;
}
