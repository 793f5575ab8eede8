//! One map of one range: a 64 MiB object generated in memory, read as one
//! range on one core, for each format. The target is 100 MB/s of
//! input. Run with `cargo bench -p packet --bench ranges`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use packet::ranges::{read_range, Format};
use std::hint::black_box;
use std::time::Duration;

const OBJECT_BYTES: usize = 64 * 1024 * 1024;

/// The same mix of numbers as the body benchmark: integers, negative
/// decimals, exponents, large integers.
fn number(i: usize) -> String {
    match i % 4 {
        0 => format!("{}", i % 10_000),
        1 => format!("-{}.{}", i % 977, i % 10),
        2 => format!("{}e-2", i % 5000),
        _ => format!("{}", (i as u64).wrapping_mul(2_654_435_761) % 1_000_000_007),
    }
}

/// `head`, then records until the object is about `OBJECT_BYTES`, then `tail`.
fn object(head: &str, record: impl Fn(usize) -> String, tail: &str) -> Vec<u8> {
    let mut text = String::with_capacity(OBJECT_BYTES + 64);
    text += head;
    let mut i = 0;
    while text.len() < OBJECT_BYTES {
        text += &record(i);
        i += 1;
    }
    text += tail;
    text.into_bytes()
}

fn one_range(c: &mut Criterion) {
    let objects = [
        (
            "JSON array, pretty-printed",
            Format::JsonArray,
            object("[\n  0", |i| format!(",\n  {}", number(i)), "\n]\n"),
        ),
        ("lines", Format::Lines, object("", |i| number(i) + "\n", "")),
        (
            "CSV, column 1 of 3",
            Format::Csv {
                column: 1,
                header: true,
            },
            object("id,value,note\n", |i| format!("{i},{},ok\n", number(i)), ""),
        ),
    ];
    let mut group = c.benchmark_group("one range of 64 MiB");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for (name, format, object) in &objects {
        let size = object.len() as u64;
        group.throughput(Throughput::Bytes(size));
        group.bench_function(*name, |b| {
            b.iter(|| {
                read_range(*format, 0..size, size, black_box(&object[..])).map(|s| s.elements)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, one_range);
criterion_main!(benches);
