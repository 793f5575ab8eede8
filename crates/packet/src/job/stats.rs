//! `stats`: count, sum, least, greatest and mean of the numbers.

use super::{no_params, Job, JobError, NamedJob, Record};
use crate::number::{Number, TextExtremes, TextSum};
use std::collections::BTreeMap;

/// Count, sum, min, max and mean of the numbers, each exact; the mean is
/// exact where the quotient terminates, otherwise rounded to the nearest
/// 38 significant digits (and shown with `"meanExact": false`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats;

/// A `stats` value: the mean is not one (means do not combine), so it is
/// worked out from `sum` and `count` when shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsValue {
    pub count: u64,
    pub sum: Number,
    /// `None` until a number is seen: no number is neutral for `min`.
    pub min: Option<Number>,
    pub max: Option<Number>,
}

/// The map's running state: no allocation per number.
#[derive(Debug, Clone, Default)]
pub struct StatsAcc {
    count: u64,
    sum: TextSum,
    extremes: TextExtremes,
}

impl Job for Stats {
    type Value = StatsValue;
    type Acc = StatsAcc;

    fn add(&self, acc: &mut StatsAcc, record: Record<'_>) -> Result<(), JobError> {
        acc.count += 1;
        acc.sum.add(record.number);
        acc.extremes.add(record.number);
        Ok(())
    }

    fn finish(&self, acc: StatsAcc) -> Result<StatsValue, JobError> {
        Ok(StatsValue {
            count: acc.count,
            min: acc.extremes.least(),
            max: acc.extremes.greatest(),
            sum: acc.sum.total(),
        })
    }

    fn combine(&self, left: StatsValue, right: StatsValue) -> Result<StatsValue, JobError> {
        Ok(StatsValue {
            count: left.count + right.count,
            sum: left.sum + right.sum,
            min: extreme(left.min, right.min, std::cmp::min),
            max: extreme(left.max, right.max, std::cmp::max),
        })
    }

    /// `<count> <sum> <min> <max>`, `-` for an absent min or max.
    fn encode(&self, v: &StatsValue) -> String {
        let or_dash = |n: &Option<Number>| n.as_ref().map_or("-".into(), Number::to_string);
        format!(
            "{} {} {} {}",
            v.count,
            v.sum,
            or_dash(&v.min),
            or_dash(&v.max)
        )
    }

    fn decode(&self, text: &str) -> Result<StatsValue, JobError> {
        let corrupt = || JobError::corrupt("stats", format!("`{text}`"));
        let number = |t: &str| Number::parse_unchecked(t).map_err(|_| corrupt());
        let optional = |t: &str| (t != "-").then(|| number(t)).transpose();
        let parts: Vec<&str> = text.split(' ').collect();
        let [count, sum, min, max] = parts[..] else {
            return Err(corrupt());
        };
        Ok(StatsValue {
            count: count.parse().map_err(|_| corrupt())?,
            sum: number(sum)?,
            min: optional(min)?,
            max: optional(max)?,
        })
    }

    fn show(&self, v: &StatsValue) -> String {
        let or_null = |n: &Option<Number>| n.as_ref().map_or("null".into(), Number::to_string);
        let (mean, exact) = match v.sum.divided_by(v.count) {
            Some((mean, exact)) => (mean.to_string(), exact),
            None => ("null".into(), true),
        };
        format!(
            r#"{{"count":{},"sum":{},"min":{},"max":{},"mean":{mean},"meanExact":{exact}}}"#,
            v.count,
            v.sum,
            or_null(&v.min),
            or_null(&v.max),
        )
    }

    fn identity(&self) -> StatsValue {
        StatsValue {
            count: 0,
            sum: Number::zero(),
            min: None,
            max: None,
        }
    }
}

fn extreme(
    a: Option<Number>,
    b: Option<Number>,
    pick: fn(Number, Number) -> Number,
) -> Option<Number> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

impl NamedJob for Stats {
    const NAME: &'static str = "stats";
    fn configure(params: &BTreeMap<String, serde_json::Value>) -> Result<Self, String> {
        no_params(params)?;
        Ok(Stats)
    }
}
