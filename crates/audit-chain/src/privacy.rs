//! Privacy at the source: IP addresses and common personal data or secrets
//! in `attrs` strings and `subject.name` are replaced (or the event is
//! refused) as the record is built, so they never reach a sink. The
//! emitter scrubs each string inside the record builder's walk
//! (`RecordBuilder::build_visiting`); [`Privacy::scrub`] does the same to
//! a whole event on its own.
//!
//! Detection is a hand-written scanner, not regular expressions: it runs on
//! the emit hot path, and a string with no digit, `@`, `:` and none of the
//! key or token prefixes (most strings) is skipped after one pass.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use audit_canon::AttrValue;

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
#[error("event refused: {field} holds a value that looks like {kind:?} (pii policy is reject)")]
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

    /// Scrubs `event` in place; returns how many values were replaced, or
    /// refuses the event under [`PiiAction::Reject`] (IPs are always
    /// handled by the IP mode, never refused).
    pub fn scrub(&self, event: &mut Event) -> Result<u64, PrivacyError> {
        if !self.enabled {
            return Ok(0);
        }
        let mut n = 0;
        if let Some(name) = &mut event.subject.name {
            n += self.scrub_str(name, &mut || "subject.name".to_owned())?;
        }
        // The field path is only needed to name a refused value, so it is
        // only built (and allocated) under `Reject`.
        let track = self.pii == PiiAction::Reject;
        let mut path = if track {
            String::from("attrs")
        } else {
            String::new()
        };
        n += self.scrub_map(&mut event.attrs, &mut path, track)?;
        Ok(n)
    }

    fn scrub_map(
        &self,
        map: &mut BTreeMap<String, AttrValue>,
        path: &mut String,
        track: bool,
    ) -> Result<u64, PrivacyError> {
        let mut n = 0;
        for (k, v) in map.iter_mut() {
            let len = path.len();
            if track {
                path.push('/');
                path.push_str(k);
            }
            n += self.scrub_value(v, path, track)?;
            path.truncate(len);
        }
        Ok(n)
    }

    fn scrub_value(&self, v: &mut AttrValue, path: &mut String, track: bool) -> Result<u64, PrivacyError> {
        match v {
            AttrValue::String(s) => self.scrub_str(s, &mut || path.clone()),
            AttrValue::Object(m) => self.scrub_map(m, path, track),
            AttrValue::Array(a) => {
                let mut n = 0;
                for (i, x) in a.iter_mut().enumerate() {
                    let len = path.len();
                    if track {
                        let _ = write!(path, "/{i}");
                    }
                    n += self.scrub_value(x, path, track)?;
                    path.truncate(len);
                }
                Ok(n)
            }
            _ => Ok(0),
        }
    }

    fn scrub_str(&self, s: &mut String, field: &mut dyn FnMut() -> String) -> Result<u64, PrivacyError> {
        self.scrub_one(s)
            .map_err(|kind| PrivacyError { field: field(), kind })
    }

    /// Scrubs one string in place: how many values were replaced, or under
    /// [`PiiAction::Reject`] the kind refused. A no-op when the policy is off.
    pub(crate) fn scrub_one(&self, s: &mut String) -> Result<u64, PiiKind> {
        if !self.enabled {
            return Ok(0);
        }
        let hints = Hints::of(s);
        if !hints.any(s) {
            return Ok(0);
        }
        let found = find_all(s, hints);
        if found.is_empty() {
            return Ok(0);
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
        *s = out;
        Ok(found.len() as u64)
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

/// What one pass over a string found, so detectors that cannot match are
/// never tried.
#[derive(Clone, Copy, Default)]
struct Hints {
    digit: bool,
    at: bool,
    colon: bool,
    dot: bool,
    dash: bool,
    plus: bool,
    space: bool,
    /// An `A` (a Google API key starts `AIza`).
    cap_a: bool,
    /// One of `STFGM` (an NRIC starts with one).
    nric_start: bool,
}

/// Hint bits per byte (see [`Hints::of`]).
static HINT: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut d = b'0';
    while d <= b'9' {
        t[d as usize] = 1;
        d += 1;
    }
    t[b'@' as usize] = 2;
    t[b':' as usize] = 4;
    t[b'.' as usize] = 8;
    t[b'-' as usize] = 16;
    t[b'+' as usize] = 32;
    t[b' ' as usize] = 64;
    t[b'A' as usize] = 128;
    let nric = b"STFGM";
    let mut i = 0;
    while i < nric.len() {
        t[nric[i] as usize] = 256;
        i += 1;
    }
    t
};

impl Hints {
    /// One table lookup per byte.
    fn of(s: &str) -> Self {
        let f = s.bytes().fold(0u16, |acc, b| acc | HINT[usize::from(b)]);
        Self {
            digit: f & 1 != 0,
            at: f & 2 != 0,
            colon: f & 4 != 0,
            dot: f & 8 != 0,
            dash: f & 16 != 0,
            plus: f & 32 != 0,
            space: f & 64 != 0,
            cap_a: f & 128 != 0,
            nric_start: f & 256 != 0,
        }
    }

    /// Whether any detector could match; `false` only when none can.
    ///
    /// Email, ARN and IPv6 need an `@` or a `:`; a Google key needs `AIza`
    /// and a bearer token `bearer ` in any case. The rest need digits:
    /// a phone number at least 8 with a separator or `+`, an NRIC 7 after
    /// its letter, an IPv4 address 4 and three dots, a UUID 36 characters
    /// with dashes. Most strings (plain words, hex ids, names such as
    /// `eu-west-1` or `tenant-0042`) stop here, after at most a second
    /// counting pass over the few that have digits and punctuation.
    fn any(self, s: &str) -> bool {
        if self.at || self.colon || (self.cap_a && s.contains("AIza")) || (self.space && has_bearer(s)) {
            return true;
        }
        if !(self.digit && (self.dot || self.dash || self.plus || self.space || self.nric_start)) {
            return false;
        }
        if self.dash && s.len() >= 36 {
            return true;
        }
        let (digits, dots) = s.bytes().fold((0usize, 0usize), |(d, p), b| {
            (d + usize::from(b.is_ascii_digit()), p + usize::from(b == b'.'))
        });
        (digits >= 8 && (self.dot || self.dash || self.plus || self.space))
            || (digits >= 7 && self.nric_start)
            || (digits >= 4 && dots >= 3)
    }
}

/// `bearer ` anywhere in `s`, in any case (the detector ignores case).
fn has_bearer(s: &str) -> bool {
    s.as_bytes()
        .windows(7)
        .any(|w| w.eq_ignore_ascii_case(b"bearer "))
}

/// `[A-Za-z0-9_]`, as a table: the scanner asks this of most bytes.
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
/// Matches start at word boundaries only, so the scan jumps from one
/// boundary to the next, skipping the inside of words.
fn find_all(s: &str, hints: Hints) -> Vec<(usize, usize, PiiKind)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut at_boundary = true;
    while let Some(&c) = b.get(i) {
        if at_boundary && let Some((end, kind)) = match_at(s, i, hints) {
            out.push((i, end, kind));
            i = end;
            at_boundary = end == 0 || b.get(end - 1).is_none_or(|&p| !is_word(p));
            continue;
        }
        if is_word(c) {
            i += 1 + run(s.get(i + 1..).unwrap_or_default(), is_word);
            at_boundary = false;
        } else {
            i += 1;
            at_boundary = true;
        }
    }
    out
}

