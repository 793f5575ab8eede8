//! Starting an object array: from the API (`submit_object`) or from an S3
//! ObjectCreated notification (`object_created`).
//!
//! Only the object's size is read (HeadObject; plus its header line for a
//! CSV column given by name): the ranges are enqueued without reading the
//! bytes, and `times_two` reads each. The array id is derived from the
//! object version and the format, so submitting the same object again, or a
//! redelivered notification, is the same computation: while it is pending
//! its ranges are sent again (a crash may have cut the first sending short;
//! duplicates add nothing), once it has ended nothing is sent.

use super::range::{format_name, with_reader};
use super::submit::{insert_own_or_existing, new_record};
use super::{StepError, Submitted};
use crate::config::Config;
use crate::ports::ObjectError;
use crate::ports::{Failure, FailureKind, PortError, Ports, SumRecord};
use packet::job::{ColumnName, JobSpec, SpecError};
use packet::ranges::{column_index, header_line, Format, RangeError};
use packet::{NodeId, ObjectRef, ObjectSource, RangeMessage};
use serde::Deserialize;

/// Most ranges one submission enqueues: at the default 8 MiB per range, an
/// object of 80 GiB. Sending more would not fit API Gateway's 29 s.
pub const MAX_RANGES: u64 = 10_000;

/// A CSV column, by 0-based index or by its header's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Index(usize),
    Name(String),
}

impl Column {
    /// `"3"` is an index, anything else a name.
    pub fn parse(text: &str) -> Column {
        text.parse()
            .map_or_else(|_| Column::Name(text.to_string()), Column::Index)
    }
}

/// A format's name, as a client writes it: `json`, `lines` or `csv` (the
/// API's `format`, the CLI's `--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormatName {
    Json,
    Lines,
    Csv,
}

impl FormatName {
    pub const ALL: [FormatName; 3] = [FormatName::Json, FormatName::Lines, FormatName::Csv];

    pub fn as_str(self) -> &'static str {
        match self {
            FormatName::Json => "json",
            FormatName::Lines => "lines",
            FormatName::Csv => "csv",
        }
    }
}

impl std::str::FromStr for FormatName {
    type Err = String;
    fn from_str(name: &str) -> Result<FormatName, String> {
        FormatName::ALL
            .into_iter()
            .find(|f| f.as_str() == name)
            .ok_or_else(|| format!("format {name:?} is not one of json, lines, csv"))
    }
}

/// How the numbers are laid out, as a client names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatRequest {
    JsonArray,
    Lines,
    Csv { column: Column, header: bool },
}

impl FormatRequest {
    /// What a client asked for: a format by name (or none: from `key`'s
    /// suffix), and for CSV a column and whether there is a header (the
    /// defaults: `INPUT_CSV_COLUMN`, and a header). The one place a request's
    /// format is read, for the API and so for every client of it.
    pub fn asked(
        name: Option<&str>,
        column: Option<Column>,
        header: Option<bool>,
        key: &str,
        config: &Config,
    ) -> Result<FormatRequest, String> {
        let format = match name.map(str::parse::<FormatName>).transpose()? {
            None => format_of_key(key, config),
            Some(FormatName::Json) => FormatRequest::JsonArray,
            Some(FormatName::Lines) => FormatRequest::Lines,
            Some(FormatName::Csv) => FormatRequest::Csv {
                column: Column::parse(&config.input_csv_column),
                header: true,
            },
        };
        match format {
            FormatRequest::Csv {
                column: default_column,
                header: default_header,
            } => Ok(FormatRequest::Csv {
                column: column.unwrap_or(default_column),
                header: header.unwrap_or(default_header),
            }),
            _ if column.is_some() || header.is_some() => {
                Err("column and header apply to the csv format only".into())
            }
            other => Ok(other),
        }
    }

    /// The format and key column, when they are known without reading the
    /// object (no column is given by name).
    fn known(&self, job: &ObjectJob) -> Option<(Format, Option<usize>)> {
        let index = |c: &Column| match c {
            Column::Index(i) => Some(*i),
            Column::Name(_) => None,
        };
        let key = match &job.key {
            Some(key) => Some(index(key)?),
            None => None,
        };
        match self {
            FormatRequest::JsonArray => Some((Format::JsonArray, None)),
            FormatRequest::Lines => Some((Format::Lines, None)),
            FormatRequest::Csv { column, header } => Some((
                Format::Csv {
                    column: index(column)?,
                    header: *header,
                },
                key,
            )),
        }
    }
}

