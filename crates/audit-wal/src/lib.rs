//! `audit-wal`: the durable sink. Append-only segment files with group
//! commit, and recovery that cuts only a torn tail and reports every other
//! mismatch as corruption.
//!
//! Status: the crate is laid out but empty; its contents arrive with the
//! audit-wal issue. It will guarantee that an acknowledged record survives a
//! crash, and it deliberately never repairs corruption on its own.
#![forbid(unsafe_code)]
