//! `attrs` values: JSON without floats, with integers bounded to i64 ∪ u64.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

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
#[error(
    "attrs value {}is a float or an integer outside i64..=u64 ({value}); attrs admit those integers only",
    at_path(path)
)]
pub struct FloatInAttrs {
    /// JSON-pointer-like path of the float (`/` when the value itself is
    /// the float). A JSON reader reads an integer too large for `attrs` as
    /// a float too.
    pub path: String,
    /// The float as serde_json printed it.
    pub value: String,
}

/// `at /a/0 ` for a float inside the value; nothing for the value itself.
fn at_path(path: &str) -> String {
    if path == "/" {
        String::new()
    } else {
        format!("at {path} ")
    }
}

impl TryFrom<&serde_json::Value> for AttrValue {
    type Error = FloatInAttrs;

    /// Copies `v`; prefer the owned conversion when `v` is not needed after.
    fn try_from(v: &serde_json::Value) -> Result<Self, Self::Error> {
        Self::try_from(v.clone())
    }
}

/// Moves the strings and keys out of `v` instead of copying them (the
/// conversion `auditctl append` makes of a line its typed reading refused).
///
/// A `serde_json::Value` read from text has already merged a repeated key
/// (it keeps the last value), which FORMAT-v1.md section 2 forbids: to
/// refuse repeated keys, deserialize [`Attrs`] or [`AttrValue`] from the
/// text itself.
impl TryFrom<serde_json::Value> for AttrValue {
    type Error = FloatInAttrs;

    fn try_from(v: serde_json::Value) -> Result<Self, Self::Error> {
        convert_owned(v).map_err(|(mut rev_path, value)| {
            rev_path.reverse();
            FloatInAttrs {
                path: if rev_path.is_empty() {
                    "/".into()
                } else {
                    rev_path.iter().fold(String::new(), |p, seg| p + "/" + seg)
                },
                value,
            }
        })
    }
}

/// The owned conversion; on a float, the path to it (innermost segment
/// first, built only while the error unwinds) and the float's text.
fn convert_owned(v: serde_json::Value) -> Result<AttrValue, (Vec<String>, String)> {
    use serde_json::Value as J;
    Ok(match v {
        J::Null => AttrValue::Null,
        J::Bool(b) => AttrValue::Bool(b),
        J::Number(n) => {
            if let Some(u) = n.as_u64() {
                AttrValue::from(u)
            } else if let Some(i) = n.as_i64() {
                AttrValue::from(i)
            } else {
                return Err((Vec::new(), n.to_string()));
            }
        }
        J::String(s) => AttrValue::String(s),
        J::Array(a) => {
            let mut out = Vec::with_capacity(a.len());
            for (i, x) in a.into_iter().enumerate() {
                out.push(convert_owned(x).map_err(|(mut p, v)| {
                    p.push(i.to_string());
                    (p, v)
                })?);
            }
            AttrValue::Array(out)
        }
        J::Object(m) => {
            let mut out = BTreeMap::new();
            for (k, x) in m {
                match convert_owned(x) {
                    Ok(x) => {
                        out.insert(k, x);
                    }
                    Err((mut p, v)) => {
                        p.push(k);
                        return Err((p, v));
                    }
                }
            }
            AttrValue::Object(out)
        }
    })
}

/// Deserializes any self-describing format's value, strictly: a float
/// (including an integer too large for `attrs`, which JSON parsers read as
/// one) and a key repeated in one object are errors, never rounded or
/// merged. Use [`AttrValue::try_from`] on a `serde_json::Value` for an error
/// that names the float's path.
impl<'de> serde::Deserialize<'de> for AttrValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AttrVisitor)
    }
}

/// Builds an [`AttrValue`] from whatever the deserializer holds.
struct AttrVisitor;

