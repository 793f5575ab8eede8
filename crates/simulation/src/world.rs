//! The scheduler: plays the API client, Lambda's SQS event source mapping
//! and time, and polls every invocation by hand in an order drawn from the
//! seed.
//!
//! Invocations are plain boxed futures polled with a no-op waker, not tokio
//! tasks: the scheduler alone decides which one moves next, and a crash is
//! simply dropping a future at one of its scheduling points. Nothing reads a
//! real clock or a thread-local RNG, so a run is a pure function of its seed.

use crate::check::{check, Expected, Facts, KNOWN_DEFECT};
use crate::clock::VirtualClock;
use crate::faults::FaultKind;
use crate::jobs::PlanJob;
use crate::naive::naive_reduce;
use crate::objects::{Mutation, Start, BUCKET};
use crate::params::Params;
use crate::ports::{
    describe, short, BatchedScratchpad, FaultyObjects, FaultyQueue, RenamedSums, SimFaults,
};
use crate::state::{Sim, DENIED};
use crate::trace::Event;
use crate::{Options, Reducer, RunReport};
use futures::future::join_all;
use futures::FutureExt;
use packet::{MapMessage, ObjectRef, ObjectSource};
use pipeline::hooked::Hooked;
use pipeline::memory::{MemoryBackend, MemoryQueue};
use pipeline::{
    fail_dead_lettered, get_sum, reduce_batch, submit_job, submit_object_job, submit_with_key,
    times_two, Clock, Config, Idempotency, IdempotencyKey, ObjectError, ObjectJob,
    ObjectSubmitError, Ports, Queue, Received, StepError, SubmitError, Sums,
};
use rand::seq::SliceRandom;
use rand::Rng;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Why one item of an invocation failed.
struct Failure {
    transient: bool,
    text: String,
}

impl From<StepError> for Failure {
    fn from(e: StepError) -> Failure {
        Failure {
            transient: e.is_transient(),
            text: e.to_string(),
        }
    }
}

impl Failure {
    /// A failure the run injected on purpose (a denied call), which the
    /// steps must report, not avoid.
    fn injected(&self) -> bool {
        self.text.contains(DENIED)
    }
}

/// Virtual CPU time of mapping `elements` at `us_per_element` microseconds.
fn map_work_ms(us_per_element: u64, elements: usize) -> u64 {
    us_per_element.saturating_mul(elements as u64) / 1000
}

/// A batch's results as the scheduler sees them; first, like the handlers,
/// fails the array of each message that failed on its last receive.
async fn give_up_on_last<T>(
    ports: &Ports,
    function: &str,
    bodies: &[&str],
    last: &[bool],
    results: Vec<Result<T, StepError>>,
) -> Vec<Option<Failure>> {
    let mut out = Vec::with_capacity(results.len());
    for ((body, last), result) in bodies.iter().zip(last).zip(results) {
        match result {
            Ok(_) => out.push(None),
            Err(e) => {
                if *last {
                    fail_dead_lettered(ports, function, body, &e).await;
                }
                out.push(Some(Failure::from(e)));
            }
        }
    }
    out
}

enum Output {
    /// The random id `submit` answered with.
    Client(Result<String, Failure>),
    /// One entry per message of the batch.
    Batch(Vec<Option<Failure>>),
}

enum Kind {
    Client { plan: usize },
    Map { receipts: Vec<String> },
    Reduce { receipts: Vec<String> },
}

/// A running invocation, polled by hand.
type Invocation = Pin<Box<dyn Future<Output = Output>>>;

struct Task {
    id: u64,
    kind: Kind,
    /// When Lambda kills the invocation (if the run enforces timeouts).
    deadline_ms: u64,
    /// CPU time the invocation spends before its first call: a map's cost
    /// grows with the elements it doubles and sums.
    work_ms: u64,
    fut: Invocation,
}

/// Submit attempts per plan while faults are on.
const MAX_ATTEMPTS_UNDER_FAULTS: u32 = 3;

/// Most times the dead-letter queues are redriven before the run is declared stuck.
const MAX_REDRIVES: u32 = 50;

