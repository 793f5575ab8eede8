//! The three steps of the adder, plus reading a result.

mod map;
mod object;
mod range;
mod reduce;
mod submit;

pub use map::{times_two, MapOutcome};
pub use object::{
    find_object, format_of_key, is_notification, object_created, object_source, submit_object,
    submit_object_job, Column, FormatName, FormatRequest, ObjectJob, ObjectSubmitError, MAX_RANGES,
};
pub use range::LINE_SCAN_LIMIT;
pub use reduce::{reduce, reduce_batch, ReduceOutcome, RETRIGGER_MARGIN_MS};
pub use submit::{get_sum, submit, submit_job, submit_with_key, SubmitError, Submitted};

use crate::ports::{Failure, FailureKind, PortError, Ports};
use packet::{MessageError, NodeId};

/// Why a step could not finish a message. The message is reported as a
/// failed batch item, so SQS delivers it again and, after its retries, moves
/// it to the dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("malformed message: {0}")]
    Message(#[from] MessageError),
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(
        "array {0} is unknown to the sums table; the message does not belong to a submitted array"
    )]
    UnknownArray(String),
    #[error("message for array {array_id} does not match the array's record: {what}")]
    Mismatch { array_id: String, what: String },
    #[error("scratchpad row {packet} of array {array_id} contradicts the merge tree: {what}")]
    Corrupt {
        array_id: String,
        packet: NodeId,
        what: String,
    },
}

impl StepError {
    /// The same error again, for each message of a batch that shared the work.
    pub fn duplicate(&self) -> StepError {
        match self {
            StepError::Message(e) => StepError::Port(PortError::Rejected(e.to_string())),
            StepError::Port(e) => StepError::Port(e.clone()),
            StepError::UnknownArray(a) => StepError::UnknownArray(a.clone()),
            StepError::Mismatch { array_id, what } => StepError::Mismatch {
                array_id: array_id.clone(),
                what: what.clone(),
            },
            StepError::Corrupt {
                array_id,
                packet,
                what,
            } => StepError::Corrupt {
                array_id: array_id.clone(),
                packet: *packet,
                what: what.clone(),
            },
        }
    }

    /// Whether a retry may succeed (a port hiccup) or the message is bad for good.
    pub fn is_transient(&self) -> bool {
        matches!(self, StepError::Port(e) if e.is_transient())
    }
}

/// A message failed on its last receive: SQS moves it to the dead-letter
/// queue next. Its array cannot finish without it, so it is failed now with
/// the reason (a redrive can still finish it). Returns whether an array was
/// failed; a message with no valid `arrayId` belongs to no array.
pub async fn fail_dead_lettered(
    ports: &Ports,
    function: &str,
    body: &str,
    error: &StepError,
) -> bool {
    let Some(array_id) = packet::array_id_of(body) else {
        return false;
    };
    let failure = Failure {
        kind: FailureKind::DeadLettered,
        reason: format!(
            "{function} failed on one of its messages on every receive ({error}); \
             the message is in the dead-letter queue: inspect it with `adder dlq list`, \
             replay it with `adder dlq redrive` once the cause is fixed"
        ),
        offset: None,
    };
    submit::fail_array(ports, &array_id, &failure).await;
    true
}
