//! `verify_record`: a single-pass check that stored bytes are a canonical
//! record, then its digest. No parse tree, no re-serialization.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;

use crate::digest::{Digest, PrevHash};
use crate::lexer::{Lexer, Peeked};
use crate::limits::{Limits, MAX_DEPTH};
use crate::parse::{ParseError, parse_record};
use crate::record::is_nfc_fast;
use crate::rules;

/// Why stored bytes are not the canonical bytes of a valid record with the
/// expected digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The bytes are not a valid record at all.
    #[error("not a valid record: {0}")]
    Invalid(#[from] ParseError),
    /// A valid record, but the bytes are not its canonical form.
    #[error("stream {stream:?} seq {seq}: bytes are not canonical, first difference at offset {offset}")]
    NonCanonical {
        /// The record's stream.
        stream: String,
        /// The record's seq.
        seq: u64,
        /// First byte offset where the stored bytes and the canonical bytes differ.
        offset: usize,
    },
    /// The digest of the bytes is not the expected one.
    #[error("self_hash mismatch: expected {expected}, bytes hash to {actual}")]
    DigestMismatch {
        /// The expected digest (from a frame, a `self_hash` or a chain).
        expected: Digest,
        /// The digest of the bytes.
        actual: Digest,
    },
}

impl VerifyError {
    /// A stable, machine-readable name of the error class.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(e) => e.code(),
            Self::NonCanonical { .. } => "non_canonical",
            Self::DigestMismatch { .. } => "digest_mismatch",
        }
    }
}

/// Checks that `bytes` are exactly the canonical bytes of a valid record
/// under `limits`, and returns their digest (the record's `self_hash`).
///
/// Stored bytes are never re-normalized: bytes that parse to a valid record
/// but are not its canonical form fail with [`VerifyError::NonCanonical`].
/// The check is one pass over the bytes; only a failing input is parsed
/// again, to say precisely what is wrong.
pub fn verify_record(bytes: &[u8], limits: &Limits) -> Result<Digest, VerifyError> {
    if is_canonical(bytes, limits).is_none() {
        return Err(diagnose(bytes, limits));
    }
    Ok(Digest::of(bytes))
}

/// The fields that place a verified record in its chain, borrowed from its
/// canonical bytes where they need no unescaping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordLink<'a> {
    /// `ts_ms`.
    pub ts_ms: u64,
    /// `writer_id` (NFC).
    pub writer_id: Cow<'a, str>,
    /// `seq`.
    pub seq: u64,
    /// `stream`.
    pub stream: Cow<'a, str>,
    /// `prev`.
    pub prev: PrevHash,
    /// `H(bytes)`: the record's `self_hash`.
    pub self_hash: Digest,
}

/// [`verify_record`], returning the record's chain fields as well: what a
/// log reader needs to check links without parsing the record twice.
pub fn verify_record_link<'a>(bytes: &'a [u8], limits: &Limits) -> Result<RecordLink<'a>, VerifyError> {
    let Some(link) = is_canonical(bytes, limits) else {
        return Err(diagnose(bytes, limits));
    };
    let text = |b: Cow<'a, [u8]>| -> Option<Cow<'a, str>> {
        Some(match b {
            Cow::Borrowed(b) => Cow::Borrowed(std::str::from_utf8(b).ok()?),
            Cow::Owned(b) => Cow::Owned(String::from_utf8(b).ok()?),
        })
    };
    let prev = if link.prev.is_empty() {
        PrevHash::Genesis
    } else {
        std::str::from_utf8(&link.prev)
            .ok()
            .and_then(|s| Digest::parse(s).ok())
            .map(PrevHash::Digest)
            .ok_or_else(|| diagnose(bytes, limits))?
    };
    match (text(link.writer_id), text(link.stream)) {
        (Some(writer_id), Some(stream)) => Ok(RecordLink {
            ts_ms: link.ts_ms,
            writer_id,
            seq: link.seq,
            stream,
            prev,
            self_hash: Digest::of(bytes),
        }),
        // Unreachable for canonical bytes (the lexer checked UTF-8).
        _ => Err(diagnose(bytes, limits)),
    }
}

/// The chain fields as the walk found them; `prev` is empty for genesis.
struct Link<'a> {
    ts_ms: u64,
    writer_id: Cow<'a, [u8]>,
    seq: u64,
    stream: Cow<'a, [u8]>,
    prev: Cow<'a, [u8]>,
}

