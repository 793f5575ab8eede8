//! Why an `adder` command failed, with what to do about it (`help`) and the
//! exit code a script reads: 2 for the user's mistakes (bad input, a request
//! the API refused with a 4xx), 1 for everything else. Each diagnostic code
//! is a string: a name for a script to match, not a path into this crate.

use miette::Diagnostic;

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum Error {
    /// The numbers, file or CSV given cannot be read as an array.
    #[error("{0}")]
    #[diagnostic(
        code("adder::input"),
        help("give numbers (`1 2 3`), one JSON array (`'[1,2,3]'`), --file FILE, or pipe them in")
    )]
    Input(String),
    /// A flag's value that cannot be used as given (`--api localhost:3000`).
    #[error("{0}")]
    #[diagnostic(code("adder::usage"))]
    Usage(String),
    /// A job the command cannot run as asked (`--job`, `--param`).
    #[error("{0}")]
    #[diagnostic(
        code("adder::job"),
        help("see docs/jobs.md for the jobs and their parameters")
    )]
    Job(String),
    #[error("template.yaml: {0}")]
    #[diagnostic(code("adder::template"))]
    Template(#[from] stack::StackError),
    /// The local platform could not start, or its in-process API failed.
    #[error(transparent)]
    #[diagnostic(code("adder::local"))]
    Local(local::Error),
    #[error("cannot listen on {address}: {source}")]
    #[diagnostic(
        code("adder::listen"),
        help("choose another --port, or --bind address")
    )]
    Listen {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    #[diagnostic(code("adder::serve"))]
    Serve(std::io::Error),
    #[error("cannot reach the API at {base}: {source}")]
    #[diagnostic(
        code("adder::unreachable"),
        help("is `adder serve` running, or is --api right?")
    )]
    Unreachable {
        base: String,
        source: reqwest::Error,
    },
    /// Ctrl-C: the runner gave back the messages it held.
    #[error("interrupted; the local pipeline gave back the messages it held")]
    #[diagnostic(code("adder::interrupted"))]
    Interrupted,
    /// A body the API would refuse with 413, found before sending it.
    #[error(
        "the array is {bytes} bytes as a request body; the API accepts at most {limit} \
         (it would answer 413)"
    )]
    #[diagnostic(
        code("adder::too_large"),
        help("sum it by byte ranges: `adder sum --file FILE`, or upload it and `adder submit --s3 s3://BUCKET/KEY`")
    )]
    TooLarge { bytes: usize, limit: usize },
    /// A non-200 answer; `why` is the API's `error` text.
    #[error("the API answered {status}: {why}")]
    #[diagnostic(code("adder::refused"))]
    Refused { status: u16, why: String },
    #[error("unexpected answer from {what}: {text}")]
    #[diagnostic(code("adder::unexpected"))]
    Unexpected { what: String, text: String },
    #[error("array {array_id} failed ({kind}): {reason}")]
    #[diagnostic(code("adder::array_failed"))]
    ArrayFailed {
        array_id: String,
        kind: String,
        reason: String,
    },
    #[error("array {array_id} not done after {seconds} s")]
    #[diagnostic(code("adder::timeout"), help("raise --timeout"))]
    NotDone { array_id: String, seconds: u64 },
    #[error("--sigv4: {0}")]
    #[diagnostic(
        code(adder::sigv4),
        help("set AWS credentials and AWS_REGION as for the AWS CLI")
    )]
    Signing(String),
    /// A deployed stack, its outputs, or the admin tools over its resources.
    #[error("{0}")]
    #[diagnostic(code("adder::aws"))]
    Aws(String),
    #[error(transparent)]
    #[diagnostic(code("adder::admin"))]
    Admin(#[from] stack_tools::AdminError),
    /// `adder bench` read a sum (or length) other than the one it generated.
    #[error("{0}")]
    #[diagnostic(code("adder::wrong_sum"))]
    WrongSum(String),
    /// `adder bench --arrays` flags that describe no workload.
    #[error("{0}")]
    #[diagnostic(code("adder::workload"))]
    Workload(String),
    /// `adder bench --object` could not write its generated file.
    #[error("cannot write {path}: {source}")]
    #[diagnostic(code("adder::bench_file"))]
    BenchFile {
        path: String,
        source: std::io::Error,
    },
    /// `adder bench --object --backend aws`: the upload's S3 notification
    /// never reached the pipeline.
    #[error("the upload's notification was not handled in {seconds} s")]
    #[diagnostic(code("adder::not_notified"))]
    NotNotified { seconds: u64 },
}

