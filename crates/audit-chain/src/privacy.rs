//! Privacy at the source: IP addresses and common personal data or secrets
//! in `attrs` (string values and keys) and `subject.name` are replaced (or
//! the event is refused) as the record is built, so they never reach a
//! sink. `actor` ids, `kind`, `reason` and `stream` are identifiers the host
//! chooses and are kept as given. The
//! emitter scrubs each string inside the record builder's walk
//! (`RecordBuilder::build_visiting`); [`Privacy::scrub`] does the same to
//! a whole event on its own.
//!
//! Detection is a hand-written scanner, not regular expressions: it runs on
//! the emit hot path. A first pass over a string (two for some) works out
//! which detectors could match anywhere in it; most strings need none and
//! stop there. Otherwise the scanner tries only those detectors, only at
//! word boundaries whose byte one of them can start with.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use audit_canon::AttrValue;

use crate::EmitError;
use crate::event::Event;

/// What to keep of an IP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpMode {
    /// Replace it with `[ip]` (the default).
    Drop,
    /// Keep the /24 (IPv4) or /64 (IPv6) network, e.g. `203.0.113.0/24`.
    Prefix,
    /// Keep a salted BLAKE3 tag, `ip:` and 16 hex digits of
    /// `H(salt || address text)`: equal addresses stay linkable, not readable.
    Hash {
        /// The salt (read by the host from a 0600 file, see `AuditConfig`).
        salt: Vec<u8>,
    },
}

/// What to do with personal data or secrets other than IPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiiAction {
    /// Replace each with a marker naming its kind, e.g. `[email]` (default).
    Redact,
    /// Refuse the whole event with [`PrivacyError`].
    Reject,
}

/// The kinds the scrubber recognizes, and their markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PiiKind {
    /// An IPv4 or IPv6 address (handled by [`IpMode`]).
    Ip,
    /// `local@domain.tld`.
    Email,
    /// `+` and 8..=15 digits, or `ddd-ddd-dddd` with `-`, `.` or space.
    Phone,
    /// A Singapore NRIC/FIN: `[STFGM]`, 7 digits, a letter.
    Nric,
    /// A version-4 UUID.
    UuidV4,
    /// An AWS ARN, `arn:aws…:…`.
    AwsArn,
    /// A Google API key, `AIza` and 35 characters.
    GoogleApiKey,
    /// `Bearer <token>`.
    BearerToken,
}

impl std::fmt::Display for PiiKind {
    /// What the kind is, for messages: "an email address".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Ip => "an IP address",
            Self::Email => "an email address",
            Self::Phone => "a phone number",
            Self::Nric => "an NRIC/FIN",
            Self::UuidV4 => "a version-4 UUID",
            Self::AwsArn => "an AWS ARN",
            Self::GoogleApiKey => "a Google API key",
            Self::BearerToken => "a bearer token",
        })
    }
}

impl PiiKind {
    /// The marker that replaces a redacted value.
    pub fn marker(self) -> &'static str {
        match self {
            Self::Ip => "[ip]",
            Self::Email => "[email]",
            Self::Phone => "[phone]",
            Self::Nric => "[nric]",
            Self::UuidV4 => "[uuid]",
            Self::AwsArn => "[aws_arn]",
            Self::GoogleApiKey => "[google_api_key]",
            Self::BearerToken => "[bearer_token]",
        }
    }
}

/// An event refused because it carries personal data or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event refused: {field} holds what looks like {kind} (pii policy is reject)")]
pub struct PrivacyError {
    /// Where: `subject.name` or `attrs/<path>`.
    pub field: String,
    /// What was found.
    pub kind: PiiKind,
}

/// The privacy policy of an emitter. [`Privacy::default`] is on: IPs
/// dropped, other personal data redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Privacy {
    enabled: bool,
    ip_mode: IpMode,
    pii: PiiAction,
}

impl Default for Privacy {
    fn default() -> Self {
        Self {
            enabled: true,
            ip_mode: IpMode::Drop,
            pii: PiiAction::Redact,
        }
    }
}

impl Privacy {
    /// A policy with these modes.
    pub fn new(ip_mode: IpMode, pii: PiiAction) -> Self {
        Self {
            enabled: true,
            ip_mode,
            pii,
        }
    }

