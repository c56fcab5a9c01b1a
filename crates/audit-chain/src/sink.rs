//! The sink traits: [`AuditSink`] stores records in chain order,
//! [`AuditStream`] tells where each chain stands.

use audit_canon::Digest;

use crate::state::{ChainState, SealedRecord};

/// Where records go: RAM, a WAL, anything a host plugs in.
///
/// Object-safe, `Send + Sync`. The emitter calls [`AuditSink::append_begin`]
/// while it holds the stream's chain lock, so a sink sees each stream's
/// records in `seq` order, exactly once each; it may see different streams
/// concurrently. It waits for the acknowledgement after releasing the lock,
/// so the next record of the stream can be handed over while this one is
/// made durable (one sync can then cover several records of one stream).
pub trait AuditSink: Send + Sync {
    /// Stores `record`, which follows the stream's current head, and returns
    /// the new head once the record is acknowledged. Appending the record
    /// that already is the head (same dedupe key) is a no-op that returns
    /// the same head. On error nothing of the record is stored.
    fn append(&self, record: &SealedRecord) -> Result<Digest, SinkError>;

    /// Takes `record` (which follows the stream's current head, counting
    /// records begun and not yet acknowledged) and returns a ticket to wait
    /// on for its acknowledgement. An error here means the record was not
    /// taken. A record whose ticket reports an error was not stored, and
    /// neither was any record of its stream begun after it.
    ///
    /// The default appends at once ([`Self::append`]); a sink that
    /// acknowledges in groups (a WAL syncing once for many records)
    /// overrides it.
    fn append_begin(&self, record: &SealedRecord) -> Result<AppendTicket, SinkError> {
        self.append(record).map(|d| AppendTicket::ready(Ok(d)))
    }

    /// Makes every appended record as durable as the sink can.
    fn flush(&self) -> Result<(), SinkError>;

    /// Flushes and refuses further appends.
    fn close(&self) -> Result<(), SinkError>;
}

/// A record taken by [`AuditSink::append_begin`], to wait on for its
/// acknowledgement.
#[must_use = "a record is acknowledged only when its ticket says so"]
pub struct AppendTicket(Ticket);

enum Ticket {
    Ready(Result<Digest, SinkError>),
    Waiting(Box<dyn FnOnce() -> Result<Digest, SinkError> + Send>),
}

impl AppendTicket {
    /// A ticket whose outcome is known.
    pub fn ready(outcome: Result<Digest, SinkError>) -> Self {
        Self(Ticket::Ready(outcome))
    }

    /// A ticket whose outcome `wait` blocks for.
    pub fn waiting(wait: impl FnOnce() -> Result<Digest, SinkError> + Send + 'static) -> Self {
        Self(Ticket::Waiting(Box::new(wait)))
    }

    /// Blocks until the record is acknowledged (the new head) or refused.
    pub fn wait(self) -> Result<Digest, SinkError> {
        match self.0 {
            Ticket::Ready(outcome) => outcome,
            Ticket::Waiting(wait) => wait(),
        }
    }
}

impl std::fmt::Debug for AppendTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Ticket::Ready(outcome) => f.debug_tuple("AppendTicket::Ready").field(outcome).finish(),
            Ticket::Waiting(_) => f.write_str("AppendTicket::Waiting"),
        }
    }
}

/// Chain state per stream, as a sink knows it (for example after recovery).
pub trait AuditStream: Send + Sync {
    /// The state of `(writer_id, stream)`, or `None` when the sink holds no
    /// record of it.
    fn chain_state(&self, writer_id: &str, stream: &str) -> Option<ChainState>;

    /// Every `(writer_id, stream)` the sink holds records of.
    fn streams(&self) -> Vec<(String, String)>;
}

/// A sink refused a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The sink is at its memory bound.
    #[error("sink full: stream {stream:?} seq {seq} would exceed {what} (limit {limit})")]
    Full {
        /// The record's stream.
        stream: String,
        /// The record's seq.
        seq: u64,
        /// `records` or `bytes`.
        what: &'static str,
        /// The bound.
        limit: usize,
    },
    /// The record does not follow the stream's head.
    #[error("stream {stream:?}: record seq {seq} does not follow the head at seq {head_seq}")]
    OutOfOrder {
        /// The record's stream.
        stream: String,
        /// The record's seq.
        seq: u64,
        /// The stream's last seq.
        head_seq: u64,
    },
    /// The sink was closed.
    #[error("sink is closed")]
    Closed,
    /// An I/O failure (durable sinks); nothing of the record was
    /// acknowledged.
    #[error("{0}")]
    Io(String),
    /// The disk is full (`ENOSPC`); nothing of the record was kept, and the
    /// sink takes records again once space returns.
    #[error("no space left: {0}")]
    NoSpace(String),
    /// An earlier `fsync` failed, so what the disk holds is unknown; the
    /// sink refuses every write until it is reopened (and recovered).
    #[error("sink refuses writes after a failed sync, reopen it: {0}")]
    Poisoned(String),
}
