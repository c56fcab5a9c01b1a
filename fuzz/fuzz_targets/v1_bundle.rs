//! Shared by the `manifest` and `manifest_fields` fuzz targets: the
//! committed v1 bundle (vectors/bundle/v1), copied once to a temp dir of
//! the target's own, its TEST public key as the trust set, and its
//! manifest as JSON.

use std::path::PathBuf;

use audit_verify::{MANIFEST_FILE, PublicKey, TrustSet, VerifyOptions};
use serde_json::Value;

pub struct Setup {
    pub dir: PathBuf,
    pub opts: VerifyOptions,
    pub manifest: Value,
}

/// Copies the bundle to a temp dir named after `target` and the process.
pub fn setup(target: &str) -> Setup {
    let vectors = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors/bundle");
    let dir = std::env::temp_dir().join(format!("ron-audit-fuzz-{target}-{}", std::process::id()));
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
}