    /// No scrubbing at all: only for hosts whose events are known clean.
    pub fn off() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Scrubs `event` in place, as the emitter does while it builds the
    /// record: `subject.name`, and every key and string value of `attrs`.
    /// Returns how many values were replaced, or refuses the event with the
    /// error [`Emitter::emit`](crate::Emitter::emit) would give: under
    /// [`PiiAction::Reject`] ([`EmitError::Privacy`]; IPs are always handled
    /// by the IP mode, never refused), or when two keys of one object become
    /// the same once rewritten ([`EmitError::Invalid`] with
    /// `RecordError::KeysEqualAfterVisit`: keeping one would lose the other).
    pub fn scrub(&self, event: &mut Event) -> Result<u64, EmitError> {
        if !self.enabled {
            return Ok(0);
        }
        let mut n = 0;
        if let Some(name) = &mut event.subject.name {
            n += self.scrub_str(name, &mut || "subject.name".to_owned())?;
        }
        // The path names a refused value or an object whose keys collide.
        let mut path = String::from("attrs");
        n += self.scrub_map(&mut event.attrs, &mut path)?;
        Ok(n)
    }

    /// Each entry's key, then its value, in key order (the builder's walk);
    /// then the rewritten keys put in place.
    fn scrub_map(&self, map: &mut BTreeMap<String, AttrValue>, path: &mut String) -> Result<u64, EmitError> {
        let mut n = 0;
        // Keys rewritten, by their place in the map (rarely any).
        let mut rewritten: Vec<(usize, String)> = Vec::new();
        for (i, (k, v)) in map.iter_mut().enumerate() {
            let len = path.len();
            let new = match self.scrubbed(k) {
                Ok(None) => None,
                Ok(Some((new, count))) => {
                    n += count;
                    Some(new)
                }
                Err(kind) => {
                    return Err(EmitError::Privacy(PrivacyError {
                        field: format!("{path}/(key)"),
                        kind,
                    }));
                }
            };
            path.push('/');
            path.push_str(new.as_deref().unwrap_or(k));
            n += self.scrub_value(v, path)?;
            path.truncate(len);
            if let Some(new) = new {
                rewritten.push((i, new));
            }
        }
        if !rewritten.is_empty() {
            // Rebuilt in key order, as the record builder does, so a
            // collision is found where it finds it.
            let mut rewritten = rewritten.into_iter().peekable();
            for (i, (k, v)) in std::mem::take(map).into_iter().enumerate() {
                let k = match rewritten.next_if(|(at, _)| *at == i) {
                    Some((_, new)) => new,
                    None => k,
                };
                if map.contains_key(&k) {
                    return Err(EmitError::Invalid(
                        audit_canon::RecordError::KeysEqualAfterVisit {
                            path: path.clone(),
                            key: k,
                        },
                    ));
                }
                map.insert(k, v);
            }
        }
        Ok(n)
    }

    fn scrub_value(&self, v: &mut AttrValue, path: &mut String) -> Result<u64, EmitError> {
        match v {
            AttrValue::String(s) => self.scrub_str(s, &mut || path.clone()),
            AttrValue::Object(m) => self.scrub_map(m, path),
            AttrValue::Array(a) => {
                let mut n = 0;
                for (i, x) in a.iter_mut().enumerate() {
                    let len = path.len();
                    let _ = write!(path, "/{i}");
                    n += self.scrub_value(x, path)?;
                    path.truncate(len);
                }
                Ok(n)
            }
            _ => Ok(0),
        }
    }

    fn scrub_str(&self, s: &mut String, field: &mut dyn FnMut() -> String) -> Result<u64, EmitError> {
        match self.scrubbed(s) {
            Ok(None) => Ok(0),
            Ok(Some((new, n))) => {
                *s = new;
                Ok(n)
            }
            Err(kind) => Err(EmitError::Privacy(PrivacyError { field: field(), kind })),
        }
    }

    /// Scrubs one string the record builder shows (a key comes borrowed
    /// and is made owned only when rewritten): how many values were
    /// replaced, or under [`PiiAction::Reject`] the kind refused.
    pub(crate) fn scrub_cow(&self, s: &mut Cow<'_, str>) -> Result<u64, PiiKind> {
        Ok(match self.scrubbed(s)? {
            None => 0,
            Some((new, n)) => {
                *s = Cow::Owned(new);
                n
            }
        })
    }

