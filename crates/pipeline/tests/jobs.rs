//! Jobs other than `sum` through the three steps on the in-process ports:
//! the result equals the job over the elements directly, for packets and
//! merge trees of any shape, with every map message delivered twice; a job
//! added with one line (`Registry::with`) runs like a shipped one.

use histogram::Histogram;
use packet::job::{AnyJob, JobSpec, Record, Registry};
use pipeline::memory::{MemoryBackend, Stage};
use pipeline::{reduce, submit_job, times_two, Config, Queue, Status, SubmitError, SystemClock};
use std::sync::Arc;

/// Runs the map and the reduce until the queues are empty; every message
/// must succeed. With `duplicate`, each map message is sent once more after
/// it was mapped, as SQS may deliver it twice.
async fn drain(backend: &MemoryBackend, config: &Config, duplicate: bool) {
    let ports = &backend.ports();
    let mut copied = std::collections::HashSet::new();
    backend
        .drain(10_000, |stage, batch| {
            let copies: Vec<String> = batch
                .iter()
                .filter(|m| duplicate && stage == Stage::Map && copied.insert(m.body.clone()))
                .map(|m| m.body.clone())
                .collect();
            async move {
                let bodies: Vec<&str> = batch.iter().map(|m| m.body.as_str()).collect();
                match stage {
                    Stage::Map => {
                        for r in times_two(ports, config, &bodies, None).await {
                            r.expect("map");
                        }
                    }
                    Stage::Reduce => {
                        for body in bodies {
                            reduce(ports, config, body).await.expect("reduce");
                        }
                    }
                }
                if !copies.is_empty() {
                    backend.times_two_queue.send(copies).await.expect("dup");
                }
                batch.into_iter().map(|m| m.receipt).collect()
            }
        })
        .await
        .expect("the pipeline drains");
}

/// Submits `body` for `spec`, runs the pipeline until its queues are empty
/// (every map message sent twice), and returns the shown result.
async fn run(config: &Config, spec: &JobSpec, body: &str) -> String {
    let backend = &MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = &backend.ports();
    let accepted = submit_job(ports, config, body, spec)
        .await
        .expect("accepted");
    drain(backend, config, true).await;
    let record = ports
        .sums
        .get(&accepted.array_id)
        .await
        .expect("get")
        .expect("record");
    assert_eq!(record.status, Status::Done, "{record:?}");
    assert_eq!(record.job, *spec);
    assert_eq!(record.sum, None, "only sum writes resultSum");
    let job = config.jobs.job(spec).expect("job");
    let result = packet::job::Stored::Text(record.result.expect("a result"));
    job.show_stored(&result).expect("shows")
}

/// The job over `numbers` in one go.
fn direct(job: &dyn AnyJob, numbers: &[String]) -> String {
    let mut records = numbers.iter().map(|n| Record {
        number: n,
        key: None,
    });
    let value = job.map_records(&mut records).expect("maps");
    job.show_stored(&value).expect("shows")
}

fn numbers(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i % 4 {
            0 => format!("{}", i * 7 % 1000),
            1 => format!("-{}.{}", i % 97, i % 10),
            2 => format!("{}e-3", i % 5000),
            _ => "12345678901234567890123456789.123456789".to_string(),
        })
        .collect()
}

fn config(chunk_size: u64, fan_in: u64) -> Config {
    Config {
        chunk_size,
        fan_in,
        jobs: Registry::shipped().with::<Histogram>(),
        ..Config::default()
    }
}

#[tokio::test]
async fn stats_over_any_tree_equals_stats_over_the_elements() {
    let stats = JobSpec::named("stats");
    for (n, chunk, fan_in) in [
        (1, 5, 2),
        (7, 5, 2),
        (100, 3, 2),
        (250, 7, 3),
        (1000, 10, 100),
    ] {
        let config = config(chunk, fan_in);
        let numbers = numbers(n);
        let body = format!("[{}]", numbers.join(","));
        let job = config.jobs.job(&stats).expect("stats");
        assert_eq!(
            run(&config, &stats, &body).await,
            direct(job.as_ref(), &numbers),
            "{n} elements, chunk {chunk}, fan-in {fan_in}"
        );
    }
}

#[tokio::test]
async fn a_job_added_with_one_line_runs_like_a_shipped_one() {
    let mut spec = JobSpec::named("histogram");
    spec.params
        .insert("bounds".into(), serde_json::json!([-10, 0, "0.5", 100]));
    let config = config(4, 2);
    let numbers = numbers(61);
    let body = format!("[{}]", numbers.join(","));
    let job = config.jobs.job(&spec).expect("histogram");
    assert_eq!(
        run(&config, &spec, &body).await,
        direct(job.as_ref(), &numbers)
    );
}

#[tokio::test]
async fn an_empty_array_is_done_at_once_with_the_jobs_empty_value() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = backend.ports();
    let config = config(5, 2);
    let accepted = submit_job(&ports, &config, "[]", &JobSpec::named("stats"))
        .await
        .expect("accepted");
    let record = ports
        .sums
        .get(&accepted.array_id)
        .await
        .expect("get")
        .expect("there");
    assert_eq!(record.status, Status::Done);
    assert_eq!(record.result.as_deref(), Some("0 0 - -"));
}

