//! [`Emitter`]: one writer's front door. It turns an [`Event`] into the next
//! record of its stream's chain and appends it to the sink.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use audit_canon::{AuditRecord, BoundsError, BuildError, Digest, Limits, PrevHash, RecordError};
use metrics::Counter;

use crate::event::Event;
use crate::privacy::{Privacy, PrivacyError};
use crate::sink::{AppendTicket, AuditSink, AuditStream, SinkError};
use crate::state::{ChainState, ChainStateError, SealedRecord};
use crate::telemetry::{self, reason};

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

/// An event scrubbed, stamped and checked by [`Emitter::prepare`]: a record
/// of its emitter's writer that lacks only `seq` and `prev`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedEvent {
    draft: AuditRecord,
}

impl PreparedEvent {
    /// Its stream.
    pub fn stream(&self) -> &str {
        self.draft.stream()
    }
}

/// A record handed to the sink by [`Emitter::commit_begin`]; wait on it for
/// the sink's acknowledgement.
#[must_use = "a record is recorded only once its ticket says so"]
pub struct CommitTicket<'a> {
    emitter: &'a Emitter,
    chain: Arc<Mutex<Slot>>,
    epoch: u64,
    sealed: SealedRecord,
    ticket: AppendTicket,
    appended: Counter,
}

impl CommitTicket<'_> {
    /// The record's stream.
    pub fn stream(&self) -> &str {
        self.sealed.record().stream()
    }

    /// Waits for the sink: the receipt, or why the record (and any record
    /// of its stream committed after it) was not stored.
    pub fn wait(self) -> Result<Receipt, EmitError> {
        self.wait_sealed().map(|(r, _)| r)
    }

    /// [`Self::wait`], returning the sealed record as well.
    pub fn wait_sealed(self) -> Result<(Receipt, SealedRecord), EmitError> {
        let em = self.emitter;
        let r = self.sealed.record();
        match self.ticket.wait() {
            Ok(_) => {
                self.appended.increment(1);
                em.bytes.increment(self.sealed.canonical().len() as u64);
                let receipt = Receipt {
                    stream: r.stream().to_owned(),
                    seq: r.seq(),
                    self_hash: *self.sealed.self_hash(),
                };
                tracing::event!(
                    name: "audit.append.ok",
                    tracing::Level::DEBUG,
                    stream = %receipt.stream,
                    seq = receipt.seq,
                    self_hash = %receipt.self_hash,
                );
                Ok((receipt, self.sealed))
            }
            Err(e) => {
                // The sink kept neither this record nor any later one of
                // the stream: the chain goes back to what the sink holds.
                // Later refusals of the same run find the epoch moved on.
                let mut slot = self.chain.lock().unwrap_or_else(PoisonError::into_inner);
                if slot.epoch == self.epoch {
                    slot.reload(em, r.stream());
                }
                drop(slot);
                let e = EmitError::Sink(e);
                em.rejected(r.stream(), &e);
                Err(e)
            }
        }
    }
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
    chains: RwLock<HashMap<String, Arc<Mutex<Slot>>>>,
    clock: Clock,
    service: String,
    bytes: Counter,
    dedupe_hits: Counter,
    privacy: Privacy,
    pii_redacted: Counter,
    pii_blocked: Counter,
}

/// One stream: its chain state and its `audit_appended_total` handles per
/// kind (looked up once, under the lock the emitter holds anyway).
#[derive(Default)]
struct Slot {
    state: ChainState,
    appended: HashMap<String, Counter>,
    /// Bumped each time `state` is reloaded from the sink after a refused
    /// record, so only the first refusal of a run of them reloads.
    epoch: u64,
}

impl Slot {
    /// Takes the stream's state from the sink (after it refused records it
    /// had taken) and starts a new epoch.
    fn reload(&mut self, em: &Emitter, stream: &str) {
        self.state = em.known.chain_state(&em.writer_id, stream).unwrap_or_default();
        self.epoch = self.epoch.wrapping_add(1);
    }
}

