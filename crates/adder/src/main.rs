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
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    version,
    about = "The distributed adder: doubles every element of an array and sums them, exactly, across queues and tables; or runs another map-reduce job over them (--job, docs/jobs.md)."
)]
struct Cli {
    /// Print results, records and tables as JSON, for scripts.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sums an array through the whole pipeline and prints the result.
    Sum {
        #[command(flatten)]
        input: input::Numbers,
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
    /// Serves the API (POST /sumArray, GET /sums/{arrayId}, /sumObject) on
    /// --bind:--port, in front of the local pipeline.
    Serve {
        #[arg(long, default_value_t = 3000)]
        port: u16,
        /// The address to listen on: 127.0.0.1 (this machine only), or
        /// 0.0.0.0 for every interface (a container, another machine).
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Creates the queues, tables and bucket of template.yaml for --prefix
    /// (on moto, LocalStack or an account), as `serve --backend aws` does
    /// when it starts; prints their names.
    Setup {
        /// Prefix of the names (`{prefix}-{LogicalId}`).
        #[arg(long, default_value = "adder")]
        prefix: String,
        /// AWS API endpoint (moto: http://127.0.0.1:5000); your account when absent.
        #[arg(long, env = "AWS_ENDPOINT_URL")]
        endpoint_url: Option<String>,
    },
    /// Removes the queues, tables and bucket of --prefix (the bucket
    /// emptied of every object version first), so nothing is left behind.
    Teardown {
        /// Prefix of the names to remove (required: nothing is assumed).
        #[arg(long)]
        prefix: String,
        /// AWS API endpoint (moto: http://127.0.0.1:5000); your account when absent.
        #[arg(long, env = "AWS_ENDPOINT_URL")]
        endpoint_url: Option<String>,
    },
    /// Prints a completion script for SHELL: `adder completions bash >
    /// ~/.local/share/bash-completion/completions/adder`, or for zsh into a
    /// directory of $fpath as `_adder`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    #[command(flatten)]
    Client(client::Command),
}

/// Logs on stderr at `default` (`RUST_LOG` overrides it). A command's own
/// output says what went wrong, so commands log errors only; `serve` logs
/// what it does. Colour only on a terminal, and never with `NO_COLOR`.
fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour(std::io::stderr().is_terminal(), no_color))
        .try_init();
}

fn colour(terminal: bool, no_color: bool) -> bool {
    terminal && !no_color
}

impl Command {
    /// The AWS endpoint the command talks to, for a hint when it fails.
    fn endpoint(&self) -> Option<String> {
        let flag = match self {
            Command::Sum { backend, .. } | Command::Serve { backend, .. } => {
                backend.endpoint_url.clone()
            }
            Command::Bench(args) => args.backend.endpoint_url.clone(),
            Command::Client(command) => command.endpoint(),
            Command::Setup { endpoint_url, .. } | Command::Teardown { endpoint_url, .. } => {
                endpoint_url.clone()
            }
            Command::Completions { .. } => None,
        };
        flag.or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let endpoint = cli.command.endpoint();
    let result = match cli.command {
        Command::Sum {
            input,
            job,
            timeout,
            backend,
        } => {
            init_tracing("error");
            let timeout = Duration::from_secs(timeout);
            let job = job.spec();
            match input.ranged_file() {
                Some(path) => {
                    runner::files::sum_file(path, &input, &job, timeout, backend, cli.json).await
                }
                None => runner::sum(&input, &job, timeout, backend, cli.json).await,
            }
        }
        Command::Bench(args) => {
            init_tracing("error");
            bench::run(args).await.map(|sheet| match cli.json {
                true => println!("{}", sheet.json()),
                false => print!("{}", sheet.text()),
            })
        }
        Command::Serve {
            port,
            bind,
            backend,
        } => {
            init_tracing("info");
            runner::serve((bind, port).into(), backend).await
        }
        Command::Setup {
            prefix,
            endpoint_url,
        } => {
            init_tracing("error");
            runner::prefix::setup(&prefix, endpoint_url.as_deref(), cli.json).await
        }
        Command::Teardown {
            prefix,
            endpoint_url,
        } => {
            init_tracing("error");
            runner::prefix::teardown(&prefix, endpoint_url.as_deref(), cli.json).await
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "adder", &mut std::io::stdout());
            Ok(())
        }
        Command::Client(command) => {
            init_tracing("error");
            client::run(command, cli.json).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            error::report(&error, endpoint.as_deref());
            ExitCode::from(error.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(super::colour(true, false));
        assert!(!super::colour(false, false));
        assert!(!super::colour(true, true));
    }
}
