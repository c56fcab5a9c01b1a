//! `audit-verify`: the small, independent verifier third parties reuse
//! alone, for records, chains, WAL segments, bundles, proofs and signed
//! checkpoints.
//!
//! Status: the crate is laid out but empty; its contents arrive with the
//! export/verify issue. Its dependency tree will stay small: it depends on
//! `audit-canon` and never on the writer-side crates.
#![forbid(unsafe_code)]
