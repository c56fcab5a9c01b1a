//! `ron-audit`: the facade hosts depend on. It will re-export the layered
//! crates (`canon`, `hash`, `verify`, `bounds`, and behind the default-off
//! features `wal` and `export`).
//!
//! Status: the crate is laid out but empty; its surface arrives with the
//! CLI/facade issue. Until then, depend on `audit-canon` directly.
#![forbid(unsafe_code)]
