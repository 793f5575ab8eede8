//! One wrapper for every port: [`Hooked`] sends each call through a
//! [`Hook`], which decides what happens around it.
//!
//! Whatever must happen around a port's calls is a hook: faults a test
//! injects (`injected`), the refusal of a port a function was not given
//! (`aws_ports::Unset`), the simulation's faults, the local runner's counts.
//! Each port method is forwarded here, and only here, so a new port method
//! is written once in each implementation (AWS, in-process) and once below;
//! no hook has to change.

use crate::ports::{
    Claimed, Completion, Failing, Failure, KeyClaim, ObjectBody, ObjectError, ObjectInfo, Objects,
    PortError, Progress, Put, Queue, Received, Scratchpad, ScratchpadRow, SumRecord, Sums,
};
use async_trait::async_trait;
use futures::future::BoxFuture;
use packet::job::Stored;
use packet::ObjectRef;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

/// One call through a port, with its arguments: what a hook names, counts
/// or bases its decision on.
#[derive(Debug, Clone, Copy)]
pub enum PortCall<'a> {
    Send {
        bodies: &'a [String],
    },
    Receive {
        max: usize,
        wait: Duration,
        visibility: Duration,
    },
    Delete {
        receipts: &'a [String],
    },
    Release {
        receipts: &'a [String],
    },
    PutNew {
        row: &'a ScratchpadRow,
    },
    Group {
        partition_key: &'a str,
    },
    Retire {
        rows: &'a [ScratchpadRow],
    },
    ClaimIdempotencyKey {
        claim: &'a KeyClaim<'a>,
        now_s: u64,
    },
    Insert {
        record: &'a SumRecord,
    },
    Get {
        array_id: &'a str,
    },
    Complete {
        array_id: &'a str,
        result: &'a Stored,
        elements: u64,
        finished_at_ms: u64,
    },
    AddProgress {
        array_id: &'a str,
        progress: Progress,
    },
    MarkEnqueued {
        array_id: &'a str,
    },
    Fail {
        array_id: &'a str,
        failure: &'a Failure,
        now_ms: u64,
    },
    Head {
        object: &'a ObjectRef,
    },
    ReadFrom {
        object: &'a ObjectRef,
        from: u64,
    },
}

impl PortCall<'_> {
    /// The port's trait, in lower case: `queue`, `scratchpad`, `sums` or
    /// `objects`.
    pub fn port(&self) -> &'static str {
        use PortCall::*;
        match self {
            Send { .. } | Receive { .. } | Delete { .. } | Release { .. } => "queue",
            PutNew { .. } | Group { .. } | Retire { .. } => "scratchpad",
            ClaimIdempotencyKey { .. }
            | Insert { .. }
            | Get { .. }
            | Complete { .. }
            | AddProgress { .. }
            | MarkEnqueued { .. }
            | Fail { .. } => "sums",
            Head { .. } | ReadFrom { .. } => "objects",
        }
    }

    /// The method's name, as the port's trait spells it (`insert`, `send`).
    pub fn method(&self) -> &'static str {
        use PortCall::*;
        match self {
            Send { .. } => "send",
            Receive { .. } => "receive",
            Delete { .. } => "delete",
            Release { .. } => "release",
            PutNew { .. } => "put_new",
            Group { .. } => "group",
            Retire { .. } => "retire",
            ClaimIdempotencyKey { .. } => "claim_idempotency_key",
            Insert { .. } => "insert",
            Get { .. } => "get",
            Complete { .. } => "complete",
            AddProgress { .. } => "add_progress",
            MarkEnqueued { .. } => "mark_enqueued",
            Fail { .. } => "fail",
            Head { .. } => "head",
            ReadFrom { .. } => "read_from",
        }
    }
}

/// The call a hook wraps. A hook may run it once (pass it on), never (fail
/// it before it takes effect, or refuse it) or more than once (a request
/// the SDK sends again after its answer was lost).
pub type Run<'r, T, E> = dyn Fn() -> BoxFuture<'r, Result<T, E>> + Send + Sync + 'r;

/// What a port call answers. `'static`, so that a hook may look at an
/// answer by its type (`std::any::Any`): the local runner counts the rows a
/// `group` read.
pub trait Answer: Send + 'static {}
impl<T: Send + 'static> Answer for T {}

/// A port's error: [`PortError`], or [`ObjectError`] for the object store.
/// A hook's own failures are `PortError`s, converted.
pub trait CallError: From<PortError> + Send {}
impl<E: From<PortError> + Send> CallError for E {}

/// What happens around every call of a [`Hooked`] port.
#[async_trait]
pub trait Hook: Send + Sync {
    async fn around<'r, T: Answer, E: CallError + 'r>(
        &self,
        call: PortCall<'r>,
        run: &Run<'r, T, E>,
    ) -> Result<T, E>;
}

/// A port of any kind (`P` is `dyn Queue`, `dyn Sums`, … or an
/// implementation) whose every call goes through the hook `H`.
///
/// It dereferences to its hook, so the hook's settings are at hand:
/// `sums.faults.set(…)` on an `injected::InjectedSums`.
pub struct Hooked<H, P: ?Sized> {
    hook: H,
    /// `None` for a port with nothing behind it, whose hook answers every
    /// call itself (`aws_ports::Unset`).
    inner: Option<Arc<P>>,
}

impl<H, P: ?Sized> Hooked<H, P> {
    /// `inner`, with every call through `hook`.
    pub fn wrap(hook: H, inner: Arc<P>) -> Hooked<H, P> {
        Hooked {
            hook,
            inner: Some(inner),
        }
    }

