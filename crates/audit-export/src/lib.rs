//! `audit-export`: turns a WAL into evidence. Signed checkpoints that
//! commit to each stream's whole history, export bundles an auditor
//! verifies offline, and inclusion and consistency proofs a third party
//! checks in O(log n).
//!
//! # Main types
//!
//! - [`Signer`]: the object-safe signing trait (kid, alg, sign) hosts
//!   implement for a KMS or HSM; [`Ed25519Signer`] reads PKCS#8 PEM
//!   (`openssl genpkey -algorithm ed25519` output), writes it 0600 and
//!   never overwrites, zeroizes its key and never prints it.
//! - [`Checkpointer`]: per stream, a checkpoint body from the chain state
//!   the WAL keeps as records arrive (frontier root and head, O(1) per
//!   checkpoint beyond the fsync), signed by every configured signer,
//!   chained by `prev_checkpoint`, appended to `checkpoints.jsonl` and
//!   synced; on demand ([`Checkpointer::checkpoint_all`]) or on
//!   [`Cadence`] ([`Checkpointer::run_due`]); key rotation
//!   ([`Checkpointer::rotate_key`]) records `KeyRotated` and cross-signs.
//! - [`export_bundle`]: FORMAT-v1.md section 6, whole checkpoints of one
//!   stream, with the frontier when the range starts after seq 1.
//! - [`inclusion_proof`], [`consistency_proof`]: self-contained proof JSON
//!   with the signed checkpoint(s) inside; a [`Prover`] makes many of them
//!   from one pass over a stream, over its records or over their digests
//!   alone ([`read_stream_leaves`]).
//!
//! # Guarantees
//!
//! - A checkpoint never covers a record that is not durable: the WAL is
//!   synced before the body is built.
//! - A crash leaves no bundle or a whole one: it is written into a
//!   temporary directory, every file synced, then renamed into place and
//!   the parent directory synced. Records go from the WAL to the bundle
//!   as they are read, so any range is exported in bounded memory.
//! - Nothing here verifies: that is `audit-verify`, which third parties run
//!   alone, and which the tests use on everything this crate writes.
//!
//! # What it does not do
//!
//! It does not decide when to export (hosts call it, or `auditctl
//! export`), it does not ship bundles anywhere, and it does not hold keys
//! for other processes.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use audit_canon::Limits;
//! use audit_chain::{Emitter, Event};
//! use audit_export::{BundleRequest, Cadence, Checkpointer, Ed25519Signer, Signer, export_bundle};
//! use audit_verify::{TrustSet, VerifyOptions, verify_bundle};
//! use audit_wal::{WalOptions, WalSink};
//!
//! let tmp = tempfile::tempdir()?;
//! let wal = Arc::new(WalSink::open(tmp.path().join("wal"), WalOptions::default())?.0);
//! let key = Arc::new(Ed25519Signer::generate()?);
//! let signer: Arc<dyn Signer> = key.clone();
//! let (checkpointer, _) = Checkpointer::open(wal.clone(), vec![signer], Cadence::default())?;
//! let emitter = Emitter::new("svc@1", wal.clone(), Limits::default())?;
//! for i in 0..10u64 {
//!     emitter.emit(Event::new("ingress", "GetServed", "ok").attr("i", i))?;
//! }
//! checkpointer.checkpoint_all(1_767_225_600_000)?;
//!
//! let req = BundleRequest { writer_id: "svc@1".into(), stream: "ingress".into(), from: None, to: None };
//! export_bundle(&wal, &req, &tmp.path().join("bundle"), 1_767_225_600_000)?;
//! let trust = TrustSet::new().with_key(key.public_key().clone());
//! let report = verify_bundle(&tmp.path().join("bundle"), &VerifyOptions { trust, threads: 0 });
//! assert_eq!((report.exit_code(), report.records()), (0, 10));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod bundle;
mod checkpointer;
mod proof;
mod signer;

pub use bundle::{BundleRequest, BundleSummary, ExportError, export_bundle, stream_checkpoints};
pub use checkpointer::{CHECKPOINTS_FILE, Cadence, Checkpointer, CheckpointerError, CheckpointsRecovery};
pub use proof::{
    BundleLeaves, ProveError, Prover, StreamLeaves, StreamRecord, consistency_proof, consistency_proof_of,
    inclusion_proof, inclusion_proof_of, read_bundle_leaves, read_stream_dir, read_stream_leaves,
};
pub use signer::{Ed25519Signer, KeyFileError, SignError, Signer};