/// Failure kinds that say the data (or the job asked for) was wrong.
const USERS_DATA: [&str; 4] = ["bad_data", "too_many_groups", "key_too_long", "job_failed"];

impl Error {
    /// The process's exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input(_)
            | Error::Usage(_)
            | Error::Job(_)
            | Error::Workload(_)
            | Error::TooLarge { .. } => 2,
            // As a shell reports a process ended by SIGINT.
            Error::Interrupted => 130,
            // The data was the user's to fix, not the pipeline's.
            Error::ArrayFailed { kind, .. } if USERS_DATA.contains(&kind.as_str()) => 2,
            Error::Refused { status, .. } if (400..500).contains(status) => 2,
            _ => 1,
        }
    }

    /// The answer to a refused request: the API's `error` text when it
    /// sent one, else the whole body.
    pub fn refused(status: u16, text: &str) -> Error {
        let why = serde_json::from_str::<handlers::wire::ProblemBody>(text)
            .map_or_else(|_| text.to_string(), |problem| problem.error);
        Error::Refused { status, why }
    }
}

/// The local platform's errors, as the CLI reports them: a file that cannot
/// be summed is the user's to fix (help and exit code 2, as for any input),
/// an upload S3 refused is AWS's; everything else is the platform's.
impl From<local::Error> for Error {
    fn from(error: local::Error) -> Error {
        use local::Error as E;
        match error {
            E::Unreadable { .. } | E::NoInputBucket | E::NotAFile(_) => {
                Error::Input(error.to_string())
            }
            E::Upload { .. } => Error::Aws(error.to_string()),
            error => Error::Local(error),
        }
    }
}

/// Prints `error` as `adder: <what>`, then its help on a line of its own:
/// the variant's, or for a failed AWS call a hint at its likely cause.
pub fn report(error: &Error, endpoint: Option<&str>) {
    eprintln!("{}", text(error, endpoint));
}

/// What [`report`] prints.
pub fn text(error: &Error, endpoint: Option<&str>) -> String {
    let what = error.to_string();
    let help = match error {
        Error::Aws(_) | Error::Local(_) | Error::Admin(_) => aws_hint(&what, endpoint),
        _ => error.help().map(|h| h.to_string()),
    };
    match help {
        Some(help) => format!("adder: {what}\n  help: {help}"),
        None => format!("adder: {what}"),
    }
}

/// Why an AWS call likely failed, from what it said: nothing listening at
/// the endpoint, or a stack or region that does not exist.
fn aws_hint(what: &str, endpoint: Option<&str>) -> Option<String> {
    let unreachable = ["dispatch failure", "Connection refused", "connect error"]
        .iter()
        .any(|s| what.contains(s));
    if unreachable {
        return Some(match endpoint {
            Some(url) => format!(
                "nothing answered at {url}: is moto running there? \
                 (`.venv/bin/moto_server -H 127.0.0.1 -p 5000`)"
            ),
            None => "AWS could not be reached: check your network, or give --endpoint-url \
                     (AWS_ENDPOINT_URL) for moto or LocalStack"
                .to_string(),
        });
    }
    if what.contains("does not exist") || what.contains("NonExistentQueue") {
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "not set".into());
        return Some(format!(
            "check --stack (the deployed stack's name) or --prefix, and AWS_REGION ({region})"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_failures_say_what_failed_and_a_likely_cause() {
        let down = Error::Aws(
            "cannot describe stack s: dispatch failure: io error: client error (Connect): \
             tcp connect error: Connection refused (os error 111)"
                .into(),
        );
        assert_eq!(
            text(&down, Some("http://127.0.0.1:5999")),
            "adder: cannot describe stack s: dispatch failure: io error: client error (Connect): \
             tcp connect error: Connection refused (os error 111)\n  help: nothing answered at \
             http://127.0.0.1:5999: is moto running there? (`.venv/bin/moto_server -H 127.0.0.1 -p 5000`)"
        );
        let missing = Error::Aws(
            "cannot describe stack nope: ValidationError: Stack with id nope does not exist".into(),
        );
        let help = text(&missing, None);
        assert!(
            help.ends_with("and AWS_REGION (us-east-1)") || help.contains("AWS_REGION ("),
            "{help}"
        );
        let too_large = Error::TooLarge {
            bytes: 7_000_000,
            limit: 6_225_920,
        };
        assert_eq!(too_large.exit_code(), 2);
        assert_eq!(
            text(&too_large, None),
            "adder: the array is 7000000 bytes as a request body; the API accepts at most 6225920 \
             (it would answer 413)\n  help: sum it by byte ranges: `adder sum --file FILE`, or \
             upload it and `adder submit --s3 s3://BUCKET/KEY`"
        );
    }
}
