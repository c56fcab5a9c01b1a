//! Proof generation: an inclusion proof of one record against a signed
//! checkpoint, or a consistency proof between two, as self-contained JSON
//! (CLI-v1.md) that `audit_verify::verify_proof` checks offline.

use std::path::{Path, PathBuf};

use audit_canon::{Blake3Tree, Digest, Limits, MerkleTree, leaf_hash};
use audit_verify::{Chains, SignedCheckpoint, parse_segment_file_name, scan_segment};
use audit_wal::WalSink;

use crate::bundle::{ExportError, stream_checkpoints};

/// A proof could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProveError {
    /// No checkpoint of the stream ends at the seq asked for (or none at all).
    #[error("stream {stream:?}: no checkpoint ends at seq {end}")]
    NoCheckpoint {
        /// The stream.
        stream: String,
        /// The end seq asked for (0: the latest).
        end: u64,
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
    /// Reading a WAL directory without opening it failed.
    #[error("{}: {reason}", path.display())]
    Dir {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The stream is written by several writers and none was named.
    #[error("stream {stream:?} has records of several writers ({writers}); name one with --writer")]
    AmbiguousWriter {
        /// The stream.
        stream: String,
        /// The writers.
        writers: String,
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
pub fn read_stream_dir(
    dir: &Path,
    writer_id: Option<&str>,
    stream: &str,
) -> Result<(String, Vec<StreamRecord>), ProveError> {
    let bad = |path: &Path, reason: String| ProveError::Dir {
        path: path.to_path_buf(),
        reason,
    };
    let mut segs: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| bad(dir, e.to_string()))?
        .filter_map(|e| {
            let e = e.ok()?;
            Some((parse_segment_file_name(e.file_name().to_str()?)?, e.path()))
        })
        .collect();
    segs.sort();
    let last = segs.last().map_or(0, |s| s.0);
    let mut chains = Chains::new();
    let mut by_writer: std::collections::BTreeMap<String, Vec<StreamRecord>> = Default::default();
    for (n, path) in &segs {
        let bytes = std::fs::read(path).map_err(|e| bad(path, e.to_string()))?;
        scan_segment(&bytes, *n, *n == last, &mut chains, &Limits::default(), |f, l| {
            if l.stream == stream && writer_id.is_none_or(|w| w == l.writer_id) {
                by_writer
                    .entry(l.writer_id.to_string())
                    .or_default()
                    .push(StreamRecord {
                        canonical: f.canonical.to_vec(),
                        self_hash: l.self_hash,
                    });
            }
        })
        .map_err(|e| bad(path, e.to_string()))?;
    }
    if by_writer.len() > 1 {
        return Err(ProveError::AmbiguousWriter {
            stream: stream.to_owned(),
            writers: by_writer.keys().cloned().collect::<Vec<_>>().join(", "),
        });
    }
    match by_writer.into_iter().next() {
        Some(found) => Ok(found),
        None => Err(ProveError::NoCheckpoint {
            stream: stream.to_owned(),
            end: 0,
        }),
    }
}

/// Proofs about one stream, as many as asked: the leaves of its records
/// are hashed once, into a [`MerkleTree`] that keeps every perfect
/// subtree, so each proof after that costs O(log² n) hashes at most, not a
/// pass over the stream. [`inclusion_proof_of`] and
/// [`consistency_proof_of`] make one proof each this way.
///
/// `records` are the stream's records from seq 1, in order (as
/// [`read_stream_dir`] returns them); `checkpoints` its signed checkpoints
/// (as [`stream_checkpoints`] returns them).
#[derive(Debug)]
pub struct Prover<'a> {
    stream: &'a str,
    records: &'a [StreamRecord],
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
            records,
            checkpoints,
            tree: MerkleTree::from_leaves(Blake3Tree, leaves),
        }
    }

    /// The inclusion proof of record `seq` against the checkpoint ending
    /// at `checkpoint_end` (default: the latest), as JSON.
    pub fn inclusion(&self, seq: u64, checkpoint_end: Option<u64>) -> Result<String, ProveError> {
        let stream = self.stream;
        let cp = match checkpoint_end {
            None => self.checkpoints.last(),
            Some(e) => self.checkpoints.iter().find(|c| c.body.end_seq() == e),
        }
        .ok_or(ProveError::NoCheckpoint {
            stream: stream.to_owned(),
            end: checkpoint_end.unwrap_or(0),
        })?;
        let size = cp.body.end_seq();
        let not_covered = || ProveError::NotCovered {
            stream: stream.to_owned(),
            seq,
            size,
        };
        if seq == 0 || seq > size || (self.records.len() as u64) < size {
            return Err(not_covered());
        }
        let path = self
            .tree
            .inclusion_path(seq - 1, size)
            .map_err(|_| not_covered())?;
        let r = self.records.get(seq as usize - 1).ok_or_else(not_covered)?;
        let canonical = String::from_utf8_lossy(&r.canonical);
        let body = canonical.strip_suffix('}').unwrap_or(&canonical);
        let record = format!("{body},\"self_hash\":\"{}\"}}", r.self_hash);
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
                .ok_or(ProveError::NoCheckpoint {
                    stream: stream.to_owned(),
                    end: e,
                })
        };
        let (old, new) = (find(old_end)?, find(new_end)?);
        if (self.records.len() as u64) < new_end {
            return Err(ProveError::NotCovered {
                stream: stream.to_owned(),
                seq: new_end,
                size: self.records.len() as u64,
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

fn stream_of(
    wal: &WalSink,
    writer_id: &str,
    stream: &str,
) -> Result<(Vec<StreamRecord>, Vec<SignedCheckpoint>), ProveError> {
    let cps = stream_checkpoints(&wal.dir().join(audit_verify::CHECKPOINTS_FILE), writer_id, stream)?;
    let n = cps.last().map_or(0, |c| c.body.end_seq());
    let records = if n == 0 {
        Vec::new()
    } else {
        wal.read(writer_id, stream, 1..=n)?
            .into_iter()
            .map(|r| StreamRecord {
                canonical: r.canonical().to_vec(),
                self_hash: *r.self_hash(),
            })
            .collect()
    };
    Ok((records, cps))
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
    let (records, cps) = stream_of(wal, writer_id, stream)?;
    inclusion_proof_of(&records, &cps, stream, seq, checkpoint_end)
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
    let (records, cps) = stream_of(wal, writer_id, stream)?;
    consistency_proof_of(&records, &cps, stream, old_end, new_end)
}
