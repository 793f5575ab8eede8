//! Plays Lambda's SQS event source mapping for one function.
//!
//! Like the real one: several pollers in parallel (`ScalingConfig.MaximumConcurrency`),
//! batches of up to `BatchSize` gathered for at most `MaximumBatchingWindowInSeconds`,
//! messages hidden for the queue's visibility timeout while the handler runs,
//! only the successful ones deleted (ReportBatchItemFailures), the whole batch
//! left to reappear if the handler overruns the function's timeout. Redrive to
//! the dead-letter queue is the queue's own business, as in SQS.
//!
//! Unlike Lambda's, these pollers stop: when told to ([`spawn`]'s `stop`),
//! a poller lets its open receive end (it never abandons one: SQS, and moto,
//! would hand that receive the next messages and hide them for the
//! visibility timeout, 180 s, with nobody to process them), abandons the
//! invocation in flight and gives back every message it holds.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use futures::future::BoxFuture;
use pipeline::{Queue, Received};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The function the mapping invokes.
pub type Handler = Arc<dyn Fn(SqsEvent) -> BoxFuture<'static, SqsBatchResponse> + Send + Sync>;

/// How one mapping polls, read from `template.yaml`.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub name: String,
    pub batch_size: usize,
    pub batching_window: Duration,
    pub concurrency: usize,
    pub visibility_timeout: Duration,
    pub function_timeout: Duration,
    /// Long poll of each receive: how long a stop may wait for one to end.
    pub poll_wait: Duration,
    /// Whether a receive may be dropped on stop: an in-process queue holds
    /// nothing for a dropped receive; SQS does.
    pub cancel_receives: bool,
}

/// The long poll of a poller on SQS: short, so that a stopping runner's
/// open receives end within it (Lambda's own pollers wait 20 s).
pub const SQS_POLL_WAIT: Duration = Duration::from_secs(2);

/// The queues a mapping's pollers use: `work` to receive and delete (as
/// the function, whose role Lambda's pollers use), `release` to give back
/// what they hold when they stop (as the runner: Lambda's own business, no
/// grant of the function's).
#[derive(Clone)]
pub struct Polled {
    pub work: Arc<dyn Queue>,
    pub release: Arc<dyn Queue>,
}

/// Starts the pollers; they stop, giving back what they hold, once `stop`
/// turns true (or its sender is gone). Aborting a handle stops a poller as
/// a crash would.
pub fn spawn(
    mapping: Mapping,
    queues: Polled,
    handler: Handler,
    stop: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    (0..mapping.concurrency.max(1))
        .map(|_| {
            let (mapping, queues, handler) = (mapping.clone(), queues.clone(), handler.clone());
            let stop = stop.clone();
            tokio::spawn(async move { run(&mapping, &queues, &handler, stop).await })
        })
        .collect()
}