/// The job an object array runs, checked against the build's jobs when it
/// was made: its spec, and a keyed job's key column as the client named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectJob {
    pub spec: JobSpec,
    key: Option<Column>,
}

impl ObjectJob {
    /// The adder's `sum`.
    pub fn sum() -> ObjectJob {
        ObjectJob {
            spec: JobSpec::default(),
            key: None,
        }
    }

    /// The job `spec` names, if this build runs it with its parameters over
    /// `format`: a keyed job (`sum-by`) takes CSV only.
    pub fn checked(
        config: &Config,
        spec: &JobSpec,
        format: &FormatRequest,
    ) -> Result<ObjectJob, SpecError> {
        let job = config.jobs.job(spec)?;
        if !job.keyed() {
            return Ok(ObjectJob {
                spec: spec.clone(),
                key: None,
            });
        }
        let refused = |reason: &str| SpecError::Params {
            job: spec.name.clone(),
            reason: reason.to_string(),
        };
        if !matches!(format, FormatRequest::Csv { .. }) {
            return Err(refused(
                "groups by a CSV column, so it takes CSV objects only (format csv)",
            ));
        }
        let key = match spec.key_column() {
            Some(ColumnName::Index(i)) => Column::Index(i),
            Some(ColumnName::Name(name)) => Column::parse(name),
            None => return Err(refused("needs \"by\": the column to group by")),
        };
        Ok(ObjectJob {
            spec: spec.clone(),
            key: Some(key),
        })
    }
}

