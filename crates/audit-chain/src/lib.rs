//! `audit-chain`: turns host events into the next record of their
//! `(writer_id, stream)` chain and hands them to a sink without ever
//! stalling the host.
//!
//! Status: the crate is laid out but empty; its contents arrive with the
//! audit-chain issue (emitter, `AuditSink`, `RamSink`, queued front end,
//! `AuditConfig`, privacy scrubbing). It will guarantee one writer per chain
//! head, bounded memory, and shedding instead of blocking. It deliberately
//! does no disk I/O of its own: durable storage is `audit-wal`.
#![forbid(unsafe_code)]
