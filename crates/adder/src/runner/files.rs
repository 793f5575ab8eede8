//! `adder sum --file`: a file summed by byte ranges, as an S3 object is.
//!
//! The file is placed where the local pipeline reads objects
//! ([`local::place_object`]: its in-process store, or with `--backend aws`
//! the input bucket) and submitted with POST /sumObject.

use crate::error::Error;
use crate::submit::{submit_object, wait, Wait};
use clap::{Args, ValueEnum};
use local::{place_object, BackendArgs, InProcess};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    /// One JSON array of numbers.
    Json,
    /// One number per line.
    Lines,
    /// Comma-separated values; the numbers in --column.
    Csv,
}

/// How a file's numbers are laid out.
#[derive(Debug, Clone, Args)]
pub struct Layout {
    /// How --file's numbers are laid out. With it, or for a file that is not
    /// a small `.json` file, the file is summed by byte ranges, as an S3
    /// object would be (any size, bounded memory).
    #[arg(long, value_enum, requires = "file")]
    pub format: Option<FileFormat>,
    /// CSV: the column, by 0-based index or header name (default 0).
    #[arg(long, requires = "file")]
    pub column: Option<String>,
    /// CSV: the first line is data, not a header.
    #[arg(long, requires = "file")]
    pub no_header: bool,
}

impl Layout {
    /// Whether `path` is summed by ranges rather than POSTed as a body.
    pub fn by_ranges(&self, path: &Path) -> bool {
        if path == Path::new("-") {
            return false;
        }
        let json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let small =
            std::fs::metadata(path).is_ok_and(|m| m.len() <= handlers::MAX_BODY_BYTES as u64);
        self.format.is_some() || self.column.is_some() || self.no_header || !(json && small)
    }

    /// The POST /sumObject request for `key`.
    pub fn request(&self, bucket: &str, key: &str) -> serde_json::Value {
        let mut request = serde_json::json!({"bucket": bucket, "key": key});
        let format = self
            .format
            .or_else(|| self.column.is_some().then_some(FileFormat::Csv));
        if let Some(format) = format {
            let name = match format {
                FileFormat::Json => "json",
                FileFormat::Lines => "lines",
                FileFormat::Csv => "csv",
            };
            request["format"] = name.into();
        }
        if let Some(column) = &self.column {
            request["column"] = column.as_str().into();
        }
        if self.no_header {
            request["header"] = false.into();
        }
        request
    }
}

/// Sums the file at `path` through the local pipeline; prints its sum.
pub async fn sum_file(
    path: &Path,
    layout: &Layout,
    timeout: Duration,
    args: BackendArgs,
) -> Result<(), Error> {
    let stack = super::load_stack()?;
    let running = local::start(&args, &stack).await?;
    let (bucket, key) = place_object(&running, &args, path).await?;
    let api = InProcess::new(&running);
    let submitted = submit_object(&api, layout.request(&bucket, &key).to_string()).await?;
    let how = Wait {
        timeout,
        first_poll: Duration::from_millis(5),
        max_poll: Duration::from_millis(20),
        progress: false,
    };
    let sum = wait(&api, &submitted.array_id, &how).await?;
    println!("{sum}");
    Ok(())
}
