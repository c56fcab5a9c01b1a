//! `audit-canon`: the bytes every other ron-audit crate hashes, stores and
//! verifies.
//!
//! It turns an audit event into a **canonical record** (FORMAT-v1.md
//! sections 1 and 2: fixed key order, NFC strings, no floats, bounded size),
//! hashes it with BLAKE3, and provides the Merkle primitives of section 5:
//! domain-separated leaf and node hashes, the incremental [`Frontier`], and
//! RFC 9162 inclusion and consistency proofs.
//!
//! # Main types
//!
//! - [`AuditRecord`] (with [`ActorRef`], [`SubjectRef`], [`AttrValue`]) and
//!   its [`RecordBuilder`]: a value of the type is always valid and NFC.
//!   The builder normalizes, checks and writes the canonical bytes of a
//!   record's fields in one walk ([`RecordBuilder::build_visiting`] lets a
//!   privacy scrubber see each string in the same walk), so sealing a
//!   built record writes only `seq` and `prev`
//!   ([`AuditRecord::into_canonical`]).
//! - [`AuditRecord::canonical_bytes`] writes straight from the typed record
//!   into a reused buffer; [`parse_record`] is the strict text parser;
//!   [`verify_record`] checks stored bytes in a single pass.
//! - [`Digest`] (constant-time equality, no `Deref` to bytes) and
//!   [`PrevHash`] for `"b3:<hex>"` and the genesis `"b3:0"`.
//! - [`Frontier`], [`leaf_hash`], [`node_hash`], [`root_of`],
//!   [`inclusion_path`], [`consistency_path`], [`verify_inclusion`],
//!   [`verify_consistency`] (generic over [`TreeHasher`]), and
//!   [`MerkleTree`], which keeps every perfect subtree so a prover answers
//!   each proof in O(log n) hashes.
//! - [`CheckpointBody`] and its canonical bytes and signing message.
//!
//! # Guarantees
//!
//! - Canonical bytes are a pure function of the record: canonicalizing twice
//!   changes nothing, and canonical bytes parse back to the same record.
//! - Duplicate keys, keys equal after NFC, floats and `-0`, out-of-range
//!   integers, `attrs` deeper than 8, invalid UTF-8, lone surrogates, a
//!   byte order mark and unknown fields are each rejected with their own
//!   error, never merged or repaired. Stored bytes that are not canonical
//!   fail verification ([`VerifyError::NonCanonical`]); they are never
//!   re-normalized.
//! - The parsers never panic and never allocate a size read from the input.
//!
//! # Key design choice
//!
//! Writing and checking are separate single-pass routines over a shared
//! tokenizer and shared field rules, instead of a round trip through
//! `serde_json::Value`: verification is then bounded by the cost of BLAKE3,
//! not of building and re-serializing a tree. A property test holds the
//! validator equal to "parse, canonicalize, compare".
//!
//! # What it does not do
//!
//! No I/O of any kind, no clocks, no chain state (`audit-chain`), no
//! storage (`audit-wal`), no signing (`audit-export`), no signature checks
//! (`audit-verify`).
//!
//! # Example
//!
//! ```
//! use audit_canon::{ActorRef, AuditRecord, Frontier, Limits, leaf_hash, verify_record};
//!
//! let limits = Limits::default();
//! let genesis = AuditRecord::builder()
//!     .ts_ms(1_730_246_400_000)
//!     .writer_id("svc-gateway@inst-1")
//!     .seq(1)
//!     .stream("ingress")
//!     .kind("GetServed")
//!     .actor(ActorRef { anon: Some(true), ..ActorRef::default() })
//!     .reason("ok")
//!     .build()?;
//! let mut buf = Vec::new();
//! genesis.canonical_bytes(&limits, &mut buf)?;
//! assert!(buf.starts_with(br#"{"v":1,"ts_ms":1730246400000,"writer_id":"svc-gateway@inst-1""#));
//! let h1 = verify_record(&buf, &limits)?;
//!
//! let next = genesis.to_builder().seq(2).ts_ms(1_730_246_400_100).prev(h1).build()?;
//! let h2 = next.self_hash(&limits)?;
//!
//! let mut tree = Frontier::new();
//! tree.push(leaf_hash(&h1))?;
//! tree.push(leaf_hash(&h2))?;
//! assert_eq!(tree.size(), 2);
//! assert!(tree.root().is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod canon;
mod checkpoint;
mod digest;
mod lexer;
mod limits;
mod merkle;
mod parse;
mod record;
mod rules;
mod value;
mod verify;

pub use canon::{BoundsError, dedupe_key};
pub use checkpoint::{
    CHECKPOINT_SIG_CONTEXT, CheckpointBody, CheckpointError, CheckpointLink, MAX_CHECKPOINT_BYTES,
    MAX_CHECKPOINT_JSON_BYTES,
};
pub use digest::{Digest, GENESIS, HashParseError, PrevHash};
pub use limits::{Limits, LimitsError, MAX_ATTRS_BYTES, MAX_DEPTH, MAX_INPUT_BYTES, MAX_RECORD_BYTES};
pub use merkle::frontier::{Frontier, FrontierError};
pub use merkle::hasher::{Blake3Tree, TreeHasher, leaf_hash, node_hash, root_of};
pub use merkle::proof::{
    ConsistencyProofError, InclusionProofError, consistency_path, inclusion_path, recursive_root,
    verify_consistency, verify_inclusion,
};
pub use merkle::tree::MerkleTree;
pub use parse::{ParseError, ParsedRecord, SelfHashMismatch, parse_record};
pub use record::{ActorRef, AuditRecord, BuildError, Field, RecordBuilder, RecordError, Rule, SubjectRef};
pub use value::{AttrValue, Attrs, FloatInAttrs, Integer};
pub use verify::{RecordLink, VerifyError, verify_record, verify_record_against, verify_record_link};
