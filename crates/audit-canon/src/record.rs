//! The typed audit record, its builder, and the errors of building one.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use crate::canon::{
    Render, write_fields_to_attrs, write_fields_to_seq, write_object, write_str, write_value,
};
use crate::digest::PrevHash;
use crate::limits::MAX_DEPTH;
use crate::rules;
use crate::value::AttrValue;

/// Who acted: every key optional; an absent key is omitted, never `null`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorRef {
    /// The actor is anonymous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anon: Option<bool>,
    /// Capability identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap_id: Option<String>,
    /// Key fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_fpr: Option<String>,
    /// Passport identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passport_id: Option<String>,
}

/// What was acted upon: every key optional; an absent key is omitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectRef {
    /// Content address, e.g. `"b3:…"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
    /// Ledger transaction id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_txid: Option<String>,
    /// A name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One audit record (FORMAT-v1.md section 1), without its `self_hash`.
///
/// A value of this type always satisfies every field rule and holds only
/// NFC strings: it is made by [`RecordBuilder::build`] or by
/// [`crate::parse_record`], which both validate and normalize. Its fields are
/// read through accessors so no one can break that afterwards. Size bounds
/// depend on the host's [`crate::Limits`] and are checked when the record is
/// canonicalized.
#[derive(Clone)]
pub struct AuditRecord {
    pub(crate) v: u64,
    pub(crate) ts_ms: u64,
    pub(crate) writer_id: String,
    pub(crate) seq: u64,
    pub(crate) stream: String,
    pub(crate) kind: String,
    pub(crate) actor: ActorRef,
    pub(crate) subject: SubjectRef,
    pub(crate) reason: String,
    pub(crate) attrs: BTreeMap<String, AttrValue>,
    pub(crate) prev: PrevHash,
    /// The canonical bytes of the fields above but `seq` and `prev`, when
    /// the builder wrote them; not part of the record's value.
    pub(crate) render: Option<Render>,
}

impl PartialEq for AuditRecord {
    fn eq(&self, o: &Self) -> bool {
        // `render` is a cache of the other fields: it takes no part.
        self.v == o.v
            && self.ts_ms == o.ts_ms
            && self.writer_id == o.writer_id
            && self.seq == o.seq
            && self.stream == o.stream
            && self.kind == o.kind
            && self.actor == o.actor
            && self.subject == o.subject
            && self.reason == o.reason
            && self.attrs == o.attrs
            && self.prev == o.prev
    }
}

impl Eq for AuditRecord {}

impl fmt::Debug for AuditRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditRecord")
            .field("v", &self.v)
            .field("ts_ms", &self.ts_ms)
            .field("writer_id", &self.writer_id)
            .field("seq", &self.seq)
            .field("stream", &self.stream)
            .field("kind", &self.kind)
            .field("actor", &self.actor)
            .field("subject", &self.subject)
            .field("reason", &self.reason)
            .field("attrs", &self.attrs)
            .field("prev", &self.prev)
            .finish()
    }
}

impl AuditRecord {
    /// A builder; `v` defaults to 1, `prev` to genesis, the rest are required
    /// except `actor`, `subject` and `attrs` (empty by default).
    #[inline]
    pub fn builder() -> RecordBuilder {
        RecordBuilder::default()
    }

    /// Schema major, always 1 in this version.
    pub fn v(&self) -> u64 {
        self.v
    }
    /// Advisory wall-clock milliseconds.
    pub fn ts_ms(&self) -> u64 {
        self.ts_ms
    }
    /// The writer's stable identity.
    pub fn writer_id(&self) -> &str {
        &self.writer_id
    }
    /// Position in the `(writer_id, stream)` chain, from 1.
    pub fn seq(&self) -> u64 {
        self.seq
    }
    /// The logical stream.
    pub fn stream(&self) -> &str {
        &self.stream
    }
    /// The event kind.
    pub fn kind(&self) -> &str {
        &self.kind
    }
    /// Who acted.
    pub fn actor(&self) -> &ActorRef {
        &self.actor
    }
    /// What was acted upon.
    pub fn subject(&self) -> &SubjectRef {
        &self.subject
    }
    /// The reason code.
    pub fn reason(&self) -> &str {
        &self.reason
    }
    /// Free-form attributes.
    pub fn attrs(&self) -> &BTreeMap<String, AttrValue> {
        &self.attrs
    }
    /// Link to the predecessor.
    pub fn prev(&self) -> &PrevHash {
        &self.prev
    }