/// The first detector that matches at `i`, in priority order. Each is
/// tried only when the string and the byte at `i` allow it.
fn match_at(s: &str, i: usize, h: Hints) -> Option<(usize, PiiKind)> {
    let rest = s.get(i..)?;
    let first = *rest.as_bytes().first()?;
    let try_if =
        |cond: bool, f: &dyn Fn() -> Option<usize>, kind| if cond { f().map(|n| (n, kind)) } else { None };
    try_if(
        h.space && matches!(first, b'B' | b'b'),
        &|| bearer(rest),
        PiiKind::BearerToken,
    )
    .or_else(|| try_if(first == b'A', &|| google_key(rest), PiiKind::GoogleApiKey))
    .or_else(|| try_if(h.colon && first == b'a', &|| arn(rest), PiiKind::AwsArn))
    .or_else(|| try_if(h.at, &|| email(s, i), PiiKind::Email))
    .or_else(|| {
        try_if(
            h.dash && first.is_ascii_hexdigit(),
            &|| uuid_v4(rest),
            PiiKind::UuidV4,
        )
    })
    .or_else(|| {
        try_if(
            h.colon && (first.is_ascii_hexdigit() || first == b':'),
            &|| ipv6(rest),
            PiiKind::Ip,
        )
    })
    .or_else(|| try_if(h.dot && first.is_ascii_digit(), &|| ipv4(rest), PiiKind::Ip))
    .or_else(|| {
        try_if(
            h.digit && matches!(first, b'S' | b'T' | b'F' | b'G' | b'M'),
            &|| nric(rest),
            PiiKind::Nric,
        )
    })
    .or_else(|| {
        try_if(
            h.digit && (first == b'+' && h.plus || first.is_ascii_digit()),
            &|| phone(rest),
            PiiKind::Phone,
        )
    })
    .map(|(n, k)| (i + n, k))
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

    use super::{Hints, find_all};

    /// Every detector allowed: what the scanner finds with no gate at all.
    const EVERY: Hints = Hints {
        digit: true,
        at: true,
        colon: true,
        dot: true,
        dash: true,
        plus: true,
        space: true,
        cap_a: true,
        nric_start: true,
    };

    /// Strings built from near misses and real matches of every kind.
    fn text() -> impl Strategy<Value = String> {
        let fragment = prop_oneof![
            4 => "[a-zA-Z0-9 .:@+_/()-]{0,12}",
            4 => "[0-9 .+-]{0,16}",
            1 => Just("jane.doe@example.org".to_owned()),
            1 => Just("+65 9123 4567".to_owned()),
            1 => Just("202-555-0143".to_owned()),
            1 => Just("S1234567D".to_owned()),
            1 => Just("203.0.113.7".to_owned()),
            1 => Just("2001:db8::1".to_owned()),
            1 => Just("0b8f5a2e-6a3c-4d1e-9f7b-2c4d6e8fa0b1".to_owned()),
            1 => Just("arn:aws:iam::123456789012:user/x".to_owned()),
            1 => Just("AIzaSyA-1234567890abcdefghijklmnopqrstu".to_owned()),
            1 => Just("Bearer abcdefgh12345".to_owned()),
            1 => Just("bEaReR abcdefgh12345".to_owned()),
        ];
        proptest::collection::vec(fragment, 0..5).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2048),
            ..ProptestConfig::default()
        })]

        /// The gate and the per-detector hints only skip work: whatever the
        /// ungated scanner finds, the gated one finds the same.
        #[test]
        fn the_gate_never_hides_a_match(s in text()) {
            let hints = Hints::of(&s);
            let ungated = find_all(&s, EVERY);
            if hints.any(&s) {
                prop_assert_eq!(find_all(&s, hints), ungated, "{:?}", s);
            } else {
                prop_assert!(ungated.is_empty(), "the gate skipped {:?}, which holds {:?}", s, ungated);
            }
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
        ] {
            assert!(!Hints::of(s).any(s), "{s:?} should be skipped");
        }
        for s in [
            "10.0.0.1",
            "+6591234567",
            "S1234567D",
            "BEARER abcdefghijkl",
            "x@y.io",
        ] {
            assert!(Hints::of(s).any(s), "{s:?} should be scanned");
        }
    }
}
