//! Proof files (CLI-v1.md): an inclusion proof of one record against a
//! signed checkpoint, or a consistency proof between two signed
//! checkpoints of a stream, each checked in O(log n) and offline.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use audit_canon::{
    Blake3Tree, ConsistencyProofError, Digest, InclusionProofError, Limits, ParseError, leaf_hash,
    parse_record, verify_consistency, verify_inclusion,
};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::report::FailureClass;
use crate::signed::{CheckpointLineError, SigError, SignedCheckpoint};
use crate::trust::TrustSet;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionJson<'a> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(borrow)]
    record: &'a RawValue,
    leaf_index: u64,
    tree_size: u64,
    path: Vec<String>,
    #[serde(borrow)]
    checkpoint: &'a RawValue,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyJson<'a> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(borrow)]
    old: &'a RawValue,
    #[serde(borrow)]
    new: &'a RawValue,
    path: Vec<String>,
}

#[derive(Deserialize)]
struct Kind {
    #[serde(rename = "type")]
    kind: String,
}

/// What a verified proof shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofOutcome {
    /// The record is leaf `leaf_index` of the checkpoint's tree.
    Inclusion {
        /// The stream.
        stream: String,
        /// The record's seq.
        seq: u64,
        /// The record's `self_hash`.
        self_hash: Digest,
        /// The checkpoint's last seq (its tree size).
        tree_size: u64,
        /// Trusted `kid`s that signed the checkpoint (empty if unchecked).
        kids: Vec<String>,
    },
    /// The old checkpoint's tree is a prefix of the new one's.
    Consistency {
        /// The stream.
        stream: String,
        /// The old tree size.
        old_size: u64,
        /// The new tree size.
        new_size: u64,
        /// Trusted `kid`s that signed both (empty if unchecked).
        kids: Vec<String>,
    },
}

/// An inclusion proof that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InclusionError {
    /// The record in the proof is not a valid record.
    #[error("the record is not valid: {0}")]
    Record(ParseError),
    /// The record's `self_hash` is not the hash of its bytes.
    #[error("the record's self_hash {claimed} is not its hash {actual}")]
    SelfHash {
        /// Claimed.
        claimed: Digest,
        /// Computed.
        actual: Digest,
    },
    /// The record is not of the checkpoint's stream, or not at `leaf_index`.
    #[error("record {writer_id:?}/{stream:?} seq {seq} is not leaf {leaf_index} of the checkpoint's stream")]
    Position {
        /// The record's writer.
        writer_id: String,
        /// The record's stream.
        stream: String,
        /// The record's seq.
        seq: u64,
        /// The proof's leaf index.
        leaf_index: u64,
    },
    /// `tree_size` is not the checkpoint's `end_seq`.
    #[error("tree_size {tree_size} is not the checkpoint's end seq {end_seq}")]
    TreeSize {
        /// The proof's tree size.
        tree_size: u64,
        /// The checkpoint's.
        end_seq: u64,
    },
    /// The audit path does not lead to the checkpoint's root.
    #[error(transparent)]
    Path(InclusionProofError),
}

/// A consistency proof that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsistencyError {
    /// The two checkpoints are not of one stream.
    #[error("the checkpoints are of {old:?} and {new:?}, not one stream")]
    Streams {
        /// The old checkpoint's writer and stream.
        old: (String, String),
        /// The new one's.
        new: (String, String),
    },
    /// The path does not prove the old tree a prefix of the new one.
    #[error(transparent)]
    Path(ConsistencyProofError),
}

/// A proof file that does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// Not a proof file.
    #[error("not a proof file: {0}")]
    Shape(String),
    /// A checkpoint in it is malformed.
    #[error("checkpoint: {0}")]
    Checkpoint(CheckpointLineError),
    /// A path entry is not a hash string.
    #[error("path entry {index}: not a hash string")]
    PathEntry {
        /// Its position.
        index: usize,
    },
    /// An inclusion proof does not hold.
    #[error("inclusion: {0}")]
    Inclusion(InclusionError),
    /// A consistency proof does not hold.
    #[error("consistency: {0}")]
    Consistency(ConsistencyError),
    /// A checkpoint's signatures do not meet the trust policy.
    #[error("checkpoint signatures: {0}")]
    Trust(SigError),
}

impl ProofError {
    /// A stable code for scripts: `proof_shape`, `proof_checkpoint`,
    /// `proof_path_entry`, `inclusion`, `consistency` or
    /// `checkpoint_signature` (as `auditctl verify` names a signature that
    /// does not meet the policy).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Shape(_) => "proof_shape",
            Self::Checkpoint(_) => "proof_checkpoint",
            Self::PathEntry { .. } => "proof_path_entry",
            Self::Inclusion(_) => "inclusion",
            Self::Consistency(_) => "consistency",
            Self::Trust(_) => "checkpoint_signature",
        }
    }

    /// The failure class (and so the exit code).
    pub fn class(&self) -> FailureClass {
        match self {
            Self::Shape(_) | Self::Checkpoint(_) | Self::PathEntry { .. } => FailureClass::Structure,
            Self::Inclusion(_) | Self::Consistency(_) => FailureClass::Integrity,
            Self::Trust(_) => FailureClass::Trust,
        }
    }
}

