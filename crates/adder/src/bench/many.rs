//! `adder bench --arrays N`: many small arrays from concurrent clients
//! through one API, the workload the seed describes. Each client POSTs an
//! array, reads it with GET until it is done, checks its exact sum and takes
//! the next; the report gives throughput, latency from POST to done and, when
//! the pipeline runs in this process, what each array cost.

use super::report::{Per, Seen};
use super::sheet::Sheet;
use super::{settle, waiting, BenchArgs};
use crate::error::Error;
use crate::submit::{submit, wait, Api, Wait};
use aws_ports::RequestCounter;
use clap::Args;
use local::{InProcess, Running};
use packet::job::JobSpec;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Args)]
pub struct ManyArgs {
    /// Many-arrays mode: this many arrays, their sizes drawn from
    /// --min-elements..=--max-elements, sent by --clients concurrent clients.
    #[arg(long)]
    pub arrays: Option<u64>,
    /// Concurrent clients; each POSTs an array, GETs it until done, then
    /// takes the next.
    #[arg(long, default_value_t = 16, requires = "arrays")]
    pub clients: usize,
    /// Smallest array.
    #[arg(long, default_value_t = 1, requires = "arrays")]
    pub min_elements: u64,
    /// Largest array.
    #[arg(long, default_value_t = 200, requires = "arrays")]
    pub max_elements: u64,
    /// Pause between a client's GETs, in milliseconds (default: 2 in-process,
    /// 25 with --backend aws, 5 with --api).
    #[arg(long, requires = "arrays")]
    pub poll_ms: Option<u64>,
    /// Send the arrays over HTTP to an API already running (`adder serve`'s
    /// URL) instead of starting a pipeline here; the pipeline's invocations
    /// and AWS requests are then not visible.
    #[arg(long, requires = "arrays")]
    pub api: Option<String>,
}

/// The arrays to send: sizes drawn once from the seed, each array's numbers
/// generated when a client takes it.
pub struct Workload {
    sizes: Vec<u64>,
    seed: u64,
}

/// SplitMix64: a small, well-mixed generator, so sizes and per-array seeds
/// are the same on every run with the same seed.
fn split_mix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Workload {
    pub fn new(args: &ManyArgs, seed: u64) -> Result<Workload, Error> {
        let count = args.arrays.unwrap_or(0);
        let (min, max) = (args.min_elements, args.max_elements);
        if count == 0 || args.clients == 0 {
            return Err(Error::Workload(
                "--arrays and --clients must be at least 1".into(),
            ));
        }
        if min > max {
            return Err(Error::Workload(format!(
                "--min-elements {min} is above --max-elements {max}"
            )));
        }
        let mut state = seed;
        let span = max - min + 1;
        let sizes = (0..count)
            .map(|_| min + split_mix(&mut state) % span)
            .collect();
        Ok(Workload { sizes, seed })
    }

    /// Array `i`'s body and exact doubled sum.
    fn array(&self, i: usize, size: u64) -> (String, i128) {
        let mut state = self.seed ^ (i as u64).wrapping_mul(0xA24B_AED4_963E_E407);
        super::array(size, split_mix(&mut state))
    }

    pub fn elements(&self) -> u64 {
        self.sizes.iter().sum()
    }
}

/// What the clients measured.
pub struct Driven {
    /// POST to done, per array, sorted.
    pub latencies: Vec<Duration>,
    /// The time the POSTs took, all together (sum_array's busy time).
    pub posting: Duration,
    /// Arrays whose sum was read and equal to the expected one.
    pub checked: u64,
    /// From the first POST to the last array done.
    pub wall: Duration,
}

