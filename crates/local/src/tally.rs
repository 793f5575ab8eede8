//! Counts what a local run does: calls on each port, and handler invocations
//! per function with the time they took. The benchmark prints these; with
//! `--backend aws` it also prints the SDK's own request count.

use async_trait::async_trait;
use pipeline::hooked::{Answer, CallError, Hook, Hooked, PortCall, Run};
use pipeline::{Ports, Queue, ScratchpadRow};
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One function's invocations.
#[derive(Debug, Default)]
pub struct Invocations {
    pub count: AtomicU64,
    pub busy_micros: AtomicU64,
}

/// Everything counted during a run.
#[derive(Debug, Default)]
pub struct Tally {
    /// Calls by port (`times_two_queue`, `sums`, …) and method.
    calls: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Scratchpad rows written by `retire` and rows read by `group`.
    pub rows_retired: AtomicU64,
    pub rows_read: AtomicU64,
    invocations: Mutex<BTreeMap<String, Arc<Invocations>>>,
}

impl Tally {
    fn call(&self, port: &'static str, method: &'static str) {
        if let Ok(mut calls) = self.calls.lock() {
            *calls.entry((port, method)).or_default() += 1;
        }
    }

    /// Port calls so far, e.g. `"scratchpad.put_new" -> 1000`.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        let calls = self.calls.lock().map(|c| c.clone()).unwrap_or_default();
        calls
            .into_iter()
            .map(|((port, method), count)| (format!("{port}.{method}"), count))
            .collect()
    }

    /// The hook that counts a port's calls here, under `port`.
    fn counting(self: &Arc<Tally>, port: &'static str) -> Counted {
        Counted {
            tally: self.clone(),
            port,
        }
    }

    /// The counter of `function`'s invocations.
    pub fn function(&self, function: &str) -> Arc<Invocations> {
        let mut all = match self.invocations.lock() {
            Ok(all) => all,
            Err(e) => e.into_inner(),
        };
        all.entry(function.to_string()).or_default().clone()
    }

    /// `function -> (invocations, busy time)`.
    pub fn invocations(&self) -> BTreeMap<String, (u64, Duration)> {
        self.invocations
            .lock()
            .map(|all| {
                all.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            (
                                v.count.load(Ordering::Relaxed),
                                Duration::from_micros(v.busy_micros.load(Ordering::Relaxed)),
                            ),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The queue S3 notifies new objects to (polled, never sent to by the
    /// functions), with its calls counted here.
    pub fn wrap_object_created_queue(self: &Arc<Tally>, queue: Arc<dyn Queue>) -> Arc<dyn Queue> {
        Arc::new(Hooked::wrap(self.counting("object_created_queue"), queue))
    }

    /// `ports` with every call counted here.
    pub fn wrap(self: &Arc<Tally>, ports: Ports) -> Ports {
        Ports {
            times_two_queue: Arc::new(Hooked::wrap(
                self.counting("times_two_queue"),
                ports.times_two_queue,
            )),
            reduce_queue: Arc::new(Hooked::wrap(
                self.counting("reduce_queue"),
                ports.reduce_queue,
            )),
            scratchpad: Arc::new(Hooked::wrap(self.counting("scratchpad"), ports.scratchpad)),
            sums: Arc::new(Hooked::wrap(self.counting("sums"), ports.sums)),
            // Object reads are counted by the benchmark's object mode.
            objects: ports.objects,
            clock: ports.clock,
        }
    }
}

/// Counts every call of one port in a [`Tally`], and the scratchpad rows
/// it retires and reads.
struct Counted {
    tally: Arc<Tally>,
    /// The port's name in the tally: `times_two_queue`, `scratchpad`, …
    port: &'static str,
}

#[async_trait]
impl Hook for Counted {
    async fn around<'r, T: Answer, E: CallError + 'r>(
        &self,
        call: PortCall<'r>,
        run: &Run<'r, T, E>,
    ) -> Result<T, E> {
        self.tally.call(self.port, call.method());
        if let PortCall::Retire { rows } = call {
            self.tally
                .rows_retired
                .fetch_add(rows.len() as u64, Ordering::Relaxed);
        }
        let answer = run().await?;
        let rows_read = (&answer as &dyn Any).downcast_ref::<Vec<ScratchpadRow>>();
        if let (PortCall::Group { .. }, Some(rows)) = (call, rows_read) {
            self.tally
                .rows_read
                .fetch_add(rows.len() as u64, Ordering::Relaxed);
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use packet::Number;
    use pipeline::memory::MemoryBackend;
    use pipeline::{RowKey, SystemClock};

    fn row(packet_id: &str) -> ScratchpadRow {
        ScratchpadRow {
            key: RowKey {
                partition_key: "a".to_string(),
                packet_id: packet_id.to_string(),
            },
            packet_value: Number::parse("1").expect("a number").into(),
            array_length: 2,
            packet_contains: 1,
            elements: 1,
            expires_at: u64::MAX / 2,
            consumed: false,
        }
    }

    #[tokio::test]
    async fn counts_each_call_by_port_and_the_rows_retired_and_read() {
        let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
        let tally = Arc::new(Tally::default());
        let ports = tally.wrap(backend.ports());
        let rows = [row("L0-000000000"), row("L0-000000001")];
        for r in &rows {
            ports.scratchpad.put_new(r).await.expect("put");
        }
        let read = ports.scratchpad.group("a").await.expect("group");
        ports.scratchpad.retire(&read).await.expect("retire");
        ports.sums.get("a").await.expect("get");
        ports.times_two_queue.send(vec![]).await.expect("send");

        let calls: Vec<(String, u64)> = tally.calls().into_iter().collect();
        let expected = [
            ("scratchpad.group", 1),
            ("scratchpad.put_new", 2),
            ("scratchpad.retire", 1),
            ("sums.get", 1),
            ("times_two_queue.send", 1),
        ];
        let expected: Vec<(String, u64)> =
            expected.iter().map(|(c, n)| (c.to_string(), *n)).collect();
        assert_eq!(calls, expected);
        assert_eq!(tally.rows_read.load(Ordering::Relaxed), 2);
        assert_eq!(tally.rows_retired.load(Ordering::Relaxed), 2);
    }
}
