//! The canonical JSON writer (FORMAT-v1.md section 2) and record hashing.

use std::collections::BTreeMap;

use crate::digest::Digest;
use crate::limits::Limits;
use crate::record::{ActorRef, AuditRecord, SubjectRef};
use crate::value::AttrValue;

impl AuditRecord {
    /// Writes the canonical bytes of this record (without `self_hash`) into
    /// `out`, replacing its contents, and checks the size bounds.
    ///
    /// This writes straight from the typed record, or, for a record fresh
    /// from [`crate::RecordBuilder::build`], copies the bytes the builder
    /// wrote and puts `seq` and `prev` in; reuse `out` across calls to
    /// avoid allocating. On error `out` is left empty.
    pub fn canonical_bytes(&self, limits: &Limits, out: &mut Vec<u8>) -> Result<(), BoundsError> {
        out.clear();
        let attrs_len = match &self.render {
            // Built here: every field but `seq` and `prev` is written already.
            Some(r) => {
                out.reserve(r.bytes.len() + SEQ_AND_PREV_MAX);
                out.extend_from_slice(r.bytes.get(..r.seq_at).unwrap_or_default());
                write_u64(self.seq, out);
                out.extend_from_slice(r.bytes.get(r.seq_at..).unwrap_or_default());
                r.attrs_len
            }
            None => write_head(self, out),
        };
        self.prev.write_hash_string(out);
        out.extend_from_slice(b"\"}");
        check_bounds(attrs_len, out, limits)
    }

    /// The canonical bytes of this record, as a new vector.
    pub fn to_canonical(&self, limits: &Limits) -> Result<Vec<u8>, BoundsError> {
        // One allocation: the built size when known, else 1 KiB (most
        // records are under it).
        let cap = self
            .render
            .as_ref()
            .map_or(1024, |r| r.bytes.len() + SEQ_AND_PREV_MAX);
        let mut out = Vec::with_capacity(cap);
        self.canonical_bytes(limits, &mut out)?;
        Ok(out)
    }

    /// [`Self::to_canonical`], consuming the record and handing it back.
    /// A record fresh from [`crate::RecordBuilder::build`] carries the
    /// canonical bytes of its fields, written while they were checked;
    /// they become the result here, with `seq` and `prev` put in place,
    /// so nothing is written twice or copied.
    pub fn into_canonical(mut self, limits: &Limits) -> Result<(Self, Vec<u8>), BoundsError> {
        let Some(Render {
            mut bytes,
            seq_at,
            attrs_len,
        }) = self.render.take()
        else {
            let out = self.to_canonical(limits)?;
            return Ok((self, out));
        };
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(self.seq).as_bytes();
        bytes.splice(seq_at..seq_at, digits.iter().copied());
        self.prev.write_hash_string(&mut bytes);
        bytes.extend_from_slice(b"\"}");
        check_bounds(attrs_len, &mut bytes, limits)?;
        Ok((self, bytes))
    }

    /// `H(canonical bytes)`: the record's `self_hash` as a digest.
    pub fn self_hash(&self, limits: &Limits) -> Result<Digest, BoundsError> {
        Ok(Digest::of(&self.to_canonical(limits)?))
    }
}

/// `dedupe_key = H(canonical bytes)`, the raw 32 bytes of the `self_hash`.
pub fn dedupe_key(canonical: &[u8]) -> [u8; 32] {
    *blake3::hash(canonical).as_bytes()
}

/// Room for `seq` (20 digits), `prev` (`"b3:` + 64 hex digits) and the end.
const SEQ_AND_PREV_MAX: usize = 20 + 67 + 2;

/// The canonical bytes of a built record's fields other than `seq` and
/// `prev`, written by the builder in the one walk that also normalizes and
/// checks them, and kept until the record is canonicalized: `bytes[..seq_at]`
/// ends with `"seq":`, `bytes[seq_at..]` runs from `,"stream":` to
/// `,"prev":"`. Valid for as long as those fields do not change, which
/// holds because a record's fields only change through
/// [`AuditRecord::with_position`] (`seq` and `prev`).
#[derive(Clone)]
pub(crate) struct Render {
    pub(crate) bytes: Vec<u8>,
    pub(crate) seq_at: usize,
    pub(crate) attrs_len: usize,
}

