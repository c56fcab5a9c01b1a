//! Field rules of FORMAT-v1.md section 1, shared by the builder, the parser
//! and the canonical validator so all three agree by construction.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use crate::record::{Field, RecordError, Rule};

pub(crate) const WRITER_ID_MAX: usize = 128;
pub(crate) const NAME_MAX: usize = 64;

// The rules take the UTF-8 bytes of a value: every rule is about bytes
// (lengths, ASCII alphabets, control characters), and the validator can
// then check values without building strings.

/// `writer_id`: 1..=128 bytes (after NFC), no control characters.
pub(crate) fn writer_id(s: &[u8]) -> Result<(), RecordError> {
    let f = Field::WriterId;
    check_len(f, s, WRITER_ID_MAX)?;
    // Control characters are single ASCII bytes, which never occur inside
    // a multi-byte UTF-8 sequence, so a byte scan finds exactly them.
    if let Some(at) = s.iter().position(|&b| b < 0x20 || b == 0x7f) {
        let ch = char::from(s.get(at).copied().unwrap_or(0));
        return Err(invalid(f, Rule::ControlCharacter { at, ch }, s));
    }
    Ok(())
}

fn invalid(f: Field, rule: Rule, s: &[u8]) -> RecordError {
    RecordError::invalid(f, rule, &String::from_utf8_lossy(s))
}

/// `stream`: 1..=64 bytes of `[A-Za-z0-9._-]`, first a letter or digit.
pub(crate) fn stream(s: &[u8]) -> Result<(), RecordError> {
    let f = Field::Stream;
    check_len(f, s, NAME_MAX)?;
    check_ascii(
        f,
        s,
        |b| b.is_ascii_alphanumeric(),
        |b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'),
    )
}

/// `kind`: 1..=64 bytes, first an ASCII letter, then `[A-Za-z0-9_.]`.
pub(crate) fn kind(s: &[u8]) -> Result<(), RecordError> {
    let f = Field::Kind;
    check_len(f, s, NAME_MAX)?;
    check_ascii(
        f,
        s,
        |b| b.is_ascii_alphabetic(),
        |b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'),
    )
}

/// `reason`: 1..=64 bytes of `[a-z0-9_.-]`.
pub(crate) fn reason(s: &[u8]) -> Result<(), RecordError> {
    let f = Field::Reason;
    check_len(f, s, NAME_MAX)?;
    let ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-');
    check_ascii(f, s, ok, ok)
}

/// `v`: only schema major 1 exists.
pub(crate) fn version(v: u64) -> Result<(), RecordError> {
    if v == 1 {
        Ok(())
    } else {
        Err(RecordError::invalid(
            Field::V,
            Rule::UnsupportedVersion,
            &v.to_string(),
        ))
    }
}

/// `seq` >= 1, and `prev` is genesis exactly when `seq` is 1.
pub(crate) fn seq_and_prev(seq: u64, prev_is_genesis: bool) -> Result<(), RecordError> {
    if seq == 0 {
        return Err(RecordError::invalid(Field::Seq, Rule::SeqZero, "0"));
    }
    match (seq == 1, prev_is_genesis) {
        (true, false) => Err(RecordError::invalid(Field::Prev, Rule::FirstNeedsGenesis, "")),
        (false, true) => Err(RecordError::invalid(
            Field::Prev,
            Rule::GenesisOnlyFirst { seq },
            crate::GENESIS,
        )),
        _ => Ok(()),
    }
}

fn check_len(f: Field, s: &[u8], max: usize) -> Result<(), RecordError> {
    if s.is_empty() {
        return Err(invalid(f, Rule::Empty, s));
    }
    if s.len() > max {
        return Err(invalid(f, Rule::TooLong { len: s.len(), max }, s));
    }
    Ok(())
}

fn check_ascii(
    f: Field,
    s: &[u8],
    first: impl Fn(u8) -> bool,
    rest: impl Fn(u8) -> bool,
) -> Result<(), RecordError> {
    for (at, &b) in s.iter().enumerate() {
        let ok = if at == 0 { first(b) } else { rest(b) };
        if !ok {
            let ch = String::from_utf8_lossy(s.get(at..).unwrap_or_default())
                .chars()
                .next()
                .unwrap_or('\u{fffd}');
            let rule = if at == 0 {
                Rule::BadFirstCharacter { ch }
            } else {
                Rule::BadCharacter { at, ch }
            };
            return Err(invalid(f, rule, s));
        }
    }
    Ok(())
}
