//! The object store port: S3's HeadObject and ranged GetObject, as the
//! steps see them. `aws-ports` implements it on S3, `memory::objects` in
//! process.

use super::PortError;
use async_trait::async_trait;
use packet::ObjectRef;
use std::io::BufRead;
use std::pin::Pin;

/// Why an object could not be read. Only [`ObjectError::Port`] may pass
/// with a retry: the others end the array, with their text as the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    #[error("{0} does not exist")]
    NotFound(String),
    #[error(
        "{0} may not be read by the pipeline's functions (access denied): \
         grant them s3:GetObject on it, or put it in the stack's input bucket"
    )]
    Forbidden(String),
    #[error("{0} was overwritten after it was submitted (its ETag changed); submit it again")]
    Changed(String),
    /// GetObject of an object in S3 Glacier Flexible Retrieval or Deep
    /// Archive (not restored): S3's 403 InvalidObjectState, which no grant
    /// cures. HeadObject of it works.
    #[error(
        "{0} is in an archive storage class (S3 answered InvalidObjectState): restore it and \
         copy it to a storage class that can be read at once (e.g. STANDARD), or upload it again"
    )]
    Archived(String),
    /// GetObject of an object encrypted with a KMS key the functions may
    /// not use: an AccessDenied that s3:GetObject does not cure.
    #[error(
        "{0} is encrypted with a KMS key the pipeline's functions may not use (access denied \
         by KMS): grant them kms:Decrypt on that key, or upload the object with the bucket's \
         default encryption"
    )]
    KeyDenied(String),
    /// An HTTP 400 to a read of a version: not a missing object (S3 says
    /// 404 for that in a versioned bucket), so not skipped as one.
    #[error(
        "S3 refused to read {0} (400 Bad Request): its versionId is not one of the object's \
         versions, or it is encrypted with a customer-provided key (SSE-C), which the \
         pipeline does not have"
    )]
    Refused(String),
    #[error(transparent)]
    Port(#[from] PortError),
}

impl ObjectError {
    pub fn is_transient(&self) -> bool {
        matches!(self, ObjectError::Port(e) if e.is_transient())
    }
}

/// What HeadObject tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub etag: Option<String>,
    pub version_id: Option<String>,
}

/// The bytes of an object from some offset to its end, read as far as the
/// reader needs: dropping the body stops the transfer.
pub enum ObjectBody {
    /// Already local (memory, a file): read on the caller's thread.
    Local(Box<dyn BufRead + Send>),
    /// A network stream: the step reads it on a blocking thread.
    Stream(Pin<Box<dyn tokio::io::AsyncRead + Send>>),
}

/// An object store with S3's semantics for the two calls the steps make.
/// Both pin the object: its `version_id` if set, else its `etag` if set
/// (If-Match: a different ETag is [`ObjectError::Changed`]).
#[async_trait]
pub trait Objects: Send + Sync {
    /// HeadObject.
    async fn head(&self, object: &ObjectRef) -> Result<ObjectInfo, ObjectError>;
    /// GetObject with `Range: bytes=<from>-`; `from` must be less than the
    /// object's size (S3 answers 416 otherwise, and so does this port).
    async fn read_from(&self, object: &ObjectRef, from: u64) -> Result<ObjectBody, ObjectError>;
}
