//! The laws of a job (`packet::job::check_laws`), for every shipped job, on
//! random inputs cut at random places, with hostile numbers: 38 significant
//! digits, exponents at DynamoDB's limits, signs, zeros. And each job's
//! exact answers and limits on inputs worked out by hand.

use packet::job::{check_laws, map_all, Job, Record, Stats, Sum, SumBy, MAX_GROUPS, MAX_KEY_BYTES};
use packet::{check_number, Number};
use proptest::prelude::*;

/// Checked numbers, many of them hostile to an exact adder.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i32>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        "-?(0|[1-9][0-9]{0,20})\\.[0-9]{1,17}",
        "-?[1-9][0-9]{0,37}",
        "-?[1-9]\\.[0-9]{37}[eE][+-]?(12[0-5]|[0-9]{1,2})",
        "-?[1-9][eE]-1[0-2][0-9]",
        Just("0".to_string()),
        Just("-0.0".to_string()),
        Just("99999999999999999999999999999999999999".to_string()),
    ]
    .prop_filter("DynamoDB holds it", |t| check_number(t).is_ok())
}

/// `(number, key)` records; few distinct keys, the empty one among them.
fn records() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = prop_oneof![Just(""), Just("a"), Just("b"), Just("é \" ,"), Just("A")];
    prop::collection::vec((number(), key.prop_map(String::from)), 0..40)
}

/// The records cut into consecutive pieces at random places.
fn cut<'a>(records: &'a [(String, String)], cuts: &[usize]) -> Vec<Vec<Record<'a>>> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (records.len() + 1)).collect();
    at.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for end in at.into_iter().chain([records.len()]) {
        pieces.push(
            records[start..end]
                .iter()
                .map(|(n, k)| Record {
                    number: n,
                    key: Some(k),
                })
                .collect(),
        );
        start = end;
    }
    pieces
}

