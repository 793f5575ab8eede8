//! Numbers as every command takes them (`sum`, `submit`, `bench`'s files):
//! arguments, one JSON array, or a file or stdin in any format the pipeline
//! reads objects in, read here by the pipeline's own object readers. So a
//! file one command takes, every command takes, and a mistake names the
//! file (or stdin), its byte and its line.

use crate::runner::files::format_parser;
use clap::Args;
use handlers::wire::{ColumnText, ObjectRequest};
use packet::job::{Job, JobError, Record};
use packet::ranges::{column_index, header_line, line_of, read_range_with, Format, RangeError};
use pipeline::FormatName;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Args)]
pub struct Numbers {
    /// The numbers (`1 2 -3`), or one JSON array (`'[1,2,3]'`); stdin when
    /// absent and there is no --file.
    #[arg(allow_negative_numbers = true)]
    pub numbers: Vec<String>,
    /// Read the numbers from this file (`-` for stdin).
    #[arg(long, short)]
    pub file: Option<PathBuf>,
    /// How a file, stdin or object lays out its numbers. Otherwise: from the
    /// name's suffix (`.json`, `.csv`, anything else one number per line); on
    /// stdin, a JSON array if it starts with `[`, else lines.
    #[arg(long, value_parser = format_parser())]
    pub format: Option<FormatName>,
    /// CSV: the column, by 0-based index or header name (default 0). Implies
    /// --format csv.
    #[arg(long)]
    pub column: Option<String>,
    /// CSV: the first line is a header (the default).
    #[arg(long, conflicts_with = "no_header")]
    pub header: bool,
    /// CSV: the first line is data, not a header.
    #[arg(long)]
    pub no_header: bool,
}

impl Numbers {
    /// What the header flags say: `None` when neither is given.
    pub fn header_flag(&self) -> Option<bool> {
        match (self.header, self.no_header) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }

    /// The format asked for: `--format`, or CSV when a column is named.
    pub fn format_flag(&self) -> Option<FormatName> {
        self.format
            .or_else(|| self.column.is_some().then_some(FormatName::Csv))
    }

    /// The POST /sumObject request for `bucket`/`key` laid out as asked.
    pub fn request(&self, bucket: &str, key: &str) -> ObjectRequest {
        ObjectRequest {
            bucket: bucket.to_string(),
            key: key.to_string(),
            version_id: None,
            format: self.format_flag().map(|f| f.as_str().to_string()),
            column: self.column.clone().map(ColumnText::Name),
            header: self.header_flag(),
            job: None,
            params: None,
        }
    }

    /// The file to sum by byte ranges, as an S3 object: one given, and either
    /// laid out by a flag or not a small `.json` file (which is POSTed).
    pub fn ranged_file(&self) -> Option<&Path> {
        let path = self.file.as_deref().filter(|p| *p != Path::new("-"))?;
        let json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let small =
            std::fs::metadata(path).is_ok_and(|m| m.len() <= handlers::MAX_BODY_BYTES as u64);
        let flagged =
            self.format.is_some() || self.column.is_some() || self.header_flag().is_some();
        (flagged || !(json && small)).then_some(path)
    }

    /// The JSON array to POST.
    pub fn body(&self) -> Result<String, String> {
        match (self.numbers.as_slice(), &self.file) {
            ([], None) => self.read(&Source::Stdin),
            ([], Some(path)) if path == Path::new("-") => self.read(&Source::Stdin),
            ([], Some(path)) => self.read(&Source::File(path)),
            (_, Some(_)) => Err("give numbers or --file, not both".into()),
            // A JSON array argument is a POST body: checked as the API does.
            ([one], None) if one.trim_start().starts_with('[') => {
                let texts = packet::parse_array(one).map_err(|e| format!("the argument: {e}"))?;
                Ok(format!("[{}]", texts.join(",")))
            }
            (many, None) => {
                for (i, n) in many.iter().enumerate() {
                    packet::check_number(n).map_err(|e| {
                        format!("argument {} is not a number we can sum: {e}", i + 1)
                    })?;
                }
                Ok(format!("[{}]", many.join(",")))
            }
        }
    }

    fn read(&self, source: &Source<'_>) -> Result<String, String> {
        let bytes = source.bytes()?;
        let name = source.name();
        let format = self.resolved(source, &bytes)?;
        let texts = read_all(format, &bytes).map_err(|e| described(&name, &bytes, e))?;
        Ok(array(&texts))
    }

    /// The format of `bytes` read from `source`, its CSV column as an index.
    fn resolved(&self, source: &Source<'_>, bytes: &[u8]) -> Result<Format, String> {
        let name = match self.format_flag() {
            Some(name) => name,
            None => source.format_of(bytes),
        };
        let header = self.header_flag().unwrap_or(true);
        match name {
            FormatName::Json => Ok(Format::JsonArray),
            FormatName::Lines => Ok(Format::Lines),
            FormatName::Csv => {
                let column = self.column.as_deref().unwrap_or("0");
                let column = match column.parse::<usize>() {
                    Ok(index) => index,
                    Err(_) if !header => {
                        return Err(format!(
                            "{}: column {column:?} is named, but --no-header says there is no header line",
                            source.name()
                        ))
                    }
                    Err(_) => {
                        let line = header_line(bytes).map_err(|e| described(&source.name(), bytes, e))?;
                        column_index(&line, column).map_err(|reason| {
                            described(&source.name(), bytes, RangeError::BadData { offset: 0, reason })
                        })?
                    }
                };
                Ok(Format::Csv { column, header })
            }
        }
    }
}

