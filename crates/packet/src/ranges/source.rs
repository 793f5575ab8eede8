//! The object's bytes from a range reader's first byte, with the absolute
//! offset of each, scanned a buffer at a time.

use super::{bad, BadData, RangeError, MAX_RECORD_BYTES};
use std::io::{self, BufRead};

pub(super) struct Source<R> {
    inner: R,
    /// Absolute offset of the next byte.
    pos: u64,
    first: u64,
    size: u64,
}

impl<R: BufRead> Source<R> {
    pub(super) fn new(inner: R, first: u64, size: u64) -> Self {
        Source {
            inner,
            pos: first,
            first,
            size,
        }
    }

    /// Notes that the first `n` bytes were taken from the reader before it
    /// was handed over (a byte order mark): offsets stay the object's.
    pub(super) fn skipped(mut self, n: u64) -> Self {
        self.pos += n;
        self
    }

    pub(super) fn pos(&self) -> u64 {
        self.pos
    }

    pub(super) fn consumed(&self) -> u64 {
        self.pos - self.first
    }

    /// The next unread bytes, never past the object's end; empty only there.
    fn chunk(&mut self) -> Result<&[u8], RangeError> {
        if self.pos >= self.size {
            return Ok(&[]);
        }
        let remaining = self.size - self.pos;
        // `fill_buf` is asked twice so that the retry on `Interrupted` does
        // not hold a borrow across loop iterations.
        loop {
            match self.inner.fill_buf() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(RangeError::Read {
                        offset: self.pos,
                        source,
                    })
                }
                Ok(_) => break,
            }
        }
        let pos = self.pos;
        let size = self.size;
        let buffer = self.inner.fill_buf().map_err(|source| RangeError::Read {
            offset: pos,
            source,
        })?;
        if buffer.is_empty() {
            return Err(RangeError::Read {
                offset: pos,
                source: io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the object ended at byte {pos}, before its size of {size} bytes"),
                ),
            });
        }
        let n = usize::try_from(remaining).map_or(buffer.len(), |r| r.min(buffer.len()));
        Ok(&buffer[..n])
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.pos += n as u64;
    }

    /// The next byte, not consumed; `None` at the object's end.
    pub(super) fn peek(&mut self) -> Result<Option<u8>, RangeError> {
        Ok(self.chunk()?.first().copied())
    }

    /// Consumes the next byte, if any.
    pub(super) fn next(&mut self) -> Result<Option<u8>, RangeError> {
        let byte = self.peek()?;
        if byte.is_some() {
            self.consume(1);
        }
        Ok(byte)
    }

    /// Consumes bytes while `keep` holds for them, without storing them.
    pub(super) fn skip_while(&mut self, keep: impl Fn(u8) -> bool) -> Result<(), RangeError> {
        loop {
            let chunk = self.chunk()?;
            let len = chunk.len();
            let n = chunk.iter().position(|&b| !keep(b)).unwrap_or(len);
            self.consume(n);
            if n < len || len == 0 {
                return Ok(());
            }
        }
    }

    /// Consumes bytes while `keep` holds for them into `record` (cleared
    /// first). A record longer than [`MAX_RECORD_BYTES`] is refused at
    /// `record_start` before more of it is read.
    pub(super) fn take_while(
        &mut self,
        keep: impl Fn(u8) -> bool,
        record: &mut Vec<u8>,
        record_start: u64,
    ) -> Result<(), RangeError> {
        record.clear();
        loop {
            let chunk = self.chunk()?;
            let len = chunk.len();
            let n = chunk.iter().position(|&b| !keep(b)).unwrap_or(len);
            if record.len() + n > MAX_RECORD_BYTES {
                return Err(bad(record_start, BadData::TooLong));
            }
            record.extend_from_slice(&chunk[..n]);
            self.consume(n);
            if n < len || len == 0 {
                return Ok(());
            }
        }
    }
}
