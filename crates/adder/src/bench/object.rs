//! `adder bench --object FORMAT`: the --elements numbers written to a file
//! in that layout and summed by byte ranges, as an S3 object is.

use super::{numbers, report, waiting, BenchArgs, Measured};
use crate::error::Error;
use crate::runner::backend;
use crate::runner::files::{FileFormat, Layout, LOCAL_BUCKET};
use crate::submit::{submit_object, wait, InProcess};
use aws_ports::RequestCounter;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Runs the object benchmark; returns the report.
pub async fn run(args: &BenchArgs, format: FileFormat) -> Result<String, Error> {
    let path = std::env::temp_dir().join(format!(
        "adder-bench-{}.{}",
        std::process::id(),
        extension(format)
    ));
    let written = write_object(&path, format, args.elements, args.seed);
    let result = match written {
        Ok(expected) => measure(args, format, &path, expected).await,
        Err(e) => Err(Error::Bench(format!(
            "cannot write {}: {e}",
            path.display()
        ))),
    };
    let _ = std::fs::remove_file(&path);
    result
}

async fn measure(
    args: &BenchArgs,
    format: FileFormat,
    path: &Path,
    expected: i128,
) -> Result<String, Error> {
    let stack = crate::runner::load_stack()?;
    let counter = RequestCounter::new();
    let running = backend::start_counted(&args.backend, &stack, Some(&counter)).await?;
    let key = path.display().to_string();
    let objects = running.memory_objects.clone().ok_or_else(|| {
        Error::Bench("--object runs on the in-process backend only, for now".into())
    })?;
    let object = objects
        .put_file(LOCAL_BUCKET, &key, path.to_path_buf())
        .map_err(|e| Error::Bench(format!("cannot read {key}: {e}")))?;
    let csv = format == FileFormat::Csv;
    let layout = Layout {
        format: Some(format),
        column: csv.then(|| "1".to_string()),
        no_header: csv,
    };
    let api = InProcess::new(&running);
    let started = Instant::now();
    let submitted = submit_object(&api, layout.request(&object.bucket, &key).to_string()).await?;
    let accepted_in = started.elapsed();
    let sum = wait(&api, &submitted.array_id, &waiting(args)).await?;
    let wall = started.elapsed();
    super::many::settle(&running, args.backend.backend).await;
    if sum != expected.to_string() {
        return Err(Error::Bench(format!(
            "wrong sum {sum}, expected {expected}"
        )));
    }
    let measured = Measured {
        body_bytes: std::fs::metadata(path).map_or(0, |m| m.len() as usize),
        accepted_in,
        wall,
        sum,
    };
    Ok(report::render(args, &running, &counter, &measured))
}

fn extension(format: FileFormat) -> &'static str {
    match format {
        FileFormat::Json => "json",
        FileFormat::Lines => "txt",
        FileFormat::Csv => "csv",
    }
}

/// Writes `n` numbers in `format` to `path` (CSV: an id column, then the
/// number, no header); returns their exact doubled sum.
fn write_object(path: &PathBuf, format: FileFormat, n: u64, seed: u64) -> std::io::Result<i128> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut total: i128 = 0;
    if format == FileFormat::Json {
        out.write_all(b"[")?;
    }
    for (i, v) in numbers(n, seed).enumerate() {
        total += v as i128;
        match format {
            FileFormat::Json if i > 0 => write!(out, ",{v}")?,
            FileFormat::Json => write!(out, "{v}")?,
            FileFormat::Lines => writeln!(out, "{v}")?,
            FileFormat::Csv => writeln!(out, "{i},{v}")?,
        }
    }
    if format == FileFormat::Json {
        out.write_all(b"]")?;
    }
    out.flush()?;
    Ok(2 * total)
}
