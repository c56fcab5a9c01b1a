//! [`RamSink`]: records in memory only (amnesia mode), bounded in records
//! and bytes, read back per stream with every record verified.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use audit_canon::{
    Digest, Frontier, Limits, PrevHash, VerifyError, leaf_hash, parse_record, verify_record_against,
};

use crate::sink::{AuditSink, AuditStream, SinkError};
use crate::state::{ChainState, SealedRecord};

/// The largest arena chunk. Records are copied into chunks, so an append
/// allocates nothing but, now and then, a new chunk.
const CHUNK: usize = 1 << 20;

/// The first chunk of a stream. Chunks grow with the stream (each as large
/// as everything before it, up to [`CHUNK`]), so a stream of a few records
/// does not reserve a whole chunk, and the memory reserved stays within
/// twice what is stored.
const FIRST_CHUNK: usize = 4 << 10;

/// Where one record's canonical bytes are, and their digest.
#[derive(Debug, Clone, Copy)]
struct Entry {
    chunk: usize,
    start: usize,
    len: usize,
    self_hash: Digest,
}

/// One stream's records, kept as their canonical bytes only, packed into
/// chunks, and their digests. The typed record is not kept: it took about
/// four times the canonical bytes again, outside the byte bound, and
/// reading parses the bytes anyway, since that is what verifying them
/// means.
///
/// Its head is the last record; the Merkle frontier is rebuilt only when
/// [`AuditStream::chain_state`] asks (an emitter starting over this sink),
/// so appends do not pay for a second frontier.
#[derive(Default)]
struct RamChain {
    chunks: Vec<Vec<u8>>,
    entries: Vec<Entry>,
}

impl RamChain {
    fn head(&self) -> PrevHash {
        self.entries
            .last()
            .map_or(PrevHash::Genesis, |e| PrevHash::Digest(e.self_hash))
    }

    fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    fn is_next(&self, r: &audit_canon::AuditRecord) -> bool {
        r.seq() == self.len() + 1 && *r.prev() == self.head()
    }

    /// Copies `bytes` into the last chunk, or a new one when they do not
    /// fit (a record never spans two chunks), and records where they are.
    fn push(&mut self, bytes: &[u8], self_hash: Digest) {
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| c.capacity() - c.len() >= bytes.len());
        if !fits {
            let stored: usize = self.chunks.iter().map(Vec::len).sum();
            let size = stored.clamp(FIRST_CHUNK, CHUNK).max(bytes.len());
            self.chunks.push(Vec::with_capacity(size));
        }
        let chunk = self.chunks.len() - 1;
        let Some(c) = self.chunks.last_mut() else {
            return; // unreachable: a chunk was just ensured
        };
        let start = c.len();
        c.extend_from_slice(bytes);
        self.entries.push(Entry {
            chunk,
            start,
            len: bytes.len(),
            self_hash,
        });
    }

    /// The canonical bytes of `e` (empty if `e` does not point into a
    /// chunk, which then fails verification like any other damage).
    fn bytes(&self, e: &Entry) -> &[u8] {
        self.chunks
            .get(e.chunk)
            .and_then(|c| c.get(e.start..e.start.saturating_add(e.len)))
            .unwrap_or_default()
    }
}

/// Chains by writer, then by stream: looked up with `&str`, no allocation.
type Chains = HashMap<String, HashMap<String, Arc<Mutex<RamChain>>>>;

