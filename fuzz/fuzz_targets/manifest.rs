//! Fuzz target `manifest`: arbitrary bytes as the `manifest.json` of the
//! committed v1 bundle (vectors/bundle/v1, copied once to a temp dir),
//! verified with its TEST public key. Invariants: no panic; the bundle
//! passes only with a manifest that says what the committed one says
//! (`created_ts_ms` is advisory and may differ).
#![no_main]

use std::sync::OnceLock;

use audit_verify::{MANIFEST_FILE, verify_bundle};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

mod v1_bundle;
use v1_bundle::Setup;

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| v1_bundle::setup("manifest"))
}

fn without_ts(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("created_ts_ms");
    }
    v
}

fuzz_target!(|data: &[u8]| {
    let s = setup();
    std::fs::write(s.dir.join(MANIFEST_FILE), data).unwrap();
    let report = verify_bundle(&s.dir, &s.opts);
    if report.failure.is_none() {
        let got: Value = serde_json::from_slice(data).expect("a passing manifest is JSON");
        assert_eq!(without_ts(got), without_ts(s.manifest.clone()));
    } else {
        let _ = report.exit_code();
    }
});
