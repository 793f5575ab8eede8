//! CSV records, one per line, parsed by hand.
//!
//! The `csv` crate reads a quoted line break as part of its record, which is
//! right for a whole file but wrong for byte ranges: a range starting inside
//! such a field would cut different records than one starting before it. So
//! records are lines here (as in [`super::lines`]), and a field's quotes
//! must close on its line; a line that leaves a quote open is refused. That
//! check is local to the line, so the range owning the line always makes it.
//! Only one field is kept, and the line is parsed in place.

use super::lines::trimmed;
use super::{bad, BadData, Fold, RangeError};
use crate::job::Job;
use std::borrow::Cow;

/// The 0-based index of the column called `name` in the object's first
/// line (`header`: the object's first bytes, at least up to its first `\n`;
/// anything after that `\n` is ignored). A UTF-8 byte order mark, spaces
/// around names, quotes and a `\r\n` ending are allowed.
pub fn column_index(header: &[u8], name: &str) -> Result<usize, BadData> {
    let line = header.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
    if trimmed(line).is_empty() {
        return Err(BadData::NoHeader);
    }
    let wanted = trimmed(name.as_bytes());
    let mut found = None;
    // Every name is read, so that a quote left open anywhere is refused.
    for (index, field) in Fields::new(line).enumerate() {
        let field = field?;
        if found.is_none() && trimmed(&field) == wanted {
            found = Some(index);
        }
    }
    found.ok_or_else(|| BadData::NoSuchColumn(name.to_string()))
}

/// Sums field `column` of each record line, keyed by field `key` if given.
pub(super) struct Record {
    column: usize,
    key: Option<usize>,
    header: bool,
}

impl Record {
    pub(super) fn new(column: usize, key: Option<usize>, header: bool) -> Record {
        Record {
            column,
            key,
            header,
        }
    }

    pub(super) fn sum<J: Job>(
        &mut self,
        offset: u64,
        line: &[u8],
        sum: &mut Fold<'_, J>,
    ) -> Result<(), RangeError> {
        if self.header && offset == 0 {
            // The header is not summed, but its quotes must close on its
            // line too, or its next line would pass for a record.
            return Fields::new(line)
                .try_for_each(|field| field.map(drop))
                .map_err(|reason| bad(offset, reason));
        }
        if trimmed(line).is_empty() {
            return Ok(());
        }
        self.number(line, sum).map_err(|reason| bad(offset, reason))
    }

    fn number<J: Job>(&self, line: &[u8], sum: &mut Fold<'_, J>) -> Result<(), BadData> {
        let mut wanted = None;
        let mut key = None;
        let mut fields = 0;
        // Every field is read, not just up to `column`: a quote left open
        // in a later field is a line break inside a quoted field.
        for field in Fields::new(line) {
            let field = field?;
            if Some(fields) == self.key {
                key = Some(field.clone());
            }
            if fields == self.column {
                wanted = Some(field);
            }
            fields += 1;
        }
        let field = wanted.ok_or(BadData::MissingColumn {
            column: self.column,
            fields,
        })?;
        let text = trimmed(&field);
        if text.is_empty() {
            return Err(BadData::EmptyField(self.column));
        }
        match self.key {
            // A key is taken as it is, spaces included: keys are compared
            // byte for byte.
            Some(column) => {
                let key = key.ok_or(BadData::MissingColumn { column, fields })?;
                sum.add(text, Some(&key))
            }
            None => sum.add(text, None),
        }
    }
}

/// The fields of one line (without its `\n`), unquoted.
struct Fields<'a> {
    line: &'a [u8],
    next: Option<usize>,
}

impl<'a> Fields<'a> {
    fn new(line: &'a [u8]) -> Self {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Fields {
            line,
            next: Some(0),
        }
    }

    /// A quoted field whose opening quote is at `open`: its text and the
    /// index just past the closing quote.
    fn quoted(&self, open: usize) -> Result<(Cow<'a, [u8]>, usize), BadData> {
        let line = self.line;
        let mut text: Cow<'a, [u8]> = Cow::Borrowed(&[]);
        let mut from = open + 1;
        loop {
            let quote = line[from..]
                .iter()
                .position(|&b| b == b'"')
                .map(|i| from + i)
                .ok_or(BadData::QuoteNotClosed)?;
            let piece = &line[from..quote];
            if line.get(quote + 1) != Some(&b'"') {
                if text.is_empty() {
                    text = Cow::Borrowed(piece);
                } else {
                    text.to_mut().extend_from_slice(piece);
                }
                return Ok((text, quote + 1));
            }
            let owned = text.to_mut();
            owned.extend_from_slice(piece);
            owned.push(b'"');
            from = quote + 2;
        }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Cow<'a, [u8]>, BadData>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.next.take()?;
        let line = self.line;
        let comma = |from: usize| line[from..].iter().position(|&b| b == b',');
        let lead = line[start..]
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t'))
            .map_or(line.len(), |i| start + i);
        if line.get(lead) != Some(&b'"') {
            let end = comma(start).map_or(line.len(), |i| start + i);
            self.next = (end < line.len()).then_some(end + 1);
            let field = &line[start..end];
            if field.contains(&b'"') {
                return Some(Err(BadData::StrayQuote));
            }
            return Some(Ok(Cow::Borrowed(field)));
        }
        let (text, after) = match self.quoted(lead) {
            Ok(field) => field,
            Err(e) => return Some(Err(e)),
        };
        let rest = line[after..]
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t'))
            .map_or(line.len(), |i| after + i);
        match line.get(rest) {
            None => Some(Ok(text)),
            Some(b',') => {
                self.next = Some(rest + 1);
                Some(Ok(text))
            }
            Some(_) => Some(Err(BadData::StrayQuote)),
        }
    }
}