    /// This record at another chain position: `seq` and `prev` replaced,
    /// every other field kept (they are already valid and NFC). Fails only
    /// when the pair breaks the `seq`/`prev` rule.
    #[inline]
    pub fn with_position(mut self, seq: u64, prev: PrevHash) -> Result<Self, RecordError> {
        rules::seq_and_prev(seq, prev.is_genesis())?;
        self.seq = seq;
        self.prev = prev;
        Ok(self)
    }

    /// A builder holding this record's fields, to derive a successor or a
    /// variant from it.
    pub fn to_builder(&self) -> RecordBuilder {
        RecordBuilder {
            v: self.v,
            ts_ms: Some(self.ts_ms),
            writer_id: Some(self.writer_id.clone()),
            seq: Some(self.seq),
            stream: Some(self.stream.clone()),
            kind: Some(self.kind.clone()),
            actor: self.actor.clone(),
            subject: self.subject.clone(),
            reason: Some(self.reason.clone()),
            attrs: self.attrs.clone(),
            prev: self.prev,
        }
    }
}

/// Builds an [`AuditRecord`], normalizing every string to NFC and checking
/// every field rule.
#[derive(Debug, Clone)]
pub struct RecordBuilder {
    v: u64,
    ts_ms: Option<u64>,
    writer_id: Option<String>,
    seq: Option<u64>,
    stream: Option<String>,
    kind: Option<String>,
    actor: ActorRef,
    subject: SubjectRef,
    reason: Option<String>,
    attrs: BTreeMap<String, AttrValue>,
    prev: PrevHash,
}

impl Default for RecordBuilder {
    fn default() -> Self {
        Self {
            v: 1,
            ts_ms: None,
            writer_id: None,
            seq: None,
            stream: None,
            kind: None,
            actor: ActorRef::default(),
            subject: SubjectRef::default(),
            reason: None,
            attrs: BTreeMap::new(),
            prev: PrevHash::Genesis,
        }
    }
}

impl RecordBuilder {
    /// Schema major (only 1 is valid).
    #[inline]
    pub fn v(mut self, v: u64) -> Self {
        self.v = v;
        self
    }
    /// Wall-clock milliseconds.
    #[inline]
    pub fn ts_ms(mut self, ts_ms: u64) -> Self {
        self.ts_ms = Some(ts_ms);
        self
    }
    /// Writer identity.
    #[inline]
    pub fn writer_id(mut self, s: impl Into<String>) -> Self {
        self.writer_id = Some(s.into());
        self
    }
    /// Chain position.
    #[inline]
    pub fn seq(mut self, seq: u64) -> Self {
        self.seq = Some(seq);
        self
    }
    /// Stream name.
    #[inline]
    pub fn stream(mut self, s: impl Into<String>) -> Self {
        self.stream = Some(s.into());
        self
    }
    /// Event kind.
    #[inline]
    pub fn kind(mut self, s: impl Into<String>) -> Self {
        self.kind = Some(s.into());
        self
    }
    /// Actor.
    #[inline]
    pub fn actor(mut self, a: ActorRef) -> Self {
        self.actor = a;
        self
    }
    /// Subject.
    #[inline]
    pub fn subject(mut self, s: SubjectRef) -> Self {
        self.subject = s;
        self
    }
    /// Reason code.
    #[inline]
    pub fn reason(mut self, s: impl Into<String>) -> Self {
        self.reason = Some(s.into());
        self
    }
    /// Replaces all attributes.
    #[inline]
    pub fn attrs(mut self, attrs: BTreeMap<String, AttrValue>) -> Self {
        self.attrs = attrs;
        self
    }
    /// Sets one attribute.
    #[inline]
    pub fn attr(mut self, key: impl Into<String>, value: impl Into<AttrValue>) -> Self {
        self.attrs.insert(key.into(), value.into());
        self
    }
    /// Link to the predecessor (`PrevHash::Genesis` for `seq` 1).
    #[inline]
    pub fn prev(mut self, prev: impl Into<PrevHash>) -> Self {
        self.prev = prev.into();
        self
    }