proptest! {
    #[test]
    fn sum_keeps_the_laws(rs in records(), cuts in prop::collection::vec(any::<usize>(), 2..6)) {
        check_laws(&Sum, &cut(&rs, &cuts)).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn stats_keeps_the_laws(rs in records(), cuts in prop::collection::vec(any::<usize>(), 2..6)) {
        check_laws(&Stats, &cut(&rs, &cuts)).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn sum_by_keeps_the_laws(rs in records(), cuts in prop::collection::vec(any::<usize>(), 2..6)) {
        check_laws(&SumBy, &cut(&rs, &cuts)).map_err(TestCaseError::fail)?;
    }

    /// The fast comparisons of `stats` agree with exact decimal order.
    #[test]
    fn stats_min_and_max_are_the_exact_extremes(rs in records()) {
        prop_assume!(!rs.is_empty());
        let v = map_all(&Stats, rs.iter().map(|(n, _)| Record { number: n, key: None }))
            .expect("stats maps");
        let exact: Vec<Number> = rs.iter().map(|(n, _)| Number::parse(n).expect("checked")).collect();
        prop_assert_eq!(v.min.as_ref(), exact.iter().min());
        prop_assert_eq!(v.max.as_ref(), exact.iter().max());
    }
}

fn numbers(texts: &[&'static str]) -> Vec<Record<'static>> {
    texts
        .iter()
        .map(|&t| Record {
            number: t,
            key: None,
        })
        .collect()
}

fn shown<J: Job>(job: &J, records: Vec<Record<'_>>) -> String {
    job.show(&map_all(job, records).expect("maps"))
}

#[test]
fn sum_doubles_then_adds_exactly() {
    assert_eq!(shown(&Sum, numbers(&["0.1", "0.2", "0.3"])), "1.2");
    assert_eq!(shown(&Sum, numbers(&[])), "0");
}

#[test]
fn stats_shows_count_sum_min_max_and_an_exact_mean() {
    assert_eq!(
        shown(&Stats, numbers(&["1", "2", "-3.5", "10"])),
        r#"{"count":4,"sum":9.5,"min":-3.5,"max":10,"mean":2.375,"meanExact":true}"#
    );
    assert_eq!(
        shown(&Stats, numbers(&[])),
        r#"{"count":0,"sum":0,"min":null,"max":null,"mean":null,"meanExact":true}"#
    );
}

#[test]
fn a_mean_that_does_not_terminate_is_rounded_to_38_digits() {
    // 2/3 and -2/3: the 39th digit is 6, so the 38th rounds up.
    let third = shown(&Stats, numbers(&["1", "1", "0"]));
    assert!(
        third.ends_with(r#""mean":0.66666666666666666666666666666666666667,"meanExact":false}"#),
        "{third}"
    );
    let negative = shown(&Stats, numbers(&["-1", "-1", "0"]));
    assert!(
        negative.contains(r#""mean":-0.66666666666666666666666666666666666667,"#),
        "{negative}"
    );
    // 1/7 of a 38-digit number: rounding down this time.
    let (mean, exact) = Number::parse("1")
        .expect("ok")
        .divided_by(7)
        .expect("not zero");
    assert_eq!(mean.to_string(), "0.14285714285714285714285714285714285714");
    assert!(!exact);
    let (mean, exact) = Number::parse("1e-130")
        .expect("ok")
        .divided_by(3)
        .expect("not zero");
    assert_eq!(
        mean.to_string(),
        "33333333333333333333333333333333333333e-168"
    );
    assert!(!exact);
    let (mean, exact) = Number::parse("1")
        .expect("ok")
        .divided_by(1 << 40)
        .expect("not zero");
    assert_eq!(
        mean.to_string(),
        "0.0000000000009094947017729282379150390625"
    );
    assert!(exact);
}

fn keyed<'a>(rows: &[(&'a str, &'a str)]) -> Vec<Record<'a>> {
    rows.iter()
        .map(|&(k, n)| Record {
            number: n,
            key: Some(k),
        })
        .collect()
}

#[test]
fn sum_by_groups_by_the_key_byte_for_byte() {
    assert_eq!(
        shown(
            &SumBy,
            keyed(&[("b", "1"), ("a", "2"), ("", "0.5"), ("b", "3"), ("A", "1")])
        ),
        r#"{"groups":[{"key":"","count":1,"sum":0.5},{"key":"A","count":1,"sum":1},{"key":"a","count":1,"sum":2},{"key":"b","count":2,"sum":4}]}"#
    );
}

#[test]
fn sum_by_holds_1000_groups_and_fails_past_them_never_truncating() {
    let keys: Vec<String> = (0..=MAX_GROUPS).map(|i| format!("{i:0>256}")).collect();
    let full: Vec<Record> = keys[..MAX_GROUPS]
        .iter()
        .map(|k| Record {
            number: "-1.2345678901234567890123456789012345678e-120",
            key: Some(k),
        })
        .collect();
    let value = map_all(&SumBy, full).expect("1,000 groups fit");
    let encoded = SumBy.encode(&value);
    assert!(encoded.len() <= 330_000, "{} bytes", encoded.len());
    let over = keys.iter().map(|k| Record {
        number: "1",
        key: Some(k),
    });
    let e = map_all(&SumBy, over).expect_err("1,001 groups");
    assert_eq!(e.code, "too_many_groups");
    assert_eq!(
        e.reason,
        "1001 groups seen, more than the 1000 a result can hold (DynamoDB's 400 KB item); \
         nothing was truncated"
    );
    // Two halves that fit apart fail together.
    let half = |r: std::ops::Range<usize>| {
        map_all(
            &SumBy,
            keys[r].iter().map(|k| Record {
                number: "1",
                key: Some(k),
            }),
        )
        .expect("fits")
    };
    let e = SumBy
        .combine(half(0..600), half(500..1001))
        .expect_err("1,001 together");
    assert_eq!(e.code, "too_many_groups");
}

#[test]
fn sum_by_refuses_a_key_longer_than_256_bytes() {
    let long = "k".repeat(MAX_KEY_BYTES + 1);
    let e = map_all(&SumBy, keyed(&[(&long, "1")])).expect_err("too long");
    assert_eq!(e.code, "key_too_long");
    assert_eq!(
        e.reason,
        "a key of 257 bytes is longer than the 256 bytes a group key may have"
    );
}

#[test]
fn a_stored_value_that_does_not_decode_is_reported_as_corrupt() {
    let e = Stats.decode("3 6 1").expect_err("three fields");
    assert_eq!(e.code, "corrupt_value");
    assert_eq!(e.reason, "a stored stats value does not decode: `3 6 1`");
    let e = SumBy.decode("9:ab 1 2\n").expect_err("key cut short");
    assert_eq!(
        e.reason,
        "a stored sum-by value does not decode: key cut short"
    );
}
