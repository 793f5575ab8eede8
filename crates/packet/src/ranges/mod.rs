//! Summing an object of any size by byte ranges, with no AWS in it.
//!
//! An object of `size` bytes is cut into ranges by [`ranges_of`]; each range is
//! mapped on its own by [`read_range`], which returns the count and exact
//! doubled sum of the records the range OWNS: exactly the records that start
//! in it. A record that crosses the range's end is read to its end (and the
//! separator after it checked); a record that started before the range is
//! skipped. So for every range size, including ranges smaller than one record
//! and ranges holding no record start, every element is counted once.
//!
//! The reader of a range `[start, end)` gets the object from byte
//! [`read_from`]`(start)` = `start - 1` (one byte of look-behind, which tells
//! whether `start` begins a record) to the object's end, e.g. the stream of a
//! ranged GetObject `bytes=(start-1)-`. It stops as soon as its last owned
//! record and what must be checked after it are read: at most one record plus
//! one separator past `end`.
//!
//! Numbers follow the request body's rules ([`crate::check_number`]: JSON
//! number syntax, DynamoDB's Number range, 38 significant digits), are
//! shortened with [`crate::canonical`] and summed exactly.
//!
//! # Errors, and how a caller finds the first one
//! A bad record gives [`RangeError::BadData`] with the absolute byte offset of
//! the record (JSON: the first byte of the offending token; line formats: the
//! first byte of the line). Several ranges of one bad object may fail; the
//! object's error is the one with the smallest offset, which is the first
//! error a front-to-back parse of the whole object would report, whatever the
//! range size; exactly one range reports that offset. No range of a valid
//! object fails, so the first error to arrive, from whichever range, already
//! proves the object bad (a range past the first defect may report a later
//! symptom of it, e.g. the second line of a quoted line break); to name the
//! first defect, keep the smallest offset of the errors the ranges report.
//! For the line formats, [`line_of`] turns that offset into a line
//! number; it reads the object from its start, so run it only on failure.
//! [`RangeError::Read`] is not bad data: the object could not be read (or it
//! is shorter than `size`); retry the range.

mod csv;
mod json;
mod lines;
mod source;

use crate::job::{Job, JobError, Record as JobRecord, Sum};
use crate::number::{canonical, check_number, Number, NumberError};
use serde::{Deserialize, Serialize};
use std::io::{self, BufRead, Read};
use std::ops::Range;

pub use csv::column_index;

/// Longest record (a JSON value, a line) a range reader holds in memory. The
/// body's limit, 6 MB, is the longest element a POST can carry; this accepts
/// every element that a body accepts while bounding a reader's memory.
pub const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;

/// How the numbers are written in the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum Format {
    /// One JSON array of numbers, laid out any way JSON allows (pretty-printed
    /// over many lines, or one line). The same syntax as a POSTed body,
    /// except that a UTF-8 byte order mark at byte 0 is skipped (files
    /// saved by some Windows editors start with one), as in every format.
    JsonArray,
    /// One number per line. Lines end with `\n`; a `\r` before it, spaces
    /// and tabs around the number are ignored; blank lines (empty or only
    /// those) are skipped; the last line may or may not end with `\n`.
    Lines,
    /// Comma-separated values, one record per line (line endings as
    /// [`Format::Lines`], blank lines skipped); the number is field `column`
    /// (0-based; resolve a name with [`column_index`]), its text with
    /// spaces and tabs around it ignored, quoted or not. With `header`, the
    /// object's first line is the header and is not summed. Quoted fields
    /// follow RFC 4180 (`""` for a quote) except that a quoted field may not
    /// hold a line break: byte ranges split records at line breaks, and a
    /// reader starting inside a quoted field could not know it. Such a
    /// record fails with [`BadData::QuoteNotClosed`] at its first line.
    Csv { column: usize, header: bool },
}

impl Format {
    /// Whether errors of this format have a line number ([`line_of`]).
    pub fn has_lines(&self) -> bool {
        !matches!(self, Format::JsonArray)
    }
}

/// What one range's owned records add up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSum {
    /// Records (elements) owned by the range.
    pub elements: u64,
    /// The exact sum of the owned elements, each doubled.
    pub doubled_sum: Number,
    /// Bytes taken from the reader, look-behind byte included.
    pub bytes_read: u64,
}

/// Why a range could not be summed.
#[derive(Debug, thiserror::Error)]
pub enum RangeError {
    /// The object is bad: the array fails with this reason and offset.
    #[error("byte {offset}: {reason}")]
    BadData { offset: u64, reason: BadData },
    /// Reading failed, or the object ended before its size: not bad data,
    /// the range may be retried.
    #[error("reading the object failed at byte {offset}: {source}")]
    Read {
        offset: u64,
        #[source]
        source: io::Error,
    },
    /// The caller asked for a range outside the object.
    #[error("range {start}..{end} is not inside an object of {size} bytes")]
    OutsideObject { start: u64, end: u64, size: u64 },
}

