//! The benchmark's report: what the run measured, what each function and
//! port did, and with `--backend aws` every AWS request with the bill.

use super::prices::{self, Price};
use super::sheet::Sheet;
use super::{BenchArgs, Measured};
use aws_ports::RequestCounter;
use local::tally::Tally;
use local::{Kind, Running};
use std::collections::BTreeMap;
use std::time::Duration;

/// What the figures are divided by: one array's elements, or many arrays.
#[derive(Clone, Copy)]
pub struct Per {
    pub unit: &'static str,
    /// How many: the divisor.
    pub n: f64,
    /// Decimals printed.
    pub digits: usize,
}

impl Per {
    fn of(&self, count: u64) -> f64 {
        count as f64 / self.n
    }

    /// `12 (0.000012 per element)`.
    pub fn count(&self, count: u64) -> String {
        format!(
            "{count} ({:.*} per {})",
            self.digits,
            self.of(count),
            self.unit
        )
    }
}

/// The whole report.
pub fn render(
    args: &BenchArgs,
    running: &Running,
    counter: &RequestCounter,
    measured: &Measured,
) -> Sheet {
    let per = Per {
        unit: "element",
        n: args.elements.max(1) as f64,
        digits: 6,
    };
    let mut sheet = Sheet::default();
    run_figures(&mut sheet, args, running, measured);
    let seen = Seen {
        running,
        counter,
        kind: args.backend.backend,
    };
    // sum_array ran only if a POST was sent, for as long as it took.
    let busy = match measured.posts {
        0 => Duration::ZERO,
        _ => measured.accepted_in,
    };
    seen.write(&mut sheet, (measured.posts, busy), per);
    sheet
}

/// What a run inside this process sees: the functions' invocations and
/// port calls and, with `--backend aws`, their AWS requests.
pub struct Seen<'a> {
    pub running: &'a Running,
    pub counter: &'a RequestCounter,
    pub kind: Kind,
}

impl Seen<'_> {
    /// Invocations, port calls, AWS requests and the bill, divided by `per`;
    /// `posts` is sum_array's share: (POSTs, the time they took).
    pub fn write(&self, sheet: &mut Sheet, posts: (u64, Duration), per: Per) {
        let mut invocations = self.running.tally.invocations();
        invocations.insert("sum_array".into(), posts);
        let lambda = lambda_figures(sheet, &invocations, &self.running.memory_mb, per);
        sheet.row("port calls", "");
        for (call, count) in self.running.tally.calls() {
            sheet.row(format!("  {call}"), per.count(count));
            sheet.set(&["portCalls", &call], count);
        }
        if self.kind == Kind::Aws {
            let requests = SdkRequests::count(sheet, self.counter, per);
            bill(sheet, &requests, &self.running.tally, &lambda, posts.0, per);
        } else {
            sheet.row(
                "AWS requests",
                "none (in-process backend); run with --backend aws to count them",
            );
        }
    }
}

pub(super) fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The peak memory row, when the platform tells it.
pub(super) fn memory_row(sheet: &mut Sheet) {
    if let Some(mb) = peak_rss_mb() {
        sheet.row("peak memory (RSS)", format!("{mb:.1} MiB (whole process)"));
        sheet.set(&["peakRssMiB"], (mb * 10.0).round() / 10.0);
    }
}

