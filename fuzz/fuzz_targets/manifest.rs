//! Fuzz target `manifest`: arbitrary bytes as the `manifest.json` of the
//! committed v1 bundle (vectors/bundle/v1, copied once to a temp dir),
//! verified with its TEST public key. Invariants: no panic; the bundle
//! passes only with a manifest that says what the committed one says
//! (`created_ts_ms` is advisory and may differ).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use audit_verify::{MANIFEST_FILE, PublicKey, TrustSet, VerifyOptions, verify_bundle};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

struct Setup {
    dir: PathBuf,
    opts: VerifyOptions,
    manifest: Value,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let vectors = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors/bundle");
        let dir = std::env::temp_dir().join(format!("ron-audit-fuzz-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for e in std::fs::read_dir(vectors.join("v1")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
        std::fs::remove_file(dir.join("README.md")).unwrap();
        let pem = std::fs::read_to_string(vectors.join("test-key.pub.pem")).unwrap();
        let opts = VerifyOptions {
            trust: TrustSet::new().with_key(PublicKey::parse(&pem).unwrap()),
            threads: 1,
        };
        let manifest = serde_json::from_slice(&std::fs::read(dir.join(MANIFEST_FILE)).unwrap()).unwrap();
        Setup { dir, opts, manifest }
    })
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
