//! Jobs by name: what a submission asks for, and the jobs a build knows.

use super::{map_all, Job, JobError, Record, Stats, Sum, SumBy, MAX_VALUE_BYTES};
use crate::ranges::{read_range_with, BadData, Format, RangeError, RangeValue};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::ops::Range;
use std::sync::Arc;

/// A job as a submission names it and as messages and records carry it.
/// `sum` with no parameters is the default, and is never written out, so
/// that the adder's messages and records are what they always were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    pub name: String,
    /// The job's own parameters, as the submission gave them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, serde_json::Value>,
}

impl Default for JobSpec {
    fn default() -> JobSpec {
        JobSpec::named(Sum::NAME)
    }
}

impl JobSpec {
    pub fn named(name: &str) -> JobSpec {
        JobSpec {
            name: name.to_string(),
            params: BTreeMap::new(),
        }
    }
    /// The default job: `sum`, without parameters.
    pub fn is_default(&self) -> bool {
        *self == JobSpec::default()
    }

    /// A keyed job's key column as the submission named it (its
    /// [`KEY_PARAM`] parameter): a 0-based index or a header name.
    pub fn key_column(&self) -> Option<ColumnName<'_>> {
        match self.params.get(KEY_PARAM)? {
            serde_json::Value::String(name) => Some(ColumnName::Name(name)),
            serde_json::Value::Number(n) => n
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .map(ColumnName::Index),
            _ => None,
        }
    }

    /// The spec as one JSON text (what a record keeps, what an idempotency
    /// fingerprint and an object's array id include).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The parameter that names a keyed job's key column.
pub const KEY_PARAM: &str = "by";

/// Largest job spec, as JSON: it is kept in the array's record, beside
/// everything else under DynamoDB's 400 KB, and no job needs more.
pub const MAX_SPEC_BYTES: usize = 4096;

/// A CSV column a submission names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnName<'a> {
    Index(usize),
    Name(&'a str),
}

/// Why a submission's job was refused: a 4xx with this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("no job is called {name:?}; this deployment runs {known}")]
    Unknown { name: String, known: String },
    #[error("job {job}: {reason}")]
    Params { job: String, reason: String },
}

/// A job a build knows by name, with how it is set up from parameters.
pub trait NamedJob: Job + Sized {
    /// The name a submission gives (`sum-by`).
    const NAME: &'static str;
    /// Whether its records need a key (a CSV column named by the
    /// submission): such a job takes only CSV input.
    const KEYED: bool = false;
    /// The job set up from a submission's parameters; a refusal is a 4xx
    /// whose text is the reason.
    fn configure(params: &BTreeMap<String, serde_json::Value>) -> Result<Self, String>;

    /// How a value is kept in the tables: as text ([`Job::encode`]) unless
    /// the job says otherwise (`sum` keeps a DynamoDB Number, as the adder
    /// always did).
    fn store(&self, value: Self::Value) -> Stored {
        Stored::Text(self.encode(&value))
    }
    fn load(&self, stored: &Stored) -> Result<Self::Value, JobError> {
        match stored {
            Stored::Text(text) => self.decode(text),
            Stored::Number(n) => Err(JobError::corrupt(Self::NAME, format!("a number, {n}"))),
        }
    }
}

/// A value as the tables keep it: a Number attribute (`packetValue`,
/// `resultSum`: the adder's) or a job's text encoding (`jobValue`,
/// `resultValue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    Number(crate::Number),
    Text(String),
}

impl Stored {
    /// The number, for the adder's values.
    pub fn number(&self) -> Option<&crate::Number> {
        match self {
            Stored::Number(n) => Some(n),
            Stored::Text(_) => None,
        }
    }
}

impl From<crate::Number> for Stored {
    fn from(n: crate::Number) -> Stored {
        Stored::Number(n)
    }
}

impl std::fmt::Display for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stored::Number(n) => write!(f, "{n}"),
            Stored::Text(t) => f.write_str(t),
        }
    }
}

/// A job with its value type hidden: what the pipeline runs. Values travel
/// encoded ([`Job::encode`]), as they are stored.
pub trait AnyJob: Send + Sync {
    fn name(&self) -> &'static str;
    fn keyed(&self) -> bool;
    /// Maps records to a value.
    fn map_records(
        &self,
        records: &mut dyn Iterator<Item = Record<'_>>,
    ) -> Result<Stored, JobError>;
    /// Combines values, in order (a node's children, by index), into one.
    fn combine_stored(&self, values: &[&Stored]) -> Result<Stored, JobError>;
    /// The result as `GET /sums/{arrayId}` shows it (JSON text).
    fn show_stored(&self, value: &Stored) -> Result<String, JobError>;
    /// Maps one byte range of an object ([`read_range_with`], compiled
    /// for this job: the readers' inner loop makes no dynamic call).
    fn read_range(
        &self,
        format: Format,
        key_column: Option<usize>,
        range: Range<u64>,
        size: u64,
        reader: &mut dyn BufRead,
    ) -> Result<RangeValue<Stored>, RangeError>;
}

