//! The checkpoint body (FORMAT-v1.md section 5): its type, canonical bytes,
//! strict parsing, and the message a signer signs. Signing lives in
//! `audit-export`; verifying signatures in `audit-verify`.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use crate::canon::{write_str, write_u64};
use crate::digest::{Digest, PrevHash};
use crate::lexer::{Lexer, Peeked};
use crate::parse::check_text;
use crate::record::{RecordError, is_nfc_fast};
use crate::rules;

/// The domain-separation prefix of a signed checkpoint message.
pub const CHECKPOINT_SIG_CONTEXT: &[u8] = b"ron-audit checkpoint v1\n";

/// The largest canonical checkpoint body: its strings are bounded, so
/// anything longer is not a checkpoint.
pub const MAX_CHECKPOINT_BYTES: usize = 1024;

/// The largest JSON text read as a checkpoint body in another form than
/// the canonical one ([`CheckpointBody::from_json`]): whitespace and
/// escapes may make a body longer than its canonical bytes, never this long.
pub const MAX_CHECKPOINT_JSON_BYTES: usize = 16 * 1024;

/// The body's keys, in canonical order.
const BODY_KEYS: [&str; 8] = [
    "v",
    "writer_id",
    "stream",
    "range",
    "root",
    "head",
    "prev_checkpoint",
    "created_ts_ms",
];

/// How a stream's checkpoints chain (FORMAT-v1.md section 5): where the
/// next one starts and what its `prev_checkpoint` holds. The first starts at
/// seq 1 and links to genesis ([`CheckpointLink::FIRST`]); each later one
/// starts right after the previous one's `end_seq` and links to the hash
/// of its canonical body ([`CheckpointBody::next_link`]). The checkpointer,
/// the verifier and export all check a checkpoint with
/// `body.link() == want`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointLink {
    /// The first seq the checkpoint covers.
    pub start_seq: u64,
    /// Its `prev_checkpoint`.
    pub prev: PrevHash,
}

impl CheckpointLink {
    /// The link of a stream's first checkpoint: seq 1, genesis.
    pub const FIRST: Self = Self {
        start_seq: 1,
        prev: PrevHash::Genesis,
    };
}

impl std::fmt::Display for CheckpointLink {
    /// `seq 5 linking to b3:…`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "seq {} linking to {}", self.start_seq, self.prev)
    }
}

/// What a checkpoint commits to: the stream's whole tree up to `end_seq`,
/// its head, and the previous checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointBody {
    writer_id: String,
    stream: String,
    start_seq: u64,
    end_seq: u64,
    root: Digest,
    head: Digest,
    prev_checkpoint: PrevHash,
    created_ts_ms: u64,
}