impl RangeError {
    /// The absolute byte offset the error is about.
    pub fn offset(&self) -> u64 {
        match self {
            RangeError::BadData { offset, .. } | RangeError::Read { offset, .. } => *offset,
            RangeError::OutsideObject { start, .. } => *start,
        }
    }
}

/// What is wrong with a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadData {
    #[error(transparent)]
    Number(#[from] NumberError),
    #[error("expected {expected}, found {found}")]
    Unexpected {
        expected: &'static str,
        found: &'static str,
    },
    #[error("a record is longer than {MAX_RECORD_BYTES} bytes")]
    TooLong,
    #[error("the object has no header line")]
    NoHeader,
    #[error("the header has no column named {0:?}")]
    NoSuchColumn(String),
    #[error("the record has {fields} fields, so no column {column}")]
    MissingColumn { column: usize, fields: usize },
    #[error("column {0} is empty")]
    EmptyField(usize),
    #[error(
        "a quoted field is not closed on its line (line breaks inside quoted fields \
         cannot be read by byte ranges)"
    )]
    QuoteNotClosed,
    #[error("a quote must enclose the whole field, and `\"\"` stands for a quote inside it")]
    StrayQuote,
    #[error("the record's key is not UTF-8")]
    KeyNotUtf8,
    /// The job refused the record (too many groups, say): the array fails
    /// with the job's code, not as bad data.
    #[error("{0}")]
    Job(Box<JobError>),
}

/// The ranges of `range_bytes` (0 counts as 1) covering an object of `size`
/// bytes, in order; the last one is shorter when `size` is not a multiple.
/// An empty object has one empty range, `0..0`, so that its one reader
/// decides what it is: an empty JSON array object is an error (like an
/// empty body), while empty line formats hold no element and sum to 0.
pub fn ranges_of(size: u64, range_bytes: u64) -> impl Iterator<Item = Range<u64>> {
    let step = range_bytes.max(1);
    let count = size.div_ceil(step).max(1);
    (0..count).map(move |k| {
        let start = k * step;
        start..start.saturating_add(step).min(size)
    })
}

/// Where the reader of a range starting at `start` must begin: one byte
/// before it, so the range can tell whether `start` begins a record.
pub fn read_from(start: u64) -> u64 {
    start.saturating_sub(1)
}

/// Sums the records owned by `range` of an object of `size` bytes in
/// `format`: [`read_range_with`] for the job [`Sum`].
pub fn read_range(
    format: Format,
    range: Range<u64>,
    size: u64,
    reader: impl BufRead,
) -> Result<RangeSum, RangeError> {
    let mapped = read_range_with(&Sum, format, None, range, size, reader)?;
    Ok(RangeSum {
        elements: mapped.elements,
        doubled_sum: mapped.value,
        bytes_read: mapped.bytes_read,
    })
}

/// What one range's owned records map to under a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeValue<V> {
    /// Records (elements) owned by the range.
    pub elements: u64,
    pub value: V,
    /// Bytes taken from the reader, look-behind byte included.
    pub bytes_read: u64,
}

/// Maps the records owned by `range` of an object of `size` bytes in
/// `format` with `job`. `key_column` (CSV only) is the column each record's
/// key is read from, for jobs that group. `reader` is positioned at
/// [`read_from`]`(range.start)` and may run to the end of the object; at
/// most one record plus one separator past `range.end` is taken from it.
pub fn read_range_with<J: Job>(
    job: &J,
    format: Format,
    key_column: Option<usize>,
    range: Range<u64>,
    size: u64,
    reader: impl BufRead,
) -> Result<RangeValue<J::Value>, RangeError> {
    if range.start > range.end || range.end > size {
        return Err(RangeError::OutsideObject {
            start: range.start,
            end: range.end,
            size,
        });
    }
    let mut fold = Fold::new(job);
    if format == Format::JsonArray && range.start == 0 {
        // The mark is whitespace before the `[` for the range reading from
        // byte 0. Others read it, if at all, as their look-behind, part of
        // a value token that started before them: they own none of it.
        let (marked, reader) = without_byte_order_mark(reader, size)?;
        let mut source = source::Source::new(reader, 0, size).skipped(marked);
        json::read(&mut source, &range, &mut fold)?;
        return fold.finish(&source);
    }
    let mut source = source::Source::new(reader, read_from(range.start), size);
    match format {
        Format::JsonArray => json::read(&mut source, &range, &mut fold)?,
        Format::Lines => lines::read(&mut source, &range, &mut fold, lines::sum_line)?,
        Format::Csv { header: true, .. } if size == 0 => return Err(bad(0, BadData::NoHeader)),
        Format::Csv { column, header } => {
            let mut record = csv::Record::new(column, key_column, header);
            lines::read(&mut source, &range, &mut fold, |offset, line, fold| {
                record.sum(offset, line, fold)
            })?
        }
    }
    fold.finish(&source)
}

