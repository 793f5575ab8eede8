//! The API's request and response bodies, defined once: the server writes
//! them, and `adder`'s client reads them with the same types, so the two
//! cannot drift apart. Field names are the original's (`arrayId`, …), in
//! camelCase; openapi.yaml documents them.

use packet::job::{JobSpec, Registry, SpecError, Stored};
use packet::ObjectSource;
use pipeline::{Status, SumRecord};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// `POST /sumArray`'s answer: the array was recorded and its packets sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArrayAccepted {
    /// Always `success`.
    pub status: String,
    pub array_id: String,
    pub array_length: u64,
}

/// `POST /sumObject`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectAccepted {
    /// Always `success`.
    pub status: String,
    pub array_id: String,
    /// The array's state now: `pending`, or `done`/`failed` when the same
    /// object was summed before.
    pub array_status: String,
}

/// `POST /sumObject`'s body, and `GET /sumObject`'s query: the object, and
/// how its numbers are laid out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectRequest {
    pub bucket: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// `json`, `lines` or `csv`; from the key's suffix when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// CSV only: 0-based index or header name (default `INPUT_CSV_COLUMN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<ColumnText>,
    /// CSV only: whether the first line is a header (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<bool>,
    /// The job to run (docs/jobs.md); `sum` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// The job's parameters: a JSON object (in a query string, its text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<ParamsText>,
}

/// `POST /sumArray`'s query: the job to run over the body's array.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrayQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// The job's parameters as JSON object text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<String>,
}

/// A job's parameters as a JSON body gives them (an object), or as a query
/// string does (the object's JSON text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamsText {
    Object(BTreeMap<String, serde_json::Value>),
    Text(String),
}

/// The job a request names: `sum` without parameters when it names none.
pub fn job_spec(name: Option<&str>, params: Option<&ParamsText>) -> Result<JobSpec, String> {
    let params = match params {
        None => BTreeMap::new(),
        Some(ParamsText::Object(params)) => params.clone(),
        Some(ParamsText::Text(text)) => serde_json::from_str(text).map_err(|e| {
            format!("params must be a JSON object, like {{\"by\":\"region\"}}: {e}")
        })?,
    };
    Ok(JobSpec {
        name: name.unwrap_or("sum").to_string(),
        params,
    })
}

/// A column as JSON gives it (a number or a name), or as a query string
/// gives it (always text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ColumnText {
    Index(usize),
    Name(String),
}

/// `GET /sums/{arrayId}` and `GET /sumObject`: an array's record.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SumView {
    pub array_id: String,
    /// `pending`, `done` or `failed`.
    pub status: String,
    /// Elements; an object array's only once it is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array_length: Option<u64>,
    /// The exact sum as a JSON number, every digit kept (`null` unless done).
    #[serde(default)]
    pub sum: Option<Box<RawValue>>,
    pub submitted_at: u64,
    #[serde(default)]
    pub finished_at: Option<u64>,
    /// Elements folded into the scratchpad so far (always sent by this API).
    #[serde(default)]
    pub reduced_elements: Option<u64>,
    /// Why a failed array failed: `not_enqueued`, `dead_lettered`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The failure in words, with what to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// An object array's object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectSource>,
    /// An object array's bytes mapped so far (its size once done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_mapped: Option<u64>,
    /// The job, unless it is the default `sum`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<JobSpec>,
    /// The result of a job other than `sum` (whose result is `sum`), as the
    /// job shows it; `null` unless done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Box<RawValue>>,
}

impl SumView {
    /// What the API shows of `record`: progress never past the total, and
    /// the total once done.
    pub fn of(record: &SumRecord, jobs: &Registry) -> SumView {
        let sum = record
            .sum
            .as_ref()
            .and_then(|s| RawValue::from_string(s.to_string()).ok());
        SumView {
            array_id: record.array_id.clone(),
            status: record.status.as_str().to_string(),
            array_length: record.elements(),
            sum,
            submitted_at: record.submitted_at_ms,
            finished_at: record.finished_at_ms,
            reduced_elements: Some(match (record.status, record.elements()) {
                (Status::Done, Some(n)) => n,
                (_, Some(n)) => record.reduced_elements.min(n),
                (_, None) => record.reduced_elements,
            }),
            failure: record.failure.as_ref().map(|f| f.kind.as_str().to_string()),
            reason: record.failure.as_ref().map(|f| f.reason.clone()),
            object: record.source.clone(),
            bytes_mapped: record.source.as_ref().map(|s| match record.status {
                Status::Done => s.size,
                _ => record.mapped_bytes.min(s.size),
            }),
            job: (!record.job.is_default()).then(|| record.job.clone()),
            result: (!record.job.is_default()).then(|| shown(record, jobs)),
        }
    }
}

/// A job's result as its job shows it. A record this build cannot show (a
/// job it does not run, a value it cannot read) shows the stored text as a
/// JSON string rather than fail the read.
fn shown(record: &SumRecord, jobs: &Registry) -> Box<RawValue> {
    // `Box<RawValue>`'s default is JSON `null`.
    let Some(text) = record
        .result
        .as_ref()
        .filter(|_| record.status == Status::Done)
    else {
        return Box::default();
    };
    let stored = Stored::Text(text.clone());
    let json = jobs
        .job(&record.job)
        .map_err(|e: SpecError| e.to_string())
        .and_then(|job| job.show_stored(&stored).map_err(|e| e.reason));
    let json = match json {
        Ok(json) => json,
        Err(why) => {
            tracing::warn!(array_id = %record.array_id, error = %why, "a result this build cannot show");
            serde_json::Value::String(text.clone()).to_string()
        }
    };
    RawValue::from_string(json).unwrap_or_default()
}

/// Every error answer: `{"status":"error","error":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemBody {
    /// Always `error`.
    pub status: String,
    pub error: String,
}
