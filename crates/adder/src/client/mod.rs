//! The command-line client: talks to a running API (`adder serve` or a
//! deployed stack) over HTTP, and inspects the stack's queues and tables
//! through the AWS APIs.
//!
//! The HTTP commands (`submit`, `wait`, `get`) need nothing but the API's
//! URL. The inspection commands (`pending`, `scratchpad`, `dlq`) read what no
//! API route exposes, so they need AWS credentials (or a local endpoint) and
//! the deployed names, from a stack's outputs (`--stack`) or the runner's
//! naming (`--prefix`).

pub(crate) mod api;
mod inspect;
mod sign;
mod target;

use crate::error::Error;
use crate::submit;
use clap::{Args, Subcommand, ValueEnum};
use handlers::wire::ObjectRequest;
use std::time::Duration;

pub use target::AwsArgs;

/// Where the API is.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Base URL of the API: `adder serve`'s, or a deployed stack's `ApiUrl` output.
    #[arg(long, env = "ADDER_API", default_value = "http://127.0.0.1:3000")]
    pub api: String,
    /// Read the API URL from this deployed CloudFormation stack's `ApiUrl`
    /// output instead (needs AWS credentials).
    #[arg(long)]
    pub stack: Option<String>,
    /// API Gateway API key, sent as `x-api-key` (for a stack whose methods require one).
    #[arg(long, env = "ADDER_API_KEY")]
    pub api_key: Option<String>,
    /// Sign requests with SigV4 for a stack deployed with `ApiAuth=AWS_IAM`
    /// (the default), with the AWS credentials and region of the environment.
    #[arg(long)]
    pub sigv4: bool,
}

/// The dead-letter queue a `dlq` command works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueueChoice {
    TimesTwo,
    Reduce,
    /// The input bucket's S3 notifications.
    ObjectCreated,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Lists the messages of a dead-letter queue with the reason each is
    /// there, leaving them in place.
    List {
        /// Only this queue's dead letters (all three queues otherwise).
        #[arg(long, value_enum)]
        queue: Option<QueueChoice>,
        /// Also print each message's body.
        #[arg(long)]
        bodies: bool,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Moves every dead letter back to the queue it came from, to be
    /// processed again (safe: every step is idempotent).
    Redrive {
        /// Only this queue's dead letters (all three queues otherwise).
        #[arg(long, value_enum)]
        queue: Option<QueueChoice>,
        #[command(flatten)]
        aws: AwsArgs,
    },
}

