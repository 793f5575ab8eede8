//! Objects as inputs: which S3 object version an array sums, its id, and the
//! TimesTwo message that names one byte range of it.
//!
//! An object array's merge tree counts bytes, not elements: its leaves are
//! the byte ranges of [`crate::ranges::ranges_of`], so the same tree, the
//! same scratchpad rows and the same reduce serve both kinds of array. How
//! many elements a range holds is learnt when it is mapped.

use crate::job::JobSpec;
use crate::message::{check_array_id, MessageError};
use crate::ranges::Format;
use crate::tree::{NodeId, Tree};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// One S3 object, pinned to what was seen at submission.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    /// The version read, in a versioned bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The ETag seen at submission. Every read is conditional on it
    /// (If-Match), so an object overwritten while its array is mapped fails
    /// the array instead of mixing two versions' bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)?;
        if let Some(v) = &self.version_id {
            write!(f, "?versionId={v}")?;
        }
        Ok(())
    }
}

/// Everything fixed about an object array when it is submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectSource {
    pub object: ObjectRef,
    /// The object's size in bytes, from HeadObject.
    pub size: u64,
    /// Flattened: `"format": "csv", "column": 2, "header": true`.
    #[serde(flatten)]
    pub format: Format,
    /// CSV only: the column a keyed job (`sum-by`) groups by, resolved
    /// from the submission's `by` at submission, as `format`'s column is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_column: Option<usize>,
}

impl ObjectSource {
    /// The id of the computation: the same object version in the same format
    /// run by the same job is one array, however often it is submitted or
    /// notified. A UUID (v5, name-based) of the bucket, key, version or ETag,
    /// size, format and job; the default job (`sum`) adds nothing to the
    /// name, so the adder's ids are what they always were.
    pub fn array_id(&self, job: &JobSpec) -> String {
        let mut name = serde_json::json!([
            self.object.bucket,
            self.object.key,
            self.object.version_id,
            self.object.etag,
            self.size,
            self.format,
        ]);
        if !job.is_default() || self.key_column.is_some() {
            if let serde_json::Value::Array(parts) = &mut name {
                parts.push(serde_json::json!([job, self.key_column]));
            }
        }
        uuid::Uuid::new_v5(&OBJECT_NAMESPACE, name.to_string().as_bytes()).to_string()
    }

    /// The merge tree over the object's bytes, `range_bytes` per leaf. An
    /// empty object has one leaf, the empty range, so that its reader decides
    /// what it holds (no element, or a bad JSON array).
    pub fn tree(&self, range_bytes: u64, fan_in: u64) -> Result<Tree, crate::TreeError> {
        Tree::new(self.size.max(1), range_bytes, fan_in)
    }
}

/// The namespace of object array ids (a fixed random UUID).
const OBJECT_NAMESPACE: uuid::Uuid = uuid::uuid!("6f1d6c52-3b9e-4f0a-9d55-0c8f2b7a4e19");

/// A TimesTwo message naming one byte range (one leaf) of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeMessage {
    pub array_id: String,
    pub source: ObjectSource,
    pub tree: Tree,
    pub leaf: NodeId,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RangeWire {
    array_id: String,
    packet_id: String,
    array_length: u64,
    chunk_size: u64,
    fan_in: u64,
    source: ObjectSource,
}

impl RangeMessage {
    /// The bytes of the object this leaf owns the records of.
    pub fn range(&self) -> Range<u64> {
        let r = self.tree.leaf_elements(self.leaf.index);
        r.start.min(self.source.size)..r.end.min(self.source.size)
    }