    /// `s` scrubbed and how many values were replaced, `None` when nothing
    /// is (always, when the policy is off), or under [`PiiAction::Reject`]
    /// the kind refused. The gate is inlined into every caller: most
    /// strings, and nearly every key, stop there.
    #[inline]
    fn scrubbed(&self, s: &str) -> Result<Option<(String, u64)>, PiiKind> {
        if !self.enabled {
            return Ok(None);
        }
        match detectors(s) {
            0 => Ok(None),
            d => self.rewrite(s, d),
        }
    }

    /// [`Self::scrubbed`] past the gate, trying the `detectors` it let in.
    #[inline(never)]
    fn rewrite(&self, s: &str, detectors: u16) -> Result<Option<(String, u64)>, PiiKind> {
        let found = find_all(s, detectors);
        if found.is_empty() {
            return Ok(None);
        }
        if self.pii == PiiAction::Reject
            && let Some(&(_, _, kind)) = found.iter().find(|(_, _, k)| *k != PiiKind::Ip)
        {
            return Err(kind);
        }
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for &(start, end, kind) in &found {
            out.push_str(s.get(last..start).unwrap_or_default());
            let value = s.get(start..end).unwrap_or_default();
            if kind == PiiKind::Ip {
                self.ip_replacement(value, &mut out);
            } else {
                out.push_str(kind.marker());
            }
            last = end;
        }
        out.push_str(s.get(last..).unwrap_or_default());
        Ok(Some((out, found.len() as u64)))
    }

    fn ip_replacement(&self, ip: &str, out: &mut String) {
        match &self.ip_mode {
            IpMode::Drop => out.push_str(PiiKind::Ip.marker()),
            IpMode::Prefix => {
                if let Ok(v4) = ip.parse::<Ipv4Addr>() {
                    let [a, b, c, _] = v4.octets();
                    let _ = write!(out, "{a}.{b}.{c}.0/24");
                } else if let Ok(v6) = ip.parse::<Ipv6Addr>() {
                    let s = v6.segments();
                    let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                    let _ = write!(out, "{net}/64");
                } else {
                    out.push_str(PiiKind::Ip.marker());
                }
            }
            IpMode::Hash { salt } => {
                let mut h = blake3::Hasher::new();
                h.update(salt);
                h.update(ip.as_bytes());
                let hex = h.finalize().to_hex();
                let _ = write!(out, "ip:{}", hex.get(..16).unwrap_or_default());
            }
        }
    }
}

// The detectors as bits, lowest first in priority order: where two could
// match at the same place, the lower bit wins.
const BEARER: u16 = 1;
const GOOGLE_KEY: u16 = 1 << 1;
const ARN: u16 = 1 << 2;
const EMAIL: u16 = 1 << 3;
const UUID: u16 = 1 << 4;
const IPV6: u16 = 1 << 5;
const IPV4: u16 = 1 << 6;
const NRIC: u16 = 1 << 7;
const PHONE: u16 = 1 << 8;

/// The detectors a match can start with at each byte: the first byte of
/// `bearer ` (any case), of `AIza`, of `arn:aws`, of an email's local
/// part, of a UUID or IPv6 address (a hex digit, or `:` for IPv6), of an
/// IPv4 address, of an NRIC, and of a phone number (a digit or `+`).
static START: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut m = 0;
        if b == b'B' || b == b'b' {
            m |= BEARER;
        }
        if b == b'A' {
            m |= GOOGLE_KEY;
        }
        if b == b'a' {
            m |= ARN;
        }
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-') {
            m |= EMAIL;
        }
        if b.is_ascii_hexdigit() {
            m |= UUID | IPV6;
        }
        if b == b':' {
            m |= IPV6;
        }
        if b.is_ascii_digit() {
            m |= IPV4 | PHONE;
        }
        if matches!(b, b'S' | b'T' | b'F' | b'G' | b'M') {
            m |= NRIC;
        }
        if b == b'+' {
            m |= PHONE;
        }
        t[i] = m;
        i += 1;
    }
    t
};