fn path_of(entries: &[String]) -> Result<Vec<Digest>, ProofError> {
    entries
        .iter()
        .enumerate()
        .map(|(index, h)| Digest::parse(h).map_err(|_| ProofError::PathEntry { index }))
        .collect()
}

fn checkpoint_of(raw: &RawValue, trust: &TrustSet) -> Result<(SignedCheckpoint, Vec<String>), ProofError> {
    let cp = SignedCheckpoint::parse_json(raw.get().as_bytes()).map_err(ProofError::Checkpoint)?;
    let kids = if trust.is_empty() {
        Vec::new()
    } else {
        cp.verify_sigs(trust).map_err(ProofError::Trust)?
    };
    Ok((cp, kids))
}

/// Verifies a proof file against `trust` (with no keys, signatures are not
/// checked and `kids` come back empty).
pub fn verify_proof(json: &[u8], trust: &TrustSet) -> Result<ProofOutcome, ProofError> {
    let kind: Kind = serde_json::from_slice(json).map_err(|e| ProofError::Shape(e.to_string()))?;
    match kind.kind.as_str() {
        "inclusion" => verify_inclusion_file(json, trust),
        "consistency" => verify_consistency_file(json, trust),
        other => Err(ProofError::Shape(format!("unknown proof type {other:?}"))),
    }
}

fn verify_inclusion_file(json: &[u8], trust: &TrustSet) -> Result<ProofOutcome, ProofError> {
    let p: InclusionJson<'_> = serde_json::from_slice(json).map_err(|e| ProofError::Shape(e.to_string()))?;
    debug_assert_eq!(p.kind, "inclusion");
    let path = path_of(&p.path)?;
    let (cp, kids) = checkpoint_of(p.checkpoint, trust)?;
    let rec = parse_record(p.record.get().as_bytes(), &Limits::default())
        .map_err(|e| ProofError::Inclusion(InclusionError::Record(e)))?;
    if let Some(claimed) = rec.claimed_self_hash
        && claimed != rec.self_hash
    {
        return Err(ProofError::Inclusion(InclusionError::SelfHash {
            claimed,
            actual: rec.self_hash,
        }));
    }
    let r = &rec.record;
    let b = &cp.body;
    if r.writer_id() != b.writer_id()
        || r.stream() != b.stream()
        || r.seq().checked_sub(1) != Some(p.leaf_index)
    {
        return Err(ProofError::Inclusion(InclusionError::Position {
            writer_id: r.writer_id().to_owned(),
            stream: r.stream().to_owned(),
            seq: r.seq(),
            leaf_index: p.leaf_index,
        }));
    }
    if p.tree_size != b.end_seq() {
        return Err(ProofError::Inclusion(InclusionError::TreeSize {
            tree_size: p.tree_size,
            end_seq: b.end_seq(),
        }));
    }
    verify_inclusion(
        &Blake3Tree,
        p.leaf_index,
        p.tree_size,
        &leaf_hash(&rec.self_hash),
        &path,
        b.root(),
    )
    .map_err(|e| ProofError::Inclusion(InclusionError::Path(e)))?;
    Ok(ProofOutcome::Inclusion {
        stream: r.stream().to_owned(),
        seq: r.seq(),
        self_hash: rec.self_hash,
        tree_size: p.tree_size,
        kids,
    })
}

fn verify_consistency_file(json: &[u8], trust: &TrustSet) -> Result<ProofOutcome, ProofError> {
    let p: ConsistencyJson<'_> =
        serde_json::from_slice(json).map_err(|e| ProofError::Shape(e.to_string()))?;
    debug_assert_eq!(p.kind, "consistency");
    let path = path_of(&p.path)?;
    let (old, k1) = checkpoint_of(p.old, trust)?;
    let (new, k2) = checkpoint_of(p.new, trust)?;
    let id = |c: &SignedCheckpoint| (c.body.writer_id().to_owned(), c.body.stream().to_owned());
    if id(&old) != id(&new) {
        return Err(ProofError::Consistency(ConsistencyError::Streams {
            old: id(&old),
            new: id(&new),
        }));
    }
    verify_consistency(
        &Blake3Tree,
        old.body.end_seq(),
        new.body.end_seq(),
        old.body.root(),
        new.body.root(),
        &path,
    )
    .map_err(|e| ProofError::Consistency(ConsistencyError::Path(e)))?;
    Ok(ProofOutcome::Consistency {
        stream: old.body.stream().to_owned(),
        old_size: old.body.end_seq(),
        new_size: new.body.end_seq(),
        kids: k1.into_iter().filter(|k| k2.contains(k)).collect(),
    })
}
