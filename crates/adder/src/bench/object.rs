//! `adder bench --object FORMAT`: the --elements numbers written to a file
//! in that layout and summed by byte ranges, as an S3 object is.

use super::{numbers, report, settle, waiting, BenchArgs, Expected, Measured, KEYS};
use crate::error::Error;
use crate::submit::{submit_object, wait, Api};
use aws_ports::RequestCounter;
use handlers::wire::{ColumnText, ObjectRequest, ParamsText, SumView};
use local::{place_object, InProcess, Running};
use packet::job::JobSpec;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use pipeline::FormatName;
use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Runs the object benchmark; returns the report.
pub async fn run(
    args: &BenchArgs,
    format: FormatName,
    job: &JobSpec,
) -> Result<super::Sheet, Error> {
    let path = std::env::temp_dir().join(format!(
        "adder-bench-{}.{}",
        std::process::id(),
        extension(format)
    ));
    let mut expected = Expected::new(job)?;
    let written = write_object(&path, format, args.elements, args.seed, &mut expected);
    let result = match written {
        Ok(()) => match expected.finish() {
            Ok(expected) => measure(args, format, &path, &expected, job).await,
            Err(e) => Err(e),
        },
        Err(WriteError::Io(source)) => Err(Error::BenchFile {
            path: path.display().to_string(),
            source,
        }),
        Err(WriteError::Direct(e)) => Err(e),
    };
    let _ = std::fs::remove_file(&path);
    result
}

async fn measure(
    args: &BenchArgs,
    format: FormatName,
    path: &Path,
    expected: &str,
    job: &JobSpec,
) -> Result<super::Sheet, Error> {
    let stack = crate::runner::load_stack()?;
    let counter = RequestCounter::new();
    let running = local::start_counted(&args.backend, &stack, Some(&counter)).await?;
    let work = run_on(args, format, path, expected, job, &running, &counter);
    let sheet = crate::runner::interruptible(work).await;
    running.stop().await;
    sheet
}

/// The measurement on a started runner.
async fn run_on(
    args: &BenchArgs,
    format: FormatName,
    path: &Path,
    expected: &str,
    job: &JobSpec,
    running: &Running,
    counter: &RequestCounter,
) -> Result<super::Sheet, Error> {
    let csv = format == FormatName::Csv;
    let layout = crate::input::Numbers {
        format: Some(format),
        column: csv.then(|| "1".to_string()),
        no_header: csv,
        ..Default::default()
    };
    let api = InProcess::new(running);
    let notified_before = notifications_handled(running);
    // The clock starts before the upload: on AWS its notification starts
    // the array.
    let started = Instant::now();
    let (bucket, key) = place_object(running, &args.backend, path).await?;
    let notified = running.input_bucket.is_some();
    let request = crate::job::with_job(layout.request(&bucket, &key), job);
    let starter = start(&api, &request, notified).await?;
    let accepted_in = started.elapsed();
    let sum = wait(&api, &starter.array_id, &waiting(args)).await?;
    if notified {
        notification_handled(running, notified_before, args.timeout).await?;
    }
    let wall = started.elapsed();
    settle(running, args.backend.backend).await;
    if sum != expected {
        return Err(Error::WrongSum(format!(
            "wrong result {sum}, expected {expected}"
        )));
    }
    let measured = Measured {
        body_bytes: std::fs::metadata(path).map_or(0, |m| m.len() as usize),
        accepted_in,
        wall,
        posts: u64::from(starter.posted),
        sum,
    };
    let mut sheet = report::render(args, running, counter, &measured);
    sheet.row("started by", starter.by);
    sheet.set(&["startedBy"], starter.by);
    Ok(sheet)
}

/// Who started the array, and its id.
struct Starter {
    array_id: String,
    by: &'static str,
    posted: bool,
}