// What the first pass over a string notes, one bit per byte class.
const F_DIGIT: u16 = 1;
const F_AT: u16 = 1 << 1;
const F_PUNCT: u16 = 1 << 2; // `.`, `-`, `:` or a space: worth counting
const F_PLUS: u16 = 1 << 3;
const F_SPACE: u16 = 1 << 4;
const F_B: u16 = 1 << 5; // `B` or `b`
const F_CAP_A: u16 = 1 << 6;
const F_NRIC: u16 = 1 << 7; // one of `STFGM`
const F_COLON: u16 = 1 << 8;

/// Class bits per byte, for the first pass of [`detectors`].
static FLAG: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut f = 0;
        if b.is_ascii_digit() {
            f |= F_DIGIT;
        }
        if b == b'@' {
            f |= F_AT;
        }
        if matches!(b, b'.' | b'-' | b':' | b' ') {
            f |= F_PUNCT;
        }
        if b == b'+' {
            f |= F_PLUS;
        }
        if b == b' ' {
            f |= F_SPACE;
        }
        if b == b'B' || b == b'b' {
            f |= F_B;
        }
        if b == b'A' {
            f |= F_CAP_A;
        }
        if matches!(b, b'S' | b'T' | b'F' | b'G' | b'M') {
            f |= F_NRIC;
        }
        if b == b':' {
            f |= F_COLON;
        }
        t[i] = f;
        i += 1;
    }
    t
};

/// Counted classes: 12-bit lanes of one `u64` per byte (digits, dots,
/// dashes, colons, spaces), summed in chunks short enough that no lane
/// overflows.
static COUNT: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut d = b'0';
    while d <= b'9' {
        t[d as usize] = 1;
        d += 1;
    }
    t[b'.' as usize] = 1 << 12;
    t[b'-' as usize] = 1 << 24;
    t[b':' as usize] = 1 << 36;
    t[b' ' as usize] = 1 << 48;
    t
};

/// How many digits, dots, dashes, colons and spaces `s` holds.
fn counts(s: &str) -> [usize; 5] {
    let mut n = [0usize; 5];
    for chunk in s.as_bytes().chunks(4095) {
        let sum = chunk.iter().fold(0u64, |acc, &b| acc + COUNT[usize::from(b)]);
        for (k, lane) in n.iter_mut().enumerate() {
            *lane += ((sum >> (12 * k)) & 0xfff) as usize;
        }
    }
    n
}

/// The detectors that could match somewhere in `s`; `0` when none can.
///
/// Each bit is dropped only on a condition the detector needs: a bearer
/// token needs a space and a `b`, a Google key an `A`, an email an `@`
/// and a `.`; an ARN needs 5 colons and an IPv6 address 2; a UUID 4
/// dashes in 36 characters; an IPv4 address 4 digits and 3 dots; an NRIC
/// its letter and 7 digits; a phone number `+` and 8 digits, or 10 digits
/// and two of one separator. Most strings (words, hex ids, names such as
/// `eu-west-1`, `tenant-0042` or `/v1/objects/tenant-0042/…`) end here
/// with no bit set, after one pass or two.
///
/// Inlined: its first pass and the check that follows it are all that most
/// strings, and nearly every key, cost.
#[inline]
fn detectors(s: &str) -> u16 {
    let f = flags(s);
    // Every detector needs one of these: a bearer token a space, a Google
    // key an `A`, an email an `@`, an ARN or IPv6 address a colon, the
    // others digits. Most keys and words (`content-type`, `user_agent`)
    // have none and stop after one pass.
    if f & (F_SPACE | F_CAP_A | F_AT | F_COLON | F_DIGIT) == 0 {
        return 0;
    }
    detectors_of(s, f)
}

/// The class bits of every byte of `s`, or-ed: the gate's first pass.
#[inline]
fn flags(s: &str) -> u16 {
    s.bytes().fold(0u16, |acc, b| acc | FLAG[usize::from(b)])
}