impl<'de> serde::de::Visitor<'de> for AttrVisitor {
    type Value = AttrValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an attrs value (null, a boolean, an integer, a string, an array or an object)")
    }

    fn visit_unit<E>(self) -> Result<AttrValue, E> {
        Ok(AttrValue::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<AttrValue, E> {
        Ok(AttrValue::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<AttrValue, E> {
        Ok(AttrValue::from(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<AttrValue, E> {
        Ok(AttrValue::from(u))
    }

    fn visit_f64<E: serde::de::Error>(self, f: f64) -> Result<AttrValue, E> {
        // A JSON reader hands over integers past u64 as floats too, so the
        // number is printed as read, which may have been rounded.
        Err(E::custom(format_args!(
            "attrs value {f} is a float or an integer outside i64..=u64; attrs admit those integers only"
        )))
    }

    fn visit_str<E>(self, s: &str) -> Result<AttrValue, E> {
        Ok(AttrValue::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<AttrValue, E> {
        Ok(AttrValue::String(s))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<AttrValue, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(x) = seq.next_element()? {
            out.push(x);
        }
        Ok(AttrValue::Array(out))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<AttrValue, A::Error> {
        attrs_map(map).map(AttrValue::Object)
    }
}

/// The entries of one object, refusing a repeated key.
fn attrs_map<'de, A: serde::de::MapAccess<'de>>(mut map: A) -> Result<BTreeMap<String, AttrValue>, A::Error> {
    let mut out = BTreeMap::new();
    while let Some((k, v)) = map.next_entry::<String, AttrValue>()? {
        match out.entry(k) {
            std::collections::btree_map::Entry::Occupied(e) => {
                return Err(serde::de::Error::custom(format_args!(
                    "attrs key {:?} appears twice in one object",
                    e.key()
                )));
            }
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(v);
            }
        }
    }
    Ok(out)
}

/// A whole `attrs` object, deserialized as strictly as [`AttrValue`]
/// (no floats, no repeated keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs(pub BTreeMap<String, AttrValue>);

impl<'de> serde::Deserialize<'de> for Attrs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Attrs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an attrs object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Attrs, A::Error> {
                attrs_map(map).map(Attrs)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
    use super::{AttrValue, Attrs};

    /// `json` read as an `attrs` object: its entries, or the error text.
    fn check(json: &str, want: Result<&str, &str>) {
        let got = serde_json::from_str::<Attrs>(json).map_err(|e| e.to_string());
        match (got, want) {
            (Ok(a), Ok(w)) => {
                let back = serde_json::to_string(&AttrValue::Object(a.0)).expect("serialize");
                assert_eq!(back, w, "{json}");
            }
            (Err(e), Err(w)) => assert!(e.starts_with(w), "{json}: {e}"),
            (got, want) => panic!("{json}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn attrs_deserialize_strictly() {
        check(
            r#"{"b":[1,-2,null,true,"x"],"a":{"n":18446744073709551615}}"#,
            Ok(r#"{"a":{"n":18446744073709551615},"b":[1,-2,null,true,"x"]}"#),
        );
        check(
            r#"{"n":-9223372036854775808}"#,
            Ok(r#"{"n":-9223372036854775808}"#),
        );
        check(r#"{"f":1.5}"#, Err("attrs value 1.5 is a float"));
        check(r#"{"f":1e3}"#, Err("attrs value 1000 is a float"));
        check(
            r#"{"big":18446744073709551616}"#,
            Err("attrs value 18446744073709552000 is a float or an integer outside"),
        );
        check(r#"{"n":{"x":[0.0]}}"#, Err("attrs value 0 is a float"));
        check(
            r#"{"a":1,"a":2}"#,
            Err(r#"attrs key "a" appears twice in one object"#),
        );
        check(
            r#"{"o":{"k":1,"k":1}}"#,
            Err(r#"attrs key "k" appears twice in one object"#),
        );
        check(r#"[1]"#, Err("invalid type: sequence, expected an attrs object"));
    }

    #[test]
    fn owned_conversion_names_the_float_path() {
        let v: serde_json::Value = serde_json::from_str(r#"{"a":[1,{"b":2.5}]}"#).expect("json");
        let owned = AttrValue::try_from(v.clone()).expect_err("float");
        assert_eq!((owned.path.as_str(), owned.value.as_str()), ("/a/1/b", "2.5"));
        assert_eq!(AttrValue::try_from(&v), Err(owned));
    }

    /// The error text: where the float is (nothing when it is the value
    /// itself), and that an integer past u64 is read as one.
    #[test]
    fn float_errors_say_where_and_why() {
        let err = |json: &str| {
            let v: serde_json::Value = serde_json::from_str(json).expect("json");
            AttrValue::try_from(v).expect_err("float").to_string()
        };
        insta::assert_snapshot!(err("1.5"), @"attrs value is a float or an integer outside i64..=u64 (1.5); attrs admit those integers only");
        insta::assert_snapshot!(err(r#"{"a":[1,-0]}"#), @"attrs value at /a/1 is a float or an integer outside i64..=u64 (-0.0); attrs admit those integers only");
        insta::assert_snapshot!(err("18446744073709551616"), @"attrs value is a float or an integer outside i64..=u64 (1.8446744073709552e+19); attrs admit those integers only");
    }
}
