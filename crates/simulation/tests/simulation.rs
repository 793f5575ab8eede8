//! The simulation as tests: many seeds in CI, one seed replayed on demand,
//! determinism, and proof that the checker catches the original's reducer.
//!
//! - `cargo test -p simulation -- --nocapture` runs everything (10,000 seeds;
//!   `SIM_SEEDS` and `SIM_START` change the range).
//! - `SIM_SEED=123 cargo test -p simulation --release -- replay --nocapture`
//!   replays one seed with its trace.
//! - `SIM_JOB=stats` (or `sum`, `sum-by`) runs that job in every seed
//!   instead of each seed's own draw.

use simulation::{run_many, run_many_with, run_seed, FaultKind, JobKind, Options, Reducer};
use std::time::Instant;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// The job `SIM_JOB` forces, if set.
fn job() -> Option<JobKind> {
    let name = std::env::var("SIM_JOB").ok()?;
    match name.parse() {
        Ok(job) => Some(job),
        Err(e) => panic!("SIM_JOB: {e}"),
    }
}

/// The default options, with `SIM_JOB`'s job.
fn options() -> Options {
    Options {
        job: job(),
        ..Options::default()
    }
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[test]
fn many_seeds_are_exactly_once() {
    let (start, count) = (env_u64("SIM_START", 0), env_u64("SIM_SEEDS", 10_000));
    let started = Instant::now();
    let (summary, first) = run_many(start, count, threads(), &options());
    println!(
        "simulation: {}",
        summary.report(start, started.elapsed(), threads())
    );
    assert_eq!(summary.seeds, count, "every seed asked for was run");
    if let Some(report) = first {
        panic!(
            "{} of {} seeds broke a property; first failing seeds {:?}\n{report}",
            summary.failed.len(),
            summary.seeds,
            &summary.failed[..summary.failed.len().min(20)]
        );
    }
    if count >= 1000 {
        for kind in FaultKind::ALL {
            assert!(
                summary.counts.get(kind) > 0,
                "{} never injected",
                kind.name()
            );
        }
    }
}

/// A seed whose run panics is counted as a failed seed whose report names
/// the panic, and the seeds after it on the same thread still run.
#[test]
fn a_panicking_seed_fails_and_the_others_still_run() {
    let opts = options();
    let (summary, first) = run_many_with(0, 12, 2, &opts, |seed| {
        if seed == 4 {
            panic!("injected panic in seed 4");
        }
        run_seed(seed, &opts)
    });
    assert_eq!(summary.seeds, 12, "every seed is counted");
    assert_eq!(summary.failed, vec![4]);
    let first = first.expect("seed 4's report");
    assert_eq!(first.params.seed, 4);
    assert!(
        first
            .violations
            .iter()
            .any(|v| v.contains("injected panic in seed 4")),
        "{first}"
    );
}

/// `SIM_SEED=<seed>` replays that seed and prints its report and trace.
#[test]
fn replay() {
    let seed = env_u64("SIM_SEED", 0);
    let opts = Options {
        trace_len: env_u64("SIM_TRACE", 200) as usize,
        reducer: if std::env::var_os("SIM_NAIVE").is_some() {
            Reducer::Naive
        } else {
            Reducer::Real
        },
        ..options()
    };
    let report = run_seed(seed, &opts);
    print!("{report}");
    assert!(report.ok(), "seed {seed} failed:\n{report}");
}

#[test]
fn a_seed_replays_identically() {
    let opts = options();
    for seed in [1, 7, 38, 1234] {
        let (a, b) = (run_seed(seed, &opts), run_seed(seed, &opts));
        assert_eq!(a.digest, b.digest, "seed {seed}");
        assert_eq!(a.events, b.events, "seed {seed}");
        assert_eq!(a.counts, b.counts, "seed {seed}");
        assert_eq!(a.violations, b.violations, "seed {seed}");
        assert_eq!(a.trace, b.trace, "seed {seed}");
    }
}

/// The original's reducer (any two packets, fresh ids, done at a count) must
/// be caught, and caught fast: it double counts as soon as two reducers or a
/// duplicate meet, a sum or any other job's result.
#[test]
fn naive_reducer_is_caught() {
    let opts = Options {
        reducer: Reducer::Naive,
        // The naive reducer also livelocks (as the original did on moto);
        // a short step budget reports that instead of spinning.
        max_steps: 20_000,
        ..options()
    };
    let mut caught = Vec::new();
    let mut wrong_sums = 0;
    let mut ran = 0;
    for seed in 0..30 {
        ran += 1;
        let r = run_seed(seed, &opts);
        if !r.ok() {
            let wrong = |v: &String| v.contains("WRONG SUM") || v.contains("WRONG RESULT");
            if r.violations.iter().any(wrong) {
                wrong_sums += 1;
            }
            if caught.is_empty() {
                println!("first catch:\n{r}");
            }
            caught.push(seed);
        }
        if caught.len() >= 3 && wrong_sums > 0 {
            break;
        }
    }
    println!(
        "naive reducer: caught in {} of {ran} seeds run ({caught:?}), {wrong_sums} with a wrong sum",
        caught.len()
    );
    assert!(
        caught.first().is_some_and(|s| *s < 10),
        "naive reducer not caught within 10 seeds: {caught:?}"
    );
    assert!(
        wrong_sums > 0,
        "the naive reducer never produced a wrong sum"
    );
}