/// [`detectors`] of `s`, whose [`flags`] are `f`.
#[inline(never)]
fn detectors_of(s: &str, f: u16) -> u16 {
    let mut m = 0;
    if f & F_SPACE != 0 && f & F_B != 0 {
        m |= BEARER;
    }
    if f & F_CAP_A != 0 {
        m |= GOOGLE_KEY;
    }
    if f & F_AT != 0 && s.contains('.') {
        m |= EMAIL;
    }
    if f & (F_PUNCT | F_PLUS) == 0 && f & (F_NRIC | F_DIGIT) != F_NRIC | F_DIGIT {
        // The other detectors need a dot, dash, colon, space or `+`, but
        // an NRIC only its letter and digits.
        return m;
    }
    let [digits, dots, dashes, colons, spaces] = counts(s);
    if colons >= 5 {
        m |= ARN;
    }
    if colons >= 2 {
        m |= IPV6;
    }
    if dashes >= 4 && s.len() >= 36 && f & F_DIGIT != 0 {
        m |= UUID;
    }
    if digits >= 4 && dots >= 3 {
        m |= IPV4;
    }
    if digits >= 7 && f & F_NRIC != 0 {
        m |= NRIC;
    }
    if (digits >= 8 && f & F_PLUS != 0) || (digits >= 10 && (dashes >= 2 || dots >= 2 || spaces >= 2)) {
        m |= PHONE;
    }
    m
}

/// `[A-Za-z0-9_]`, as a table.
static WORD: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric() || b == b'_';
        i += 1;
    }
    t
};

fn is_word(b: u8) -> bool {
    WORD[usize::from(b)]
}

/// Every match, left to right, non-overlapping: `(start, end, kind)`.
/// Matches start at word boundaries only (the start of `s`, or after a
/// byte that is not `[A-Za-z0-9_]`), and only the `detectors` whose
/// first byte is there are tried. The scan looks for the next byte some
/// detector could start with (one table lookup per byte) and only then
/// asks whether it is at a boundary.
fn find_all(s: &str, detectors: u16) -> Vec<(usize, usize, PiiKind)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(off) = b
        .get(i..)
        .and_then(|rest| rest.iter().position(|&c| START[usize::from(c)] & detectors != 0))
    {
        let at = i + off;
        let boundary = at == 0 || b.get(at - 1).is_some_and(|&p| !is_word(p));
        let here = b.get(at).map_or(0, |&c| START[usize::from(c)] & detectors);
        if boundary && let Some((end, kind)) = match_at(s, at, here) {
            out.push((at, end, kind));
            i = end;
        } else {
            i = at + 1;
        }
    }
    out
}

/// The first of `detectors` (in priority order) that matches at `i`, and
/// where its match ends.
fn match_at(s: &str, i: usize, detectors: u16) -> Option<(usize, PiiKind)> {
    let rest = s.get(i..)?;
    let mut left = detectors;
    while left != 0 {
        let bit = left & left.wrapping_neg();
        left &= !bit;
        let hit = match bit {
            BEARER => bearer(rest).map(|n| (n, PiiKind::BearerToken)),
            GOOGLE_KEY => google_key(rest).map(|n| (n, PiiKind::GoogleApiKey)),
            ARN => arn(rest).map(|n| (n, PiiKind::AwsArn)),
            EMAIL => email(s, i).map(|n| (n, PiiKind::Email)),
            UUID => uuid_v4(rest).map(|n| (n, PiiKind::UuidV4)),
            IPV6 => ipv6(rest).map(|n| (n, PiiKind::Ip)),
            IPV4 => ipv4(rest).map(|n| (n, PiiKind::Ip)),
            NRIC => nric(rest).map(|n| (n, PiiKind::Nric)),
            PHONE => phone(rest).map(|n| (n, PiiKind::Phone)),
            _ => None,
        };
        if let Some((n, kind)) = hit {
            return Some((i + n, kind));
        }
    }
    None
}

/// Length of the run at the start of `s` whose bytes satisfy `f` (an
/// index loop: the scanner calls this at every word and candidate).
fn run(s: &str, f: impl Fn(u8) -> bool) -> usize {
    let b = s.as_bytes();
    let mut n = 0;
    while b.get(n).is_some_and(|&c| f(c)) {
        n += 1;
    }
    n
}

/// The match must not run on into a word character.
fn ends_clean(s: &str, n: usize) -> bool {
    s.as_bytes().get(n).is_none_or(|&b| !is_word(b))
}

fn bearer(s: &str) -> Option<usize> {
    let head = s.get(..7)?;
    if !head.eq_ignore_ascii_case("bearer ") {
        return None;
    }
    let tok = run(s.get(7..)?, |b| {
        b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)
    });
    (tok >= 8).then_some(7 + tok)
}

fn google_key(s: &str) -> Option<usize> {
    if !s.starts_with("AIza") {
        return None;
    }
    let n = 4 + run(s.get(4..)?, |b| {
        b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
    });
    (n == 39).then_some(n)
}

