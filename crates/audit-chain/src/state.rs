//! [`ChainState`] and [`SealedRecord`]: a stream's position, and a record
//! with its canonical bytes and hash, as sinks receive it.

use std::sync::Arc;

use audit_canon::{AuditRecord, Digest, Frontier, FrontierError, PrevHash, leaf_hash};

/// Where one `(writer_id, stream)` chain stands: the last `seq`, its head
/// (the last record's `self_hash`, or genesis) and the stream's Merkle
/// frontier over records `1..=seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainState {
    seq: u64,
    head: PrevHash,
    frontier: Frontier,
}

impl Default for ChainState {
    fn default() -> Self {
        Self {
            seq: 0,
            head: PrevHash::Genesis,
            frontier: Frontier::new(),
        }
    }
}

impl ChainState {
    /// The state of an empty stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// A recovered state (a sink rebuilding its chains). The frontier must
    /// cover exactly `seq` records, and only an empty chain has a genesis head.
    pub fn from_parts(seq: u64, head: PrevHash, frontier: Frontier) -> Result<Self, ChainStateError> {
        if frontier.size() != seq || (seq == 0) != head.is_genesis() {
            return Err(ChainStateError::Inconsistent {
                seq,
                frontier_size: frontier.size(),
            });
        }
        Ok(Self { seq, head, frontier })
    }

    /// The last assigned `seq` (0 for an empty stream).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The `prev` the next record must carry.
    pub fn head(&self) -> &PrevHash {
        &self.head
    }

    /// The Merkle frontier over records `1..=seq`.
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }

    /// Whether `record` is the next record of this chain.
    pub fn is_next(&self, record: &AuditRecord) -> bool {
        self.seq.checked_add(1) == Some(record.seq()) && *record.prev() == self.head
    }

    /// Advances past `record`, which must be [`Self::is_next`].
    pub fn advance(&mut self, record: &SealedRecord) -> Result<(), ChainStateError> {
        if !self.is_next(record.record()) {
            return Err(ChainStateError::NotNext {
                seq: record.record().seq(),
                expected: self.seq.saturating_add(1),
            });
        }
        self.frontier
            .push(leaf_hash(record.self_hash()))
            .map_err(ChainStateError::Frontier)?;
        self.seq = record.record().seq();
        self.head = PrevHash::Digest(*record.self_hash());
        Ok(())
    }
}

/// A chain state cannot be built or advanced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainStateError {
    /// Parts that do not describe one chain.
    #[error("chain state of seq {seq} has a frontier of {frontier_size} records")]
    Inconsistent {
        /// The claimed seq.
        seq: u64,
        /// The frontier's size.
        frontier_size: u64,
    },
    /// A record that does not follow the head.
    #[error("record seq {seq} does not follow the chain head (expected seq {expected} linking to the head)")]
    NotNext {
        /// The record's seq.
        seq: u64,
        /// The seq that would follow.
        expected: u64,
    },
    /// The frontier is full.
    #[error(transparent)]
    Frontier(FrontierError),
}

/// A record with its canonical bytes and `self_hash`: what sinks store.
/// Cloning is a reference-count increment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRecord(Arc<Sealed>);

#[derive(Debug, PartialEq, Eq)]
struct Sealed {
    record: AuditRecord,
    canonical: Vec<u8>,
    self_hash: Digest,
}

impl SealedRecord {
    /// Seals a record: canonical bytes under `limits`, and their digest.
    pub fn seal(record: AuditRecord, limits: &audit_canon::Limits) -> Result<Self, audit_canon::BoundsError> {
        // A freshly built record hands over the bytes its builder wrote.
        let (record, canonical) = record.into_canonical(limits)?;
        let self_hash = Digest::of(&canonical);
        Ok(Self(Arc::new(Sealed {
            record,
            canonical,
            self_hash,
        })))
    }

    /// A record read back from storage, already parsed and checked (its
    /// canonical bytes and digest come with it).
    pub fn from_parsed(parsed: audit_canon::ParsedRecord) -> Self {
        Self(Arc::new(Sealed {
            record: parsed.record,
            canonical: parsed.canonical,
            self_hash: parsed.self_hash,
        }))
    }

    /// The typed record.
    pub fn record(&self) -> &AuditRecord {
        &self.0.record
    }

    /// Its canonical bytes.
    pub fn canonical(&self) -> &[u8] {
        &self.0.canonical
    }

    /// `H(canonical)`.
    pub fn self_hash(&self) -> &Digest {
        &self.0.self_hash
    }

    /// The dedupe key: the raw 32 bytes of `self_hash`.
    pub fn dedupe_key(&self) -> [u8; 32] {
        *self.0.self_hash.as_bytes()
    }
}
