//! Tuning knobs shared by the three functions, read from the environment.

use packet::job::{JobSpec, Registry};
use std::time::Duration;

/// The longest SQS keeps a message (`MessageRetentionPeriod` at most).
const MAX_MESSAGE_RETENTION: Duration = Duration::from_secs(14 * 24 * 3600);

/// Largest `CHUNK_SIZE`. A packet of that many of the longest elements is
/// at most 990,512 bytes (within SQS's 1 MiB, `packet::MAX_CHUNK_SIZE`
/// being 23,290), and six such messages, as SQS events, fit the 6,000,000
/// bytes Lambda passes to one invocation: TimesTwo's `BatchSize` is 6.
/// tests/template_limits.rs checks both against template.yaml, whose
/// `ChunkSize` `MaxValue` is this.
pub const MAX_CHUNK_SIZE: u64 = 22_000;

/// Why a `CHUNK_SIZE` above [`MAX_CHUNK_SIZE`] is refused.
const CHUNK_TOO_LARGE: &str = "must be at most 22000: six packets of that many elements are the \
     most one times_two invocation takes (docs/limits.md)";

/// Bytes of an object one core reads and maps per second, at least, in the
/// slowest format: measured on the project's 2-core machine, JSON arrays
/// map at 57 MB/s of `times_two` busy time end to end (`adder bench
/// --object json`), pretty-printed JSON at 136 MB/s of CPU in the reader
/// alone (`cargo run -p packet --release --example range_throughput`);
/// lines and CSV are faster. Rounded down for the bound below.
pub const RANGE_BYTES_PER_CPU_SECOND: u64 = 50_000_000;

/// Lambda gives a function one full vCPU at 1,769 MB of memory, and a share
/// in proportion below (a 512 MB function has 0.29 of one).
pub const MEMORY_MB_PER_VCPU: u64 = 1_769;

/// Largest `RANGE_BYTES`. One `times_two` invocation maps up to `BatchSize`
/// (6) ranges on its share of a vCPU: 6 × 24 MiB at 50 MB/s × 512/1,769 is
/// 10.4 s, under half of the 25 s its 30 s timeout leaves for reading, so a
/// slow S3 or a noisy neighbour has room. tests/template_limits.rs checks
/// this against template.yaml's `MemorySize`, `Timeout` and `BatchSize`, and
/// `RangeBytes`' `MaxValue` is this; a larger setting is refused at start.
pub const MAX_RANGE_BYTES: u64 = 24 * 1024 * 1024;

/// Why a `RANGE_BYTES` above [`MAX_RANGE_BYTES`] is refused.
const RANGE_TOO_LARGE: &str =
    "must be at most 25165824 (24 MiB): a batch of larger ranges may not \
     be read within times_two's timeout at a 512 MB function's CPU share (docs/limits.md)";

/// Settings of the pipeline. Each can be set with the environment variable
/// named in its doc; `template.yaml` sets them for the deployed functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `CHUNK_SIZE`: elements per TimesTwo packet.
    pub chunk_size: u64,
    /// `FAN_IN`: packets merged into one by a reduce step.
    pub fan_in: u64,
    /// `MAX_ELEMENTS`: the largest array `sum_array` accepts.
    pub max_elements: u64,
    /// `SCRATCHPAD_TTL_SECONDS`: how long a scratchpad row lives at most.
    pub scratchpad_ttl: Duration,
    /// `MAX_RECEIVE_COUNT`: receives of a message before SQS moves it to the
    /// dead-letter queue (the queues' `maxReceiveCount`). A message that
    /// fails on its last receive fails its array, with the reason.
    pub max_receive_count: u32,
    /// `ARRAY_DEADLINE_SECONDS`: an array still pending this long after it
    /// was submitted is failed as expired when next read, so no array stays
    /// pending forever.
    pub array_deadline: Duration,
    /// `RANGE_BYTES`: bytes of an object per TimesTwo message (one leaf).
    pub range_bytes: u64,
    /// `INPUT_CSV_COLUMN`: the column of a `.csv` object dropped in the
    /// input bucket, by 0-based index or header name.
    pub input_csv_column: String,
    /// `NOTIFIED_JOB`: the job run over objects dropped in the input
    /// bucket: a name (`stats`), or a job with parameters as JSON
    /// (`{"name": "sum-by", "params": {"by": "region"}}`); `sum` when unset.
    pub notified_job: JobSpec,
    /// The jobs this build runs, by name (not a setting: a build's).
    pub jobs: Registry,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            chunk_size: 20_000,
            fan_in: 100,
            max_elements: 2_000_000,
            // SQS keeps a message at most 14 days: a packet cannot come back later.
            scratchpad_ttl: Duration::from_secs(14 * 24 * 3600),
            max_receive_count: 5,
            array_deadline: Duration::from_secs(3 * 24 * 3600),
            // Big enough that an object of a few GB is a few hundred ranges
            // (requests per element stay tiny), small enough that a range
            // maps in well under a second and a 512 MB function holds a batch of six.
            range_bytes: 8 * 1024 * 1024,
            input_csv_column: "0".to_string(),
            notified_job: JobSpec::default(),
            jobs: Registry::shipped(),
        }
    }
}

