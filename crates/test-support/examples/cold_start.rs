//! Cold start and size of the Lambda binaries: process start → first
//! `GET /runtime/invocation/next`, under the Runtime API emulator
//! ([`test_support::runtime`]), each function started `RUNS` times (20 unless
//! given) with its template environment. Nothing is invoked, so no AWS API
//! (nor moto) is needed.
//!
//! ```text
//! cargo lambda build --release --x86-64 --lambda-dir DIR \
//!     --bin sum_array --bin times_two --bin reduce
//! cargo run -p test-support --example cold_start -- DIR [RUNS]
//! ```

use stack::Stack;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use test_support::runtime::{Function, FunctionConfig};

type Failure = Box<dyn std::error::Error>;

/// Longer than any cold start seen: a binary silent for this long is broken.
const GIVE_UP: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: cold_start LAMBDA_DIR [RUNS]")?);
    let runs: usize = args.next().map_or(Ok(20), |r| r.parse())?;
    if runs == 0 {
        return Err("RUNS must be at least 1".into());
    }
    let stack = Stack::embedded()?;
    println!("binary      size (bytes)  cold start over {runs} runs: min / median / max (ms)");
    for function in &stack.functions {
        let binary = dir.join(&function.binary).join("bootstrap");
        let size = std::fs::metadata(&binary)
            .map_err(|e| format!("{}: {e}", binary.display()))?
            .len();
        let env = stack.resolve_env(function, |id| Some(format!("unused-{id}")))?;
        let config = FunctionConfig {
            binary,
            name: function.logical_id.clone(),
            memory_mb: 512,
            timeout: function.timeout,
            env,
            fixed_deadline_ms: None,
        };
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            times.push(cold_start(config.clone()).await?);
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{:<11} {size:>12}  {:.1} / {:.1} / {:.1}",
            function.binary,
            ms(times[0]),
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1]),
        );
    }
    Ok(())
}

/// Starts the function once and waits for its first `/next`; dropping the
/// [`Function`] kills the process.
async fn cold_start(config: FunctionConfig) -> Result<Duration, Failure> {
    let name = config.name.clone();
    let function = Function::start(config).await?;
    let started = Instant::now();
    loop {
        if let Some(cold_start) = function.cold_start() {
            return Ok(cold_start);
        }
        if started.elapsed() > GIVE_UP {
            return Err(
                format!("{name}: no /next within {GIVE_UP:?}:\n{}", function.logs()).into(),
            );
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
