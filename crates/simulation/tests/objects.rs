//! The object plans the simulation draws, and the oracle its checker uses
//! for them: what each byte range of an object holds, from the byte offsets
//! (and, for a job that groups, the fields) the generator noted, must be
//! what the job's range reader (`AnyJob::read_range`) reads.

use packet::job::Registry;
use packet::ranges::{read_from, RangeError};
use simulation::jobs::PlanJob;
use simulation::objects::{Content, Layout, Mutation, ObjectExpected, ObjectPlan, Start};
use simulation::Params;

/// Every version of every object plan of seeds `0..seeds`.
fn contents(seeds: u64) -> Vec<(ObjectPlan, Content)> {
    let mut out = Vec::new();
    for seed in 0..seeds {
        for plan in Params::from_seed(seed).objects {
            if let Some(Mutation::Overwrite(newer)) = &plan.mutation {
                out.push((plan.clone(), newer.clone()));
            }
            out.push((plan.clone(), plan.content.clone()));
        }
    }
    out
}

/// Compares the oracle with the reader of `job` for every leaf of
/// `content` cut in ranges of `range_bytes`: every leaf of a valid object,
/// the leaves before the bad record's of a bad one, of which exactly one
/// range names the bad record's byte and none an earlier one. Returns the
/// leaves compared.
fn compare(plan: &ObjectPlan, content: &Content, range_bytes: u64, job: &PlanJob) -> u64 {
    let exp = ObjectExpected::of(content, range_bytes, 4, job).expect("a tree");
    let runs = Registry::shipped().job(&job.spec).expect("a shipped job");
    let bytes = &content.bytes;
    let size = bytes.len() as u64;
    let mut named = 0;
    for leaf in 0..exp.tree.leaves() {
        let r = exp.tree.leaf_elements(leaf);
        let range = r.start.min(size)..r.end.min(size);
        let from = read_from(range.start).min(size) as usize;
        let mut reader = &bytes[from..];
        let format = plan.layout.format();
        let read = runs.read_range(format, job.key_column, range.clone(), size, &mut reader);
        let around = String::from_utf8_lossy(
            &bytes
                [(range.start.saturating_sub(12) as usize)..((range.end + 12).min(size) as usize)],
        )
        .into_owned();
        let at = |what: &str| {
            format!(
                "{what}: {} ({job}) range {range:?} of {size} bytes ({around:?})",
                plan.key
            )
        };
        match read {
            Ok(_) if exp.bad_leaf.is_some_and(|b| leaf >= b) => {}
            Ok(read) => {
                let i = leaf as usize;
                assert_eq!(read.elements, exp.counts[i], "{}", at("count"));
                assert_eq!(read.value, exp.leaves[i], "{}", at("value"));
            }
            Err(RangeError::BadData { offset, .. }) => {
                let bad = content.bad_at.expect("only a bad object fails");
                assert!(
                    offset >= bad,
                    "{} names byte {offset} before {bad}",
                    at("bad")
                );
                named += u32::from(offset == bad);
            }
            Err(e) => panic!("{}: {e}", at("read")),
        }
    }
    if content.bad_at.is_some() {
        assert_eq!(named, 1, "ranges naming the bad record: {}", plan.key);
    }
    exp.tree.leaves()
}

#[test]
fn the_offsets_oracle_agrees_with_the_range_reader() {
    let mut leaves = 0;
    for (plan, content) in contents(400) {
        let size = content.bytes.len() as u64;
        for range_bytes in [1, 2, 7, plan.range_bytes, size.max(1), size + 5] {
            leaves += compare(&plan, &content, range_bytes, &PlanJob::sum());
        }
    }
    assert!(leaves > 10_000, "only {leaves} leaves compared");
}

/// The jobs other than `sum` over every layout: `stats` everywhere, and
/// `sum-by` grouping by each column of every CSV object (keys quoted,
/// padded with spaces, holding commas and doubled quotes, or empty), by
/// index and, where the header names it, by name.
#[test]
fn the_fields_oracle_agrees_with_every_jobs_range_reader() {
    let (mut leaves, mut keyed) = (0, 0);
    for (plan, content) in contents(400) {
        let size = content.bytes.len() as u64;
        let mut jobs = vec![PlanJob::stats()];
        if let Layout::Csv { columns, .. } = plan.layout {
            jobs.extend((0..columns).map(|c| PlanJob::sum_by(c, plan.layout.column_name(c))));
        }
        for job in &jobs {
            for range_bytes in [1, 7, plan.range_bytes, size + 5] {
                let n = compare(&plan, &content, range_bytes, job);
                leaves += n;
                keyed += n * u64::from(job.key_column.is_some());
            }
        }
    }
    assert!(leaves > 10_000, "only {leaves} leaves compared");
    assert!(keyed > 3_000, "only {keyed} leaves of sum-by compared");
}