/// A setting that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}={value:?} is not valid: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub reason: String,
}

impl Config {
    /// Reads the settings from the environment, defaults for what is unset,
    /// for a build running `jobs`.
    pub fn from_env(jobs: Registry) -> Result<Config, ConfigError> {
        Self::from_lookup(jobs, |name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (testable without touching the
    /// process environment).
    pub fn from_lookup(
        jobs: Registry,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let d = Config::default();
        let number = |name: &'static str, default: u64, min: u64| -> Result<u64, ConfigError> {
            match lookup(name) {
                None => Ok(default),
                Some(value) => match value.trim().parse::<u64>() {
                    Ok(n) if n >= min && n > upper_bound(name) => Err(ConfigError {
                        name,
                        value,
                        reason: if name == "CHUNK_SIZE" {
                            CHUNK_TOO_LARGE.into()
                        } else {
                            RANGE_TOO_LARGE.into()
                        },
                    }),
                    Ok(n) if n >= min => Ok(n),
                    Ok(_) => Err(ConfigError {
                        name,
                        value,
                        reason: if min == 2 {
                            "must be at least 2".into()
                        } else {
                            "must be at least 1".into()
                        },
                    }),
                    Err(_) => Err(ConfigError {
                        name,
                        value,
                        reason: "must be a whole number".into(),
                    }),
                },
            }
        };
        let config = Config {
            chunk_size: number("CHUNK_SIZE", d.chunk_size, 1)?,
            fan_in: number("FAN_IN", d.fan_in, 2)?,
            max_elements: number("MAX_ELEMENTS", d.max_elements, 1)?,
            scratchpad_ttl: Duration::from_secs(number(
                "SCRATCHPAD_TTL_SECONDS",
                d.scratchpad_ttl.as_secs(),
                1,
            )?),
            max_receive_count: u32::try_from(number(
                "MAX_RECEIVE_COUNT",
                u64::from(d.max_receive_count),
                1,
            )?)
            .unwrap_or(u32::MAX),
            array_deadline: Duration::from_secs(number(
                "ARRAY_DEADLINE_SECONDS",
                d.array_deadline.as_secs(),
                1,
            )?),
            range_bytes: number("RANGE_BYTES", d.range_bytes, 1)?,
            input_csv_column: lookup("INPUT_CSV_COLUMN")
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .unwrap_or(d.input_csv_column),
            notified_job: notified_job(&jobs, lookup("NOTIFIED_JOB"))?,
            jobs,
        };
        // An array must fail by its deadline before anything it needs can
        // vanish: its scratchpad rows (TTL) and its messages (SQS keeps them
        // 14 days at most), or a late redrive could find half an array.
        if config.array_deadline >= config.scratchpad_ttl.min(MAX_MESSAGE_RETENTION) {
            return Err(ConfigError {
                name: "ARRAY_DEADLINE_SECONDS",
                value: config.array_deadline.as_secs().to_string(),
                reason: "must be below SCRATCHPAD_TTL_SECONDS and SQS's 14-day message retention"
                    .into(),
            });
        }
        Ok(config)
    }
}

/// `NOTIFIED_JOB`, checked against the build's jobs now: a deployment
/// whose input bucket names a job it cannot run fails to start, instead of
/// failing every object dropped in.
fn notified_job(jobs: &Registry, value: Option<String>) -> Result<JobSpec, ConfigError> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(JobSpec::default());
    };
    let refused = |reason: String| ConfigError {
        name: "NOTIFIED_JOB",
        value: value.clone(),
        reason,
    };
    let text = value.trim();
    if !text.starts_with('{') {
        let spec = JobSpec::named(text);
        jobs.job(&spec).map_err(|e| refused(e.to_string()))?;
        return Ok(spec);
    }
    let spec: JobSpec = serde_json::from_str(text).map_err(|e| {
        refused(format!(
            "must be a job's name, or a job as JSON like \
             {{\"name\": \"sum-by\", \"params\": {{\"by\": \"region\"}}}}: {e}"
        ))
    })?;
    jobs.job(&spec).map_err(|e| refused(e.to_string()))?;
    Ok(spec)
}

