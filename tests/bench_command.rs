//! `adder bench --arrays`: many small arrays from concurrent clients, in
//! process, over HTTP against `adder serve`, and with `--backend aws` on moto.
//! Each run checks every sum itself (a wrong one fails the command); these
//! tests check that the report says so and that its counts add up.

mod common;

use common::{run_adder, Server};
use test_support::Moto;

/// Runs `adder bench args…`, asserting success; returns the report.
fn bench(args: &[&str], env: &[(&'static str, String)]) -> String {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    let (code, out, err) = run_adder(&all, env, None);
    assert_eq!(code, 0, "adder {all:?} failed: {err}");
    out
}

/// The report's line starting with `label`, without it.
fn line<'a>(report: &'a str, label: &str) -> &'a str {
    report
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no line {label:?} in:\n{report}"))
        .trim()
}

/// The first number in `text` (digits and dots).
fn number(text: &str) -> f64 {
    let start = text
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or_else(|| panic!("no number in {text:?}"));
    let digits: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse().expect("a number")
}

/// The counts every run shows: all arrays done and checked, latencies in order.
fn assert_run(report: &str, arrays: u64) {
    assert!(
        line(report, "arrays ").starts_with(&format!("{arrays} (")),
        "{report}"
    );
    assert_eq!(
        line(report, "sums "),
        format!("{arrays} of {arrays} exact, checked")
    );
    assert!(number(line(report, "arrays per second ")) > 0.0, "{report}");
    let latency = line(report, "latency POST→done ");
    // "p50 3.7 ms, p99 11.7 ms, max 11.7 ms": the figure after each label.
    let figures: Vec<f64> = latency
        .split(", ")
        .filter_map(|part| part.split_whitespace().nth(1))
        .map(number)
        .collect();
    assert_eq!(figures.len(), 3, "{latency}");
    assert!(
        figures[1] >= figures[0] && figures[2] >= figures[1],
        "{latency}"
    );
}

/// Count per array of the function or port call `name`, from its report line.
fn per_array(report: &str, name: &str) -> (u64, f64) {
    let rest = line(report, &format!("  {name} "));
    let count = number(rest) as u64;
    let per = rest.split('(').nth(1).map(number).expect("per array");
    (count, per)
}

#[test]
fn in_process_many_arrays_are_all_done_and_counted() {
    let report = bench(
        &[
            "--arrays",
            "40",
            "--clients",
            "4",
            "--max-elements",
            "20",
            "--chunk-size",
            "8",
        ],
        &[],
    );
    assert_run(&report, 40);
    assert_eq!(per_array(&report, "sum_array"), (40, 1.0), "{report}");
    assert!(per_array(&report, "times_two").0 > 0, "{report}");
    let total = number(line(&report, "Lambda invocations "));
    assert!(total > 40.0, "sum_array's 40 and more: {report}");
    assert!(line(&report, "AWS requests ").starts_with("none (in-process backend)"));
}

#[test]
fn over_http_throughput_is_measured_and_the_pipeline_is_not_visible() {
    let server = Server::start(&[], &[]);
    let report = bench(
        &[
            "--arrays",
            "20",
            "--clients",
            "3",
            "--max-elements",
            "30",
            "--api",
            &server.base,
        ],
        &[],
    );
    assert_run(&report, 20);
    assert_eq!(line(&report, "API "), format!("HTTP, {}", server.base));
    assert_eq!(
        line(&report, "Lambda invocations "),
        "not visible from a client"
    );
    assert_eq!(line(&report, "AWS requests "), "not visible from a client");
}

/// The report reads as a table (every value in one column, counts aligned
/// right) and --json gives the same figures to a script.
#[test]
fn the_report_lines_up_and_has_a_json_twin() {
    let report = bench(&["--elements", "50000", "--chunk-size", "1000"], &[]);
    let top: std::collections::BTreeSet<usize> = report
        .lines()
        .filter(|l| !l.starts_with(' ') && l.contains("  "))
        .filter_map(|l| {
            l.find("  ")
                .map(|i| i + l[i..].len() - l[i..].trim_start().len())
        })
        .collect();
    assert_eq!(top.len(), 1, "every value in one column:\n{report}");
    let counts: std::collections::BTreeSet<usize> = report
        .lines()
        .filter(|l| l.starts_with("  ") && l.contains(" per "))
        .filter_map(|l| l.find(" ("))
        .collect();
    assert_eq!(counts.len(), 1, "sub-rows' counts aligned right:\n{report}");
    assert_eq!(line(&report, "backend "), "memory");
    let (code, out, err) = run_adder(&["bench", "--elements", "5000", "--json"], &[], None);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(json["elements"], 5000);
    assert_eq!(json["backend"], "memory");
    assert_eq!(json["invocations"]["sum_array"]["count"], 1);
    assert!(
        json["result"].is_u64() && json["wallSeconds"].is_f64(),
        "{json}"
    );
}

#[test]
fn bad_sizes_are_refused() {
    let (code, _, err) = run_adder(
        &[
            "bench",
            "--arrays",
            "5",
            "--min-elements",
            "9",
            "--max-elements",
            "2",
        ],
        &[],
        None,
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("--min-elements 9 is above --max-elements 2"),
        "{err}"
    );
    let (code, out, err) = run_adder(&["bench", "--elements", "0"], &[], None);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            2,
            "",
            "adder: --elements must be at least 1: an empty array measures nothing\n"
        )
    );
}

