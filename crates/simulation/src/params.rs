//! A run's parameters, drawn from its seed: the arrays, the pipeline's shape,
//! the event source mapping's settings and the fault mix.

use crate::elements::element;
use crate::faults::FaultKind;
use crate::jobs::{groups_fit, JobKind, PlanJob};
use crate::objects::{NotifyConfig, ObjectPlan};
use crate::state::Rates;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::fmt;

/// One array a client submits, with the configuration its `sum_array` uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayPlan {
    /// Element texts, exactly as they appear in the JSON body.
    pub elements: Vec<String>,
    pub chunk_size: u64,
    pub fan_in: u64,
}

impl ArrayPlan {
    pub fn body(&self) -> String {
        format!("[{}]", self.elements.join(","))
    }
}

/// Which faults a run injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMix {
    None,
    Only(FaultKind),
    Mixed,
}

/// Everything a run depends on besides its seed's scheduling draws.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub seed: u64,
    pub arrays: Vec<ArrayPlan>,
    /// Most invocations running at once (Lambda's ESM concurrency).
    pub concurrency: usize,
    pub map_batch: usize,
    pub reduce_batch: usize,
    /// Lambda's function timeout: the reduce handler's deadline.
    pub function_timeout_ms: u64,
    /// Whether Lambda kills a handler at its timeout. When off, a handler
    /// may outlive its messages' visibility timeout, as with a too-short
    /// visibility timeout in a misconfigured queue.
    pub enforce_timeout: bool,
    pub visibility_ms: u64,
    pub max_receive_count: u32,
    /// Whether a scratchpad Query yields between items.
    pub interleave: bool,
    /// Most virtual milliseconds one scheduler step takes during the fault phase.
    pub tick_max_ms: u64,
    /// Scheduler steps with faults on; then the run goes on fault-free.
    pub fault_steps: u64,
    pub mix: FaultMix,
    pub rates: Rates,
    /// Per plan: submitted with an `Idempotency-Key`, by two clients at
    /// once (the same key and body), each retrying on errors.
    pub keyed: Vec<bool>,
    /// CPU cost of the map per element, in microseconds: with large
    /// batches of large packets, Lambda's timeout follows from the work.
    pub map_us_per_element: u64,
    /// Arrays summed from S3 objects, drawn from their own RNG stream; plan
    /// `arrays.len() + j` in the trace is object plan `j`.
    pub objects: Vec<ObjectPlan>,
    /// How the TimesTwo function handles S3 notifications.
    pub notify: NotifyConfig,
    /// The run's job, drawn from its own RNG stream ([`crate::jobs::draw`]).
    /// A plan that cannot run it runs `sum` ([`Params::array_job`],
    /// [`Params::object_job`]).
    pub job: JobKind,
    /// Per object plan: the CSV column `sum-by` groups by (`None`: not CSV).
    pub group_by: Vec<Option<usize>>,
}

fn array(rng: &mut SmallRng) -> ArrayPlan {
    let n = match rng.gen_range(0..100) {
        0..=7 => rng.gen_range(0..=3),
        8..=61 => rng.gen_range(1..=60),
        62..=93 => rng.gen_range(60..=400),
        _ => rng.gen_range(400..=2000),
    };
    // Log-uniform, so small chunks (deep trees, many leaves) are common.
    let chunk_size = (rng.gen_range(0.0f64..(301f64).ln()).exp() as u64).clamp(1, 300);
    let fan_in = match rng.gen_range(0..10) {
        0..=4 => rng.gen_range(2..=4),
        5..=7 => rng.gen_range(5..=16),
        _ => rng.gen_range(17..=64),
    };
    ArrayPlan {
        elements: (0..n).map(|_| element(rng)).collect(),
        chunk_size,
        fan_in,
    }
}

fn rate(rng: &mut SmallRng, kind: FaultKind) -> f64 {
    let (lo, hi) = match kind {
        FaultKind::Duplicate => (0.02, 0.2),
        FaultKind::ReceiveLost => (0.01, 0.2),
        FaultKind::Reorder => (0.1, 1.0),
        FaultKind::VisibilityExpiry => (0.0005, 0.01),
        FaultKind::Crash => (0.001, 0.03),
        FaultKind::ErrorBefore => (0.005, 0.08),
        FaultKind::ErrorAfter => (0.005, 0.08),
        FaultKind::PartialWrite => (0.02, 0.3),
        FaultKind::DeleteLost => (0.02, 0.3),
        FaultKind::Timeout => (0.0, 0.0),
        FaultKind::RetriedAfterApplied => (0.01, 0.1),
        // Of the calls that fail before taking effect, the share that fail for good.
        FaultKind::Denied => (0.05, 0.3),
        // Per scheduler tick while faults are on: a few per run at most.
        FaultKind::Outage => (0.00002, 0.0002),
    };
    if lo < hi {
        rng.gen_range(lo..hi)
    } else {
        lo
    }
}