impl Emitter {
    /// `writer_id` checked against the record rules and NFC-normalized, as
    /// [`Emitter::new`] takes it: a caller can refuse a bad writer before
    /// it opens (or creates) a sink.
    pub fn check_writer_id(writer_id: impl Into<String>) -> Result<String, EmitError> {
        // Through the record rules, so that the writer is exactly what
        // records carry and what sinks key their chains by.
        Ok(AuditRecord::builder()
            .ts_ms(0)
            .writer_id(writer_id)
            .seq(1)
            .stream("s")
            .kind("K")
            .reason("r")
            .build()
            .map_err(EmitError::Invalid)?
            .writer_id()
            .to_owned())
    }

    /// An emitter for `writer_id` over `sink`, continuing whatever chains
    /// the sink already holds for this writer.
    pub fn new<S>(writer_id: impl Into<String>, sink: Arc<S>, limits: Limits) -> Result<Self, EmitError>
    where
        S: AuditSink + AuditStream + 'static,
    {
        let writer_id = Self::check_writer_id(writer_id)?;
        let as_sink: Arc<dyn AuditSink> = sink.clone();
        let as_stream: Arc<dyn AuditStream> = sink;
        let service = telemetry::service_of(&writer_id);
        Ok(Self {
            bytes: telemetry::bytes(&service),
            dedupe_hits: telemetry::dedupe_hits(&service),
            privacy: Privacy::default(),
            pii_redacted: telemetry::pii_redacted(&service),
            pii_blocked: telemetry::pii_blocked(&service),
            service,
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

    /// Replaces the privacy policy (on by default: IPs dropped, personal
    /// data redacted).
    pub fn with_privacy(mut self, privacy: Privacy) -> Self {
        self.privacy = privacy;
        self
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

    /// Where `stream` stands, as this emitter knows it (counting records
    /// handed over by `commit_begin` and not yet acknowledged).
    pub fn chain_state(&self, stream: &str) -> Option<ChainState> {
        let chain = self.existing(stream)?;
        let slot = chain.lock().unwrap_or_else(PoisonError::into_inner);
        Some(slot.state.clone())
    }

    fn existing(&self, stream: &str) -> Option<Arc<Mutex<Slot>>> {
        let map = self.chains.read().unwrap_or_else(PoisonError::into_inner);
        map.get(stream).cloned()
    }

    fn chain(&self, stream: &str) -> Arc<Mutex<Slot>> {
        if let Some(c) = self.existing(stream) {
            return c;
        }
        let mut map = self.chains.write().unwrap_or_else(PoisonError::into_inner);
        map.entry(stream.to_owned())
            .or_insert_with(|| {
                Arc::new(Mutex::new(Slot {
                    state: self
                        .known
                        .chain_state(&self.writer_id, stream)
                        .unwrap_or_default(),
                    appended: HashMap::new(),
                    epoch: 0,
                }))
            })
            .clone()
    }

    /// Records `event` as the next record of its stream: [`Self::prepare`],
    /// then [`Self::commit`]. On any error nothing reaches the sink and the
    /// chain does not move.
    pub fn emit(&self, event: Event) -> Result<Receipt, EmitError> {
        let prepared = self.prepare(event)?;
        self.commit(prepared)
    }

    /// The part of emitting that needs no lock: scrubs `event` under the
    /// privacy policy, stamps it, and checks and builds every field of its
    /// record but the chain position. The queued front end runs this on
    /// the caller's thread, so a bad event is refused to its caller at once
    /// and a busy stream's worker only seals and appends.
    pub fn prepare(&self, event: Event) -> Result<PreparedEvent, EmitError> {
        // The stream name outlives the event only when a reject would be logged.
        let stream = tracing::enabled!(tracing::Level::WARN).then(|| event.stream.clone());
        self.prepare_inner(event)
            .inspect_err(|e| self.rejected(stream.as_deref().unwrap_or_default(), e))
    }

    /// Gives a prepared event its chain position, seals it and appends it.
    /// On any error nothing reaches the sink and the chain does not move.
    pub fn commit(&self, prepared: PreparedEvent) -> Result<Receipt, EmitError> {
        self.commit_sealed(prepared).map(|(r, _)| r)
    }

    /// [`Self::commit`], returning the sealed record as well: for a host
    /// that forwards it, or that wants the record freed on a thread of its
    /// choosing (allocators cache best when memory is freed on the thread
    /// that allocated it).
    pub fn commit_sealed(&self, prepared: PreparedEvent) -> Result<(Receipt, SealedRecord), EmitError> {
        self.begin(prepared, false)?.wait_sealed()
    }

    /// The first half of [`Self::commit`] for a caller with several events
    /// in hand: positions, seals and hands the record to the sink
    /// ([`AuditSink::append_begin`]) under the stream's lock, and returns
    /// without waiting for the sink's acknowledgement. The stream's next
    /// record can be committed meanwhile, so one durable sync acknowledges
    /// them together. Wait on the ticket for the receipt. ([`Self::commit`]
    /// waits under the lock instead: one record alone is acknowledged
    /// soonest by a sink that writes it on the spot.)
    pub fn commit_begin(&self, prepared: PreparedEvent) -> Result<CommitTicket<'_>, EmitError> {
        self.begin(prepared, true)
    }

    /// [`Self::begin_inner`], counting and logging a refusal.
    fn begin(&self, prepared: PreparedEvent, pipelined: bool) -> Result<CommitTicket<'_>, EmitError> {
        // The stream name outlives the event only when a reject would be logged.
        let stream = tracing::enabled!(tracing::Level::WARN).then(|| prepared.stream().to_owned());
        self.begin_inner(prepared, pipelined)
            .inspect_err(|e| self.rejected(stream.as_deref().unwrap_or_default(), e))
    }

    /// Counts and logs an event that was not recorded.
    fn rejected(&self, stream: &str, e: &EmitError) {
        telemetry::dropped(&self.service, e.drop_reason()).increment(1);
        tracing::event!(
            name: "audit.append.reject",
            tracing::Level::WARN,
            stream = stream,
            reason = e.drop_reason(),
            error = %e,
        );
    }

    fn prepare_inner(&self, event: Event) -> Result<PreparedEvent, EmitError> {
        let ts_ms = event.ts_ms.unwrap_or_else(|| (self.clock)());
        // The privacy policy sees each string inside the builder's one walk
        // over the event, before the string is normalized (as
        // `Privacy::scrub` on the whole event would, in one pass less).
        let mut redacted = 0;
        let built = AuditRecord::builder()
            .ts_ms(ts_ms)
            .writer_id(self.writer_id.as_str())
            .seq(1)
            .stream(event.stream)
            .kind(event.kind)
            .actor(event.actor)
            .subject(event.subject)
            .reason(event.reason)
            .attrs(event.attrs)
            .build_visiting(|s: &mut std::borrow::Cow<'_, str>| {
                redacted += self.privacy.scrub_cow(s)?;
                Ok(())
            });
        // A refused event counts as blocked only, as when the whole event
        // was scrubbed first; an event that fails a field rule after its
        // values were scrubbed still counts them.
        if redacted > 0 && !matches!(built, Err(BuildError::Visit { .. })) {
            self.pii_redacted.increment(redacted);
        }
        match built {
            Ok(draft) => Ok(PreparedEvent { draft }),
            Err(BuildError::Visit { field, error: kind }) => {
                self.pii_blocked.increment(1);
                Err(EmitError::Privacy(PrivacyError { field, kind }))
            }
            Err(BuildError::Record(e)) => Err(EmitError::Invalid(e)),
        }
    }

    /// Positions, seals and hands over `prepared` under the stream's lock:
    /// with `pipelined`, through `append_begin` (the acknowledgement is
    /// waited for after the lock); otherwise through `append`, which
    /// returns acknowledged.
    fn begin_inner(&self, prepared: PreparedEvent, pipelined: bool) -> Result<CommitTicket<'_>, EmitError> {
        let draft = prepared.draft;
        if draft.writer_id() != self.writer_id {
            return Err(EmitError::OtherWriter {
                writer_id: draft.writer_id().to_owned(),
            });
        }
        let chain = self.chain(draft.stream());
        let mut slot = chain.lock().unwrap_or_else(PoisonError::into_inner);
        let mut d = draft;
        let mut reloaded = false;
        let (sealed, ticket) = loop {
            let seq = slot
                .state
                .seq()
                .checked_add(1)
                .ok_or_else(|| EmitError::SeqExhausted {
                    stream: d.stream().to_owned(),
                })?;
            let record = d
                .with_position(seq, *slot.state.head())
                .map_err(EmitError::Invalid)?;
            let sealed = SealedRecord::seal(record, &self.limits).map_err(EmitError::Bounds)?;
            let handed = if pipelined {
                self.sink.append_begin(&sealed)
            } else {
                self.sink.append(&sealed).map(|d| AppendTicket::ready(Ok(d)))
            };
            match handed {
                Ok(ticket) => break (sealed, ticket),
                // The sink's head is behind ours: records of this stream
                // handed over earlier were refused after they left the
                // lock, and their tickets have not told us yet. Take the
                // sink's state, once, and place this record after it.
                Err(SinkError::OutOfOrder { .. }) if !reloaded => {
                    reloaded = true;
                    slot.reload(self, sealed.record().stream());
                    d = sealed.record().clone();
                }
                Err(e) => return Err(EmitError::Sink(e)),
            }
        };
        // The chain moves now, so the stream's next record links to this
        // one while it is being acknowledged; a refusal reloads the state.
        slot.state.advance(&sealed).map_err(EmitError::Chain)?;
        let kind = sealed.record().kind();
        let appended = match slot.appended.get(kind) {
            Some(c) => c.clone(),
            None => {
                let c = telemetry::appended(&self.service, kind, sealed.record().stream());
                slot.appended.insert(kind.to_owned(), c.clone());
                c
            }
        };
        let epoch = slot.epoch;
        drop(slot);
        Ok(CommitTicket {
            emitter: self,
            chain,
            epoch,
            sealed,
            ticket,
            appended,
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
        let mut slot = chain.lock().unwrap_or_else(PoisonError::into_inner);
        if *slot.state.head() == PrevHash::Digest(*record.self_hash()) {
            self.dedupe_hits.increment(1);
            return Ok(*record.self_hash());
        }
        if !slot.state.is_next(r) {
            return Err(EmitError::Chain(ChainStateError::NotNext {
                seq: r.seq(),
                expected: slot.state.seq().saturating_add(1),
            }));
        }
        let head = self.sink.append(record).map_err(EmitError::Sink)?;
        slot.state.advance(record).map_err(EmitError::Chain)?;
        Ok(head)
    }
}

impl Emitter {
    /// The `service` label of this writer's metrics.
    pub fn service(&self) -> &str {
        &self.service
    }
}

impl EmitError {
    /// The `audit_drop_total` reason this error counts as.
    pub fn drop_reason(&self) -> &'static str {
        match self {
            Self::Invalid(_) | Self::OtherWriter { .. } | Self::Chain(_) => reason::SCHEMA,
            Self::Bounds(_) => reason::BOUNDS_EXCEEDED,
            Self::Sink(SinkError::Full { .. } | SinkError::NoSpace(_)) => reason::IO_BACKPRESSURE,
            Self::Sink(SinkError::Closed) => reason::CLOSED,
            Self::Sink(_) | Self::SeqExhausted { .. } => reason::SINK_ERROR,
            Self::Privacy(_) => reason::PII_BLOCKED,
        }
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
    /// The privacy policy refused it (personal data under `Reject`).
    #[error(transparent)]
    Privacy(PrivacyError),
}
