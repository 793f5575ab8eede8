//! `adder`: the distributed adder on your machine, the command line over the
//! `local` crate (the Lambda platform played in this process: the template's
//! queues, tables and functions, the event source mappings, the tally).
//! Three jobs, one module each:
//!
//! - `runner`: `adder sum 1 2 3` runs the whole pipeline on the local
//!   platform and prints the result; `adder serve` serves the API in front
//!   of it, on the in-process backend or against real SQS/DynamoDB APIs
//!   (`--backend aws`).
//! - `bench`: one generated array, or many from concurrent clients, through
//!   the runner (or a running API), with figures.
//! - `client`: the client of a running API and the operator's tools.
//!
//! `submit` is the submit-and-wait all three share; `error` says why a command
//! failed and with which exit code.

mod bench;
mod client;
mod error;
mod input;
mod job;
mod runner;
mod submit;

use clap::{Parser, Subcommand};
use local::BackendArgs;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    version,
    about = "The distributed adder: doubles every element of an array and sums them, exactly, across queues and tables."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sums an array through the whole pipeline and prints the result.
    Sum {
        /// The numbers (`1 2 3`) or one JSON array (`'[1,2,3]'`); stdin when absent.
        #[arg(allow_negative_numbers = true)]
        numbers: Vec<String>,
        /// Read the numbers from this file (`-` for stdin: a JSON array).
        #[arg(long, short)]
        file: Option<std::path::PathBuf>,
        #[command(flatten)]
        layout: runner::files::Layout,
        #[command(flatten)]
        job: job::JobArgs,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Runs one generated array through the pipeline, or with --arrays many
    /// from concurrent clients, and prints figures (time, throughput, latency,
    /// invocations, AWS requests, memory, estimated bill).
    Bench(bench::BenchArgs),
    /// Serves POST /sumArray and GET /sums/{arrayId} on 127.0.0.1.
    Serve {
        #[arg(long, default_value_t = 3000)]
        port: u16,
        #[command(flatten)]
        backend: BackendArgs,
    },
    #[command(flatten)]
    Client(client::Command),
}

fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sum {
            numbers,
            file,
            layout,
            job,
            timeout,
            backend,
        } => {
            init_tracing("warn");
            let timeout = Duration::from_secs(timeout);
            let job = job.spec();
            match file {
                Some(path) if layout.by_ranges(&path) => {
                    runner::files::sum_file(&path, &layout, &job, timeout, backend).await
                }
                file => runner::sum(numbers, file, &job, timeout, backend).await,
            }
        }
        Command::Bench(args) => {
            init_tracing("warn");
            bench::run(args).await.map(|report| print!("{report}"))
        }
        Command::Serve { port, backend } => {
            init_tracing("info");
            runner::serve(port, backend).await
        }
        Command::Client(command) => {
            init_tracing("warn");
            client::run(command).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            error::report(&error);
            ExitCode::from(error.exit_code())
        }
    }
}