/// Why an object array was not started.
#[derive(Debug, thiserror::Error)]
pub enum ObjectSubmitError {
    /// 404, 403 (as a 4xx to the client), or 503 when transient.
    #[error(transparent)]
    Object(#[from] ObjectError),
    /// 422: the header has no such column, or there is no header.
    #[error("{0}")]
    Format(String),
    /// 413.
    #[error(
        "the object is {size} bytes: {ranges} ranges of RANGE_BYTES={range_bytes}; \
         at most {MAX_RANGES} ranges are accepted"
    )]
    TooLarge {
        size: u64,
        ranges: u64,
        range_bytes: u64,
    },
    /// 503.
    #[error("could not record or enqueue the array: {0}")]
    Port(#[from] PortError),
    /// 400: a job this build does not run, parameters it refuses, or an
    /// input it does not take.
    #[error(transparent)]
    Job(#[from] SpecError),
}

/// An object that can never be summed as asked, found out at submission:
/// why, and the id under which a notification records that (so that
/// `GET /sumObject` finds the failure by the object's key).
#[derive(Debug)]
struct Unstartable {
    array_id: String,
    error: ObjectSubmitError,
    /// The array it would have been, when its format was resolved.
    source: Option<ObjectSource>,
}

/// What submission learns about an object before recording anything.
enum Resolved {
    Source(ObjectSource),
    Unstartable(Unstartable),
}

/// Whether a read failure of the object ends its submission for good.
/// Not a missing or replaced object: a notification skips those (the
/// object's own later event, if any, starts the newer version).
fn never_passes(e: &ObjectError) -> bool {
    !e.is_transient() && !matches!(e, ObjectError::NotFound(_) | ObjectError::Changed(_))
}

/// What `object` in `format` is now: its version, size and resolved format,
/// which name its array (`ObjectSource::array_id`); or, when it cannot be
/// summed, where its failure is recorded. `Err` is a missing or replaced
/// object, or a failure worth a retry.
async fn resolve(
    ports: &Ports,
    object: &ObjectRef,
    format: &FormatRequest,
    job: &ObjectJob,
) -> Result<Resolved, ObjectSubmitError> {
    let info = match ports.objects.head(object).await {
        Ok(info) => info,
        // Neither its version nor its size is known: the record is the
        // key's (and format's), the only names `GET /sumObject` has too.
        Err(e) if never_passes(&e) => {
            let key = ObjectRef {
                version_id: None,
                etag: None,
                ..object.clone()
            };
            return Ok(Resolved::Unstartable(Unstartable {
                array_id: unstarted_id(&key, None, format, &job.spec),
                error: e.into(),
                source: None,
            }));
        }
        Err(e) => return Err(e.into()),
    };
    let pinned = ObjectRef {
        version_id: info.version_id.or_else(|| object.version_id.clone()),
        etag: info.etag.or_else(|| object.etag.clone()),
        ..object.clone()
    };
    match resolve_format(ports, &pinned, info.size, format, job).await {
        Ok((resolved, key_column)) => Ok(Resolved::Source(ObjectSource {
            object: pinned,
            size: info.size,
            format: resolved,
            key_column,
        })),
        Err(e @ ObjectSubmitError::Format(_)) => Ok(Resolved::Unstartable(Unstartable {
            array_id: unstarted_id(&pinned, Some(info.size), format, &job.spec),
            error: e,
            source: None,
        })),
        Err(ObjectSubmitError::Object(e)) if never_passes(&e) => {
            Ok(Resolved::Unstartable(Unstartable {
                array_id: unstarted_id(&pinned, Some(info.size), format, &job.spec),
                error: e.into(),
                source: None,
            }))
        }
        Err(e) => Err(e),
    }
}

/// The id of the record of an object whose array could not even be named
/// (its version, or its CSV column's index, is unknown): a name-based UUID
/// of what is known, in a namespace of its own, so it is no array's id.
fn unstarted_id(
    object: &ObjectRef,
    size: Option<u64>,
    format: &FormatRequest,
    job: &JobSpec,
) -> String {
    let format = match format {
        FormatRequest::JsonArray => serde_json::json!("json"),
        FormatRequest::Lines => serde_json::json!("lines"),
        FormatRequest::Csv { column, header } => {
            let column = match column {
                Column::Index(i) => serde_json::json!(i),
                Column::Name(name) => serde_json::json!(name),
            };
            serde_json::json!(["csv", column, header])
        }
    };
    let mut name = serde_json::json!([
        object.bucket,
        object.key,
        object.version_id,
        object.etag,
        size,
        format,
    ]);
    if let (false, serde_json::Value::Array(parts)) = (job.is_default(), &mut name) {
        parts.push(serde_json::json!(job));
    }
    uuid::Uuid::new_v5(&UNSTARTED_NAMESPACE, name.to_string().as_bytes()).to_string()
}

/// The namespace of [`unstarted_id`]s (a fixed random UUID).
const UNSTARTED_NAMESPACE: uuid::Uuid = uuid::uuid!("b3c1e0d4-5a7f-4c2e-8f19-6d0a9e4b7c21");

/// What `object` in `format` is now: its version, size and resolved format,
/// which name its array (`ObjectSource::array_id`).
pub async fn object_source(
    ports: &Ports,
    object: &ObjectRef,
    format: &FormatRequest,
    job: &ObjectJob,
) -> Result<ObjectSource, ObjectSubmitError> {
    match resolve(ports, object, format, job).await? {
        Resolved::Source(source) => Ok(source),
        Resolved::Unstartable(u) => Err(u.error),
    }
}

/// The record of the array summing `object` (as it is now) in `format`,
/// if it was ever submitted: how a result is found from an object's key.
/// An object that could not start is found by the failure its notification
/// recorded; without one, why it cannot start is the answer.
pub async fn find_object(
    ports: &Ports,
    object: &ObjectRef,
    format: &FormatRequest,
    job: &ObjectJob,
) -> Result<Option<SumRecord>, ObjectSubmitError> {
    match resolve(ports, object, format, job).await? {
        Resolved::Source(source) => Ok(super::get_sum(ports, &source.array_id(&job.spec)).await?),
        Resolved::Unstartable(u) => match super::get_sum(ports, &u.array_id).await? {
            Some(record) => Ok(Some(record)),
            None => Err(u.error),
        },
    }
}

/// Starts (or finds) the sum of `object` in `format`.
pub async fn submit_object(
    ports: &Ports,
    config: &Config,
    object: &ObjectRef,
    format: &FormatRequest,
) -> Result<Submitted, ObjectSubmitError> {
    submit_object_job(ports, config, object, format, &ObjectJob::sum()).await
}

/// Starts (or finds) the computation of `job` over `object` in `format`.
pub async fn submit_object_job(
    ports: &Ports,
    config: &Config,
    object: &ObjectRef,
    format: &FormatRequest,
    job: &ObjectJob,
) -> Result<Submitted, ObjectSubmitError> {
    match start(ports, config, object, format, job).await? {
        Ok(submitted) => Ok(submitted),
        Err(u) => Err(u.error),
    }
}

/// Starts (or finds) the computation; `Ok(Err)` when the object can never
/// be summed as asked.
async fn start(
    ports: &Ports,
    config: &Config,
    object: &ObjectRef,
    format: &FormatRequest,
    job: &ObjectJob,
) -> Result<Result<Submitted, Unstartable>, ObjectSubmitError> {
    let source = match resolve(ports, object, format, job).await? {
        Resolved::Source(source) => source,
        Resolved::Unstartable(u) => return Ok(Err(u)),
    };
    let info_size = source.size;
    let tree = source
        .tree(config.range_bytes, config.fan_in)
        .map_err(|e| PortError::Rejected(e.to_string()))?;
    if tree.leaves() > MAX_RANGES {
        return Ok(Err(Unstartable {
            array_id: source.array_id(&job.spec),
            error: ObjectSubmitError::TooLarge {
                size: info_size,
                ranges: tree.leaves(),
                range_bytes: config.range_bytes,
            },
            source: Some(source),
        }));
    }
    let array_id = source.array_id(&job.spec);
    let mut record = new_record(&array_id, tree.array_length(), config, ports.clock.now_ms());
    record.chunk_size = config.range_bytes;
    record.element_count = None;
    record.source = Some(source.clone());
    record.job = job.spec.clone();
    let record = match record_and_send(ports, record, &source).await {
        Ok(record) => record,
        Err(e) => {
            // Recorded (perhaps) but its ranges not all sent: the array says
            // so at once rather than wait for its deadline. Submitting the
            // object again (a client's retry, a redelivered notification)
            // sends them again and can still finish it: a not_enqueued
            // object array revives.
            let failure = Failure::new(
                FailureKind::NotEnqueued,
                format!(
                    "its ranges could not all be enqueued ({e}); submit the object again \
                     (POST /sumObject, or upload it again)"
                ),
            );
            super::submit::fail_array(ports, &array_id, &failure).await;
            return Err(e.into());
        }
    };
    tracing::info!(array_id = %array_id, object = %source.object, bytes = source.size, "object accepted");
    Ok(Ok(Submitted {
        array_id,
        array_length: record.array_length,
        // Ranges sent again for a revived array: it is pending again.
        status: match record.has_ended() {
            true => record.status,
            false => crate::ports::Status::Pending,
        },
    }))
}

/// The failure recorded for a notified object that can never be summed.
fn failure_of(object: &ObjectRef, config: &Config, error: &ObjectSubmitError) -> Failure {
    match error {
        ObjectSubmitError::Format(why) => Failure::new(
            FailureKind::BadData,
            format!(
                "{why} (objects in the input bucket are read with INPUT_CSV_COLUMN={:?}); \
                 upload it again with that column, or submit it with POST /sumObject \
                 naming its column",
                config.input_csv_column
            ),
        ),
        ObjectSubmitError::Job(why) => Failure::new(
            FailureKind::BadData,
            format!(
                "{object} cannot be run by the input bucket's job (NOTIFIED_JOB): {why}; \
                 submit it with POST /sumObject naming a job that takes it"
            ),
        ),
        ObjectSubmitError::TooLarge { .. } => Failure::new(
            FailureKind::Unreadable,
            format!("{object} cannot be summed: {error}; split it into smaller objects"),
        ),
        other => Failure::new(FailureKind::Unreadable, other.to_string()),
    }
}

/// Records that a notified object can never be summed: a record is made
/// (with its source when known) and failed, so that `GET /sumObject` finds
/// why. A record already there keeps its end: done stays done, and a
/// failure keeps its first reason.
async fn record_unstartable(
    ports: &Ports,
    config: &Config,
    object: &ObjectRef,
    unstartable: &Unstartable,
    job: &ObjectJob,
) -> Result<(), PortError> {
    let failure = failure_of(object, config, &unstartable.error);
    let length = match &unstartable.source {
        Some(source) => source
            .tree(config.range_bytes, config.fan_in)
            .map_or(1, |t| t.array_length()),
        None => 1,
    };
    let mut record = new_record(&unstartable.array_id, length, config, ports.clock.now_ms());
    record.chunk_size = config.range_bytes;
    record.element_count = None;
    record.source = unstartable.source.clone();
    record.job = job.spec.clone();
    insert_own_or_existing(ports, record).await?;
    super::submit::record_failure(ports, &unstartable.array_id, &failure).await
}

/// Records the array (or finds it recorded) and, unless it has ended,
/// sends its ranges; returns the record.
async fn record_and_send(
    ports: &Ports,
    record: SumRecord,
    source: &ObjectSource,
) -> Result<SumRecord, PortError> {
    let record = insert_own_or_existing(ports, record).await?;
    // Sent already: a repeat would only make every range be read twice.
    // A crash between the sending and the mark costs just that.
    if !record.has_ended() && !record.enqueued {
        send_ranges(ports, &record, source).await?;
        if let Err(e) = ports.sums.mark_enqueued(&record.array_id).await {
            tracing::warn!(array_id = %record.array_id, error = %e, "could not mark the ranges sent; a repeat sends them again");
        }
    }
    Ok(record)
}

/// Every range message of the array `record` describes, shaped by the
/// record (not today's configuration), so a repeat sends the same ones.
async fn send_ranges(
    ports: &Ports,
    record: &SumRecord,
    source: &ObjectSource,
) -> Result<(), PortError> {
    let tree = source
        .tree(record.chunk_size, record.fan_in)
        .map_err(|e| PortError::Rejected(e.to_string()))?;
    let bodies = (0..tree.leaves())
        .map(|leaf| {
            RangeMessage {
                array_id: record.array_id.clone(),
                source: source.clone(),
                tree,
                leaf: NodeId::new(0, leaf),
            }
            .encode()
        })
        .collect();
    ports.times_two_queue.send(bodies).await
}

/// The format with its CSV columns (the numbers', a keyed job's key) as
/// indexes, reading the header line once for columns given by name.
async fn resolve_format(
    ports: &Ports,
    object: &ObjectRef,
    size: u64,
    format: &FormatRequest,
    job: &ObjectJob,
) -> Result<(Format, Option<usize>), ObjectSubmitError> {
    if let Some(known) = format.known(job) {
        return Ok(known);
    }
    let FormatRequest::Csv { column, header } = format else {
        return Err(PortError::Rejected("only a CSV column has a name".into()).into());
    };
    let header = *header;
    let first_name = [Some(column), job.key.as_ref()]
        .into_iter()
        .flatten()
        .find_map(|c| match c {
            Column::Name(name) => Some(name.as_str()),
            Column::Index(_) => None,
        })
        .unwrap_or_default();
    if !header || size == 0 {
        return Err(ObjectSubmitError::Format(format!(
            "column {first_name:?} is named, but {object} has no header line to find it in"
        )));
    }
    let body = ports.objects.read_from(object, 0).await?;
    let line = match with_reader(body, |r| header_line(r)).await? {
        Ok(line) => line,
        // The header could not be read (a broken stream): retry, not a 422.
        Err(e @ RangeError::Read { .. }) => {
            return Err(ObjectSubmitError::Port(PortError::Unavailable(format!(
                "reading the header of {object}: {e}"
            ))))
        }
        Err(e) => return Err(not_in_header(object, header, e)),
    };
    let index = |c: &Column| match c {
        Column::Index(i) => Ok(*i),
        Column::Name(name) => column_index(&line, name).map_err(|reason| {
            not_in_header(object, header, RangeError::BadData { offset: 0, reason })
        }),
    };
    let key = job.key.as_ref().map(index).transpose()?;
    Ok((
        Format::Csv {
            column: index(column)?,
            header,
        },
        key,
    ))
}

fn not_in_header(object: &ObjectRef, header: bool, e: RangeError) -> ObjectSubmitError {
    ObjectSubmitError::Format(format!(
        "{object} as {}: {e}",
        format_name(Format::Csv { column: 0, header })
    ))
}

/// The format of an object dropped in the input bucket, from its key:
/// `.json` a JSON array, `.csv` CSV with a header (column
/// `INPUT_CSV_COLUMN`), anything else one number per line.
pub fn format_of_key(key: &str, config: &Config) -> FormatRequest {
    let lower = key.to_ascii_lowercase();
    if lower.ends_with(".json") {
        FormatRequest::JsonArray
    } else if lower.ends_with(".csv") {
        FormatRequest::Csv {
            column: Column::parse(&config.input_csv_column),
            header: true,
        }
    } else {
        FormatRequest::Lines
    }
}

#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "Records", default)]
    records: Vec<NotificationRecord>,
    #[serde(rename = "Event")]
    event: Option<String>,
}