/// Sends the workload from `clients` concurrent clients through `api`.
pub async fn drive(
    api: &impl Api,
    workload: &Workload,
    clients: usize,
    how: &Wait,
) -> Result<Driven, Error> {
    let next = AtomicUsize::new(0);
    // Drawn on a terminal only (indicatif hides it otherwise): a long run on
    // moto is not silence.
    let bar = indicatif::ProgressBar::new(workload.sizes.len() as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} arrays done",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let each = (0..clients).map(|_| client(api, workload, &next, how, &bar));
    let timings = futures::future::try_join_all(each).await;
    bar.finish_and_clear();
    let timings: Vec<(Duration, Duration)> = timings?.into_iter().flatten().collect();
    let wall = started.elapsed();
    let mut latencies: Vec<Duration> = timings.iter().map(|(done, _)| *done).collect();
    latencies.sort_unstable();
    Ok(Driven {
        checked: timings.len() as u64,
        posting: timings.iter().map(|(_, posted)| *posted).sum(),
        latencies,
        wall,
    })
}

/// One client: takes the next array until none is left; returns, per array,
/// (POST to done, POST alone). A wrong sum ends the run with an error.
async fn client(
    api: &impl Api,
    workload: &Workload,
    next: &AtomicUsize,
    how: &Wait,
    bar: &indicatif::ProgressBar,
) -> Result<Vec<(Duration, Duration)>, Error> {
    let mut timings = Vec::new();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(&size) = workload.sizes.get(i) else {
            return Ok(timings);
        };
        let (body, expected) = workload.array(i, size);
        let started = Instant::now();
        let submitted = submit(api, body, &JobSpec::default()).await?;
        let posted = started.elapsed();
        let sum = wait(api, &submitted.array_id, how).await?;
        let done = started.elapsed();
        if sum != expected.to_string() || submitted.array_length != size {
            return Err(Error::WrongSum(format!(
                "array {i} ({}): {} elements summed to {sum}, expected {size} elements summing to {expected}",
                submitted.array_id, submitted.array_length
            )));
        }
        timings.push((done, posted));
        bar.inc(1);
    }
}

/// Runs the many-arrays benchmark; returns the report.
pub async fn run(args: &BenchArgs) -> Result<Sheet, Error> {
    let workload = Workload::new(&args.many, args.seed)?;
    let how = waiting(args);
    if let Some(url) = &args.many.api {
        let api = crate::client::ApiArgs {
            api: url.clone(),
            stack: None,
            api_key: None,
            sigv4: false,
        };
        let client = crate::client::api::Client::new(&api).await?;
        let driven = drive(&client, &workload, args.many.clients, &how).await?;
        return Ok(render(args, &workload, &driven, &how, None));
    }
    let (running, counter, driven) = in_process(args, &workload, &how).await?;
    let seen = Seen {
        running: &running,
        counter: &counter,
        kind: args.backend.backend,
    };
    let sheet = render(args, &workload, &driven, &how, Some(seen));
    running.stop().await;
    Ok(sheet)
}

/// Starts the pipeline here and drives it through the API's Router (reads
/// through the client's own ports, so they are not counted as the pipeline's).
pub async fn in_process(
    args: &BenchArgs,
    workload: &Workload,
    how: &Wait,
) -> Result<(Running, RequestCounter, Driven), Error> {
    let stack = crate::runner::load_stack()?;
    let counter = RequestCounter::new();
    let running = local::start_counted(&args.backend, &stack, Some(&counter)).await?;
    let driven = {
        let api = InProcess::new(&running);
        crate::runner::interruptible(drive(&api, workload, args.many.clients, how)).await
    };
    match driven {
        Ok(driven) => {
            settle(&running, args.backend.backend).await;
            Ok((running, counter, driven))
        }
        Err(e) => {
            running.stop().await;
            Err(e)
        }
    }
}

/// The `q` quantile of `sorted` (nearest rank).
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len().max(1)) - 1)
        .copied()
        .unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The report: the run, then (when `seen`) what each array cost.
