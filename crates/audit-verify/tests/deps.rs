//! The verifier's dependency tree stays small: `cargo metadata` shows it
//! never pulls in the writer side.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

/// Crates a third party must never have to audit to use the verifier.
const FORBIDDEN: [&str; 6] = [
    "audit-wal",
    "audit-chain",
    "audit-export",
    "ron-audit",
    "audit-cli",
    "crossbeam-channel",
];

#[test]
fn audit_verify_depends_on_audit_canon_and_never_on_the_writer_side() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata json");
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().expect("id"), p["name"].as_str().expect("name")))
        .collect();
    let nodes: HashMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| (n["id"].as_str().expect("id"), n))
        .collect();
    let root = names
        .iter()
        .find(|(_, n)| **n == "audit-verify")
        .map(|(id, _)| *id)
        .expect("audit-verify");
    // Walk normal (non-dev, non-build) dependencies only.
    let mut seen = BTreeSet::new();
    let mut todo = vec![root];
    while let Some(id) = todo.pop() {
        for dep in nodes[id]["deps"].as_array().expect("deps") {
            let normal = dep["dep_kinds"]
                .as_array()
                .expect("kinds")
                .iter()
                .any(|k| k["kind"].is_null());
            let pkg = dep["pkg"].as_str().expect("pkg");
            if normal && seen.insert(names[pkg]) {
                todo.push(pkg);
            }
        }
    }
    assert!(seen.contains("audit-canon"), "{seen:?}");
    for bad in FORBIDDEN {
        assert!(!seen.contains(bad), "audit-verify depends on {bad}: {seen:?}");
    }
    // A guard against growth: audit-canon's dependencies (~29 crates, most
    // of them serde's and blake3's) plus the RustCrypto Ed25519 stack
    // (ed25519-dalek, curve25519-dalek, pkcs8/spki/der for PEM keys: ~18)
    // and memmap2. Raise it only with a reason in the commit.
    assert!(
        seen.len() <= 50,
        "audit-verify pulls in {} crates: {seen:?}",
        seen.len()
    );
    eprintln!("audit-verify depends on {} crates: {seen:?}", seen.len());
}
