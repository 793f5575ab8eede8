//! Every shipped job over byte ranges of any size: the ranges' values,
//! combined in order, equal the job's value of the records themselves, for
//! CSV (with a key column for `sum-by`), lines and JSON arrays.

use packet::job::{AnyJob, ColumnName, JobSpec, Record, Registry, Stored};
use packet::ranges::{ranges_of, read_from, Format};
use proptest::prelude::*;
use std::io::BufReader;
use std::sync::Arc;

fn job(name: &str) -> Arc<dyn AnyJob> {
    let mut spec = JobSpec::named(name);
    if name == "sum-by" {
        spec.params.insert("by".into(), serde_json::json!(0));
    }
    Registry::shipped().job(&spec).expect("a shipped job")
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i32>().prop_map(|n| n.to_string()),
        "-?(0|[1-9][0-9]{0,20})\\.[0-9]{1,17}",
        "-?[1-9][0-9]{0,37}",
        "-?[1-9]\\.[0-9]{1,37}[eE][+-]?[0-9]{1,2}",
    ]
    .prop_filter("DynamoDB holds it", |t| packet::check_number(t).is_ok())
}

/// A key as it is meant, and as a CSV field writes it (quoted when it
/// holds a comma or a quote, or at random).
fn key() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        Just(""),
        Just("a"),
        Just("b"),
        Just("x,y"),
        Just("say \"hi\""),
        Just("é")
    ]
    .prop_flat_map(|k| {
        let quoted = format!("\"{}\"", k.replace('"', "\"\""));
        let must = k.contains(',') || k.contains('"');
        (
            Just(k.to_string()),
            if must {
                Just(true).boxed()
            } else {
                any::<bool>().boxed()
            },
        )
            .prop_map(move |(k, q)| {
                let field = if q { quoted.clone() } else { k.clone() };
                (k, field)
            })
    })
}

/// Reads every range of `object` with `job`; the values combined in order.
fn by_ranges(
    job: &dyn AnyJob,
    format: Format,
    key_column: Option<usize>,
    object: &[u8],
    range_bytes: u64,
) -> Result<(Stored, u64), String> {
    let size = object.len() as u64;
    let mut values = Vec::new();
    let mut elements = 0;
    for range in ranges_of(size, range_bytes) {
        let from = read_from(range.start) as usize;
        let mut reader = BufReader::with_capacity(7, &object[from..]);
        let part = job
            .read_range(format, key_column, range.clone(), size, &mut reader)
            .map_err(|e| format!("{range:?}: {e}"))?;
        elements += part.elements;
        values.push(part.value);
    }
    let refs: Vec<&Stored> = values.iter().collect();
    Ok((
        job.combine_stored(&refs).map_err(|e| e.to_string())?,
        elements,
    ))
}

fn direct(job: &dyn AnyJob, rows: &[(String, String)], keyed: bool) -> Stored {
    let mut records = rows.iter().map(|(k, n)| Record {
        number: n,
        key: keyed.then_some(k.as_str()),
    });
    job.map_records(&mut records).expect("maps")
}

proptest! {
    #[test]
    fn csv_by_ranges_equals_the_records(
        rows in prop::collection::vec((key(), number()), 0..30),
        range_bytes in 1u64..80,
    ) {
        let mut object = String::from("key,n\n");
        for ((_, field), n) in &rows {
            object += &format!("{field},{n}\n");
        }
        let plain: Vec<(String, String)> =
            rows.iter().map(|((k, _), n)| (k.clone(), n.clone())).collect();
        let format = Format::Csv { column: 1, header: true };
        for name in ["sum", "stats", "sum-by"] {
            let job = job(name);
            let keyed = job.keyed();
            let got = by_ranges(job.as_ref(), format, keyed.then_some(0), object.as_bytes(), range_bytes)
                .map_err(TestCaseError::fail)?;
            prop_assert_eq!(&got.0, &direct(job.as_ref(), &plain, keyed), "job {}", name);
            prop_assert_eq!(got.1, rows.len() as u64);
        }
    }

    #[test]
    fn lines_and_json_by_ranges_equal_the_records(
        numbers in prop::collection::vec(number(), 0..30),
        range_bytes in 1u64..80,
    ) {
        let plain: Vec<(String, String)> =
            numbers.iter().map(|n| (String::new(), n.clone())).collect();
        let lines = numbers.iter().map(|n| format!("{n}\n")).collect::<String>();
        let json = format!("[{}]", numbers.join(",\n "));
        for name in ["sum", "stats"] {
            let job = job(name);
            for (format, object) in [(Format::Lines, &lines), (Format::JsonArray, &json)] {
                let got = by_ranges(job.as_ref(), format, None, object.as_bytes(), range_bytes)
                    .map_err(TestCaseError::fail)?;
                prop_assert_eq!(&got.0, &direct(job.as_ref(), &plain, false), "job {} {:?}", name, format);
            }
        }
    }
}

#[test]
fn an_unknown_job_is_refused_naming_the_known_ones() {
    let e = Registry::shipped()
        .job(&JobSpec::named("median"))
        .err()
        .expect("unknown");
    assert_eq!(
        e.to_string(),
        r#"no job is called "median"; this deployment runs stats, sum, sum-by"#
    );
}

