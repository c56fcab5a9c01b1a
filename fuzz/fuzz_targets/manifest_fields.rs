//! Fuzz target `manifest_fields`: the committed v1 bundle's manifest with
//! its numbers and frontier changed, file bytes and digest kept right, so
//! every input gets past the digest check that stops almost all of the
//! `manifest` target's inputs. Each of `range[0]`, `range[1]`, `count` and
//! `checkpoints` becomes, by three input bytes, the committed value, that
//! value plus or minus up to 65,535, a small number, or `u64::MAX` minus
//! one; the frontier is kept, cut, grown or emptied. Invariants: no panic
//! (an overflow is one: fuzz builds check arithmetic); the bundle passes
//! only with the committed values.
#![no_main]

use std::sync::OnceLock;

use audit_verify::{MANIFEST_FILE, verify_bundle};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

mod v1_bundle;
use v1_bundle::Setup;

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| v1_bundle::setup("manifest-fields"))
}

/// A value near `committed`, or near an edge of u64, chosen by 3 bytes.
fn pick(data: &[u8], at: usize, committed: u64) -> u64 {
    let b = |i: usize| data.get(at * 3 + i).copied().unwrap_or(0);
    let k = u64::from(u16::from_le_bytes([b(1), b(2)]));
    match b(0) % 5 {
        0 => committed,
        1 => committed.wrapping_add(k),
        2 => committed.wrapping_sub(k),
        3 => k,
        _ => u64::MAX - k,
    }
}

fuzz_target!(|data: &[u8]| {
    let s = setup();
    let mut m = s.manifest.clone();
    let file = &mut m["files"][0];
    let (r0, r1, count) = (
        file["range"][0].as_u64().unwrap(),
        file["range"][1].as_u64().unwrap(),
        file["count"].as_u64().unwrap(),
    );
    file["range"] = serde_json::json!([pick(data, 0, r0), pick(data, 1, r1)]);
    file["count"] = pick(data, 2, count).into();
    let checkpoints = m["checkpoints"].as_u64().unwrap();
    m["checkpoints"] = pick(data, 3, checkpoints).into();
    let frontier = m["frontier"].as_array().unwrap().clone();
    m["frontier"] = match data.get(12).copied().unwrap_or(0) % 4 {
        0 => Value::Array(frontier),
        1 => Value::Array(frontier[..frontier.len().saturating_sub(1)].to_vec()),
        2 => Value::Array([frontier.clone(), frontier.clone()].concat()),
        _ => Value::Array(Vec::new()),
    };
    std::fs::write(s.dir.join(MANIFEST_FILE), serde_json::to_vec(&m).unwrap()).unwrap();
    let report = verify_bundle(&s.dir, &s.opts);
    if report.failure.is_none() {
        assert_eq!(m, s.manifest, "a bundle passed with another manifest");
    } else {
        let _ = report.exit_code();
    }
});
