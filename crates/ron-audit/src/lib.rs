//! `ron-audit`: tamper-evident audit trails for services, and an offline
//! way for auditors to check them. This is the facade hosts depend on: it
//! re-exports the layered crates under the surface of the design notes'
//! API chapter, so a host needs one dependency and one version.
//!
//! # Main items
//!
//! - At the root: the record ([`AuditRecord`] and its builder), the emit
//!   pipeline ([`Emitter`], [`QueuedEmitter`], [`Event`]), the sink traits
//!   ([`AuditSink`], [`AuditStream`], [`ChainState`]), the in-memory
//!   [`RamSink`], [`AuditConfig`] and [`Privacy`]; [`Merge`], which reads
//!   several writers' chains in the global order.
//! - [`canon`]: canonical bytes and strict parsing; [`hash`]: `self_hash`,
//!   dedupe keys, Merkle leaves and roots; [`bounds`]: size limits;
//!   [`verify`]: records, links, chains, and (from `audit-verify`) WAL
//!   directories, bundles, proofs and signed checkpoints.
//! - Behind the default-off feature `wal`: [`wal`] (the durable sink);
//!   behind `export` (which implies `wal`): [`export`] (signers,
//!   checkpoints, bundles, proofs).
//!
//! # Guarantees
//!
//! Almost nothing here adds behaviour: every type and nearly every function
//! is the layered crate's, so the facade cannot drift from what the crates
//! (and their tests) guarantee. The exceptions are the design notes' API
//! names over typed records, each a few lines on the crates' functions:
//! [`canon::canonicalize_without_self_hash`], [`hash::b3_no_self`],
//! [`bounds::check`], and [`verify::verify_link`] / [`verify::verify_chain`]
//! (which re-canonicalize each record; a verifier of stored bytes uses
//! [`verify::verify_record_link`] and [`verify::Chains`] instead).
//! Canonical bytes and hashes follow `../shared/spec/FORMAT-v1.md` byte for
//! byte; a change to them is a format change (see `vectors/`).
//!
//! # Key design choice
//!
//! Amnesia (RAM-only) hosts take the default features and get no file I/O
//! code at all; durable hosts opt into `wal` and `export`.
//!
//! # What it does not do
//!
//! No HTTP, no CLI (that is `auditctl`), no metrics registry (it reports
//! through the `metrics` and `tracing` facades), no key storage.
//!
//! # Example: a host emits, checkpoints and verifies
//!
//! ```
//! # #[cfg(all(feature = "wal", feature = "export"))] {
//! use std::sync::Arc;
//! use ron_audit::bounds::Limits;
//! use ron_audit::export::{Cadence, Checkpointer, Ed25519Signer, Signer};
//! use ron_audit::verify::{TrustSet, VerifyOptions, verify_wal_dir};
//! use ron_audit::wal::{FsyncPolicy, WalOptions, WalSink};
//! use ron_audit::{AuditSink, Emitter, Event};
//!
//! let dir = tempfile::tempdir()?;
//! let wal_dir = dir.path().join("wal");
//! let opts = WalOptions { rotate_bytes: 8 << 20, fsync: FsyncPolicy::Always };
//! let wal = Arc::new(WalSink::open(&wal_dir, opts)?.0);
//! let key = Arc::new(Ed25519Signer::generate()?);
//! let signer: Arc<dyn Signer> = key.clone();
//! let (checkpointer, _) = Checkpointer::open(wal.clone(), vec![signer], Cadence::default())?;
//!
//! let emitter = Emitter::new("svc-gateway@inst-1", wal.clone(), Limits::default())?;
//! emitter.emit(Event::new("ingress", "GetServed", "ok").attr("status", 200u64))?;
//! emitter.emit(Event::new("ingress", "QuotaReject", "audit_backpressure"))?;
//! checkpointer.checkpoint_all(1_767_225_600_000)?;
//! wal.close()?;
//!
//! // An auditor, offline, with the public key only.
//! let trust = TrustSet::new().with_key(key.public_key().clone());
//! let report = verify_wal_dir(&wal_dir, &VerifyOptions { trust, threads: 0 });
//! assert_eq!((report.exit_code(), report.records()), (0, 2));
//! assert_eq!(report.streams[0].checkpoints, 1);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub use audit_canon::{ActorRef, AttrValue, AuditRecord, Digest, PrevHash, RecordBuilder, SubjectRef};
pub use audit_chain::{
    AuditConfig, AuditSink, AuditStream, ChainState, EmitError, Emitter, Event, GlobalOrder, Merge, Overflow,
    Privacy, QueueConfig, QueueError, QueueStats, QueuedEmitter, RamSink, Receipt, SealedRecord, SinkError,
};

/// Canonical bytes (FORMAT-v1.md section 2) and strict parsing.
pub mod canon {
    pub use audit_canon::{BoundsError, BuildError, ParseError, ParsedRecord, RecordError, parse_record};