impl CheckpointBody {
    /// A body; checks the field rules and `1 <= start_seq <= end_seq`, and
    /// that only a checkpoint starting at seq 1 links to genesis.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        writer_id: impl Into<String>,
        stream: impl Into<String>,
        start_seq: u64,
        end_seq: u64,
        root: Digest,
        head: Digest,
        prev_checkpoint: PrevHash,
        created_ts_ms: u64,
    ) -> Result<Self, CheckpointError> {
        let body = Self {
            writer_id: crate::record::nfc(writer_id.into()),
            stream: stream.into(),
            start_seq,
            end_seq,
            root,
            head,
            prev_checkpoint,
            created_ts_ms,
        };
        body.validate()?;
        Ok(body)
    }

    fn validate(&self) -> Result<(), CheckpointError> {
        rules::writer_id(self.writer_id.as_bytes())?;
        rules::stream(self.stream.as_bytes())?;
        if self.start_seq == 0 || self.start_seq > self.end_seq {
            return Err(CheckpointError::Range {
                start: self.start_seq,
                end: self.end_seq,
            });
        }
        if (self.start_seq == 1) != self.prev_checkpoint.is_genesis() {
            return Err(CheckpointError::PrevCheckpoint {
                start: self.start_seq,
            });
        }
        Ok(())
    }

    /// Writer identity.
    pub fn writer_id(&self) -> &str {
        &self.writer_id
    }
    /// Stream.
    pub fn stream(&self) -> &str {
        &self.stream
    }
    /// First seq new in this checkpoint.
    pub fn start_seq(&self) -> u64 {
        self.start_seq
    }
    /// Last seq covered; also the tree size of `root`.
    pub fn end_seq(&self) -> u64 {
        self.end_seq
    }
    /// Root of the stream's tree of size `end_seq`.
    pub fn root(&self) -> &Digest {
        &self.root
    }
    /// `self_hash` of record `end_seq`.
    pub fn head(&self) -> &Digest {
        &self.head
    }
    /// Hash of the previous checkpoint's canonical body, or genesis.
    pub fn prev_checkpoint(&self) -> &PrevHash {
        &self.prev_checkpoint
    }
    /// Creation time, milliseconds.
    pub fn created_ts_ms(&self) -> u64 {
        self.created_ts_ms
    }

    /// Writes the canonical body into `out`, replacing its contents.
    pub fn canonical_bytes(&self, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(b"{\"v\":1,\"writer_id\":");
        write_str(&self.writer_id, out);
        out.extend_from_slice(b",\"stream\":");
        write_str(&self.stream, out);
        out.extend_from_slice(b",\"range\":[");
        write_u64(self.start_seq, out);
        out.push(b',');
        write_u64(self.end_seq, out);
        out.extend_from_slice(b"],\"root\":\"");
        self.root.write_hash_string(out);
        out.extend_from_slice(b"\",\"head\":\"");
        self.head.write_hash_string(out);
        out.extend_from_slice(b"\",\"prev_checkpoint\":\"");
        self.prev_checkpoint.write_hash_string(out);
        out.extend_from_slice(b"\",\"created_ts_ms\":");
        write_u64(self.created_ts_ms, out);
        out.push(b'}');
    }

    /// The canonical body in a new vector.
    pub fn to_canonical(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(320);
        self.canonical_bytes(&mut out);
        out
    }

    /// `H(canonical body)`: what the next checkpoint's `prev_checkpoint` holds.
    pub fn digest(&self) -> Digest {
        Digest::of(&self.to_canonical())
    }

    /// This checkpoint's place in its stream's chain: its `start_seq` and
    /// `prev_checkpoint`.
    pub fn link(&self) -> CheckpointLink {
        CheckpointLink {
            start_seq: self.start_seq,
            prev: self.prev_checkpoint,
        }
    }

    /// The link the stream's next checkpoint must have: it starts at
    /// `end_seq + 1` and its `prev_checkpoint` is this body's [`digest`].
    ///
    /// [`digest`]: CheckpointBody::digest
    pub fn next_link(&self) -> CheckpointLink {
        CheckpointLink {
            start_seq: self.end_seq.saturating_add(1),
            prev: PrevHash::Digest(self.digest()),
        }
    }

    /// The bytes a signer signs: the context line, then the canonical body.
    pub fn signing_message(&self) -> Vec<u8> {
        let mut body = self.to_canonical();
        let mut msg = Vec::with_capacity(CHECKPOINT_SIG_CONTEXT.len() + body.len());
        msg.extend_from_slice(CHECKPOINT_SIG_CONTEXT);
        msg.append(&mut body);
        msg
    }

    /// Parses a canonical body. Bytes that are not exactly the canonical
    /// form of a valid body are refused (a signature covers these bytes, so
    /// nothing is normalized).
    pub fn from_canonical(bytes: &[u8]) -> Result<Self, CheckpointError> {
        if bytes.len() > MAX_CHECKPOINT_BYTES {
            return Err(CheckpointError::TooLarge { len: bytes.len() });
        }
        let text = check_text(bytes).map_err(|_| CheckpointError::NonCanonical { offset: 0 })?;
        let mut lx = Lexer::new(text.as_bytes());
        let nc = |lx: &Lexer<'_>| CheckpointError::NonCanonical { offset: lx.pos() };
        let lit = |lx: &mut Lexer<'_>, l: &[u8]| if lx.eat_lit(l) { Ok(()) } else { Err(nc(lx)) };
        lit(&mut lx, b"{\"v\":1,\"writer_id\":")?;
        let writer_id = canon_string(&mut lx)?;
        lit(&mut lx, b",\"stream\":")?;
        let stream = canon_string(&mut lx)?;
        lit(&mut lx, b",\"range\":[")?;
        let start_seq = canon_u64(&mut lx)?;
        lit(&mut lx, b",")?;
        let end_seq = canon_u64(&mut lx)?;
        lit(&mut lx, b"],\"root\":")?;
        let root = hash(&mut lx, "root")?;
        lit(&mut lx, b",\"head\":")?;
        let head = hash(&mut lx, "head")?;
        lit(&mut lx, b",\"prev_checkpoint\":")?;
        let at = lx.pos();
        let s = canon_string(&mut lx)?;
        let prev_checkpoint = PrevHash::parse(&s).map_err(|_| CheckpointError::BadHash {
            field: "prev_checkpoint",
            offset: at,
        })?;
        lit(&mut lx, b",\"created_ts_ms\":")?;
        let created_ts_ms = canon_u64(&mut lx)?;
        lit(&mut lx, b"}")?;
        if !lx.at_end() {
            return Err(nc(&lx));
        }
        let body = Self {
            writer_id,
            stream,
            start_seq,
            end_seq,
            root,
            head,
            prev_checkpoint,
            created_ts_ms,
        };
        body.validate()?;
        Ok(body)
    }
}

