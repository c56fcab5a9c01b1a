//! [`RamSink`]: records in memory only (amnesia mode), bounded in records
//! and bytes, read back per stream with every record verified.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use audit_canon::{Digest, Limits, PrevHash, VerifyError, verify_record_against};

use crate::sink::{AuditSink, AuditStream, SinkError};
use crate::state::{ChainState, SealedRecord};

/// One stream's records. Its head is the last record; the Merkle frontier
/// is rebuilt only when [`AuditStream::chain_state`] asks (an emitter
/// starting over this sink), so appends do not pay for a second frontier.
#[derive(Default)]
struct RamChain {
    records: Vec<SealedRecord>,
}

impl RamChain {
    fn head(&self) -> PrevHash {
        self.records
            .last()
            .map_or(PrevHash::Genesis, |r| PrevHash::Digest(*r.self_hash()))
    }

    fn is_next(&self, r: &audit_canon::AuditRecord) -> bool {
        r.seq() == self.records.len() as u64 + 1 && *r.prev() == self.head()
    }
}

/// Chains by writer, then by stream: looked up with `&str`, no allocation.
type Chains = HashMap<String, HashMap<String, Arc<Mutex<RamChain>>>>;

/// An in-memory sink. It never opens, creates or writes a file: amnesia
/// mode is a property of the type, not a flag.
///
/// Memory is bounded by a record count and by canonical bytes; a record
/// past either bound is refused with [`SinkError::Full`] (nothing already
/// stored is evicted). Streams have their own locks, so appends to
/// different streams do not wait for each other.
pub struct RamSink {
    chains: RwLock<Chains>,
    max_records: usize,
    max_bytes: usize,
    records: AtomicUsize,
    bytes: AtomicUsize,
    closed: AtomicBool,
    limits: Limits,
}

impl RamSink {
    /// A sink holding at most `max_records` records and `max_bytes` bytes of
    /// canonical records.
    pub fn new(max_records: usize, max_bytes: usize) -> Self {
        Self {
            chains: RwLock::new(HashMap::new()),
            max_records,
            max_bytes,
            records: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            limits: Limits::default(),
        }
    }

    /// Records stored.
    pub fn len(&self) -> usize {
        self.records.load(Ordering::Acquire)
    }

    /// Whether no record is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Canonical bytes stored.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }

    fn chain(&self, writer_id: &str, stream: &str) -> Option<Arc<Mutex<RamChain>>> {
        let map = self.chains.read().unwrap_or_else(PoisonError::into_inner);
        map.get(writer_id)?.get(stream).cloned()
    }

    fn chain_or_new(&self, writer_id: &str, stream: &str) -> Arc<Mutex<RamChain>> {
        if let Some(c) = self.chain(writer_id, stream) {
            return c;
        }
        let mut map = self.chains.write().unwrap_or_else(PoisonError::into_inner);
        map.entry(writer_id.to_owned())
            .or_default()
            .entry(stream.to_owned())
            .or_default()
            .clone()
    }

    /// Takes `n` units of a bound, or refuses without taking any.
    fn reserve(counter: &AtomicUsize, n: usize, limit: usize) -> bool {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                cur.checked_add(n).filter(|&next| next <= limit)
            })
            .is_ok()
    }

    /// Every record of `(writer_id, stream)`, in `seq` order, each verified
    /// as it is read: canonical bytes, `self_hash`, `seq` and `prev` links.
    pub fn read(&self, writer_id: &str, stream: &str) -> Result<Vec<SealedRecord>, ReadError> {
        let Some(chain) = self.chain(writer_id, stream) else {
            return Ok(Vec::new());
        };
        let chain = chain.lock().unwrap_or_else(PoisonError::into_inner);
        let mut prev = PrevHash::Genesis;
        for (i, r) in chain.records.iter().enumerate() {
            let seq = i as u64 + 1;
            verify_record_against(r.canonical(), r.self_hash(), &self.limits).map_err(|source| {
                ReadError::Corrupt {
                    stream: stream.to_owned(),
                    seq,
                    source,
                }
            })?;
            if r.record().seq() != seq || *r.record().prev() != prev {
                return Err(ReadError::BrokenLink {
                    stream: stream.to_owned(),
                    seq,
                });
            }
            prev = PrevHash::Digest(*r.self_hash());
        }
        Ok(chain.records.clone())
    }
}

impl AuditSink for RamSink {
    fn append(&self, record: &SealedRecord) -> Result<Digest, SinkError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(SinkError::Closed);
        }
        let r = record.record();
        let chain = self.chain_or_new(r.writer_id(), r.stream());
        let mut chain = chain.lock().unwrap_or_else(PoisonError::into_inner);
        if chain.head() == PrevHash::Digest(*record.self_hash()) {
            return Ok(*record.self_hash());
        }
        if !chain.is_next(r) {
            return Err(SinkError::OutOfOrder {
                stream: r.stream().to_owned(),
                seq: r.seq(),
                head_seq: chain.records.len() as u64,
            });
        }
        let full = |what, limit| SinkError::Full {
            stream: r.stream().to_owned(),
            seq: r.seq(),
            what,
            limit,
        };
        if !Self::reserve(&self.records, 1, self.max_records) {
            return Err(full("records", self.max_records));
        }
        let n = record.canonical().len();
        if !Self::reserve(&self.bytes, n, self.max_bytes) {
            self.records.fetch_sub(1, Ordering::AcqRel);
            return Err(full("bytes", self.max_bytes));
        }
        chain.records.push(record.clone());
        Ok(*record.self_hash())
    }

    fn flush(&self) -> Result<(), SinkError> {
        Ok(())
    }

    fn close(&self) -> Result<(), SinkError> {
        self.closed.store(true, Ordering::Release);
        Ok(())
    }
}

impl AuditStream for RamSink {
    fn chain_state(&self, writer_id: &str, stream: &str) -> Option<ChainState> {
        let chain = self.chain(writer_id, stream)?;
        let chain = chain.lock().unwrap_or_else(PoisonError::into_inner);
        let mut state = ChainState::new();
        for r in &chain.records {
            // Stored records were checked to follow each other on append.
            state.advance(r).ok()?;
        }
        Some(state)
    }

    fn streams(&self) -> Vec<(String, String)> {
        let map = self.chains.read().unwrap_or_else(PoisonError::into_inner);
        let mut keys: Vec<_> = map
            .iter()
            .flat_map(|(w, streams)| streams.keys().map(move |s| (w.clone(), s.clone())))
            .collect();
        keys.sort();
        keys
    }
}

/// A stored record failed verification on read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// Bytes or digest do not verify.
    #[error("stream {stream:?} seq {seq}: {source}")]
    Corrupt {
        /// Stream.
        stream: String,
        /// Position in the stream.
        seq: u64,
        /// Why.
        source: VerifyError,
    },
    /// `seq` or `prev` does not continue the chain.
    #[error("stream {stream:?} seq {seq}: seq or prev does not continue the chain")]
    BrokenLink {
        /// Stream.
        stream: String,
        /// Position in the stream.
        seq: u64,
    },
}