async fn run(
    mapping: &Mapping,
    queues: &Polled,
    handler: &Handler,
    mut stop: watch::Receiver<bool>,
) {
    while !stopping(&stop) {
        let batch = match gather(mapping, queues.work.as_ref(), &mut stop).await {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(mapping = %mapping.name, error = %e, "polling failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let mut groups = invocations(batch).into_iter();
        while let Some(group) = groups.next() {
            let held: Vec<String> = group
                .iter()
                .chain(groups.as_slice().iter().flatten())
                .map(|m| m.receipt.clone())
                .collect();
            if stopping(&stop) {
                give_back(mapping, queues, held).await;
                return;
            }
            tokio::select! {
                done = invoke(mapping, queues.work.as_ref(), handler, group) => {
                    if let Err(e) = done {
                        tracing::warn!(mapping = %mapping.name, error = %e, "deleting a batch failed");
                    }
                }
                () = stopped(&mut stop) => {
                    // The invocation is abandoned as a crash would leave
                    // it (every step is safe to repeat); its messages and
                    // the batch's others go back now.
                    give_back(mapping, queues, held).await;
                    return;
                }
            }
        }
    }
}

fn stopping(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

/// Resolves once the poller is to stop.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Makes `receipts` visible again, so the next runner takes them at once.
async fn give_back(mapping: &Mapping, queues: &Polled, receipts: Vec<String>) {
    if receipts.is_empty() {
        return;
    }
    let count = receipts.len();
    match queues.release.release(receipts).await {
        Ok(()) => tracing::info!(mapping = %mapping.name, count, "gave back unfinished messages"),
        Err(e) => tracing::warn!(
            mapping = %mapping.name,
            error = %e,
            "could not give back unfinished messages: they return after the visibility timeout"
        ),
    }
}

/// One receive: dropped on stop when that holds nothing back, else left
/// to end (within `poll_wait`).
async fn receive(
    mapping: &Mapping,
    queue: &dyn Queue,
    max: usize,
    wait: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Result<Vec<Received>, pipeline::PortError> {
    let received = queue.receive(max, wait, mapping.visibility_timeout);
    if !mapping.cancel_receives {
        return received.await;
    }
    tokio::select! {
        got = received => got,
        () = stopped(stop) => Ok(Vec::new()),
    }
}

async fn gather(
    mapping: &Mapping,
    queue: &dyn Queue,
    stop: &mut watch::Receiver<bool>,
) -> Result<Vec<Received>, pipeline::PortError> {
    // Long polling, as Lambda's pollers do: an idle queue costs few requests.
    let first = mapping.batch_size.min(10);
    let mut batch = receive(mapping, queue, first, mapping.poll_wait, stop).await?;
    let deadline = tokio::time::Instant::now() + mapping.batching_window;
    while !batch.is_empty()
        && batch.len() < mapping.batch_size
        && tokio::time::Instant::now() < deadline
        && !stopping(stop)
    {
        let max = (mapping.batch_size - batch.len()).min(10);
        let more = receive(mapping, queue, max, Duration::ZERO, stop).await?;
        if more.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        batch.extend(more);
    }
    Ok(batch)
}

/// Lambda's limit on a batch's event: an event source mapping invokes
/// before a batch's event would pass it, whatever `BatchSize` says.
pub const INVOCATION_PAYLOAD_LIMIT: usize = handlers::payload::BATCH_PAYLOAD_LIMIT;

/// Splits a gathered batch into the invocations Lambda would make: as many
/// messages per event as fit [`INVOCATION_PAYLOAD_LIMIT`] (one at least).
/// Ten 1 MiB messages are two invocations, not one event of 10 MiB.
pub fn invocations(batch: Vec<Received>) -> Vec<Vec<Received>> {
    // Each message's size as a one-record event: the sum over a group is
    // its event's size plus a few bytes of envelope per extra record, an
    // overestimate on the safe side, and each message is serialized once.
    let size = |m: &Received| {
        serde_json::to_vec(&handlers::sqs_event(std::slice::from_ref(m)))
            .map_or(usize::MAX, |v| v.len())
    };
    let mut out: Vec<(Vec<Received>, usize)> = Vec::new();
    for message in batch {
        let bytes = size(&message);
        match out.last_mut() {
            Some((group, total)) if total.saturating_add(bytes) <= INVOCATION_PAYLOAD_LIMIT => {
                group.push(message);
                *total += bytes;
            }
            _ => out.push((vec![message], bytes)),
        }
    }
    out.into_iter().map(|(group, _)| group).collect()
}

/// One invocation of the handler with `batch`, then the deletes of what it
/// did not report as failed.
async fn invoke(
    mapping: &Mapping,
    queue: &dyn Queue,
    handler: &Handler,
    batch: Vec<Received>,
) -> Result<(), pipeline::PortError> {
    let event = handlers::sqs_event(&batch);
    let response = match tokio::time::timeout(mapping.function_timeout, handler(event)).await {
        Ok(r) => r,
        Err(_) => {
            tracing::warn!(mapping = %mapping.name, "invocation timed out; its batch will reappear");
            return Ok(());
        }
    };
    let ids: HashSet<&str> = batch.iter().map(|m| m.message_id.as_str()).collect();
    let failed: HashSet<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    if failed.iter().any(|id| !ids.contains(id)) {
        // Lambda treats an unknown or empty id as a failure of the whole batch.
        return Ok(());
    }
    let done: Vec<String> = batch
        .iter()
        .filter(|m| !failed.contains(m.message_id.as_str()))
        .map(|m| m.receipt.clone())
        .collect();
    if !done.is_empty() {
        queue.delete(done).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Bad messages through the pollers on the in-process backend: each one
    //! fails alone, is retried `maxReceiveCount` times, lands in its
    //! dead-letter queue with the reason logged, and the real array next to
    //! it still finishes exactly.

    use super::*;
    use futures::FutureExt;
    use pipeline::memory::MemoryBackend;
    use pipeline::{Config, Status, SystemClock};
    use std::sync::Mutex;
    use std::time::Instant;

    /// Log lines, captured for the assertions.
    #[derive(Clone, Default)]
    struct Logs(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Logs {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Logs {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
        }
    }

    fn message(i: usize, body_bytes: usize) -> Received {
        Received {
            message_id: format!("m{i}"),
            receipt: format!("r{i}"),
            body: "7".repeat(body_bytes),
            receive_count: 1,
        }
    }

    #[test]
    fn a_batch_is_cut_into_invocations_lambda_would_accept() {
        let full = packet::MAX_MESSAGE_BYTES;
        let batch: Vec<Received> = (0..10).map(|i| message(i, full)).collect();
        let groups = invocations(batch);
        let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![5, 5], "ten 1 MiB messages");
        for group in &groups {
            let bytes = serde_json::to_vec(&handlers::sqs_event(group)).expect("json");
            assert!(bytes.len() <= INVOCATION_PAYLOAD_LIMIT, "{}", bytes.len());
        }
        let small: Vec<Received> = (0..10).map(|i| message(i, 100)).collect();
        assert_eq!(invocations(small).len(), 1);
        assert!(invocations(Vec::new()).is_empty());
    }

    fn mapping(name: &str) -> Mapping {
        Mapping {
            name: name.into(),
            batch_size: 10,
            batching_window: Duration::ZERO,
            concurrency: 2,
            // Short, so five receives take a second instead of fifteen minutes.
            visibility_timeout: Duration::from_millis(100),
            function_timeout: Duration::from_secs(10),
            poll_wait: Duration::from_secs(20),
            cancel_receives: true,
        }
    }

    fn polled(queue: Arc<dyn Queue>) -> Polled {
        Polled {
            work: queue.clone(),
            release: queue,
        }
    }

    /// A poller told to stop abandons the invocation in flight and gives
    /// its batch back at once: the next receive gets it, without waiting
    /// out the visibility timeout.
    #[tokio::test]
    async fn a_stopping_poller_gives_back_what_it_holds() {
        let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
        let queue = backend.times_two_queue.clone();
        queue
            .send(vec!["a".into(), "b".into()])
            .await
            .expect("send");
        let stuck: Handler = Arc::new(|_| futures::future::pending().boxed());
        let slow = Mapping {
            visibility_timeout: Duration::from_secs(600),
            concurrency: 1,
            ..mapping("TimesTwoFunction")
        };
        let (stop, stop_rx) = watch::channel(false);
        let pollers = spawn(slow, polled(queue.clone()), stuck, stop_rx);
        let deadline = Instant::now() + Duration::from_secs(5);
        while backend.times_two_queue.next_visible_in_ms() < Some(1_000) {
            assert!(Instant::now() < deadline, "the batch was never taken");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = stop.send(true);
        let stopped =
            tokio::time::timeout(Duration::from_secs(2), futures::future::join_all(pollers)).await;
        assert!(stopped.is_ok(), "the poller stops within 2 s");
        let again = queue
            .receive(10, Duration::ZERO, Duration::from_secs(1))
            .await
            .expect("receive");
        let counts: Vec<u32> = again.iter().map(|m| m.receive_count).collect();
        assert_eq!(counts, [2, 2], "both back at once, received once before");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn bad_messages_land_in_the_dlq_and_never_fail_their_neighbours() {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .finish();
        // Current-thread runtime: the pollers run on this thread, under it.
        let _guard = tracing::subscriber::set_default(subscriber);

        let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
        let ports = backend.ports();
        let config = Config {
            chunk_size: 3,
            fan_in: 2,
            ..Config::default()
        };
        let elements: Vec<String> = (1..=20).map(|i| format!("{i}.5")).collect();
        let accepted = pipeline::submit(&ports, &config, &format!("[{}]", elements.join(",")))
            .await
            .expect("accepted");
        let real = backend.times_two_queue.bodies().remove(0);
        let unknown = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let times_two_garbage = vec![
            "not json".to_string(),
            "{}".to_string(),
            r#"{"arrayId":7,"packetId":"0-0","arrayLength":1,"chunkSize":1,"fanIn":2,"packetContains":1,"packetValue":[1]}"#.to_string(),
            // The real array's first packet with a number DynamoDB cannot hold.
            real.replacen("[1.5,", "[1e400,", 1),
            real.replace(&accepted.array_id, unknown),
        ];
        let reduce_garbage = vec![
            "[]".to_string(),
            "\"an id\"".to_string(),
            "{\"arrayId\":null}".to_string(),
        ];
        backend
            .times_two_queue
            .send(times_two_garbage.clone())
            .await
            .expect("send");
        backend
            .reduce_queue
            .send(reduce_garbage.clone())
            .await
            .expect("send");

        let handler = |reduce: bool| -> Handler {
            let (ports, config) = (ports.clone(), Config::default());
            Arc::new(move |event| {
                let (ports, config) = (ports.clone(), config.clone());
                async move {
                    if reduce {
                        handlers::handle_reduce(&ports, &config, &event, None).await
                    } else {
                        handlers::handle_times_two(&ports, &config, &event, None).await
                    }
                }
                .boxed()
            })
        };
        let (_stop, stop) = watch::channel(false);
        let mut pollers = spawn(
            mapping("TimesTwoFunction"),
            polled(backend.times_two_queue.clone()),
            handler(false),
            stop.clone(),
        );
        pollers.extend(spawn(
            mapping("ReduceFunction"),
            polled(backend.reduce_queue.clone()),
            handler(true),
            stop,
        ));

        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let done = backend
                .sums
                .records()
                .iter()
                .any(|r| r.array_id == accepted.array_id && r.status == Status::Done);
            let dead = backend.times_two_dlq.len() + backend.reduce_dlq.len();
            if done && dead == times_two_garbage.len() + reduce_garbage.len() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "not settled: done={done}, dead letters={dead}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for p in &pollers {
            p.abort();
        }

        let record = backend
            .sums
            .records()
            .into_iter()
            .find(|r| r.array_id == accepted.array_id)
            .expect("record");
        let expected: f64 = (1..=20).map(|i| 2.0 * (f64::from(i) + 0.5)).sum();
        assert_eq!(record.sum.expect("sum").to_string(), format!("{expected}"));
        assert_eq!(backend.sums.records().len(), 1, "garbage created no array");

        let mut dead = backend.times_two_dlq.bodies();
        dead.sort();
        let mut want = times_two_garbage.clone();
        want.sort();
        assert_eq!(
            dead, want,
            "exactly the bad TimesTwo messages are dead letters"
        );
        let mut dead = backend.reduce_dlq.bodies();
        dead.sort();
        let mut want = reduce_garbage.clone();
        want.sort();
        assert_eq!(
            dead, want,
            "exactly the bad Reduce messages are dead letters"
        );
        assert!(backend.times_two_queue.is_empty() && backend.reduce_queue.is_empty());

        // Each was received maxReceiveCount times, each time with its reason.
        let logs = logs.text();
        for reason in [
            "malformed message",
            "missing field",
            "invalid type",
            "element 0",
            "unknown to the sums table",
        ] {
            assert!(logs.contains(reason), "no log says {reason:?}:\n{logs}");
        }
        let failures = logs.matches("message failed").count();
        let bad = times_two_garbage.len() + reduce_garbage.len();
        assert!(
            failures >= 5 * bad,
            "{failures} failure logs for {bad} bad messages × 5 receives"
        );
    }
}