#[derive(Deserialize)]
struct NotificationRecord {
    #[serde(rename = "eventName")]
    event_name: String,
    s3: NotifiedS3,
}

#[derive(Deserialize)]
struct NotifiedS3 {
    bucket: NotifiedBucket,
    object: NotifiedObject,
}

#[derive(Deserialize)]
struct NotifiedBucket {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotifiedObject {
    key: String,
    e_tag: Option<String>,
    version_id: Option<String>,
    size: Option<u64>,
}

/// Whether a TimesTwo-function message body is an S3 event notification
/// (it arrives from the ObjectCreated queue) rather than a leaf.
pub fn is_notification(body: &str) -> bool {
    body.contains("\"Records\"") || body.contains("\"s3:TestEvent\"")
}

/// Starts the computation of every object an S3 notification names. The
/// test event S3 sends when notifications are configured, and events other
/// than ObjectCreated, are ignored; an object deleted or overwritten since
/// its event is skipped (its own later event, if any, starts the newer);
/// an object that can never be summed (too big, unreadable, without the
/// CSV column) gets a failed record saying why, instead of being retried
/// into the dead-letter queue. Every record of the message is handled even
/// when one fails; if any failed transiently the message comes again (the
/// others are found started: nothing is sent twice).
pub async fn object_created(
    ports: &Ports,
    config: &Config,
    body: &str,
) -> Result<Vec<Submitted>, StepError> {
    let note: Notification = serde_json::from_str(body)
        .map_err(|e| PortError::Rejected(format!("not an S3 event notification: {e}")))?;
    if note.event.is_some() {
        return Ok(Vec::new());
    }
    let mut started = Vec::new();
    let mut retry = None;
    for record in note
        .records
        .iter()
        .filter(|r| r.event_name.starts_with("ObjectCreated:"))
    {
        let object = ObjectRef {
            bucket: record.s3.bucket.name.clone(),
            key: decode_key(&record.s3.object.key),
            version_id: record.s3.object.version_id.clone(),
            etag: record.s3.object.e_tag.as_ref().map(|e| quoted(e)),
        };
        let format = format_of_key(&object.key, config);
        let (job, started_or_not) = notified_start(ports, config, &object, &format).await;
        let handled = match started_or_not {
            Ok(Ok(s)) => {
                started.push(s);
                Ok(())
            }
            Ok(Err(unstartable)) => {
                tracing::warn!(object = %object, array_id = %unstartable.array_id, error = %unstartable.error, "object cannot be summed; its failure is recorded");
                let size = record.s3.object.size;
                match record_unstartable(ports, config, &object, &unstartable, &job).await {
                    Ok(()) => {
                        let (format, job) = (&format, &job);
                        fail_unsent(ports, config, &object, size, format, job, &unstartable).await
                    }
                    Err(e) => Err(e),
                }
            }
            Err(ObjectSubmitError::Object(ObjectError::NotFound(_) | ObjectError::Changed(_))) => {
                tracing::info!(object = %object, "object gone or replaced since its event; skipped");
                let size = record.s3.object.size;
                fail_replaced(ports, &object, size, &format, &job).await
            }
            Err(ObjectSubmitError::Object(ObjectError::Port(e)) | ObjectSubmitError::Port(e)) => {
                Err(e)
            }
            Err(e) => Err(PortError::Rejected(format!("{object}: {e}"))),
        };
        if let Err(e) = handled {
            tracing::warn!(object = %object, error = %e, "object not handled; the message will come again");
            retry.get_or_insert(e);
        }
    }
    match retry {
        Some(e) => Err(e.into()),
        None => Ok(started),
    }
}

/// Starts a notified object with the input bucket's job (`NOTIFIED_JOB`);
/// an object that job does not take (a keyed job's non-CSV object) cannot
/// start, and is recorded failed like any other.
async fn notified_start(
    ports: &Ports,
    config: &Config,
    object: &ObjectRef,
    format: &FormatRequest,
) -> (
    ObjectJob,
    Result<Result<Submitted, Unstartable>, ObjectSubmitError>,
) {
    let spec = &config.notified_job;
    match ObjectJob::checked(config, spec, format) {
        Ok(job) => {
            let started = start(ports, config, object, format, &job).await;
            (job, started)
        }
        Err(e) => {
            let unstartable = Unstartable {
                array_id: unstarted_id(object, None, format, spec),
                error: e.into(),
                source: None,
            };
            let job = ObjectJob {
                spec: spec.clone(),
                key: None,
            };
            (job, Ok(Err(unstartable)))
        }
    }
}

/// The notified version is gone (deleted, or overwritten in a bucket
/// without versions): if an earlier delivery recorded its array but died
/// before sending every range, the array ends now rather than at its
/// deadline. Its id is computed from the event (no read of the object);
/// failing ends only a pending array, never a done one.
async fn fail_replaced(
    ports: &Ports,
    object: &ObjectRef,
    size: Option<u64>,
    format: &FormatRequest,
    job: &ObjectJob,
) -> Result<(), PortError> {
    // A column name was resolved from the header, which is gone.
    let (Some((format, key_column)), Some(size)) = (format.known(job), size) else {
        return Ok(());
    };
    let source = ObjectSource {
        object: object.clone(),
        size,
        format,
        key_column,
    };
    let failure = Failure::new(
        FailureKind::Unreadable,
        format!("{object} was deleted or overwritten before its ranges were all enqueued; upload it again"),
    );
    super::submit::record_failure(ports, &source.array_id(&job.spec), &failure).await
}

/// An earlier delivery of the notification may have recorded the object's
/// array and died before sending every range (or failed to, `not_enqueued`,
/// which a delivery revives): with this delivery's failure no later one
/// sends them, so the array ends now with its reason rather than expire at
/// its deadline. Its id is computed from the event, as [`fail_replaced`]
/// does; an array whose ranges were all sent is left to them.
async fn fail_unsent(
    ports: &Ports,
    config: &Config,
    object: &ObjectRef,
    size: Option<u64>,
    format: &FormatRequest,
    job: &ObjectJob,
    unstartable: &Unstartable,
) -> Result<(), PortError> {
    let (Some((format, key_column)), Some(size)) = (format.known(job), size) else {
        return Ok(());
    };
    let array_id = ObjectSource {
        object: object.clone(),
        size,
        format,
        key_column,
    }
    .array_id(&job.spec);
    if array_id == unstartable.array_id {
        return Ok(());
    }
    match super::get_sum(ports, &array_id).await? {
        Some(record) if !record.has_ended() && !record.enqueued => {
            let failure = failure_of(object, config, &unstartable.error);
            super::submit::record_failure(ports, &array_id, &failure).await
        }
        _ => Ok(()),
    }
}

/// S3 event keys are URL-encoded, with `+` for a space (a `+` in a key
/// comes as `%2B`).
fn decode_key(key: &str) -> String {
    percent_encoding::percent_decode_str(&key.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// S3 events give the ETag bare; HeadObject and If-Match quote it.
fn quoted(etag: &str) -> String {
    if etag.starts_with('"') {
        etag.to_string()
    } else {
        format!("\"{etag}\"")
    }
}
