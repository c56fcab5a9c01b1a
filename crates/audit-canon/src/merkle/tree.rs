//! A Merkle tree kept whole: every perfect subtree's root, level by level,
//! so roots and proofs of the tree over any prefix of its leaves cost
//! O(log n) hashes instead of rehashing every leaf.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use crate::merkle::frontier::FrontierError;
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
/// A tree can also start from a frontier ([`Self::from_frontier`]): the
/// roots of the perfect subtrees over its first leaves, as an export
/// bundle carries them for the records before its range. It then answers
/// what those roots and the later leaves determine: roots of sizes from the
/// frontier's on, inclusion paths of later leaves, consistency paths from
/// such sizes. Anything else fails; it never returns a path it could not
/// compute.
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
    /// `levels[0]` are the leaves; `levels[j][i - base(j)]` is the root of
    /// the perfect subtree over leaves `i * 2^j .. (i + 1) * 2^j`, where
    /// `base(j)` is 0 for a tree built from leaves and, for one built from
    /// a frontier of `start` leaves, `(start >> j) & !1`: the frontier's
    /// node of height `j` (if any) and everything to its right. Bases are
    /// even, so a node's sibling is stored beside it.
    levels: Vec<Vec<H::Hash>>,
    /// The frontier's size (0: every leaf is held).
    start: usize,
}

impl<H: TreeHasher> MerkleTree<H> {
    /// An empty tree.
    pub fn new(hasher: H) -> Self {
        Self {
            hasher,
            levels: vec![Vec::new()],
            start: 0,
        }
    }

    /// The tree of `size` leaves known by its frontier: `nodes` are the
    /// roots of the perfect subtrees in the binary decomposition of `size`,
    /// largest (leftmost) first, as [`crate::Frontier::hashes`] lists them.
    /// Leaves pushed after it are leaves `size`, `size + 1`, ….
    pub fn from_frontier(hasher: H, size: u64, nodes: Vec<H::Hash>) -> Result<Self, FrontierError> {
        let want = size.count_ones() as usize;
        let start = usize::try_from(size).map_err(|_| FrontierError::Full)?;
        if nodes.len() != want {
            return Err(FrontierError::Length {
                size,
                got: nodes.len(),
                want,
            });
        }
        let height = (usize::BITS - start.leading_zeros()) as usize;
        let mut levels = vec![Vec::new(); height.max(1)];
        // Largest first: the highest one bit of `size` is the first node.
        let mut nodes = nodes.into_iter();
        for j in (0..height).rev() {
            if (start >> j) & 1 == 1
                && let (Some(row), Some(node)) = (levels.get_mut(j), nodes.next())
            {
                row.push(node);
            }
        }
        Ok(Self {
            hasher,
            levels,
            start,
        })
    }

    /// The first index stored at `level`.
    fn base(&self, level: usize) -> usize {
        self.start.checked_shr(level as u32).unwrap_or(0) & !1
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
        Self {
            hasher,
            levels,
            start: 0,
        }
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
            // A node at an even position has no right sibling yet (bases
            // are even, so the position's parity is the index's).
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

    /// How many leaves (those of a frontier it started from included).
    pub fn len(&self) -> u64 {
        (self.base(0) + self.levels.first().map_or(0, Vec::len)) as u64
    }

    /// Whether there are no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The root of the tree over the first `size` leaves; `None` when
    /// `size` is 0 or more than [`Self::len`], or less than the size of the
    /// frontier the tree started from.
    pub fn root(&self, size: u64) -> Option<H::Hash> {
        let n = self.size(size)?;
        self.range_root(0, n)
    }

    /// The RFC 9162 audit path of leaf `index` in the tree over the first
    /// `size` leaves, nearest sibling first: what
    /// [`crate::inclusion_path`] gives over those leaves. In a tree that
    /// started from a frontier, a leaf inside it has no path here
    /// ([`InclusionProofError::BeforeLeaves`]).
    pub fn inclusion_path(&self, index: u64, size: u64) -> Result<Vec<H::Hash>, InclusionProofError> {
        let out_of_range = InclusionProofError::IndexOutOfRange { index, size };
        let n = self.size(size).ok_or(out_of_range.clone())?;
        let m = usize::try_from(index)
            .ok()
            .filter(|&m| m < n)
            .ok_or(out_of_range)?;
        let mut path = Vec::new();
        self.path_rec(0, n, m, &mut path)
            .ok_or(InclusionProofError::BeforeLeaves {
                index,
                first: self.start as u64,
            })?;
        Ok(path)
    }

    /// The RFC 9162 consistency path from the tree over the first
    /// `old_size` leaves to the tree over the first `new_size`: what
    /// [`crate::consistency_path`] gives over those leaves. In a tree that
    /// started from a frontier, an `old_size` below the frontier's may
    /// need nodes it does not have ([`ConsistencyProofError::BeforeLeaves`]).
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
        self.subproof(0, n, m, true, &mut out)
            .ok_or(ConsistencyProofError::BeforeLeaves {
                old_size,
                first: self.start as u64,
            })?;
        Ok(out)
    }

    /// `size` as a leaf count this tree has, if it is 1..=len (and not
    /// below a frontier it started from).
    fn size(&self, size: u64) -> Option<usize> {
        usize::try_from(size)
            .ok()
            .filter(|&n| n >= 1.max(self.start) && n as u64 <= self.len())
    }

