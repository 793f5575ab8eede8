//! The merge tree: which packets merge into which, decided before any work starts.
//!
//! The original reducer merged "any two rows it found" into a packet with a fresh
//! random id, which is why duplicates and concurrent reducers double-counted. Here
//! the array is cut into `chunk_size` leaves and every internal node merges a fixed
//! range of at most `fan_in` children. A node's value is then a pure function of
//! the input, so writing it twice writes the same thing, and a conditional put
//! ("only if absent") makes every step idempotent.
//!
//! Each node's row lives under a partition key shared only with its siblings
//! (`<arrayId>/<parent>`; `<arrayId>` for the root's children), so one Query reads
//! exactly the packets a merge needs and no partition takes more than `fan_in`
//! writes, however large the array.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

/// Why a tree or node is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("chunk size must be at least 1")]
    ZeroChunk,
    #[error("fan-in must be at least 2, got {0}")]
    FanInTooSmall(u64),
    #[error("an empty array has no merge tree")]
    Empty,
    #[error("`{0}` is not a packet id (expected L<level>-<index>, e.g. L0-000000003)")]
    BadNodeId(String),
    #[error("packet {node} is outside the merge tree of a {array_length}-element array")]
    OutOfTree { node: NodeId, array_length: u64 },
}

/// A node of the merge tree: leaves are level 0, the root is the top level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u32,
    pub index: u64,
}

impl NodeId {
    pub fn new(level: u32, index: u64) -> NodeId {
        NodeId { level, index }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L{}-{:09}", self.level, self.index)
    }
}

impl FromStr for NodeId {
    type Err = TreeError;
    fn from_str(s: &str) -> Result<NodeId, TreeError> {
        let bad = || TreeError::BadNodeId(s.chars().take(40).collect());
        let rest = s.strip_prefix('L').ok_or_else(bad)?;
        let (level, index) = rest.split_once('-').ok_or_else(bad)?;
        if level.is_empty() || index.is_empty() {
            return Err(bad());
        }
        Ok(NodeId {
            level: level.parse().map_err(|_| bad())?,
            index: index.parse().map_err(|_| bad())?,
        })
    }
}

/// The shape of one array's merge tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tree {
    array_length: u64,
    chunk_size: u64,
    fan_in: u64,
    leaves: u64,
    root_level: u32,
}

impl Tree {
    pub fn new(array_length: u64, chunk_size: u64, fan_in: u64) -> Result<Tree, TreeError> {
        if chunk_size == 0 {
            return Err(TreeError::ZeroChunk);
        }
        if fan_in < 2 {
            return Err(TreeError::FanInTooSmall(fan_in));
        }
        if array_length == 0 {
            return Err(TreeError::Empty);
        }
        let leaves = array_length.div_ceil(chunk_size);
        // The root always merges at least one level of packets, so it is never
        // itself a scratchpad row: it is written to the sums table.
        let mut root_level = 1;
        let mut width = leaves.div_ceil(fan_in);
        while width > 1 {
            width = width.div_ceil(fan_in);
            root_level += 1;
        }
        Ok(Tree {
            array_length,
            chunk_size,
            fan_in,
            leaves,
            root_level,
        })
    }

    pub fn array_length(&self) -> u64 {
        self.array_length
    }
    pub fn chunk_size(&self) -> u64 {
        self.chunk_size
    }
    pub fn fan_in(&self) -> u64 {
        self.fan_in
    }
    /// Number of leaf packets (messages on the TimesTwo queue).
    pub fn leaves(&self) -> u64 {
        self.leaves
    }
    pub fn root(&self) -> NodeId {
        NodeId::new(self.root_level, 0)
    }
    pub fn is_root(&self, node: NodeId) -> bool {
        node.level == self.root_level
    }

    /// Number of nodes at `level`.
    pub fn width(&self, level: u32) -> u64 {
        (0..level).fold(self.leaves, |w, _| w.div_ceil(self.fan_in))
    }

    /// Checks that `node` belongs to this tree.
    pub fn check(&self, node: NodeId) -> Result<(), TreeError> {
        if node.level <= self.root_level && node.index < self.width(node.level) {
            Ok(())
        } else {
            Err(TreeError::OutOfTree {
                node,
                array_length: self.array_length,
            })
        }
    }

    pub fn parent(&self, node: NodeId) -> Option<NodeId> {
        (node.level < self.root_level)
            .then(|| NodeId::new(node.level + 1, node.index / self.fan_in))
    }