impl CheckpointBody {
    /// Parses a body in any JSON form (keys in any order, whitespace, any
    /// escapes), as a proof file that went through a JSON tool holds it.
    /// Every key of FORMAT-v1.md section 5 must appear exactly once and no
    /// other; numbers are integers; `v` is 1. What is read is what
    /// [`CheckpointBody::to_canonical`] writes back and a signature covers,
    /// so such a body verifies exactly when its canonical form was signed.
    pub fn from_json(bytes: &[u8]) -> Result<Self, CheckpointError> {
        if bytes.len() > MAX_CHECKPOINT_JSON_BYTES {
            return Err(CheckpointError::TooLarge { len: bytes.len() });
        }
        let text = check_text(bytes).map_err(|_| CheckpointError::Json {
            offset: 0,
            expected: "UTF-8 JSON text",
        })?;
        let mut lx = Lexer::new(text.as_bytes());
        let want = |lx: &Lexer<'_>, expected| CheckpointError::Json {
            offset: lx.pos(),
            expected,
        };
        let eat = |lx: &mut Lexer<'_>, b: u8, expected| {
            lx.ws();
            if lx.eat(b) {
                Ok(())
            } else {
                Err(want(lx, expected))
            }
        };
        let mut seen = [false; BODY_KEYS.len()];
        let (mut writer_id, mut stream, mut range) = (None, None, None);
        let (mut root, mut head, mut prev, mut created) = (None, None, None, None);
        eat(&mut lx, b'{', "'{'")?;
        lx.ws();
        let mut more = !lx.eat(b'}');
        while more {
            lx.ws();
            let key_at = lx.pos();
            let key = lx.string().map_err(|_| want(&lx, "a key"))?.value;
            let fresh = BODY_KEYS
                .iter()
                .position(|k| *k == key)
                .and_then(|i| seen.get_mut(i).filter(|s| !**s).map(|s| (i, s)));
            let Some((idx, slot)) = fresh else {
                return Err(CheckpointError::Json {
                    offset: key_at,
                    expected: "a body key not seen before (v, writer_id, stream, range, root, head, prev_checkpoint, created_ts_ms)",
                });
            };
            *slot = true;
            eat(&mut lx, b':', "':'")?;
            lx.ws();
            match idx {
                0 => {
                    if json_u64(&mut lx)? != 1 {
                        return Err(want(&lx, "v 1"));
                    }
                }
                1 => writer_id = Some(json_string(&mut lx)?),
                2 => stream = Some(json_string(&mut lx)?),
                3 => {
                    eat(&mut lx, b'[', "'['")?;
                    lx.ws();
                    let start = json_u64(&mut lx)?;
                    eat(&mut lx, b',', "','")?;
                    lx.ws();
                    let end = json_u64(&mut lx)?;
                    eat(&mut lx, b']', "']'")?;
                    range = Some((start, end));
                }
                4 => root = Some(json_hash(&mut lx, "root")?),
                5 => head = Some(json_hash(&mut lx, "head")?),
                6 => {
                    let at = lx.pos();
                    let s = json_string(&mut lx)?;
                    prev = Some(PrevHash::parse(&s).map_err(|_| CheckpointError::BadHash {
                        field: "prev_checkpoint",
                        offset: at,
                    })?);
                }
                _ => created = Some(json_u64(&mut lx)?),
            }
            lx.ws();
            more = lx.eat(b',');
            if !more {
                eat(&mut lx, b'}', "',' or '}'")?;
            }
        }
        lx.ws();
        if !lx.at_end() {
            return Err(want(&lx, "the end of the body"));
        }
        let need = |k| CheckpointError::MissingKey { key: k };
        if seen.first() != Some(&true) {
            return Err(need("v"));
        }
        let (start, end) = range.ok_or(need("range"))?;
        Self::new(
            writer_id.ok_or(need("writer_id"))?,
            stream.ok_or(need("stream"))?,
            start,
            end,
            root.ok_or(need("root"))?,
            head.ok_or(need("head"))?,
            prev.ok_or(need("prev_checkpoint"))?,
            created.ok_or(need("created_ts_ms"))?,
        )
    }
}

