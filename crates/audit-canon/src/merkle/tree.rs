//! A Merkle tree kept whole: every perfect subtree's root, level by level,
//! so roots and proofs of the tree over any prefix of its leaves cost
//! O(log n) hashes instead of rehashing every leaf.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use crate::merkle::hasher::TreeHasher;
use crate::merkle::proof::{ConsistencyProofError, InclusionProofError, split_point};

/// The leaves of a log and the roots of all its perfect subtrees, for a
/// prover that answers many proofs: [`crate::inclusion_path`] and
/// [`crate::consistency_path`] rehash every leaf for each proof; here each
/// leaf and node is hashed once, as it arrives ([`Self::push`]), and a
/// proof against any tree size up to [`Self::len`] takes O(log² n) node
/// hashes at most (only the subtrees along the right edge of a size that
/// is not a power of two are hashed anew).
///
/// Memory: two hashes per leaf.
///
/// ```
/// use audit_canon::{Blake3Tree, Digest, MerkleTree, leaf_hash, root_of, verify_inclusion};
///
/// let leaves: Vec<Digest> = (0u8..7).map(|i| leaf_hash(&Digest::of(&[i]))).collect();
/// let tree = MerkleTree::from_leaves(Blake3Tree, leaves.clone());
/// // The tree over the first 5 leaves, and leaf 3's path in it.
/// let root = tree.root(5).expect("5 leaves");
/// assert_eq!(Some(root), root_of(&leaves[..5]));
/// let path = tree.inclusion_path(3, 5).expect("leaf 3 of 5");
/// assert!(verify_inclusion(&Blake3Tree, 3, 5, &leaves[3], &path, &root).is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct MerkleTree<H: TreeHasher> {
    hasher: H,
    /// `levels[0]` are the leaves; `levels[j][i]` is the root of the
    /// perfect subtree over leaves `i * 2^j .. (i + 1) * 2^j`.
    levels: Vec<Vec<H::Hash>>,
}

impl<H: TreeHasher> MerkleTree<H> {
    /// An empty tree.
    pub fn new(hasher: H) -> Self {
        Self {
            hasher,
            levels: vec![Vec::new()],
        }
    }

    /// The tree over `leaves` (leaf hashes, e.g. [`crate::leaf_hash`]).
    pub fn from_leaves(hasher: H, leaves: Vec<H::Hash>) -> Self {
        let mut levels = vec![leaves];
        while let Some(below) = levels.last().filter(|l| l.len() >= 2) {
            let up = below
                .chunks_exact(2)
                .filter_map(|pair| match pair {
                    [l, r] => Some(hasher.hash_children(l, r)),
                    _ => None,
                })
                .collect();
            levels.push(up);
        }
        Self { hasher, levels }
    }