    pub fn encode(&self) -> String {
        let wire = RangeWire {
            array_id: self.array_id.clone(),
            packet_id: self.leaf.to_string(),
            array_length: self.tree.array_length(),
            chunk_size: self.tree.chunk_size(),
            fan_in: self.tree.fan_in(),
            source: self.source.clone(),
        };
        // Strings, integers and a unit-variant enum always serialize.
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// Parses and checks a range message: its tree must be the object's.
    pub fn decode(body: &str) -> Result<RangeMessage, MessageError> {
        let wire: RangeWire = serde_json::from_str(body)?;
        check_array_id(&wire.array_id)?;
        let tree = Tree::new(wire.array_length, wire.chunk_size, wire.fan_in)?;
        if wire.array_length != wire.source.size.max(1) {
            return Err(MessageError::WrongObjectTree {
                array_length: wire.array_length,
                size: wire.source.size,
            });
        }
        let leaf: NodeId = wire.packet_id.parse()?;
        if leaf.level != 0 {
            return Err(MessageError::NotALeaf(leaf));
        }
        tree.check(leaf)?;
        Ok(RangeMessage {
            array_id: wire.array_id,
            source: wire.source,
            tree,
            leaf,
        })
    }

    /// Whether `body` is a range message rather than a packet (it names its
    /// object), without parsing the elements of a packet.
    pub fn is_range(body: &str) -> bool {
        // A packet's fields hold numbers only: it never contains this name.
        body.contains(r#""source""#)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(size: u64) -> ObjectSource {
        ObjectSource {
            object: ObjectRef {
                bucket: "in".into(),
                key: "a/b.csv".into(),
                version_id: None,
                etag: Some("\"abc\"".into()),
            },
            size,
            format: Format::Csv {
                column: 1,
                header: true,
            },
            key_column: None,
        }
    }

    fn sum() -> JobSpec {
        JobSpec::default()
    }

    #[test]
    fn the_same_object_is_one_array_and_any_difference_another() {
        let a = source(100);
        assert_eq!(a.array_id(&sum()), source(100).array_id(&sum()));
        assert!(uuid::Uuid::try_parse(&a.array_id(&sum())).is_ok());
        let mut b = source(100);
        b.object.etag = Some("\"abd\"".into());
        let mut c = source(100);
        c.format = Format::Lines;
        let mut d = source(100);
        d.object.version_id = Some("v2".into());
        let mut e = source(100);
        e.key_column = Some(0);
        for other in [b, c, d, e, source(101)] {
            assert_ne!(a.array_id(&sum()), other.array_id(&sum()));
        }
        let stats = JobSpec::named("stats");
        assert_ne!(a.array_id(&sum()), a.array_id(&stats));
        assert_eq!(a.array_id(&stats), source(100).array_id(&stats));
    }

    #[test]
    fn the_adders_object_ids_are_what_they_were_before_jobs() {
        let a = source(100);
        // The name ids were made of before jobs existed (a serde_json Value:
        // keys sorted).
        let name =
            r#"["in","a/b.csv",null,"\"abc\"",100,{"column":1,"format":"csv","header":true}]"#;
        let before = uuid::Uuid::new_v5(&OBJECT_NAMESPACE, name.as_bytes()).to_string();
        assert_eq!(a.array_id(&sum()), before);
    }

    #[test]
    fn a_range_message_round_trips_and_names_its_bytes() {
        let s = source(25);
        let tree = s.tree(10, 2).expect("tree");
        let m = RangeMessage {
            array_id: s.array_id(&sum()),
            source: s,
            tree,
            leaf: NodeId::new(0, 2),
        };
        let body = m.encode();
        assert!(RangeMessage::is_range(&body), "{body}");
        let back = RangeMessage::decode(&body).expect("decodes");
        assert_eq!(back, m);
        assert_eq!(back.range(), 20..25);
        let bad = body.replace(r#""arrayLength":25"#, r#""arrayLength":30"#);
        assert!(RangeMessage::decode(&bad).is_err());
    }

    #[test]
    fn an_empty_object_has_one_empty_range() {
        let s = source(0);
        let tree = s.tree(10, 2).expect("tree");
        assert_eq!(tree.leaves(), 1);
        let m = RangeMessage {
            array_id: s.array_id(&sum()),
            source: s,
            tree,
            leaf: NodeId::new(0, 0),
        };
        assert_eq!(m.range(), 0..0);
    }
}
