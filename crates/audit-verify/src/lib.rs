//! `audit-verify`: the small, independent verifier third parties reuse
//! alone, for records, chains and WAL segments (bundles, proofs and signed
//! checkpoints arrive with the export/verify issue).
//!
//! # Main types
//!
//! - [`SegmentReader`]: walks a segment file's bytes frame by frame and
//!   tells a torn tail ([`TornTail`]) from corruption ([`SegmentError`]).
//! - [`check_frame`]: a frame's bytes are a canonical record whose digest,
//!   `v` and `seq` the frame repeats.
//! - [`Chains`]: every `(writer_id, stream)` chain's head and Merkle
//!   frontier while a log is read in order; [`scan_segment`] puts the three
//!   together.
//! - [`encode_header`], [`encode_frame`]: the two byte layouts, for writers.
//!
//! # Guarantees
//!
//! - One reader serves both sides: the WAL's recovery (`audit-wal`) and a
//!   third party's check read segments through this code, so they cannot
//!   disagree on what a segment says.
//! - Decoders never panic, never index out of bounds and never allocate a
//!   length read from a file: a frame's `len` is checked against
//!   `1..=1 MiB` and against the bytes present before it is used.
//! - Every error names the segment, the byte offset and, when the record
//!   parsed, its stream and `seq`.
//!
//! # Key design choice
//!
//! The reader works on a byte slice, not on files: the caller maps or reads
//! the segment, so this crate does no I/O and needs no `unsafe`. Its
//! dependencies are `audit-canon` and `thiserror`; it never depends on the
//! writer-side crates (`audit-wal`, `audit-chain`, `audit-export`).
//!
//! # What it does not do
//!
//! It never repairs anything: a torn tail is reported, and cutting it is
//! the writer's decision. It does not read directories yet.
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
mod mmap;
mod proof;
mod reader;
mod report;
mod signed;
mod trust;
mod wal_dir;

pub use bundle::{MANIFEST_FILE, verify_bundle, verify_path};
pub use chains::{Chains, LinkError, StreamHead};
pub use frame::{Decoded, FRAME_OVERHEAD, Frame, FrameLenError, MAX_FRAME_LEN, decode_frame, encode_frame};
pub use header::{
    HeaderError, SEGMENT_HEADER_LEN, SEGMENT_MAGIC, decode_header, encode_header, parse_segment_file_name,
    segment_file_name,
};
pub use mmap::map_readonly;
pub use proof::{ConsistencyError, InclusionError, ProofError, ProofOutcome, verify_proof};
pub use reader::{
    SegmentError, SegmentReader, SegmentScan, Step, TornKind, TornTail, check_frame, scan_segment,
    scan_segment_from,
};
pub use report::{Failure, FailureClass, Report, StreamReport};
pub use signed::{CheckpointLineError, CheckpointSig, SigError, SignedCheckpoint};
pub use trust::{KeyError, PublicKey, TrustSet, kid_of};
pub use wal_dir::{CHECKPOINTS_FILE, VerifyOptions, verify_wal_dir};
