//! `adder sum --file`: a file summed by byte ranges, as an S3 object is.
//!
//! The file is put in the local pipeline's object store (the in-process
//! store reads it from disk range by range, so a file bigger than memory
//! sums in bounded memory), or with `--backend aws` uploaded to the input
//! bucket, and submitted with POST /sumObject.

use super::backend::{self, BackendArgs, Running};
use crate::error::Error;
use crate::submit::{submit_object, wait, InProcess, Wait};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use clap::{Args, ValueEnum};
use std::path::Path;
use std::time::Duration;

/// The bucket local files are served from.
pub const LOCAL_BUCKET: &str = "local";

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
    let running = backend::start(&args, &stack).await?;
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

/// Makes the file at `path` an object the running pipeline can read: put
/// in the in-process store, or uploaded to the input bucket (whose
/// notification then starts summing it too: the same array, found by the
/// object's ETag). Returns its bucket and key.
pub async fn place_object(
    running: &Running,
    args: &BackendArgs,
    path: &Path,
) -> Result<(String, String), Error> {
    if let Some(objects) = &running.memory_objects {
        let key = path.display().to_string();
        objects
            .put_file(LOCAL_BUCKET, &key, path.to_path_buf())
            .map_err(|e| Error::Input(format!("cannot read {key}: {e}")))?;
        return Ok((LOCAL_BUCKET.to_string(), key));
    }
    let bucket = running
        .input_bucket
        .clone()
        .ok_or_else(|| Error::Input("this backend has no input bucket to put --file in".into()))?;
    // The file's name keeps its suffix, from which the format is guessed.
    let key = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Input(format!("{} is not a file", path.display())))?;
    upload(args, &bucket, &key, path).await?;
    Ok((bucket, key))
}

/// Uploads `path` as `bucket`/`key`, streamed from disk in one PutObject
/// (up to S3's 5 GB), with a client of its own: not the functions', so
/// the upload is not counted among their requests.
async fn upload(args: &BackendArgs, bucket: &str, key: &str, path: &Path) -> Result<(), Error> {
    let sdk = backend::sdk_config(args.endpoint_url.as_deref()).await;
    let client = aws_sdk_s3::Client::from_conf(aws_ports::s3_config(&sdk).build());
    let body = ByteStream::from_path(path)
        .await
        .map_err(|e| Error::Input(format!("cannot read {}: {e}", path.display())))?;
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            Error::Aws(format!(
                "cannot upload {} to s3://{bucket}/{key}: {}",
                path.display(),
                DisplayErrorContext(e)
            ))
        })?;
    Ok(())
}
