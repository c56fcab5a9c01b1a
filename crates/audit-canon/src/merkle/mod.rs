//! Merkle trees of FORMAT-v1.md section 5: domain-separated hashing, the
//! incremental frontier, and RFC 9162 inclusion and consistency proofs.

pub(crate) mod frontier;
pub(crate) mod hasher;
pub(crate) mod proof;