    /// Normalizes and validates. Size bounds are checked at canonicalization.
    pub fn build(self) -> Result<AuditRecord, RecordError> {
        self.build_inner(&mut |_: &mut Cow<'_, str>| Ok::<(), std::convert::Infallible>(()))
            .map_err(|e| match e {
                BuildError::Record(e) => e,
                BuildError::Visit { error, .. } => match error {},
            })
    }

    /// [`Self::build`] for a host that rewrites or refuses strings before
    /// they are kept, as a privacy scrubber does. `visit` is called once on
    /// `subject.name`, on every key of `attrs` and on every string value of
    /// `attrs`, at any depth, before the string is normalized to NFC,
    /// inside the builder's one walk over `attrs`. A key comes borrowed: the
    /// visitor rewrites it by making it owned, and only then is the object
    /// rebuilt (two keys rewritten alike are
    /// [`RecordError::KeysEqualAfterVisit`]). Its error stops the build and
    /// comes back with the path of the string (`subject.name`, `attrs/ip`,
    /// `attrs/tags/0`; a key's is its object's path and `(key)`, since the
    /// key itself may be what is refused).
    ///
    /// ```
    /// use std::borrow::Cow;
    ///
    /// use audit_canon::{AuditRecord, BuildError};
    ///
    /// let built = AuditRecord::builder()
    ///     .ts_ms(1).writer_id("svc@a").seq(1).stream("s").kind("K").reason("r")
    ///     .attr("mail", "ann@example.org")
    ///     .build_visiting(|s: &mut Cow<'_, str>| {
    ///         if s.contains('@') { Err("an email") } else { Ok(()) }
    ///     });
    /// assert!(matches!(
    ///     built,
    ///     Err(BuildError::Visit { ref field, error: "an email" }) if field == "attrs/mail"
    /// ));
    /// ```
    pub fn build_visiting<E>(
        self,
        mut visit: impl FnMut(&mut Cow<'_, str>) -> Result<(), E>,
    ) -> Result<AuditRecord, BuildError<E>> {
        self.build_inner(&mut visit)
    }

    /// Normalizes, checks and writes the canonical bytes of every field but
    /// `seq` and `prev` in one walk; `visit` sees `subject.name` and every
    /// key and string value in `attrs` before it is normalized.
    fn build_inner<E>(
        self,
        visit: &mut dyn FnMut(&mut Cow<'_, str>) -> Result<(), E>,
    ) -> Result<AuditRecord, BuildError<E>> {
        let missing = |field| BuildError::Record(RecordError::Missing { field });
        let mut actor = self.actor;
        let mut subject = self.subject;
        if let Some(name) = &mut subject.name {
            visit_owned(name, visit).map_err(|error| BuildError::Visit {
                field: "subject.name".to_owned(),
                error,
            })?;
        }
        for s in [&mut actor.cap_id, &mut actor.key_fpr, &mut actor.passport_id]
            .into_iter()
            .chain([
                &mut subject.content_id,
                &mut subject.ledger_txid,
                &mut subject.name,
            ])
            .flatten()
        {
            nfc_in_place(s);
        }
        let ts_ms = self.ts_ms.ok_or(missing(Field::TsMs))?;
        let writer_id = nfc(self.writer_id.ok_or(missing(Field::WriterId))?);
        let seq = self.seq.ok_or(missing(Field::Seq))?;
        let stream = self.stream.ok_or(missing(Field::Stream))?;
        let kind = self.kind.ok_or(missing(Field::Kind))?;
        let reason = self.reason.ok_or(missing(Field::Reason))?;
        let mut attrs = self.attrs;
        let mut bytes = Vec::with_capacity(1024);
        write_fields_to_seq(self.v, ts_ms, &writer_id, &mut bytes);
        let seq_at = bytes.len();
        write_fields_to_attrs(&stream, &kind, &actor, &subject, &reason, &mut bytes);
        let attrs_start = bytes.len();
        let rendered = normalize_map(&mut attrs, 1, visit, &mut bytes, true).map_err(Located::into_error)?;
        if !rendered {
            // A key was normalized, which can reorder the map: write it again.
            bytes.truncate(attrs_start);
            write_object(&attrs, &mut bytes);
        }
        let attrs_len = bytes.len() - attrs_start;
        bytes.extend_from_slice(b",\"prev\":\"");
        let rec = AuditRecord {
            v: self.v,
            ts_ms,
            writer_id,
            seq,
            stream,
            kind,
            actor,
            subject,
            reason,
            attrs,
            prev: self.prev,
            render: Some(Render {
                bytes,
                seq_at,
                attrs_len,
            }),
        };
        validate(&rec).map_err(BuildError::Record)?;
        Ok(rec)
    }
}

/// Why [`RecordBuilder::build_visiting`] failed. Exhaustive on purpose,
/// unlike the other error enums: a build fails by a field rule (whose
/// [`RecordError`] can grow) or by the caller's own visitor, and callers
/// match both.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError<E> {
    /// A field breaks its rule.
    #[error(transparent)]
    Record(RecordError),
    /// The visitor refused the string at `field`.
    #[error("{field}: {error}")]
    Visit {
        /// Where the string is: `subject.name` or an `attrs/...` path.
        field: String,
        /// The visitor's error.
        error: E,
    },
}

/// Field rules of a record whose strings are already NFC.
pub(crate) fn validate(rec: &AuditRecord) -> Result<(), RecordError> {
    rules::version(rec.v)?;
    rules::writer_id(rec.writer_id.as_bytes())?;
    rules::stream(rec.stream.as_bytes())?;
    rules::kind(rec.kind.as_bytes())?;
    rules::reason(rec.reason.as_bytes())?;
    rules::seq_and_prev(rec.seq, rec.prev.is_genesis())
}

/// NFC of `s`, reusing it when it is already NFC (the common case).
pub(crate) fn nfc(s: String) -> String {
    if is_nfc_fast(&s) { s } else { s.nfc().collect() }
}

fn nfc_in_place(s: &mut String) {
    if !is_nfc_fast(s) {
        *s = s.nfc().collect();
    }
}

/// NFC of a borrowed-or-owned string, borrowing when already NFC.
pub(crate) fn nfc_cow(s: Cow<'_, str>) -> Cow<'_, str> {
    if is_nfc_fast(&s) {
        s
    } else {
        Cow::Owned(s.nfc().collect())
    }
}

/// ASCII is always NFC; otherwise the quick check, then the full one.
pub(crate) fn is_nfc_fast(s: &str) -> bool {
    if s.is_ascii() {
        return true;
    }
    match is_nfc_quick(s.chars()) {
        IsNormalized::Yes => true,
        IsNormalized::No => false,
        IsNormalized::Maybe => unicode_normalization::is_nfc(s),
    }
}

/// Where normalization failed, built up only while an error unwinds, so
/// the success path keeps no path at all.
struct Located<E> {
    /// Path segments, innermost first.
    rev_path: Vec<String>,
    why: Why<E>,
}

enum Why<E> {
    /// Nested too deep.
    Deep,
    /// Two keys equal after NFC (`true`: what one of them was rewritten
    /// to by the visitor).
    Collision(String, bool),
    /// The visitor refused a string.
    Visit(E),
}

impl<E> Located<E> {
    fn at(why: Why<E>) -> Self {
        Self {
            rev_path: Vec::new(),
            why,
        }
    }

    fn under(mut self, segment: String) -> Self {
        self.rev_path.push(segment);
        self
    }

    fn into_error(self) -> BuildError<E> {
        let mut path = String::from("attrs");
        for seg in self.rev_path.iter().rev() {
            path.push('/');
            path.push_str(seg);
        }
        match self.why {
            Why::Collision(key, false) => BuildError::Record(RecordError::KeysEqualAfterNfc { path, key }),
            Why::Collision(key, true) => BuildError::Record(RecordError::KeysEqualAfterVisit { path, key }),
            Why::Deep => BuildError::Record(RecordError::AttrsTooDeep { path }),
            Why::Visit(error) => BuildError::Visit { field: path, error },
        }
    }
}

/// Normalizes the object `map` in place (keys and strings to NFC, strings
/// visited first), checks nesting and NFC collisions, and while `render`
/// holds appends its canonical bytes to `out`, all in one walk. Returns
/// whether `out` holds them: not when a key had to be normalized, since
/// that can reorder the map. Already-NFC data is only read.
fn normalize_map<E>(
    map: &mut BTreeMap<String, AttrValue>,
    depth: usize,
    visit: &mut dyn FnMut(&mut Cow<'_, str>) -> Result<(), E>,
    out: &mut Vec<u8>,
    mut render: bool,
) -> Result<bool, Located<E>> {
    if depth > MAX_DEPTH {
        return Err(Located::at(Why::Deep));
    }
    let mut keys_nfc = true;
    // Keys the visitor rewrote, by their place in the map (rarely any).
    let mut rewritten: Vec<(usize, String)> = Vec::new();
    if render {
        out.push(b'{');
    }
    for (i, (k, v)) in map.iter_mut().enumerate() {
        let mut key = Cow::Borrowed(k.as_str());
        visit(&mut key).map_err(|e| Located::at(Why::Visit(e)).under("(key)".to_owned()))?;
        if let Cow::Owned(new) = key {
            rewritten.push((i, new));
            keys_nfc = false;
            render = false;
        }
        if keys_nfc && !is_nfc_fast(k) {
            keys_nfc = false;
            render = false;
        }
        if render {
            if i > 0 {
                out.push(b',');
            }
            write_str(k, out);
            out.push(b':');
        }
        // A refusal below names the key as it will be kept.
        let shown = match rewritten.last() {
            Some((at, new)) if *at == i => new,
            _ => k,
        };
        render = normalize_value(v, depth, visit, out, render).map_err(|e| e.under(nfc(shown.clone())))?;
    }
    if render {
        out.push(b'}');
    }
    if !keys_nfc {
        // What the rewritten keys became: a collision on one of them is the
        // visitor's doing, not NFC's.
        let became: Vec<String> = rewritten.iter().map(|(_, new)| nfc(new.clone())).collect();
        let mut rewritten = rewritten.into_iter().peekable();
        for (i, (k, v)) in std::mem::take(map).into_iter().enumerate() {
            let k = match rewritten.next_if(|(at, _)| *at == i) {
                Some((_, new)) => nfc(new),
                None => nfc(k),
            };
            if map.contains_key(&k) {
                let visited = became.contains(&k);
                return Err(Located::at(Why::Collision(k, visited)));
            }
            map.insert(k, v);
        }
    }
    Ok(render)
}

/// Shows an owned string to `visit` (moved, not copied) and keeps what it
/// leaves.
fn visit_owned<E>(
    s: &mut String,
    visit: &mut dyn FnMut(&mut Cow<'_, str>) -> Result<(), E>,
) -> Result<(), E> {
    let mut c = Cow::Owned(std::mem::take(s));
    let r = visit(&mut c);
    *s = c.into_owned();
    r
}

/// [`normalize_map`] for one value.
fn normalize_value<E>(
    v: &mut AttrValue,
    depth: usize,
    visit: &mut dyn FnMut(&mut Cow<'_, str>) -> Result<(), E>,
    out: &mut Vec<u8>,
    mut render: bool,
) -> Result<bool, Located<E>> {
    match v {
        AttrValue::String(s) => {
            visit_owned(s, visit).map_err(|e| Located::at(Why::Visit(e)))?;
            nfc_in_place(s);
            if render {
                write_str(s, out);
            }
        }
        AttrValue::Object(m) => render = normalize_map(m, depth + 1, visit, out, render)?,
        AttrValue::Array(a) => {
            if depth + 1 > MAX_DEPTH {
                return Err(Located::at(Why::Deep));
            }
            if render {
                out.push(b'[');
            }
            for (i, x) in a.iter_mut().enumerate() {
                if render && i > 0 {
                    out.push(b',');
                }
                render =
                    normalize_value(x, depth + 1, visit, out, render).map_err(|e| e.under(i.to_string()))?;
            }
            if render {
                out.push(b']');
            }
        }
        other => {
            if render {
                write_value(other, out);
            }
        }
    }
    Ok(render)
}

/// A top-level field of the record, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// `v`
    V,
    /// `ts_ms`
    TsMs,
    /// `writer_id`
    WriterId,
    /// `seq`
    Seq,
    /// `stream`
    Stream,
    /// `kind`
    Kind,
    /// `actor`
    Actor,
    /// `subject`
    Subject,
    /// `reason`
    Reason,
    /// `attrs`
    Attrs,
    /// `prev`
    Prev,
    /// `self_hash`
    SelfHash,
}

impl Field {
    /// The JSON key.
    pub fn name(self) -> &'static str {
        match self {
            Self::V => "v",
            Self::TsMs => "ts_ms",
            Self::WriterId => "writer_id",
            Self::Seq => "seq",
            Self::Stream => "stream",
            Self::Kind => "kind",
            Self::Actor => "actor",
            Self::Subject => "subject",
            Self::Reason => "reason",
            Self::Attrs => "attrs",
            Self::Prev => "prev",
            Self::SelfHash => "self_hash",
        }
    }

    /// Every top-level field, in canonical order (`self_hash` last).
    pub const ALL: [Field; 12] = [
        Self::V,
        Self::TsMs,
        Self::WriterId,
        Self::Seq,
        Self::Stream,
        Self::Kind,
        Self::Actor,
        Self::Subject,
        Self::Reason,
        Self::Attrs,
        Self::Prev,
        Self::SelfHash,
    ];
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The rule a field broke.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// The string is empty.
    Empty,
    /// The string is longer than allowed (bytes after NFC).
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A control character (U+0000..U+001F, U+007F) at byte `at`.
    ControlCharacter {
        /// Byte offset in the value.
        at: usize,
        /// The character.
        ch: char,
    },
    /// The first character is not allowed.
    BadFirstCharacter {
        /// The character.
        ch: char,
    },
    /// A character outside the field's alphabet at byte `at`.
    BadCharacter {
        /// Byte offset in the value.
        at: usize,
        /// The character.
        ch: char,
    },
    /// `v` is not 1.
    UnsupportedVersion,
    /// `seq` is 0; chains start at 1.
    SeqZero,
    /// `seq` is 1 but `prev` is not `"b3:0"`.
    FirstNeedsGenesis,
    /// `prev` is `"b3:0"` but `seq` is not 1.
    GenesisOnlyFirst {
        /// The record's `seq`.
        seq: u64,
    },
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("must not be empty"),
            Self::TooLong { len, max } => write!(f, "is {len} bytes, more than {max}"),
            Self::ControlCharacter { at, ch } => {
                write!(f, "has control character {:?} at byte {at}", ch)
            }
            Self::BadFirstCharacter { ch } => write!(f, "may not start with {ch:?}"),
            Self::BadCharacter { at, ch } => write!(f, "may not contain {ch:?} (byte {at})"),
            Self::UnsupportedVersion => f.write_str("is not a supported schema major (want 1)"),
            Self::SeqZero => f.write_str("must be at least 1"),
            Self::FirstNeedsGenesis => f.write_str("must be \"b3:0\" when seq is 1"),
            Self::GenesisOnlyFirst { seq } => {
                write!(f, "is \"b3:0\" but seq is {seq}; only seq 1 links to genesis")
            }
        }
    }
}

/// Why a record could not be built: one field broke one rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// A field's value breaks its rule.
    #[error("{field} {rule} (value {value:?})")]
    Invalid {
        /// The field.
        field: Field,
        /// The rule it broke.
        rule: Rule,
        /// The offending value (truncated to 80 bytes).
        value: String,
    },
    /// A required field was not set.
    #[error("{field} is required")]
    Missing {
        /// The field.
        field: Field,
    },
    /// `attrs` nests containers more than 8 deep.
    #[error("{path} nests containers more than 8 deep")]
    AttrsTooDeep {
        /// Path of the first container past the bound.
        path: String,
    },
    /// Two keys of one `attrs` object are equal after NFC.
    #[error("{path} has two keys equal to {key:?} after NFC")]
    KeysEqualAfterNfc {
        /// Path of the object.
        path: String,
        /// The key both normalize to.
        key: String,
    },
    /// Two keys of one `attrs` object are equal once the visitor of
    /// [`RecordBuilder::build_visiting`] rewrote some of them (and NFC),
    /// e.g. two addresses that a privacy scrubber both turned into `[ip]`.
    #[error(
        "{path} has two keys equal to {key:?} once keys were rewritten (privacy scrubbing) and NFC-normalized"
    )]
    KeysEqualAfterVisit {
        /// Path of the object.
        path: String,
        /// The key both became.
        key: String,
    },
}

impl RecordError {
    pub(crate) fn invalid(field: Field, rule: Rule, value: &str) -> Self {
        let mut end = value.len().min(80);
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        Self::Invalid {
            field,
            rule,
            value: value.get(..end).unwrap_or_default().to_owned(),
        }
    }

    /// A stable, machine-readable name of the error class (used by vectors
    /// and `--json` output).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { rule, .. } => match rule {
                Rule::Empty => "empty",
                Rule::TooLong { .. } => "too_long",
                Rule::ControlCharacter { .. } => "control_character",
                Rule::BadFirstCharacter { .. } => "bad_first_character",
                Rule::BadCharacter { .. } => "bad_character",
                Rule::UnsupportedVersion => "unsupported_version",
                Rule::SeqZero => "seq_zero",
                Rule::FirstNeedsGenesis => "first_needs_genesis",
                Rule::GenesisOnlyFirst { .. } => "genesis_only_first",
            },
            Self::Missing { .. } => "missing_field",
            Self::AttrsTooDeep { .. } => "too_deep",
            Self::KeysEqualAfterNfc { .. } => "keys_equal_after_nfc",
            Self::KeysEqualAfterVisit { .. } => "keys_equal_after_visit",
        }
    }
}
