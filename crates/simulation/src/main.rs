//! `simulation`: replay one seed with its trace, or run many.

use clap::Parser;
use simulation::{run_many, run_seed, JobKind, Options, Reducer};
use std::process::ExitCode;
use std::time::Instant;

/// Deterministic fault-injection simulation of the adder pipeline.
#[derive(Parser)]
struct Args {
    /// Replay one seed and print its report (with the trace if it fails).
    #[arg(long, env = "SIM_SEED")]
    seed: Option<u64>,
    /// Run this many seeds.
    #[arg(long, env = "SIM_SEEDS", default_value_t = 1000)]
    seeds: u64,
    /// First seed of a many-seed run.
    #[arg(long, env = "SIM_START", default_value_t = 0)]
    start: u64,
    /// Worker threads for a many-seed run (default: available cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Run the original adder's naive reducer instead of `pipeline::reduce`.
    #[arg(long)]
    naive: bool,
    /// Trace events kept for the report.
    #[arg(long, default_value_t = 200)]
    trace: usize,
    /// Scheduler steps after which an unsettled run is reported stuck.
    #[arg(long, default_value_t = Options::default().max_steps)]
    max_steps: u64,
    /// Print the trace even when the seed passes.
    #[arg(long)]
    always_trace: bool,
    /// Fail on the pipeline defects already found instead of tolerating them.
    #[arg(long, env = "SIM_STRICT")]
    strict: bool,
    /// Run this job in every seed (sum, stats, sum-by) instead of each
    /// seed's own draw.
    #[arg(long, env = "SIM_JOB", value_name = "NAME")]
    job: Option<JobKind>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let opts = Options {
        reducer: if args.naive {
            Reducer::Naive
        } else {
            Reducer::Real
        },
        trace_len: args.trace,
        max_steps: args.max_steps,
        strict: args.strict,
        job: args.job,
    };
    if let Some(seed) = args.seed {
        let report = run_seed(seed, &opts);
        print!("{report}");
        if args.always_trace && report.ok() {
            for line in &report.trace {
                println!("  {line}");
            }
        }
        return if report.ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let started = Instant::now();
    let (summary, first) = run_many(args.start, args.seeds, threads, &opts);
    println!("{}", summary.report(args.start, started.elapsed(), threads));
    if let Some(report) = first {
        println!(
            "failing seeds: {:?}",
            &summary.failed[..summary.failed.len().min(50)]
        );
        print!("{report}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
