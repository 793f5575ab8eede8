//! Ranges of the line formats: a record starts at byte 0 or right after a
//! `\n`, so one byte of look-behind tells whether a range starts on a record.

use super::source::Source;
use super::{bad, Fold, RangeError};
use crate::job::Job;
use std::io::BufRead;
use std::ops::Range;

/// Reads the lines that start in `range`, each whole (its `\n` consumed,
/// not included), and hands each with its offset to `sum_record`.
pub(super) fn read<R: BufRead, J: Job>(
    source: &mut Source<R>,
    range: &Range<u64>,
    sum: &mut Fold<'_, J>,
    mut sum_record: impl FnMut(u64, &[u8], &mut Fold<'_, J>) -> Result<(), RangeError>,
) -> Result<(), RangeError> {
    if range.start > 0 && source.next()? != Some(b'\n') {
        // The range starts inside a line owned by an earlier range.
        source.skip_while(|b| b != b'\n')?;
        source.next()?;
    }
    let mut line = Vec::new();
    while source.pos() < range.end {
        let offset = source.pos();
        source.take_while(|b| b != b'\n', &mut line, offset)?;
        source.next()?;
        // A byte order mark is not part of the first record, which still
        // starts (for ownership and for its reported offset) at byte 0.
        let record = match offset {
            0 => line.strip_prefix(super::BYTE_ORDER_MARK).unwrap_or(&line),
            _ => &line,
        };
        sum_record(offset, record, sum)?;
    }
    Ok(())
}

/// Spaces, tabs and the `\r` of a `\r\n` around a record are not part of it.
pub(super) fn trimmed(bytes: &[u8]) -> &[u8] {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r');
    let start = bytes.iter().position(|b| !blank(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// A record of [`super::Format::Lines`]: a number, or a blank line.
pub(super) fn sum_line<J: Job>(
    offset: u64,
    line: &[u8],
    sum: &mut Fold<'_, J>,
) -> Result<(), RangeError> {
    let text = trimmed(line);
    if text.is_empty() {
        return Ok(());
    }
    sum.add(text, None).map_err(|reason| bad(offset, reason))
}