/// An in-memory sink. It never opens, creates or writes a file: amnesia
/// mode is a property of the type, not a flag.
///
/// Memory is bounded by a record count and by canonical bytes; a record
/// past either bound is refused with [`SinkError::Full`] (nothing already
/// stored is evicted). The sink keeps each record as its canonical bytes,
/// packed into chunks that grow with the stream up to 1 MiB, and its
/// digest, so the byte bound is close to
/// the memory it takes: 200,000 workload records took 1.07 times their
/// canonical bytes. Reading parses the bytes back. Streams have their own
/// locks, so appends to different streams do not wait for each other.
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
    /// as it is read from its stored bytes: canonical bytes, `self_hash`,
    /// writer, stream, `seq` and `prev` links.
    pub fn read(&self, writer_id: &str, stream: &str) -> Result<Vec<SealedRecord>, ReadError> {
        let Some(chain) = self.chain(writer_id, stream) else {
            return Ok(Vec::new());
        };
        let chain = chain.lock().unwrap_or_else(PoisonError::into_inner);
        let mut prev = PrevHash::Genesis;
        let mut out = Vec::with_capacity(chain.entries.len());
        for (i, e) in chain.entries.iter().enumerate() {
            let bytes = chain.bytes(e);
            let seq = i as u64 + 1;
            let corrupt = |source| ReadError::Corrupt {
                stream: stream.to_owned(),
                seq,
                source,
            };
            // One parse gives the typed record, its canonical bytes and
            // their digest; only a record that fails is checked again, by
            // the verifier, to say what is wrong.
            let parsed = match parse_record(bytes, &self.limits) {
                Ok(p) if p.canonical == bytes && p.self_hash == e.self_hash => p,
                Ok(_) => {
                    let why = verify_record_against(bytes, &e.self_hash, &self.limits)
                        .err()
                        .unwrap_or(VerifyError::DigestMismatch {
                            expected: e.self_hash,
                            actual: Digest::of(bytes),
                        });
                    return Err(corrupt(why));
                }
                Err(err) => return Err(corrupt(VerifyError::Invalid(err))),
            };
            let rec = &parsed.record;
            if rec.writer_id() != writer_id
                || rec.stream() != stream
                || rec.seq() != seq
                || *rec.prev() != prev
            {
                return Err(ReadError::BrokenLink {
                    stream: stream.to_owned(),
                    seq,
                });
            }
            prev = PrevHash::Digest(e.self_hash);
            out.push(SealedRecord::from_parsed(parsed));
        }
        Ok(out)
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
                head_seq: chain.len(),
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
        chain.push(record.canonical(), *record.self_hash());
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
        // Stored records were checked to follow each other on append.
        let mut frontier = Frontier::new();
        for e in &chain.entries {
            frontier.push(leaf_hash(&e.self_hash)).ok()?;
        }
        ChainState::from_parts(chain.len(), chain.head(), frontier).ok()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Emitter, Event};

    const W: &str = "svc-gateway@test-1";

    /// A sink holding `n` records of stream `a` and one of stream `b`.
    fn filled(n: u64) -> Arc<RamSink> {
        let sink = Arc::new(RamSink::new(1000, 1 << 20));
        let em = Emitter::new(W, sink.clone(), Limits::default())
            .expect("emitter")
            .with_clock(Arc::new(|| 1_767_225_600_000));
        for i in 0..n {
            em.emit(Event::new("a", "GetServed", "ok").attr("i", i))
                .expect("emit a");
        }
        em.emit(Event::new("b", "GetServed", "ok")).expect("emit b");
        sink
    }

    /// Runs `edit` on the stored records of stream `a`, with the bytes of
    /// stream `b`'s first record.
    fn tamper(sink: &RamSink, edit: impl FnOnce(&mut RamChain, &[u8], Digest)) {
        let b = sink.chain(W, "b").expect("stream b");
        let b = b.lock().expect("lock");
        let first = b.entries[0];
        let a = sink.chain(W, "a").expect("stream a");
        edit(&mut a.lock().expect("lock"), b.bytes(&first), first.self_hash);
    }

    #[test]
    fn it_keeps_each_record_as_its_canonical_bytes_only() {
        let sink = filled(3);
        let read = sink.read(W, "a").expect("verifies");
        let chain = sink.chain(W, "a").expect("stream a");
        let chain = chain.lock().expect("lock");
        assert_eq!(chain.entries.len(), 3);
        for (e, back) in chain.entries.iter().zip(&read) {
            assert_eq!(chain.bytes(e), back.canonical());
            assert_eq!(&e.self_hash, back.self_hash());
        }
        let total: usize = read.iter().map(|r| r.canonical().len()).sum();
        assert_eq!(chain.chunks.iter().map(Vec::len).sum::<usize>(), total);
        assert_eq!(
            sink.bytes(),
            total + sink.read(W, "b").expect("b")[0].canonical().len()
        );
    }

    #[test]
    fn chunks_grow_with_the_stream_and_records_read_back_whole() {
        let mut chain = RamChain::default();
        let rec = |i: usize| vec![b'a' + (i % 26) as u8; 700 + i % 300];
        let n = 3000;
        for i in 0..n {
            let r = rec(i);
            chain.push(&r, Digest::of(&r));
        }
        for (i, e) in chain.entries.iter().enumerate() {
            assert_eq!(chain.bytes(e), rec(i).as_slice(), "record {i}");
        }
        let caps: Vec<usize> = chain.chunks.iter().map(Vec::capacity).collect();
        assert_eq!(caps[0], FIRST_CHUNK, "a short stream reserves little");
        assert!(caps.windows(2).all(|w| w[0] <= w[1]), "{caps:?}");
        assert_eq!(*caps.last().expect("chunks"), CHUNK, "growth stops at CHUNK");
        let stored: usize = chain.chunks.iter().map(Vec::len).sum();
        let reserved: usize = caps.iter().sum();
        assert!(
            reserved <= 2 * stored + FIRST_CHUNK,
            "{reserved} reserved for {stored}"
        );

        // A record larger than any chunk gets one of its own.
        let huge = vec![b'y'; CHUNK + 1];
        chain.push(&huge, Digest::of(&huge));
        assert_eq!(chain.bytes(&chain.entries[n]), huge.as_slice());
    }

    #[test]
    fn a_flipped_stored_byte_is_corrupt_at_its_seq() {
        let sink = filled(3);
        tamper(&sink, |chain, _, _| {
            let e = chain.entries[1];
            chain.chunks[e.chunk][e.start + e.len - 3] ^= 0x01;
        });
        let err = sink.read(W, "a").expect_err("tampered");
        assert!(
            matches!(&err, ReadError::Corrupt { stream, seq: 2, .. } if stream == "a"),
            "{err}"
        );
    }

    #[test]
    fn a_record_whose_bytes_and_digest_agree_but_do_not_link_is_a_broken_link() {
        // Swapped: each verifies alone, but seq 1 is stored second.
        let sink = filled(3);
        tamper(&sink, |chain, _, _| chain.entries.swap(0, 1));
        let err = sink.read(W, "a").expect_err("swapped");
        assert!(matches!(&err, ReadError::BrokenLink { seq: 1, .. }), "{err}");

        // Another stream's first record in this stream's first slot: its
        // seq and prev fit, its stream does not.
        let sink = filled(3);
        tamper(&sink, |chain, bytes, hash| {
            chain.push(bytes, hash);
            let moved = chain.entries.pop().expect("pushed");
            chain.entries[0] = moved;
        });
        let err = sink.read(W, "a").expect_err("moved from b");
        assert!(matches!(&err, ReadError::BrokenLink { seq: 1, .. }), "{err}");
    }
}
