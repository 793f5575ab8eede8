//! `sum-by`: sum and count of a number column, grouped by a key column.

use super::{no_params, Job, JobError, NamedJob, Record, KEY_PARAM};
use crate::number::{Number, TextSum};
use std::collections::{BTreeMap, HashMap};

/// Most groups a value holds. Each encoded group takes at most
/// `MAX_KEY_BYTES` + 70 bytes (length, count, sum, separators: no
/// escaping), so 1,000 groups stay under 330 KB, inside DynamoDB's 400 KB
/// item with the row's other attributes. Past it the array fails
/// `too_many_groups`: a result is never truncated.
pub const MAX_GROUPS: usize = 1_000;
/// Longest key, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 256;

/// Sum and count of the numbers of each key. Keys are compared byte for
/// byte (no trimming, no case folding), the empty key is a key, and a
/// quoted CSV key is unquoted first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SumBy;

/// One key's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub count: u64,
    pub sum: Number,
}

impl Job for SumBy {
    /// Ordered by key bytes, so equal values encode equally.
    type Value = BTreeMap<String, Group>;
    type Acc = HashMap<String, (u64, TextSum)>;

    fn add(&self, acc: &mut Self::Acc, record: Record<'_>) -> Result<(), JobError> {
        let key = record.key.unwrap_or_default();
        if let Some((count, sum)) = acc.get_mut(key) {
            *count += 1;
            sum.add(record.number);
            return Ok(());
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(JobError {
                code: "key_too_long",
                reason: format!(
                    "a key of {} bytes is longer than the {MAX_KEY_BYTES} bytes a group key may have",
                    key.len()
                ),
            });
        }
        check_groups(acc.len() + 1)?;
        let mut sum = TextSum::default();
        sum.add(record.number);
        acc.insert(key.to_string(), (1, sum));
        Ok(())
    }

    fn finish(&self, acc: Self::Acc) -> Result<Self::Value, JobError> {
        Ok(acc
            .into_iter()
            .map(|(key, (count, sum))| {
                let sum = sum.total();
                (key, Group { count, sum })
            })
            .collect())
    }

    fn combine(&self, mut left: Self::Value, right: Self::Value) -> Result<Self::Value, JobError> {
        for (key, group) in right {
            match left.get_mut(&key) {
                Some(g) => {
                    g.count += group.count;
                    g.sum = std::mem::take(&mut g.sum) + group.sum;
                }
                None => {
                    left.insert(key, group);
                }
            }
        }
        check_groups(left.len())?;
        Ok(left)
    }

    /// One line per group, `<key bytes>:<key> <count> <sum>`, in key order:
    /// the length prefix lets a key hold any character, unescaped.
    fn encode(&self, value: &Self::Value) -> String {
        let mut out = String::new();
        for (key, g) in value {
            out.push_str(&format!("{}:{key} {} {}\n", key.len(), g.count, g.sum));
        }
        out
    }

    fn decode(&self, text: &str) -> Result<Self::Value, JobError> {
        let corrupt = |what: &str| JobError::corrupt("sum-by", what);
        let mut groups = BTreeMap::new();
        let mut rest = text;
        while !rest.is_empty() {
            let (len, tail) = rest
                .split_once(':')
                .ok_or_else(|| corrupt("no key length"))?;
            let len: usize = len.parse().map_err(|_| corrupt("bad key length"))?;
            let key = tail.get(..len).ok_or_else(|| corrupt("key cut short"))?;
            let (line, next) = tail[len..]
                .split_once('\n')
                .ok_or_else(|| corrupt("no line end"))?;
            let mut fields = line.strip_prefix(' ').unwrap_or_default().split(' ');
            let (Some(count), Some(sum), None) = (fields.next(), fields.next(), fields.next())
            else {
                return Err(corrupt("a group is not `count sum`"));
            };
            let group = Group {
                count: count.parse().map_err(|_| corrupt("bad count"))?,
                sum: Number::parse_unchecked(sum).map_err(|_| corrupt("bad sum"))?,
            };
            groups.insert(key.to_string(), group);
            rest = next;
        }
        Ok(groups)
    }

    fn show(&self, value: &Self::Value) -> String {
        let groups: Vec<String> = value
            .iter()
            .map(|(key, g)| {
                let key = serde_json::to_string(key).unwrap_or_default();
                format!(r#"{{"key":{key},"count":{},"sum":{}}}"#, g.count, g.sum)
            })
            .collect();
        format!(r#"{{"groups":[{}]}}"#, groups.join(","))
    }

    fn identity(&self) -> Self::Value {
        BTreeMap::new()
    }
}

fn check_groups(seen: usize) -> Result<(), JobError> {
    if seen <= MAX_GROUPS {
        return Ok(());
    }
    Err(JobError {
        code: "too_many_groups",
        reason: format!(
            "{seen} groups seen, more than the {MAX_GROUPS} a result can hold \
             (DynamoDB's 400 KB item); nothing was truncated"
        ),
    })
}

impl NamedJob for SumBy {
    const NAME: &'static str = "sum-by";
    const KEYED: bool = true;
    /// `by`: the key column, a header name or a 0-based index (resolved
    /// by the pipeline at submission, not here).
    fn configure(params: &BTreeMap<String, serde_json::Value>) -> Result<Self, String> {
        let mut rest = params.clone();
        match rest.remove(KEY_PARAM) {
            None => {
                return Err(format!(
                    "needs {KEY_PARAM:?}: the column to group by, a header name or a 0-based index"
                ))
            }
            Some(serde_json::Value::String(_)) => {}
            Some(serde_json::Value::Number(n)) if n.is_u64() => {}
            Some(other) => {
                return Err(format!(
                    "{KEY_PARAM:?} must be a column name or a 0-based index, not {other}"
                ))
            }
        }
        no_params(&rest)?;
        Ok(SumBy)
    }
}