pub struct World<'a> {
    params: &'a Params,
    opts: &'a Options,
    sim: Arc<Sim>,
    clock: Arc<VirtualClock>,
    backend: MemoryBackend,
    ports: Ports,
    config: Config,
    tasks: Vec<Task>,
    next_task: u64,
    clients: VecDeque<usize>,
    /// Submit attempts per plan; a client gives up for the fault phase after
    /// [`MAX_ATTEMPTS_UNDER_FAULTS`] (each attempt may leave an orphan array).
    attempts: Vec<u32>,
    accepted: BTreeMap<String, usize>,
    /// Object plans: the ref of each version put (0: the original).
    versions: Vec<Vec<ObjectRef>>,
    /// Object plans: the id of the original's array.
    original_ids: Vec<String>,
    /// Object plans whose object was overwritten or deleted.
    mutated: Vec<bool>,
    /// Object array ids a client's `submit_object` answered, with the object plan.
    accepted_objects: BTreeMap<String, usize>,
    violations: Vec<String>,
    step: u64,
    redrives: u32,
    invocations: u64,
}

fn ports(
    sim: &Arc<Sim>,
    backend: &MemoryBackend,
    clock: &Arc<VirtualClock>,
    plan: Option<usize>,
) -> Ports {
    let queue = |inner: &Arc<MemoryQueue>, name| {
        Arc::new(FaultyQueue {
            sim: sim.clone(),
            inner: inner.clone(),
            name,
            rename: plan.is_some(),
        })
    };
    let faults = SimFaults {
        sim: sim.clone(),
        sums: backend.sums.clone(),
    };
    let scratchpad = Arc::new(BatchedScratchpad {
        sim: sim.clone(),
        inner: backend.scratchpad.clone(),
    });
    let sums: Arc<dyn Sums> = Arc::new(Hooked::wrap(faults.clone(), backend.sums.clone()));
    Ports {
        times_two_queue: queue(&backend.times_two_queue, "TimesTwo"),
        reduce_queue: queue(&backend.reduce_queue, "Reduce"),
        scratchpad: Arc::new(Hooked::wrap(faults, scratchpad)),
        sums: match plan {
            Some(plan) => Arc::new(RenamedSums {
                sim: sim.clone(),
                plan,
                inner: sums,
            }),
            None => sums,
        },
        objects: Arc::new(FaultyObjects {
            sim: sim.clone(),
            inner: backend.objects.clone(),
        }),
        clock: clock.clone(),
    }
}