    /// The root of the RFC 9162 tree over leaves `a..b` (`a < b`): a stored
    /// node when the range is a whole aligned perfect subtree, else split
    /// as the RFC splits it.
    fn range_root(&self, a: usize, b: usize) -> Option<H::Hash> {
        let n = b.checked_sub(a).filter(|&n| n >= 1)?;
        if n.is_power_of_two() && a.is_multiple_of(n) {
            let level = n.trailing_zeros() as usize;
            let i = (a >> level).checked_sub(self.base(level))?;
            return self.levels.get(level)?.get(i).cloned();
        }
        let k = split_point(n);
        let left = self.range_root(a, a + k)?;
        let right = self.range_root(a + k, b)?;
        Some(self.hasher.hash_children(&left, &right))
    }

    /// [`crate::inclusion_path`]'s recursion over leaves `a..b`, leaf `m`
    /// of them; `None` when a node it needs is not held.
    fn path_rec(&self, a: usize, b: usize, m: usize, out: &mut Vec<H::Hash>) -> Option<()> {
        let n = b - a;
        if n <= 1 {
            return Some(());
        }
        let k = split_point(n);
        if m < k {
            self.path_rec(a, a + k, m, out)?;
            out.push(self.range_root(a + k, b)?);
        } else {
            self.path_rec(a + k, b, m - k, out)?;
            out.push(self.range_root(a, a + k)?);
        }
        Some(())
    }

    /// [`crate::consistency_path`]'s SUBPROOF over leaves `a..b`, the old
    /// tree being its first `m`; `None` when a node it needs is not held.
    fn subproof(&self, a: usize, b: usize, m: usize, whole: bool, out: &mut Vec<H::Hash>) -> Option<()> {
        let n = b - a;
        if m == n {
            if !whole {
                out.push(self.range_root(a, b)?);
            }
            return Some(());
        }
        let k = split_point(n);
        if m <= k {
            self.subproof(a, a + k, m, whole, out)?;
            out.push(self.range_root(a + k, b)?);
        } else {
            self.subproof(a + k, b, m - k, false, out)?;
            out.push(self.range_root(a, a + k)?);
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::expect_used)] // prefixes of test data of known length; test set-up

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

    /// A tree that starts from the frontier of its first `start` leaves
    /// and then gets the rest: for every size from `start` on, the same
    /// root; for every leaf from `start` on, the same path; for every old
    /// size from `start` on, the same consistency path; before `start`,
    /// an error or the same answer, never another one. Every split of up
    /// to 33 leaves.
    #[test]
    fn a_tree_from_a_frontier_answers_as_the_whole_tree_or_refuses() {
        let all = leaves(33);
        let whole = MerkleTree::from_leaves(Blake3Tree, all.clone());
        for start in 0..=all.len() {
            let mut frontier = crate::Frontier::new();
            for leaf in &all[..start] {
                frontier.push(*leaf).expect("push");
            }
            let mut tree = MerkleTree::from_frontier(Blake3Tree, start as u64, frontier.hashes().to_vec())
                .expect("frontier");
            assert_eq!(tree.len(), start as u64);
            assert_eq!(
                tree.root(start as u64),
                frontier.root(),
                "root of the frontier alone"
            );
            for leaf in &all[start..] {
                tree.push(*leaf);
            }
            assert_eq!(tree.len(), 33);
            let from = start.max(1) as u64;
            for size in 1..=33u64 {
                let root = tree.root(size);
                if size >= from {
                    assert_eq!(root, whole.root(size), "root of {size} from {start}");
                } else {
                    assert_eq!(root, None, "root of {size} from {start}");
                }
                for index in 0..size {
                    match tree.inclusion_path(index, size) {
                        Ok(p) => assert_eq!(Ok(p), whole.inclusion_path(index, size)),
                        Err(e) => assert!(
                            index < start as u64 || size < from,
                            "leaf {index} of {size} from {start}: {e}"
                        ),
                    }
                }
                for old in 1..=size {
                    match tree.consistency_path(old, size) {
                        Ok(p) => assert_eq!(Ok(p), whole.consistency_path(old, size)),
                        Err(e) => assert!(
                            old < start as u64 || size < from,
                            "{old} to {size} from {start}: {e}"
                        ),
                    }
                }
            }
            // Refusals say why.
            if start > 1 {
                assert!(matches!(
                    tree.inclusion_path(0, 33),
                    Err(crate::InclusionProofError::BeforeLeaves { index: 0, first }) if first == start as u64
                ));
            }
        }
        assert!(matches!(
            MerkleTree::from_frontier(Blake3Tree, 5, vec![all[0]]),
            Err(crate::FrontierError::Length {
                size: 5,
                got: 1,
                want: 2
            })
        ));
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

        /// Larger trees from a frontier, sampled: the recursive answers for
        /// leaves and old sizes from the frontier on.
        #[test]
        fn sampled_paths_from_a_frontier_match_the_recursive_ones(
            len in 2usize..600,
            start_frac in 0.0f64..1.0,
            pick in any::<u64>(),
        ) {
            let all = leaves(len);
            let start = ((len as f64 * start_frac) as usize).min(len - 1);
            let mut frontier = crate::Frontier::new();
            for leaf in &all[..start] {
                frontier.push(*leaf).expect("push");
            }
            let mut tree = MerkleTree::from_frontier(Blake3Tree, start as u64, frontier.hashes().to_vec())
                .expect("frontier");
            for leaf in &all[start..] {
                tree.push(*leaf);
            }
            let from = start.max(1);
            let size = start + 1 + (pick as usize) % (len - start);
            let prefix = &all[..size];
            let index = start as u64 + pick % (size - start) as u64;
            let old = from as u64 + pick % (size - from + 1) as u64;
            prop_assert_eq!(tree.root(size as u64), recursive_root(&Blake3Tree, prefix));
            prop_assert_eq!(tree.inclusion_path(index, size as u64), inclusion_path(&Blake3Tree, prefix, index));
            prop_assert_eq!(tree.consistency_path(old, size as u64), consistency_path(&Blake3Tree, prefix, old));
        }
    }
}
