//! A job's result computed directly, in this process, from the generated
//! numbers: what the bench checks the pipeline's answer against when the
//! job is not `sum` (whose expected total is kept as an integer).

use crate::error::Error;
use packet::job::{AnyJob, JobSpec, Record, Stored};
use std::fmt::Write as _;
use std::sync::Arc;

/// Records waiting to be mapped, in one buffer: mapped a batch at a time
/// and combined in order, as packets are (the laws make that exact).
pub struct Direct {
    job: Arc<dyn AnyJob>,
    total: Stored,
    text: String,
    /// Per record: where its number ends and where its key ends in `text`.
    ends: Vec<(usize, usize)>,
}

const BATCH: usize = 1 << 16;

impl Direct {
    pub fn new(spec: &JobSpec) -> Result<Direct, Error> {
        let job = jobs::registry()
            .job(spec)
            .map_err(|e| Error::Job(e.to_string()))?;
        let total = mapped(&job, &mut std::iter::empty())?;
        Ok(Direct {
            job,
            total,
            text: String::with_capacity(BATCH * 16),
            ends: Vec::with_capacity(BATCH),
        })
    }

    /// One record: `number`, and `key` for a keyed job.
    pub fn push(&mut self, number: u64, key: &str) -> Result<(), Error> {
        let _ = write!(self.text, "{number}");
        let number_end = self.text.len();
        self.text.push_str(key);
        self.ends.push((number_end, self.text.len()));
        if self.ends.len() == BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        let keyed = self.job.keyed();
        let mut start = 0;
        let text = &self.text;
        let mut records = self.ends.iter().map(|&(number_end, key_end)| {
            let record = Record {
                number: &text[start..number_end],
                key: keyed.then(|| &text[number_end..key_end]),
            };
            start = key_end;
            record
        });
        let batch = mapped(&self.job, &mut records)?;
        self.total = self
            .job
            .combine_stored(&[&self.total, &batch])
            .map_err(|e| Error::WrongSum(format!("the direct computation failed: {}", e.reason)))?;
        self.text.clear();
        self.ends.clear();
        Ok(())
    }

    /// The result as the API shows it.
    pub fn finish(mut self) -> Result<String, Error> {
        self.flush()?;
        self.job
            .show_stored(&self.total)
            .map_err(|e| Error::WrongSum(format!("the direct computation failed: {}", e.reason)))
    }
}

fn mapped(
    job: &Arc<dyn AnyJob>,
    records: &mut dyn Iterator<Item = Record<'_>>,
) -> Result<Stored, Error> {
    job.map_records(records)
        .map_err(|e| Error::WrongSum(format!("the direct computation failed: {}", e.reason)))
}
