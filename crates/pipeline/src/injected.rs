//! Ports that fail on purpose, for tests: wrap any port (in-process or
//! AWS) and tell an operation how to misbehave. Built only with the
//! `test-ports` feature, which the Lambdas never enable.
//!
//! The faults are the ones AWS and its SDK produce, including the one a
//! model of "what the steps call" misses: a write that applied, whose answer
//! was lost, retried by the SDK ([`Injection::RetriedAfterApplied`]): a
//! conditional put then answers "already there", an `ADD` counts twice, a
//! sent message arrives twice.

use crate::hooked::{Answer, CallError, Hook, Hooked, PortCall, Run};
use crate::ports::{Objects, PortError, Queue, Scratchpad, Sums};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How an operation misbehaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injection {
    /// Fails without taking effect.
    Before(PortError),
    /// Takes effect, then reports this error.
    After(PortError),
    /// Takes effect, then runs again (the SDK's retry of a request whose
    /// answer was lost), and answers what the second run answered.
    RetriedAfterApplied,
}

/// Operations the AWS adapters send once, without the SDK's retries,
/// because they are not idempotent (see `Sums::add_progress`).
pub const SENT_ONCE: &[&str] = &["add_progress"];

impl Injection {
    /// What a lost answer does to `op`: the SDK retries it, unless the
    /// adapter sends it once, when the caller sees an error instead.
    pub fn lost_answer(op: &str) -> Injection {
        if SENT_ONCE.contains(&op) {
            Injection::After(PortError::Unavailable(format!("{op}: answer lost")))
        } else {
            Injection::RetriedAfterApplied
        }
    }
}

/// Which operations misbehave, by name (`"insert"`, `"send"`, …), and for
/// how many calls (`None`: every call).
#[derive(Default)]
pub struct Injections(Mutex<HashMap<&'static str, (Injection, Option<u32>)>>);

impl Injections {
    /// Makes `op` misbehave on every call until [`Injections::clear`].
    pub fn set(&self, op: &'static str, how: Injection) {
        self.lock().insert(op, (how, None));
    }

    /// Makes `op` misbehave on its next `calls` calls only.
    pub fn set_for(&self, op: &'static str, how: Injection, calls: u32) {
        self.lock().insert(op, (how, Some(calls)));
    }

    pub fn clear(&self, op: &'static str) {
        self.lock().remove(op);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, (Injection, Option<u32>)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The injection for this call of `op`, counting it down.
    fn take(&self, op: &'static str) -> Option<Injection> {
        let mut map = self.lock();
        let (how, left) = map.get_mut(op)?;
        let how = how.clone();
        match left {
            Some(0) => return None,
            Some(n) => *n -= 1,
            None => {}
        }
        Some(how)
    }
}

/// The hook of an injected port: [`Injections`] by method name, on every
/// call of the port it wraps.
#[derive(Default)]
pub struct Injector {
    pub faults: Injections,
}

#[async_trait]
impl Hook for Injector {
    async fn around<'r, T: Answer, E: CallError + 'r>(
        &self,
        call: PortCall<'r>,
        run: &Run<'r, T, E>,
    ) -> Result<T, E> {
        match self.faults.take(call.method()) {
            None => run().await,
            Some(Injection::Before(e)) => Err(e.into()),
            Some(Injection::After(e)) => {
                run().await?;
                Err(e.into())
            }
            Some(Injection::RetriedAfterApplied) => {
                run().await?;
                run().await
            }
        }
    }
}

/// A [`Queue`] with [`Injections`] on `send`, `receive` and `delete`.
pub type InjectedQueue = Hooked<Injector, dyn Queue>;
/// A [`Scratchpad`] with [`Injections`] on each operation, named as the method.
pub type InjectedScratchpad = Hooked<Injector, dyn Scratchpad>;
/// A [`Sums`] with [`Injections`] on each operation, named as the method.
pub type InjectedSums = Hooked<Injector, dyn Sums>;
/// An [`Objects`] with [`Injections`] on `head` and `read_from`.
pub type InjectedObjects = Hooked<Injector, dyn Objects>;

impl<P: ?Sized> Hooked<Injector, P> {
    /// `inner`, misbehaving as told by `faults.set(…)`.
    pub fn new(inner: Arc<P>) -> Arc<Hooked<Injector, P>> {
        Arc::new(Hooked::wrap(Injector::default(), inner))
    }
}
