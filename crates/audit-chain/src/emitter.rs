//! [`Emitter`]: one writer's front door. It turns an [`Event`] into the next
//! record of its stream's chain and appends it to the sink.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use audit_canon::{AuditRecord, BoundsError, Digest, Limits, PrevHash, RecordError};

use crate::event::Event;
use crate::sink::{AuditSink, AuditStream, SinkError};
use crate::state::{ChainState, ChainStateError, SealedRecord};

/// Milliseconds since the Unix epoch; injectable for tests.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Proof that a record was appended: where it is and what it hashes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Its stream.
    pub stream: String,
    /// Its position in the stream.
    pub seq: u64,
    /// Its `self_hash`, now the stream's head.
    pub self_hash: Digest,
}

/// Emits the records of one `writer_id`.
///
/// Each stream has its own lock, taken only to assign `seq` and `prev`,
/// canonicalize, hash and hand the record to the sink; streams never wait
/// for each other here. Validation, NFC normalization and timestamping
/// happen before the lock.
pub struct Emitter {
    writer_id: String,
    limits: Limits,
    sink: Arc<dyn AuditSink>,
    known: Arc<dyn AuditStream>,
    chains: RwLock<HashMap<String, Arc<Mutex<ChainState>>>>,
    clock: Clock,
}

impl Emitter {
    /// An emitter for `writer_id` over `sink`, continuing whatever chains
    /// the sink already holds for this writer.
    pub fn new<S>(writer_id: impl Into<String>, sink: Arc<S>, limits: Limits) -> Result<Self, EmitError>
    where
        S: AuditSink + AuditStream + 'static,
    {
        let writer_id = writer_id.into();
        // Validate the writer once, through the record rules.
        AuditRecord::builder()
            .ts_ms(0)
            .writer_id(writer_id.as_str())
            .seq(1)
            .stream("s")
            .kind("K")
            .reason("r")
            .build()
            .map_err(EmitError::Invalid)?;
        let as_sink: Arc<dyn AuditSink> = sink.clone();
        let as_stream: Arc<dyn AuditStream> = sink;
        Ok(Self {
            writer_id,
            limits,
            sink: as_sink,
            known: as_stream,
            chains: RwLock::new(HashMap::new()),
            clock: Arc::new(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            }),
        })
    }

    /// Replaces the wall clock (tests, replays).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The writer identity.
    pub fn writer_id(&self) -> &str {
        &self.writer_id
    }

    /// Where `stream` stands, as this emitter knows it.
    pub fn chain_state(&self, stream: &str) -> Option<ChainState> {
        let chain = self.existing(stream)?;
        let state = chain.lock().unwrap_or_else(PoisonError::into_inner);
        Some(state.clone())
    }

    fn existing(&self, stream: &str) -> Option<Arc<Mutex<ChainState>>> {
        let map = self.chains.read().unwrap_or_else(PoisonError::into_inner);
        map.get(stream).cloned()
    }

    fn chain(&self, stream: &str) -> Arc<Mutex<ChainState>> {
        if let Some(c) = self.existing(stream) {
            return c;
        }
        let mut map = self.chains.write().unwrap_or_else(PoisonError::into_inner);
        map.entry(stream.to_owned())
            .or_insert_with(|| {
                Arc::new(Mutex::new(
                    self.known
                        .chain_state(&self.writer_id, stream)
                        .unwrap_or_default(),
                ))
            })
            .clone()
    }

    /// Records `event` as the next record of its stream. On any error
    /// nothing reaches the sink and the chain does not move.
    pub fn emit(&self, event: Event) -> Result<Receipt, EmitError> {
        let ts_ms = event.ts_ms.unwrap_or_else(|| (self.clock)());
        // Everything but the chain position, checked outside the lock.
        let draft = AuditRecord::builder()
            .ts_ms(ts_ms)
            .writer_id(self.writer_id.as_str())
            .seq(1)
            .stream(event.stream)
            .kind(event.kind)
            .actor(event.actor)
            .subject(event.subject)
            .reason(event.reason)
            .attrs(event.attrs)
            .build()
            .map_err(EmitError::Invalid)?;
        let chain = self.chain(draft.stream());
        let mut state = chain.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = state
            .seq()
            .checked_add(1)
            .ok_or_else(|| EmitError::SeqExhausted {
                stream: draft.stream().to_owned(),
            })?;
        let record = draft
            .with_position(seq, *state.head())
            .map_err(EmitError::Invalid)?;
        let sealed = SealedRecord::seal(record, &self.limits).map_err(EmitError::Bounds)?;
        self.sink.append(&sealed).map_err(EmitError::Sink)?;
        state.advance(&sealed).map_err(EmitError::Chain)?;
        Ok(Receipt {
            stream: sealed.record().stream().to_owned(),
            seq,
            self_hash: *sealed.self_hash(),
        })
    }

    /// Appends an already sealed record of this writer (a replay, a
    /// forwarder's retry). The record that already is the stream's head is
    /// an idempotent no-op returning the same head; any other record must
    /// follow the head.
    pub fn append_sealed(&self, record: &SealedRecord) -> Result<Digest, EmitError> {
        let r = record.record();
        if r.writer_id() != self.writer_id {
            return Err(EmitError::OtherWriter {
                writer_id: r.writer_id().to_owned(),
            });
        }
        let chain = self.chain(r.stream());
        let mut state = chain.lock().unwrap_or_else(PoisonError::into_inner);
        if *state.head() == PrevHash::Digest(*record.self_hash()) {
            return Ok(*record.self_hash());
        }
        if !state.is_next(r) {
            return Err(EmitError::Chain(ChainStateError::NotNext {
                seq: r.seq(),
                expected: state.seq().saturating_add(1),
            }));
        }
        let head = self.sink.append(record).map_err(EmitError::Sink)?;
        state.advance(record).map_err(EmitError::Chain)?;
        Ok(head)
    }
}

/// Why an event was not recorded. Nothing of it reached the sink.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// A field breaks its rule (the error names the field).
    #[error("invalid event: {0}")]
    Invalid(RecordError),
    /// The record is over a size limit.
    #[error("invalid event: {0}")]
    Bounds(BoundsError),
    /// The sink refused it.
    #[error("sink refused the record: {0}")]
    Sink(SinkError),
    /// The stream reached `seq` u64::MAX.
    #[error("stream {stream:?} has used every seq")]
    SeqExhausted {
        /// The stream.
        stream: String,
    },
    /// A sealed record of another writer.
    #[error("record of writer {writer_id:?} given to another writer's emitter")]
    OtherWriter {
        /// The record's writer.
        writer_id: String,
    },
    /// A sealed record that does not continue the chain.
    #[error(transparent)]
    Chain(ChainStateError),
}
