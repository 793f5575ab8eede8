//! Fault-injecting ports around the in-process ones: the scratchpad and
//! sums table are `pipeline::hooked` ports with the [`SimFaults`] hook; the
//! queue and the object store, whose faults are special, wrap by hand.
//!
//! Every call is a scheduling point before and after it takes effect, so the
//! scheduler can run other tasks in between or drop the caller there (a crash
//! before the call, or after it took effect but before the caller learned).
//! Multi-item writes are applied in chunks, as the AWS ports must (SQS
//! batches of 10, DynamoDB batches of 25), with a scheduling point between
//! chunks, so they can fail or die part-way.

use crate::state::{Sim, DENIED};
use async_trait::async_trait;
use packet::ObjectRef;
use pipeline::hooked::{Answer, CallError, Hook, PortCall, Run};
use pipeline::memory::{MemoryQueue, MemoryScratchpad, MemorySums};
use pipeline::{Claimed, KeyClaim};
use pipeline::{
    Completion, Failing, Failure, PortError, Progress, Put, Queue, Received, Scratchpad,
    ScratchpadRow, SumRecord, Sums,
};
use pipeline::{MemoryObjects, ObjectBody, ObjectError, ObjectInfo, Objects};
use rand::Rng;
use std::future::Future;
use std::io::{self, BufRead, Read};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// A future that is pending once: a point where the scheduler takes over.
pub struct YieldPoint(bool);

impl Future for YieldPoint {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

pub fn yield_point() -> YieldPoint {
    YieldPoint(false)
}

/// Short, stable name of an array id for the trace (`a3` for the third id).
pub fn short(array_id: &str) -> String {
    match array_id.rsplit_once('-') {
        Some((_, tail)) if array_id.starts_with("00000000-0000-4000-8000-") => {
            let n = u64::from_str_radix(tail, 16).unwrap_or(0);
            format!("a{n}")
        }
        _ => array_id.chars().take(8).collect(),
    }
}

/// A partition key for the trace: `a3` or `a3/L1-000000002`.
fn short_key(key: &str) -> String {
    match key.split_once('/') {
        Some((id, rest)) => format!("{}/{rest}", short(id)),
        None => short(key),
    }
}

/// The text of JSON string field `field` in `body`, found without parsing
/// (the trace describes every delivery, so this must be cheap).
fn field<'b>(body: &'b str, field: &str) -> Option<&'b str> {
    let start = body.find(&format!("\"{field}\":"))? + field.len() + 3;
    let rest = &body[start..];
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let end = rest.find(['"', ',', '}'])?;
    Some(&rest[..end])
}

/// One line about a queue message body for the trace.
pub fn describe(body: &str) -> String {
    if pipeline::is_notification(body) {
        let key = field(body, "key").unwrap_or_default();
        return format!("notify {key}");
    }
    let id = field(body, "arrayId").map(short).unwrap_or_default();
    if let Some(leaf) = field(body, "packetId") {
        return format!("map {id} {leaf}");
    }
    if let Some(at) = body.find("\"targets\":[") {
        let rest = &body[at + 11..];
        let targets = &rest[..rest.find(']').unwrap_or(rest.len())];
        return format!("reduce {id} [{}]", targets.replace('"', ""));
    }
    format!("{:?}", body.chars().take(60).collect::<String>())
}

/// The queue the steps send to.
pub struct FaultyQueue {
    pub sim: Arc<Sim>,
    pub inner: Arc<MemoryQueue>,
    pub name: &'static str,
    /// Replace `submit`'s random array ids with the deterministic ones.
    pub rename: bool,
}

