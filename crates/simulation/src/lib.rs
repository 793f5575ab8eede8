//! A deterministic simulation of the adder pipeline under the faults SQS,
//! Lambda and DynamoDB really produce, checking that every array is summed
//! exactly once.
//!
//! A run is a pure function of its seed: [`Params::from_seed`] draws the
//! arrays, the pipeline's shape and the fault mix; the [`world`] scheduler
//! then runs the real steps (`pipeline::submit`, `times_two`, `reduce`) on the
//! in-process ports wrapped by [`ports`], which inject faults and yield to the
//! scheduler around every call; [`check`] verifies the properties at the end.
//! A failing seed is reproduced with
//! `cargo run -p simulation --release -- --seed <seed>`.

pub mod check;
pub mod clock;
pub mod elements;
pub mod faults;
pub mod jobs;
pub mod naive;
pub mod objects;
pub mod params;
pub mod ports;
pub mod state;
pub mod trace;
pub mod world;

pub use faults::FaultKind;
pub use jobs::JobKind;
pub use params::{ArrayPlan, FaultMix, Params};
pub use state::{FaultCounts, Rates};

use std::fmt;

/// Which reduce step the Reduce queue's invocations run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reducer {
    /// `pipeline::reduce`, the step under test.
    Real,
    /// The original adder's reducer ([`naive`]), which the checker must catch.
    Naive,
}

/// How to run a seed.
#[derive(Debug, Clone)]
pub struct Options {
    pub reducer: Reducer,
    /// How many trace events a report keeps.
    pub trace_len: usize,
    /// Scheduler steps after which a run that has not settled is a violation.
    pub max_steps: u64,
    /// Report the pipeline defects already found (violations naming
    /// [`check::KNOWN_DEFECT`]) as violations instead of tolerating them.
    pub strict: bool,
    /// The job of every seed (`None`: each seed's own draw).
    pub job: Option<JobKind>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            reducer: Reducer::Real,
            trace_len: 200,
            max_steps: 3_000_000,
            strict: false,
            job: None,
        }
    }
}

/// What a run did and found.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub params: Params,
    pub reducer: Reducer,
    pub counts: FaultCounts,
    /// Broken properties; empty when the run was correct.
    pub violations: Vec<String>,
    /// Violations naming a known pipeline defect, tolerated unless strict.
    pub tolerated: Vec<String>,
    /// The last events, oldest first.
    pub trace: Vec<String>,
    /// Digest of every event: equal for two runs of one seed.
    pub digest: u64,
    pub events: u64,
    pub steps: u64,
    pub invocations: u64,
    pub redrives: u32,
    pub virtual_ms: u64,
}

impl RunReport {
    /// The report of a seed whose run panicked: one violation naming the panic.
    pub fn panicked(seed: u64, opts: &Options, what: String) -> RunReport {
        RunReport {
            params: params_of(seed, opts),
            reducer: opts.reducer,
            counts: FaultCounts::default(),
            violations: vec![format!("the run panicked: {what}")],
            tolerated: Vec::new(),
            trace: Vec::new(),
            digest: 0,
            events: 0,
            steps: 0,
            invocations: 0,
            redrives: 0,
            virtual_ms: 0,
        }
    }

    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// The command that replays this run.
    pub fn command(&self) -> String {
        let naive = if self.reducer == Reducer::Naive {
            " --naive"
        } else {
            ""
        };
        let seed = self.params.seed;
        let job = if self.params.job == Params::from_seed(seed).job {
            String::new()
        } else {
            format!(" --job {}", self.params.job)
        };
        format!("cargo run -p simulation --release -- --seed {seed}{naive}{job}")
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.ok() { "ok" } else { "FAILED" };
        writeln!(
            f,
            "seed {} ({:?} reducer): {verdict} after {} steps, {} invocations, {} redrives, {} virtual ms, digest {:016x}",
            self.params.seed,
            self.reducer,
            self.steps,
            self.invocations,
            self.redrives,
            self.virtual_ms,
            self.digest
        )?;
        write!(f, "{}", self.params)?;
        writeln!(f, "  injected: {}", self.counts)?;
        for t in &self.tolerated {
            writeln!(f, "  tolerated: {t}")?;
        }
        if !self.ok() {
            writeln!(f, "violations:")?;
            for v in &self.violations {
                writeln!(f, "  - {v}")?;
            }
            writeln!(f, "last {} of {} events:", self.trace.len(), self.events)?;
            for line in &self.trace {
                writeln!(f, "  {line}")?;
            }
            writeln!(f, "replay: {}", self.command())?;
        }
        Ok(())
    }
}

/// Runs `params` (normally `Params::from_seed(seed)`).
pub fn run_params(params: &Params, opts: &Options) -> RunReport {
    world::World::new(params, opts).run()
}

