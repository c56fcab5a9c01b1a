//! The incremental frontier of a stream's tree: O(log n) state, O(1)
//! amortized per appended leaf.

use crate::digest::Digest;
use crate::merkle::hasher::node_hash;

/// The roots of the perfect subtrees in the binary decomposition of the
/// tree size, largest (leftmost) first (FORMAT-v1.md section 5).
///
/// A tree of size `n` has exactly `n.count_ones()` frontier hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Digest>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a frontier from its size and hash list (as a bundle's
    /// manifest carries it), checking that the list has the right length.
    pub fn from_hashes(size: u64, nodes: Vec<Digest>) -> Result<Self, FrontierError> {
        let want = size.count_ones() as usize;
        if nodes.len() != want {
            return Err(FrontierError::Length {
                size,
                got: nodes.len(),
                want,
            });
        }
        Ok(Self { size, nodes })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The frontier hashes, largest subtree first.
    pub fn hashes(&self) -> &[Digest] {
        &self.nodes
    }

    /// Appends a leaf hash (see [`crate::leaf_hash`]).
    ///
    /// Fails only when the tree already has `u64::MAX` leaves.
    pub fn push(&mut self, leaf: Digest) -> Result<(), FrontierError> {
        let new_size = self.size.checked_add(1).ok_or(FrontierError::Full)?;
        let mut carry = leaf;
        // Each trailing one bit of the old size is a perfect subtree of the
        // same height as the carry: merge them, right to left.
        for _ in 0..self.size.trailing_ones() {
            match self.nodes.pop() {
                Some(left) => carry = node_hash(&left, &carry),
                None => return Err(FrontierError::Corrupt { size: self.size }),
            }
        }
        self.nodes.push(carry);
        self.size = new_size;
        Ok(())
    }

    /// The root: the right fold `node(P1, node(P2, … node(Pk-1, Pk)))`, or
    /// `None` for the empty tree.
    pub fn root(&self) -> Option<Digest> {
        let mut it = self.nodes.iter().rev();
        let mut acc = *it.next()?;
        for left in it {
            acc = node_hash(left, &acc);
        }
        Some(acc)
    }
}

/// A frontier could not be built or extended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrontierError {
    /// The hash list does not have one entry per one bit of the size.
    #[error("frontier of size {size} needs {want} hashes, got {got}")]
    Length {
        /// The tree size.
        size: u64,
        /// Hashes given.
        got: usize,
        /// Hashes needed.
        want: usize,
    },
    /// The tree has `u64::MAX` leaves.
    #[error("tree is full at u64::MAX leaves")]
    Full,
    /// Internal state disagrees with the size (cannot happen through the API).
    #[error("frontier of size {size} is inconsistent")]
    Corrupt {
        /// The tree size.
        size: u64,
    },
}