#[async_trait]
impl Queue for FaultyQueue {
    async fn send(&self, bodies: Vec<String>) -> Result<(), PortError> {
        let mut bodies = bodies;
        if self.rename {
            // `submit`'s bodies start with `{"arrayId":"<36-char uuid>"`.
            const AT: std::ops::Range<usize> = 12..48;
            let s = self.sim.lock();
            for body in &mut bodies {
                if let Some(to) = body.get(AT).and_then(|from| s.renamed.get(from)).cloned() {
                    body.replace_range(AT, &to);
                }
            }
        }
        let key = match bodies.as_slice() {
            [one] => format!("{} {}", self.name, describe(one)),
            many => format!("{} x{}", self.name, many.len()),
        };
        yield_point().await;
        self.sim.before("send", &key)?;
        let mut sent = 0;
        for chunk in bodies.chunks(10) {
            if sent > 0 {
                yield_point().await;
                self.sim.partial("send", &key)?;
            }
            self.inner.send(chunk.to_vec()).await?;
            if self.sim.retried("send", &key) {
                // SendMessageBatch has no idempotency token: a retry sends
                // the same entries again.
                self.inner.send(chunk.to_vec()).await?;
            }
            sent += chunk.len();
        }
        yield_point().await;
        self.sim.after("send", &key)
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Received>, PortError> {
        // The steps never receive; the scheduler plays the event source mapping.
        self.inner.receive(max, wait, visibility).await
    }

    async fn delete(&self, receipts: Vec<String>) -> Result<(), PortError> {
        self.inner.delete(receipts).await
    }

    /// Only the local runner's pollers release, when they stop: not
    /// simulated (a stopping runner is a crash here, the harsher case).
    async fn release(&self, receipts: Vec<String>) -> Result<(), PortError> {
        self.inner.release(receipts).await
    }
}

/// The faults a call through a simulated scratchpad or sums table may meet:
/// a scheduling point before and after it, an error before it takes effect
/// or after, and for a write the SDK retries, a second run, its first
/// answer lost. The special faults are not here: partial writes (the
/// queue's sends, [`BatchedScratchpad`]'s retires), renamed ids
/// ([`RenamedSums`], [`FaultyQueue`]) and broken bodies ([`FaultyObjects`]).
#[derive(Clone)]
pub struct SimFaults {
    pub sim: Arc<Sim>,
    /// Read after each write of a sum, to record every `done` value seen.
    pub sums: Arc<MemorySums>,
}

/// How the trace names a call and what it is on (`sums.insert`, `a3`), for
/// the calls [`SimFaults`] injects faults into; the others pass untouched.
fn traced(call: &PortCall<'_>) -> Option<(&'static str, String)> {
    Some(match *call {
        PortCall::PutNew { row } => (
            "put_new",
            format!(
                "{} {}",
                short_key(&row.key.partition_key),
                row.key.packet_id
            ),
        ),
        PortCall::Group { partition_key } => ("group", short_key(partition_key)),
        PortCall::Retire { rows } => ("retire", retire_key(rows)),
        PortCall::ClaimIdempotencyKey { claim, .. } => {
            ("sums.claim", format!("claim {}", claim.key))
        }
        PortCall::Insert { record } => ("sums.insert", short(&record.array_id)),
        PortCall::Get { array_id } => ("sums.get", short(array_id)),
        PortCall::Complete {
            array_id, result, ..
        } => ("sums.complete", format!("{} = {result}", short(array_id))),
        PortCall::AddProgress { array_id, progress } => (
            "sums.add_progress",
            format!(
                "{} += {} elements, {} bytes",
                short(array_id),
                progress.elements,
                progress.bytes
            ),
        ),
        PortCall::MarkEnqueued { array_id } => ("sums.mark_enqueued", short(array_id)),
        PortCall::Fail {
            array_id, failure, ..
        } => (
            "sums.fail",
            format!("{} {}", short(array_id), failure.kind.as_str()),
        ),
        PortCall::Send { .. }
        | PortCall::Receive { .. }
        | PortCall::Delete { .. }
        | PortCall::Release { .. }
        | PortCall::Head { .. }
        | PortCall::ReadFrom { .. } => return None,
    })
}

/// The trace's name for a retire of `rows`.
fn retire_key(rows: &[ScratchpadRow]) -> String {
    match rows.first() {
        Some(r) => format!("{} x{}", short_key(&r.key.partition_key), rows.len()),
        None => "x0".to_string(),
    }
}

/// Whether the SDK sends `call` again when its answer is lost: every write
/// but `add_progress`, which the AWS adapter sends once (`Sums::add_progress`).
/// Batched writes retry per batch, where they are applied.
fn retried_by_sdk(call: &PortCall<'_>) -> bool {
    matches!(
        call,
        PortCall::PutNew { .. }
            | PortCall::ClaimIdempotencyKey { .. }
            | PortCall::Insert { .. }
            | PortCall::Complete { .. }
            | PortCall::MarkEnqueued { .. }
            | PortCall::Fail { .. }
    )
}

impl SimFaults {
    /// Records the result of `array_id` if it is done.
    async fn observe(&self, array_id: &str) {
        if let Ok(Some(r)) = self.sums.get(array_id).await {
            if let Some(text) = done_value(&r) {
                let mut s = self.sim.lock();
                let seen = s.observed.entry(array_id.to_string()).or_default();
                if seen.last() != Some(&text) {
                    seen.push(text);
                }
            }
        }
    }
}

/// A done array's result as text: its job's, read from the attribute that
/// job's results are kept in (`sum`'s Number, any other job's text).
pub fn done_value(r: &SumRecord) -> Option<String> {
    if r.status != pipeline::Status::Done {
        return None;
    }
    match r.job.is_default() {
        true => r.sum.as_ref().map(ToString::to_string),
        false => r.result.clone(),
    }
}

#[async_trait]
impl Hook for SimFaults {
    async fn around<'r, T: Answer, E: CallError + 'r>(
        &self,
        call: PortCall<'r>,
        run: &Run<'r, T, E>,
    ) -> Result<T, E> {
        let Some((op, key)) = traced(&call) else {
            return run().await;
        };
        yield_point().await;
        self.sim.before(op, &key)?;
        let mut answer = run().await?;
        if retried_by_sdk(&call) && self.sim.retried(op, &key) {
            answer = run().await?;
        }
        match call {
            PortCall::Insert { record } => self.observe(&record.array_id).await,
            PortCall::Complete { array_id, .. } => self.observe(array_id).await,
            _ => {}
        }
        yield_point().await;
        self.sim.after(op, &key)?;
        Ok(answer)
    }
}

/// The in-process scratchpad with `retire` applied in batches of 1 to 25
/// rows (DynamoDB's BatchWriteItem takes 25), with a scheduling point
/// between batches, so that it can fail or die part-way.
pub struct BatchedScratchpad {
    pub sim: Arc<Sim>,
    pub inner: Arc<MemoryScratchpad>,
}

#[async_trait]
impl Scratchpad for BatchedScratchpad {
    async fn put_new(&self, row: &ScratchpadRow) -> Result<Put, PortError> {
        self.inner.put_new(row).await
    }

