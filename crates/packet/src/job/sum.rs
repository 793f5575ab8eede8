//! `sum`: the adder. Every element doubled, then added, exactly.

use super::{Job, JobError, Record};
use crate::number::{Number, TextSum};

/// Double, then add: the distributed adder, and the default job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sum;

impl Job for Sum {
    type Value = Number;
    type Acc = TextSum;

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
