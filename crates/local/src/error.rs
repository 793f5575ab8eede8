//! Why the local platform could not start, place an object, or answer a
//! request. The CLI decides what each means to its user (help text, exit
//! code); the messages here say what happened.

/// What went wrong in the local platform.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// template.yaml cannot be read.
    #[error("template.yaml: {0}")]
    Stack(#[from] stack::StackError),
    /// template.yaml lacks something the platform needs (or was asked for).
    #[error("template.yaml has no {0}")]
    Missing(String),
    /// The queues, tables or bucket could not be created (`--backend aws`).
    #[error("could not create the queues and tables: {0}")]
    Provision(String),
    /// A function's environment is no valid configuration.
    #[error(transparent)]
    Config(#[from] pipeline::config::ConfigError),
    /// A file to be summed as an object cannot be read.
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
    /// `--backend aws` without an input bucket in the template.
    #[error("this backend has no input bucket to put --file in")]
    NoInputBucket,
    /// A directory, a device or a pipe: only a regular file can be read by
    /// byte ranges (and a path without a file name cannot be an object key).
    #[error("{0} is not a file")]
    NotAFile(String),
    /// S3 refused or failed the upload of a file.
    #[error("cannot upload {path} to s3://{bucket}/{key}: {reason}")]
    Upload {
        path: String,
        bucket: String,
        key: String,
        reason: String,
    },
    /// A request to the in-process API could not be built (a bad path).
    #[error("cannot build a request to {path}: {reason}")]
    Request { path: String, reason: String },
    /// The in-process API's answer could not be read.
    #[error("cannot read the answer to {path}: {reason}")]
    Answer { path: String, reason: String },
}
