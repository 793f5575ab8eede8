//! The two queue messages, with the original's field names.
//!
//! A TimesTwo message is one leaf of the merge tree: a chunk of the array's
//! elements, carried as the exact text the client sent. A Reduce message names
//! the tree nodes whose children may now all be present. Both carry the tree's
//! shape (`arrayLength`, `chunkSize`, `fanIn`), fixed when the array was
//! submitted, so a change of configuration never changes an array in flight.

use crate::number::{check_number, sum_texts, Number, NumberError, MAX_ELEMENT_TEXT};
use crate::tree::{NodeId, Tree, TreeError};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::fmt::Write;

/// Why a queue message was refused. The message goes back to the queue and,
/// after its retries, to the dead-letter queue with this reason logged.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("message is not valid JSON for this queue: {0}")]
    Json(#[from] serde_json::Error),
    #[error("arrayId `{0}` is not a UUID")]
    BadArrayId(String),
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("packet {packet} carries {carried} elements but its tree says {expected}")]
    WrongCount {
        packet: NodeId,
        carried: usize,
        expected: u64,
    },
    #[error("element {index} of the packet: {source}")]
    BadNumber {
        index: usize,
        #[source]
        source: NumberError,
    },
    #[error("element {index} of the packet is {length} bytes long; at most {MAX_ELEMENT_TEXT} are allowed")]
    ElementTooLong { index: usize, length: usize },
    #[error("a TimesTwo message must carry a leaf (level 0), got {0}")]
    NotALeaf(NodeId),
    #[error("a range message's tree covers {array_length} bytes, its object has {size}")]
    WrongObjectTree { array_length: u64, size: u64 },
    #[error("a Reduce message must name at least one packet to merge")]
    NoTargets,
}

/// Largest message body the pipeline sends to a queue, and largest total of
/// one SendMessageBatch call: SQS's 1 MiB (raised from 256 KiB in 2025, the
/// default `MaximumMessageSize` of a new queue; `template.yaml` sets it on
/// every queue), which the in-process queue and moto (5.2.5, the version
/// `scripts/setup` installs) enforce too. A packet of [`MAX_CHUNK_SIZE`]
/// canonical elements fits it. LocalStack releases older than the change
/// still refuse bodies over 256 KiB: run them with `CHUNK_SIZE` ≤ 5,000.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// Bytes of a TimesTwo message besides its elements, at most: the field
/// names, a 36-byte array id, a leaf id and four 20-digit counts.
const MAP_ENVELOPE_BYTES: usize = 512;

/// Most elements a TimesTwo packet may carry: each takes at most
/// [`MAX_ELEMENT_TEXT`] bytes and a comma, so such a packet always fits
/// [`MAX_MESSAGE_BYTES`], whatever numbers the client sent.
pub const MAX_CHUNK_SIZE: u64 =
    ((MAX_MESSAGE_BYTES - MAP_ENVELOPE_BYTES) / (MAX_ELEMENT_TEXT + 1)) as u64;

pub(crate) fn check_array_id(array_id: &str) -> Result<(), MessageError> {
    match uuid::Uuid::try_parse(array_id) {
        Ok(_) if array_id.len() == 36 => Ok(()),
        _ => Err(MessageError::BadArrayId(
            array_id.chars().take(40).collect(),
        )),
    }
}

/// The `arrayId` of either kind of queue message, if the body has a valid
/// one, however broken the rest is: enough to tell which array a message
/// that keeps failing belongs to.
pub fn array_id_of(body: &str) -> Option<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Id {
        array_id: String,
    }
    let id: Id = serde_json::from_str(body).ok()?;
    check_array_id(&id.array_id).ok()?;
    Some(id.array_id)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MapWire<'a> {
    #[serde(borrow)]
    array_id: &'a str,
    #[serde(borrow)]
    packet_id: &'a str,
    array_length: u64,
    chunk_size: u64,
    fan_in: u64,
    packet_contains: u64,
    #[serde(borrow)]
    packet_value: Vec<&'a RawValue>,
}

/// A leaf packet on the TimesTwo queue, borrowing its element texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapMessage<'a> {
    pub array_id: &'a str,
    pub tree: Tree,
    pub leaf: NodeId,
    pub elements: Vec<&'a str>,
}

