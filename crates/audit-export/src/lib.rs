//! `audit-export`: signed checkpoints, export bundles and inclusion and
//! consistency proof generation.
//!
//! Status: the crate is laid out but empty; its contents arrive with the
//! export/verify issue. It will sign checkpoint bodies from `audit-canon`
//! with pluggable signers and write bundles atomically. It deliberately does
//! not verify: that is `audit-verify`, which third parties use alone.
#![forbid(unsafe_code)]