fn arn(s: &str) -> Option<usize> {
    if !s.starts_with("arn:aws") {
        return None;
    }
    let n = run(s, |b| !b.is_ascii_whitespace() && b != b'"' && b != b',');
    (s.get(..n)?.matches(':').count() >= 5).then_some(n)
}

/// An email whose `@` is ahead; `i` is where its local part starts.
fn email(s: &str, i: usize) -> Option<usize> {
    let rest = s.get(i..)?;
    let local = run(rest, |b| b.is_ascii_alphanumeric() || b"._%+-".contains(&b));
    if local == 0 || rest.as_bytes().get(local) != Some(&b'@') {
        return None;
    }
    let domain = rest.get(local + 1..)?;
    let d = run(domain, |b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let dom = domain.get(..d)?.trim_end_matches('.');
    let tld = dom.rsplit('.').next()?;
    (dom.contains('.') && tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()))
        .then_some(local + 1 + dom.len())
}

fn uuid_v4(s: &str) -> Option<usize> {
    let u = s.get(..36)?.as_bytes();
    for (k, &b) in u.iter().enumerate() {
        let ok = match k {
            8 | 13 | 18 | 23 => b == b'-',
            14 => b == b'4',
            19 => matches!(b.to_ascii_lowercase(), b'8' | b'9' | b'a' | b'b'),
            _ => b.is_ascii_hexdigit(),
        };
        if !ok {
            return None;
        }
    }
    ends_clean(s, 36).then_some(36)
}

fn ipv4(s: &str) -> Option<usize> {
    let n = run(s, |b| b.is_ascii_digit() || b == b'.');
    let cand = s.get(..n)?.trim_end_matches('.');
    // Version numbers (`5.0`, `537.36`) are the common near miss: only a
    // run with exactly three dots is worth the full parse.
    if cand.bytes().filter(|&b| b == b'.').count() != 3 {
        return None;
    }
    (cand.parse::<Ipv4Addr>().is_ok() && ends_clean(s, cand.len())).then_some(cand.len())
}

fn ipv6(s: &str) -> Option<usize> {
    // 45 characters is the longest IPv6 text (with an embedded IPv4).
    let n = run(s, |b| b.is_ascii_hexdigit() || b == b':' || b == b'.').min(45);
    let cand = s.get(..n)?;
    if cand.matches(':').count() < 2 {
        return None;
    }
    // The longest prefix that parses (a trailing `:` or `.` is punctuation).
    (2..=cand.len())
        .rev()
        .find(|&k| cand.get(..k).is_some_and(|c| c.parse::<Ipv6Addr>().is_ok()) && ends_clean(s, k))
}

fn nric(s: &str) -> Option<usize> {
    let u = s.get(..9)?.as_bytes();
    let ok = matches!(u.first(), Some(b'S' | b'T' | b'F' | b'G' | b'M'))
        && u.get(1..8).is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        && u.get(8).is_some_and(u8::is_ascii_uppercase);
    (ok && ends_clean(s, 9)).then_some(9)
}