    /// Appends a leaf hash, and the root of every perfect subtree it
    /// completes (amortized one node hash).
    pub fn push(&mut self, leaf: H::Hash) {
        let mut carry = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let Some(row) = self.levels.get_mut(level) else {
                return;
            };
            row.push(carry);
            // A node at an even position has no right sibling yet.
            if row.len() % 2 == 1 {
                return;
            }
            let [.., left, right] = row.as_slice() else {
                return;
            };
            carry = self.hasher.hash_children(left, right);
            level += 1;
        }
    }

    /// How many leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Whether there are no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The root of the tree over the first `size` leaves; `None` when
    /// `size` is 0 or more than [`Self::len`].
    pub fn root(&self, size: u64) -> Option<H::Hash> {
        let n = self.size(size)?;
        self.range_root(0, n)
    }

    /// The RFC 9162 audit path of leaf `index` in the tree over the first
    /// `size` leaves, nearest sibling first: what
    /// [`crate::inclusion_path`] gives over those leaves.
    pub fn inclusion_path(&self, index: u64, size: u64) -> Result<Vec<H::Hash>, InclusionProofError> {
        let out_of_range = InclusionProofError::IndexOutOfRange { index, size };
        let n = self.size(size).ok_or(out_of_range.clone())?;
        let m = usize::try_from(index)
            .ok()
            .filter(|&m| m < n)
            .ok_or(out_of_range)?;
        let mut path = Vec::new();
        self.path_rec(0, n, m, &mut path);
        Ok(path)
    }

    /// The RFC 9162 consistency path from the tree over the first
    /// `old_size` leaves to the tree over the first `new_size`: what
    /// [`crate::consistency_path`] gives over those leaves.
    pub fn consistency_path(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<H::Hash>, ConsistencyProofError> {
        let bad = ConsistencyProofError::BadSizes { old_size, new_size };
        let n = self.size(new_size).ok_or(bad.clone())?;
        let m = usize::try_from(old_size)
            .ok()
            .filter(|&m| m >= 1 && m <= n)
            .ok_or(bad)?;
        let mut out = Vec::new();
        self.subproof(0, n, m, true, &mut out);
        Ok(out)
    }

    /// `size` as a leaf count this tree has, if it is 1..=len.
    fn size(&self, size: u64) -> Option<usize> {
        usize::try_from(size)
            .ok()
            .filter(|&n| n >= 1 && n as u64 <= self.len())
    }

    /// The root of the RFC 9162 tree over leaves `a..b` (`a < b`): a stored
    /// node when the range is a whole aligned perfect subtree, else split
    /// as the RFC splits it.
    fn range_root(&self, a: usize, b: usize) -> Option<H::Hash> {
        let n = b.checked_sub(a).filter(|&n| n >= 1)?;
        if n.is_power_of_two() && a.is_multiple_of(n) {
            let level = n.trailing_zeros() as usize;
            return self.levels.get(level)?.get(a >> level).cloned();
        }
        let k = split_point(n);
        let left = self.range_root(a, a + k)?;
        let right = self.range_root(a + k, b)?;
        Some(self.hasher.hash_children(&left, &right))
    }

    /// [`crate::inclusion_path`]'s recursion over leaves `a..b`, leaf `m`
    /// of them.
    fn path_rec(&self, a: usize, b: usize, m: usize, out: &mut Vec<H::Hash>) {
        let n = b - a;
        if n <= 1 {
            return;
        }
        let k = split_point(n);
        if m < k {
            self.path_rec(a, a + k, m, out);
            out.extend(self.range_root(a + k, b));
        } else {
            self.path_rec(a + k, b, m - k, out);
            out.extend(self.range_root(a, a + k));
        }
    }

    /// [`crate::consistency_path`]'s SUBPROOF over leaves `a..b`, the old
    /// tree being its first `m`.
    fn subproof(&self, a: usize, b: usize, m: usize, whole: bool, out: &mut Vec<H::Hash>) {
        let n = b - a;
        if m == n {
            if !whole {
                out.extend(self.range_root(a, b));
            }
            return;
        }
        let k = split_point(n);
        if m <= k {
            self.subproof(a, a + k, m, whole, out);
            out.extend(self.range_root(a + k, b));
        } else {
            self.subproof(a + k, b, m - k, false, out);
            out.extend(self.range_root(a, a + k));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)] // prefixes of test data of known length

    use proptest::prelude::*;

    use super::MerkleTree;
    use crate::{Blake3Tree, Digest, consistency_path, inclusion_path, leaf_hash, recursive_root};

    fn leaves(n: usize) -> Vec<Digest> {
        (0..n as u64)
            .map(|i| leaf_hash(&Digest::of(&i.to_le_bytes())))
            .collect()
    }

    /// Every root and path, for every size, index and pair of sizes up to
    /// 33 leaves, is the one the recursive definition gives over that
    /// prefix; built whole or leaf by leaf.
    #[test]
    fn every_root_and_path_is_the_recursive_one_for_every_prefix() {
        let all = leaves(33);
        let whole = MerkleTree::from_leaves(Blake3Tree, all.clone());
        let mut pushed = MerkleTree::new(Blake3Tree);
        for leaf in &all {
            pushed.push(*leaf);
        }
        for tree in [&whole, &pushed] {
            assert_eq!(tree.len(), 33);
            assert_eq!(tree.root(0), None);
            assert_eq!(tree.root(34), None);
            for size in 1..=33 {
                let prefix = &all[..size];
                assert_eq!(
                    tree.root(size as u64),
                    recursive_root(&Blake3Tree, prefix),
                    "root of {size}"
                );
                for index in 0..size as u64 {
                    assert_eq!(
                        tree.inclusion_path(index, size as u64),
                        inclusion_path(&Blake3Tree, prefix, index),
                        "leaf {index} of {size}"
                    );
                }
                for old in 0..=size as u64 + 1 {
                    assert_eq!(
                        tree.consistency_path(old, size as u64),
                        consistency_path(&Blake3Tree, prefix, old),
                        "{old} to {size}"
                    );
                }
            }
        }
    }

    #[test]
    fn sizes_beyond_the_tree_are_refused() {
        let tree = MerkleTree::from_leaves(Blake3Tree, leaves(5));
        assert!(matches!(
            tree.inclusion_path(0, 6),
            Err(crate::InclusionProofError::IndexOutOfRange { index: 0, size: 6 })
        ));
        assert!(matches!(
            tree.inclusion_path(5, 5),
            Err(crate::InclusionProofError::IndexOutOfRange { index: 5, size: 5 })
        ));
        assert!(matches!(
            tree.consistency_path(2, 6),
            Err(crate::ConsistencyProofError::BadSizes {
                old_size: 2,
                new_size: 6
            })
        ));
        let empty = MerkleTree::new(Blake3Tree);
        assert!(empty.is_empty());
        assert_eq!(empty.root(1), None);
    }

    proptest! {
        /// Larger trees, sampled: the same answers as the recursive
        /// definition over the prefix.
        #[test]
        fn sampled_paths_match_the_recursive_ones(
            len in 1usize..600,
            size_frac in 0.0f64..=1.0,
            pick in any::<u64>(),
        ) {
            let all = leaves(len);
            let tree = MerkleTree::from_leaves(Blake3Tree, all.clone());
            let size = ((len as f64 * size_frac) as usize).clamp(1, len);
            let prefix = &all[..size];
            let index = pick % size as u64;
            let old = pick % (size as u64) + 1;
            prop_assert_eq!(tree.root(size as u64), recursive_root(&Blake3Tree, prefix));
            prop_assert_eq!(tree.inclusion_path(index, size as u64), inclusion_path(&Blake3Tree, prefix, index));
            prop_assert_eq!(tree.consistency_path(old, size as u64), consistency_path(&Blake3Tree, prefix, old));
        }
    }
}