/// [`verify_record`], then checks the digest against `expected`.
pub fn verify_record_against(bytes: &[u8], expected: &Digest, limits: &Limits) -> Result<(), VerifyError> {
    let actual = verify_record(bytes, limits)?;
    if actual == *expected {
        Ok(())
    } else {
        Err(VerifyError::DigestMismatch {
            expected: *expected,
            actual,
        })
    }
}

/// The slow path for failures: the full parser says what is wrong.
fn diagnose(bytes: &[u8], limits: &Limits) -> VerifyError {
    match parse_record(bytes, limits) {
        Err(e) => VerifyError::Invalid(e),
        Ok(p) => {
            let offset = p
                .canonical
                .iter()
                .zip(bytes)
                .position(|(a, b)| a != b)
                .unwrap_or(p.canonical.len().min(bytes.len()));
            VerifyError::NonCanonical {
                stream: p.record.stream().to_owned(),
                seq: p.record.seq(),
                offset,
            }
        }
    }
}

/// `Some(_)` exactly when `bytes` are canonical. Property tests hold this
/// equal to "parses, and canonicalizes to the same bytes".
fn is_canonical<'a>(bytes: &'a [u8], limits: &Limits) -> Option<Link<'a>> {
    if bytes.len() > limits.max_record_bytes() {
        return None;
    }
    // No whole-text UTF-8 pass: the lexer checks each string token, and a
    // non-ASCII byte anywhere else is a syntax error.
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return None;
    }
    // Optimistic first: most records are plain ASCII without escapes, and
    // the CLEAN walk reads their strings as bytes. Any other string makes it
    // give up, and the general walk decides.
    if let Some(link) = walk::<true>(&mut Lexer::new(bytes), limits) {
        return Some(link);
    }
    walk::<false>(&mut Lexer::new(bytes), limits)
}

/// The record grammar in canonical form, key by key. `CLEAN`: read every
/// string as plain ASCII (and fail on any other, for the caller to retry).
#[inline]
fn walk<'a, const CLEAN: bool>(lx: &mut Lexer<'a>, limits: &Limits) -> Option<Link<'a>> {
    lx.eat_lit(b"{\"v\":").then_some(())?;
    rules::version(uint(lx)?).ok()?;
    lx.eat_lit(b",\"ts_ms\":").then_some(())?;
    let ts_ms = uint(lx)?;
    lx.eat_lit(b",\"writer_id\":").then_some(())?;
    let writer_id = key::<CLEAN>(lx)?;
    rules::writer_id(&writer_id).ok()?;
    lx.eat_lit(b",\"seq\":").then_some(())?;
    let seq = uint(lx)?;
    lx.eat_lit(b",\"stream\":").then_some(())?;
    let stream = key::<CLEAN>(lx)?;
    rules::stream(&stream).ok()?;
    lx.eat_lit(b",\"kind\":").then_some(())?;
    rules::kind(&key::<CLEAN>(lx)?).ok()?;
    lx.eat_lit(b",\"actor\":").then_some(())?;
    fixed_object::<CLEAN>(lx, &[b"anon", b"cap_id", b"key_fpr", b"passport_id"])?;
    lx.eat_lit(b",\"subject\":").then_some(())?;
    fixed_object::<CLEAN>(lx, &[b"content_id", b"ledger_txid", b"name"])?;
    lx.eat_lit(b",\"reason\":").then_some(())?;
    rules::reason(&key::<CLEAN>(lx)?).ok()?;
    lx.eat_lit(b",\"attrs\":").then_some(())?;
    let attrs_start = lx.pos();
    object::<CLEAN>(lx, 1)?;
    if lx.pos() - attrs_start > limits.max_attrs_bytes() {
        return None;
    }
    lx.eat_lit(b",\"prev\":").then_some(())?;
    let prev = key::<CLEAN>(lx)?;
    let genesis = *prev == *crate::digest::GENESIS.as_bytes();
    if !genesis && !is_hash_string(&prev) {
        return None;
    }
    rules::seq_and_prev(seq, genesis).ok()?;
    lx.eat(b'}').then_some(())?;
    lx.at_end().then_some(Link {
        ts_ms,
        writer_id,
        seq,
        stream,
        prev: if genesis { Cow::Borrowed(&[]) } else { prev },
    })
}