/// Starts summing the object: on AWS the upload's notification does,
/// found by GET /sumObject; POST /sumObject only when it has not within
/// [`NOTIFICATION_WAIT`] (in process there is none). Not both at once: a
/// POST while the array is pending sends all its ranges again, and each is
/// read from S3 twice (GetObject 8 for 4 ranges, seen on moto).
async fn start(api: &InProcess, request: &ObjectRequest, notified: bool) -> Result<Starter, Error> {
    let deadline = Instant::now() + NOTIFICATION_WAIT;
    while notified && Instant::now() < deadline {
        if let Some(array_id) = found(api, request).await? {
            let by = "the upload's S3 notification (found by GET /sumObject)";
            return Ok(Starter {
                array_id,
                by,
                posted: false,
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let submitted = submit_object(api, request).await?;
    Ok(Starter {
        array_id: submitted.array_id,
        by: "POST /sumObject",
        posted: true,
    })
}

/// How long the bench waits for the upload's notification to start the array.
const NOTIFICATION_WAIT: Duration = Duration::from_secs(10);

/// The array of the object `request` names, if it was started.
async fn found(api: &InProcess, request: &ObjectRequest) -> Result<Option<String>, Error> {
    let (status, text) = api
        .call(http::Method::GET, &query_of(request), None)
        .await?;
    if status != 200 {
        return Ok(None);
    }
    let record: SumView = serde_json::from_str(&text).map_err(|e| Error::Unexpected {
        what: format!("GET /sumObject ({e})"),
        text: text.clone(),
    })?;
    Ok(Some(record.array_id))
}

/// GET /sumObject's path for a POST /sumObject request (the bench's keys
/// and values need no escaping).
fn query_of(request: &ObjectRequest) -> String {
    let ObjectRequest {
        bucket,
        key,
        version_id,
        format,
        column,
        header,
        job,
        params,
    } = request;
    let mut pairs = vec![format!("bucket={bucket}"), format!("key={key}")];
    pairs.extend(version_id.iter().map(|v| format!("versionId={v}")));
    pairs.extend(format.iter().map(|f| format!("format={f}")));
    pairs.extend(column.iter().map(|c| match c {
        ColumnText::Index(i) => format!("column={i}"),
        ColumnText::Name(name) => format!("column={name}"),
    }));
    pairs.extend(header.iter().map(|h| format!("header={h}")));
    pairs.extend(job.iter().map(|j| format!("job={j}")));
    pairs.extend(params.iter().map(|p| {
        let text = match p {
            ParamsText::Object(params) => serde_json::to_string(params).unwrap_or_default(),
            ParamsText::Text(text) => text.clone(),
        };
        format!("params={}", utf8_percent_encode(&text, NON_ALPHANUMERIC))
    }));
    format!("/sumObject?{}", pairs.join("&"))
}

/// ObjectCreated notifications handled so far (their messages deleted).
fn notifications_handled(running: &Running) -> u64 {
    let calls = running.tally.calls();
    calls
        .get("object_created_queue.delete")
        .copied()
        .unwrap_or(0)
}

/// Waits until the upload's notification has been handled: it is part of
/// the array's work (and its requests), whichever started the array.
async fn notification_handled(running: &Running, before: u64, timeout: u64) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(timeout);
    while notifications_handled(running) <= before {
        if Instant::now() > deadline {
            return Err(Error::NotNotified { seconds: timeout });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

fn extension(format: FormatName) -> &'static str {
    match format {
        FormatName::Json => "json",
        FormatName::Lines => "txt",
        FormatName::Csv => "csv",
    }
}

enum WriteError {
    Io(std::io::Error),
    Direct(Error),
}

impl From<std::io::Error> for WriteError {
    fn from(e: std::io::Error) -> WriteError {
        WriteError::Io(e)
    }
}

/// Writes `n` numbers in `format` to `path` (CSV: an id column, the number
/// and a key of [`KEYS`] values, no header), each given to `expected`.
fn write_object(
    path: &PathBuf,
    format: FormatName,
    n: u64,
    seed: u64,
    expected: &mut Expected,
) -> Result<(), WriteError> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    if format == FormatName::Json {
        out.write_all(b"[")?;
    }
    // Keys are made only where they are read: the CSV's column, a job's records.
    let keys = format == FormatName::Csv || !matches!(expected, Expected::Sum(_));
    let mut key = String::new();
    for (i, v) in numbers(n, seed).enumerate() {
        if keys {
            key.clear();
            let _ = write!(key, "{}", i as u64 % KEYS);
        }
        expected.push(v, &key).map_err(WriteError::Direct)?;
        match format {
            FormatName::Json if i > 0 => write!(out, ",{v}")?,
            FormatName::Json => write!(out, "{v}")?,
            FormatName::Lines => writeln!(out, "{v}")?,
            FormatName::Csv => writeln!(out, "{i},{v},{key}")?,
        }
    }
    if format == FormatName::Json {
        out.write_all(b"]")?;
    }
    out.flush()?;
    Ok(())
}
