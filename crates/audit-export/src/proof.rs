//! Proof generation: an inclusion proof of one record against a signed
//! checkpoint, or a consistency proof between two, as self-contained JSON
//! (CLI-v1.md) that `audit_verify::verify_proof` checks offline.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use audit_canon::{Blake3Tree, Digest, Limits, MerkleTree, leaf_hash};
use audit_verify::{
    BundleManifest, Chains, Failure, NumberedFiles, SegmentReader, SignedCheckpoint, Step, check_frame,
    scan_segment,
};
use audit_wal::WalSink;

use crate::bundle::{ExportError, stream_checkpoints};

fn no_checkpoint(stream: &str, end: u64, ends: &[u64]) -> String {
    if ends.is_empty() {
        return format!("stream {stream:?} has no checkpoints yet (auditctl checkpoint makes them)");
    }
    let ends: Vec<String> = ends.iter().map(u64::to_string).collect();
    format!(
        "stream {stream:?}: no checkpoint ends at seq {end} (checkpoints end at {})",
        ends.join(", ")
    )
}

/// A proof could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProveError {
    /// No checkpoint of the stream ends at the seq asked for (or none at all).
    #[error("{}", no_checkpoint(stream, *end, ends))]
    NoCheckpoint {
        /// The stream.
        stream: String,
        /// The end seq asked for (0: the latest).
        end: u64,
        /// Where the stream's checkpoints end (empty: it has none).
        ends: Vec<u64>,
    },
    /// The record is not covered by the checkpoint.
    #[error("stream {stream:?}: seq {seq} is not in the checkpoint's tree of {size} records")]
    NotCovered {
        /// The stream.
        stream: String,
        /// The seq.
        seq: u64,
        /// The checkpoint's tree size.
        size: u64,
    },
    /// The record's bytes were not read (see [`read_stream_leaves`]).
    #[error("stream {stream:?}: seq {seq} was not read, only its digest")]
    NotKept {
        /// The stream.
        stream: String,
        /// The seq.
        seq: u64,
    },
    /// A consistency proof needs the older checkpoint first.
    #[error("consistency from {old} to {new}: the first must not be larger")]
    Order {
        /// The first end seq.
        old: u64,
        /// The second.
        new: u64,
    },
    /// Reading checkpoints or records failed.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// Reading the WAL failed.
    #[error("wal: {0}")]
    Read(#[from] audit_wal::ReadError),
    /// Reading a WAL directory or one of its files failed (I/O).
    #[error("{}: {reason}", path.display())]
    Dir {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A segment does not verify (said as `auditctl verify` says it).
    #[error("{}", audit_verify::Failure::from_segment(path.clone(), error))]
    Segment {
        /// The segment file.
        path: PathBuf,
        /// What is wrong, where.
        error: Box<audit_verify::SegmentError>,
    },
    /// The stream is written by several writers and none was named.
    #[error("stream {stream:?} has records of several writers ({writers}); name one with --writer")]
    AmbiguousWriter {
        /// The stream.
        stream: String,
        /// The writers.
        writers: String,
    },
    /// The directory cannot be listed, or a segment number between 1 and
    /// the last is missing (or it has none): the log is not whole. As
    /// `auditctl verify` reports it (`io`, `missing_segment`).
    #[error("{0}")]
    Listing(Box<Failure>),
    /// The bundle does not verify (as `auditctl verify` says it): no
    /// proof is made from data that does not.
    #[error("{0}")]
    Bundle(Box<Failure>),
    /// The record is before a bundle's first seq: the bundle holds only the
    /// frontier of the records before it.
    #[error(
        "stream {stream:?}: seq {seq} is before the bundle's first seq {first}; it holds only a frontier of the records before that (prove it from the WAL or a bundle that starts earlier)"
    )]
    BeforeBundle {
        /// The stream.
        stream: String,
        /// The seq asked for.
        seq: u64,
        /// The bundle's first seq.
        first: u64,
    },
    /// A bundle holds another stream than the one asked for.
    #[error("{} holds stream {held:?} of writer {writer_id:?}, not {asked}", dir.display())]
    OtherStream {
        /// The bundle.
        dir: PathBuf,
        /// What it holds.
        held: String,
        /// Its writer.
        writer_id: String,
        /// What was asked for (stream, and writer when named).
        asked: String,
    },
    /// No record of the stream (of the writer, when one is named).
    #[error(
        "stream {stream:?}{} has no records in {} (its streams: {})",
        writer_id.as_ref().map(|w| format!(" of writer {w:?}")).unwrap_or_default(),
        dir.display(),
        if streams.is_empty() { "none".to_owned() } else { streams.join(", ") }
    )]
    NoRecords {
        /// The stream.
        stream: String,
        /// The writer, when one was named.
        writer_id: Option<String>,
        /// The WAL directory.
        dir: PathBuf,
        /// The streams it has (of the writer, when one was named).
        streams: Vec<String>,
    },
}