impl<'a> MapMessage<'a> {
    /// Writes the JSON body of leaf `leaf` whose elements are `elements`.
    /// Elements are copied verbatim (they were checked, and made short, when
    /// the body was parsed).
    pub fn encode<E: AsRef<str>>(array_id: &str, tree: &Tree, leaf: u64, elements: &[E]) -> String {
        let bytes: usize = elements.iter().map(|e| e.as_ref().len() + 1).sum();
        let mut out = String::with_capacity(bytes + 200);
        let _ = write!(
            out,
            r#"{{"arrayId":"{array_id}","packetId":"{}","arrayLength":{},"chunkSize":{},"fanIn":{},"packetContains":{},"packetValue":["#,
            NodeId::new(0, leaf),
            tree.array_length(),
            tree.chunk_size(),
            tree.fan_in(),
            elements.len()
        );
        for (i, e) in elements.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(e.as_ref());
        }
        out.push_str("]}");
        out
    }

    /// Parses and fully validates a TimesTwo message body.
    pub fn decode(body: &'a str) -> Result<MapMessage<'a>, MessageError> {
        let wire: MapWire<'a> = serde_json::from_str(body)?;
        check_array_id(wire.array_id)?;
        let tree = Tree::new(wire.array_length, wire.chunk_size, wire.fan_in)?;
        let leaf: NodeId = wire.packet_id.parse()?;
        if leaf.level != 0 {
            return Err(MessageError::NotALeaf(leaf));
        }
        tree.check(leaf)?;
        let expected = tree.contains(leaf);
        if wire.packet_value.len() as u64 != expected || wire.packet_contains != expected {
            return Err(MessageError::WrongCount {
                packet: leaf,
                carried: wire.packet_value.len(),
                expected,
            });
        }
        let mut elements = Vec::with_capacity(wire.packet_value.len());
        for (index, raw) in wire.packet_value.into_iter().enumerate() {
            let text = raw.get();
            // A long text can only come from a hand-written message (the API
            // shortens every element): refusing it keeps the map's work
            // bounded by the element count.
            if text.len() > MAX_ELEMENT_TEXT {
                return Err(MessageError::ElementTooLong {
                    index,
                    length: text.len(),
                });
            }
            check_number(text).map_err(|source| MessageError::BadNumber { index, source })?;
            elements.push(text);
        }
        Ok(MapMessage {
            array_id: wire.array_id,
            tree,
            leaf,
            elements,
        })
    }

    /// The map step: the exact sum of the doubled elements.
    pub fn doubled_sum(&self) -> Number {
        sum_texts(self.elements.iter().copied()).doubled()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReduceWire {
    array_id: String,
    array_length: u64,
    chunk_size: u64,
    fan_in: u64,
    targets: Vec<String>,
}

/// Most targets one Reduce message names. A walk with more to hand on (a
/// batch merges the targets of up to ten messages) is sent as several
/// messages, so no Reduce message passes [`MAX_REDUCE_MESSAGE_BYTES`].
pub const MAX_REDUCE_TARGETS: usize = 1_000;

/// Largest Reduce message body: [`MAX_REDUCE_TARGETS`] node ids of at most
/// 24 bytes (`L63-18446744073709551615`), quoted and separated, and the
/// fields around them. Small enough that a batch of ten is a small
/// invocation (template.yaml's `BatchSize` rule, tests/template_limits.rs).
pub const MAX_REDUCE_MESSAGE_BYTES: usize = 32 * 1024;

/// A Reduce queue message: try to merge these nodes of this array's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReduceMessage {
    pub array_id: String,
    pub tree: Tree,
    pub targets: Vec<NodeId>,
}

impl ReduceMessage {
    pub fn encode(&self) -> String {
        let wire = ReduceWire {
            array_id: self.array_id.clone(),
            array_length: self.tree.array_length(),
            chunk_size: self.tree.chunk_size(),
            fan_in: self.tree.fan_in(),
            targets: self.targets.iter().map(ToString::to_string).collect(),
        };
        // A struct of strings and integers always serializes.
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// The message as bodies of at most [`MAX_REDUCE_TARGETS`] targets each,
    /// in order: what the steps send.
    pub fn encode_all(&self) -> Vec<String> {
        self.targets
            .chunks(MAX_REDUCE_TARGETS)
            .map(|targets| {
                ReduceMessage {
                    targets: targets.to_vec(),
                    ..self.clone()
                }
                .encode()
            })
            .collect()
    }

    pub fn decode(body: &str) -> Result<ReduceMessage, MessageError> {
        let wire: ReduceWire = serde_json::from_str(body)?;
        check_array_id(&wire.array_id)?;
        let tree = Tree::new(wire.array_length, wire.chunk_size, wire.fan_in)?;
        if wire.targets.is_empty() {
            return Err(MessageError::NoTargets);
        }
        let mut targets = Vec::with_capacity(wire.targets.len());
        for t in &wire.targets {
            let node: NodeId = t.parse()?;
            tree.check(node)?;
            if node.level == 0 {
                return Err(MessageError::Tree(TreeError::BadNodeId(t.clone())));
            }
            targets.push(node);
        }
        Ok(ReduceMessage {
            array_id: wire.array_id,
            tree,
            targets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

    #[test]
    fn a_reduce_message_of_many_targets_is_sent_as_bounded_bodies() {
        let tree = Tree::new(u64::MAX / 2, 1, 2).expect("valid");
        let deepest = tree.root().level;
        let targets: Vec<NodeId> = (0..2 * MAX_REDUCE_TARGETS as u64 + 1)
            .map(|i| NodeId::new(1, tree.width(1) - 1 - i))
            .chain([NodeId::new(deepest, 0)])
            .collect();
        let msg = ReduceMessage {
            array_id: ID.to_string(),
            tree,
            targets: targets.clone(),
        };
        let bodies = msg.encode_all();
        assert_eq!(bodies.len(), 3);
        let mut back = Vec::new();
        for body in &bodies {
            assert!(
                body.len() <= MAX_REDUCE_MESSAGE_BYTES,
                "{} bytes",
                body.len()
            );
            back.extend(ReduceMessage::decode(body).expect("valid").targets);
        }
        assert_eq!(back, targets, "every target, once, in order");
    }

    #[test]
    fn map_messages_round_trip_exactly() {
        let tree = Tree::new(5, 3, 4).expect("valid");
        let body = MapMessage::encode(ID, &tree, 1, &["0.1", "9007199254740993"]);
        let msg = MapMessage::decode(&body).expect("valid");
        assert_eq!(msg.leaf, NodeId::new(0, 1));
        assert_eq!(msg.elements, vec!["0.1", "9007199254740993"]);
        assert_eq!(msg.doubled_sum().to_string(), "18014398509481986.2");
    }

    #[test]
    fn map_messages_are_validated() {
        let tree = Tree::new(5, 3, 4).expect("valid");
        let wrong_count = MapMessage::encode(ID, &tree, 1, &["1"]);
        assert!(matches!(
            MapMessage::decode(&wrong_count),
            Err(MessageError::WrongCount { .. })
        ));
        let outside = MapMessage::encode(ID, &tree, 2, &["1"]);
        assert!(matches!(
            MapMessage::decode(&outside),
            Err(MessageError::Tree(_))
        ));
        let bad_id = MapMessage::encode("x/../y", &tree, 0, &["1", "2", "3"]);
        assert!(matches!(
            MapMessage::decode(&bad_id),
            Err(MessageError::BadArrayId(_))
        ));
        let bad_number = MapMessage::encode(ID, &tree, 1, &["1", "1e999"]);
        assert!(matches!(
            MapMessage::decode(&bad_number),
            Err(MessageError::BadNumber { index: 1, .. })
        ));
        let long = format!("1.{}", "0".repeat(100));
        let too_long = MapMessage::encode(ID, &tree, 1, &["1", long.as_str()]);
        assert!(matches!(
            MapMessage::decode(&too_long),
            Err(MessageError::ElementTooLong { index: 1, .. })
        ));
        let text = MapMessage::encode(ID, &tree, 1, &["1", "\"2\""]);
        assert!(matches!(
            MapMessage::decode(&text),
            Err(MessageError::BadNumber { .. })
        ));
        for junk in ["", "not json", "{}", "[1,2]", r#"{"arrayId":1}"#] {
            assert!(MapMessage::decode(junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn array_ids_are_found_in_broken_messages() {
        let tree = Tree::new(5, 3, 4).expect("valid");
        let wrong_count = MapMessage::encode(ID, &tree, 1, &["1"]);
        assert_eq!(array_id_of(&wrong_count).as_deref(), Some(ID));
        assert_eq!(array_id_of(r#"{"arrayId":"x","targets":[]}"#), None);
        assert_eq!(array_id_of("not json"), None);
    }

    #[test]
    fn the_fullest_packet_fits_one_message() {
        let longest = format!("-{}e-167", "9".repeat(38));
        assert_eq!(longest.len(), MAX_ELEMENT_TEXT);
        let tree = Tree::new(u64::MAX / 2, MAX_CHUNK_SIZE, 2).expect("valid");
        let elements = vec![longest.as_str(); MAX_CHUNK_SIZE as usize];
        let id = uuid::Uuid::nil().to_string();
        let body = MapMessage::encode(&id, &tree, tree.leaves() - 2, &elements);
        assert!(body.len() <= MAX_MESSAGE_BYTES, "{} bytes", body.len());
        assert_eq!(
            MapMessage::decode(&body).expect("valid").elements.len(),
            elements.len()
        );
    }

    #[test]
    fn reduce_messages_round_trip_and_validate() {
        let tree = Tree::new(1000, 10, 4).expect("valid");
        let msg = ReduceMessage {
            array_id: ID.into(),
            tree,
            targets: vec![NodeId::new(1, 3), NodeId::new(2, 0)],
        };
        assert_eq!(ReduceMessage::decode(&msg.encode()).expect("valid"), msg);
        let leaf = ReduceMessage {
            targets: vec![NodeId::new(0, 0)],
            ..msg.clone()
        };
        assert!(ReduceMessage::decode(&leaf.encode()).is_err());
        let none = ReduceMessage {
            targets: vec![],
            ..msg.clone()
        };
        assert!(matches!(
            ReduceMessage::decode(&none.encode()),
            Err(MessageError::NoTargets)
        ));
        assert!(ReduceMessage::decode("\"0f8fad5b-d9cb-469f-a165-70867728950e\"").is_err());
    }
}
