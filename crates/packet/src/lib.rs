//! The packet model of the distributed adder.
//!
//! Everything here is pure: exact decimal numbers ([`Number`]), the request body
//! parser ([`parse_array`]), the deterministic merge tree ([`Tree`]) that decides
//! which packet merges into which, and the messages that travel on the two queues.
//! Keeping it free of AWS lets the Lambdas, the local runner and the simulation
//! share one definition of what a packet is.

mod body;
mod message;
mod number;
mod tree;

pub use body::{parse_array, BodyError};
pub use message::{MapMessage, MessageError, ReduceMessage};
pub use number::{check_number, sum_texts, Number, NumberError};
pub use tree::{NodeId, Tree, TreeError};

/// One row of the scratchpad table: the sum of the doubled elements of a
/// contiguous slice of the array, named as in the original TypeScript adder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The array this packet belongs to (the real id, not the shard key).
    pub array_id: String,
    /// Where the packet sits in the merge tree.
    pub node: NodeId,
    /// Sum of the doubled elements this packet covers.
    pub packet_value: Number,
    /// Number of elements of the whole array.
    pub array_length: u64,
    /// Number of elements this packet covers.
    pub packet_contains: u64,
}