/// One record of a stream as read from a WAL directory: its canonical bytes
/// and `self_hash`, verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    /// Canonical bytes.
    pub canonical: Vec<u8>,
    /// `H(canonical)`.
    pub self_hash: Digest,
}

/// Reads a stream's records from a WAL directory without opening it (no
/// lock, nothing modified): every frame is checked and every chain linked
/// on the way, and a torn tail of the newest segment is ignored. With no
/// `writer_id`, the stream must have exactly one writer; the one used is
/// returned.
///
/// Every record's bytes are kept: for one proof about a long stream,
/// [`read_stream_leaves`] holds 32 bytes a record instead.
pub fn read_stream_dir(
    dir: &Path,
    writer_id: Option<&str>,
    stream: &str,
) -> Result<(String, Vec<StreamRecord>), ProveError> {
    scan_stream_dir(
        dir,
        writer_id,
        stream,
        |records: &mut Vec<StreamRecord>, _, canonical, self_hash| {
            records.push(StreamRecord {
                canonical: canonical.to_vec(),
                self_hash,
            });
        },
    )
}

/// A stream's leaves as [`read_stream_leaves`] reads them: every record's
/// `self_hash`, and the canonical bytes of only the records asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamLeaves {
    /// `self_hash` of records 1, 2, … in order.
    pub self_hashes: Vec<Digest>,
    /// The canonical bytes of the records kept, by seq.
    pub kept: BTreeMap<u64, Vec<u8>>,
}

/// A bundle's stream as [`read_bundle_leaves`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleLeaves {
    /// What the bundle's manifest says: writer, stream, first seq and the
    /// frontier of the records before it.
    pub manifest: BundleManifest,
    /// `self_hash` of records `first_seq`, `first_seq + 1`, … in order, and
    /// the canonical bytes of the records kept.
    pub leaves: StreamLeaves,
}