impl<'a> World<'a> {
    pub fn new(params: &'a Params, opts: &'a Options) -> World<'a> {
        let sim = Arc::new(Sim::new(params.seed, params.rates, opts.trace_len));
        let clock = Arc::new(VirtualClock::new());
        let backend = MemoryBackend::new(clock.clone(), params.max_receive_count);
        backend.scratchpad.interleave_reads(params.interleave);
        let ports = ports(&sim, &backend, &clock, None);
        sim.lock().faults_on = params.fault_steps > 0;
        let versions: Vec<Vec<ObjectRef>> = params
            .objects
            .iter()
            .map(|o| vec![backend.objects.put(BUCKET, &o.key, o.content.bytes.clone())])
            .collect();
        let original_ids = params
            .objects
            .iter()
            .zip(&versions)
            .enumerate()
            .map(|(j, (o, v))| {
                let job = params.object_job(j);
                ObjectSource {
                    object: v[0].clone(),
                    size: o.content.bytes.len() as u64,
                    format: o.layout.format(),
                    key_column: job.key_column,
                }
                .array_id(&job.spec)
            })
            .collect();
        for (o, v) in params.objects.iter().zip(&versions) {
            if let Start::Notification { .. } = o.start {
                let etag = v[0].etag.clone().unwrap_or_default();
                let _ = backend
                    .times_two_queue
                    .send(vec![o.notification(&etag)])
                    .now_or_never();
            }
        }
        let n_arrays = params.arrays.len();
        let object_clients = params.objects.iter().enumerate().flat_map(|(j, o)| {
            let n = match o.start {
                Start::Clients(n) => n,
                Start::Notification { .. } => 0,
            };
            std::iter::repeat_n(n_arrays + j, n)
        });
        World {
            params,
            opts,
            sim,
            clock,
            backend,
            ports,
            // The TimesTwo function's configuration, with which it starts
            // the arrays of S3 notifications.
            config: Config {
                range_bytes: params.notify.range_bytes,
                fan_in: params.notify.fan_in,
                input_csv_column: params.notify.csv_column.clone(),
                notified_job: params.notified_job().spec,
                ..Config::default()
            },
            tasks: Vec::new(),
            next_task: 1,
            // A keyed plan has two clients, POSTing the same key at once.
            clients: (0..params.arrays.len())
                .flat_map(|p| std::iter::repeat_n(p, if params.keyed[p] { 2 } else { 1 }))
                .chain(object_clients)
                .collect(),
            attempts: vec![0; n_arrays + params.objects.len()],
            accepted: BTreeMap::new(),
            versions,
            original_ids,
            mutated: vec![false; params.objects.len()],
            accepted_objects: BTreeMap::new(),
            violations: Vec::new(),
            step: 0,
            redrives: 0,
            invocations: 0,
        }
    }

    fn trace(&self, event: Event) {
        self.sim.lock().trace.push(event);
    }

    fn gen_range(&self, range: std::ops::Range<usize>) -> usize {
        self.sim.lock().rng.gen_range(range)
    }

    fn roll(&self, kind: FaultKind) -> bool {
        self.sim.lock().roll(kind)
    }

    fn faults_on(&self) -> bool {
        self.sim.lock().faults_on
    }

    /// Runs to quiescence (or the step limit), then checks the properties.
    pub fn run(mut self) -> RunReport {
        loop {
            self.step += 1;
            {
                let mut s = self.sim.lock();
                s.trace.step = self.step;
                s.trace.now_ms = self.clock.elapsed_ms();
            }
            if self.step > self.opts.max_steps {
                self.violations.push(format!(
                    "no quiescence after {} scheduler steps ({} invocations running)",
                    self.opts.max_steps,
                    self.tasks.len()
                ));
                break;
            }
            self.object_events();
            if self.faults_on() {
                if self.step > self.params.fault_steps {
                    self.calm();
                } else {
                    self.tick();
                }
            }
            if !self.next() {
                break;
            }
        }
        self.finish()
    }

    /// Faults stop; handlers now run without time passing, so nothing expires
    /// under a running handler any more.
    fn calm(&mut self) {
        self.sim.lock().faults_on = false;
        self.trace(Event::Calm);
    }

    /// Handlers run in parallel, so a step of one of `n` running tasks takes
    /// about 1/n of a call's latency of wall time.
    fn tick(&mut self) {
        let ms = {
            let s = &mut *self.sim.lock();
            let n = self.tasks.len().max(1);
            if s.rng.gen_range(0..n) == 0 {
                s.rng.gen_range(0..=self.params.tick_max_ms)
            } else {
                0
            }
        };
        self.clock.advance(ms);
        if self.roll(FaultKind::Outage) {
            self.outage();
        }
        if !self.tasks.is_empty() && self.roll(FaultKind::VisibilityExpiry) {
            let to_ms = self.clock.advance(self.params.visibility_ms) - crate::clock::EPOCH_MS;
            self.trace(Event::Clock {
                to_ms,
                why: "slow handlers: visibility timeouts expire",
            });
        }
    }

    /// Time jumps past SQS's longest retention and the scratchpad's TTL:
    /// what AWS would have dropped or deleted by then is gone.
    fn outage(&mut self) {
        const FIFTEEN_DAYS_MS: u64 = 15 * 24 * 3600 * 1000;
        // No invocation outlives Lambda's 15-minute limit: whatever runs
        // now dies with the outage, and clients try again after it.
        for task in std::mem::take(&mut self.tasks) {
            self.trace(Event::Crash { task: task.id });
            if let Kind::Client { plan } = task.kind {
                self.clients.push_back(plan);
            }
        }
        let retention = Duration::from_secs(14 * 24 * 3600);
        let to_ms = self.clock.advance(FIFTEEN_DAYS_MS) - crate::clock::EPOCH_MS;
        for queue in [
            &self.backend.times_two_queue,
            &self.backend.times_two_dlq,
            &self.backend.reduce_queue,
            &self.backend.reduce_dlq,
        ] {
            queue.drop_expired(retention);
        }
        self.backend
            .scratchpad
            .delete_expired(self.clock.now_ms() / 1000);
        self.trace(Event::Clock {
            to_ms,
            why: "an outage of 15 days: messages past retention dropped, rows past their TTL deleted",
        });
    }

    /// One scheduler step; false once the run is over.
    fn next(&mut self) -> bool {
        let idle = self.tasks.is_empty();
        let roll = self.gen_range(0..100);
        if idle || roll < 3 {
            let faults = self.faults_on();
            let ready = self
                .clients
                .iter()
                .position(|p| !faults || self.attempts[*p] < MAX_ATTEMPTS_UNDER_FAULTS);
            if let Some(at) = ready {
                self.spawn_client(at);
                return true;
            }
        }
        if self.tasks.len() < self.params.concurrency && (idle || roll < 30) && self.deliver() {
            return true;
        }
        if !idle {
            let i = self.gen_range(0..self.tasks.len());
            let timed_out =
                self.params.enforce_timeout && self.clock.now_ms() >= self.tasks[i].deadline_ms;
            if timed_out || self.roll(FaultKind::Crash) {
                let task = self.tasks.remove(i);
                if timed_out {
                    self.sim.lock().counts.bump(FaultKind::Timeout);
                }
                self.trace(if timed_out {
                    Event::Timeout { task: task.id }
                } else {
                    Event::Crash { task: task.id }
                });
                if let Kind::Client { plan } = task.kind {
                    // The client saw a 5xx and will try again.
                    self.clients.push_back(plan);
                }
            } else if self.tasks[i].work_ms > 0 {
                // The handler computes; time passes, and Lambda may stop it
                // at its timeout before it gets further.
                let work = std::mem::take(&mut self.tasks[i].work_ms);
                self.clock.advance(work);
            } else {
                self.poll(i);
            }
            return true;
        }
        let (t2, rq) = (&self.backend.times_two_queue, &self.backend.reduce_queue);
        if t2.is_empty() && rq.is_empty() {
            if !self.clients.is_empty() {
                // Only clients waiting out the faults are left.
                self.calm();
                return true;
            }
            let dead = self.backend.times_two_dlq.len() + self.backend.reduce_dlq.len();
            if dead == 0 {
                return false;
            }
            if self.faults_on() {
                self.calm();
            }
            self.redrive();
            return self.redrives <= MAX_REDRIVES;
        }
        // Only hidden messages left, their handlers gone: wait for them to reappear.
        let wait = [t2.next_visible_in_ms(), rq.next_visible_in_ms()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(0)
            .max(1);
        let to_ms = self.clock.advance(wait) - crate::clock::EPOCH_MS;
        self.trace(Event::Clock {
            to_ms,
            why: "idle until a message is visible again",
        });
        true
    }

    fn spawn_client(&mut self, at: usize) {
        let Some(plan) = self.clients.remove(at) else {
            return;
        };
        self.attempts[plan] += 1;
        let id = self.next_task;
        self.next_task += 1;
        self.trace(Event::Submit { task: id, plan });
        if plan >= self.params.arrays.len() {
            self.spawn_object_client(id, plan);
            return;
        }
        let ports = ports(&self.sim, &self.backend, &self.clock, Some(plan));
        let a = &self.params.arrays[plan];
        let config = Config {
            chunk_size: a.chunk_size,
            fan_in: a.fan_in,
            ..Config::default()
        };
        let body = a.body();
        let job = self.params.array_job().spec;
        let key = self.params.keyed[plan].then(|| Idempotency {
            key: IdempotencyKey::parse(format!("plan-{plan}").as_bytes())
                .unwrap_or_else(|e| unreachable!("plan-N is a valid key: {e}")),
            caller: "sim".into(),
        });
        let fut = async move {
            let submitted = match &key {
                Some(key) => submit_with_key(&ports, &config, &body, &job, Some(key)).await,
                None => submit_job(&ports, &config, &body, &job).await,
            };
            Output::Client(match submitted {
                Ok(s) => Ok(s.array_id),
                // The API answers any port error 503, so a client retries
                // a denied call like a throttled one.
                Err(e) => Err(Failure {
                    transient: matches!(&e, SubmitError::Port(p) if p.is_transient())
                        || e.to_string().contains(DENIED),
                    text: e.to_string(),
                }),
            })
        };
        self.tasks.push(Task {
            id,
            deadline_ms: u64::MAX,
            work_ms: 0,
            kind: Kind::Client { plan },
            fut: Box::pin(fut),
        });
    }

    /// Plays the event source mapping: receives a batch and starts an invocation.
    fn deliver(&mut self) -> bool {
        let map_first = self.sim.lock().rng.gen_bool(0.5);
        for map in [map_first, !map_first] {
            let (queue, max, name) = if map {
                (
                    self.backend.times_two_queue.clone(),
                    self.params.map_batch,
                    "TimesTwo",
                )
            } else {
                (
                    self.backend.reduce_queue.clone(),
                    self.params.reduce_batch,
                    "Reduce",
                )
            };
            let visibility = Duration::from_millis(self.params.visibility_ms);
            let got = queue
                .receive(max, Duration::ZERO, visibility)
                .now_or_never()
                .and_then(Result::ok)
                .unwrap_or_default();
            if got.is_empty() {
                continue;
            }
            let id = self.next_task;
            self.next_task += 1;
            if self.roll(FaultKind::ReceiveLost) {
                self.trace(Event::Fault {
                    task: id,
                    kind: FaultKind::ReceiveLost,
                    what: format!("{name} receive of {} message(s)", got.len()),
                });
                return true;
            }
            let batch = self.disorder(id, &queue, got);
            self.trace(Event::Deliver {
                task: id,
                queue: name,
                messages: batch
                    .iter()
                    .map(|m| format!("{} (#{})", describe(&m.body), m.receive_count))
                    .collect(),
            });
            self.start_invocation(id, map, batch);
            return true;
        }
        false
    }

    /// What SQS may do to a batch: deliver it in another order, and send
    /// some of its messages again.
    fn disorder(&self, task: u64, queue: &MemoryQueue, mut batch: Vec<Received>) -> Vec<Received> {
        if batch.len() > 1 && self.roll(FaultKind::Reorder) {
            batch.shuffle(&mut self.sim.lock().rng);
        }
        for m in &batch {
            if self.roll(FaultKind::Duplicate) {
                self.trace(Event::Fault {
                    task,
                    kind: FaultKind::Duplicate,
                    what: describe(&m.body),
                });
                let _ = queue.send(vec![m.body.clone()]).now_or_never();
            }
        }
        batch
    }

    /// Starts the invocation of the map (`map`) or the reduce for `batch`.
    fn start_invocation(&mut self, id: u64, map: bool, batch: Vec<Received>) {
        let receipts = batch.iter().map(|m| m.receipt.clone()).collect();
        // Messages on their last receive: a failure fails their array,
        // as the handlers do before SQS dead-letters the message.
        let max_receive_count = self.params.max_receive_count;
        let last: Vec<bool> = batch
            .iter()
            .map(|m| m.receive_count >= max_receive_count)
            .collect();
        let bodies: Vec<String> = batch.into_iter().map(|m| m.body).collect();
        let (fut, kind, elements) = if map {
            let elements: usize = bodies
                .iter()
                .filter_map(|b| MapMessage::decode(b).ok())
                .map(|m| m.elements.len())
                .sum();
            let fut = self.map_invocation(bodies, last);
            (fut, Kind::Map { receipts }, elements)
        } else {
            let fut = self.reduce_invocation(bodies, last);
            (fut, Kind::Reduce { receipts }, 0)
        };
        self.invocations += 1;
        let deadline_ms = self.clock.now_ms() + self.params.function_timeout_ms;
        self.tasks.push(Task {
            id,
            kind,
            fut,
            deadline_ms,
            work_ms: map_work_ms(self.params.map_us_per_element, elements),
        });
    }

    fn map_invocation(&self, bodies: Vec<String>, last: Vec<bool>) -> Invocation {
        let (ports, config) = (self.ports.clone(), self.config.clone());
        Box::pin(async move {
            let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
            let results = times_two(&ports, &config, &refs, None).await;
            Output::Batch(give_up_on_last(&ports, "times_two", &refs, &last, results).await)
        })
    }

    fn reduce_invocation(&self, bodies: Vec<String>, last: Vec<bool>) -> Invocation {
        let (ports, config) = (self.ports.clone(), self.config.clone());
        match self.opts.reducer {
            Reducer::Real => {
                // The handler's deadline, as Lambda's context gives it.
                let deadline = self.clock.now_ms() + self.params.function_timeout_ms;
                Box::pin(async move {
                    let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
                    let results = reduce_batch(&ports, &config, &refs, Some(deadline)).await;
                    Output::Batch(give_up_on_last(&ports, "reduce", &refs, &last, results).await)
                })
            }
            Reducer::Naive => {
                let sim = self.sim.clone();
                Box::pin(async move {
                    let runs = bodies.iter().map(|b| naive_reduce(&ports, &sim, b));
                    let results = join_all(runs).await;
                    Output::Batch(
                        results
                            .into_iter()
                            .map(|r| r.err().map(Failure::from))
                            .collect(),
                    )
                })
            }
        }
    }

    fn poll(&mut self, i: usize) {
        let id = self.tasks[i].id;
        self.sim.lock().task = id;
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        let ready = self.tasks[i].fut.as_mut().poll(&mut cx);
        self.sim.lock().task = 0;
        if let Poll::Ready(out) = ready {
            let task = self.tasks.remove(i);
            self.complete(task, out);
        }
    }

    fn complete(&mut self, task: Task, out: Output) {
        match (task.kind, out) {
            (Kind::Client { plan }, Output::Client(result)) if plan >= self.params.arrays.len() => {
                self.object_submitted(task.id, plan, result)
            }
            (Kind::Client { plan }, Output::Client(result)) => {
                let text = match &result {
                    Ok(random) => {
                        let id = {
                            let s = self.sim.lock();
                            s.renamed.get(random).cloned().or_else(|| {
                                s.allocated
                                    .iter()
                                    .any(|(a, _)| a == random)
                                    .then(|| random.clone())
                            })
                        };
                        match id {
                            Some(id) => {
                                let name = short(&id);
                                self.accepted.insert(id, plan);
                                format!("accepted as {name}")
                            }
                            None => {
                                self.violations.push(format!(
                                    "submit answered an id never inserted: {random}"
                                ));
                                "accepted with an unknown id".into()
                            }
                        }
                    }
                    Err(f) => {
                        if f.transient {
                            self.clients.push_back(plan);
                        } else {
                            self.violations
                                .push(format!("submit of plan {plan} refused: {}", f.text));
                        }
                        format!("error: {}", f.text)
                    }
                };
                self.trace(Event::Submitted {
                    task: task.id,
                    plan,
                    result: text,
                });
            }
            (kind @ (Kind::Map { .. } | Kind::Reduce { .. }), Output::Batch(results)) => {
                let (queue, receipts) = match kind {
                    Kind::Map { receipts } => (self.backend.times_two_queue.clone(), receipts),
                    Kind::Reduce { receipts } => (self.backend.reduce_queue.clone(), receipts),
                    Kind::Client { .. } => return,
                };
                let mut done = Vec::new();
                let mut failed = Vec::new();
                for (receipt, r) in receipts.into_iter().zip(results) {
                    match r {
                        None => done.push(receipt),
                        Some(f) => {
                            if !f.transient && !f.injected() && self.opts.reducer == Reducer::Real {
                                self.violations.push(format!(
                                    "t{}: a step failed permanently: {}",
                                    task.id, f.text
                                ));
                            }
                            failed.push(f.text);
                        }
                    }
                }
                self.trace(Event::Finish {
                    task: task.id,
                    ok: done.len(),
                    failed,
                });
                let mut delete = Vec::new();
                for receipt in done {
                    if self.roll(FaultKind::DeleteLost) {
                        self.trace(Event::Fault {
                            task: task.id,
                            kind: FaultKind::DeleteLost,
                            what: format!("delete {receipt}"),
                        });
                    } else {
                        delete.push(receipt);
                    }
                }
                let _ = queue.delete(delete).now_or_never();
            }
            _ => self
                .violations
                .push("internal: task output does not match its kind".into()),
        }
    }

    /// Moves every dead-letter message back to its source queue.
    fn redrive(&mut self) {
        self.redrives += 1;
        let pairs = [
            (
                &self.backend.times_two_dlq,
                &self.backend.times_two_queue,
                "TimesTwo",
            ),
            (
                &self.backend.reduce_dlq,
                &self.backend.reduce_queue,
                "Reduce",
            ),
        ];
        for (dlq, source, name) in pairs {
            let got = dlq
                .receive(usize::MAX, Duration::ZERO, Duration::from_secs(60))
                .now_or_never()
                .and_then(Result::ok)
                .unwrap_or_default();
            if got.is_empty() {
                continue;
            }
            let receipts = got.iter().map(|m| m.receipt.clone()).collect();
            let bodies = got.into_iter().map(|m| m.body).collect::<Vec<_>>();
            let n = bodies.len();
            let _ = source.send(bodies).now_or_never();
            let _ = dlq.delete(receipts).now_or_never();
            let s = &mut *self.sim.lock();
            s.trace.push(Event::Redrive {
                queue: name,
                messages: n,
            });
        }
        if self.redrives > MAX_REDRIVES {
            self.violations.push(format!(
                "still messages in the DLQs after {MAX_REDRIVES} redrives"
            ));
        }
    }

    /// What a client or operator does once the pipeline has settled: reads
    /// every array (`GET /sums/{id}`, `adder pending`) after the arrays'
    /// deadlines, which ends every array still pending. Nothing else may be
    /// needed for every array to reach `done` or `failed`.
    fn read_every_array_late(&mut self) {
        let deadline = self.config.array_deadline.as_millis() as u64;
        self.clock.advance(deadline + 1);
        let mut ids: Vec<String> = self
            .sim
            .lock()
            .allocated
            .iter()
            .map(|(id, _)| id.clone())
            .collect();
        ids.extend(
            self.backend
                .sums
                .records()
                .into_iter()
                .filter(|r| r.source.is_some())
                .map(|r| r.array_id),
        );
        for id in ids {
            match get_sum(&self.backend.ports(), &id).now_or_never() {
                Some(Ok(_)) => {}
                Some(Err(e)) => self
                    .violations
                    .push(format!("{}: unreadable: {e}", short(&id))),
                None => self
                    .violations
                    .push(format!("{}: a read did not finish", short(&id))),
            }
        }
    }

    fn finish(mut self) -> RunReport {
        self.read_every_array_late();
        let array_job = self.params.array_job();
        let expected: Vec<Result<Expected, String>> = self
            .params
            .arrays
            .iter()
            .map(|a| Expected::of(a, &array_job))
            .collect();
        let object_jobs: Vec<PlanJob> = (0..self.params.objects.len())
            .map(|j| self.params.object_job(j))
            .collect();
        let mut violations = std::mem::take(&mut self.violations);
        let s = self.sim.lock();
        violations.extend(check(&Facts {
            plans: &self.params.arrays,
            expected: &expected,
            allocated: &s.allocated,
            keyed: &self.params.keyed,
            outage: s.counts.get(FaultKind::Outage) > 0,
            accepted: &self.accepted,
            observed: &s.observed,
            backend: &self.backend,
            objects: &crate::check::ObjectFacts {
                plans: &self.params.objects,
                jobs: &object_jobs,
                versions: &self.versions,
                mutated: &self.mutated,
                accepted: &self.accepted_objects,
                denied: &s.denied_objects,
            },
        }));
        let (tolerated, violations) = violations
            .into_iter()
            .partition(|v| !self.opts.strict && v.contains(KNOWN_DEFECT));
        RunReport {
            params: self.params.clone(),
            reducer: self.opts.reducer,
            counts: s.counts,
            violations,
            tolerated,
            trace: s.trace.lines(),
            digest: s.trace.digest(),
            events: s.trace.events(),
            steps: self.step,
            invocations: self.invocations,
            redrives: self.redrives,
            virtual_ms: self.clock.elapsed_ms(),
        }
    }
}