#[test]
fn a_parameter_a_job_does_not_take_is_refused() {
    let mut spec = JobSpec::named("stats");
    spec.params.insert("by".into(), serde_json::json!("region"));
    let e = Registry::shipped().job(&spec).err().expect("refused");
    assert_eq!(e.to_string(), r#"job stats: takes no parameter "by""#);
}

#[test]
fn sum_by_needs_a_key_column_by_name_or_index() {
    let refused = |by: Option<serde_json::Value>| {
        let mut spec = JobSpec::named("sum-by");
        if let Some(by) = by {
            spec.params.insert("by".into(), by);
        }
        Registry::shipped().job(&spec).err().map(|e| e.to_string())
    };
    assert_eq!(
        refused(None).as_deref(),
        Some(r#"job sum-by: needs "by": the column to group by, a header name or a 0-based index"#)
    );
    assert_eq!(
        refused(Some(serde_json::json!(-1))).as_deref(),
        Some(r#"job sum-by: "by" must be a column name or a 0-based index, not -1"#)
    );
    assert_eq!(refused(Some(serde_json::json!("region"))), None);
    assert_eq!(refused(Some(serde_json::json!(2))), None);
    let mut spec = JobSpec::named("sum-by");
    spec.params.insert("by".into(), serde_json::json!(2));
    assert_eq!(spec.key_column(), Some(ColumnName::Index(2)));
}

#[test]
fn parameters_over_the_size_limit_are_refused() {
    let mut spec = JobSpec::named("stats");
    spec.params
        .insert("note".into(), serde_json::json!("x".repeat(5000)));
    let e = Registry::shipped().job(&spec).err().expect("refused");
    assert_eq!(
        e.to_string(),
        "job stats: its parameters take 5037 bytes as JSON; at most 4096 are accepted"
    );
}

#[test]
fn the_default_job_is_sum_and_is_not_written_out() {
    assert!(JobSpec::default().is_default());
    assert_eq!(JobSpec::default().name, "sum");
    assert_eq!(
        serde_json::to_string(&JobSpec::named("stats")).expect("json"),
        r#"{"name":"stats"}"#
    );
}

#[test]
fn too_many_groups_in_one_range_fails_it_with_the_job_code() {
    let mut object = String::from("k,n\n");
    for i in 0..1001 {
        object += &format!("{i},1\n");
    }
    let size = object.len() as u64;
    let e = job("sum-by")
        .read_range(
            Format::Csv {
                column: 1,
                header: true,
            },
            Some(0),
            0..size,
            size,
            &mut object.as_bytes(),
        )
        .expect_err("too many");
    assert_eq!(
        e.to_string(),
        format!(
            "byte {}: 1001 groups seen, more than the 1000 a result can hold \
             (DynamoDB's 400 KB item); nothing was truncated",
            object.rfind("1000,").expect("there")
        )
    );
}

/// A job whose value is one byte per record: 400 KB of records make a value
/// no DynamoDB item holds.
#[derive(Debug, Clone, Copy)]
struct Bytes;

impl packet::job::Job for Bytes {
    type Value = usize;
    type Acc = usize;
    fn add(&self, acc: &mut usize, _: Record<'_>) -> Result<(), packet::job::JobError> {
        *acc += 1;
        Ok(())
    }
    fn finish(&self, acc: usize) -> Result<usize, packet::job::JobError> {
        Ok(acc)
    }
    fn combine(&self, l: usize, r: usize) -> Result<usize, packet::job::JobError> {
        Ok(l + r)
    }
    fn encode(&self, v: &usize) -> String {
        "x".repeat(*v)
    }
    fn decode(&self, t: &str) -> Result<usize, packet::job::JobError> {
        Ok(t.len())
    }
    fn show(&self, v: &usize) -> String {
        v.to_string()
    }
    fn identity(&self) -> usize {
        0
    }
}

impl packet::job::NamedJob for Bytes {
    const NAME: &'static str = "bytes";
    fn configure(
        _: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Result<Self, String> {
        Ok(Bytes)
    }
}

#[test]
fn a_value_no_table_item_can_hold_is_refused_not_stored() {
    let limit = packet::job::MAX_VALUE_BYTES;
    let records = |n| {
        (0..n).map(|_| Record {
            number: "1",
            key: None,
        })
    };
    let fits = Bytes.map_records(&mut records(limit));
    assert!(
        fits == Ok(Stored::Text("x".repeat(limit))),
        "the largest value is kept"
    );
    let Err(e) = Bytes.map_records(&mut records(limit + 1)) else {
        panic!("a value over the limit was kept");
    };
    assert_eq!(e.code, "value_too_large");
    assert_eq!(
        e.reason,
        "a bytes value of 401409 bytes is larger than the 401408 bytes a table item can \
         hold; nothing was truncated"
    );
    let half = Stored::Text("x".repeat(limit / 2 + 1));
    let Err(e) = Bytes.combine_stored(&[&half, &half]) else {
        panic!("a combined value over the limit was kept");
    };
    assert_eq!(e.code, "value_too_large");
    let object = "1\n".repeat(limit + 1);
    let size = object.len() as u64;
    let Err(e) = Bytes.read_range(Format::Lines, None, 0..size, size, &mut object.as_bytes())
    else {
        panic!("a range's value over the limit was kept");
    };
    assert_eq!(
        e.to_string(),
        format!(
            "byte {size}: a bytes value of 401409 bytes is larger than the 401408 bytes a \
             table item can hold; nothing was truncated"
        )
    );
}
