//! The run's trace: a ring of the last events, for a readable failure report,
//! and a digest of every event, to check that a seed replays identically.

use crate::faults::FaultKind;
use std::collections::hash_map::DefaultHasher;
use std::collections::VecDeque;
use std::fmt;
use std::hash::{Hash, Hasher};

/// Something that happened in a run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Event {
    /// A client (API Gateway + sum_array) attempts to submit plan `plan`.
    Submit { task: u64, plan: usize },
    /// The submit answered (with the array's short name, or the error).
    Submitted {
        task: u64,
        plan: usize,
        result: String,
    },
    /// The event source mapping hands a batch to a new invocation.
    Deliver {
        task: u64,
        queue: &'static str,
        messages: Vec<String>,
    },
    /// A port call starts.
    Call {
        task: u64,
        op: &'static str,
        key: String,
    },
    /// A fault was injected.
    Fault {
        task: u64,
        kind: FaultKind,
        what: String,
    },
    /// A handler died at a scheduling point.
    Crash { task: u64 },
    /// Lambda stopped a handler at its timeout.
    Timeout { task: u64 },
    /// An invocation returned; `failed` lists the failed items and why.
    Finish {
        task: u64,
        ok: usize,
        failed: Vec<String>,
    },
    /// Virtual time jumped.
    Clock { to_ms: u64, why: &'static str },
    /// Faults stop.
    Calm,
    /// A dead-letter queue was redriven into its source queue.
    Redrive {
        queue: &'static str,
        messages: usize,
    },
    /// Something happened to the S3 object of object plan `plan`.
    Object { plan: usize, what: String },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Submit { task, plan } => write!(f, "t{task} submit plan {plan}"),
            Event::Submitted { task, plan, result } => {
                write!(f, "t{task} submit plan {plan} -> {result}")
            }
            Event::Deliver {
                task,
                queue,
                messages,
            } => write!(f, "t{task} <- {queue} [{}]", messages.join("; ")),
            Event::Call { task, op, key } => write!(f, "t{task}   {op} {key}"),
            Event::Fault { task, kind, what } => {
                write!(f, "t{task}   !! {} on {what}", kind.name())
            }
            Event::Crash { task } => write!(f, "t{task} !! CRASH (future dropped)"),
            Event::Timeout { task } => write!(f, "t{task} !! killed at its Lambda timeout"),
            Event::Finish { task, ok, failed } => {
                write!(f, "t{task} returned: {ok} ok")?;
                if !failed.is_empty() {
                    write!(f, ", failed: {}", failed.join("; "))?;
                }
                Ok(())
            }
            Event::Clock { to_ms, why } => write!(f, "clock -> {to_ms} ms ({why})"),
            Event::Calm => f.write_str("=== faults stop; running to quiescence ==="),
            Event::Redrive { queue, messages } => {
                write!(f, "redrive {messages} message(s) from {queue} DLQ")
            }
            Event::Object { plan, what } => write!(f, "object plan {plan}: {what}"),
        }
    }
}

/// One trace line: scheduler step, virtual time, event.
#[derive(Debug, Clone)]
pub struct Entry {
    pub step: u64,
    pub at_ms: u64,
    pub event: Event,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:<7} {:>9}ms  {}", self.step, self.at_ms, self.event)
    }
}

/// The last `capacity` events and a digest of all of them.
pub struct Trace {
    capacity: usize,
    entries: VecDeque<Entry>,
    hasher: DefaultHasher,
    count: u64,
    pub step: u64,
    pub now_ms: u64,
}

impl Trace {
    pub fn new(capacity: usize) -> Trace {
        Trace {
            capacity,
            entries: VecDeque::with_capacity(capacity.min(4096)),
            hasher: DefaultHasher::new(),
            count: 0,
            step: 0,
            now_ms: 0,
        }
    }

    pub fn push(&mut self, event: Event) {
        self.step.hash(&mut self.hasher);
        event.hash(&mut self.hasher);
        self.count += 1;
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(Entry {
            step: self.step,
            at_ms: self.now_ms,
            event,
        });
    }

    /// A digest of every event so far (same seed, same digest).
    pub fn digest(&self) -> u64 {
        self.hasher.finish() ^ self.count
    }

    pub fn events(&self) -> u64 {
        self.count
    }

    pub fn lines(&self) -> Vec<String> {
        self.entries.iter().map(ToString::to_string).collect()
    }
}
