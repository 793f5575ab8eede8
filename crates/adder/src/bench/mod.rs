//! `adder bench`: one array through the whole pipeline, with figures; or,
//! with `--arrays`, many small arrays from concurrent clients ([`many`]).
//!
//! Prints wall time and throughput, handler invocations per function, port
//! calls, peak memory and, with `--backend aws`, every AWS request the code
//! sent (counted by an SDK interceptor, retries included) with an estimate of
//! the bill at us-east-1 on-demand list prices ([`prices`]).

mod direct;
mod many;
mod object;
mod prices;
mod report;
mod sheet;

pub use sheet::Sheet;

use crate::error::Error;
use crate::submit::{submit, wait, Wait};
use aws_ports::RequestCounter;
use clap::Args;
use local::{BackendArgs, InProcess, Kind, Running};
use packet::job::{JobSpec, KEY_PARAM};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Number of elements in the benchmark array (one-array mode).
    #[arg(long, default_value_t = 1_000_000, conflicts_with = "arrays")]
    pub elements: u64,
    /// Seed of the generated numbers (and, with --arrays, of the sizes).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Give up after this many seconds (per array with --arrays).
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
    #[command(flatten)]
    pub many: many::ManyArgs,
    /// Object mode: write the --elements numbers to a file in this layout and
    /// sum it by byte ranges, as an S3 object (--range-bytes per range).
    #[arg(long, value_parser = crate::runner::files::format_parser(), conflicts_with = "arrays")]
    pub object: Option<pipeline::FormatName>,
    /// The job run (one array or --object; --arrays runs `sum`). Its result
    /// is checked against the job computed directly in this process. A
    /// keyed job groups the --object csv file by its column 2, which holds
    /// 100 distinct keys.
    #[command(flatten)]
    pub job: crate::job::JobArgs,
    #[command(flatten)]
    pub backend: BackendArgs,
}

impl BenchArgs {
    /// The job to run: a keyed job's `by` is the generated CSV's key column
    /// (2) unless given, and must be it.
    fn job_spec(&self) -> Result<JobSpec, Error> {
        let spec = self.job.spec();
        if self.many.arrays.is_some() && !spec.is_default() {
            return Err(Error::Job(
                "--job runs one array or an --object; --arrays runs sum".into(),
            ));
        }
        let mut keyed = spec.clone();
        let by = keyed
            .params
            .entry(KEY_PARAM.to_string())
            .or_insert(serde_json::json!(KEY_COLUMN))
            .clone();
        if !jobs::registry().job(&keyed).is_ok_and(|job| job.keyed()) {
            return Ok(spec);
        }
        if by != serde_json::json!(KEY_COLUMN) && by != serde_json::json!("2") {
            return Err(Error::Job(format!(
                "the bench's CSV is id,number,key: group by column {KEY_COLUMN}, not {by}"
            )));
        }
        Ok(keyed)
    }
}

/// The generated CSV's key column: `{i},{number},{i % KEYS}`.
pub const KEY_COLUMN: u64 = 2;
/// Distinct keys in the generated CSV.
pub const KEYS: u64 = 100;

/// What the pipeline must answer: the doubled sum, kept as an integer for
/// `sum`, or another job's result computed directly.
enum Expected {
    Sum(i128),
    Job(direct::Direct),
}

impl Expected {
    fn new(spec: &JobSpec) -> Result<Expected, Error> {
        match spec.is_default() {
            true => Ok(Expected::Sum(0)),
            false => Ok(Expected::Job(direct::Direct::new(spec)?)),
        }
    }

    fn push(&mut self, number: u64, key: &str) -> Result<(), Error> {
        match self {
            Expected::Sum(total) => {
                *total += number as i128;
                Ok(())
            }
            Expected::Job(direct) => direct.push(number, key),
        }
    }

    fn finish(self) -> Result<String, Error> {
        match self {
            Expected::Sum(total) => Ok((2 * total).to_string()),
            Expected::Job(direct) => direct.finish(),
        }
    }
}

/// `n` deterministic integers 0..=9999 (short, so a million fit in
/// Lambda's 6 MB payload).
fn numbers(n: u64, seed: u64) -> impl Iterator<Item = u64> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..n).map(move |_| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % 10_000
    })
}

/// A deterministic array of [`numbers`] and its exact doubled sum.
fn array(n: u64, seed: u64) -> (String, i128) {
    let mut total: i128 = 0;
    let body = array_for(n, seed, |v| total += v as i128);
    (body, 2 * total)
}

/// A deterministic array of [`numbers`], each also given to `each`.
fn array_for(n: u64, seed: u64, mut each: impl FnMut(u64)) -> String {
    let mut body = String::with_capacity(n as usize * 5 + 2);
    body.push('[');
    for (i, v) in numbers(n, seed).enumerate() {
        each(v);
        if i > 0 {
            body.push(',');
        }
        let _ = write!(body, "{v}");
    }
    body.push(']');
    body
}

