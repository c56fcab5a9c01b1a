//! The 32-byte BLAKE3 digest type and the `"b3:<hex>"` / `"b3:0"` hash strings.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::fmt;
use std::str::FromStr;

/// Prefix of every hash string.
const PREFIX: &str = "b3:";

/// The hash string of the genesis link: the `prev` of a stream's first record.
pub const GENESIS: &str = "b3:0";

/// A 32-byte BLAKE3-256 digest.
///
/// Equality is constant-time (it compares through [`blake3::Hash`]). There is
/// deliberately no `Deref` to bytes: use [`Digest::as_bytes`] where raw bytes
/// are meant, so a digest is never compared with `==` on slices by accident.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest(blake3::Hash);

impl Digest {
    /// Wraps raw digest bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(blake3::Hash::from_bytes(bytes))
    }

    /// BLAKE3-256 of `data`.
    pub fn of(data: &[u8]) -> Self {
        Self(blake3::hash(data))
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// Lowercase hex of the 32 bytes (64 characters), without prefix.
    pub fn to_hex(&self) -> String {
        self.0.to_hex().to_string()
    }

    /// The hash string `"b3:" + hex`.
    pub fn to_hash_string(&self) -> String {
        let mut s = String::with_capacity(67);
        s.push_str(PREFIX);
        s.push_str(self.0.to_hex().as_str());
        s
    }

    /// Appends the hash string to `out` without allocating.
    pub(crate) fn write_hash_string(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(PREFIX.as_bytes());
        out.extend_from_slice(self.0.to_hex().as_bytes());
    }

    /// Parses a hash string `"b3:<64 lowercase hex>"`.
    ///
    /// The genesis string `"b3:0"` is not a digest; parse it as a [`PrevHash`].
    pub fn parse(s: &str) -> Result<Self, HashParseError> {
        Self::parse_bytes(s.as_bytes())
    }

    /// [`Digest::parse`] over the UTF-8 bytes of a hash string.
    pub(crate) fn parse_bytes(s: &[u8]) -> Result<Self, HashParseError> {
        let hex = s
            .strip_prefix(PREFIX.as_bytes())
            .ok_or_else(|| HashParseError::Prefix { input: truncate(s) })?;
        if hex.len() != 64 {
            return Err(HashParseError::Length {
                input: truncate(s),
                len: hex.len(),
            });
        }
        let mut out = [0u8; 32];
        let mut bad = 0u8;
        for (slot, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
            if let [h, l] = pair {
                let (h, l) = (hex_val(*h), hex_val(*l));
                bad |= h | l;
                *slot = (h << 4) | (l & 0x0f);
            }
        }
        if bad & 0x80 != 0 {
            let at = hex.iter().position(|&b| hex_val(b) & 0x80 != 0).unwrap_or(0);
            return Err(HashParseError::Hex {
                input: truncate(s),
                at: PREFIX.len() + at,
            });
        }
        Ok(Self::from_bytes(out))
    }
}

/// Whether every byte of `hex` is a lowercase hex digit, eight at a time.
pub(crate) fn is_lower_hex(hex: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = ONES * 0x7f;
    const HIGH: u64 = ONES * 0x80;
    // Bit Twiddling Hacks' `hasbetween`: the high bit of each lane whose
    // byte is strictly between m and n (bytes >= 0x80 never are).
    let between = |x: u64, m: u64, n: u64| {
        (ONES * (127 + n)).wrapping_sub(x & LOW7) & !x & (x & LOW7).wrapping_add(ONES * (127 - m)) & HIGH
    };
    let mut words = hex.chunks_exact(8);
    let words_ok = words.all(|w| {
        let x = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
        between(x, u64::from(b'0') - 1, u64::from(b'9') + 1)
            | between(x, u64::from(b'a') - 1, u64::from(b'f') + 1)
            == HIGH
    });
    words_ok
        && words
            .remainder()
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
    use super::is_lower_hex;

    #[test]
    fn is_lower_hex_agrees_with_a_byte_check_in_every_lane() {
        for lane in 0..9 {
            for b in 0..=255u8 {
                let mut s = *b"0123456789abcdef0";
                if let Some(x) = s.get_mut(lane) {
                    *x = b;
                }
                let want = s.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
                assert_eq!(is_lower_hex(&s), want, "byte {b:#04x} in lane {lane}");
            }
        }
        // Two edge bytes at once, so a borrow from one lane meets the other.
        let edges = [
            0x00, 0x2f, 0x30, 0x39, 0x3a, 0x60, 0x61, 0x66, 0x67, 0x7f, 0x80, 0xb0, 0xff,
        ];
        for i in 0..8 {
            for j in 0..8 {
                for &a in &edges {
                    for &b in &edges {
                        let mut s = *b"0123abcd";
                        s[i] = a;
                        s[j] = b;
                        let want = s.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
                        assert_eq!(is_lower_hex(&s), want, "{s:?}");
                    }
                }
            }
        }
    }
}

