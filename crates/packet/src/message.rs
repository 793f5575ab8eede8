//! The two queue messages, with the original's field names.
//!
//! A TimesTwo message is one leaf of the merge tree: a chunk of the array's
//! elements, carried as the exact text the client sent. A Reduce message names
//! the tree nodes whose children may now all be present. Both carry the tree's
//! shape (`arrayLength`, `chunkSize`, `fanIn`), fixed when the array was
//! submitted, so a change of configuration never changes an array in flight.

use crate::number::{check_number, sum_texts, Number, NumberError};
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
    #[error("a TimesTwo message must carry a leaf (level 0), got {0}")]
    NotALeaf(NodeId),
    #[error("a Reduce message must name at least one packet to merge")]
    NoTargets,
}

fn check_array_id(array_id: &str) -> Result<(), MessageError> {
    match uuid::Uuid::try_parse(array_id) {
        Ok(_) if array_id.len() == 36 => Ok(()),
        _ => Err(MessageError::BadArrayId(
            array_id.chars().take(40).collect(),
        )),
    }
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
    /// Elements are copied verbatim (they were checked when the body was parsed).
    pub fn encode(array_id: &str, tree: &Tree, leaf: u64, elements: &[&str]) -> String {
        let bytes: usize = elements.iter().map(|e| e.len() + 1).sum();
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
            out.push_str(e);
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