/// The largest value a setting may take.
fn upper_bound(name: &str) -> u64 {
    match name {
        "CHUNK_SIZE" => MAX_CHUNK_SIZE,
        "RANGE_BYTES" => MAX_RANGE_BYTES,
        _ => u64::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_overrides_and_refuses_nonsense() {
        let cfg = Config::from_lookup(Registry::shipped(), |n| {
            (n == "FAN_IN").then(|| "7".to_string())
        })
        .expect("valid");
        assert_eq!(cfg.fan_in, 7);
        assert_eq!(cfg.chunk_size, Config::default().chunk_size);
        let err = Config::from_lookup(Registry::shipped(), |n| {
            (n == "FAN_IN").then(|| "1".to_string())
        })
        .expect_err("fan-in 1 is refused");
        assert!(err.to_string().contains("FAN_IN"));
        assert!(
            Config::from_lookup(Registry::shipped(), |n| (n == "CHUNK_SIZE")
                .then(|| "x".to_string()))
            .is_err()
        );
        assert!(
            Config::from_lookup(Registry::shipped(), |n| (n == "CHUNK_SIZE")
                .then(|| "0".to_string()))
            .is_err()
        );
        let too_big = (MAX_CHUNK_SIZE + 1).to_string();
        let err = Config::from_lookup(Registry::shipped(), |n| {
            (n == "CHUNK_SIZE").then(|| too_big.clone())
        })
        .expect_err("a chunk that cannot fit one message is refused");
        assert!(
            err.to_string().contains(&MAX_CHUNK_SIZE.to_string()),
            "{err}"
        );
        let range = |v: u64| {
            Config::from_lookup(Registry::shipped(), |n| {
                (n == "RANGE_BYTES").then(|| v.to_string())
            })
        };
        assert_eq!(
            range(MAX_RANGE_BYTES).expect("the largest").range_bytes,
            MAX_RANGE_BYTES
        );
        assert_eq!(
            range(MAX_RANGE_BYTES + 1)
                .expect_err("a range that may not be read in time")
                .to_string(),
            "environment variable RANGE_BYTES=\"25165825\" is not valid: must be at most \
             25165824 (24 MiB): a batch of larger ranges may not be read within times_two's \
             timeout at a 512 MB function's CPU share (docs/limits.md)"
        );
        let cfg = Config::from_lookup(Registry::shipped(), |n| {
            (n == "MAX_RECEIVE_COUNT").then(|| "3".to_string())
        })
        .expect("valid");
        assert_eq!(cfg.max_receive_count, 3);
        let late = Config::from_lookup(Registry::shipped(), |n| match n {
            "ARRAY_DEADLINE_SECONDS" => Some("7200".into()),
            "SCRATCHPAD_TTL_SECONDS" => Some("3600".into()),
            _ => None,
        })
        .expect_err("a deadline after the rows expire is refused");
        assert!(
            late.to_string().contains("ARRAY_DEADLINE_SECONDS"),
            "{late}"
        );
    }

    #[test]
    fn the_notified_job_is_read_as_json_and_checked_against_the_build() {
        let with = |value: &str| {
            let value = value.to_string();
            Config::from_lookup(Registry::shipped(), move |n| {
                (n == "NOTIFIED_JOB").then(|| value.clone())
            })
        };
        assert_eq!(with("").expect("unset").notified_job, JobSpec::default());
        let stats = with(r#"{"name": "stats"}"#).expect("stats");
        assert_eq!(stats.notified_job, JobSpec::named("stats"));
        assert_eq!(
            with(" stats ").expect("a name").notified_job,
            JobSpec::named("stats")
        );
        let by = with(r#"{"name": "sum-by", "params": {"by": "region"}}"#).expect("sum-by");
        assert_eq!(
            by.notified_job.key_column(),
            Some(packet::job::ColumnName::Name("region"))
        );
        assert_eq!(
            with("sum-by").expect_err("no key").to_string(),
            r#"environment variable NOTIFIED_JOB="sum-by" is not valid: job sum-by: needs "by": the column to group by, a header name or a 0-based index"#
        );
        assert_eq!(
            with(r#"{"name": "median"}"#)
                .expect_err("unknown")
                .to_string(),
            r#"environment variable NOTIFIED_JOB="{\"name\": \"median\"}" is not valid: no job is called "median"; this deployment runs stats, sum, sum-by"#
        );
        assert_eq!(
            with(r#"{"name": "stats""#)
                .expect_err("not JSON")
                .to_string(),
            r#"environment variable NOTIFIED_JOB="{\"name\": \"stats\"" is not valid: must be a job's name, or a job as JSON like {"name": "sum-by", "params": {"by": "region"}}: EOF while parsing an object at line 1 column 16"#
        );
    }
}