fn render(
    args: &BenchArgs,
    workload: &Workload,
    driven: &Driven,
    how: &Wait,
    seen: Option<Seen>,
) -> Sheet {
    let count = workload.sizes.len() as u64;
    let elements = workload.elements();
    let many = &args.many;
    let mut sheet = Sheet::default();
    sheet.row(
        "arrays",
        format!(
            "{count} ({}..={} elements each, seed {})",
            many.min_elements, many.max_elements, args.seed
        ),
    );
    sheet.row(
        "elements",
        format!(
            "{elements} in all ({:.1} per array)",
            elements as f64 / count as f64
        ),
    );
    let poll = how.first_poll.as_millis();
    sheet.row(
        "clients",
        format!(
            "{} concurrent, each POSTs then GETs every {poll} ms until done",
            many.clients
        ),
    );
    sheet.row("API", api_used(args, seen.as_ref()));
    sheet.set(&["arrays"], count);
    sheet.set(&["elements"], elements);
    sheet.set(&["clients"], many.clients);
    write_timing(&mut sheet, count, driven);
    super::report::memory_row(&mut sheet);
    let Some(seen) = seen else {
        sheet.row("Lambda invocations", "not visible from a client");
        sheet.row("AWS requests", "not visible from a client");
        return sheet;
    };
    let per = Per {
        unit: "array",
        n: count as f64,
        digits: 3,
    };
    seen.write(&mut sheet, (count, driven.posting), per);
    sheet
}

/// Which API the clients used.
fn api_used(args: &BenchArgs, seen: Option<&Seen>) -> String {
    match (&args.many.api, seen) {
        (Some(url), _) => format!("HTTP, {url}"),
        (None, Some(seen)) => {
            let config = &seen.running.api_config;
            format!(
                "in-process Router, {} backend (chunk size {}, fan-in {})",
                seen.kind.display_name(),
                config.chunk_size,
                config.fan_in
            )
        }
        (None, None) => "in-process Router".into(),
    }
}

/// Wall time, throughput, latency (quantiles and a histogram) and the sums
/// checked.
fn write_timing(sheet: &mut Sheet, count: u64, driven: &Driven) {
    let wall = driven.wall.as_secs_f64();
    let sorted = &driven.latencies;
    let per_second = count as f64 / wall.max(1e-9);
    sheet.row("wall time", format!("{wall:.3} s"));
    sheet.row("arrays per second", format!("{per_second:.1}"));
    let (p50, p99, max) = (
        ms(quantile(sorted, 0.50)),
        ms(quantile(sorted, 0.99)),
        ms(quantile(sorted, 1.0)),
    );
    sheet.row(
        "latency POST→done",
        format!("p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms"),
    );
    for (bound, n, bar) in histogram(sorted) {
        sheet.row(format!("  < {bound}"), format!("{n} {bar}"));
        sheet.set(&["latencyHistogram", &format!("<{bound}")], n);
    }
    sheet.row(
        "sums",
        format!("{} of {count} exact, checked", driven.checked),
    );
    sheet.set(&["wallSeconds"], wall);
    sheet.set(&["arraysPerSecond"], (per_second * 10.0).round() / 10.0);
    sheet.set(&["latencyMs", "p50"], p50);
    sheet.set(&["latencyMs", "p99"], p99);
    sheet.set(&["latencyMs", "max"], max);
    sheet.set(&["checked"], driven.checked);
}

