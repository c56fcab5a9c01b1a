//! `audit-export`: signed checkpoints, export bundles and proofs.
#![forbid(unsafe_code)]

mod signer;

pub use signer::{Ed25519Signer, KeyFileError, SignError, Signer};
