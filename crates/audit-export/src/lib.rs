//! `audit-export`: signed checkpoints, export bundles and proofs.
#![forbid(unsafe_code)]

mod bundle;
mod checkpointer;
mod proof;
mod signer;

pub use bundle::{BundleRequest, BundleSummary, ExportError, export_bundle, stream_checkpoints};
pub use checkpointer::{CHECKPOINTS_FILE, Cadence, Checkpointer, CheckpointerError, CheckpointsRecovery};
pub use proof::{ProveError, consistency_proof, inclusion_proof};
pub use signer::{Ed25519Signer, KeyFileError, SignError, Signer};