/// [`HEX_VAL`] of one byte.
#[allow(clippy::indexing_slicing)] // a `u8` always indexes a 256-entry table
fn hex_val(b: u8) -> u8 {
    HEX_VAL[usize::from(b)]
}

/// Value of each lowercase hex digit; 0x80 marks every other byte (the
/// canonical form has no uppercase).
#[allow(clippy::indexing_slicing)] // constant evaluation: out of range fails the build
static HEX_VAL: [u8; 256] = {
    let mut t = [0x80u8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Keeps error messages bounded when the offending input is huge.
fn truncate(s: &[u8]) -> String {
    const MAX: usize = 80;
    let s = &*String::from_utf8_lossy(s);
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hash_string())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PREFIX)?;
        f.write_str(self.0.to_hex().as_str())
    }
}

impl FromStr for Digest {
    type Err = HashParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<blake3::Hash> for Digest {
    fn from(h: blake3::Hash) -> Self {
        Self(h)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hash_string())
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The `prev` link of a record or checkpoint: genesis (`"b3:0"`) or a digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PrevHash {
    /// `"b3:0"`: the first record (or checkpoint) of a stream.
    Genesis,
    /// The `self_hash` of the predecessor.
    Digest(Digest),
}

impl PrevHash {
    /// Parses `"b3:0"` or a `"b3:<64 hex>"` hash string.
    pub fn parse(s: &str) -> Result<Self, HashParseError> {
        Self::parse_bytes(s.as_bytes())
    }

    /// [`PrevHash::parse`] over the UTF-8 bytes of a hash string.
    pub(crate) fn parse_bytes(s: &[u8]) -> Result<Self, HashParseError> {
        if s == GENESIS.as_bytes() {
            Ok(Self::Genesis)
        } else {
            Digest::parse_bytes(s).map(Self::Digest)
        }
    }

    /// Whether this is the genesis link.
    pub fn is_genesis(&self) -> bool {
        matches!(self, Self::Genesis)
    }

    /// The digest, or `None` for genesis.
    pub fn digest(&self) -> Option<&Digest> {
        match self {
            Self::Genesis => None,
            Self::Digest(d) => Some(d),
        }
    }

    pub(crate) fn write_hash_string(&self, out: &mut Vec<u8>) {
        match self {
            Self::Genesis => out.extend_from_slice(GENESIS.as_bytes()),
            Self::Digest(d) => d.write_hash_string(out),
        }
    }
}

impl fmt::Display for PrevHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Genesis => f.write_str(GENESIS),
            Self::Digest(d) => fmt::Display::fmt(d, f),
        }
    }
}

impl From<Digest> for PrevHash {
    fn from(d: Digest) -> Self {
        Self::Digest(d)
    }
}

impl FromStr for PrevHash {
    type Err = HashParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for PrevHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PrevHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Why a hash string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashParseError {
    /// The string does not start with `b3:`.
    #[error("hash string {input:?} does not start with \"b3:\"")]
    Prefix {
        /// The offending input (truncated).
        input: String,
    },
    /// The hex part is not 64 characters.
    #[error("hash string {input:?} has {len} hex digits, want 64")]
    Length {
        /// The offending input (truncated).
        input: String,
        /// Hex digits found.
        len: usize,
    },
    /// A character is not lowercase hex.
    #[error("hash string {input:?} has a character that is not lowercase hex at byte {at}")]
    Hex {
        /// The offending input (truncated).
        input: String,
        /// Byte offset of the bad pair in the string.
        at: usize,
    },
}
