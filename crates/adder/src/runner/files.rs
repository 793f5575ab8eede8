//! `adder sum --file`: a file summed by byte ranges, as an S3 object is.
//!
//! The file is placed where the local pipeline reads objects
//! ([`local::place_object`]: its in-process store, or with `--backend aws`
//! the input bucket) and submitted with POST /sumObject.

use crate::error::Error;
use crate::submit::{submit_object, wait, Wait};
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::Args;
use handlers::wire::{ColumnText, ObjectRequest};
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

/// How a file's numbers are laid out.
#[derive(Debug, Clone, Args)]
pub struct Layout {
    /// How --file's numbers are laid out. With it, or for a file that is not
    /// a small `.json` file, the file is summed by byte ranges, as an S3
    /// object would be (any size, bounded memory).
    #[arg(long, value_parser = format_parser(), requires = "file")]
    pub format: Option<FormatName>,
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

    /// The POST /sumObject request for `key`: a column alone means CSV.
    pub fn request(&self, bucket: &str, key: &str) -> ObjectRequest {
        let format = self
            .format
            .or_else(|| self.column.is_some().then_some(FormatName::Csv));
        ObjectRequest {
            bucket: bucket.to_string(),
            key: key.to_string(),
            version_id: None,
            format: format.map(|f| f.as_str().to_string()),
            column: self.column.clone().map(ColumnText::Name),
            header: self.no_header.then_some(false),
            job: None,
            params: None,
        }
    }
}

/// Sums the file at `path` through the local pipeline; prints its sum.
pub async fn sum_file(
    path: &Path,
    layout: &Layout,
    job: &packet::job::JobSpec,
    timeout: Duration,
    args: BackendArgs,
) -> Result<(), Error> {
    let stack = super::load_stack()?;
    let running = local::start(&args, &stack).await?;
    let (bucket, key) = place_object(&running, &args, path).await?;
    let api = InProcess::new(&running);
    let request = crate::job::with_job(layout.request(&bucket, &key), job);
    let submitted = submit_object(&api, &request).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(format: Option<FormatName>, column: Option<&str>, no_header: bool) -> Layout {
        Layout {
            format,
            column: column.map(str::to_string),
            no_header,
        }
    }

    #[test]
    fn requests_name_only_what_was_given_and_a_column_means_csv() {
        let json = |l: Layout| serde_json::to_value(l.request("b", "k")).expect("json");
        assert_eq!(
            json(layout(None, None, false)),
            serde_json::json!({"bucket": "b", "key": "k"})
        );
        assert_eq!(
            json(layout(None, Some("v"), true)),
            serde_json::json!({"bucket": "b", "key": "k", "format": "csv", "column": "v", "header": false})
        );
        assert_eq!(
            json(layout(Some(FormatName::Lines), None, false)),
            serde_json::json!({"bucket": "b", "key": "k", "format": "lines"})
        );
    }

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
