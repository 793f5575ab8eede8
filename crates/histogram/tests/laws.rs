//! The histogram keeps the laws every job must (`packet::job::check_laws`),
//! counts exactly at the bounds, and refuses bad bounds with a reason.

use histogram::Histogram;
use packet::job::{check_laws, map_all, Job, NamedJob, Record};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn histogram(bounds: serde_json::Value) -> Result<Histogram, String> {
    Histogram::configure(&BTreeMap::from([("bounds".to_string(), bounds)]))
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        (-200i32..200).prop_map(|n| n.to_string()),
        "-?(0|[1-9][0-9]{0,3})\\.[0-9]{1,30}",
        "-?[1-9][0-9]{0,37}",
    ]
}

proptest! {
    #[test]
    fn the_histogram_keeps_the_laws(
        numbers in prop::collection::vec(number(), 0..40),
        cuts in prop::collection::vec(0usize..41, 2..6),
    ) {
        let job = histogram(serde_json::json!([-10, "0.5", 100])).expect("bounds");
        let mut at: Vec<usize> = cuts.iter().map(|c| c % (numbers.len() + 1)).collect();
        at.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for end in at.into_iter().chain([numbers.len()]) {
            pieces.push(numbers[start..end].iter().map(|n| Record { number: n, key: None }).collect());
            start = end;
        }
        check_laws(&job, &pieces).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn a_number_on_a_bound_counts_in_the_bucket_above_it() {
    let job = histogram(serde_json::json!([0, "0.5"])).expect("bounds");
    let numbers = ["-1", "0", "0.4999999999999999999999999999999", "0.5", "7"];
    let value = map_all(
        &job,
        numbers.iter().map(|n| Record {
            number: n,
            key: None,
        }),
    )
    .expect("maps");
    assert_eq!(
        job.show(&value),
        r#"{"buckets":[{"from":null,"below":0,"count":1},{"from":0,"below":0.5,"count":2},{"from":0.5,"below":null,"count":2}]}"#
    );
}

#[test]
fn bad_bounds_are_refused_with_the_reason() {
    let refused = |bounds| histogram(bounds).expect_err("refused");
    assert_eq!(
        refused(serde_json::json!([])),
        "needs 1 to 1000 bounds, not 0"
    );
    assert_eq!(
        refused(serde_json::json!([1, 1])),
        "bounds must ascend, and 1 does not"
    );
    assert_eq!(
        refused(serde_json::json!([true])),
        "a bound must be a number, not true"
    );
    assert_eq!(
        refused(serde_json::json!(["1e200"])),
        "bound 1e200: `1e200` is outside DynamoDB's Number range (1E-130 to 9.99E+125 in magnitude)"
    );
    assert_eq!(
        Histogram::configure(&BTreeMap::new()).expect_err("no bounds"),
        "needs \"bounds\", an array of numbers"
    );
}
