//! The strict record parser: JSON text in any key order and whitespace to a
//! validated, NFC-normalized [`AuditRecord`] and its canonical bytes.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::canon::BoundsError;
use crate::digest::{Digest, HashParseError, PrevHash};
use crate::lexer::{LexError, Lexer, Peeked};
use crate::limits::{Limits, MAX_DEPTH, MAX_INPUT_BYTES};
use crate::record::{self, ActorRef, AuditRecord, Field, RecordError, SubjectRef, nfc, nfc_cow};
use crate::value::AttrValue;

/// A record parsed from text, with its canonical bytes and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRecord {
    /// The validated, normalized record.
    pub record: AuditRecord,
    /// Its canonical bytes.
    pub canonical: Vec<u8>,
    /// `H(canonical)`: the record's true `self_hash`.
    pub self_hash: Digest,
    /// The `self_hash` the input carried, if any (not checked by parsing).
    pub claimed_self_hash: Option<Digest>,
}

impl ParsedRecord {
    /// Fails when the input carried a `self_hash` that is not the record's.
    pub fn check_claimed(&self) -> Result<(), SelfHashMismatch> {
        match &self.claimed_self_hash {
            Some(claimed) if *claimed != self.self_hash => Err(SelfHashMismatch {
                claimed: *claimed,
                actual: self.self_hash,
                stream: self.record.stream.clone(),
                seq: self.record.seq,
            }),
            _ => Ok(()),
        }
    }
}

/// The input's `self_hash` is not the hash of its canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "stream {stream:?} seq {seq}: self_hash {claimed} does not match the canonical bytes, which hash to {actual}"
)]
pub struct SelfHashMismatch {
    /// What the input said.
    pub claimed: Digest,
    /// What the canonical bytes hash to.
    pub actual: Digest,
    /// The record's stream.
    pub stream: String,
    /// The record's seq.
    pub seq: u64,
}

