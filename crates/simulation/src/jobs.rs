//! The job a run runs, and how the checker knows what it must give.
//!
//! A run's job is drawn from its own RNG stream (the seed xor a constant),
//! like the object plans, so every other draw of a seed is what it was
//! before jobs existed: a seed whose job is `sum` runs exactly as it did.

use crate::objects::{Layout, ObjectPlan};
use packet::job::{AnyJob, ColumnName, JobSpec, Record, Registry, Stored, KEY_PARAM, MAX_GROUPS};
use packet::Number;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A shipped job the simulation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JobKind {
    Sum,
    Stats,
    SumBy,
}

impl JobKind {
    pub const ALL: [JobKind; 3] = [JobKind::Sum, JobKind::Stats, JobKind::SumBy];

    /// The name a submission gives.
    pub fn name(self) -> &'static str {
        match self {
            JobKind::Sum => "sum",
            JobKind::Stats => "stats",
            JobKind::SumBy => "sum-by",
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for JobKind {
    type Err = String;
    fn from_str(name: &str) -> Result<JobKind, String> {
        let name = name.trim();
        JobKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| format!("no job {name:?} in the simulation; it runs sum, stats, sum-by"))
    }
}

/// What one plan runs: the spec it is submitted with and, for a keyed
/// job, the column its keys are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanJob {
    pub spec: JobSpec,
    pub key_column: Option<usize>,
}

impl PlanJob {
    pub fn sum() -> PlanJob {
        PlanJob {
            spec: JobSpec::default(),
            key_column: None,
        }
    }

    pub fn stats() -> PlanJob {
        PlanJob {
            spec: JobSpec::named(JobKind::Stats.name()),
            key_column: None,
        }
    }

    /// `sum-by` grouping by CSV column `column`, which a client names by
    /// `name` when the layout has it (a header) and the client names
    /// columns so, and by index otherwise.
    pub fn sum_by(column: usize, name: Option<String>) -> PlanJob {
        let mut spec = JobSpec::named(JobKind::SumBy.name());
        // `into`: the parameters are JSON values (`serde_json`'s, which
        // this crate does not name).
        let by = match name {
            Some(name) => name.into(),
            None => (column as u64).into(),
        };
        spec.params.insert(KEY_PARAM.to_string(), by);
        PlanJob {
            spec,
            key_column: Some(column),
        }
    }
}

impl fmt::Display for PlanJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spec.name)?;
        match (self.spec.key_column(), self.key_column) {
            (Some(ColumnName::Name(name)), Some(c)) => write!(f, " by {name:?} (column {c})"),
            (_, Some(c)) => write!(f, " by column {c}"),
            _ => Ok(()),
        }
    }
}

/// The run's job, and per object plan the CSV column `sum-by` would group
/// by (`None`: not CSV), drawn whatever the job so that forcing another
/// job changes nothing else.
pub fn draw(seed: u64, objects: &[ObjectPlan]) -> (JobKind, Vec<Option<usize>>) {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x10b5_0f5e_ed00_0003);
    let kind = match rng.gen_range(0..4) {
        0 | 1 => JobKind::Sum,
        2 => JobKind::Stats,
        _ => JobKind::SumBy,
    };
    let columns = objects
        .iter()
        .map(|o| key_column(&mut rng, o.layout))
        .collect();
    (kind, columns)
}

/// Half the time the numbers' own column (keys are then the number texts as
/// written: quoted, or with the spaces around them that a number loses),
/// otherwise another (row names, quoted commas and quotes, empty fields).
fn key_column(rng: &mut SmallRng, layout: Layout) -> Option<usize> {
    let Layout::Csv {
        column, columns, ..
    } = layout
    else {
        return None;
    };
    if columns == 1 || rng.gen_bool(0.5) {
        return Some(column);
    }
    let other = rng.gen_range(0..columns - 1);
    Some(if other >= column { other + 1 } else { other })
}

/// Whether every version of `plan` has few enough keys in `column` for
/// `sum-by`: more would fail the array `too_many_groups`, a refusal the
/// checker does not model, so such a plan runs `sum`.
pub fn groups_fit(plan: &ObjectPlan, column: usize) -> bool {
    (0..2).filter_map(|v| plan.version(v)).all(|content| {
        let keys: BTreeSet<&str> = (0..content.elements.len())
            .filter_map(|i| content.key(i, column))
            .collect();
        keys.len() <= MAX_GROUPS
    })
}

/// How the checker computes what a job must give, straight from the
/// elements: `sum` with exact arithmetic of its own (doubling and adding
/// `Number`s, as before jobs existed, independently of `packet::job`);
/// any other job with its map and combine, whose laws make the value of
/// every packet, range and node follow from its elements alone.
#[derive(Clone)]
pub enum Oracle {
    Sum,
    Job(Arc<dyn AnyJob>),
}

impl Oracle {
    pub fn of(spec: &JobSpec) -> Result<Oracle, String> {
        if spec.is_default() {
            return Ok(Oracle::Sum);
        }
        let job = Registry::shipped()
            .job(spec)
            .map_err(|e| format!("the checker cannot run {}: {e}", spec.name))?;
        Ok(Oracle::Job(job))
    }

    /// The value of `records`, mapped in one go.
    pub fn map<'a>(&self, records: impl Iterator<Item = Record<'a>>) -> Result<Stored, String> {
        match self {
            Oracle::Sum => {
                let doubled = records.map(|r| {
                    Number::parse(r.number)
                        .map(|x| x.doubled())
                        .map_err(|e| format!("element {:?}: {e}", r.number))
                });
                Ok(Stored::Number(doubled.sum::<Result<Number, String>>()?))
            }
            Oracle::Job(job) => {
                let mut records = records;
                job.map_records(&mut records)
                    .map_err(|e| format!("{} over the elements: {e}", job.name()))
            }
        }
    }

    /// `values` combined in order, as a node combines its children.
    pub fn combine(&self, values: &[Stored]) -> Result<Stored, String> {
        match self {
            Oracle::Sum => values
                .iter()
                .map(|v| v.number().cloned().ok_or_else(|| format!("{v} is no sum")))
                .sum::<Result<Number, String>>()
                .map(Stored::Number),
            Oracle::Job(job) => {
                let refs: Vec<&Stored> = values.iter().collect();
                job.combine_stored(&refs)
                    .map_err(|e| format!("{} combining: {e}", job.name()))
            }
        }
    }
}

/// `text` on one line (`sum-by` puts a group on each), cut after 120
/// characters: a value can take kilobytes, too much for a violation.
pub fn brief(text: &str) -> String {
    let line = text.replace('\n', "\\n");
    match line.char_indices().nth(120) {
        Some((at, _)) => format!("{}... ({} bytes)", &line[..at], text.len()),
        None => line,
    }
}