/// The run itself: size, settings, times, throughput, the sum, memory.
fn run_figures(sheet: &mut Sheet, args: &BenchArgs, running: &Running, measured: &Measured) {
    let config = &running.api_config;
    let wall = measured.wall.as_secs_f64();
    let backend = args.backend.backend.display_name();
    sheet.row("elements", args.elements.to_string());
    sheet.row("backend", backend);
    sheet.set(&["elements"], args.elements);
    sheet.set(&["backend"], backend);
    if let Some(format) = args.object {
        let (range, fan_in) = (config.range_bytes, config.fan_in);
        sheet.row("range bytes / fan-in", format!("{range} / {fan_in}"));
        sheet.row(
            format!("object ({})", format.as_str()),
            format!("{} bytes", measured.body_bytes),
        );
        sheet.set(&["object", "format"], format.as_str());
        sheet.set(&["object", "bytes"], measured.body_bytes);
        sheet.set(&["rangeBytes"], range);
        sheet.set(&["fanIn"], fan_in);
    } else {
        let (chunk, fan_in) = (config.chunk_size, config.fan_in);
        sheet.row("chunk size / fan-in", format!("{chunk} / {fan_in}"));
        sheet.row("request body", format!("{} bytes", measured.body_bytes));
        sheet.set(&["chunkSize"], chunk);
        sheet.set(&["fanIn"], fan_in);
        sheet.set(&["requestBodyBytes"], measured.body_bytes);
    }
    let started_by = match measured.posts {
        0 => "notification found",
        _ => "POST answered",
    };
    let accepted = measured.accepted_in.as_secs_f64();
    sheet.row(
        "wall time",
        format!("{wall:.3} s ({started_by} in {accepted:.3} s)"),
    );
    let per_second = args.elements as f64 / wall.max(1e-9);
    sheet.row("elements per second", format!("{per_second:.0}"));
    sheet.set(&["wallSeconds"], wall);
    sheet.set(&["acceptedSeconds"], accepted);
    sheet.set(&["elementsPerSecond"], per_second.round());
    let job = args.job.spec();
    if job.is_default() {
        sheet.row("sum", format!("{} (exact, checked)", measured.sum));
    } else {
        sheet.row("job", job.to_json());
        sheet.row(
            "result",
            format!("{} (exact, checked)", shortened(&measured.sum)),
        );
        sheet.set(&["job"], serde_json::to_value(&job).unwrap_or_default());
    }
    // The result keeps every digit: JSON text, not a float.
    let result = serde_json::from_str::<serde_json::Value>(&measured.sum)
        .unwrap_or_else(|_| serde_json::Value::String(measured.sum.clone()));
    sheet.set(&["result"], result);
    memory_row(sheet);
}

/// A result of at most 200 characters, for one line of the report.
fn shortened(result: &str) -> String {
    match result.char_indices().nth(200) {
        None => result.to_string(),
        Some((cut, _)) => format!("{}… ({} bytes)", &result[..cut], result.len()),
    }
}

/// Lambda's share of the bill: invocations and the GB-seconds they were busy.
#[derive(Clone, Copy)]
struct LambdaUse {
    invocations: u64,
    gb_seconds: f64,
}

/// Invocations per function, written to `sheet`; GB-seconds by each
/// function's MemorySize in template.yaml (`memory_mb`, by binary).
fn lambda_figures(
    sheet: &mut Sheet,
    invocations: &BTreeMap<String, (u64, Duration)>,
    memory_mb: &BTreeMap<String, u32>,
    per: Per,
) -> LambdaUse {
    let total: u64 = invocations.values().map(|(c, _)| c).sum();
    sheet.row("Lambda invocations", per.count(total));
    let mut gb_seconds = 0.0;
    for (function, (count, busy)) in invocations {
        // Lambda bills a GB as 1,024 MB.
        let mb = memory_mb
            .get(function)
            .copied()
            .unwrap_or(stack::DEFAULT_FUNCTION_MEMORY_MB);
        gb_seconds += busy.as_secs_f64() * f64::from(mb) / 1024.0;
        let busy = busy.as_secs_f64();
        sheet.row(
            format!("  {function}"),
            format!(
                "{count} ({:.*} per {}, {busy:.3} s busy)",
                per.digits,
                per.of(*count),
                per.unit
            ),
        );
        sheet.set(&["invocations", function, "count"], *count);
        sheet.set(&["invocations", function, "busySeconds"], busy);
    }
    sheet.set(&["invocations", "total"], total);
    LambdaUse {
        invocations: total,
        gb_seconds,
    }
}

/// The SDK requests the interceptor counted.
struct SdkRequests {
    by_op: BTreeMap<String, u64>,
    sqs_billed: u64,
}

/// Polling the event source mappings do (Lambda's, not the functions').
fn is_polling(op: &str) -> bool {
    matches!(
        op,
        "ReceiveMessage" | "DeleteMessageBatch" | "DeleteMessage" | "GetQueueAttributes"
    )
}