/// Runs the benchmark; returns the report or why it failed.
pub async fn run(args: BenchArgs) -> Result<Sheet, Error> {
    if args.many.arrays.is_none() && args.elements == 0 {
        return Err(Error::Workload(
            "--elements must be at least 1: an empty array measures nothing".into(),
        ));
    }
    if args.many.arrays.is_some() {
        return many::run(&args).await;
    }
    let job = args.job_spec()?;
    if let Some(format) = args.object {
        return object::run(&args, format, &job).await;
    }
    let stack = crate::runner::load_stack()?;
    let counter = RequestCounter::new();
    let running = local::start_counted(&args.backend, &stack, Some(&counter)).await?;
    let work = async {
        let mut expected = Expected::new(&job)?;
        let mut pushed = Ok(());
        let body = array_for(args.elements, args.seed, |v| {
            // A job over an array has no key.
            if pushed.is_ok() {
                pushed = expected.push(v, "");
            }
        });
        pushed?;
        let expected = expected.finish()?;
        let measured = measure(&args, &running, body, &job).await?;
        // The sum is readable before reduce has retired the root's children
        // and returned: that work belongs in the array's cost too.
        settle(&running, args.backend.backend).await;
        if measured.sum != expected {
            return Err(Error::WrongSum(format!(
                "wrong result {}, expected {expected}",
                measured.sum
            )));
        }
        Ok(report::render(&args, &running, &counter, &measured))
    };
    let sheet = crate::runner::interruptible(work).await;
    running.stop().await;
    sheet
}

/// What one array's run measured.
pub struct Measured {
    /// The request body, or the object, in bytes.
    pub body_bytes: usize,
    /// Until POST /sumArray (or /sumObject) answered.
    pub accepted_in: Duration,
    /// Until the sum was read.
    pub wall: Duration,
    /// POSTs sent: 0 when an object's upload notification started it.
    pub posts: u64,
    pub sum: String,
}

/// Submits `body` through the API's Router and waits for its sum, timing both.
async fn measure(
    args: &BenchArgs,
    running: &Running,
    body: String,
    job: &JobSpec,
) -> Result<Measured, Error> {
    let api = InProcess::new(running);
    let how = waiting(args);
    let body_bytes = body.len();
    let started = Instant::now();
    let submitted = submit(&api, body, job).await?;
    let accepted_in = started.elapsed();
    let sum = wait(&api, &submitted.array_id, &how).await?;
    Ok(Measured {
        body_bytes,
        accepted_in,
        wall: started.elapsed(),
        posts: 1,
        sum,
    })
}

/// How the benchmark reads a result: a fixed pause between reads (it
/// measures the pipeline, not a back-off), no progress bar. One array is
/// read as often as the backend bears; many arrays' clients pause longer,
/// or `--poll-ms`, so their reads do not crowd out the pipeline's work.
fn waiting(args: &BenchArgs) -> Wait {
    let default_ms = match (args.many.arrays, &args.many.api, args.backend.backend) {
        (None, _, Kind::Memory) => 1,
        (None, _, Kind::Aws) => 50,
        (Some(_), Some(_), _) => 5,
        (Some(_), None, Kind::Memory) => 2,
        (Some(_), None, Kind::Aws) => 25,
    };
    let poll = Duration::from_millis(args.many.poll_ms.unwrap_or(default_ms));
    Wait {
        timeout: Duration::from_secs(args.timeout),
        first_poll: poll,
        max_poll: poll,
        // One array's progress, on a terminal; many arrays have their own bar.
        progress: args.many.arrays.is_none() && std::io::stderr().is_terminal(),
    }
}

/// The work counted so far, but for the pollers' receives (idle polling
/// never stops).
fn work_so_far(running: &Running) -> (Vec<u64>, Vec<u64>) {
    let invocations = running.tally.invocations();
    let calls = running.tally.calls();
    (
        invocations.values().map(|(count, _)| *count).collect(),
        calls
            .iter()
            .filter(|(call, _)| !call.ends_with(".receive"))
            .map(|(_, count)| *count)
            .collect(),
    )
}

/// Waits (at most a few seconds) until the functions stop working: the
/// last arrays' messages are deleted and rows retired after their sums are
/// readable, and that work belongs in their cost.
async fn settle(running: &Running, kind: Kind) {
    let pause = match kind {
        Kind::Memory => Duration::from_millis(100),
        Kind::Aws => Duration::from_millis(500),
    };
    let mut before = work_so_far(running);
    for _ in 0..10 {
        tokio::time::sleep(pause).await;
        let now = work_so_far(running);
        if now == before {
            return;
        }
        before = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_arrays_are_valid_and_their_sum_is_right() {
        let (body, expected) = array(1000, 7);
        let texts = packet::parse_array(&body).expect("valid body");
        assert_eq!(texts.len(), 1000);
        let total: i128 = texts
            .iter()
            .map(|t| t.parse::<i128>().expect("integer"))
            .sum();
        assert_eq!(2 * total, expected);
        assert!(body.len() < 5 * 1000 + 2);
    }
}