impl Params {
    /// The parameters of seed `seed`.
    pub fn from_seed(seed: u64) -> Params {
        let mut rng = SmallRng::seed_from_u64(seed);
        let arrays: Vec<ArrayPlan> = (0..rng.gen_range(1..=5)).map(|_| array(&mut rng)).collect();
        let n_arrays = arrays.len();
        let concurrency = if rng.gen_bool(0.3) {
            rng.gen_range(1..=3)
        } else {
            rng.gen_range(1..=50)
        };
        let mut rates = Rates::default();
        let mix = match rng.gen_range(0..20) {
            0 => FaultMix::None,
            // Timeouts are not drawn from a rate; they follow from slow handlers.
            k @ 1..=9 => FaultMix::Only(FaultKind::ALL[k - 1]),
            _ => FaultMix::Mixed,
        };
        match mix {
            FaultMix::None => {}
            FaultMix::Only(kind) => rates.set(kind, rate(&mut rng, kind)),
            FaultMix::Mixed => {
                for kind in FaultKind::ALL {
                    let later = [
                        FaultKind::Timeout,
                        FaultKind::RetriedAfterApplied,
                        FaultKind::Denied,
                    ];
                    if !later.contains(&kind) && rng.gen_bool(0.75) {
                        let p = rate(&mut rng, kind);
                        rates.set(kind, p);
                    }
                }
            }
        }
        let function_timeout_ms = rng.gen_range(6_000..=60_000);
        let mut params = Params {
            seed,
            arrays,
            concurrency,
            map_batch: rng.gen_range(1..=10),
            reduce_batch: rng.gen_range(1..=10),
            function_timeout_ms,
            enforce_timeout: rng.gen_bool(0.5),
            visibility_ms: if rng.gen_bool(0.3) {
                // Shorter than the function timeout: copies overlap handlers.
                rng.gen_range(300..function_timeout_ms)
            } else {
                function_timeout_ms * rng.gen_range(1..=6)
            },
            max_receive_count: rng.gen_range(1..=10),
            interleave: rng.gen_bool(0.7),
            tick_max_ms: rng.gen_range(1..=50),
            fault_steps: if rng.gen_bool(0.2) {
                rng.gen_range(20_000..=60_000)
            } else {
                rng.gen_range(0..=20_000)
            },
            mix,
            rates: Self::sdk_faults(&mut rng, mix, rates),
            // Drawn last, like the SDK's faults, to keep earlier draws.
            keyed: (0..n_arrays).map(|_| rng.gen_bool(0.3)).collect(),
            map_us_per_element: 1,
            objects: Vec::new(),
            notify: NotifyConfig {
                range_bytes: 1,
                fan_in: 2,
                csv_column: "0".into(),
            },
            job: JobKind::Sum,
            group_by: Vec::new(),
        };
        // Drawn after everything else, for the same reason.
        if params.mix == FaultMix::Mixed && rng.gen_bool(0.3) {
            let p = rate(&mut rng, FaultKind::Outage);
            params.rates.set(FaultKind::Outage, p);
        }
        // A slow map in some runs: up to 100 µs per element, over a hundred
        // times the measured worst case of a packet of canonical elements
        // (`cargo bench -p packet -- "worst case"`: 0.77 ms per 1,000). Before
        // elements were bounded a map could cost 142 µs per element and more;
        // at 20 ms per element this simulation ends in timeouts that no
        // retry survives (batches dead-lettered again after every redrive).
        if rng.gen_bool(0.3) {
            params.map_us_per_element = rng.gen_range(1..=100);
        }
        (params.objects, params.notify) = crate::objects::from_seed(seed);
        (params.job, params.group_by) = crate::jobs::draw(seed, &params.objects);
        params
    }

    /// The same run with job `job` (the `--job` flag, `SIM_JOB`): nothing
    /// else changes, since every other draw is the job's own.
    pub fn with_job(mut self, job: JobKind) -> Params {
        self.job = job;
        self
    }

    /// What the array plans run: their JSON bodies have no column to group
    /// by, so `sum-by` runs `sum`.
    pub fn array_job(&self) -> PlanJob {
        match self.job {
            JobKind::Stats => PlanJob::stats(),
            JobKind::Sum | JobKind::SumBy => PlanJob::sum(),
        }
    }

