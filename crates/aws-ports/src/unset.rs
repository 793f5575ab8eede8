//! A port for a name a function was not given.

use async_trait::async_trait;
use pipeline::hooked::{Answer, CallError, Hook, Hooked, PortCall, Run};
use pipeline::PortError;
use std::sync::Arc;

/// Stands in for a queue or table whose environment variable is not set.
///
/// Each function gets only the names it uses (as its IAM policy allows only
/// those resources), so a call through any other port is a bug: it fails
/// with `Rejected`, naming the variable, instead of at start-up.
#[derive(Debug, Clone, Copy)]
pub struct Unset {
    pub variable: &'static str,
}

impl Unset {
    /// A port of any kind (`dyn Queue`, `dyn Sums`, …) with nothing behind
    /// it, whose every call fails naming `variable`.
    pub fn port<P: ?Sized>(variable: &'static str) -> Arc<Hooked<Unset, P>> {
        Arc::new(Hooked::answered_by(Unset { variable }))
    }
}

#[async_trait]
impl Hook for Unset {
    async fn around<'r, T: Answer, E: CallError + 'r>(
        &self,
        _call: PortCall<'r>,
        _run: &Run<'r, T, E>,
    ) -> Result<T, E> {
        Err(PortError::Rejected(format!("{} is not set for this function", self.variable)).into())
    }
}
