//! `audit-verify`: the small, independent verifier third parties reuse
//! alone. It checks records, chains, WAL segments and directories, export
//! bundles, inclusion and consistency proofs, and signed checkpoints
//! against keys the caller trusts.
//!
//! # Main types
//!
//! - [`verify_wal_dir`], [`verify_bundle`], [`verify_path`]: whole
//!   directories, returning a [`Report`] (per stream records, first and
//!   last seq, head, checkpoints verified, kids seen) whose first
//!   [`Failure`] names the file, offset, stream, seq and a reason, and
//!   maps to the exit codes of FORMAT-v1.md section 7 ([`FailureClass`]).
//! - [`verify_proof`]: a proof file, with [`InclusionError`] and
//!   [`ConsistencyError`] kept apart.
//! - [`SignedCheckpoint`], [`TrustSet`], [`PublicKey`]: checkpoints and
//!   their signatures; keys come from the caller (SPKI PEM or hex), never
//!   from the data, and at least `min_sigs` trusted keys must sign.
//! - [`SegmentReader`], [`check_frame`], [`scan_segment`], [`Chains`]: the
//!   segment reader the WAL's own recovery uses too, so the two cannot
//!   disagree about a segment.
//!
//! # Guarantees
//!
//! - Decoders never panic, never index out of bounds and never allocate a
//!   length read from a file before checking it against the bytes present.
//! - Every error names the segment or file, the byte offset and, when the
//!   record parsed, its stream and seq.
//! - Its dependencies are `audit-canon`, the RustCrypto Ed25519 stack,
//!   `serde_json`, `base64` and `memmap2`; never the writer side
//!   (`audit-wal`, `audit-chain`, `audit-export`); a test checks this with
//!   `cargo metadata`.
//!
//! # Key design choice
//!
//! Segments are hashed and checked on all cores (each segment alone),
//! while links and checkpoint roots are checked in one pass in segment
//! order, so verification scales with cores without giving up the order
//! that chains need. Sealed files are read through one read-only map
//! ([`map_readonly`], the workspace's only `unsafe` function).
//!
//! # What it does not do
//!
//! It never repairs or cuts anything: a torn tail is reported, and cutting
//! it is the writer's decision. It writes nothing.
//!
//! # Example
//!
//! ```
//! use audit_canon::{AuditRecord, Digest, Limits, PrevHash};
//! use audit_verify::{Chains, encode_frame, encode_header, scan_segment};
//!
//! let limits = Limits::default();
//! let rec = AuditRecord::builder()
//!     .ts_ms(1).writer_id("w").seq(1).stream("s").kind("K").reason("r")
//!     .prev(PrevHash::Genesis).build()?;
//! let canonical = rec.to_canonical(&limits)?;
//! let mut seg = encode_header(1).to_vec();
//! encode_frame(&mut seg, 1, 1, &canonical, &Digest::of(&canonical))?;
//!
//! let mut chains = Chains::new();
//! let scan = scan_segment(&seg, 1, true, &mut chains, &limits, |_, _| {})?;
//! assert_eq!((scan.records, scan.torn), (1, None));
//! assert_eq!(chains.get("w", "s").map(|h| h.seq), Some(1));
//!
//! // A sealed segment with a byte more is corrupt, with the offset.
//! seg.push(7);
//! let err = scan_segment(&seg, 1, false, &mut Chains::new(), &limits, |_, _| {}).unwrap_err();
//! assert_eq!(err.offset(), seg.len() as u64 - 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(unsafe_code)]

mod bundle;
mod chains;
mod frame;
mod header;
mod listing;
mod mmap;
mod proof;
mod reader;
mod report;
mod signed;
mod trust;
mod wal_dir;

pub use bundle::{BundleManifest, MANIFEST_FILE, read_manifest, verify_bundle, verify_path};
pub use chains::{Chains, LinkError, StreamHead};
pub use frame::{Decoded, FRAME_OVERHEAD, Frame, FrameLenError, MAX_FRAME_LEN, decode_frame, encode_frame};
pub use header::{
    HeaderError, SEGMENT_HEADER_LEN, SEGMENT_MAGIC, decode_header, encode_header, first_missing_segment,
    parse_segment_file_name, segment_file_name,
};
pub use listing::{NumberedFiles, is_bundle, list_numbered};
pub use mmap::map_readonly;
pub use proof::{ConsistencyError, InclusionError, ProofError, ProofOutcome, verify_proof};
pub use reader::{
    SegmentError, SegmentReader, SegmentScan, Step, TornKind, TornTail, check_frame, scan_segment,
    scan_segment_from,
};
pub use report::{Failure, FailureClass, Report, StreamReport};
pub use signed::{CheckpointLineError, CheckpointSig, SigError, SignedCheckpoint, whole_checkpoint_lines};
pub use trust::{KeyError, PublicKey, TrustSet, kid_of};
pub use wal_dir::{CHECKPOINTS_FILE, FileBytes, VerifyOptions, read_file, verify_wal_dir};