#[tokio::test]
async fn a_job_that_cannot_run_is_refused_before_anything_is_recorded() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = backend.ports();
    let config = Config::default();
    let refused = |e: SubmitError| e.to_string();
    let unknown = submit_job(&ports, &config, "[1]", &JobSpec::named("histogram"))
        .await
        .map(|s| s.array_id)
        .map_err(refused);
    assert_eq!(
        unknown,
        Err(r#"no job is called "histogram"; this deployment runs stats, sum, sum-by"#.into())
    );
    let mut sum_by = JobSpec::named("sum-by");
    sum_by.params.insert("by".into(), serde_json::json!(0));
    let keyed = submit_job(&ports, &config, "[1]", &sum_by)
        .await
        .map(|s| s.array_id)
        .map_err(refused);
    assert_eq!(
        keyed,
        Err(
            "job sum-by: groups by a CSV column, so it takes CSV objects only, not a JSON array"
                .into()
        )
    );
    assert!(backend.times_two_queue.is_empty());
}

/// A job that keeps the distinct numbers it saw and refuses a fourth, the
/// way `sum-by` refuses its 1,001st group: to see the refusal end an array
/// whether it happens in a packet (map) or in a merge (reduce).
#[derive(Debug, Clone, Copy)]
struct FewDistinct;

impl packet::job::Job for FewDistinct {
    type Value = std::collections::BTreeSet<String>;
    type Acc = std::collections::BTreeSet<String>;
    fn add(&self, acc: &mut Self::Acc, r: Record<'_>) -> Result<(), packet::job::JobError> {
        acc.insert(r.number.to_string());
        limit(acc.len())
    }
    fn finish(&self, acc: Self::Acc) -> Result<Self::Value, packet::job::JobError> {
        Ok(acc)
    }
    fn combine(
        &self,
        mut l: Self::Value,
        r: Self::Value,
    ) -> Result<Self::Value, packet::job::JobError> {
        l.extend(r);
        limit(l.len()).map(|()| l)
    }
    fn encode(&self, v: &Self::Value) -> String {
        v.iter().cloned().collect::<Vec<_>>().join(" ")
    }
    fn decode(&self, t: &str) -> Result<Self::Value, packet::job::JobError> {
        Ok(t.split(' ')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect())
    }
    fn show(&self, v: &Self::Value) -> String {
        format!("{}", v.len())
    }
    fn identity(&self) -> Self::Value {
        Default::default()
    }
}

fn limit(seen: usize) -> Result<(), packet::job::JobError> {
    match seen {
        0..=3 => Ok(()),
        _ => Err(packet::job::JobError {
            code: "too_many_groups",
            reason: format!("{seen} distinct numbers seen, more than 3"),
        }),
    }
}

impl packet::job::NamedJob for FewDistinct {
    const NAME: &'static str = "few-distinct";
    fn configure(
        _: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Result<Self, String> {
        Ok(FewDistinct)
    }
}

#[tokio::test]
async fn a_job_that_refuses_ends_its_array_with_the_jobs_code_and_reason() {
    let spec = JobSpec::named("few-distinct");
    let config = Config {
        chunk_size: 2,
        fan_in: 2,
        jobs: Registry::shipped().with::<FewDistinct>(),
        ..Config::default()
    };
    // With packets of 2, no packet sees a fourth number: the merge does.
    // With packets of 5, the only packet does, in times_two.
    for (body, chunk, reason) in [
        ("[1,2,3,4]", 2, "4 distinct numbers seen, more than 3"),
        ("[1,2,3,4,5]", 5, "4 distinct numbers seen, more than 3"),
    ] {
        let config = Config {
            chunk_size: chunk,
            ..config.clone()
        };
        let backend = &MemoryBackend::new(Arc::new(SystemClock), 5);
        let ports = &backend.ports();
        let accepted = submit_job(ports, &config, body, &spec)
            .await
            .expect("accepted");
        drain(backend, &config, false).await;
        let record = ports
            .sums
            .get(&accepted.array_id)
            .await
            .expect("get")
            .expect("there");
        assert_eq!(record.status, Status::Failed, "{body}");
        let failure = record.failure.expect("a failure");
        assert_eq!(failure.kind.as_str(), "too_many_groups", "{body}");
        assert_eq!(failure.reason, reason, "{body}");
        assert_eq!((record.sum, record.result), (None, None));
    }
}

/// A record naming a job this build does not run (written by another
/// build: a rollback) fails its messages with the reason, in map and in
/// reduce; they are retried, and a redeploy with the job finishes them.
#[tokio::test]
async fn a_job_this_build_does_not_run_fails_its_messages_with_the_reason() {
    let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
    let ports = &backend.ports();
    let mut spec = JobSpec::named("histogram");
    spec.params.insert("bounds".into(), serde_json::json!([0]));
    let with = config(2, 2);
    let without = Config {
        jobs: Registry::shipped(),
        ..with.clone()
    };
    let accepted = submit_job(ports, &with, "[1,2,3]", &spec)
        .await
        .expect("accepted");
    let expected = format!(
        "message for array {} does not match the array's record: no job is called \
         \"histogram\"; this deployment runs stats, sum, sum-by",
        accepted.array_id
    );
    let taken = backend
        .times_two_queue
        .receive(
            10,
            std::time::Duration::ZERO,
            std::time::Duration::from_secs(60),
        )
        .await
        .expect("receive");
    let bodies: Vec<&str> = taken.iter().map(|m| m.body.as_str()).collect();
    for r in times_two(ports, &without, &bodies, None).await {
        assert_eq!(
            r.map(drop).map_err(|e| e.to_string()),
            Err(expected.clone())
        );
    }
    for r in times_two(ports, &with, &bodies, None).await {
        r.expect("mapped by a build that runs it");
    }
    let triggers = backend
        .reduce_queue
        .receive(
            10,
            std::time::Duration::ZERO,
            std::time::Duration::from_secs(60),
        )
        .await
        .expect("receive");
    assert!(!triggers.is_empty());
    for m in &triggers {
        let refused = reduce(ports, &without, &m.body).await.map(drop);
        assert_eq!(refused.map_err(|e| e.to_string()), Err(expected.clone()));
    }
}
