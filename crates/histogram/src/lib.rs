//! `histogram`: how many numbers fall in each bucket, the buckets cut at
//! the exact decimals a submission gives (`"bounds": [0, 10, 100]` makes
//! four buckets: below 0, from 0 below 10, from 10 below 100, from 100).
//!
//! The example job of docs/jobs.md: one type implementing `Job` and
//! `NamedJob` over the model crate's public API, nothing else.

use packet::job::{Job, JobError, NamedJob, Record};
use packet::Number;
use std::collections::BTreeMap;

/// Most bounds a submission may give: the counts of 1,001 buckets encode
/// in at most 21 KB, far inside a DynamoDB item.
pub const MAX_BOUNDS: usize = 1_000;

/// A histogram over fixed bounds, ascending and distinct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    bounds: Vec<Number>,
}

impl Histogram {
    /// The bucket of `n`: how many bounds are at or below it.
    fn bucket(&self, n: &Number) -> usize {
        self.bounds.partition_point(|b| b <= n)
    }
}

impl Job for Histogram {
    /// One count per bucket, `bounds.len() + 1` of them.
    type Value = Vec<u64>;
    type Acc = Vec<u64>;

    fn add(&self, acc: &mut Vec<u64>, record: Record<'_>) -> Result<(), JobError> {
        let n = Number::parse(record.number).map_err(|e| JobError {
            code: "bad_data",
            reason: e.to_string(),
        })?;
        if acc.is_empty() {
            *acc = self.identity();
        }
        acc[self.bucket(&n)] += 1;
        Ok(())
    }

    // An accumulator that saw nothing is empty: `Acc::default()` cannot
    // know how many buckets there are.
    fn finish(&self, acc: Vec<u64>) -> Result<Vec<u64>, JobError> {
        Ok(if acc.is_empty() { self.identity() } else { acc })
    }

    fn combine(&self, mut left: Vec<u64>, right: Vec<u64>) -> Result<Vec<u64>, JobError> {
        for (l, r) in left.iter_mut().zip(right) {
            *l += r;
        }
        Ok(left)
    }

    fn encode(&self, value: &Vec<u64>) -> String {
        let counts: Vec<String> = value.iter().map(u64::to_string).collect();
        counts.join(" ")
    }

    fn decode(&self, text: &str) -> Result<Vec<u64>, JobError> {
        let counts: Result<Vec<u64>, _> = text.split(' ').map(str::parse).collect();
        match counts {
            Ok(c) if c.len() == self.bounds.len() + 1 => Ok(c),
            _ => Err(JobError::corrupt("histogram", format!("`{text}`"))),
        }
    }

    fn show(&self, value: &Vec<u64>) -> String {
        let edge = |i: Option<&Number>| i.map_or("null".to_string(), Number::to_string);
        let buckets: Vec<String> = value
            .iter()
            .enumerate()
            .map(|(i, count)| {
                let from = edge(i.checked_sub(1).and_then(|j| self.bounds.get(j)));
                let below = edge(self.bounds.get(i));
                format!(r#"{{"from":{from},"below":{below},"count":{count}}}"#)
            })
            .collect();
        format!(r#"{{"buckets":[{}]}}"#, buckets.join(","))
    }

    fn identity(&self) -> Vec<u64> {
        vec![0; self.bounds.len() + 1]
    }
}

impl NamedJob for Histogram {
    const NAME: &'static str = "histogram";

    /// `bounds`: one to [`MAX_BOUNDS`] numbers, ascending, distinct, each a
    /// number DynamoDB holds; as JSON numbers, or as strings to keep more
    /// digits than a double does.
    fn configure(params: &BTreeMap<String, serde_json::Value>) -> Result<Self, String> {
        if let Some(other) = params.keys().find(|k| *k != "bounds") {
            return Err(format!("takes only \"bounds\", but was given {other:?}"));
        }
        let Some(serde_json::Value::Array(given)) = params.get("bounds") else {
            return Err("needs \"bounds\", an array of numbers".into());
        };
        if given.is_empty() || given.len() > MAX_BOUNDS {
            return Err(format!(
                "needs 1 to {MAX_BOUNDS} bounds, not {}",
                given.len()
            ));
        }
        let mut bounds: Vec<Number> = Vec::with_capacity(given.len());
        for bound in given {
            // A JSON number has passed through an f64 by now; a string
            // keeps every digit.
            let text = match bound {
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::String(s) => s.clone(),
                other => return Err(format!("a bound must be a number, not {other}")),
            };
            let n = Number::parse(&text).map_err(|e| format!("bound {text}: {e}"))?;
            if bounds.last().is_some_and(|last| *last >= n) {
                return Err(format!("bounds must ascend, and {text} does not"));
            }
            bounds.push(n);
        }
        Ok(Histogram { bounds })
    }
}