    async fn group(&self, partition_key: &str) -> Result<Vec<ScratchpadRow>, PortError> {
        self.inner.group(partition_key).await
    }

    async fn retire(&self, rows: &[ScratchpadRow]) -> Result<(), PortError> {
        let key = retire_key(rows);
        let mut done = 0;
        while done < rows.len() {
            let size = self.sim.lock().rng.gen_range(1..=25usize);
            let chunk = &rows[done..(done + size).min(rows.len())];
            if done > 0 {
                yield_point().await;
                self.sim.partial("retire", &key)?;
            }
            self.inner.retire(chunk).await?;
            done += chunk.len();
        }
        Ok(())
    }
}

/// A client's sums table: `submit` draws random v4 array ids, which are
/// swapped for deterministic ones so that a seed always replays the same
/// run. Calls that never carry a random id pass unchanged.
pub struct RenamedSums {
    pub sim: Arc<Sim>,
    /// The plan the client submits.
    pub plan: usize,
    pub inner: Arc<dyn Sums>,
}

impl RenamedSums {
    /// The deterministic id a random array id was renamed to.
    fn real_id(&self, array_id: &str) -> String {
        let renamed = self.sim.lock().renamed.get(array_id).cloned();
        renamed.unwrap_or_else(|| array_id.to_string())
    }
}

#[async_trait]
impl Sums for RenamedSums {
    async fn claim_idempotency_key(
        &self,
        claim: &KeyClaim<'_>,
        now_s: u64,
    ) -> Result<Claimed, PortError> {
        // The claim names the array it would start: that id is renamed
        // now, so a repeat that finds the claim reads a deterministic id.
        let renamed = self.sim.lock().deterministic_id(claim.array_id, self.plan);
        let claim = KeyClaim {
            array_id: &renamed,
            ..claim.clone()
        };
        self.inner.claim_idempotency_key(&claim, now_s).await
    }

