//! Every shipped job under the same faults: each job forced on a range of
//! seeds is exactly once; drawing the job left every other draw of a seed
//! as it was; and the checker catches a job's wrong result.
//!
//! `SIM_JOB_SEEDS` changes how many seeds each job runs (100: the
//! 10,000-seed run of tests/simulation.rs draws a job per seed too).

use packet::job::Stored;
use pipeline::memory::MemoryBackend;
use pipeline::{submit_job, Config, SystemClock};
use simulation::check::{check, Expected, Facts, ObjectFacts};
use simulation::jobs::PlanJob;
use simulation::objects::{Content, Layout, Mutation, ObjectPlan, Start};
use simulation::{run_many, run_seed, ArrayPlan, JobKind, Options, Params, Reducer};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn forced(job: JobKind) -> Options {
    Options {
        job: Some(job),
        ..Options::default()
    }
}

#[test]
fn every_job_is_exactly_once_under_the_same_faults() {
    let count = std::env::var("SIM_JOB_SEEDS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(100);
    for job in JobKind::ALL {
        let started = Instant::now();
        let (summary, first) = run_many(0, count, threads(), &forced(job));
        println!("{job}: {}", summary.report(0, started.elapsed(), threads()));
        assert_eq!(summary.seeds, count, "{job}: every seed asked for was run");
        if let Some(report) = first {
            panic!(
                "{job}: {} of {count} seeds broke a property; first failing {:?}\n{report}",
                summary.failed.len(),
                &summary.failed[..summary.failed.len().min(20)]
            );
        }
    }
}

/// 64-bit FNV-1a: a digest that no Rust release changes.
fn fnv(h: &mut u64, text: &str) {
    for b in text.bytes() {
        *h ^= u64::from(b);
        *h = h.wrapping_mul(0x0100_0000_01b3);
    }
}

fn content(c: &Content) -> String {
    format!(
        "{:?} {:?} {:?} {:?}",
        c.elements, c.starts, c.bytes, c.bad_at
    )
}

fn object(o: &ObjectPlan) -> String {
    let mutation = match &o.mutation {
        Some(Mutation::Overwrite(c)) => format!("overwrite {}", content(c)),
        Some(Mutation::Delete) => "delete".into(),
        None => "none".into(),
    };
    format!(
        "{} {:?} {} {} {} {:?} {} {mutation} {} {}",
        o.key,
        o.layout,
        content(&o.content),
        o.range_bytes,
        o.fan_in,
        o.start,
        o.pin_etag,
        o.mutate_after,
        o.renotify_at
    )
}

/// Every draw a seed made before jobs existed, as text.
fn draws_before_jobs(p: &Params) -> String {
    let objects: Vec<String> = p.objects.iter().map(object).collect();
    format!(
        "{} {:?} {} {} {} {} {} {} {} {} {} {} {:?} {:?} {:?} {} {:?} {:?}",
        p.seed,
        p.arrays,
        p.concurrency,
        p.map_batch,
        p.reduce_batch,
        p.function_timeout_ms,
        p.enforce_timeout,
        p.visibility_ms,
        p.max_receive_count,
        p.interleave,
        p.tick_max_ms,
        p.fault_steps,
        p.mix,
        p.rates,
        p.keyed,
        p.map_us_per_element,
        p.notify,
        objects
    )
}

/// The digest of seeds 0..2000's draws, pinned before the job was drawn
/// (commit 067dbb7): a seed that ran `sum` then draws the same now, and,
/// run with `sum` (its own draw or `--job sum`), replays the same events
/// (its event digests were compared too, for seeds 0..300).
#[test]
fn the_job_draw_leaves_every_earlier_draw_as_it_was() {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut drawn = BTreeMap::<JobKind, u64>::new();
    for seed in 0..2000 {
        let p = Params::from_seed(seed);
        fnv(&mut h, &draws_before_jobs(&p));
        *drawn.entry(p.job).or_default() += 1;
        let job = p.job;
        assert_eq!(p.clone().with_job(JobKind::Sum).with_job(job), p);
    }
    assert_eq!(h, 0x3772_413e_8dd4_a20e, "a seed's earlier draws changed");
    // Drawn half sum, a quarter each of the others.
    let share = |k| drawn.get(&k).copied().unwrap_or(0) as f64 / 2000.0;
    assert!((0.45..0.55).contains(&share(JobKind::Sum)), "{drawn:?}");
    assert!((0.2..0.3).contains(&share(JobKind::Stats)), "{drawn:?}");
    assert!((0.2..0.3).contains(&share(JobKind::SumBy)), "{drawn:?}");
}

/// The plans really run the jobs: arrays `stats`; CSV objects `sum-by`
/// by their numbers' column and by another, named by index and by header
/// name; notified objects `stats` when it is the run's job, else `sum`.
#[test]
fn plans_run_the_runs_job_where_they_can() {
    let mut seen = BTreeMap::<String, u64>::new();
    for seed in 0..2000 {
        for job in JobKind::ALL {
            let p = Params::from_seed(seed).with_job(job);
            *seen
                .entry(format!("arrays {job}: {}", p.array_job()))
                .or_default() += 1;
            for (j, o) in p.objects.iter().enumerate() {
                let runs = p.object_job(j);
                let how = match (o.start, runs.key_column, o.layout) {
                    (Start::Notification { .. }, _, _) => format!("notified {job}: {runs}"),
                    (
                        _,
                        Some(c),
                        Layout::Csv {
                            column, by_name, ..
                        },
                    ) => format!(
                        "client {job}: sum-by, own column {}, by name {by_name}",
                        c == column
                    ),
                    (_, _, _) => format!("client {job}: {}", runs.spec.name),
                };
                *seen.entry(how).or_default() += 1;
            }
        }
    }
    let has = |what: &str| seen.get(what).copied().unwrap_or(0) > 0;
    for what in [
        "arrays sum: sum",
        "arrays stats: stats",
        "arrays sum-by: sum",
        "notified sum: sum",
        "notified stats: stats",
        "notified sum-by: sum",
        "client stats: stats",
        "client sum-by: sum",
        "client sum-by: sum-by, own column true, by name false",
        "client sum-by: sum-by, own column true, by name true",
        "client sum-by: sum-by, own column false, by name false",
        "client sum-by: sum-by, own column false, by name true",
    ] {
        assert!(has(what), "never {what:?}: {seen:#?}");
    }
    assert!(
        !seen.keys().any(|k| k.contains("client sum: sum-by")),
        "{seen:#?}"
    );
}

/// Forcing a job replays: two runs of a seed give the same events.
#[test]
fn a_forced_job_replays_identically() {
    for job in [JobKind::Stats, JobKind::SumBy] {
        for seed in [2, 38, 137, 827] {
            let (a, b) = (run_seed(seed, &forced(job)), run_seed(seed, &forced(job)));
            assert_eq!(a.digest, b.digest, "{job}, seed {seed}");
            assert_eq!(a.violations, b.violations, "{job}, seed {seed}");
        }
    }
}

/// What `check` says of a one-leaf array of `job` whose record was
/// completed with `stored`, nothing else having happened.
async fn check_completed(job: &PlanJob, stored: &Stored) -> Vec<String> {
    let plan = ArrayPlan {
        elements: ["3", "-1.5", "10"].map(String::from).to_vec(),
        chunk_size: 10,
        fan_in: 2,
    };
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = backend.ports();
    let config = Config {
        chunk_size: plan.chunk_size,
        fan_in: plan.fan_in,
        ..Config::default()
    };
    let id = submit_job(&ports, &config, &plan.body(), &job.spec)
        .await
        .expect("submitted")
        .array_id;
    ports
        .sums
        .complete(&id, stored, 3, 1)
        .await
        .expect("completed");
    let accepted = BTreeMap::from([(id.clone(), 0)]);
    let objects = ObjectFacts {
        plans: &[],
        jobs: &[],
        versions: &[],
        mutated: &[],
        accepted: &BTreeMap::new(),
        denied: &BTreeSet::new(),
    };
    check(&Facts {
        plans: std::slice::from_ref(&plan),
        expected: &[Expected::of(&plan, job)],
        allocated: &[(id, 0)],
        keyed: &[false],
        outage: false,
        accepted: &accepted,
        observed: &BTreeMap::new(),
        backend: &backend,
        objects: &objects,
    })
}

/// A `stats` result changed in the sums table, or written where `sum`'s
/// go, is a violation; the right one is none. So is a sum in `stats`'s
/// attribute.
#[tokio::test]
async fn a_wrong_job_result_in_the_sums_table_is_caught() {
    let text = |t: &str| Stored::Text(t.to_string());
    let right = check_completed(&PlanJob::stats(), &text("3 11.5 -1.5 10")).await;
    assert!(right.is_empty(), "{right:?}");
    for (job, stored, want) in [
        (
            PlanJob::stats(),
            text("3 11.5 -1.5 9"),
            "WRONG RESULT 3 11.5 -1.5 9 of stats",
        ),
        (
            PlanJob::stats(),
            text("4 11.5 -1.5 10"),
            "WRONG RESULT 4 11.5 -1.5 10",
        ),
        (PlanJob::stats(), text("3 11.5 -1.5"), "WRONG RESULT"),
        (
            PlanJob::stats(),
            Stored::Number(packet::Number::parse("11.5").expect("a number")),
            "a stats result in the wrong attribute",
        ),
        (
            PlanJob::sum(),
            text("23"),
            "a sum result in the wrong attribute",
        ),
        (
            PlanJob::sum(),
            Stored::Number(packet::Number::parse("11.5").expect("a number")),
            "WRONG SUM 11.5, exact sum is 23",
        ),
    ] {
        let found = check_completed(&job, &stored).await;
        assert!(
            found.iter().any(|v| v.contains(want)),
            "{job} completed with {stored}: {found:?}"
        );
    }
}

/// The original's reducer double counts whatever the job: the checker
/// sees `stats` results with wrong counts and sums.
#[test]
fn the_naive_reducer_is_caught_with_stats() {
    let opts = Options {
        reducer: Reducer::Naive,
        max_steps: 20_000,
        job: Some(JobKind::Stats),
        ..Options::default()
    };
    let wrong: Vec<u64> = (0..30)
        .filter(|&seed| {
            run_seed(seed, &opts)
                .violations
                .iter()
                .any(|v| v.contains("WRONG RESULT") && v.contains("of stats"))
        })
        .collect();
    assert!(!wrong.is_empty(), "no wrong stats result in 30 seeds");
    println!("naive reducer with stats: wrong results in seeds {wrong:?}");
}
