//! One map of one range: a 64 MiB object generated in memory, read as one
//! range on one core, for each format; prints MB/s of input per second of
//! wall time and per second of this thread's CPU time (the figure that
//! holds on a shared machine). The issue's target is 100 MB/s.
//!
//! ```sh
//! cargo run -p packet --release --example range_throughput [ROUNDS]
//! ```

use packet::ranges::{read_range, Format};
use std::time::{Duration, Instant};

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

/// CPU time this thread has run, from the kernel's scheduler statistics.
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

fn main() {
    let rounds: u32 = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let objects = [
        (
            "JSON array, pretty-printed",
            Format::JsonArray,
            object("[\n  0", |i| format!(",\n  {}", number(i)), "\n]\n"),
        ),
        ("lines", Format::Lines, object("", |i| number(i) + "\n", "")),
        (
            "CSV, column 1 of 3, header",
            Format::Csv {
                column: 1,
                header: true,
            },
            object("id,value,note\n", |i| format!("{i},{},ok\n", number(i)), ""),
        ),
    ];
    for (name, format, object) in &objects {
        let size = object.len() as u64;
        let (wall, cpu) = (Instant::now(), thread_cpu_time());
        let mut elements = 0;
        for _ in 0..rounds {
            match read_range(*format, 0..size, size, &object[..]) {
                Ok(sum) => elements = sum.elements,
                Err(e) => panic!("{name}: {e}"),
            }
        }
        let mb = (size * u64::from(rounds)) as f64 / 1e6;
        let wall = wall.elapsed().as_secs_f64();
        let per_cpu = match (cpu, thread_cpu_time()) {
            (Some(before), Some(after)) => {
                format!("{:7.1} MB/s of CPU", mb / (after - before).as_secs_f64())
            }
            _ => "CPU time unavailable".to_string(),
        };
        println!(
            "{name:28} {size} bytes, {elements} elements: {:7.1} MB/s wall, {per_cpu}",
            mb / wall
        );
    }
}