/// Writes every field of `r` before `prev` (with `,"prev":"`); returns the
/// canonical length of `attrs`.
fn write_head(r: &AuditRecord, out: &mut Vec<u8>) -> usize {
    write_fields_to_seq(r.v, r.ts_ms, &r.writer_id, out);
    write_u64(r.seq, out);
    write_fields_to_attrs(&r.stream, &r.kind, &r.actor, &r.subject, &r.reason, out);
    let attrs_start = out.len();
    write_object(&r.attrs, out);
    let attrs_len = out.len() - attrs_start;
    out.extend_from_slice(b",\"prev\":\"");
    attrs_len
}

/// `{"v":..,"ts_ms":..,"writer_id":..,"seq":`
pub(crate) fn write_fields_to_seq(v: u64, ts_ms: u64, writer_id: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"v\":");
    write_u64(v, out);
    out.extend_from_slice(b",\"ts_ms\":");
    write_u64(ts_ms, out);
    out.extend_from_slice(b",\"writer_id\":");
    write_str(writer_id, out);
    out.extend_from_slice(b",\"seq\":");
}

/// `,"stream":..,"kind":..,"actor":..,"subject":..,"reason":..,"attrs":`
pub(crate) fn write_fields_to_attrs(
    stream: &str,
    kind: &str,
    actor: &ActorRef,
    subject: &SubjectRef,
    reason: &str,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b",\"stream\":");
    write_str(stream, out);
    out.extend_from_slice(b",\"kind\":");
    write_str(kind, out);
    out.extend_from_slice(b",\"actor\":");
    write_actor(actor, out);
    out.extend_from_slice(b",\"subject\":");
    write_subject(subject, out);
    out.extend_from_slice(b",\"reason\":");
    write_str(reason, out);
    out.extend_from_slice(b",\"attrs\":");
}

/// The size bounds of section 1, on a finished record; `out` is emptied on
/// error.
fn check_bounds(attrs_len: usize, out: &mut Vec<u8>, limits: &Limits) -> Result<(), BoundsError> {
    if attrs_len > limits.max_attrs_bytes() {
        out.clear();
        return Err(BoundsError::AttrsTooLarge {
            len: attrs_len,
            max: limits.max_attrs_bytes(),
        });
    }
    if out.len() > limits.max_record_bytes() {
        let len = out.len();
        out.clear();
        return Err(BoundsError::RecordTooLarge {
            len,
            max: limits.max_record_bytes(),
        });
    }
    Ok(())
}

/// A record is larger than the configured [`Limits`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BoundsError {
    /// The canonical `attrs` value is too large.
    #[error("attrs is {len} bytes canonical, more than the limit of {max}")]
    AttrsTooLarge {
        /// Canonical size of `attrs`.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The whole canonical record is too large.
    #[error("record is {len} bytes canonical, more than the limit of {max}")]
    RecordTooLarge {
        /// Canonical size of the record.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl BoundsError {
    /// A stable, machine-readable name of the error class.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AttrsTooLarge { .. } => "attrs_too_large",
            Self::RecordTooLarge { .. } => "record_too_large",
        }
    }
}

pub(crate) fn write_u64(v: u64, out: &mut Vec<u8>) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(v).as_bytes());
}

fn write_actor(a: &ActorRef, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut sep = Sep::default();
    if let Some(b) = a.anon {
        sep.key("anon", out);
        out.extend_from_slice(if b { b"true" } else { b"false" });
    }
    for (k, v) in [
        ("cap_id", &a.cap_id),
        ("key_fpr", &a.key_fpr),
        ("passport_id", &a.passport_id),
    ] {
        if let Some(v) = v {
            sep.key(k, out);
            write_str(v, out);
        }
    }
    out.push(b'}');
}

