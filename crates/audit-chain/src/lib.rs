//! `audit-chain`: turns host events into the next record of their
//! `(writer_id, stream)` chain and hands them to a sink.
//!
//! # Main types
//!
//! - [`Event`]: what a host emits (stream, kind, actor, subject, reason,
//!   attrs, optional `ts_ms`).
//! - [`Emitter`]: one writer's front door; assigns `seq` and `prev`, keeps
//!   each stream's [`ChainState`] (last `seq`, head, Merkle frontier) and
//!   appends [`SealedRecord`]s to an [`AuditSink`]. Emitting is two steps:
//!   [`Emitter::prepare`] (scrub, stamp, check and build; no lock) and
//!   [`Emitter::commit`] (position, seal, append; the stream's lock).
//! - [`AuditSink`] and [`AuditStream`]: the object-safe sink traits;
//!   [`RamSink`] is the bounded in-memory (amnesia) sink.
//! - [`QueuedEmitter`]: bounded queues per worker, workers sharded by
//!   stream, `try_emit` that sheds with `Busy` instead of blocking, receipts
//!   for callers that need the record stored, deadline-bounded shutdown.
//!   The caller's thread prepares the event (a bad one is refused to it at
//!   once); the stream's worker only commits it, so a busy stream is not
//!   bound to one thread's worth of scrubbing and checking.
//! - [`Merge`]: several writers' chains as one sequence in the global order
//!   `(ts_ms, writer_id, seq)`.
//! - [`Privacy`]: on by default; IPs in `attrs` (keys and string values)
//!   and `subject.name` are dropped (or kept as a /24 or /64 prefix, or a salted hash), and
//!   emails, phones, NRICs, UUIDs, AWS ARNs, Google API keys and bearer
//!   tokens are redacted (or the event refused) before a record exists.
//! - [`AuditConfig`]: defaults < TOML file < `RON_AUDIT_*` environment <
//!   `--audit-*` flags, sizes like `1KiB`, durations like `15m`, and one
//!   error per validation rule.
//!
//! # Guarantees
//!
//! - Every stream's records reach the sink in `seq` order, contiguous from
//!   1 (or from the sink's recovered head), each linking to its
//!   predecessor; the chain moves only when the sink accepted the record.
//! - A bad event (invalid field, float, oversized attrs) is refused with a
//!   typed error naming the field, and nothing of it reaches the sink.
//! - Streams have separate locks: emitters on different streams do not
//!   serialize on one lock. Re-appending the current head is a no-op.
//! - `RamSink` never touches the filesystem and never exceeds its bounds.
//!
//! # Key design choice
//!
//! The per-stream lock covers exactly the work that fixes the chain
//! position (assign `seq`/`prev`, canonicalize, hash, hand to the sink);
//! validation and normalization run before it, so contention costs only
//! the part that must be serial.
//!
//! # What it does not do (yet)
//!
//! No disk I/O (that is `audit-wal`), no metrics registry or log sink of its
//! own (it reports through the `metrics` and `tracing` facades). It reads
//! configuration files only when a host calls [`AuditConfig::load`].
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use audit_canon::Limits;
//! use audit_chain::{Emitter, Event, RamSink};
//!
//! let sink = Arc::new(RamSink::new(10_000, 16 << 20));
//! let emitter = Emitter::new("svc-gateway@inst-1", sink.clone(), Limits::default())?;
//! let r1 = emitter.emit(Event::new("ingress", "GetServed", "ok").attr("status", 200u64))?;
//! let r2 = emitter.emit(Event::new("ingress", "QuotaReject", "audit_backpressure"))?;
//! assert_eq!((r1.seq, r2.seq), (1, 2));
//! let stored = sink.read("svc-gateway@inst-1", "ingress")?; // verified on read
//! assert_eq!(stored[1].record().prev(), &audit_canon::PrevHash::Digest(r1.self_hash));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod config;
mod emitter;
mod event;
mod merge;
mod privacy;
mod queue;
mod ram;
mod sink;
mod state;
mod telemetry;

pub use config::{
    AuditConfig, ConfigError, FsyncPolicy, IpModeName, Profile, ShedPolicy, SinkKind, parse_duration,
    parse_size,
};
pub use emitter::{Clock, CommitTicket, EmitError, Emitter, PreparedEvent, Receipt};
pub use event::Event;
pub use merge::{GlobalOrder, Merge};
pub use privacy::{IpMode, PiiAction, PiiKind, Privacy, PrivacyError};
pub use queue::{Overflow, PendingReceipt, QueueConfig, QueueError, QueueStats, QueuedEmitter};
pub use ram::{RamSink, ReadError};
pub use sink::{AppendTicket, AuditSink, AuditStream, SinkError};
pub use state::{ChainState, ChainStateError, SealedRecord};
pub use telemetry::{
    APPENDED_TOTAL, BUSY_REJECTIONS_TOTAL, BYTES_TOTAL, DEDUPE_HITS_TOTAL, DROP_TOTAL, PII_BLOCKED_TOTAL,
    PII_REDACTED_TOTAL, QUEUE_DEPTH, reason,
};