/// Latencies counted in buckets that double from 1 ms (`< 1 ms`, `< 2 ms`,
/// …, up to the slowest), each with a bar of `#` to scale.
fn histogram(sorted: &[Duration]) -> Vec<(String, u64, String)> {
    let Some(slowest) = sorted.last() else {
        return Vec::new();
    };
    let mut bounds = vec![Duration::from_millis(1)];
    while bounds.last().is_some_and(|b| b <= slowest) {
        let next = bounds.last().map_or(Duration::from_millis(1), |b| *b * 2);
        bounds.push(next);
    }
    let mut counts = vec![0u64; bounds.len()];
    for latency in sorted {
        let i = bounds
            .iter()
            .position(|b| latency < b)
            .unwrap_or(bounds.len() - 1);
        counts[i] += 1;
    }
    let most = counts.iter().copied().max().unwrap_or(1).max(1);
    bounds
        .iter()
        .zip(counts)
        .map(|(bound, n)| {
            let bar = "#".repeat((n * 40).div_ceil(most) as usize);
            let bound = match bound.as_millis() {
                ms if ms >= 1000 => format!("{} s", ms / 1000),
                ms => format!("{ms} ms"),
            };
            (bound, n, bar)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use local::Kind;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn args(flags: &[&str]) -> BenchArgs {
        Cli::try_parse_from(std::iter::once("bench").chain(flags.iter().copied()))
            .expect("flags parse")
            .bench
    }

    #[test]
    fn sizes_are_drawn_from_the_range_and_repeat_with_the_seed() {
        let flags = [
            "--arrays",
            "500",
            "--min-elements",
            "3",
            "--max-elements",
            "7",
        ];
        let a = Workload::new(&args(&flags).many, 9).expect("workload");
        assert_eq!(a.sizes.len(), 500);
        assert!(a.sizes.iter().all(|s| (3..=7).contains(s)));
        for size in 3..=7 {
            assert!(a.sizes.contains(&size), "{size} never drawn");
        }
        let again = Workload::new(&args(&flags).many, 9).expect("workload");
        assert_eq!(a.sizes, again.sizes);
        assert_ne!(a.array(0, 5).0, a.array(1, 5).0, "arrays differ");
        let inverted = args(&[
            "--arrays",
            "5",
            "--min-elements",
            "9",
            "--max-elements",
            "2",
        ]);
        assert!(Workload::new(&inverted.many, 1).is_err());
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&sorted, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&sorted, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&sorted, 1.0), Duration::from_millis(100));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fifty_small_arrays_from_four_clients_are_all_done_and_counted() {
        let args = args(&[
            "--arrays",
            "50",
            "--clients",
            "4",
            "--min-elements",
            "1",
            "--max-elements",
            "20",
            "--chunk-size",
            "8",
        ]);
        let workload = Workload::new(&args.many, args.seed).expect("workload");
        let how = waiting(&args);
        let (running, counter, driven) = in_process(&args, &workload, &how)
            .await
            .expect("every array done with its exact sum");
        assert_eq!(driven.checked, 50);
        assert_eq!(driven.latencies.len(), 50);
        assert!(driven.latencies.windows(2).all(|w| w[0] <= w[1]));
        let invocations = running.tally.invocations();
        let times_two = invocations.get("times_two").map_or(0, |(count, _)| *count);
        assert!(times_two > 0, "times_two never invoked: {invocations:?}");
        // A client's reads are its own: once an array is done and the
        // pipeline idle, a hundred more GETs count nothing.
        let api = InProcess::new(&running);
        let (body, _) = workload.array(0, 3);
        let id = submit(&api, body, &JobSpec::default())
            .await
            .expect("POST")
            .array_id;
        wait(&api, &id, &how).await.expect("done");
        settle(&running, Kind::Memory).await;
        let before = running.tally.calls();
        for _ in 0..100 {
            crate::submit::get(&api, &id).await.expect("GET");
        }
        assert_eq!(
            running.tally.calls().get("sums.get"),
            before.get("sums.get")
        );
        let seen = Seen {
            running: &running,
            counter: &counter,
            kind: Kind::Memory,
        };
        let sheet = render(&args, &workload, &driven, &how, Some(seen));
        let report = sheet.text();
        let line = |start: &str| {
            report
                .lines()
                .find(|l| l.starts_with(start))
                .map(|l| l[start.len()..].trim().to_string())
                .unwrap_or_else(|| panic!("no {start:?}:\n{report}"))
        };
        assert_eq!(line("sums "), "50 of 50 exact, checked");
        assert!(
            line("  sum_array ").starts_with("50 (1.000 per array"),
            "one sum_array invocation per POST:\n{report}"
        );
        assert!(line("latency POST→done ").starts_with("p50 "), "{report}");
        let json: serde_json::Value = serde_json::from_str(&sheet.json()).expect("JSON");
        assert_eq!(json["checked"], 50);
        assert_eq!(json["invocations"]["sum_array"]["count"], 50);
        let histogram = json["latencyHistogram"].as_object().expect("a histogram");
        let counted: u64 = histogram
            .values()
            .filter_map(serde_json::Value::as_u64)
            .sum();
        assert_eq!(counted, 50, "every latency in one bucket: {histogram:?}");
    }
}