    /// A port with nothing behind it: `hook` must answer every call, since
    /// running one fails with [`PortError::Rejected`].
    pub fn answered_by(hook: H) -> Hooked<H, P> {
        Hooked { hook, inner: None }
    }
}

impl<H, P: ?Sized> Deref for Hooked<H, P> {
    type Target = H;

    fn deref(&self) -> &H {
        &self.hook
    }
}

impl<H: Hook, P: ?Sized + Send + Sync> Hooked<H, P> {
    /// `call` through the hook, which runs `method` on the inner port.
    async fn through<'a, T: Answer, E: CallError + 'a>(
        &'a self,
        call: PortCall<'a>,
        method: impl Fn(&'a P) -> BoxFuture<'a, Result<T, E>> + Send + Sync + 'a,
    ) -> Result<T, E> {
        let run = move || -> BoxFuture<'a, Result<T, E>> {
            match &self.inner {
                Some(inner) => method(inner),
                None => {
                    let missing = PortError::Rejected(format!(
                        "{}.{}: no port behind this one",
                        call.port(),
                        call.method()
                    ));
                    Box::pin(async move { Err(missing.into()) })
                }
            }
        };
        self.hook.around(call, &run).await
    }
}

#[async_trait]
impl<H: Hook, P: Queue + ?Sized> Queue for Hooked<H, P> {
    async fn send(&self, bodies: Vec<String>) -> Result<(), PortError> {
        let call = PortCall::Send { bodies: &bodies };
        self.through(call, |q| q.send(bodies.clone())).await
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Received>, PortError> {
        let call = PortCall::Receive {
            max,
            wait,
            visibility,
        };
        self.through(call, |q| q.receive(max, wait, visibility))
            .await
    }

    async fn delete(&self, receipts: Vec<String>) -> Result<(), PortError> {
        let call = PortCall::Delete {
            receipts: &receipts,
        };
        self.through(call, |q| q.delete(receipts.clone())).await
    }

    async fn release(&self, receipts: Vec<String>) -> Result<(), PortError> {
        let call = PortCall::Release {
            receipts: &receipts,
        };
        self.through(call, |q| q.release(receipts.clone())).await
    }
}

#[async_trait]
impl<H: Hook, P: Scratchpad + ?Sized> Scratchpad for Hooked<H, P> {
    async fn put_new(&self, row: &ScratchpadRow) -> Result<Put, PortError> {
        self.through(PortCall::PutNew { row }, |s| s.put_new(row))
            .await
    }

    async fn group(&self, partition_key: &str) -> Result<Vec<ScratchpadRow>, PortError> {
        let call = PortCall::Group { partition_key };
        self.through(call, |s| s.group(partition_key)).await
    }

    async fn retire(&self, rows: &[ScratchpadRow]) -> Result<(), PortError> {
        self.through(PortCall::Retire { rows }, |s| s.retire(rows))
            .await
    }
}

#[async_trait]
impl<H: Hook, P: Sums + ?Sized> Sums for Hooked<H, P> {
    async fn claim_idempotency_key(
        &self,
        claim: &KeyClaim<'_>,
        now_s: u64,
    ) -> Result<Claimed, PortError> {
        let call = PortCall::ClaimIdempotencyKey { claim, now_s };
        self.through(call, |s| s.claim_idempotency_key(claim, now_s))
            .await
    }

    async fn insert(&self, record: &SumRecord) -> Result<Put, PortError> {
        self.through(PortCall::Insert { record }, |s| s.insert(record))
            .await
    }

    async fn get(&self, array_id: &str) -> Result<Option<SumRecord>, PortError> {
        self.through(PortCall::Get { array_id }, |s| s.get(array_id))
            .await
    }

    async fn complete(
        &self,
        array_id: &str,
        result: &Stored,
        elements: u64,
        finished_at_ms: u64,
    ) -> Result<Completion, PortError> {
        let call = PortCall::Complete {
            array_id,
            result,
            elements,
            finished_at_ms,
        };
        self.through(call, |s| {
            s.complete(array_id, result, elements, finished_at_ms)
        })
        .await
    }

    async fn add_progress(&self, array_id: &str, progress: Progress) -> Result<(), PortError> {
        let call = PortCall::AddProgress { array_id, progress };
        self.through(call, |s| s.add_progress(array_id, progress))
            .await
    }

    async fn mark_enqueued(&self, array_id: &str) -> Result<(), PortError> {
        let call = PortCall::MarkEnqueued { array_id };
        self.through(call, |s| s.mark_enqueued(array_id)).await
    }

    async fn fail(
        &self,
        array_id: &str,
        failure: &Failure,
        now_ms: u64,
    ) -> Result<Failing, PortError> {
        let call = PortCall::Fail {
            array_id,
            failure,
            now_ms,
        };
        self.through(call, |s| s.fail(array_id, failure, now_ms))
            .await
    }
}

#[async_trait]
impl<H: Hook, P: Objects + ?Sized> Objects for Hooked<H, P> {
    async fn head(&self, object: &ObjectRef) -> Result<ObjectInfo, ObjectError> {
        self.through(PortCall::Head { object }, |o| o.head(object))
            .await
    }

    async fn read_from(&self, object: &ObjectRef, from: u64) -> Result<ObjectBody, ObjectError> {
        let call = PortCall::ReadFrom { object, from };
        self.through(call, |o| o.read_from(object, from)).await
    }
}
