//! `adder`: the distributed adder on your machine.
//!
//! `adder sum 1 2 3` runs the whole pipeline in-process and prints the result;
//! `adder serve` serves the API and plays the Lambda event source mappings, on
//! the in-process backend or against real SQS/DynamoDB APIs (`--backend aws`).

mod backend;
mod bench;
mod client;
mod input;
mod poller;
mod serve;
mod tally;

use backend::BackendArgs;
use clap::{Parser, Subcommand};
use http::Method;
use std::process::ExitCode;
use std::time::{Duration, Instant};

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
        numbers: Vec<String>,
        /// Read the JSON array from this file (`-` for stdin).
        #[arg(long, short)]
        file: Option<std::path::PathBuf>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Runs one generated array through the pipeline and prints figures
    /// (time, throughput, invocations, AWS requests, memory, estimated bill).
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
            timeout,
            backend,
        } => {
            init_tracing("warn");
            sum(numbers, file, Duration::from_secs(timeout), backend).await
        }
        Command::Bench(args) => {
            init_tracing("warn");
            match bench::run(args).await {
                Ok(report) => {
                    print!("{report}");
                    Ok(())
                }
                Err(e) => Err((1, e)),
            }
        }
        Command::Serve { port, backend } => {
            init_tracing("info");
            serve(port, backend).await
        }
        Command::Client(command) => {
            init_tracing("warn");
            client::run(command).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("adder: {message}");
            ExitCode::from(code)
        }
    }
}

type Failure = (u8, String);

fn load_stack() -> Result<stack::Stack, Failure> {
    stack::Stack::embedded().map_err(|e| (1, format!("template.yaml: {e}")))
}

async fn sum(
    numbers: Vec<String>,
    file: Option<std::path::PathBuf>,
    timeout: Duration,
    args: BackendArgs,
) -> Result<(), Failure> {
    let body = input::body(&numbers, file.as_deref()).map_err(|e| (2, e))?;
    let stack = load_stack()?;
    let running = backend::start(&args, &stack)
        .await
        .map_err(|e| (1, e.to_string()))?;
    let mut request = aws_lambda_events::apigw::ApiGatewayProxyRequest::default();
    request.http_method = Method::POST;
    request.path = Some("/sumArray".into());
    request.body = Some(body);
    let response = handlers::handle_api(&running.ports, &running.api_config, &request).await;
    let text = match &response.body {
        Some(aws_lambda_events::encodings::Body::Text(t)) => t.clone(),
        _ => String::new(),
    };
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if response.status_code != 200 {
        let why = json["error"].as_str().unwrap_or(&text).to_string();
        let code = if response.status_code < 500 { 2 } else { 1 };
        return Err((code, why));
    }
    let Some(array_id) = json["arrayId"].as_str() else {
        return Err((1, format!("unexpected answer from sum_array: {text}")));
    };
    let started = Instant::now();
    loop {
        match pipeline::get_sum(&running.client_ports, array_id).await {
            Ok(Some(record)) if record.status == pipeline::Status::Done => {
                let sum = record.sum.map(|s| s.to_string()).unwrap_or_default();
                println!("{sum}");
                return Ok(());
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not read the result yet"),
        }
        if started.elapsed() > timeout {
            return Err((
                1,
                format!("array {array_id} not done after {} s", timeout.as_secs()),
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn serve(port: u16, args: BackendArgs) -> Result<(), Failure> {
    let stack = load_stack()?;
    let running = backend::start(&args, &stack)
        .await
        .map_err(|e| (1, e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| (1, format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
    let address = listener
        .local_addr()
        .map_err(|e| (1, format!("cannot read the listening address: {e}")))?;
    println!("listening on http://{address} ({:?} backend)", args.backend);
    let app = serve::router(running.ports.clone(), running.api_config.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| (1, format!("server failed: {e}")))
}
