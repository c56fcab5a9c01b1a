//! Reference implementations that vectors are checked against before they
//! are written: deliberately the slow, obvious way, sharing no code with
//! `audit-canon` (serde_json's `Value` and the recursive RFC 9162 text).

use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

const ORDER: [&str; 11] = [
    "v",
    "ts_ms",
    "writer_id",
    "seq",
    "stream",
    "kind",
    "actor",
    "subject",
    "reason",
    "attrs",
    "prev",
];

/// Canonical bytes of a *valid* record text: parse to `Value` (whose maps
/// sort keys by bytes), NFC every string and key, drop `self_hash`, emit the
/// top-level keys in table order with serde_json's compact writer.
pub(crate) fn canonical(text: &[u8]) -> Result<Vec<u8>, String> {
    let v: Value = serde_json::from_slice(text).map_err(|e| e.to_string())?;
    let Value::Object(map) = nfc(v) else {
        return Err("not an object".into());
    };
    let mut out = String::from("{");
    for (i, key) in ORDER.iter().enumerate() {
        let value = map.get(*key).ok_or_else(|| format!("missing {key}"))?;
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(key).map_err(|e| e.to_string())?);
        out.push(':');
        out.push_str(&serde_json::to_string(value).map_err(|e| e.to_string())?);
    }
    out.push('}');
    Ok(out.into_bytes())
}

fn nfc(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.nfc().collect()),
        Value::Array(a) => Value::Array(a.into_iter().map(nfc).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k.nfc().collect(), nfc(v))).collect()),
        other => other,
    }
}

pub(crate) type H = [u8; 32];

pub(crate) fn leaf(self_hash: &H) -> H {
    let mut buf = vec![0u8];
    buf.extend_from_slice(self_hash);
    *blake3::hash(&buf).as_bytes()
}

pub(crate) fn node(l: &H, r: &H) -> H {
    let mut buf = vec![1u8];
    buf.extend_from_slice(l);
    buf.extend_from_slice(r);
    *blake3::hash(&buf).as_bytes()
}

fn k(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// `MTH(D[n])` of RFC 9162 section 2.1.1.
pub(crate) fn mth(d: &[H]) -> H {
    if d.len() == 1 {
        return d[0];
    }
    let k = k(d.len());
    node(&mth(&d[..k]), &mth(&d[k..]))
}

/// `PATH(m, D[n])` of RFC 9162 section 2.1.3.1.
pub(crate) fn path(m: usize, d: &[H]) -> Vec<H> {
    if d.len() == 1 {
        return vec![];
    }
    let k = k(d.len());
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

/// `PROOF(m, D[n])` of RFC 9162 section 2.1.4.1.
pub(crate) fn proof(m: usize, d: &[H]) -> Vec<H> {
    subproof(m, d, true)
}

fn subproof(m: usize, d: &[H], b: bool) -> Vec<H> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = k(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

pub(crate) fn hash_string(h: &H) -> String {
    format!("b3:{}", blake3::Hash::from_bytes(*h).to_hex())
}
