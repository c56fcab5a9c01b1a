//! Proof generation: an inclusion proof of one record against a signed
//! checkpoint, or a consistency proof between two, as self-contained JSON
//! (CLI-v1.md) that `audit_verify::verify_proof` checks offline.

use audit_canon::{Blake3Tree, Digest, consistency_path, inclusion_path, leaf_hash};
use audit_verify::SignedCheckpoint;
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
}

fn checkpoint_ending(
    wal: &WalSink,
    writer_id: &str,
    stream: &str,
    end: Option<u64>,
) -> Result<SignedCheckpoint, ProveError> {
    let cps = stream_checkpoints(&wal.dir().join(audit_verify::CHECKPOINTS_FILE), writer_id, stream)?;
    let found = match end {
        None => cps.last().cloned(),
        Some(e) => cps.into_iter().find(|c| c.body.end_seq() == e),
    };
    found.ok_or(ProveError::NoCheckpoint {
        stream: stream.to_owned(),
        end: end.unwrap_or(0),
    })
}

fn leaves(wal: &WalSink, writer_id: &str, stream: &str, n: u64) -> Result<Vec<Digest>, ProveError> {
    Ok(wal
        .read(writer_id, stream, 1..=n)?
        .iter()
        .map(|r| leaf_hash(r.self_hash()))
        .collect())
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
    let cp = checkpoint_ending(wal, writer_id, stream, checkpoint_end)?;
    let size = cp.body.end_seq();
    if seq == 0 || seq > size {
        return Err(ProveError::NotCovered {
            stream: stream.to_owned(),
            seq,
            size,
        });
    }
    let leaves = leaves(wal, writer_id, stream, size)?;
    let path = inclusion_path(&Blake3Tree, &leaves, seq - 1).map_err(|_| ProveError::NotCovered {
        stream: stream.to_owned(),
        seq,
        size,
    })?;
    let rec = wal.read(writer_id, stream, seq..=seq)?;
    let Some(r) = rec.first() else {
        return Err(ProveError::NotCovered {
            stream: stream.to_owned(),
            seq,
            size,
        });
    };
    // The canonical bytes with `self_hash` added as the last key.
    let canonical = String::from_utf8_lossy(r.canonical());
    let body = canonical.strip_suffix('}').unwrap_or(&canonical);
    let record = format!("{body},\"self_hash\":\"{}\"}}", r.self_hash());
    Ok(format!(
        "{{\"type\":\"inclusion\",\"record\":{record},\"leaf_index\":{},\"tree_size\":{size},\"path\":{},\"checkpoint\":{}}}",
        seq - 1,
        hashes(&path),
        cp.to_line()
    ))
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
    if old_end > new_end {
        return Err(ProveError::Order {
            old: old_end,
            new: new_end,
        });
    }
    let old = checkpoint_ending(wal, writer_id, stream, Some(old_end))?;
    let new = checkpoint_ending(wal, writer_id, stream, Some(new_end))?;
    let leaves = leaves(wal, writer_id, stream, new_end)?;
    let path = consistency_path(&Blake3Tree, &leaves, old_end).map_err(|_| ProveError::Order {
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
