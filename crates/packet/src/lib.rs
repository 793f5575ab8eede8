//! The packet model of the distributed adder.
//!
//! Everything here is pure: exact decimal numbers ([`Number`]), the request body
//! parser ([`parse_array`]), the jobs ([`job`]: what is computed), the
//! deterministic merge tree ([`Tree`]) that decides
//! which packet merges into which, and the messages that travel on the two queues.
//! Keeping it free of AWS lets the Lambdas, the local runner and the simulation
//! share one definition of what a packet is.

mod body;
pub mod job;
mod message;
mod number;
mod object;
pub mod ranges;
mod tree;

pub use body::{parse_array, BodyError};
pub use message::{
    array_id_of, MapMessage, MessageError, ReduceMessage, MAX_CHUNK_SIZE, MAX_MESSAGE_BYTES,
    MAX_REDUCE_MESSAGE_BYTES, MAX_REDUCE_TARGETS,
};
pub use number::{
    canonical, check_number, sum_texts, Number, NumberError, TextExtremes, TextSum,
    MAX_ELEMENT_TEXT,
};
pub use object::{ObjectRef, ObjectSource, RangeMessage};
pub use tree::{NodeId, Tree, TreeError};
