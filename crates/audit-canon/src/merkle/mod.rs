//! Merkle trees of FORMAT-v1.md section 5: domain-separated hashing, the
//! incremental frontier, RFC 9162 inclusion and consistency proofs, and a
//! tree kept whole for a prover that answers many.

pub(crate) mod frontier;
pub(crate) mod hasher;
pub(crate) mod proof;
pub(crate) mod tree;
