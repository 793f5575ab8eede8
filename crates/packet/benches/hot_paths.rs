//! The per-element work of the pipeline: parsing the POSTed body, encoding the
//! TimesTwo packets, and the map (exact doubled sum of a packet) and merge.
//! Run with `cargo bench -p packet`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use packet::{parse_array, MapMessage, Number, Tree};
use std::hint::black_box;

const ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

fn body(n: usize) -> String {
    let parts: Vec<String> = (0..n)
        .map(|i| match i % 4 {
            0 => format!("{}", i % 10_000),
            1 => format!("-{}.{}", i % 977, i % 10),
            2 => format!("{}e-2", i % 5000),
            _ => format!("{}", (i as u64).wrapping_mul(2_654_435_761) % 1_000_000_007),
        })
        .collect();
    format!("[{}]", parts.join(","))
}

fn hot_paths(c: &mut Criterion) {
    let n = 100_000;
    let text = body(n);
    let mut group = c.benchmark_group("per element");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("parse_array", |b| b.iter(|| parse_array(black_box(&text))));

    let elements = parse_array(&text).expect("valid body");
    let tree = Tree::new(n as u64, 1000, 100).expect("valid tree");
    group.bench_function("encode packets (chunk 1000)", |b| {
        b.iter(|| {
            elements
                .chunks(1000)
                .enumerate()
                .map(|(i, chunk)| MapMessage::encode(ID, &tree, i as u64, chunk).len())
                .sum::<usize>()
        })
    });

    let bodies: Vec<String> = elements
        .chunks(1000)
        .enumerate()
        .map(|(i, chunk)| MapMessage::encode(ID, &tree, i as u64, chunk))
        .collect();
    group.bench_function("decode + doubled sum (map)", |b| {
        b.iter(|| {
            bodies
                .iter()
                .filter_map(|m| MapMessage::decode(m).ok().map(|d| d.doubled_sum()))
                .collect::<Vec<Number>>()
        })
    });
    group.finish();

    let values: Vec<Number> = bodies
        .iter()
        .filter_map(|m| MapMessage::decode(m).ok().map(|d| d.doubled_sum()))
        .collect();
    let mut merge = c.benchmark_group("merge");
    merge.throughput(Throughput::Elements(values.len() as u64));
    merge.bench_function("sum of 100 packet values", |b| {
        b.iter(|| values.iter().cloned().sum::<Number>())
    });
    merge.finish();
}

/// Elements that are small values written with `zeros` zeros and a
/// matching exponent, in alternating scales: valid, and before elements were
/// shortened at parse time, each cost the map time that grew with the square
/// of its length.
fn padded_body(elements: usize, zeros: usize) -> String {
    let parts: Vec<String> = (0..elements)
        .map(|i| {
            let z = zeros - i % 7;
            let run = "0".repeat(z);
            if i % 2 == 0 {
                format!("1{run}e-{z}")
            } else {
                format!("-0.{run}3e{z}")
            }
        })
        .collect();
    format!("[{}]", parts.join(","))
}

/// The costliest packet of short elements: 38-digit values at both ends of
/// DynamoDB's range, so the exact sum spans ~300 digits.
fn extreme_scales_body(elements: usize) -> String {
    let parts: Vec<String> = (0..elements)
        .map(|i| match i % 3 {
            0 => format!("-{}e-167", "9".repeat(38)),
            1 => format!("{}e88", "9".repeat(38)),
            _ => format!("1234567890123456789012345678901234567{}e-5", i % 10),
        })
        .collect();
    format!("[{}]", parts.join(","))
}

/// Each worst case twice: `sum_array`'s parse of the body (linear in its
/// bytes, which API Gateway and Lambda bound at 6 MB), and `times_two`'s map
/// of the packet that parse produced (decode and exact doubled sum), which
/// must cost milliseconds per 1,000 elements however the numbers were written.
fn worst_case(c: &mut Criterion) {
    let mut group = c.benchmark_group("worst case");
    group.sample_size(10);
    for (name, elements, text) in [
        ("1,000 elements of 5 KB", 1000, padded_body(1000, 5000)),
        ("10 elements of 25 KB", 10, padded_body(10, 25_000)),
        (
            "1,000 elements at extreme scales",
            1000,
            extreme_scales_body(1000),
        ),
    ] {
        let tree = Tree::new(elements, 1000, 100).expect("valid tree");
        group.throughput(Throughput::Elements(elements));
        group.bench_function(format!("parse body: {name}"), |b| {
            b.iter(|| parse_array(black_box(&text)).map(|e| e.len()))
        });
        let parsed = parse_array(&text).expect("valid body");
        let packet = MapMessage::encode(ID, &tree, 0, &parsed);
        println!("{name}: packet of {} bytes", packet.len());
        group.bench_function(format!("map packet: {name}"), |b| {
            b.iter(|| {
                MapMessage::decode(black_box(&packet))
                    .expect("valid packet")
                    .doubled_sum()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, hot_paths, worst_case);
criterion_main!(benches);