/// Why bytes are not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The input is larger than any record text may be.
    #[error("input is {len} bytes, more than the {max} a record text may have")]
    InputTooLarge {
        /// Input size.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The input starts with a UTF-8 byte order mark.
    #[error("input starts with a byte order mark at offset 0")]
    Bom,
    /// The input is not UTF-8.
    #[error("invalid utf-8 at offset {offset}")]
    InvalidUtf8 {
        /// Offset of the first bad byte.
        offset: usize,
    },
    /// Not JSON.
    #[error("syntax error at offset {offset}: expected {expected}")]
    Syntax {
        /// Offset.
        offset: usize,
        /// What the grammar wanted.
        expected: &'static str,
    },
    /// The input ends early.
    #[error("unexpected end of input at offset {offset}")]
    Eof {
        /// Offset (the input length).
        offset: usize,
    },
    /// Bytes after the record's closing brace.
    #[error("trailing characters at offset {offset}")]
    Trailing {
        /// Offset of the first one.
        offset: usize,
    },
    /// A number with a fraction or an exponent.
    #[error("float at offset {offset}: numbers must be integers")]
    Float {
        /// Offset.
        offset: usize,
    },
    /// `-0`, which the format counts as a float.
    #[error("-0 at offset {offset}: negative zero is a float")]
    NegativeZero {
        /// Offset.
        offset: usize,
    },
    /// An integer outside its field's range (`attrs`: `i64::MIN..=u64::MAX`).
    #[error("integer out of range at offset {offset} ({field})")]
    IntegerOutOfRange {
        /// Offset.
        offset: usize,
        /// Where: a field name or `attrs`.
        field: &'static str,
    },
    /// A raw control character inside a string.
    #[error("unescaped control character in a string at offset {offset}")]
    ControlInString {
        /// Offset.
        offset: usize,
    },
    /// An escape JSON does not have.
    #[error("invalid escape at offset {offset}")]
    BadEscape {
        /// Offset.
        offset: usize,
    },
    /// A `\u` escape of an unpaired UTF-16 surrogate.
    #[error("lone surrogate escape at offset {offset}")]
    LoneSurrogate {
        /// Offset.
        offset: usize,
    },
    /// A key appears twice in one object.
    #[error("duplicate key {key:?} in {path} at offset {offset}")]
    DuplicateKey {
        /// The key.
        key: String,
        /// The object's path.
        path: String,
        /// Offset of the second occurrence.
        offset: usize,
    },
    /// Two different keys of one object are equal after NFC.
    #[error("key {key:?} in {path} at offset {offset} equals an earlier key after NFC")]
    KeysEqualAfterNfc {
        /// The key (normalized).
        key: String,
        /// The object's path.
        path: String,
        /// Offset of the second key.
        offset: usize,
    },
    /// A key the format does not have.
    #[error("unknown field {key:?} in {path} at offset {offset}")]
    UnknownField {
        /// The key.
        key: String,
        /// `record`, `actor` or `subject`.
        path: &'static str,
        /// Offset.
        offset: usize,
    },
    /// A required field is absent.
    #[error("missing field {field}")]
    MissingField {
        /// The field.
        field: Field,
    },
    /// A value of the wrong JSON type.
    #[error("{field} at offset {offset} must be {expected}")]
    WrongType {
        /// Where.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
        /// Offset.
        offset: usize,
    },
    /// `attrs` nests containers more than 8 deep.
    #[error("attrs nests containers more than 8 deep at offset {offset}")]
    TooDeep {
        /// Offset of the first container past the bound.
        offset: usize,
    },
    /// `prev` or `self_hash` is not a hash string.
    #[error("{field} at offset {offset}: {source}")]
    BadHash {
        /// The field.
        field: Field,
        /// Offset.
        offset: usize,
        /// Why.
        source: HashParseError,
    },
    /// A field breaks its rule.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The record is over a size limit.
    #[error(transparent)]
    Bounds(#[from] BoundsError),
}

impl ParseError {
    /// A stable, machine-readable name of the error class (used by vectors
    /// and `--json` output).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InputTooLarge { .. } => "input_too_large",
            Self::Bom => "bom",
            Self::InvalidUtf8 { .. } => "invalid_utf8",
            Self::Syntax { .. } => "syntax",
            Self::Eof { .. } => "eof",
            Self::Trailing { .. } => "trailing",
            Self::Float { .. } => "float",
            Self::NegativeZero { .. } => "negative_zero",
            Self::IntegerOutOfRange { .. } => "integer_out_of_range",
            Self::ControlInString { .. } => "control_in_string",
            Self::BadEscape { .. } => "bad_escape",
            Self::LoneSurrogate { .. } => "lone_surrogate",
            Self::DuplicateKey { .. } => "duplicate_key",
            Self::KeysEqualAfterNfc { .. } => "keys_equal_after_nfc",
            Self::UnknownField { .. } => "unknown_field",
            Self::MissingField { .. } => "missing_field",
            Self::WrongType { .. } => "wrong_type",
            Self::TooDeep { .. } => "too_deep",
            Self::BadHash { .. } => "bad_hash",
            Self::Record(e) => e.code(),
            Self::Bounds(e) => e.code(),
        }
    }

    fn lex(e: LexError, field: &'static str) -> Self {
        match e {
            LexError::Syntax { offset, expected } => Self::Syntax { offset, expected },
            LexError::Eof { offset } => Self::Eof { offset },
            LexError::Float { offset } => Self::Float { offset },
            LexError::NegativeZero { offset } => Self::NegativeZero { offset },
            LexError::OutOfRange { offset } => Self::IntegerOutOfRange { offset, field },
            LexError::ControlInString { offset } => Self::ControlInString { offset },
            LexError::BadEscape { offset } => Self::BadEscape { offset },
            LexError::LoneSurrogate { offset } => Self::LoneSurrogate { offset },
            LexError::InvalidUtf8 { offset } => Self::InvalidUtf8 { offset },
        }
    }
}

/// UTF-8 text of `input`, after the checks every reader of records makes.
pub(crate) fn check_text(input: &[u8]) -> Result<&str, ParseError> {
    if input.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Err(ParseError::Bom);
    }
    std::str::from_utf8(input).map_err(|e| ParseError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })
}

/// Parses one record from JSON text: any key order, any JSON whitespace, an
/// optional `self_hash`. Strings are normalized to NFC; the record is
/// validated and canonicalized under `limits`.
///
/// Rejected, each with its own error: duplicate keys (also keys equal after
/// NFC), floats and `-0` anywhere, integers out of range, `attrs` deeper than
/// 8, invalid UTF-8, lone surrogate escapes, a leading byte order mark,
/// unknown fields at every level, and every field rule of FORMAT-v1.md.
pub fn parse_record(input: &[u8], limits: &Limits) -> Result<ParsedRecord, ParseError> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(ParseError::InputTooLarge {
            len: input.len(),
            max: MAX_INPUT_BYTES,
        });
    }
    let text = check_text(input)?;
    let mut p = Parser {
        lx: Lexer::new(text.as_bytes()),
    };
    let (record, claimed) = p.record()?;
    let mut canonical = Vec::with_capacity(input.len());
    record.canonical_bytes(limits, &mut canonical)?;
    let self_hash = Digest::of(&canonical);
    Ok(ParsedRecord {
        record,
        canonical,
        self_hash,
        claimed_self_hash: claimed,
    })
}

