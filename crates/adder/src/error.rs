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
        help("give numbers (`1 2 3`), one JSON array (`'[1,2,3]'`), --file or --csv")
    )]
    Input(String),
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
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    #[diagnostic(code("adder::listen"), help("choose another --port"))]
    Listen { port: u16, source: std::io::Error },
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

impl Error {
    /// The process's exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input(_) | Error::Job(_) => 2,
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

/// Prints `error` as `adder: <what>`, then its help on a line of its own.
pub fn report(error: &Error) {
    eprintln!("adder: {error}");
    if let Some(help) = error.help() {
        eprintln!("  help: {help}");
    }
}