enum Source<'a> {
    Stdin,
    File(&'a Path),
}

impl Source<'_> {
    fn name(&self) -> String {
        match self {
            Source::Stdin => "stdin".into(),
            Source::File(path) => path.display().to_string(),
        }
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        match self {
            Source::Stdin => {
                let mut bytes = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut bytes)
                    .map_err(|e| format!("cannot read stdin: {e}"))?;
                Ok(bytes)
            }
            Source::File(path) => {
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
            }
        }
    }

    /// A file's format from its name, as for an object's key; stdin's from
    /// its first character.
    fn format_of(&self, bytes: &[u8]) -> FormatName {
        match self {
            Source::File(path) => {
                let name = path.to_string_lossy().to_ascii_lowercase();
                if name.ends_with(".json") {
                    FormatName::Json
                } else if name.ends_with(".csv") {
                    FormatName::Csv
                } else {
                    FormatName::Lines
                }
            }
            Source::Stdin => {
                let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
                match text.iter().find(|b| !b.is_ascii_whitespace()) {
                    Some(b'[') => FormatName::Json,
                    _ => FormatName::Lines,
                }
            }
        }
    }
}

/// A read error as a user reads it: where, and why.
fn described(name: &str, bytes: &[u8], e: RangeError) -> String {
    match e {
        RangeError::BadData { offset, reason } => {
            let line = line_of(offset, bytes).unwrap_or(0);
            format!("{name}: byte {offset} (line {line}): {reason}")
        }
        other => format!("{name}: {other}"),
    }
}

fn array(texts: &[String]) -> String {
    format!("[{}]", texts.join(","))
}

/// Every record's number text, read by the object readers from `bytes`.
fn read_all(format: Format, bytes: &[u8]) -> Result<Vec<String>, RangeError> {
    let size = bytes.len() as u64;
    Ok(read_range_with(&Texts, format, None, 0..size, size, bytes)?.value)
}

/// The "job" that keeps each record's number text: how the readers' rules
/// are applied to a local file without a second parser.
struct Texts;

impl Job for Texts {
    type Value = Vec<String>;
    type Acc = Vec<String>;

    fn add(&self, acc: &mut Vec<String>, record: Record<'_>) -> Result<(), JobError> {
        acc.push(record.number.to_string());
        Ok(())
    }
    fn finish(&self, acc: Vec<String>) -> Result<Vec<String>, JobError> {
        Ok(acc)
    }
    fn combine(&self, mut left: Vec<String>, right: Vec<String>) -> Result<Vec<String>, JobError> {
        left.extend(right);
        Ok(left)
    }
    fn encode(&self, value: &Vec<String>) -> String {
        array(value)
    }
    fn decode(&self, text: &str) -> Result<Vec<String>, JobError> {
        packet::parse_array(text)
            .map(|texts| texts.into_iter().map(|t| t.into_owned()).collect())
            .map_err(|e| JobError::corrupt("texts", e.to_string()))
    }
    fn show(&self, value: &Vec<String>) -> String {
        array(value)
    }
    fn identity(&self) -> Vec<String> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(args: &[&str]) -> Numbers {
        Numbers {
            numbers: args.iter().map(|s| s.to_string()).collect(),
            ..Numbers::default()
        }
    }

    fn file(name: &str, text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("adder-input-{}-{name}", std::process::id()));
        std::fs::write(&path, text).expect("write");
        path
    }

    #[test]
    fn arguments_become_an_array() {
        assert_eq!(
            numbers(&["1", "-2.5", "3e2"]).body(),
            Ok("[1,-2.5,3e2]".into())
        );
        assert_eq!(numbers(&["[1, 2]"]).body(), Ok("[1,2]".into()));
        assert_eq!(
            numbers(&["1", "abc"]).body().err().as_deref(),
            Some("argument 2 is not a number we can sum: `abc` is not a JSON number")
        );
    }

    #[test]
    fn files_are_read_by_the_object_readers_and_mistakes_name_their_place() {
        let lines = file("n.txt", "1\n\n-2\r\n3.5\n");
        let input = Numbers {
            file: Some(lines.clone()),
            ..Numbers::default()
        };
        assert_eq!(input.body(), Ok("[1,-2,3.5]".into()));
        let csv = file("s.csv", "name,amount\n\"B, Inc\",2\nC,-3e2\n");
        let input = Numbers {
            file: Some(csv.clone()),
            column: Some("amount".into()),
            ..Numbers::default()
        };
        assert_eq!(input.body(), Ok("[2,-3e2]".into()));
        let bad = file("bad.json", "[1,\n2,x]");
        let input = Numbers {
            file: Some(bad.clone()),
            ..Numbers::default()
        };
        assert_eq!(
            input.body(),
            Err(format!(
                "{}: byte 6 (line 2): `x` is not a JSON number",
                bad.display()
            ))
        );
        let quoted = file("q.csv", "a\n\"1\n2\"\n");
        let input = Numbers {
            file: Some(quoted.clone()),
            ..Numbers::default()
        };
        assert!(
            input.body().is_err(),
            "a line break inside quotes is refused, as in an object"
        );
        for path in [lines, csv, bad, quoted] {
            let _ = std::fs::remove_file(path);
        }
    }
}