impl<J: NamedJob> AnyJob for J {
    fn name(&self) -> &'static str {
        J::NAME
    }
    fn keyed(&self) -> bool {
        J::KEYED
    }
    fn map_records(
        &self,
        records: &mut dyn Iterator<Item = Record<'_>>,
    ) -> Result<Stored, JobError> {
        kept(self, map_all(self, records)?)
    }
    fn combine_stored(&self, values: &[&Stored]) -> Result<Stored, JobError> {
        let mut total = self.identity();
        for v in values {
            total = self.combine(total, self.load(v)?)?;
        }
        kept(self, total)
    }
    fn show_stored(&self, value: &Stored) -> Result<String, JobError> {
        Ok(self.show(&self.load(value)?))
    }
    fn read_range(
        &self,
        format: Format,
        key_column: Option<usize>,
        range: Range<u64>,
        size: u64,
        reader: &mut dyn BufRead,
    ) -> Result<RangeValue<Stored>, RangeError> {
        let mapped = read_range_with(self, format, key_column, range, size, reader)?;
        let value = kept(self, mapped.value).map_err(|e| RangeError::BadData {
            offset: mapped.bytes_read,
            reason: BadData::Job(Box::new(e)),
        })?;
        Ok(RangeValue {
            elements: mapped.elements,
            value,
            bytes_read: mapped.bytes_read,
        })
    }
}

/// `value` as the tables will keep it, if it fits: DynamoDB refuses an item
/// over 400 KB, and a refused write would only be retried into the
/// dead-letter queue. A job that bounds its value (`sum-by`'s groups) fails
/// with its own reason first; this catches the rest.
fn kept<J: NamedJob>(job: &J, value: J::Value) -> Result<Stored, JobError> {
    let stored = job.store(value);
    match &stored {
        Stored::Text(text) if text.len() > MAX_VALUE_BYTES => Err(JobError {
            code: "value_too_large",
            reason: format!(
                "a {} value of {} bytes is larger than the {MAX_VALUE_BYTES} bytes a \
                 table item can hold; nothing was truncated",
                J::NAME,
                text.len()
            ),
        }),
        _ => Ok(stored),
    }
}

type Configure = fn(&BTreeMap<String, serde_json::Value>) -> Result<Arc<dyn AnyJob>, String>;

/// The jobs a build runs, by name.
#[derive(Clone)]
pub struct Registry {
    jobs: BTreeMap<&'static str, Configure>,
}

impl Registry {
    /// `sum`, `stats` and `sum-by`.
    pub fn shipped() -> Registry {
        Registry {
            jobs: BTreeMap::new(),
        }
        .with::<Sum>()
        .with::<Stats>()
        .with::<SumBy>()
    }

    /// This registry and `J`: the one line that adds a job to a build.
    pub fn with<J: NamedJob>(mut self) -> Registry {
        let configure: Configure = |params| Ok(Arc::new(J::configure(params)?));
        self.jobs.insert(J::NAME, configure);
        self
    }

    /// The job `spec` names, set up with its parameters.
    pub fn job(&self, spec: &JobSpec) -> Result<Arc<dyn AnyJob>, SpecError> {
        let size = spec.to_json().len();
        if size > MAX_SPEC_BYTES {
            return Err(SpecError::Params {
                job: spec.name.clone(),
                reason: format!(
                    "its parameters take {size} bytes as JSON; at most {MAX_SPEC_BYTES} are accepted"
                ),
            });
        }
        let configure = self
            .jobs
            .get(spec.name.as_str())
            .ok_or_else(|| SpecError::Unknown {
                name: spec.name.clone(),
                known: self.names().join(", "),
            })?;
        configure(&spec.params).map_err(|reason| SpecError::Params {
            job: spec.name.clone(),
            reason,
        })
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.jobs.keys().copied().collect()
    }
}

/// Two registries are equal when they know the same names.
impl PartialEq for Registry {
    fn eq(&self, other: &Registry) -> bool {
        self.names() == other.names()
    }
}

impl Eq for Registry {}

impl Default for Registry {
    fn default() -> Registry {
        Registry::shipped()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.jobs.keys()).finish()
    }
}

/// No parameters: anything else is refused, naming it.
pub fn no_params(params: &BTreeMap<String, serde_json::Value>) -> Result<(), String> {
    match params.keys().next() {
        None => Ok(()),
        Some(name) => Err(format!("takes no parameter {name:?}")),
    }
}