fn write_subject(s: &SubjectRef, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut sep = Sep::default();
    for (k, v) in [
        ("content_id", &s.content_id),
        ("ledger_txid", &s.ledger_txid),
        ("name", &s.name),
    ] {
        if let Some(v) = v {
            sep.key(k, out);
            write_str(v, out);
        }
    }
    out.push(b'}');
}

/// Writes `"key":` with a leading comma after the first key.
#[derive(Default)]
struct Sep(bool);

impl Sep {
    fn key(&mut self, k: &str, out: &mut Vec<u8>) {
        if self.0 {
            out.push(b',');
        }
        self.0 = true;
        write_str(k, out);
        out.push(b':');
    }
}

pub(crate) fn write_object(m: &BTreeMap<String, AttrValue>, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut sep = Sep::default();
    for (k, v) in m {
        sep.key(k, out);
        write_value(v, out);
    }
    out.push(b'}');
}

pub(crate) fn write_value(v: &AttrValue, out: &mut Vec<u8>) {
    match v {
        AttrValue::Null => out.extend_from_slice(b"null"),
        AttrValue::Bool(true) => out.extend_from_slice(b"true"),
        AttrValue::Bool(false) => out.extend_from_slice(b"false"),
        AttrValue::Integer(i) => i.write(out),
        AttrValue::String(s) => write_str(s, out),
        AttrValue::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(x, out);
            }
            out.push(b']');
        }
        AttrValue::Object(m) => write_object(m, out),
    }
}

/// Escape class of each byte: 0 copy as is, otherwise the escape letter
/// (`u` for `\u00XX`).
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Non-zero exactly when one of the 8 bytes of `w` must be escaped: a
/// control character, `"` or `\`. Exact as a yes/no (a borrow only runs
/// on from a byte that matched); it does not say which byte.
fn word_escapes(w: u64) -> u64 {
    let below = |v: u64, n: u8| v.wrapping_sub(ONES * u64::from(n)) & !v & HIGHS;
    let ctl = below(w, 0x20);
    let quote = below(w ^ (ONES * u64::from(b'"')), 1);
    let backslash = below(w ^ (ONES * u64::from(b'\\')), 1);
    ctl | quote | backslash
}

/// Whether any byte of `bytes` must be escaped, 8 bytes at a time.
fn needs_escape(bytes: &[u8]) -> bool {
    let (words, tail) = bytes.as_chunks::<8>();
    let mut found = 0;
    for w in words {
        found |= word_escapes(u64::from_le_bytes(*w));
    }
    // The tail padded with spaces, which need no escape.
    let mut last = [b' '; 8];
    for (d, &b) in last.iter_mut().zip(tail) {
        *d = b;
    }
    found | word_escapes(u64::from_le_bytes(last)) != 0
}

/// Writes `s` as a canonical JSON string (rule 5 of section 2).
///
/// Most strings have nothing to escape: they are checked 8 bytes at a
/// time, then copied whole. Only a string with something to escape is
/// written byte by byte.
pub(crate) fn write_str(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    if needs_escape(bytes) {
        write_escaped(bytes, out);
        return;
    }
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    out.extend_from_slice(bytes);
    out.push(b'"');
}

/// [`write_str`] for a string with something to escape.
fn write_escaped(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = ESCAPE[b as usize];
        if esc == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if esc == b'u' {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        } else {
            out.push(b'\\');
            out.push(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::write_str;

    /// Every ASCII byte, at every position of strings up to 17 bytes (two
    /// words and a tail), is written as serde_json writes it: canonical
    /// JSON escapes exactly what JSON requires, with the short forms.
    #[test]
    fn write_str_escapes_as_json_does_at_every_position() {
        for len in 1..=17 {
            for pos in 0..len {
                for b in 0u8..0x80 {
                    let mut s = vec![b'a'; len];
                    s[pos] = b;
                    let s = String::from_utf8(s).expect("ascii");
                    let mut out = b"x".to_vec();
                    write_str(&s, &mut out);
                    let want = format!("x{}", serde_json::to_string(&s).expect("json"));
                    assert_eq!(
                        String::from_utf8_lossy(&out),
                        want,
                        "byte {b:#04x} at {pos} of {len}"
                    );
                }
            }
        }
    }
}