/// The client's subcommands, flattened into `adder`'s.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Submits an array to the API (POST /sumArray) and prints its arrayId,
    /// or with --wait its sum.
    Submit {
        #[command(flatten)]
        input: crate::input::Numbers,
        /// Sum this S3 object instead (`s3://bucket/key`), by byte ranges
        /// (POST /sumObject), laid out as --format, --column and the header
        /// flags say. The same object version is one array however often it
        /// is submitted.
        #[arg(long, conflicts_with_all = ["file", "numbers"])]
        s3: Option<String>,
        /// With --s3: the object version to sum (the current one otherwise).
        #[arg(long, requires = "s3")]
        version_id: Option<String>,
        /// The API's Idempotency-Key: a retried submit with the same key,
        /// body and job answers with the array the first one started.
        #[arg(long, conflicts_with = "s3")]
        idempotency_key: Option<String>,
        #[command(flatten)]
        job: crate::job::JobArgs,
        /// Wait for the sum, with a progress bar on stderr, and print it.
        #[arg(long)]
        wait: bool,
        /// With --wait: give up after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Waits for an array to finish, with a progress bar on stderr, and prints its sum.
    Wait {
        array_id: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Prints an array's record as the API returns it (GET /sums/{arrayId}).
    Get {
        array_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Admin tool: lists the arrays whose status is pending. Scans the whole
    /// sums table (reads, and bills, every row), through the AWS APIs.
    Pending {
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Admin tool: shows an array's scratchpad packets (packetId,
    /// packetValue, packetContains, consumed), through the AWS APIs.
    Scratchpad {
        array_id: String,
        /// Scan the whole table for rows whose key starts with the id, rather
        /// than walking the array's merge tree (works without a sums record).
        #[arg(long)]
        scan: bool,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Admin tool: dead-letter queues, through the AWS APIs.
    #[command(subcommand)]
    Dlq(DlqCommand),
}

impl Command {
    /// The `--endpoint-url` of a command that talks to AWS itself.
    pub fn endpoint(&self) -> Option<String> {
        match self {
            Command::Pending { aws }
            | Command::Scratchpad { aws, .. }
            | Command::Dlq(DlqCommand::List { aws, .. } | DlqCommand::Redrive { aws, .. }) => {
                aws.endpoint_url.clone()
            }
            _ => None,
        }
    }
}

/// The POST /sumObject request for `s3://bucket/key`.
fn object_request(
    url: &str,
    version_id: Option<String>,
    input: &crate::input::Numbers,
) -> Result<ObjectRequest, Error> {
    let (bucket, key) = url
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty())
        .ok_or_else(|| Error::Input(format!("--s3 {url:?} is not s3://bucket/key")))?;
    Ok(ObjectRequest {
        version_id,
        ..input.request(bucket, key)
    })
}

/// `value` as one line of JSON (the wire types always serialize).
fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Runs one client command.
pub async fn run(command: Command, json: bool) -> Result<(), Error> {
    match command {
        Command::Submit {
            s3: Some(url),
            input,
            version_id,
            job,
            wait,
            timeout,
            api,
            ..
        } => {
            let request = object_request(&url, version_id, &input)?;
            let request = crate::job::with_job(request, &job.spec());
            let client = api::Client::new(&api).await?;
            let submitted = submit::submit_object(&client, &request).await?;
            if wait {
                let how = api::backing_off(Duration::from_secs(timeout));
                submit::wait_done(&client, &submitted.array_id, &how)
                    .await?
                    .print(json);
            } else if json {
                println!("{}", to_json(&submitted));
            } else {
                eprintln!("{}", submitted.array_status);
                println!("{}", submitted.array_id);
            }
            Ok(())
        }
        Command::Submit {
            input,
            idempotency_key,
            job,
            wait,
            timeout,
            api,
            ..
        } => {
            let job = job.spec();
            let body = input.body().map_err(Error::Input)?;
            let client = api::Client::new(&api)
                .await?
                .with_idempotency_key(idempotency_key);
            if wait {
                let how = api::backing_off(Duration::from_secs(timeout));
                let (_, done) = submit::submit_and_wait(&client, body, &job, &how).await?;
                done.print(json);
            } else {
                let accepted = submit::submit(&client, body, &job).await?;
                match json {
                    true => println!("{}", to_json(&accepted)),
                    false => println!("{}", accepted.array_id),
                }
            }
            Ok(())
        }
        Command::Wait {
            array_id,
            timeout,
            api,
        } => {
            let client = api::Client::new(&api).await?;
            let how = api::backing_off(Duration::from_secs(timeout));
            submit::wait_done(&client, &array_id, &how)
                .await?
                .print(json);
            Ok(())
        }
        Command::Get { array_id, api } => {
            let client = api::Client::new(&api).await?;
            println!("{}", submit::get(&client, &array_id).await?);
            Ok(())
        }
        Command::Pending { aws } => inspect::pending(&aws, json).await,
        Command::Scratchpad {
            array_id,
            scan,
            aws,
        } => inspect::scratchpad(&aws, &array_id, scan, json).await,
        Command::Dlq(DlqCommand::List { queue, bodies, aws }) => {
            inspect::dlq_list(&aws, queue, bodies, json).await
        }
        Command::Dlq(DlqCommand::Redrive { queue, aws }) => {
            inspect::dlq_redrive(&aws, queue, json).await
        }
    }
}
