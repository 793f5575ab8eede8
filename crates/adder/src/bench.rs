//! `adder bench`: one array through the whole pipeline, with figures.
//!
//! Prints wall time and throughput, handler invocations per function, port
//! calls, peak memory and, with `--backend aws`, every AWS request the code
//! sent (counted by an SDK interceptor, retries included) with an estimate of
//! the bill at us-east-1 on-demand list prices.

use crate::backend::{self, BackendArgs, Kind};
use aws_ports::RequestCounter;
use clap::Args;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Prices used for the estimate: us-east-1, on-demand, list prices as of
/// 2026-11 (see docs/performance.md). Free tiers are ignored.
pub mod price {
    /// SQS standard queue, per request (each started 64 KiB of payload is one request).
    pub const SQS_REQUEST: f64 = 0.40 / 1e6;
    /// DynamoDB on-demand, per write request unit (1 KB).
    pub const DYNAMODB_WRITE_UNIT: f64 = 0.625 / 1e6;
    /// DynamoDB on-demand, per read request unit (4 KB strongly consistent).
    pub const DYNAMODB_READ_UNIT: f64 = 0.125 / 1e6;
    /// Lambda, per invocation.
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// Lambda on arm64, per GB-second.
    pub const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
    /// API Gateway REST API, per request.
    pub const API_REQUEST: f64 = 3.50 / 1e6;
}

/// Memory the template gives each function, for the GB-second estimate.
const FUNCTION_MEMORY_GB: f64 = 0.5;

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Number of elements in the benchmark array.
    #[arg(long, default_value_t = 1_000_000)]
    pub elements: u64,
    /// Seed of the generated numbers.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
    #[command(flatten)]
    pub backend: BackendArgs,
}

