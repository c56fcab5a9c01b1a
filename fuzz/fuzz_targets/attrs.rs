//! Fuzz target `attrs`: arbitrary bytes as an `attrs` object, read by the
//! strict `Deserialize` that `auditctl append` reads well-formed lines
//! with, and by `serde_json::Value` plus the owned conversion, which it
//! falls back to. Invariants checked: no panic; whatever the strict reading
//! accepts, the fallback accepts too, with the same keys and values.
#![no_main]

use audit_canon::{AttrValue, Attrs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(strict) = serde_json::from_slice::<Attrs>(data) else {
        return;
    };
    let loose: serde_json::Value = serde_json::from_slice(data).expect("the fallback parses it too");
    let serde_json::Value::Object(m) = loose else {
        panic!("the strict reading took a non-object");
    };
    assert_eq!(m.len(), strict.0.len(), "a repeated key got through");
    for (k, v) in m {
        let v = AttrValue::try_from(v).expect("the fallback converts it too");
        assert_eq!(strict.0.get(&k), Some(&v), "key {k:?}");
    }
});