    /// The nodes `node` merges (empty for a leaf).
    pub fn children(&self, node: NodeId) -> Vec<NodeId> {
        if node.level == 0 {
            return Vec::new();
        }
        let below = node.level - 1;
        let start = node.index.saturating_mul(self.fan_in);
        let end = start.saturating_add(self.fan_in).min(self.width(below));
        (start..end).map(|i| NodeId::new(below, i)).collect()
    }

    /// The elements of the array a leaf carries.
    pub fn leaf_elements(&self, leaf: u64) -> Range<u64> {
        let start = leaf.saturating_mul(self.chunk_size).min(self.array_length);
        let end = start.saturating_add(self.chunk_size).min(self.array_length);
        start..end
    }

    /// How many elements of the array `node` covers (its `packetContains`).
    pub fn contains(&self, node: NodeId) -> u64 {
        let span = self.fan_in.checked_pow(node.level).unwrap_or(u64::MAX);
        let first_leaf = node.index.saturating_mul(span).min(self.leaves);
        let end_leaf = first_leaf.saturating_add(span).min(self.leaves);
        if first_leaf == end_leaf {
            return 0;
        }
        self.leaf_elements(end_leaf - 1).end - self.leaf_elements(first_leaf).start
    }

    /// The scratchpad partition key of `node`'s row: shared with its siblings only.
    pub fn partition_key(&self, array_id: &str, node: NodeId) -> String {
        match self.parent(node) {
            Some(parent) if !self.is_root(parent) => format!("{array_id}/{parent}"),
            _ => array_id.to_string(),
        }
    }

    /// The partition key holding `node`'s children.
    pub fn children_partition_key(&self, array_id: &str, node: NodeId) -> String {
        if self.is_root(node) {
            array_id.to_string()
        } else {
            format!("{array_id}/{node}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_arrays_have_one_level_of_leaves() {
        let tree = Tree::new(5, 2, 10).expect("valid");
        assert_eq!(tree.leaves(), 3);
        assert_eq!(tree.root(), NodeId::new(1, 0));
        assert_eq!(tree.children(tree.root()).len(), 3);
        assert_eq!(tree.leaf_elements(2), 4..5);
        assert_eq!(tree.contains(NodeId::new(0, 2)), 1);
        assert_eq!(tree.contains(tree.root()), 5);
        assert_eq!(tree.partition_key("a", NodeId::new(0, 1)), "a");
        let single = Tree::new(1, 1000, 100).expect("valid");
        assert_eq!(single.root(), NodeId::new(1, 0));
        assert_eq!(single.children(single.root()), vec![NodeId::new(0, 0)]);
    }

    #[test]
    fn deep_trees_cover_every_element_once() {
        for (n, c, f) in [
            (1, 1, 2),
            (10_000, 7, 3),
            (1_000_000, 1000, 100),
            (12345, 10, 16),
        ] {
            let tree = Tree::new(n, c, f).expect("valid");
            let root = tree.root();
            assert_eq!(tree.contains(root), n);
            for level in 1..=root.level {
                for index in 0..tree.width(level) {
                    let node = NodeId::new(level, index);
                    let kids = tree.children(node);
                    assert!(!kids.is_empty() && kids.len() as u64 <= f);
                    let sum: u64 = kids.iter().map(|k| tree.contains(*k)).sum();
                    assert_eq!(sum, tree.contains(node));
                    for kid in kids {
                        assert_eq!(tree.parent(kid), Some(node));
                        assert_eq!(
                            tree.partition_key("a", kid),
                            tree.children_partition_key("a", node)
                        );
                    }
                }
            }
            assert_eq!(tree.width(root.level), 1);
            assert!(tree.check(NodeId::new(0, tree.leaves())).is_err());
            assert!(tree.check(NodeId::new(root.level + 1, 0)).is_err());
        }
    }

    #[test]
    fn node_ids_round_trip_and_sort() {
        let id = NodeId::new(2, 17);
        assert_eq!(id.to_string(), "L2-000000017");
        assert_eq!("L2-000000017".parse::<NodeId>(), Ok(id));
        for bad in ["", "L", "L2", "2-1", "L-1", "Lx-1", "L1-", "L1-1-"] {
            assert!(bad.parse::<NodeId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_degenerate_shapes() {
        assert_eq!(Tree::new(1, 0, 2), Err(TreeError::ZeroChunk));
        assert_eq!(Tree::new(1, 1, 1), Err(TreeError::FanInTooSmall(1)));
        assert_eq!(Tree::new(0, 1, 2), Err(TreeError::Empty));
    }
}
