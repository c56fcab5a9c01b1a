//! `audit-export`: signed checkpoints, export bundles and proofs.
#![forbid(unsafe_code)]

mod checkpointer;
mod signer;

pub use checkpointer::{CHECKPOINTS_FILE, Cadence, Checkpointer, CheckpointerError, CheckpointsRecovery};
pub use signer::{Ed25519Signer, KeyFileError, SignError, Signer};