/// `actor` or `subject`: an object whose keys come from `keys`, in that
/// (ascending) order, each at most once. `anon` is a boolean, the rest
/// strings.
fn fixed_object<const CLEAN: bool>(lx: &mut Lexer<'_>, keys: &[&[u8]]) -> Option<()> {
    lx.eat(b'{').then_some(())?;
    if lx.eat(b'}') {
        return Some(());
    }
    let mut next = 0;
    loop {
        let key = key::<CLEAN>(lx)?;
        let idx = next + keys.get(next..)?.iter().position(|k| same(k, &key))?;
        next = idx + 1;
        lx.eat(b':').then_some(())?;
        if *key == *b"anon" {
            (lx.eat_lit(b"true") || lx.eat_lit(b"false")).then_some(())?;
        } else {
            skip_string::<CLEAN>(lx)?;
        }
        if !lx.eat(b',') {
            return lx.eat(b'}').then_some(());
        }
    }
}

/// A canonical string whose value is not needed. `CLEAN`: plain ASCII
/// only (see `Lexer::plain_string`).
#[inline]
fn skip_string<const CLEAN: bool>(lx: &mut Lexer<'_>) -> Option<()> {
    if CLEAN {
        lx.plain_string().map(drop)
    } else {
        string(lx).map(drop)
    }
}

fn uint(lx: &mut Lexer<'_>) -> Option<u64> {
    if lx.peek().ok()? != Peeked::Number {
        return None;
    }
    u64::try_from(lx.integer().ok()?.get()).ok()
}

/// A canonical string: canonical escapes only, NFC.
#[inline]
fn string<'a>(lx: &mut Lexer<'a>) -> Option<std::borrow::Cow<'a, str>> {
    let s = lx.string().ok()?;
    (s.canonical_escapes && (s.ascii || is_nfc_fast(&s.value))).then_some(s.value)
}

/// A string token's canonical bytes (an object key or a field value).
#[inline]
fn key<'a, const CLEAN: bool>(lx: &mut Lexer<'a>) -> Option<std::borrow::Cow<'a, [u8]>> {
    if CLEAN {
        return lx.plain_string().map(std::borrow::Cow::Borrowed);
    }
    Some(match string(lx)? {
        std::borrow::Cow::Borrowed(s) => std::borrow::Cow::Borrowed(s.as_bytes()),
        std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(s.into_bytes()),
    })
}

/// A canonical object at nesting `depth`: keys strictly ascending by bytes.
fn object<const CLEAN: bool>(lx: &mut Lexer<'_>, depth: usize) -> Option<()> {
    if depth > MAX_DEPTH || !lx.eat(b'{') {
        return None;
    }
    if lx.eat(b'}') {
        return Some(());
    }
    let mut prev_key: Option<std::borrow::Cow<'_, [u8]>> = None;
    loop {
        let key = key::<CLEAN>(lx)?;
        if let Some(p) = &prev_key
            && !ascending(p, &key)
        {
            return None;
        }
        lx.eat(b':').then_some(())?;
        value::<CLEAN>(lx, depth)?;
        prev_key = Some(key);
        if lx.eat(b',') {
            continue;
        }
        return lx.eat(b'}').then_some(());
    }
}

/// A canonical value inside a container at nesting `depth`.
fn value<const CLEAN: bool>(lx: &mut Lexer<'_>, depth: usize) -> Option<()> {
    match lx.peek().ok()? {
        Peeked::Object => object::<CLEAN>(lx, depth + 1),
        Peeked::Array => {
            if depth + 1 > MAX_DEPTH {
                return None;
            }
            lx.eat(b'[');
            if lx.eat(b']') {
                return Some(());
            }
            loop {
                value::<CLEAN>(lx, depth + 1)?;
                if lx.eat(b',') {
                    continue;
                }
                return lx.eat(b']').then_some(());
            }
        }
        Peeked::String => skip_string::<CLEAN>(lx),
        Peeked::Number => lx.skip_integer().ok(),
        p => lx.literal(p).ok(),
    }
}

/// `a < b` in byte order; a plain loop, since keys are short and a
/// `memcmp` call costs more than comparing them.
#[inline]
fn ascending(a: &[u8], b: &[u8]) -> bool {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x < y;
        }
    }
    a.len() < b.len()
}

/// `a == b` without a `memcmp` call, for short keys.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// `"b3:"` and 64 lowercase hex digits: what `Digest::parse` accepts,
/// checked without decoding.
#[inline]
fn is_hash_string(s: &[u8]) -> bool {
    match s.strip_prefix(b"b3:") {
        Some(hex) => hex.len() == 64 && crate::digest::is_lower_hex(hex),
        None => false,
    }
}
