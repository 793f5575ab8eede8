//! The original adder's reducer, rebuilt on the same ports, to show the
//! checker catches what it gets wrong.
//!
//! It reads any two live packets of the array, writes their combination (by
//! the array's job: their sum, for `sum`) under a fresh id with the counts
//! added, retires the two, and declares the array done as soon as a
//! packet's count reaches the array's length. Two reducers reading the same
//! pair both write one, so elements get counted twice.

use crate::state::Sim;
use packet::job::Registry;
use packet::ReduceMessage;
use pipeline::{Ports, RowKey, ScratchpadRow, Status, StepError};

/// Handles one Reduce message the naive way.
pub async fn naive_reduce(ports: &Ports, sim: &Sim, body: &str) -> Result<(), StepError> {
    let msg = ReduceMessage::decode(body)?;
    let record = ports
        .sums
        .get(&msg.array_id)
        .await?
        .ok_or_else(|| StepError::UnknownArray(msg.array_id.clone()))?;
    if record.status == Status::Done {
        return Ok(());
    }
    let mismatch = |what: String| StepError::Mismatch {
        array_id: msg.array_id.clone(),
        what,
    };
    let job = Registry::shipped()
        .job(&record.job)
        .map_err(|e| mismatch(e.to_string()))?;
    let rows = ports.scratchpad.group(&msg.array_id).await?;
    let live: Vec<ScratchpadRow> = rows.into_iter().filter(|r| !r.consumed).take(2).collect();
    let now = ports.clock.now_ms();
    match live.as_slice() {
        [one] if one.packet_contains >= record.array_length => {
            ports
                .sums
                .complete(&msg.array_id, &one.packet_value, one.elements, now)
                .await?;
        }
        [a, b] => {
            let fresh = {
                let mut s = sim.lock();
                s.fresh += 1;
                s.fresh
            };
            let merged = ScratchpadRow {
                key: RowKey {
                    partition_key: msg.array_id.clone(),
                    packet_id: format!("N-{fresh}"),
                },
                packet_value: job
                    .combine_stored(&[&a.packet_value, &b.packet_value])
                    .map_err(|e| mismatch(e.reason))?,
                array_length: record.array_length,
                packet_contains: a.packet_contains + b.packet_contains,
                elements: a.elements + b.elements,
                expires_at: a.expires_at,
                consumed: false,
            };
            ports.scratchpad.put_new(&merged).await?;
            ports.scratchpad.retire(&live).await?;
            if merged.packet_contains >= record.array_length {
                ports
                    .sums
                    .complete(&msg.array_id, &merged.packet_value, merged.elements, now)
                    .await?;
            } else {
                ports.reduce_queue.send(vec![body.to_string()]).await?;
            }
        }
        _ => {}
    }
    Ok(())
}