/// Reads an export bundle's stream for proofs: the bundle is verified
/// first as `auditctl verify` verifies it (without keys: signatures are the
/// proof's reader's to check), then every record's `self_hash` is read,
/// each frame checked again as it is read, and the canonical bytes kept of
/// the records `keep` accepts. Returns the stream's checkpoints from the
/// bundle too.
pub fn read_bundle_leaves(
    dir: &Path,
    keep: impl Fn(u64) -> bool,
) -> Result<(BundleLeaves, Vec<SignedCheckpoint>), ProveError> {
    let report = audit_verify::verify_bundle(dir, &audit_verify::VerifyOptions::default());
    if let Some(f) = report.failure {
        return Err(ProveError::Bundle(Box::new(f)));
    }
    let manifest = audit_verify::read_manifest(dir).map_err(ProveError::Bundle)?;
    let limits = Limits::default();
    let mut leaves = StreamLeaves::default();
    for (n, path) in audit_verify::list_numbered(dir, NumberedFiles::Records).map_err(ProveError::Listing)? {
        let segment = |error| ProveError::Segment {
            path: path.clone(),
            error: Box::new(error),
        };
        let bytes = audit_verify::read_file(&path, true).map_err(|e| ProveError::Dir {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let mut r = SegmentReader::new(&bytes, n).map_err(segment)?;
        // verify_bundle has just hashed and checked every frame: the leaves
        // are the frames' digests. Only a record a proof will carry is
        // checked again (a file changed since would fail verify-proof too).
        while let Step::Frame(frame) = r.next_step().map_err(segment)? {
            leaves.self_hashes.push(frame.digest);
            if keep(frame.seq) {
                check_frame(&frame, n, &limits).map_err(segment)?;
                leaves.kept.insert(frame.seq, frame.canonical.to_vec());
            }
        }
    }
    let cps = stream_checkpoints(
        &dir.join(audit_verify::CHECKPOINTS_FILE),
        &manifest.writer_id,
        &manifest.stream,
    )?;
    Ok((BundleLeaves { manifest, leaves }, cps))
}

/// [`read_stream_dir`], keeping the canonical bytes only of the records
/// whose seq `keep` accepts: what a proof needs (the leaves, and the
/// record it proves) in 32 bytes a record, whatever the records' size.
pub fn read_stream_leaves(
    dir: &Path,
    writer_id: Option<&str>,
    stream: &str,
    keep: impl Fn(u64) -> bool,
) -> Result<(String, StreamLeaves), ProveError> {
    scan_stream_dir(
        dir,
        writer_id,
        stream,
        |leaves: &mut StreamLeaves, seq, canonical, self_hash| {
            leaves.self_hashes.push(self_hash);
            if keep(seq) {
                leaves.kept.insert(seq, canonical.to_vec());
            }
        },
    )
}

/// Scans a WAL directory's segments in order, checking every frame and
/// linking every chain, and hands each record of `stream` (by `writer_id`,
/// or by any writer when `None`) to `add`, with its writer's accumulator:
/// seq, canonical bytes, `self_hash`. Exactly one writer may have the
/// stream; its id and accumulator are returned.
fn scan_stream_dir<T: Default>(
    dir: &Path,
    writer_id: Option<&str>,
    stream: &str,
    mut add: impl FnMut(&mut T, u64, &[u8], Digest),
) -> Result<(String, T), ProveError> {
    let bad = |path: &Path, reason: String| ProveError::Dir {
        path: path.to_path_buf(),
        reason,
    };
    let segs = audit_verify::list_numbered(dir, NumberedFiles::Segments).map_err(ProveError::Listing)?;
    let last = segs.last().map_or(0, |s| s.0);
    let mut chains = Chains::new();
    let mut by_writer: BTreeMap<String, T> = BTreeMap::new();
    // The streams seen (of the writer, when one is named), to name them
    // when the one asked for has no records.
    let mut streams: BTreeSet<String> = BTreeSet::new();
    let mut last_stream = String::new();
    for (n, path) in &segs {
        // Sealed segments are mapped (never written again; page cache the
        // system can take back), the newest one read.
        let bytes = audit_verify::read_file(path, *n != last).map_err(|e| bad(path, e.to_string()))?;
        scan_segment(&bytes, *n, *n == last, &mut chains, &Limits::default(), |f, l| {
            // Runs of one stream are common: look the set up only when the
            // stream changes.
            if writer_id.is_none_or(|w| w == l.writer_id) && last_stream != l.stream {
                last_stream.clear();
                last_stream.push_str(&l.stream);
                if !streams.contains(&last_stream) {
                    streams.insert(last_stream.clone());
                }
            }
            if l.stream == stream && writer_id.is_none_or(|w| w == l.writer_id) {
                let acc = by_writer.entry(l.writer_id.to_string()).or_default();
                add(acc, f.seq, f.canonical, l.self_hash);
            }
        })
        .map_err(|error| ProveError::Segment {
            path: path.clone(),
            error: Box::new(error),
        })?;
    }
    if by_writer.len() > 1 {
        return Err(ProveError::AmbiguousWriter {
            stream: stream.to_owned(),
            writers: by_writer.keys().cloned().collect::<Vec<_>>().join(", "),
        });
    }
    by_writer.into_iter().next().ok_or_else(|| ProveError::NoRecords {
        stream: stream.to_owned(),
        writer_id: writer_id.map(str::to_owned),
        dir: dir.to_path_buf(),
        streams: streams.into_iter().collect(),
    })
}

/// Where a [`Prover`] finds a record's bytes and digest.
#[derive(Debug)]
enum Source<'a> {
    Records(&'a [StreamRecord]),
    Leaves(&'a StreamLeaves),
}

impl Source<'_> {
    /// Record `seq`'s canonical bytes and `self_hash`, if held; the
    /// source's first record is seq `first`.
    fn record(&self, first: u64, seq: u64) -> Option<(&[u8], &Digest)> {
        let i = usize::try_from(seq.checked_sub(first)?).ok()?;
        match self {
            Self::Records(r) => r.get(i).map(|r| (r.canonical.as_slice(), &r.self_hash)),
            Self::Leaves(l) => Some((l.kept.get(&seq)?.as_slice(), l.self_hashes.get(i)?)),
        }
    }
}

/// Proofs about one stream, as many as asked: the leaves of its records
/// are hashed once, into a [`MerkleTree`] that keeps every perfect
/// subtree, so each proof after that costs O(log² n) hashes at most, not a
/// pass over the stream. [`inclusion_proof_of`] and
/// [`consistency_proof_of`] make one proof each this way.
///
/// `records` are the stream's records from seq 1, in order (as
/// [`read_stream_dir`] returns them), or only their digests and the
/// records to prove ([`read_stream_leaves`]); `checkpoints` are its signed
/// checkpoints (as [`stream_checkpoints`] returns them).
#[derive(Debug)]
pub struct Prover<'a> {
    stream: &'a str,
    source: Source<'a>,
    /// The seq of the source's first record (1, or a bundle's first seq).
    first: u64,
    checkpoints: &'a [SignedCheckpoint],
    tree: MerkleTree<Blake3Tree>,
}

impl<'a> Prover<'a> {
    /// Hashes the leaves of `records` (one leaf and, amortized, one node
    /// hash per record).
    pub fn new(stream: &'a str, records: &'a [StreamRecord], checkpoints: &'a [SignedCheckpoint]) -> Self {
        let leaves = records.iter().map(|r| leaf_hash(&r.self_hash)).collect();
        Self {
            stream,
            source: Source::Records(records),
            first: 1,
            checkpoints,
            tree: MerkleTree::from_leaves(Blake3Tree, leaves),
        }
    }

    /// [`Self::new`] over a stream's digests: it proves the inclusion of
    /// the records `leaves` kept, and any consistency.
    pub fn over_leaves(
        stream: &'a str,
        leaves: &'a StreamLeaves,
        checkpoints: &'a [SignedCheckpoint],
    ) -> Self {
        let hashed = leaves.self_hashes.iter().map(leaf_hash).collect();
        Self {
            stream,
            source: Source::Leaves(leaves),
            first: 1,
            checkpoints,
            tree: MerkleTree::from_leaves(Blake3Tree, hashed),
        }
    }

    /// A prover over a bundle's stream ([`read_bundle_leaves`]): its tree
    /// starts from the manifest's frontier, so it proves the inclusion of
    /// the bundle's records (those it kept) and the consistency of its
    /// checkpoints, which all end within the bundle.
    pub fn over_bundle(
        bundle: &'a BundleLeaves,
        checkpoints: &'a [SignedCheckpoint],
    ) -> Result<Self, ProveError> {
        let m = &bundle.manifest;
        let mut tree = MerkleTree::from_frontier(Blake3Tree, m.frontier.size(), m.frontier.hashes().to_vec())
            .map_err(|e| ProveError::Dir {
                path: PathBuf::from(audit_verify::MANIFEST_FILE),
                reason: format!("frontier: {e}"),
            })?;
        for h in &bundle.leaves.self_hashes {
            tree.push(leaf_hash(h));
        }
        Ok(Self {
            stream: &m.stream,
            source: Source::Leaves(&bundle.leaves),
            first: m.first_seq,
            checkpoints,
            tree,
        })
    }

    /// Where the stream's checkpoints end.
    fn ends(&self) -> Vec<u64> {
        self.checkpoints.iter().map(|c| c.body.end_seq()).collect()
    }

    /// The inclusion proof of record `seq` against the checkpoint ending
    /// at `checkpoint_end` (default: the latest), as JSON.
    pub fn inclusion(&self, seq: u64, checkpoint_end: Option<u64>) -> Result<String, ProveError> {
        let stream = self.stream;
        let cp = match checkpoint_end {
            None => self.checkpoints.last(),
            Some(e) => self.checkpoints.iter().find(|c| c.body.end_seq() == e),
        }
        .ok_or_else(|| ProveError::NoCheckpoint {
            stream: stream.to_owned(),
            end: checkpoint_end.unwrap_or(0),
            ends: self.ends(),
        })?;
        let size = cp.body.end_seq();
        let not_covered = || ProveError::NotCovered {
            stream: stream.to_owned(),
            seq,
            size,
        };
        if seq == 0 || seq > size || self.tree.len() < size {
            return Err(not_covered());
        }
        if seq < self.first {
            return Err(ProveError::BeforeBundle {
                stream: stream.to_owned(),
                seq,
                first: self.first,
            });
        }
        let path = self
            .tree
            .inclusion_path(seq - 1, size)
            .map_err(|_| not_covered())?;
        let (canonical, self_hash) = self.source.record(self.first, seq).ok_or(ProveError::NotKept {
            stream: stream.to_owned(),
            seq,
        })?;
        let canonical = String::from_utf8_lossy(canonical);
        let body = canonical.strip_suffix('}').unwrap_or(&canonical);
        let record = format!("{body},\"self_hash\":\"{self_hash}\"}}");
        Ok(format!(
            "{{\"type\":\"inclusion\",\"record\":{record},\"leaf_index\":{},\"tree_size\":{size},\"path\":{},\"checkpoint\":{}}}",
            seq - 1,
            hashes(&path),
            cp.to_line()
        ))
    }

    /// The consistency proof between the checkpoints ending at `old_end`
    /// and `new_end`, as JSON.
    pub fn consistency(&self, old_end: u64, new_end: u64) -> Result<String, ProveError> {
        let stream = self.stream;
        if old_end > new_end {
            return Err(ProveError::Order {
                old: old_end,
                new: new_end,
            });
        }
        let find = |e: u64| {
            self.checkpoints
                .iter()
                .find(|c| c.body.end_seq() == e)
                .ok_or_else(|| ProveError::NoCheckpoint {
                    stream: stream.to_owned(),
                    end: e,
                    ends: self.ends(),
                })
        };
        let (old, new) = (find(old_end)?, find(new_end)?);
        if self.tree.len() < new_end {
            return Err(ProveError::NotCovered {
                stream: stream.to_owned(),
                seq: new_end,
                size: self.tree.len(),
            });
        }
        let path = self
            .tree
            .consistency_path(old_end, new_end)
            .map_err(|_| ProveError::Order {
                old: old_end,
                new: new_end,
            })?;
        Ok(format!(
            "{{\"type\":\"consistency\",\"old\":{},\"new\":{},\"path\":{}}}",
            old.to_line(),
            new.to_line(),
            hashes(&path)
        ))
    }
}

/// [`inclusion_proof`] over records and checkpoints already read (one
/// proof; for many, keep a [`Prover`]).
pub fn inclusion_proof_of(
    records: &[StreamRecord],
    checkpoints: &[SignedCheckpoint],
    stream: &str,
    seq: u64,
    checkpoint_end: Option<u64>,
) -> Result<String, ProveError> {
    Prover::new(stream, records, checkpoints).inclusion(seq, checkpoint_end)
}

/// [`consistency_proof`] over records and checkpoints already read (one
/// proof; for many, keep a [`Prover`]).
pub fn consistency_proof_of(
    records: &[StreamRecord],
    checkpoints: &[SignedCheckpoint],
    stream: &str,
    old_end: u64,
    new_end: u64,
) -> Result<String, ProveError> {
    Prover::new(stream, records, checkpoints).consistency(old_end, new_end)
}

/// A stream's checkpoints and the leaves they cover, from an open WAL:
/// every record's digest up to the latest checkpoint, and the bytes of
/// the record `keep` names, if any (read as [`WalSink::for_each_raw`]
/// reads: checked and linked, one segment in memory at a time).
fn stream_of(
    wal: &WalSink,
    writer_id: &str,
    stream: &str,
    keep: Option<u64>,
) -> Result<(StreamLeaves, Vec<SignedCheckpoint>), ProveError> {
    let cps = stream_checkpoints(&wal.dir().join(audit_verify::CHECKPOINTS_FILE), writer_id, stream)?;
    let n = cps.last().map_or(0, |c| c.body.end_seq());
    let mut leaves = StreamLeaves::default();
    if n > 0 {
        wal.for_each_raw(writer_id, stream, 1..=n, |r| {
            leaves.self_hashes.push(r.self_hash);
            if keep == Some(r.seq) {
                leaves.kept.insert(r.seq, r.canonical.to_vec());
            }
            Ok::<_, ProveError>(())
        })?;
    }
    Ok((leaves, cps))
}

fn hashes(path: &[Digest]) -> String {
    let v: Vec<String> = path.iter().map(|d| format!("\"{d}\"")).collect();
    format!("[{}]", v.join(","))
}

/// The inclusion proof of record `seq` against the checkpoint ending at
/// `checkpoint_end` (default: the stream's latest).
pub fn inclusion_proof(
    wal: &WalSink,
    writer_id: &str,
    stream: &str,
    seq: u64,
    checkpoint_end: Option<u64>,
) -> Result<String, ProveError> {
    let (leaves, cps) = stream_of(wal, writer_id, stream, Some(seq))?;
    Prover::over_leaves(stream, &leaves, &cps).inclusion(seq, checkpoint_end)
}

/// The consistency proof between the checkpoints ending at `old_end` and
/// `new_end`.
pub fn consistency_proof(
    wal: &WalSink,
    writer_id: &str,
    stream: &str,
    old_end: u64,
    new_end: u64,
) -> Result<String, ProveError> {
    let (leaves, cps) = stream_of(wal, writer_id, stream, None)?;
    Prover::over_leaves(stream, &leaves, &cps).consistency(old_end, new_end)
}