/// The parameters of `seed`, with the job `opts` forces if any.
pub fn params_of(seed: u64, opts: &Options) -> Params {
    let params = Params::from_seed(seed);
    match opts.job {
        Some(job) => params.with_job(job),
        None => params,
    }
}

/// Runs one seed.
pub fn run_seed(seed: u64, opts: &Options) -> RunReport {
    let params = params_of(seed, opts);
    let params = match opts.reducer {
        Reducer::Real => params,
        Reducer::Naive => params.for_naive(),
    };
    run_params(&params, opts)
}

/// Totals over many seeds.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub seeds: u64,
    pub failed: Vec<u64>,
    /// Seeds that met a known pipeline defect (tolerated unless strict).
    pub tolerated: Vec<u64>,
    pub counts: FaultCounts,
    pub steps: u64,
    pub invocations: u64,
}

impl Summary {
    pub fn add(&mut self, r: &RunReport) {
        self.seeds += 1;
        if !r.ok() {
            self.failed.push(r.params.seed);
        }
        if !r.tolerated.is_empty() {
            self.tolerated.push(r.params.seed);
        }
        self.counts.add(&r.counts);
        self.steps += r.steps;
        self.invocations += r.invocations;
    }

    pub fn merge(&mut self, other: Summary) {
        self.seeds += other.seeds;
        self.failed.extend(other.failed);
        self.tolerated.extend(other.tolerated);
        self.counts.add(&other.counts);
        self.steps += other.steps;
        self.invocations += other.invocations;
    }

    /// Two lines for people: the seeds from `start`, how many failed and
    /// what ran (in `took` on `threads` threads); the faults injected; and
    /// the seeds that met a known pipeline defect, if any.
    pub fn report(&self, start: u64, took: std::time::Duration, threads: usize) -> String {
        let mut tolerated = self.tolerated.clone();
        tolerated.sort_unstable();
        let known = if tolerated.is_empty() {
            String::new()
        } else {
            format!(
                "\nknown pipeline defects met (tolerated; --strict fails them) in {} seeds: {:?}",
                tolerated.len(),
                &tolerated[..tolerated.len().min(30)]
            )
        };
        format!(
            "{} seeds ({start}..{}) in {took:.1?} on {threads} threads: {} failed; {} steps, {} invocations\n\
             faults injected: {} (total {}){known}",
            self.seeds,
            start + self.seeds,
            self.failed.len(),
            self.steps,
            self.invocations,
            self.counts,
            self.counts.total()
        )
    }
}

/// Runs seeds `start..start + count` on `threads` threads; `first_failure`
/// receives the report of the lowest failing seed. A seed whose run panics
/// is a failed seed (its report names the panic), and the other seeds of
/// its thread still run: a panic must never make seeds vanish from the count.
pub fn run_many(
    start: u64,
    count: u64,
    threads: usize,
    opts: &Options,
) -> (Summary, Option<RunReport>) {
    run_many_with(start, count, threads, opts, |seed| run_seed(seed, opts))
}

/// [`run_many`] with `run` in place of [`run_seed`] (tests give one that
/// panics, to see the panic counted).
pub fn run_many_with(
    start: u64,
    count: u64,
    threads: usize,
    opts: &Options,
    run: impl Fn(u64) -> RunReport + Sync,
) -> (Summary, Option<RunReport>) {
    let threads = threads.max(1) as u64;
    let run = &run;
    let results: Vec<(Summary, Option<RunReport>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let mut summary = Summary::default();
                    let mut first: Option<RunReport> = None;
                    let mut seed = start + t;
                    while seed < start + count {
                        let r = run_catching(seed, opts, run);
                        summary.add(&r);
                        if !r.ok() && first.is_none() {
                            first = Some(r);
                        }
                        seed += threads;
                    }
                    (summary, first)
                })
            })
            .collect();
        // A thread can only panic outside `run_catching` (in the summary's
        // bookkeeping): re-raise it rather than lose its seeds.
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut total = Summary::default();
    let mut first: Option<RunReport> = None;
    for (s, f) in results {
        total.merge(s);
        if let Some(f) = f {
            if first.as_ref().is_none_or(|g| f.params.seed < g.params.seed) {
                first = Some(f);
            }
        }
    }
    total.failed.sort_unstable();
    (total, first)
}

/// Runs `seed` with `run`; a panic becomes the seed's violation.
fn run_catching(seed: u64, opts: &Options, run: &(impl Fn(u64) -> RunReport + Sync)) -> RunReport {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(seed))) {
        Ok(report) => report,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_string());
            RunReport::panicked(seed, opts, what)
        }
    }
}
