//! Mapping one byte range of an object: read it through the object store
//! port and sum the records it owns (`packet::ranges`).

use crate::ports::{Failure, FailureKind, PortError, Ports};
use crate::ports::{ObjectBody, ObjectError};
use packet::job::{AnyJob, Stored as Value};
use packet::ranges::{line_of, read_from, BadData, Format, RangeError};
use packet::{ObjectRef, RangeMessage};
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Bytes `line_of` may read from an object's start to number the line of a
/// bad record: beyond it only the byte offset is given, so reporting bad
/// data never costs more than one read of this size.
pub const LINE_SCAN_LIMIT: u64 = 256 * 1024 * 1024;

/// A leaf's value once mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub value: Value,
    pub elements: u64,
    /// Bytes of the object the leaf covers (0 for a packet).
    pub bytes: u64,
}

/// Why a range could not be mapped.
#[derive(Debug)]
pub enum RangeFailure {
    /// The array cannot finish: it is failed with this reason.
    Final(Failure),
    /// Worth another delivery.
    Retry(PortError),
}

impl From<ObjectError> for RangeFailure {
    fn from(e: ObjectError) -> RangeFailure {
        match e {
            ObjectError::Port(e) if e.is_transient() => RangeFailure::Retry(e),
            other => RangeFailure::Final(Failure {
                kind: FailureKind::Unreadable,
                reason: other.to_string(),
                offset: None,
            }),
        }
    }
}

/// Runs `read` over `body`: on this thread for a local body (the
/// simulation polls futures by hand: no runtime, no threads), on a
/// blocking thread for a network stream, which it reads through a bridge.
pub async fn with_reader<T: Send + 'static>(
    body: ObjectBody,
    read: impl FnOnce(&mut dyn BufRead) -> T + Send + 'static,
) -> Result<T, PortError> {
    match body {
        ObjectBody::Local(mut reader) => Ok(read(&mut reader)),
        ObjectBody::Stream(stream) => tokio::task::spawn_blocking(move || {
            let bridge = tokio_util::io::SyncIoBridge::new(stream);
            read(&mut BufReader::with_capacity(1 << 16, bridge))
        })
        .await
        .map_err(|e| PortError::Unavailable(format!("the range reader stopped: {e}"))),
    }
}

/// Sums the records `m`'s range owns, doubled. With a `deadline` (Unix ms,
/// the invocation's, less time to store the result), reading stops there
/// and the array fails: a range that did not fit one invocation will not
/// fit the next one either, and retrying it would only end in the
/// dead-letter queue five timeouts later.
pub async fn map_range(
    ports: &Ports,
    job: &Arc<dyn AnyJob>,
    m: &RangeMessage,
    deadline: Option<u64>,
) -> Result<Mapped, RangeFailure> {
    let range = m.range();
    let (format, size, key) = (m.source.format, m.source.size, m.source.key_column);
    let bytes = range.end - range.start;
    let summed = if range.start >= size {
        // The empty object's one range: nothing to fetch (S3 refuses a
        // range past the end), its reader decides what it is.
        job.read_range(format, key, range.clone(), size, &mut &[][..])
    } else {
        let body = ports
            .objects
            .read_from(&m.source.object, read_from(range.start))
            .await?;
        let (owned, job) = (range.clone(), Arc::clone(job));
        with_reader(body, move |r| match deadline {
            Some(deadline_ms) => {
                job.read_range(format, key, owned, size, &mut Until::new(r, deadline_ms))
            }
            None => job.read_range(format, key, owned, size, r),
        })
        .await
        .map_err(RangeFailure::Retry)?
    };
    match summed {
        Ok(mapped) => Ok(Mapped {
            value: mapped.value,
            elements: mapped.elements,
            bytes,
        }),
        Err(RangeError::BadData {
            offset,
            reason: BadData::Job(e),
        }) => {
            let line = line_number(ports, &m.source.object, format, offset).await;
            Err(RangeFailure::Final(Failure {
                kind: FailureKind::of_job_code(e.code),
                reason: format!("{}: {}: {}", m.source.object, place(offset, line), e.reason),
                offset: Some(offset),
            }))
        }
        Err(RangeError::BadData { offset, reason }) => {
            let line = line_number(ports, &m.source.object, format, offset).await;
            Err(RangeFailure::Final(Failure {
                kind: FailureKind::BadData,
                reason: format!(
                    "{} is not valid {} data: {}: {reason}",
                    m.source.object,
                    format_name(format),
                    place(offset, line)
                ),
                offset: Some(offset),
            }))
        }
        Err(RangeError::Read { source, .. }) if source.kind() == ErrorKind::TimedOut => {
            Err(RangeFailure::Final(Failure {
                kind: FailureKind::Unreadable,
                reason: format!(
                    "{}: bytes {}..{} ({bytes} bytes) could not be read and mapped before \
                     times_two's timeout; lower RANGE_BYTES (docs/limits.md) or raise the \
                     function's MemorySize",
                    m.source.object, range.start, range.end
                ),
                offset: None,
            }))
        }
        Err(e @ RangeError::Read { .. }) => Err(RangeFailure::Retry(PortError::Unavailable(
            format!("reading {}: {e}", m.source.object),
        ))),
        Err(e @ RangeError::OutsideObject { .. }) => Err(RangeFailure::Final(Failure {
            kind: FailureKind::Unreadable,
            reason: format!("{}: {e}", m.source.object),
            offset: None,
        })),
    }
}