/// A UTF-8 byte order mark, which editors on Windows put at the start of a
/// file. Only byte 0 may hold one; elsewhere it is data.
pub(crate) const BYTE_ORDER_MARK: &[u8] = b"\xef\xbb\xbf";

/// A reader whose first bytes were taken out and put back in front.
type Rejoined<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// `reader` (at byte 0) past a byte order mark, if the object starts with
/// one, and how many bytes that skipped. The first three bytes are read
/// into a buffer of their own, so the answer does not depend on how the
/// reader's buffer happens to cut them.
fn without_byte_order_mark<R: BufRead>(
    mut reader: R,
    size: u64,
) -> Result<(u64, Rejoined<R>), RangeError> {
    let mut head = Vec::with_capacity(BYTE_ORDER_MARK.len());
    (&mut reader)
        .take(size.min(BYTE_ORDER_MARK.len() as u64))
        .read_to_end(&mut head)
        .map_err(|source| RangeError::Read { offset: 0, source })?;
    let skipped = match head == BYTE_ORDER_MARK {
        true => head.drain(..).count() as u64,
        false => 0,
    };
    Ok((skipped, io::Cursor::new(head).chain(reader)))
}

/// The 1-based line of byte `offset`, reading the object from its start
/// (`reader` at byte 0): one plus the line breaks before it. CSV lines are
/// counted as in a text editor, the header being line 1.
pub fn line_of(offset: u64, reader: impl Read) -> io::Result<u64> {
    let mut head = reader.take(offset);
    let mut buffer = vec![0u8; 64 * 1024];
    let mut breaks = 0u64;
    loop {
        let n = match head.read(&mut buffer) {
            Ok(0) => return Ok(breaks + 1),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        breaks += buffer[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}

/// The 0-based index of the CSV column called `name`, from the object's
/// first line (`object` at byte 0; reading stops after the first `\n`, and
/// at most [`MAX_RECORD_BYTES`] are read). See [`column_index`] for what a
/// header may look like.
pub fn resolve_column(object: impl BufRead, name: &str) -> Result<usize, RangeError> {
    let line = header_line(object)?;
    column_index(&line, name).map_err(|reason| bad(0, reason))
}

/// An object's first line, for [`column_index`] (at most
/// [`MAX_RECORD_BYTES`] are read): read once to resolve several names.
pub fn header_line(object: impl BufRead) -> Result<Vec<u8>, RangeError> {
    let mut line = Vec::new();
    let limit = MAX_RECORD_BYTES as u64 + 1;
    object
        .take(limit)
        .read_until(b'\n', &mut line)
        .map_err(|source| RangeError::Read { offset: 0, source })?;
    if line.len() > MAX_RECORD_BYTES && line.last() != Some(&b'\n') {
        return Err(bad(0, BadData::TooLong));
    }
    Ok(line)
}

/// A range's accepted records, folded by a job.
struct Fold<'j, J: Job> {
    job: &'j J,
    elements: u64,
    acc: J::Acc,
}

impl<'j, J: Job> Fold<'j, J> {
    fn new(job: &'j J) -> Self {
        Fold {
            job,
            elements: 0,
            acc: J::Acc::default(),
        }
    }

    /// Checks `bytes` with the body's number rules and folds it in, with
    /// its record's key if the job groups.
    #[inline]
    fn add(&mut self, bytes: &[u8], key: Option<&[u8]>) -> Result<(), BadData> {
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => {
                let lossy = String::from_utf8_lossy(bytes);
                check_number(&lossy)?;
                return Err(NumberError::NotANumber(lossy.into_owned()).into());
            }
        };
        check_number(text)?;
        let key = match key {
            Some(k) => Some(std::str::from_utf8(k).map_err(|_| BadData::KeyNotUtf8)?),
            None => None,
        };
        let record = JobRecord {
            number: &canonical(text),
            key,
        };
        self.job
            .add(&mut self.acc, record)
            .map_err(|e| BadData::Job(Box::new(e)))?;
        self.elements += 1;
        Ok(())
    }

    fn finish<R: BufRead>(
        self,
        source: &source::Source<R>,
    ) -> Result<RangeValue<J::Value>, RangeError> {
        let at = source.consumed();
        Ok(RangeValue {
            elements: self.elements,
            value: self
                .job
                .finish(self.acc)
                .map_err(|e| bad(at, BadData::Job(Box::new(e))))?,
            bytes_read: at,
        })
    }
}

fn bad(offset: u64, reason: impl Into<BadData>) -> RangeError {
    RangeError::BadData {
        offset,
        reason: reason.into(),
    }
}