/// Every job's leaves combine to its value over all the elements.
#[test]
fn a_valid_objects_leaves_add_up_to_its_elements() {
    for (plan, content) in contents(400) {
        let mut jobs = vec![PlanJob::sum(), PlanJob::stats()];
        if let Layout::Csv { column, .. } = plan.layout {
            jobs.push(PlanJob::sum_by(column, None));
        }
        for job in &jobs {
            let exp =
                ObjectExpected::of(&content, plan.range_bytes, plan.fan_in, job).expect("a tree");
            let count: u64 = exp.counts.iter().sum();
            assert_eq!(count, content.elements.len() as u64, "{}", plan.key);
            let combined = exp.oracle.combine(&exp.leaves).expect("combined");
            assert_eq!(combined, exp.total, "{} ({job})", plan.key);
        }
    }
}

/// The draws reach every case the brief names, and leave array plans alone.
#[test]
fn object_plans_cover_every_case() {
    let mut seen = std::collections::BTreeMap::<&str, u64>::new();
    let (mut plans, mut arrays) = (0u64, 0u64);
    for seed in 0..2_000 {
        let p = Params::from_seed(seed);
        arrays += p.arrays.len() as u64;
        for o in &p.objects {
            plans += 1;
            let size = o.content.bytes.len() as u64;
            let mut see = |what| *seen.entry(what).or_default() += 1;
            match o.layout {
                Layout::Json { pretty: true } => see("json pretty"),
                Layout::Json { pretty: false } => see("json compact"),
                Layout::Lines => see("lines"),
                Layout::Csv { by_name: true, .. } => see("csv by name"),
                Layout::Csv { header: false, .. } => see("csv without header"),
                Layout::Csv { .. } => see("csv by index"),
            }
            let text = String::from_utf8_lossy(&o.content.bytes);
            if text.contains("\r\n") {
                see("crlf");
            }
            if text.contains("\n\n") || text.contains("\r\n\r\n") {
                see("blank line");
            }
            if text.contains('"') && matches!(o.layout, Layout::Csv { .. }) {
                see("quoted csv field");
            }
            match o.start {
                Start::Clients(2) => see("two clients"),
                Start::Clients(_) => see("one client"),
                Start::Notification { twice: true } => see("notified twice"),
                Start::Notification { twice: false } => see("notified once"),
            }
            if o.range_bytes == 1 {
                see("1-byte ranges");
            }
            if o.range_bytes > size {
                see("one range bigger than the object");
            }
            if o.content.bad_at.is_some() {
                see("bad record");
            }
            match o.mutation {
                Some(Mutation::Overwrite(_)) => see("overwritten"),
                Some(Mutation::Delete) => see("deleted"),
                None => {}
            }
        }
    }
    assert_eq!(seen.len(), 18, "cases reached: {seen:?}");
    let share = plans as f64 / (plans + arrays) as f64;
    assert!(
        (0.15..0.35).contains(&share),
        "object plans: {share:.2} of plans"
    );
}

/// Seeds with object plans (notifications, overwrites, bad records, two
/// clients) replay identically, S3 faults included.
#[test]
fn an_object_seed_replays_identically() {
    let opts = simulation::Options {
        trace_len: 100_000,
        ..simulation::Options::default()
    };
    for seed in [137, 827, 4410] {
        assert!(!Params::from_seed(seed).objects.is_empty(), "seed {seed}");
        let (a, b) = (
            simulation::run_seed(seed, &opts),
            simulation::run_seed(seed, &opts),
        );
        assert_eq!(a.digest, b.digest, "seed {seed}");
        assert_eq!(a.trace, b.trace, "seed {seed}");
        assert!(a.trace.iter().any(|l| l.contains("s3.")), "seed {seed}");
    }
}

/// The seeds that found the object path's defects (a failure that could
/// not be written was lost; a later symptom named instead of the first bad
/// record; a broken header read answered 422; half-enqueued arrays left to
/// their deadline) pass strictly now: nothing is tolerated.
#[test]
fn the_seeds_that_found_object_path_defects_pass_strictly() {
    let strict = simulation::Options {
        strict: true,
        ..simulation::Options::default()
    };
    for seed in [
        137, 142, 715, 827, 958, 1461, 2302, 2809, 3452, 3745, 4410, 8851,
    ] {
        let report = simulation::run_seed(seed, &strict);
        assert!(report.ok(), "seed {seed}: {report}");
        assert!(report.tolerated.is_empty(), "seed {seed}: {report}");
    }
}
