//! RFC 9162 inclusion and consistency proofs (sections 2.1.3 and 2.1.4):
//! generation from the leaves and verification, generic over the hasher.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use crate::merkle::hasher::TreeHasher;

/// The root of the tree over `leaves` by the recursive definition
/// `MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n]))`, k the largest power of two
/// below n. `None` for no leaves.
pub fn recursive_root<H: TreeHasher>(hasher: &H, leaves: &[H::Hash]) -> Option<H::Hash> {
    match leaves {
        [] => None,
        [one] => Some(one.clone()),
        _ => {
            let (l, r) = leaves.split_at(split_point(leaves.len()));
            Some(hasher.hash_children(&recursive_root(hasher, l)?, &recursive_root(hasher, r)?))
        }
    }
}

/// The largest power of two smaller than `n` (n >= 2).
pub(crate) fn split_point(n: usize) -> usize {
    let p = n.next_power_of_two();
    if p == n { n / 2 } else { p / 2 }
}

/// The RFC 9162 audit path of leaf `index` in the tree over `leaves`,
/// nearest sibling first.
pub fn inclusion_path<H: TreeHasher>(
    hasher: &H,
    leaves: &[H::Hash],
    index: u64,
) -> Result<Vec<H::Hash>, InclusionProofError> {
    let size = leaves.len() as u64;
    let idx = usize::try_from(index)
        .ok()
        .filter(|&i| i < leaves.len())
        .ok_or(InclusionProofError::IndexOutOfRange { index, size })?;
    let mut path = Vec::new();
    path_rec(hasher, leaves, idx, &mut path);
    Ok(path)
}

fn path_rec<H: TreeHasher>(hasher: &H, leaves: &[H::Hash], m: usize, out: &mut Vec<H::Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split_point(leaves.len());
    let (l, r) = leaves.split_at(k);
    if m < k {
        path_rec(hasher, l, m, out);
        out.extend(recursive_root(hasher, r));
    } else {
        path_rec(hasher, r, m - k, out);
        out.extend(recursive_root(hasher, l));
    }
}

/// The RFC 9162 consistency path from the tree of size `old_size` to the
/// tree over all of `leaves`.
pub fn consistency_path<H: TreeHasher>(
    hasher: &H,
    leaves: &[H::Hash],
    old_size: u64,
) -> Result<Vec<H::Hash>, ConsistencyProofError> {
    let new_size = leaves.len() as u64;
    let m = usize::try_from(old_size)
        .ok()
        .filter(|&m| m >= 1 && m <= leaves.len())
        .ok_or(ConsistencyProofError::BadSizes { old_size, new_size })?;
    let mut out = Vec::new();
    subproof(hasher, leaves, m, true, &mut out);
    Ok(out)
}

fn subproof<H: TreeHasher>(hasher: &H, leaves: &[H::Hash], m: usize, whole: bool, out: &mut Vec<H::Hash>) {
    let n = leaves.len();
    if m == n {
        if !whole {
            out.extend(recursive_root(hasher, leaves));
        }
        return;
    }
    let k = split_point(n);
    let (l, r) = leaves.split_at(k);
    if m <= k {
        subproof(hasher, l, m, whole, out);
        out.extend(recursive_root(hasher, r));
    } else {
        subproof(hasher, r, m - k, false, out);
        out.extend(recursive_root(hasher, l));
    }
}