    /// The canonical bytes of `rec` without `self_hash`, under `limits`.
    pub fn canonicalize_without_self_hash(
        rec: &audit_canon::AuditRecord,
        limits: &audit_canon::Limits,
    ) -> Result<Vec<u8>, BoundsError> {
        rec.to_canonical(limits)
    }
}

/// `self_hash`, dedupe keys and Merkle hashing (FORMAT-v1.md sections 1, 5).
pub mod hash {
    pub use audit_canon::{Digest, dedupe_key, leaf_hash, node_hash, root_of};

    /// `"b3:" + hex(H(canonical bytes))`: the record's `self_hash`.
    pub fn b3_no_self(
        rec: &audit_canon::AuditRecord,
        limits: &audit_canon::Limits,
    ) -> Result<String, audit_canon::BoundsError> {
        Ok(Digest::of(&rec.to_canonical(limits)?).to_hash_string())
    }
}

/// Size bounds.
pub mod bounds {
    pub use audit_canon::{BoundsError, Limits, LimitsError, MAX_ATTRS_BYTES, MAX_RECORD_BYTES};

    /// Checks `rec` against `limits` (attrs and whole-record size).
    pub fn check(rec: &audit_canon::AuditRecord, limits: &Limits) -> Result<(), BoundsError> {
        rec.to_canonical(limits).map(drop)
    }
}

/// Verification: single records and links here; whole WAL directories,
/// bundles, proofs and signed checkpoints from `audit-verify`.
pub mod verify {
    pub use audit_canon::{
        RecordLink, VerifyError, verify_record, verify_record_against, verify_record_link,
    };
    pub use audit_verify::{
        Chains, Failure, FailureClass, ProofError, ProofOutcome, PublicKey, Report, SignedCheckpoint,
        StreamReport, TrustSet, VerifyOptions, verify_bundle, verify_path, verify_proof, verify_wal_dir,
    };

    use audit_canon::{AuditRecord, Digest, Limits, PrevHash};

    /// Why two records do not link.
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum LinkError {
        /// Not the same `(writer_id, stream)`.
        OtherChain,
        /// `next.seq` is not `prev.seq + 1`.
        Gap {
            /// The seq expected.
            expected: u64,
            /// The seq found.
            found: u64,
        },
        /// `next.prev` is not `prev`'s `self_hash`.
        PrevMismatch {
            /// The seq of `next`.
            seq: u64,
        },
        /// The first record is not seq 1 with a genesis `prev`.
        NotGenesis,
        /// A record is over the format's size limits.
        Bounds(audit_canon::BoundsError),
    }

    impl std::fmt::Display for LinkError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Self::OtherChain => write!(f, "the records are of different chains"),
                Self::Gap { expected, found } => write!(f, "expected seq {expected}, found {found}"),
                Self::PrevMismatch { seq } => {
                    write!(f, "seq {seq}: prev is not the previous record's self_hash")
                }
                Self::NotGenesis => write!(f, "a chain starts at seq 1 with prev b3:0"),
                Self::Bounds(e) => write!(f, "{e}"),
            }
        }
    }

    impl std::error::Error for LinkError {}

    /// Whether `next` is the record that follows `prev` in its chain.
    pub fn verify_link(prev: &AuditRecord, next: &AuditRecord) -> Result<(), LinkError> {
        if (prev.writer_id(), prev.stream()) != (next.writer_id(), next.stream()) {
            return Err(LinkError::OtherChain);
        }
        let expected = prev.seq().saturating_add(1);
        if next.seq() != expected {
            return Err(LinkError::Gap {
                expected,
                found: next.seq(),
            });
        }
        let head = Digest::of(&prev.to_canonical(&Limits::default()).map_err(LinkError::Bounds)?);
        if *next.prev() != PrevHash::Digest(head) {
            return Err(LinkError::PrevMismatch { seq: next.seq() });
        }
        Ok(())
    }

    /// Whether `records` are one whole chain from seq 1, each linked to
    /// the one before.
    pub fn verify_chain<'a>(records: impl IntoIterator<Item = &'a AuditRecord>) -> Result<(), LinkError> {
        let mut last: Option<&AuditRecord> = None;
        for r in records {
            match last {
                None if r.seq() != 1 || !r.prev().is_genesis() => return Err(LinkError::NotGenesis),
                None => {}
                Some(p) => verify_link(p, r)?,
            }
            last = Some(r);
        }
        Ok(())
    }
}

/// The durable sink (feature `wal`).
#[cfg(feature = "wal")]
pub mod wal {
    pub use audit_chain::FsyncPolicy;
    pub use audit_wal::{OpenError, RawRecord, ReadError, Recovery, TornCut, WalOptions, WalSink};
}

/// Signed checkpoints, export bundles and proofs (feature `export`).
#[cfg(feature = "export")]
pub mod export {
    pub use audit_export::{
        BundleRequest, BundleSummary, CHECKPOINTS_FILE, Cadence, Checkpointer, CheckpointerError,
        Ed25519Signer, ExportError, KeyFileError, ProveError, SignError, Signer, consistency_proof,
        export_bundle, inclusion_proof,
    };
    pub use audit_verify::{CheckpointSig, SignedCheckpoint};
}