/// A reader that fails with [`ErrorKind::TimedOut`] once the wall clock
/// passes `deadline_ms` (Unix ms). The range readers ask for the buffer at
/// every byte they look at, so the clock is read only once per
/// [`Until::CHECK_EVERY`] bytes consumed (and at the start): a few
/// milliseconds of reading between checks, instead of a clock read per
/// element, which made mapping 2.5 times slower.
struct Until<R> {
    inner: R,
    deadline_ms: u64,
    /// Bytes consumed since the clock was last read; starts due.
    unchecked: usize,
}

impl<R: BufRead> Until<R> {
    const CHECK_EVERY: usize = 1 << 20;

    fn new(inner: R, deadline_ms: u64) -> Until<R> {
        Until {
            inner,
            deadline_ms,
            unchecked: Self::CHECK_EVERY,
        }
    }

    fn check(&mut self) -> std::io::Result<()> {
        if self.unchecked < Self::CHECK_EVERY {
            return Ok(());
        }
        self.unchecked = 0;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        if now_ms >= self.deadline_ms {
            return Err(std::io::Error::new(
                ErrorKind::TimedOut,
                "the invocation's deadline passed",
            ));
        }
        Ok(())
    }
}

impl<R: BufRead> Read for Until<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.check()?;
        let n = self.inner.read(buf)?;
        self.unchecked += n;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Until<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.check()?;
        self.inner.fill_buf()
    }
    fn consume(&mut self, amount: usize) {
        self.unchecked += amount;
        self.inner.consume(amount);
    }
}

/// The line of `offset` for line formats, when it is near enough the start
/// to count ([`LINE_SCAN_LIMIT`]) and the object can be read again.
async fn line_number(
    ports: &Ports,
    object: &ObjectRef,
    format: Format,
    offset: u64,
) -> Option<u64> {
    if !format.has_lines() || offset > LINE_SCAN_LIMIT {
        return None;
    }
    if offset == 0 {
        return Some(1);
    }
    let body = ports.objects.read_from(object, 0).await.ok()?;
    with_reader(body, move |r| line_of(offset, r).ok())
        .await
        .ok()
        .flatten()
}

/// Where a bad record is, for people.
pub fn place(offset: u64, line: Option<u64>) -> String {
    match line {
        Some(line) => format!("byte {offset} (line {line})"),
        None => format!("byte {offset}"),
    }
}

pub fn format_name(format: Format) -> &'static str {
    match format {
        Format::JsonArray => "JSON array",
        Format::Lines => "one-number-per-line",
        Format::Csv { .. } => "CSV",
    }
}
