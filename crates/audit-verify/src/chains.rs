//! [`Chains`]: where every `(writer_id, stream)` chain stands while a log
//! is read in order, and the link check each next record must pass.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use audit_canon::{Digest, Frontier, FrontierError, PrevHash, RecordLink, leaf_hash};

/// One chain's position: last `seq`, head, Merkle frontier over `1..=seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamHead {
    /// The last `seq`.
    pub seq: u64,
    /// The last record's `self_hash`.
    pub head: Digest,
    /// The frontier over records `1..=seq`.
    pub frontier: Frontier,
    /// The last record's `ts_ms` (advisory).
    pub last_ts_ms: u64,
}

/// Every chain seen so far, keyed by `(writer_id, stream)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chains {
    /// writer_id, then stream: lookups by `&str` without allocating.
    heads: HashMap<String, HashMap<String, StreamHead>>,
}

impl Chains {
    /// No chains yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Chains resumed from known heads (a writer's index).
    pub fn from_heads(heads: impl IntoIterator<Item = ((String, String), StreamHead)>) -> Self {
        let mut c = Self::default();
        for ((w, s), h) in heads {
            c.heads.entry(w).or_default().insert(s, h);
        }
        c
    }

    /// The head of `(writer_id, stream)`.
    pub fn get(&self, writer_id: &str, stream: &str) -> Option<&StreamHead> {
        self.heads.get(writer_id)?.get(stream)
    }

    /// Every chain as `(writer_id, stream, head)`, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &StreamHead)> {
        self.heads
            .iter()
            .flat_map(|(w, m)| m.iter().map(move |(s, h)| (w.as_str(), s.as_str(), h)))
    }

    /// How many chains.
    pub fn len(&self) -> usize {
        self.heads.values().map(HashMap::len).sum()
    }

    /// Whether no chain has been seen.
    pub fn is_empty(&self) -> bool {
        self.heads.is_empty()
    }

    /// Checks that `link` is the next record of its chain (`seq` one more
    /// than the head's, or 1 for a new chain; `prev` the head, or genesis)
    /// and advances the chain past it. On error nothing changes.
    pub fn advance(&mut self, link: &RecordLink<'_>) -> Result<(), LinkError> {
        self.advance_leaf(link, leaf_hash(&link.self_hash))
    }

    /// [`Chains::advance`] with the record's Merkle leaf already computed
    /// (`leaf_hash(self_hash)`, which a parallel reader can do ahead).
    pub fn advance_leaf(&mut self, link: &RecordLink<'_>, leaf: Digest) -> Result<(), LinkError> {
        let found = self
            .heads
            .get_mut(link.writer_id.as_ref())
            .and_then(|m| m.get_mut(link.stream.as_ref()));
        match found {
            None => {
                if link.seq != 1 {
                    return Err(LinkError::Gap { expected: 1 });
                }
                if !link.prev.is_genesis() {
                    return Err(LinkError::Prev {
                        expected: PrevHash::Genesis,
                    });
                }
                let mut frontier = Frontier::new();
                frontier.push(leaf).map_err(LinkError::Frontier)?;
                self.heads
                    .entry(link.writer_id.clone().into_owned())
                    .or_default()
                    .insert(
                        link.stream.clone().into_owned(),
                        StreamHead {
                            seq: 1,
                            head: link.self_hash,
                            frontier,
                            last_ts_ms: link.ts_ms,
                        },
                    );
                Ok(())
            }
            Some(h) => {
                let expected = h
                    .seq
                    .checked_add(1)
                    .ok_or(LinkError::Gap { expected: u64::MAX })?;
                if link.seq != expected {
                    return Err(LinkError::Gap { expected });
                }
                if link.prev != PrevHash::Digest(h.head) {
                    return Err(LinkError::Prev {
                        expected: PrevHash::Digest(h.head),
                    });
                }
                h.frontier.push(leaf).map_err(LinkError::Frontier)?;
                h.seq = expected;
                h.head = link.self_hash;
                h.last_ts_ms = link.ts_ms;
                Ok(())
            }
        }
    }
}

/// A record that does not follow its chain's head.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// Its `seq` is not the next one.
    #[error("expected seq {expected}")]
    Gap {
        /// The seq that would follow.
        expected: u64,
    },
    /// Its `prev` is not the head.
    #[error("prev is not the chain head {expected}")]
    Prev {
        /// The head it should link to.
        expected: PrevHash,
    },
    /// The stream's Merkle tree is full.
    #[error(transparent)]
    Frontier(FrontierError),
}