impl SdkRequests {
    /// One row per service and API, then the totals.
    fn count(sheet: &mut Sheet, counter: &RequestCounter, per: Per) -> SdkRequests {
        let mut requests = SdkRequests {
            by_op: BTreeMap::new(),
            sqs_billed: 0,
        };
        let (mut app, mut with_polling) = (0, 0);
        sheet.row("AWS requests", "(SDK interceptor, by API)");
        for ((service, op), sent) in &counter.snapshot() {
            let mark = if is_polling(op) {
                "  [event source mapping]"
            } else {
                ""
            };
            sheet.row(
                format!("  {service} {op}"),
                format!("{}{mark}", per.count(sent.requests)),
            );
            sheet.set(&["awsRequests", &format!("{service} {op}")], sent.requests);
            with_polling += sent.requests;
            if !is_polling(op) {
                app += sent.requests;
            }
            if service.eq_ignore_ascii_case("sqs") {
                requests.sqs_billed += sent.billed;
            }
            *requests.by_op.entry(op.clone()).or_default() += sent.requests;
        }
        let (digits, unit) = (per.digits, per.unit);
        sheet.row(
            "  total",
            format!(
                "{app} by the functions ({:.digits$} per {unit}), {with_polling} with the \
                 mappings' polling ({:.digits$} per {unit})",
                per.of(app),
                per.of(with_polling)
            ),
        );
        sheet.set(&["awsRequests", "byFunctions"], app);
        sheet.set(&["awsRequests", "withPolling"], with_polling);
        requests
    }

    fn of(&self, op: &str) -> u64 {
        self.by_op.get(op).copied().unwrap_or(0)
    }
}

/// The estimated bill per million of `per`, by service; `posts` requests
/// reached API Gateway (a client's GETs are its own choice: not counted).
fn bill(
    sheet: &mut Sheet,
    requests: &SdkRequests,
    tally: &Tally,
    lambda: &LambdaUse,
    posts: u64,
    per: Per,
) {
    use std::sync::atomic::Ordering;
    // Write units: every item write is at most 1 KB here. Read units: a
    // consistent read costs one unit per started 4 KB; rows are ~150 bytes.
    let write_units = requests.of("PutItem")
        + requests.of("UpdateItem")
        + tally.rows_retired.load(Ordering::Relaxed);
    let rows_read = tally.rows_read.load(Ordering::Relaxed);
    let read_units =
        requests.of("GetItem") + requests.of("Query").max((rows_read * 150).div_ceil(4096));
    let sqs_billed = requests.sqs_billed;
    let cost = |count: f64, price: Price| count * price.usd;
    let sqs = cost(sqs_billed as f64, prices::SQS_REQUEST);
    let dynamodb = cost(write_units as f64, prices::DYNAMODB_WRITE_UNIT)
        + cost(read_units as f64, prices::DYNAMODB_READ_UNIT);
    let LambdaUse {
        invocations,
        gb_seconds,
    } = *lambda;
    let lambda = cost(invocations as f64, prices::LAMBDA_REQUEST)
        + cost(gb_seconds, prices::LAMBDA_GB_SECOND);
    let api = cost(posts as f64, prices::API_REQUEST);
    let s3_reads = requests.of("GetObject") + requests.of("HeadObject");
    let s3 = cost(s3_reads as f64, prices::S3_GET_REQUEST);
    let total = sqs + dynamodb + lambda + api + s3;
    // Per million arrays, or elements; per billion too when there are
    // objects, whose elements come by the billion.
    let millions: &[f64] = if s3_reads > 0 { &[1.0, 1000.0] } else { &[1.0] };
    for m in millions {
        sheet.row(
            format!("bill per {} {}s", group_thousands(m * 1e6), per.unit),
            format!(
                "${:.6} (estimated: us-east-1 on-demand, {} list prices)",
                total * m * 1e6 / per.n,
                prices::as_of()
            ),
        );
    }
    let scale = 1_000_000.0 / per.n;
    let parts = [
        ("SQS", sqs, format!("{sqs_billed} billed requests")),
        (
            "DynamoDB",
            dynamodb,
            format!("{write_units} WRU, {read_units} RRU"),
        ),
        (
            "Lambda",
            lambda,
            format!("{invocations} invocations, {gb_seconds:.2} GB-s measured here"),
        ),
        ("API Gateway", api, format!("{posts} POSTs")),
        ("S3", s3, format!("{s3_reads} GET/HEAD")),
    ];
    for (service, usd, what) in parts {
        sheet.row(
            format!("  {service}"),
            format!("${:.6} ({what})", usd * scale),
        );
        sheet.set(&["billPerMillion", service], usd * scale);
    }
    sheet.set(&["billPerMillion", "total"], total * scale);
}

/// `1000000` as `1,000,000`.
fn group_thousands(n: f64) -> String {
    let digits = format!("{n:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
