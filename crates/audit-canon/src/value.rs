//! `attrs` values: JSON without floats, with integers bounded to i64 ∪ u64.

use std::collections::BTreeMap;

/// An integer of `attrs`: anything that fits in `i64` or in `u64`.
///
/// One type for both ranges, so `5_i64` and `5_u64` are the same value and
/// write the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Integer(i128);

impl Integer {
    /// Smallest representable value, `i64::MIN`.
    pub const MIN: Integer = Integer(i64::MIN as i128);
    /// Largest representable value, `u64::MAX`.
    pub const MAX: Integer = Integer(u64::MAX as i128);

    /// `Some` when `v` is within `i64::MIN..=u64::MAX`.
    pub fn new(v: i128) -> Option<Self> {
        (Self::MIN.0..=Self::MAX.0).contains(&v).then_some(Self(v))
    }

    /// The value.
    pub fn get(self) -> i128 {
        self.0
    }

    pub(crate) fn write(self, out: &mut Vec<u8>) {
        let mut buf = itoa::Buffer::new();
        out.extend_from_slice(buf.format(self.0).as_bytes());
    }
}

impl From<i64> for Integer {
    fn from(v: i64) -> Self {
        Self(v.into())
    }
}

impl From<u64> for Integer {
    fn from(v: u64) -> Self {
        Self(v.into())
    }
}

impl From<i32> for Integer {
    fn from(v: i32) -> Self {
        Self(v.into())
    }
}

impl From<u32> for Integer {
    fn from(v: u32) -> Self {
        Self(v.into())
    }
}

/// A value inside `attrs`: JSON minus floats.
///
/// Object keys are kept in a `BTreeMap<String, _>`, whose order is the
/// ascending UTF-8 byte order the canonical form needs. A record builder
/// normalizes every key and string to NFC and rejects keys that collide
/// after normalization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer in `i64::MIN..=u64::MAX`.
    Integer(Integer),
    /// A string.
    String(String),
    /// An array; order is kept.
    Array(Vec<AttrValue>),
    /// An object; keys ascend by UTF-8 bytes.
    Object(BTreeMap<String, AttrValue>),
}

impl From<&str> for AttrValue {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for AttrValue {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

impl From<bool> for AttrValue {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        Self::Integer(v.into())
    }
}

impl From<u64> for AttrValue {
    fn from(v: u64) -> Self {
        Self::Integer(v.into())
    }
}

impl From<i32> for AttrValue {
    fn from(v: i32) -> Self {
        Self::Integer(v.into())
    }
}

impl From<u32> for AttrValue {
    fn from(v: u32) -> Self {
        Self::Integer(v.into())
    }
}

impl From<Vec<AttrValue>> for AttrValue {
    fn from(v: Vec<AttrValue>) -> Self {
        Self::Array(v)
    }
}

impl From<BTreeMap<String, AttrValue>> for AttrValue {
    fn from(v: BTreeMap<String, AttrValue>) -> Self {
        Self::Object(v)
    }
}

/// A `serde_json::Value` holds a float, which `attrs` never may.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("attrs value at {path} is a float ({value}); attrs admit integers only")]
pub struct FloatInAttrs {
    /// JSON-pointer-like path of the float.
    pub path: String,
    /// The float as serde_json printed it.
    pub value: String,
}

impl TryFrom<&serde_json::Value> for AttrValue {
    type Error = FloatInAttrs;

    fn try_from(v: &serde_json::Value) -> Result<Self, Self::Error> {
        convert(v, &mut String::new())
    }
}

fn convert(v: &serde_json::Value, path: &mut String) -> Result<AttrValue, FloatInAttrs> {
    use serde_json::Value as J;
    Ok(match v {
        J::Null => AttrValue::Null,
        J::Bool(b) => AttrValue::Bool(*b),
        J::Number(n) => {
            if let Some(u) = n.as_u64() {
                AttrValue::from(u)
            } else if let Some(i) = n.as_i64() {
                AttrValue::from(i)
            } else {
                return Err(FloatInAttrs {
                    path: if path.is_empty() { "/".into() } else { path.clone() },
                    value: n.to_string(),
                });
            }
        }
        J::String(s) => AttrValue::String(s.clone()),
        J::Array(a) => {
            let mut out = Vec::with_capacity(a.len());
            for (i, x) in a.iter().enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                out.push(convert(x, path)?);
                path.truncate(len);
            }
            AttrValue::Array(out)
        }
        J::Object(m) => {
            let mut out = BTreeMap::new();
            for (k, x) in m {
                let len = path.len();
                path.push('/');
                path.push_str(k);
                out.insert(k.clone(), convert(x, path)?);
                path.truncate(len);
            }
            AttrValue::Object(out)
        }
    })
}