    /// The TimesTwo function's `NOTIFIED_JOB`: the run's job if it groups
    /// nothing (a keyed one would fail every object not in CSV), else `sum`.
    pub fn notified_job(&self) -> PlanJob {
        self.array_job()
    }

    /// What object plan `j` runs: a notified one its function's job;
    /// `sum-by` in a CSV layout only, and only with few enough keys.
    pub fn object_job(&self, j: usize) -> PlanJob {
        let Some(plan) = self.objects.get(j) else {
            return PlanJob::sum();
        };
        if matches!(plan.start, crate::objects::Start::Notification { .. }) {
            return self.notified_job();
        }
        match (self.job, self.group_by.get(j).copied().flatten()) {
            (JobKind::SumBy, Some(c)) if groups_fit(plan, c) => {
                PlanJob::sum_by(c, plan.layout.column_name(c))
            }
            _ => self.array_job(),
        }
    }

    /// The faults of the SDK around a call, drawn last so that adding them
    /// left every earlier draw of a seed as it was: in mixed runs, and alone
    /// with transient errors (to which permanent ones belong).
    fn sdk_faults(rng: &mut SmallRng, mix: FaultMix, mut rates: Rates) -> Rates {
        let mixed = mix == FaultMix::Mixed;
        if (mixed || mix == FaultMix::Only(FaultKind::ErrorAfter)) && rng.gen_bool(0.75) {
            let p = rate(rng, FaultKind::RetriedAfterApplied);
            rates.set(FaultKind::RetriedAfterApplied, p);
        }
        if (mixed || mix == FaultMix::Only(FaultKind::ErrorBefore)) && rng.gen_bool(0.75) {
            let p = rate(rng, FaultKind::Denied);
            rates.set(FaultKind::Denied, p);
        }
        rates
    }

    /// The same run for the naive reducer: one partition per array (fan-in
    /// above any leaf count), as the original kept every packet under arrayId.
    pub fn for_naive(mut self) -> Params {
        for a in &mut self.arrays {
            a.fan_in = 4096;
        }
        for o in &mut self.objects {
            o.fan_in = 4096;
        }
        self.notify.fan_in = 4096;
        self
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {}: job {}, concurrency {}, batch map {} / reduce {}, function timeout {} ms (enforced {}), visibility {} ms, maxReceiveCount {}, interleaved reads {}, tick <= {} ms, fault steps {}",
            self.seed,
            self.job,
            self.concurrency,
            self.map_batch,
            self.reduce_batch,
            self.function_timeout_ms,
            self.enforce_timeout,
            self.visibility_ms,
            self.max_receive_count,
            self.interleave,
            self.tick_max_ms,
            self.fault_steps,
        )?;
        let mix = match self.mix {
            FaultMix::None => "none".to_string(),
            FaultMix::Only(k) => format!("only {}", k.name()),
            FaultMix::Mixed => "mixed".to_string(),
        };
        writeln!(f, "  faults: {mix}: {}", self.rates)?;
        writeln!(f, "  map cost: {} µs per element", self.map_us_per_element)?;
        let keyed: Vec<usize> = (0..self.keyed.len()).filter(|&i| self.keyed[i]).collect();
        if !keyed.is_empty() {
            writeln!(
                f,
                "  plans submitted with an Idempotency-Key by two clients: {keyed:?}"
            )?;
        }
        for (i, a) in self.arrays.iter().enumerate() {
            let n = a.elements.len() as u64;
            let shape = match packet::Tree::new(n, a.chunk_size, a.fan_in) {
                Ok(t) => format!("{} leaves, root {}", t.leaves(), t.root()),
                Err(_) => "no tree".to_string(),
            };
            writeln!(
                f,
                "  plan {i}: {n} elements, chunk {}, fan-in {} ({shape})",
                a.chunk_size, a.fan_in
            )?;
        }
        if self
            .objects
            .iter()
            .any(|o| matches!(o.start, crate::objects::Start::Notification { .. }))
        {
            writeln!(
                f,
                "  notifications: range {} bytes, fan-in {}, CSV column {:?}",
                self.notify.range_bytes, self.notify.fan_in, self.notify.csv_column
            )?;
        }
        if !self.arrays.is_empty() && self.array_job().spec.name != self.job.name() {
            writeln!(f, "  array plans run {}", self.array_job())?;
        }
        for (j, o) in self.objects.iter().enumerate() {
            let n = self.arrays.len() + j;
            writeln!(
                f,
                "  plan {n} (object {j}): {o}, job {}",
                self.object_job(j)
            )?;
        }
        Ok(())
    }
}