fn json_string(lx: &mut Lexer<'_>) -> Result<String, CheckpointError> {
    let at = lx.pos();
    lx.string()
        .map(|s| s.value.into_owned())
        .map_err(|_| CheckpointError::Json {
            offset: at,
            expected: "a string",
        })
}

fn json_u64(lx: &mut Lexer<'_>) -> Result<u64, CheckpointError> {
    let at = lx.pos();
    let bad = CheckpointError::Json {
        offset: at,
        expected: "an integer in 0..=u64::MAX",
    };
    if lx.peek() != Ok(Peeked::Number) {
        return Err(bad);
    }
    lx.integer()
        .ok()
        .and_then(|i| u64::try_from(i.get()).ok())
        .ok_or(bad)
}

fn json_hash(lx: &mut Lexer<'_>, field: &'static str) -> Result<Digest, CheckpointError> {
    let at = lx.pos();
    let s = json_string(lx)?;
    Digest::parse(&s).map_err(|_| CheckpointError::BadHash { field, offset: at })
}

fn canon_string(lx: &mut Lexer<'_>) -> Result<String, CheckpointError> {
    let at = lx.pos();
    match lx.string() {
        Ok(s) if s.canonical_escapes && is_nfc_fast(&s.value) => Ok(s.value.into_owned()),
        _ => Err(CheckpointError::NonCanonical { offset: at }),
    }
}

fn canon_u64(lx: &mut Lexer<'_>) -> Result<u64, CheckpointError> {
    let at = lx.pos();
    if lx.peek() != Ok(Peeked::Number) {
        return Err(CheckpointError::NonCanonical { offset: at });
    }
    lx.integer()
        .ok()
        .and_then(|i| u64::try_from(i.get()).ok())
        .ok_or(CheckpointError::NonCanonical { offset: at })
}

fn hash(lx: &mut Lexer<'_>, field: &'static str) -> Result<Digest, CheckpointError> {
    let at = lx.pos();
    let s = canon_string(lx)?;
    Digest::parse(&s).map_err(|_| CheckpointError::BadHash { field, offset: at })
}

/// A checkpoint body is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// `writer_id` or `stream` breaks its rule.
    #[error("checkpoint {0}")]
    Field(#[from] RecordError),
    /// The range is not `1 <= start <= end`.
    #[error("checkpoint range [{start}, {end}] is not 1 <= start <= end")]
    Range {
        /// Start seq.
        start: u64,
        /// End seq.
        end: u64,
    },
    /// `prev_checkpoint` is genesis exactly when the range does not start at 1.
    #[error("checkpoint starting at seq {start}: prev_checkpoint must be \"b3:0\" exactly when start is 1")]
    PrevCheckpoint {
        /// Start seq.
        start: u64,
    },
    /// The bytes are not a canonical body.
    #[error("checkpoint body is not canonical at offset {offset}")]
    NonCanonical {
        /// Offset of the first unexpected byte.
        offset: usize,
    },
    /// A body in another JSON form ([`CheckpointBody::from_json`]) breaks
    /// the grammar or the schema.
    #[error("checkpoint body at offset {offset}: expected {expected}")]
    Json {
        /// Offset of the first unexpected byte.
        offset: usize,
        /// What was expected there.
        expected: &'static str,
    },
    /// A body in another JSON form lacks a key.
    #[error("checkpoint body has no {key:?}")]
    MissingKey {
        /// The key.
        key: &'static str,
    },
    /// A hash field is not a hash string.
    #[error("checkpoint {field} at offset {offset} is not a hash string")]
    BadHash {
        /// Which field.
        field: &'static str,
        /// Offset.
        offset: usize,
    },
    /// The body is larger than any checkpoint can be.
    #[error("checkpoint body is {len} bytes, more than {MAX_CHECKPOINT_BYTES}")]
    TooLarge {
        /// Its length.
        len: usize,
    },
}