#[test]
fn on_moto_aws_requests_per_array_are_counted_with_polling_apart() {
    let moto = Moto::start();
    let report = bench(
        &[
            "--arrays",
            "6",
            "--clients",
            "3",
            "--max-elements",
            "20",
            "--backend",
            "aws",
            "--endpoint-url",
            moto.endpoint(),
            "--prefix",
            "bench-many",
            "--max-pollers",
            "2",
        ],
        &moto.env(),
    );
    assert_run(&report, 6);
    assert_eq!(per_array(&report, "sum_array"), (6, 1.0), "{report}");
    let request = |op: &str| {
        report
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(op))
            .unwrap_or_else(|| panic!("no {op} line in:\n{report}"))
    };
    assert!(!request("PutItem").contains("[event source mapping]"));
    assert!(request("SendMessageBatch").trim_start().starts_with("SQS"));
    assert!(request("ReceiveMessage").ends_with("[event source mapping]"));
    let total = line(&report, "  total ");
    let by_functions = number(total);
    let with_polling = number(total.split("), ").nth(1).expect("with polling"));
    assert!(by_functions >= 6.0, "at least a write per array: {total}");
    assert!(with_polling > by_functions, "{total}");
    let bill = line(&report, "bill per 1,000,000 arrays ");
    assert!(bill.starts_with('$') && number(bill) > 0.0, "{bill}");
    assert!(report.contains("(6 POSTs)"), "{report}");
}

#[test]
fn object_mode_sums_a_generated_file_by_ranges_in_every_format() {
    for format in ["lines", "csv", "json"] {
        let report = bench(
            &[
                "--object",
                format,
                "--elements",
                "30000",
                "--range-bytes",
                "4096",
                "--fan-in",
                "4",
            ],
            &[],
        );
        assert!(line(&report, "sum").contains("exact, checked"), "{report}");
        assert_eq!(number(line(&report, "elements ")), 30_000.0);
        assert_eq!(line(&report, "range bytes / fan-in"), "4096 / 4");
        assert!(
            number(line(&report, "object (")) > 4096.0 * 10.0,
            "{report}"
        );
        // All the ranges go out in one send; several reduce steps merge them.
        assert_eq!(number(line(&report, "  times_two_queue.send")), 1.0);
        assert!(number(line(&report, "  reduce ")) >= 1.0, "{report}");
    }
}

/// Every shipped job through the bench: its result checked against the job
/// computed directly (sum-by over the generated CSV's 100 keys).
#[test]
fn jobs_are_benched_and_their_results_checked() {
    let common = [
        "--elements",
        "20000",
        "--range-bytes",
        "8192",
        "--fan-in",
        "4",
    ];
    for (object, job) in [
        (None, "stats"),
        (Some("csv"), "stats"),
        (Some("csv"), "sum-by"),
    ] {
        let mut args = common.to_vec();
        if let Some(format) = object {
            args.extend(["--object", format]);
        }
        args.extend(["--job", job]);
        let report = bench(&args, &[]);
        assert!(
            line(&report, "job ").contains(&format!("\"name\":\"{job}\"")),
            "{report}"
        );
        assert!(
            line(&report, "result ").contains("exact, checked"),
            "{report}"
        );
    }
    let report = bench(
        &[
            "--elements",
            "1000",
            "--job",
            "histogram",
            "--param",
            "bounds=[100,5000]",
        ],
        &[],
    );
    assert!(
        line(&report, "result ").starts_with(r#"{"buckets":[{"from":null,"below":100,"count":"#),
        "{report}"
    );
    let (code, _, err) = run_adder(
        &[
            "bench", "--object", "csv", "--job", "sum-by", "--param", "by=0",
        ],
        &[],
        None,
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("the bench's CSV is id,number,key: group by column 2, not 0"),
        "{err}"
    );
}

/// `--object lines --backend aws`: the generated file is uploaded to the
/// input bucket on moto and summed exactly, every range read from S3.
#[test]
fn object_mode_on_moto_reads_every_range_from_the_input_bucket() {
    let moto = Moto::start();
    let report = bench(
        &[
            "--object",
            "lines",
            "--elements",
            "50000",
            "--range-bytes",
            "65536",
            "--backend",
            "aws",
            "--endpoint-url",
            moto.endpoint(),
            "--prefix",
            "bench-object",
            "--max-pollers",
            "2",
            "--timeout",
            "300",
        ],
        &moto.env(),
    );
    assert!(line(&report, "sum").contains("exact, checked"), "{report}");
    assert_eq!(number(line(&report, "elements ")), 50_000.0);
    let bytes = number(line(&report, "object ("));
    let ranges = (bytes / 65536.0).ceil();
    assert!(ranges >= 3.0, "several ranges: {report}");
    let gets = report
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("GetObject"))
        .map(|l| number(l.split_whitespace().nth(2).expect("count")))
        .unwrap_or_else(|| panic!("no GetObject line in:\n{report}"));
    assert!(
        gets >= ranges,
        "{gets} GetObject for {ranges} ranges: {report}"
    );
    // The upload's notification starts the array: no POST, so no sum_array.
    assert!(
        line(&report, "started by").starts_with("the upload's S3 notification"),
        "{report}"
    );
    assert!(line(&report, "wall time").contains("notification found in"));
    assert_eq!(per_array(&report, "sum_array").0, 0, "{report}");
}
