//! `adder sum --file`: a file summed by byte ranges, as an S3 object is.
//!
//! The file is placed where the local pipeline reads objects
//! ([`local::place_object`]: its in-process store, or with `--backend aws`
//! the input bucket) and submitted with POST /sumObject.

use crate::error::Error;
use crate::submit::{submit_object, wait_done, Wait};
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use local::{place_object, BackendArgs, InProcess};
use pipeline::FormatName;
use std::path::Path;
use std::time::Duration;

/// The values of `--format` (and `bench --object`): pipeline's format
/// names, each with its line of help.
pub fn format_parser() -> impl TypedValueParser<Value = FormatName> {
    let values = FormatName::ALL.map(|format| {
        let help = match format {
            FormatName::Json => "One JSON array of numbers",
            FormatName::Lines => "One number per line",
            FormatName::Csv => "Comma-separated values; the numbers in --column",
        };
        PossibleValue::new(format.as_str()).help(help)
    });
    PossibleValuesParser::new(values).try_map(|name| name.parse::<FormatName>())
}

/// Sums the file at `path` through the local pipeline; prints its sum.
pub async fn sum_file(
    path: &Path,
    input: &crate::input::Numbers,
    job: &packet::job::JobSpec,
    timeout: Duration,
    args: BackendArgs,
    json: bool,
) -> Result<(), Error> {
    let stack = super::load_stack()?;
    let running = local::start(&args, &stack).await?;
    let how = Wait {
        timeout,
        first_poll: Duration::from_millis(5),
        max_poll: Duration::from_millis(20),
        progress: false,
    };
    let done = {
        let work = async {
            let (bucket, key) = place_object(&running, &args, path).await?;
            let api = InProcess::new(&running);
            let request = crate::job::with_job(input.request(&bucket, &key), job);
            let submitted = submit_object(&api, &request).await?;
            wait_done(&api, &submitted.array_id, &how)
                .await
                .map_err(|e| named_locally(e, &format!("s3://{bucket}/{key}"), path))
        };
        super::interruptible(work).await
    };
    running.stop().await;
    done?.print(json);
    Ok(())
}

/// A failure of a local file reads with the file's own name, not the
/// object the runner made of it.
fn named_locally(e: Error, object: &str, path: &Path) -> Error {
    match e {
        Error::ArrayFailed {
            array_id,
            kind,
            reason,
        } => Error::ArrayFailed {
            array_id,
            kind,
            reason: reason.replace(object, &path.display().to_string()),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_flag_takes_the_pipelines_names() {
        let parser = format_parser();
        let names: Vec<String> = parser
            .possible_values()
            .into_iter()
            .flatten()
            .map(|v| v.get_name().to_string())
            .collect();
        let expected: Vec<String> = FormatName::ALL.map(|f| f.as_str().to_string()).into();
        assert_eq!(names, expected);
    }
}