struct Parser<'a> {
    lx: Lexer<'a>,
}

type Res<T> = Result<T, ParseError>;

impl<'a> Parser<'a> {
    fn lex<T>(&self, r: Result<T, LexError>, field: &'static str) -> Res<T> {
        r.map_err(|e| ParseError::lex(e, field))
    }

    /// Iterates the members of an object: calls `member(key, key_offset)`
    /// with the lexer positioned at the value.
    fn object(&mut self, mut member: impl FnMut(&mut Self, Cow<'a, str>, usize) -> Res<()>) -> Res<()> {
        let r = self.lx.expect(b'{', "an object");
        self.lex(r, "")?;
        self.lx.ws();
        if self.lx.eat(b'}') {
            return Ok(());
        }
        loop {
            self.lx.ws();
            let key_at = self.lx.pos();
            let r = self.lx.string();
            let key = self.lex(r, "")?.value;
            self.lx.ws();
            let r = self.lx.expect(b':', "':'");
            self.lex(r, "")?;
            self.lx.ws();
            member(self, key, key_at)?;
            self.lx.ws();
            if self.lx.eat(b',') {
                continue;
            }
            let r = self.lx.expect(b'}', "',' or '}'");
            return self.lex(r, "");
        }
    }

    fn record(&mut self) -> Res<(AuditRecord, Option<Digest>)> {
        self.lx.ws();
        let mut seen = [false; Field::ALL.len()];
        let mut v = None;
        let mut ts_ms = None;
        let mut writer_id = None;
        let mut seq = None;
        let mut stream = None;
        let mut kind = None;
        let mut actor = None;
        let mut subject = None;
        let mut reason = None;
        let mut attrs = None;
        let mut prev: Option<(PrevHash, usize)> = None;
        let mut self_hash = None;
        self.object(|p, key, key_at| {
            let Some(idx) = Field::ALL.iter().position(|f| f.name() == key) else {
                return Err(ParseError::UnknownField {
                    key: key.into_owned(),
                    path: "record",
                    offset: key_at,
                });
            };
            if let Some(slot) = seen.get_mut(idx) {
                if *slot {
                    return Err(ParseError::DuplicateKey {
                        key: key.into_owned(),
                        path: "record".into(),
                        offset: key_at,
                    });
                }
                *slot = true;
            }
            match Field::ALL.get(idx).copied().unwrap_or(Field::V) {
                Field::V => v = Some(p.u64_field("v")?),
                Field::TsMs => ts_ms = Some(p.u64_field("ts_ms")?),
                Field::WriterId => writer_id = Some(p.string_field("writer_id")?),
                Field::Seq => seq = Some(p.u64_field("seq")?),
                Field::Stream => stream = Some(p.string_field("stream")?),
                Field::Kind => kind = Some(p.string_field("kind")?),
                Field::Actor => actor = Some(p.actor()?),
                Field::Subject => subject = Some(p.subject()?),
                Field::Reason => reason = Some(p.string_field("reason")?),
                Field::Attrs => {
                    if p.lx.peek() != Ok(Peeked::Object) {
                        return Err(p.wrong_type("attrs", "an object"));
                    }
                    attrs = Some(p.attrs_object(1, "attrs")?);
                }
                Field::Prev => {
                    let at = p.lx.pos();
                    let s = p.string_field("prev")?;
                    let h = PrevHash::parse(&s).map_err(|source| ParseError::BadHash {
                        field: Field::Prev,
                        offset: at,
                        source,
                    })?;
                    prev = Some((h, at));
                }
                Field::SelfHash => {
                    let at = p.lx.pos();
                    let s = p.string_field("self_hash")?;
                    self_hash = Some(Digest::parse(&s).map_err(|source| ParseError::BadHash {
                        field: Field::SelfHash,
                        offset: at,
                        source,
                    })?);
                }
            }
            Ok(())
        })?;
        self.lx.ws();
        if !self.lx.at_end() {
            return Err(ParseError::Trailing {
                offset: self.lx.pos(),
            });
        }
        let need = |f: Field| ParseError::MissingField { field: f };
        let rec = AuditRecord {
            v: v.ok_or(need(Field::V))?,
            ts_ms: ts_ms.ok_or(need(Field::TsMs))?,
            writer_id: writer_id.ok_or(need(Field::WriterId))?,
            seq: seq.ok_or(need(Field::Seq))?,
            stream: stream.ok_or(need(Field::Stream))?,
            kind: kind.ok_or(need(Field::Kind))?,
            actor: actor.ok_or(need(Field::Actor))?,
            subject: subject.ok_or(need(Field::Subject))?,
            reason: reason.ok_or(need(Field::Reason))?,
            attrs: attrs.ok_or(need(Field::Attrs))?,
            prev: prev.ok_or(need(Field::Prev))?.0,
            render: None,
        };
        record::validate(&rec)?;
        Ok((rec, self_hash))
    }

    fn wrong_type(&self, field: &'static str, expected: &'static str) -> ParseError {
        ParseError::WrongType {
            field,
            expected,
            offset: self.lx.pos(),
        }
    }

    fn u64_field(&mut self, field: &'static str) -> Res<u64> {
        if self.lx.peek() != Ok(Peeked::Number) {
            return Err(self.wrong_type(field, "an integer"));
        }
        let at = self.lx.pos();
        let r = self.lx.integer();
        let i = self.lex(r, field)?;
        u64::try_from(i.get()).map_err(|_| ParseError::IntegerOutOfRange { offset: at, field })
    }

    fn string_field(&mut self, field: &'static str) -> Res<String> {
        if self.lx.peek() != Ok(Peeked::String) {
            return Err(self.wrong_type(field, "a string"));
        }
        let r = self.lx.string();
        let s = self.lex(r, field)?.value;
        Ok(nfc(s.into_owned()))
    }

    fn bool_field(&mut self, field: &'static str) -> Res<bool> {
        match self.lx.peek() {
            Ok(p @ (Peeked::True | Peeked::False)) => {
                let r = self.lx.literal(p);
                self.lex(r, field)?;
                Ok(p == Peeked::True)
            }
            _ => Err(self.wrong_type(field, "true or false")),
        }
    }

    fn actor(&mut self) -> Res<ActorRef> {
        if self.lx.peek() != Ok(Peeked::Object) {
            return Err(self.wrong_type("actor", "an object"));
        }
        let mut a = ActorRef::default();
        let mut seen = [false; 4];
        self.object(|p, key, at| {
            let idx = match &*key {
                "anon" => 0,
                "cap_id" => 1,
                "key_fpr" => 2,
                "passport_id" => 3,
                _ => {
                    return Err(ParseError::UnknownField {
                        key: key.into_owned(),
                        path: "actor",
                        offset: at,
                    });
                }
            };
            mark_seen(&mut seen, idx, &key, "actor", at)?;
            match idx {
                0 => a.anon = Some(p.bool_field("actor.anon")?),
                1 => a.cap_id = Some(p.string_field("actor.cap_id")?),
                2 => a.key_fpr = Some(p.string_field("actor.key_fpr")?),
                _ => a.passport_id = Some(p.string_field("actor.passport_id")?),
            }
            Ok(())
        })?;
        Ok(a)
    }

    fn subject(&mut self) -> Res<SubjectRef> {
        if self.lx.peek() != Ok(Peeked::Object) {
            return Err(self.wrong_type("subject", "an object"));
        }
        let mut s = SubjectRef::default();
        let mut seen = [false; 3];
        self.object(|p, key, at| {
            let idx = match &*key {
                "content_id" => 0,
                "ledger_txid" => 1,
                "name" => 2,
                _ => {
                    return Err(ParseError::UnknownField {
                        key: key.into_owned(),
                        path: "subject",
                        offset: at,
                    });
                }
            };
            mark_seen(&mut seen, idx, &key, "subject", at)?;
            match idx {
                0 => s.content_id = Some(p.string_field("subject.content_id")?),
                1 => s.ledger_txid = Some(p.string_field("subject.ledger_txid")?),
                _ => s.name = Some(p.string_field("subject.name")?),
            }
            Ok(())
        })?;
        Ok(s)
    }

    /// An `attrs` object at nesting `depth` (`attrs` itself is 1).
    fn attrs_object(&mut self, depth: usize, path: &str) -> Res<BTreeMap<String, AttrValue>> {
        if depth > MAX_DEPTH {
            return Err(ParseError::TooDeep {
                offset: self.lx.pos(),
            });
        }
        let mut map = BTreeMap::new();
        // Raw keys seen, to tell a duplicate from an NFC collision.
        let mut raw_keys: Vec<String> = Vec::new();
        self.object(|p, key, at| {
            let normalized = nfc_cow(key.clone()).into_owned();
            if map.contains_key(&normalized) {
                let dup = raw_keys.iter().any(|k| *k == *key);
                return Err(if dup {
                    ParseError::DuplicateKey {
                        key: key.into_owned(),
                        path: path.to_owned(),
                        offset: at,
                    }
                } else {
                    ParseError::KeysEqualAfterNfc {
                        key: normalized,
                        path: path.to_owned(),
                        offset: at,
                    }
                });
            }
            let child_path = format!("{path}.{normalized}");
            let v = p.attr_value(depth, &child_path)?;
            raw_keys.push(key.into_owned());
            map.insert(normalized, v);
            Ok(())
        })?;
        Ok(map)
    }

    /// A value inside an `attrs` container at nesting `depth`.
    fn attr_value(&mut self, depth: usize, path: &str) -> Res<AttrValue> {
        let r = self.lx.peek();
        Ok(match self.lex(r, "attrs")? {
            Peeked::Object => AttrValue::Object(self.attrs_object(depth + 1, path)?),
            Peeked::Array => {
                if depth + 1 > MAX_DEPTH {
                    return Err(ParseError::TooDeep {
                        offset: self.lx.pos(),
                    });
                }
                self.lx.eat(b'[');
                self.lx.ws();
                let mut out = Vec::new();
                if !self.lx.eat(b']') {
                    loop {
                        self.lx.ws();
                        out.push(self.attr_value(depth + 1, path)?);
                        self.lx.ws();
                        if self.lx.eat(b',') {
                            continue;
                        }
                        let r = self.lx.expect(b']', "',' or ']'");
                        self.lex(r, "attrs")?;
                        break;
                    }
                }
                AttrValue::Array(out)
            }
            Peeked::String => {
                let r = self.lx.string();
                AttrValue::String(nfc(self.lex(r, "attrs")?.value.into_owned()))
            }
            Peeked::Number => {
                let r = self.lx.integer();
                AttrValue::Integer(self.lex(r, "attrs")?)
            }
            p @ (Peeked::True | Peeked::False) => {
                let r = self.lx.literal(p);
                self.lex(r, "attrs")?;
                AttrValue::Bool(p == Peeked::True)
            }
            Peeked::Null => {
                let r = self.lx.literal(Peeked::Null);
                self.lex(r, "attrs")?;
                AttrValue::Null
            }
        })
    }
}

fn mark_seen(seen: &mut [bool], idx: usize, key: &str, path: &str, at: usize) -> Res<()> {
    match seen.get_mut(idx) {
        Some(true) => Err(ParseError::DuplicateKey {
            key: key.to_owned(),
            path: path.to_owned(),
            offset: at,
        }),
        Some(slot) => {
            *slot = true;
            Ok(())
        }
        None => Ok(()),
    }
}

impl serde::Serialize for AuditRecord {
    /// Serializes the record's fields in canonical order, without
    /// `self_hash`; `serde_json`'s compact writer then emits exactly the
    /// canonical bytes.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("AuditRecord", 11)?;
        st.serialize_field("v", &self.v)?;
        st.serialize_field("ts_ms", &self.ts_ms)?;
        st.serialize_field("writer_id", &self.writer_id)?;
        st.serialize_field("seq", &self.seq)?;
        st.serialize_field("stream", &self.stream)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("actor", &self.actor)?;
        st.serialize_field("subject", &self.subject)?;
        st.serialize_field("reason", &self.reason)?;
        st.serialize_field("attrs", &AttrsSer(&self.attrs))?;
        st.serialize_field("prev", &self.prev)?;
        st.end()
    }
}

struct AttrsSer<'a>(&'a BTreeMap<String, AttrValue>);

impl serde::Serialize for AttrsSer<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter())
    }
}

impl serde::Serialize for AttrValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AttrValue::Null => s.serialize_unit(),
            AttrValue::Bool(b) => s.serialize_bool(*b),
            AttrValue::Integer(i) => s.serialize_i128(i.get()),
            AttrValue::String(x) => s.serialize_str(x),
            AttrValue::Array(a) => s.collect_seq(a.iter()),
            AttrValue::Object(m) => s.collect_map(m.iter()),
        }
    }
}

impl<'de> serde::Deserialize<'de> for AuditRecord {
    /// Deserializes through the strict parser (JSON only): the record's text
    /// is captured raw and handed to [`parse_record`] with default limits, so
    /// serde never merges duplicate keys or accepts floats. A `self_hash`
    /// present in the input must match.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <Box<serde_json::value::RawValue>>::deserialize(d)?;
        let parsed =
            parse_record(raw.get().as_bytes(), &Limits::default()).map_err(serde::de::Error::custom)?;
        parsed.check_claimed().map_err(serde::de::Error::custom)?;
        Ok(parsed.record)
    }
}
