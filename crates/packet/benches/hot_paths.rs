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

criterion_group!(benches, hot_paths);
criterion_main!(benches);