fn phone(s: &str) -> Option<usize> {
    let sep = |b: u8| b == b' ' || b == b'-' || b == b'.' || b == b'(' || b == b')';
    if let Some(rest) = s.strip_prefix('+') {
        let n = run(rest, |b| b.is_ascii_digit() || sep(b));
        let body = rest.get(..n)?.trim_end_matches(|c: char| !c.is_ascii_digit());
        let digits = body.bytes().filter(u8::is_ascii_digit).count();
        return ((8..=15).contains(&digits) && ends_clean(s, 1 + body.len())).then_some(1 + body.len());
    }
    // ddd-ddd-dddd with one kind of separator.
    let u = s.get(..12)?.as_bytes();
    let d = |r: std::ops::Range<usize>| u.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    let sp = u.get(3).copied()?;
    let ok = d(0..3) && d(4..7) && d(8..12) && matches!(sp, b'-' | b'.' | b' ') && u.get(7) == Some(&sp);
    (ok && ends_clean(s, 12)).then_some(12)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{
        PiiKind, arn, bearer, detectors, email, find_all, google_key, ipv4, ipv6, is_word, nric, phone,
        uuid_v4,
    };

    /// The scanner with nothing skipped: every detector, in priority
    /// order, at every word boundary.
    fn reference(s: &str) -> Vec<(usize, usize, PiiKind)> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let boundary = i == 0 || !is_word(b[i - 1]);
            let hit = s.get(i..).filter(|_| boundary).and_then(|rest| {
                None.or_else(|| bearer(rest).map(|n| (n, PiiKind::BearerToken)))
                    .or_else(|| google_key(rest).map(|n| (n, PiiKind::GoogleApiKey)))
                    .or_else(|| arn(rest).map(|n| (n, PiiKind::AwsArn)))
                    .or_else(|| email(s, i).map(|n| (n, PiiKind::Email)))
                    .or_else(|| uuid_v4(rest).map(|n| (n, PiiKind::UuidV4)))
                    .or_else(|| ipv6(rest).map(|n| (n, PiiKind::Ip)))
                    .or_else(|| ipv4(rest).map(|n| (n, PiiKind::Ip)))
                    .or_else(|| nric(rest).map(|n| (n, PiiKind::Nric)))
                    .or_else(|| phone(rest).map(|n| (n, PiiKind::Phone)))
            });
            match hit {
                Some((n, kind)) => {
                    out.push((i, i + n, kind));
                    i += n;
                }
                None => i += 1,
            }
        }
        out
    }

    /// What the scrubber finds: nothing when the gate says no detector can match.
    fn scan(s: &str) -> Vec<(usize, usize, PiiKind)> {
        match detectors(s) {
            0 => Vec::new(),
            d => find_all(s, d),
        }
    }

    /// Strings built from near misses and real matches of every kind.
    fn text() -> impl Strategy<Value = String> {
        let fragment = prop_oneof![
            4 => "[a-zA-Z0-9 .:@+_/()-]{0,12}",
            4 => "[0-9 .+-]{0,16}",
            1 => "[0-9a-fA-F:.-]{0,40}",
            // Addresses with no digit at all (`fe::ab`, `::`).
            1 => "[a-f:]{0,12}",
            1 => "[é☃ a-f0-9@:.-]{0,8}",
            1 => Just("jane.doe@example.org".to_owned()),
            1 => Just("+65 9123 4567".to_owned()),
            1 => Just("+6581234".to_owned()),
            1 => Just("202-555-0143".to_owned()),
            1 => Just("S1234567D".to_owned()),
            1 => Just("203.0.113.7".to_owned()),
            1 => Just("2001:db8::1".to_owned()),
            1 => Just("fe80::1".to_owned()),
            1 => Just("0b8f5a2e-6a3c-4d1e-9f7b-2c4d6e8fa0b1".to_owned()),
            1 => Just("arn:aws:iam::123456789012:user/x".to_owned()),
            1 => Just("AIzaSyA-1234567890abcdefghijklmnopqrstu".to_owned()),
            1 => Just("Bearer abcdefgh12345".to_owned()),
            1 => Just("bEaReR abcdefgh12345".to_owned()),
            // Secrets with no digit: only a space or an `A` lets them in.
            1 => Just("Bearer abcdefghijkl".to_owned()),
            1 => Just("AIzaSyA-abcdefghijklmnopqrstuvwxyzabcde".to_owned()),
        ];
        proptest::collection::vec(fragment, 0..5).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2048),
            ..ProptestConfig::default()
        })]

        /// The gate and the first-byte table only skip work: the scanner
        /// finds what trying every detector at every boundary finds.
        #[test]
        fn the_gate_never_hides_a_match(s in text()) {
            prop_assert_eq!(scan(&s), reference(&s), "{:?}", s);
        }
    }

    #[test]
    fn the_gate_skips_names_with_few_digits_and_passes_real_values() {
        for s in [
            "eu-west-1",
            "tenant-0042",
            "curl/8.11.0",
            "v1.2.3",
            "ap-southeast-1 warm",
            "/v1/objects/tenant-0042/0a1b2c3d4e5f60718293",
            "b3:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "tighten egress rules for partner tenants after quarterly review",
        ] {
            assert_eq!(detectors(s), 0, "{s:?} should be skipped");
        }
        for s in [
            "10.0.0.1",
            "+6591234567",
            "S1234567D",
            "BEARER abcdefghijkl",
            "x@y.io",
        ] {
            assert_ne!(detectors(s), 0, "{s:?} should be scanned");
        }
    }
}
