//! The 32-byte BLAKE3 digest type and the `"b3:<hex>"` / `"b3:0"` hash strings.

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
                let (h, l) = (HEX_VAL[usize::from(*h)], HEX_VAL[usize::from(*l)]);
                bad |= h | l;
                *slot = (h << 4) | (l & 0x0f);
            }
        }
        if bad & 0x80 != 0 {
            let at = hex
                .iter()
                .position(|&b| HEX_VAL[usize::from(b)] & 0x80 != 0)
                .unwrap_or(0);
            return Err(HashParseError::Hex {
                input: truncate(s),
                at: PREFIX.len() + at,
            });
        }
        Ok(Self::from_bytes(out))
    }
}

/// Value of each lowercase hex digit; 0x80 marks every other byte (the
/// canonical form has no uppercase).
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
