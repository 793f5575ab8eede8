//! `sum`: the adder. Every element doubled, then added, exactly.

use super::{no_params, Job, JobError, NamedJob, Record, Stored};
use crate::number::{Number, TextSum};
use std::collections::BTreeMap;

/// Double, then add: the distributed adder, and the default job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sum;

impl Job for Sum {
    type Value = Number;
    type Acc = TextSum;

    #[inline]
    fn add(&self, acc: &mut TextSum, record: Record<'_>) -> Result<(), JobError> {
        acc.add(record.number);
        Ok(())
    }

    // Doubling the total once is the same as doubling every element, and
    // keeps the inner loop a plain exact addition.
    fn finish(&self, acc: TextSum) -> Result<Number, JobError> {
        Ok(acc.total().doubled())
    }

    fn combine(&self, left: Number, right: Number) -> Result<Number, JobError> {
        Ok(left + right)
    }

    fn encode(&self, value: &Number) -> String {
        value.to_string()
    }

    fn decode(&self, text: &str) -> Result<Number, JobError> {
        Number::parse_unchecked(text).map_err(|e| JobError::corrupt("sum", e))
    }

    fn show(&self, value: &Number) -> String {
        value.to_string()
    }

    fn identity(&self) -> Number {
        Number::zero()
    }
}

impl NamedJob for Sum {
    const NAME: &'static str = "sum";
    fn configure(params: &BTreeMap<String, serde_json::Value>) -> Result<Self, String> {
        no_params(params)?;
        Ok(Sum)
    }

    fn store(&self, value: Number) -> Stored {
        Stored::Number(value)
    }

    fn load(&self, stored: &Stored) -> Result<Number, JobError> {
        match stored {
            Stored::Number(n) => Ok(n.clone()),
            Stored::Text(t) => self.decode(t),
        }
    }
}
