//! The state every simulated component shares: one seeded RNG, the fault
//! switches, the trace and the counters.
//!
//! Everything runs on one thread and is polled in an order the scheduler
//! picks, so a `Mutex` here is never contended: it only exists because the
//! ports must be `Send + Sync`.

use crate::faults::{FaultKind, KINDS};
use crate::trace::{Event, Trace};
use pipeline::PortError;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Mutex, MutexGuard};

/// The text of an injected permanent error: the run expects the steps to
/// report it as a failure, not a violation.
pub const DENIED: &str = "simulated AccessDenied";

/// Per-kind probabilities (0 disables a kind).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates([f64; KINDS]);

impl Rates {
    pub fn get(&self, kind: FaultKind) -> f64 {
        self.0[kind.index()]
    }
    pub fn set(&mut self, kind: FaultKind, p: f64) {
        self.0[kind.index()] = p.clamp(0.0, 1.0);
    }
}

impl fmt::Display for Rates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for kind in FaultKind::ALL {
            let p = self.get(kind);
            if p > 0.0 {
                if !first {
                    f.write_str(" ")?;
                }
                first = false;
                write!(f, "{}={:.3}", kind.name(), p)?;
            }
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// How many faults of each kind were injected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FaultCounts([u64; KINDS]);

impl FaultCounts {
    pub fn get(&self, kind: FaultKind) -> u64 {
        self.0[kind.index()]
    }
    pub fn bump(&mut self, kind: FaultKind) {
        self.0[kind.index()] += 1;
    }
    pub fn add(&mut self, other: &FaultCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, kind) in FaultKind::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} {}", kind.name(), self.get(*kind))?;
        }
        Ok(())
    }
}

/// Mutable simulation state behind [`Sim`].
pub struct State {
    pub rng: SmallRng,
    pub faults_on: bool,
    pub rates: Rates,
    /// The task being polled (0: the scheduler itself).
    pub task: u64,
    pub trace: Trace,
    pub counts: FaultCounts,
    /// Array id handed out by the sums wrapper, in order, with its plan.
    pub allocated: Vec<(String, usize)>,
    /// The random id `submit` generated -> the deterministic id used instead.
    pub renamed: BTreeMap<String, String>,
    /// Every distinct `done` sum seen per array, in order.
    pub observed: BTreeMap<String, Vec<String>>,
    /// Fresh ids for the naive reducer.
    pub fresh: u64,
    /// Object keys a read of which was refused (a simulated AccessDenied):
    /// their arrays may end `failed` as unreadable.
    pub denied_objects: BTreeSet<String>,
}

/// Shared handle to the simulation state.
pub struct Sim {
    state: Mutex<State>,
}

impl Sim {
    pub fn new(seed: u64, rates: Rates, trace_len: usize) -> Sim {
        Sim {
            state: Mutex::new(State {
                rng: SmallRng::seed_from_u64(seed ^ 0x5eed_fa17_u64),
                faults_on: false,
                rates,
                task: 0,
                trace: Trace::new(trace_len),
                counts: FaultCounts::default(),
                allocated: Vec::new(),
                renamed: BTreeMap::new(),
                observed: BTreeMap::new(),
                fresh: 0,
                denied_objects: BTreeSet::new(),
            }),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        // Never poisoned in practice (one thread); recover rather than panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that the current task starts `op` on `key`, and decides whether
    /// it fails before taking effect.
    pub fn before(&self, op: &'static str, key: &str) -> Result<(), PortError> {
        let mut s = self.lock();
        let task = s.task;
        s.trace.push(Event::Call {
            task,
            op,
            key: key.to_string(),
        });
        s.maybe_error(FaultKind::ErrorBefore, op, key)
    }

    /// Decides whether a call that took effect is sent again by the SDK,
    /// its first answer lost.
    pub fn retried(&self, op: &'static str, key: &str) -> bool {
        let mut s = self.lock();
        if !s.roll(FaultKind::RetriedAfterApplied) {
            return false;
        }
        let task = s.task;
        s.trace.push(Event::Fault {
            task,
            kind: FaultKind::RetriedAfterApplied,
            what: format!("{op} {key}"),
        });
        true
    }

    /// Decides whether a call that took effect reports a transient error.
    pub fn after(&self, op: &'static str, key: &str) -> Result<(), PortError> {
        self.lock().maybe_error(FaultKind::ErrorAfter, op, key)
    }

    /// Decides whether a multi-item write stops before its next chunk.
    pub fn partial(&self, op: &'static str, key: &str) -> Result<(), PortError> {
        self.lock().maybe_error(FaultKind::PartialWrite, op, key)
    }
}

impl State {
    /// The deterministic id standing for `id`, a random v4 id `submit`
    /// drew (renamed on first sight, for `plan`) or one already renamed.
    /// A seed must replay identically, so no random id may reach a trace.
    pub fn deterministic_id(&mut self, id: &str, plan: usize) -> String {
        if let Some(known) = self.renamed.get(id) {
            return known.clone();
        }
        if self.allocated.iter().any(|(a, _)| a == id) {
            return id.to_string();
        }
        let fresh = format!("00000000-0000-4000-8000-{:012x}", self.allocated.len() + 1);
        self.renamed.insert(id.to_string(), fresh.clone());
        self.allocated.push((fresh.clone(), plan));
        fresh
    }

    /// True with the probability of `kind`, if faults are on; counts it.
    pub fn roll(&mut self, kind: FaultKind) -> bool {
        if !self.faults_on {
            return false;
        }
        let p = self.rates.get(kind);
        if p > 0.0 && self.rng.gen_bool(p) {
            self.counts.bump(kind);
            true
        } else {
            false
        }
    }

    fn maybe_error(
        &mut self,
        kind: FaultKind,
        op: &'static str,
        key: &str,
    ) -> Result<(), PortError> {
        if !self.roll(kind) {
            return Ok(());
        }
        let task = self.task;
        self.trace.push(Event::Fault {
            task,
            kind,
            what: format!("{op} {key}"),
        });
        if kind == FaultKind::ErrorBefore && self.roll(FaultKind::Denied) {
            return Err(PortError::Rejected(format!("{DENIED}: {op}")));
        }
        Err(if self.rng.gen_bool(0.5) {
            PortError::Throttled(format!("simulated: {op}"))
        } else {
            PortError::Unavailable(format!("simulated: {op}"))
        })
    }
}