/// A deterministic array of integers 0..=9999 (short, so a million fit in
/// Lambda's 6 MB payload) and its exact doubled sum.
fn array(n: u64, seed: u64) -> (String, i128) {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut body = String::with_capacity(n as usize * 5 + 2);
    let mut total: i128 = 0;
    body.push('[');
    for i in 0..n {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let v = (state >> 33) % 10_000;
        total += v as i128;
        if i > 0 {
            body.push(',');
        }
        let _ = write!(body, "{v}");
    }
    body.push(']');
    (body, 2 * total)
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Runs the benchmark; returns the report or why it failed.
pub async fn run(args: BenchArgs) -> Result<String, String> {
    let stack = stack::Stack::embedded().map_err(|e| format!("template.yaml: {e}"))?;
    let counter = RequestCounter::new();
    let running = backend::start_counted(&args.backend, &stack, Some(&counter))
        .await
        .map_err(|e| e.to_string())?;
    let (body, expected) = array(args.elements, args.seed);
    let body_bytes = body.len();
    let started = Instant::now();
    let mut request = aws_lambda_events::apigw::ApiGatewayProxyRequest::default();
    request.http_method = http::Method::POST;
    request.path = Some("/sumArray".into());
    request.body = Some(body);
    let response = handlers::handle_api(&running.ports, &running.api_config, &request).await;
    let accepted_in = started.elapsed();
    let text = match &response.body {
        Some(aws_lambda_events::encodings::Body::Text(t)) => t.clone(),
        _ => String::new(),
    };
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let Some(array_id) = answer["arrayId"].as_str() else {
        return Err(format!(
            "sum_array answered {}: {text}",
            response.status_code
        ));
    };
    let poll = match args.backend.backend {
        Kind::Memory => Duration::from_millis(1),
        Kind::Aws => Duration::from_millis(50),
    };
    let sum = loop {
        if let Ok(Some(r)) = pipeline::get_sum(&running.client_ports, array_id).await {
            if r.status == pipeline::Status::Done {
                break r.sum.map(|s| s.to_string()).unwrap_or_default();
            }
        }
        if started.elapsed() > Duration::from_secs(args.timeout) {
            return Err(format!("not done after {} s", args.timeout));
        }
        tokio::time::sleep(poll).await;
    };
    let wall = started.elapsed();
    if sum != expected.to_string() {
        return Err(format!("wrong sum {sum}, expected {expected}"));
    }
    let n = args.elements.max(1) as f64;
    let per = |x: u64| x as f64 / n;
    let mut out = String::new();
    let _ = writeln!(out, "elements              {}", args.elements);
    let _ = writeln!(out, "backend               {:?}", args.backend.backend);
    let _ = writeln!(
        out,
        "chunk size / fan-in   {} / {}",
        running.api_config.chunk_size, running.api_config.fan_in
    );
    let _ = writeln!(out, "request body          {body_bytes} bytes");
    let _ = writeln!(
        out,
        "wall time             {:.3} s (POST answered in {:.3} s)",
        wall.as_secs_f64(),
        accepted_in.as_secs_f64()
    );
    let _ = writeln!(out, "elements per second   {:.0}", n / wall.as_secs_f64());
    let _ = writeln!(out, "sum                   {sum} (exact, checked)");
    if let Some(mb) = peak_rss_mb() {
        let _ = writeln!(out, "peak memory (RSS)     {mb:.1} MiB (whole process)");
    }
    let mut invocations = running.tally.invocations();
    invocations.insert("sum_array".into(), (1, accepted_in));
    let total_invocations: u64 = invocations.values().map(|(c, _)| c).sum();
    let _ = writeln!(
        out,
        "Lambda invocations    {total_invocations} ({:.6} per element)",
        per(total_invocations)
    );
    let mut gb_seconds = 0.0;
    for (function, (count, busy)) in &invocations {
        gb_seconds += busy.as_secs_f64() * FUNCTION_MEMORY_GB;
        let _ = writeln!(
            out,
            "  {function:<19} {count:>8} ({:.6} per element, {:.3} s busy)",
            per(*count),
            busy.as_secs_f64()
        );
    }
    let _ = writeln!(out, "port calls");
    for (call, count) in running.tally.calls() {
        let _ = writeln!(out, "  {call:<26} {count:>8}");
    }
    if args.backend.backend == Kind::Aws {
        out.push_str(&aws_report(
            &counter,
            &running.tally,
            n,
            total_invocations,
            gb_seconds,
        ));
    } else {
        let _ = writeln!(
            out,
            "AWS requests          none (in-process backend); run with --backend aws to count them"
        );
    }
    Ok(out)
}

fn aws_report(
    counter: &RequestCounter,
    tally: &crate::tally::Tally,
    n: f64,
    invocations: u64,
    gb_seconds: f64,
) -> String {
    use std::sync::atomic::Ordering;
    let mut out = String::new();
    let tally_sdk = counter.snapshot();
    let polling = |op: &str| {
        matches!(
            op,
            "ReceiveMessage" | "DeleteMessageBatch" | "DeleteMessage"
        )
    };
    let mut app = 0;
    let mut with_polling = 0;
    let mut sqs_billed = 0;
    let mut by_op: BTreeMap<String, u64> = BTreeMap::new();
    let _ = writeln!(out, "AWS requests (SDK interceptor, by API)");
    for ((service, op), sent) in &tally_sdk {
        let _ = writeln!(
            out,
            "  {service:<8} {op:<20} {:>8} ({:.6} per element){}",
            sent.requests,
            sent.requests as f64 / n,
            if polling(op) {
                "  [event source mapping]"
            } else {
                ""
            }
        );
        with_polling += sent.requests;
        if !polling(op) {
            app += sent.requests;
        }
        if service.eq_ignore_ascii_case("sqs") {
            sqs_billed += sent.billed;
        }
        *by_op.entry(op.clone()).or_default() += sent.requests;
    }
    let _ = writeln!(
        out,
        "  total: {app} by the functions ({:.6} per element), {with_polling} with the mappings' polling ({:.6} per element)",
        app as f64 / n,
        with_polling as f64 / n
    );
    // Write units: every item write is at most 1 KB here. Read units: a
    // consistent read costs one unit per started 4 KB; rows are ~150 bytes.
    let op = |name: &str| by_op.get(name).copied().unwrap_or(0);
    let write_units = op("PutItem") + op("UpdateItem") + tally.rows_retired.load(Ordering::Relaxed);
    let read_units = op("GetItem")
        + op("Query").max((tally.rows_read.load(Ordering::Relaxed) * 150).div_ceil(4096));
    let sqs = sqs_billed as f64 * price::SQS_REQUEST;
    let dynamodb = write_units as f64 * price::DYNAMODB_WRITE_UNIT
        + read_units as f64 * price::DYNAMODB_READ_UNIT;
    let lambda = invocations as f64 * price::LAMBDA_REQUEST + gb_seconds * price::LAMBDA_GB_SECOND;
    let api = price::API_REQUEST;
    let scale = 1_000_000.0 / n;
    let _ = writeln!(
        out,
        "estimated bill per 1,000,000 elements (us-east-1 on-demand, 2026-11 list prices): ${:.6}",
        (sqs + dynamodb + lambda + api) * scale
    );
    let _ = writeln!(
        out,
        "  SQS ${:.6} ({sqs_billed} billed requests), DynamoDB ${:.6} ({write_units} WRU, {read_units} RRU), Lambda ${:.6} ({invocations} invocations, {gb_seconds:.2} GB-s measured here), API Gateway ${:.6}",
        sqs * scale,
        dynamodb * scale,
        lambda * scale,
        api * scale
    );
    out
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
