//! The kinds of fault the simulation injects, named as the trace and the
//! reports name them. Apart from the state that draws them and the trace
//! that records them, so that neither of those has to know the other.

/// The kinds of fault the simulation injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// A delivered message gets a second copy on the queue.
    Duplicate,
    /// A receive took effect (messages hidden) but its reply was lost.
    ReceiveLost,
    /// A received batch is handed over in a shuffled order.
    Reorder,
    /// Virtual time jumps past the visibility timeout while handlers run.
    VisibilityExpiry,
    /// A handler dies at a scheduling point (its future is dropped).
    Crash,
    /// A port call fails with a transient error before taking effect.
    ErrorBefore,
    /// A port call takes effect, then fails with a transient error.
    ErrorAfter,
    /// A multi-item write fails part-way (some chunks applied).
    PartialWrite,
    /// The event source mapping fails to delete a processed message.
    DeleteLost,
    /// Lambda stopped a handler at its function timeout (not drawn from a
    /// rate: it follows from slow handlers when the run enforces timeouts).
    Timeout,
    /// A write took effect, its answer was lost, and the SDK sent it again:
    /// the caller sees the second attempt's answer ("already there", "already
    /// done", a second copy of a message).
    RetriedAfterApplied,
    /// A call is refused for good (AccessDenied, a validation error): no
    /// retry of the same request can succeed while the cause lasts.
    Denied,
    /// The pipeline stops for longer than SQS keeps messages and the
    /// scratchpad keeps rows: messages past their retention are dropped and
    /// rows past their TTL deleted; arrays caught in it must still end.
    Outage,
}

pub(crate) const KINDS: usize = 13;

impl FaultKind {
    pub const ALL: [FaultKind; KINDS] = [
        FaultKind::Duplicate,
        FaultKind::ReceiveLost,
        FaultKind::Reorder,
        FaultKind::VisibilityExpiry,
        FaultKind::Crash,
        FaultKind::ErrorBefore,
        FaultKind::ErrorAfter,
        FaultKind::PartialWrite,
        FaultKind::DeleteLost,
        FaultKind::Timeout,
        FaultKind::RetriedAfterApplied,
        FaultKind::Denied,
        FaultKind::Outage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Duplicate => "duplicate",
            FaultKind::ReceiveLost => "receive-lost",
            FaultKind::Reorder => "reorder",
            FaultKind::VisibilityExpiry => "visibility-expiry",
            FaultKind::Crash => "crash",
            FaultKind::ErrorBefore => "error-before",
            FaultKind::ErrorAfter => "error-after",
            FaultKind::PartialWrite => "partial-write",
            FaultKind::DeleteLost => "delete-lost",
            FaultKind::Timeout => "timeout",
            FaultKind::RetriedAfterApplied => "retried-after-applied",
            FaultKind::Denied => "denied",
            FaultKind::Outage => "outage",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}
