//! Running the queue handlers on the in-process backend, shared by the
//! handlers' test files (`mod drain;`).

use handlers::{handle_reduce, handle_times_two, sqs_event};
use pipeline::memory::{MemoryBackend, Stage};
use pipeline::{Config, Ports};

/// Runs both queue handlers on `ports` until `b`'s queues are empty; every
/// message must succeed.
#[allow(dead_code)] // Not every test file that shares this module uses it.
pub async fn drain(b: &MemoryBackend, ports: &Ports) {
    drain_with(b, ports, &Config::default()).await
}

/// [`drain`] with the handlers running `config` (its jobs, its settings).
#[allow(dead_code)] // Not every test file that shares this module uses it.
pub async fn drain_with(b: &MemoryBackend, ports: &Ports, config: &Config) {
    b.drain(1_000, |stage, batch| async move {
        let event = sqs_event(&batch);
        let response = match stage {
            Stage::Map => handle_times_two(ports, config, &event, None).await,
            Stage::Reduce => handle_reduce(ports, config, &event, None).await,
        };
        assert!(response.batch_item_failures.is_empty(), "a message failed");
        batch.into_iter().map(|m| m.receipt).collect()
    })
    .await
    .expect("the pipeline drains");
}