    async fn insert(&self, record: &SumRecord) -> Result<Put, PortError> {
        let mut record = record.clone();
        record.array_id = self
            .sim
            .lock()
            .deterministic_id(&record.array_id, self.plan);
        self.inner.insert(&record).await
    }

    async fn get(&self, array_id: &str) -> Result<Option<SumRecord>, PortError> {
        self.inner.get(&self.real_id(array_id)).await
    }

    async fn complete(
        &self,
        array_id: &str,
        result: &packet::job::Stored,
        elements: u64,
        finished_at_ms: u64,
    ) -> Result<Completion, PortError> {
        self.inner
            .complete(array_id, result, elements, finished_at_ms)
            .await
    }

    async fn add_progress(&self, array_id: &str, progress: Progress) -> Result<(), PortError> {
        self.inner.add_progress(array_id, progress).await
    }

    async fn mark_enqueued(&self, array_id: &str) -> Result<(), PortError> {
        self.inner.mark_enqueued(array_id).await
    }

    async fn fail(
        &self,
        array_id: &str,
        failure: &Failure,
        now_ms: u64,
    ) -> Result<Failing, PortError> {
        self.inner
            .fail(&self.real_id(array_id), failure, now_ms)
            .await
    }
}

/// The object store the steps see: S3's HeadObject and ranged GetObject
/// fail, throttle and die like every other call; a GET's answer may also
/// break part-way through its body (the "after" fault of a read).
pub struct FaultyObjects {
    pub sim: Arc<Sim>,
    pub inner: Arc<MemoryObjects>,
}

impl FaultyObjects {
    /// An injected error before a call: a simulated AccessDenied is what S3
    /// answers a function without `s3:GetObject` (403, [`ObjectError::Forbidden`]).
    fn refused(&self, e: PortError, object: &ObjectRef) -> ObjectError {
        match e {
            PortError::Rejected(text) if text.contains(DENIED) => {
                self.sim.lock().denied_objects.insert(object.key.clone());
                ObjectError::Forbidden(format!("{object} ({text})"))
            }
            other => ObjectError::Port(other),
        }
    }
}

#[async_trait]
impl Objects for FaultyObjects {
    async fn head(&self, object: &ObjectRef) -> Result<ObjectInfo, ObjectError> {
        yield_point().await;
        self.sim
            .before("s3.head", &object.key)
            .map_err(|e| self.refused(e, object))?;
        let info = self.inner.head(object).await?;
        yield_point().await;
        self.sim.after("s3.head", &object.key)?;
        Ok(info)
    }

    async fn read_from(&self, object: &ObjectRef, from: u64) -> Result<ObjectBody, ObjectError> {
        let key = format!("{} from {from}", object.key);
        yield_point().await;
        self.sim
            .before("s3.get", &key)
            .map_err(|e| self.refused(e, object))?;
        let body = self.inner.read_from(object, from).await?;
        yield_point().await;
        if let Err(e) = self.sim.after("s3.get", &key) {
            let cut_at = {
                let s = &mut *self.sim.lock();
                let cut_at = s.rng.gen_bool(0.5).then(|| s.rng.gen_range(0..64usize));
                if let Some(left) = cut_at {
                    let task = s.task;
                    s.trace.push(crate::trace::Event::Call {
                        task,
                        op: "s3.get body breaks",
                        key: format!("{key} after {left} more bytes"),
                    });
                }
                cut_at
            };
            return match (cut_at, body) {
                (Some(left), ObjectBody::Local(inner)) => {
                    Ok(ObjectBody::Local(Box::new(CutBody { inner, left })))
                }
                _ => Err(e.into()),
            };
        }
        Ok(body)
    }
}

/// A GetObject body whose connection resets after `left` more bytes.
struct CutBody {
    inner: Box<dyn BufRead + Send>,
    left: usize,
}

impl Read for CutBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = {
            let got = self.fill_buf()?;
            let n = got.len().min(buf.len());
            buf[..n].copy_from_slice(&got[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for CutBody {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.left == 0 {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "simulated: the GetObject stream broke",
            ));
        }
        let left = self.left;
        let got = self.inner.fill_buf()?;
        Ok(&got[..got.len().min(left)])
    }

    fn consume(&mut self, amt: usize) {
        self.left = self.left.saturating_sub(amt);
        self.inner.consume(amt);
    }
}