impl World<'_> {
    /// What happens to the objects at this step: a notification delivered
    /// again, an object overwritten or deleted once its array exists.
    fn object_events(&mut self) {
        for j in 0..self.params.objects.len() {
            let o = &self.params.objects[j];
            let plan = self.params.arrays.len() + j;
            if o.start == (Start::Notification { twice: true }) && self.step == o.renotify_at {
                let etag = self.versions[j][0].etag.clone().unwrap_or_default();
                let _ = self
                    .backend
                    .times_two_queue
                    .send(vec![o.notification(&etag)])
                    .now_or_never();
                self.trace(Event::Object {
                    plan,
                    what: "its notification is delivered again".into(),
                });
            }
            let Some(mutation) = &o.mutation else {
                continue;
            };
            if self.mutated[j] || self.step < o.mutate_after {
                continue;
            }
            let exists = matches!(
                self.backend.sums.get(&self.original_ids[j]).now_or_never(),
                Some(Ok(Some(_)))
            );
            if !exists {
                continue;
            }
            self.mutated[j] = true;
            let what = match mutation {
                Mutation::Overwrite(c) => {
                    let newer = self.backend.objects.put(BUCKET, &o.key, c.bytes.clone());
                    self.versions[j].push(newer);
                    format!("overwritten ({} bytes)", c.bytes.len())
                }
                Mutation::Delete => {
                    self.backend.objects.remove(BUCKET, &o.key);
                    "deleted".to_string()
                }
            };
            self.trace(Event::Object { plan, what });
        }
    }

    /// A client POSTing `/sumObject` for object plan `plan - arrays`.
    fn spawn_object_client(&mut self, id: u64, plan: usize) {
        let o = &self.params.objects[plan - self.params.arrays.len()];
        let ports = ports(&self.sim, &self.backend, &self.clock, None);
        let config = Config {
            range_bytes: o.range_bytes,
            fan_in: o.fan_in,
            ..self.config.clone()
        };
        let original = &self.versions[plan - self.params.arrays.len()][0];
        let object = ObjectRef {
            etag: if o.pin_etag {
                original.etag.clone()
            } else {
                None
            },
            ..original.clone()
        };
        let format = o.layout.request();
        let spec = self.params.object_job(plan - self.params.arrays.len()).spec;
        let fut = async move {
            // A job the pipeline refuses for this object is answered 400,
            // like any other refusal: a violation, since plans run only
            // jobs their objects take.
            let submitted = match ObjectJob::checked(&config, &spec, &format) {
                Ok(job) => submit_object_job(&ports, &config, &object, &format, &job).await,
                Err(e) => Err(ObjectSubmitError::Job(e)),
            };
            Output::Client(match submitted {
                Ok(s) => Ok(s.array_id),
                Err(e) => Err(Failure {
                    transient: object_error_is_transient(&e),
                    text: e.to_string(),
                }),
            })
        };
        self.tasks.push(Task {
            id,
            deadline_ms: u64::MAX,
            work_ms: 0,
            kind: Kind::Client { plan },
            fut: Box::pin(fut),
        });
    }

    fn object_submitted(&mut self, task: u64, plan: usize, result: Result<String, Failure>) {
        let j = plan - self.params.arrays.len();
        let text = match result {
            Ok(id) => {
                let known = matches!(
                    self.backend.sums.get(&id).now_or_never(),
                    Some(Ok(Some(r))) if r.source.is_some()
                );
                if !known {
                    self.violations.push(format!(
                        "submit_object answered an id with no object record: {id}"
                    ));
                }
                let text = format!("accepted as {}", short(&id));
                self.accepted_objects.insert(id, j);
                text
            }
            Err(f) => {
                if f.transient {
                    self.clients.push_back(plan);
                } else if f.text.contains("reading the object failed") {
                    // Finding 4: a broken GET of the header line answers 422.
                    self.violations.push(format!(
                        "a broken read refused as a bad format: submit_object of plan {plan} refused: {}",
                        f.text
                    ));
                    self.clients.push_back(plan);
                } else if !(f.injected() || self.mutated[j]) {
                    self.violations
                        .push(format!("submit_object of plan {plan} refused: {}", f.text));
                }
                format!("error: {}", f.text)
            }
        };
        self.trace(Event::Submitted {
            task,
            plan,
            result: text,
        });
    }
}

/// Whether the API answers 503 (the client tries again): port errors, as
/// for arrays, and transient object reads; a 4xx (missing, changed,
/// forbidden, bad format) is final.
fn object_error_is_transient(e: &ObjectSubmitError) -> bool {
    match e {
        ObjectSubmitError::Port(p) => p.is_transient() || p.to_string().contains(DENIED),
        ObjectSubmitError::Object(o @ ObjectError::Port(_)) => o.is_transient(),
        _ => false,
    }
}