/// Verifies that `leaf` is at `index` of the tree of `size` with `root`
/// (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion<H: TreeHasher>(
    hasher: &H,
    index: u64,
    size: u64,
    leaf: &H::Hash,
    path: &[H::Hash],
    root: &H::Hash,
) -> Result<(), InclusionProofError> {
    if index >= size {
        return Err(InclusionProofError::IndexOutOfRange { index, size });
    }
    if !hasher.is_well_formed(leaf) {
        return Err(InclusionProofError::MalformedHash { position: None });
    }
    if let Some(i) = path.iter().position(|p| !hasher.is_well_formed(p)) {
        return Err(InclusionProofError::MalformedHash { position: Some(i) });
    }
    let mut f_n = index;
    let mut s_n = size - 1;
    let mut r = leaf.clone();
    for p in path {
        if s_n == 0 {
            return Err(InclusionProofError::PathLength {
                got: path.len(),
                index,
                size,
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = hasher.hash_children(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = hasher.hash_children(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(InclusionProofError::PathLength {
            got: path.len(),
            index,
            size,
        });
    }
    if r == *root {
        Ok(())
    } else {
        Err(InclusionProofError::RootMismatch { index, size })
    }
}

/// Verifies that the tree of `new_size` with `new_root` extends the tree of
/// `old_size` with `old_root` (RFC 9162 section 2.1.4.2).
///
/// Beyond the RFC's steps: `old_size` 0 is refused (there is nothing to be
/// consistent with, and a ron-audit checkpoint never covers zero records),
/// and equal sizes need an empty path and equal roots.
pub fn verify_consistency<H: TreeHasher>(
    hasher: &H,
    old_size: u64,
    new_size: u64,
    old_root: &H::Hash,
    new_root: &H::Hash,
    path: &[H::Hash],
) -> Result<(), ConsistencyProofError> {
    if old_size == 0 || new_size < old_size {
        return Err(ConsistencyProofError::BadSizes { old_size, new_size });
    }
    if old_size == new_size {
        if !path.is_empty() {
            return Err(ConsistencyProofError::PathLength {
                got: path.len(),
                old_size,
                new_size,
            });
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ConsistencyProofError::NewRootMismatch { old_size, new_size })
        };
    }
    if let Some(i) = path.iter().position(|p| !hasher.is_well_formed(p)) {
        return Err(ConsistencyProofError::MalformedHash { position: i });
    }
    // Step 1: sizes differ, so the path cannot be empty.
    if path.is_empty() {
        return Err(ConsistencyProofError::PathLength {
            got: 0,
            old_size,
            new_size,
        });
    }
    let len_err = || ConsistencyProofError::PathLength {
        got: path.len(),
        old_size,
        new_size,
    };
    // Step 2: when old_size is a power of two, its root is the first element.
    let (first, rest) = if old_size.is_power_of_two() {
        (old_root, path)
    } else {
        path.split_first().ok_or_else(len_err)?
    };
    let mut f_n = old_size - 1;
    let mut s_n = new_size - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut fr = first.clone();
    let mut sr = first.clone();
    for c in rest {
        if s_n == 0 {
            return Err(len_err());
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = hasher.hash_children(c, &fr);
            sr = hasher.hash_children(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = hasher.hash_children(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(len_err());
    }
    if fr != *old_root {
        return Err(ConsistencyProofError::OldRootMismatch { old_size, new_size });
    }
    if sr != *new_root {
        return Err(ConsistencyProofError::NewRootMismatch { old_size, new_size });
    }
    Ok(())
}

/// An inclusion proof is invalid or cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InclusionProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// Leaf index (seq - 1).
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// A [`crate::MerkleTree`] that started from a frontier holds only
    /// its subtree roots before leaf `first`: leaf `index` has no path.
    #[error(
        "leaf index {index} is before leaf {first}, where the held leaves start (only a frontier is held before it)"
    )]
    BeforeLeaves {
        /// Leaf index.
        index: u64,
        /// The first leaf held (the frontier's size).
        first: u64,
    },
    /// The path has the wrong number of elements for this index and size.
    #[error("audit path of {got} hashes has the wrong length for leaf {index} of {size}")]
    PathLength {
        /// Elements given.
        got: usize,
        /// Leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// A hash has the wrong shape (`None`: the leaf; `Some(i)`: path element i).
    #[error("malformed hash in inclusion proof at {position:?}")]
    MalformedHash {
        /// Which hash.
        position: Option<usize>,
    },
    /// The path does not lead to the root.
    #[error("inclusion proof for leaf {index} of {size} does not reach the root")]
    RootMismatch {
        /// Leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
}

/// A consistency proof is invalid or cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsistencyProofError {
    /// Sizes are not `1 <= old_size <= new_size`.
    #[error("consistency needs 1 <= old size <= new size, got {old_size} and {new_size}")]
    BadSizes {
        /// Old tree size.
        old_size: u64,
        /// New tree size.
        new_size: u64,
    },
    /// A [`crate::MerkleTree`] that started from a frontier cannot prove
    /// consistency from a size before its held leaves.
    #[error(
        "consistency from size {old_size} needs nodes before leaf {first}, where the held leaves start (only a frontier is held before it)"
    )]
    BeforeLeaves {
        /// Old tree size.
        old_size: u64,
        /// The first leaf held (the frontier's size).
        first: u64,
    },
    /// The path has the wrong number of elements for these sizes.
    #[error("consistency path of {got} hashes has the wrong length for sizes {old_size} and {new_size}")]
    PathLength {
        /// Elements given.
        got: usize,
        /// Old tree size.
        old_size: u64,
        /// New tree size.
        new_size: u64,
    },
    /// A path element has the wrong shape.
    #[error("malformed hash in consistency proof at position {position}")]
    MalformedHash {
        /// Which element.
        position: usize,
    },
    /// The path does not reproduce the old root.
    #[error("consistency proof from {old_size} to {new_size} does not reproduce the old root")]
    OldRootMismatch {
        /// Old tree size.
        old_size: u64,
        /// New tree size.
        new_size: u64,
    },
    /// The path does not reproduce the new root.
    #[error("consistency proof from {old_size} to {new_size} does not reproduce the new root")]
    NewRootMismatch {
        /// Old tree size.
        old_size: u64,
        /// New tree size.
        new_size: u64,
    },
}

impl InclusionProofError {
    /// A stable, machine-readable name of the error class.
    pub fn code(&self) -> &'static str {
        match self {
            Self::IndexOutOfRange { .. } => "index_out_of_range",
            Self::BeforeLeaves { .. } => "before_leaves",
            Self::PathLength { .. } => "path_length",
            Self::MalformedHash { .. } => "malformed_hash",
            Self::RootMismatch { .. } => "root_mismatch",
        }
    }
}

impl ConsistencyProofError {
    /// A stable, machine-readable name of the error class.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadSizes { .. } => "bad_sizes",
            Self::BeforeLeaves { .. } => "before_leaves",
            Self::PathLength { .. } => "path_length",
            Self::MalformedHash { .. } => "malformed_hash",
            Self::OldRootMismatch { .. } => "old_root_mismatch",
            Self::NewRootMismatch { .. } => "new_root_mismatch",
        }
    }
}
