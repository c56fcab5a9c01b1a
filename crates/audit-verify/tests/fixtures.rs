//! Compatibility: the committed v1 fixtures verify (or fail) as they did
//! when they were written: the openssl-keyed bundle, and the WAL fixtures
//! of `vectors/wal.json` through the directory verifier.

use std::path::{Path, PathBuf};

use audit_verify::{FailureClass, PublicKey, TrustSet, VerifyOptions, verify_bundle, verify_wal_dir};

const REGEN: &str = "cargo xtask vectors";

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors")
}

#[test]
fn the_committed_bundle_verifies_with_the_openssl_public_key() {
    let pem = std::fs::read_to_string(vectors().join("bundle/test-key.pub.pem")).expect("public key");
    let key = PublicKey::parse(&pem).expect("openssl SPKI PEM");
    let dir = vectors().join("bundle/v1");
    let r = verify_bundle(
        &dir,
        &VerifyOptions {
            trust: TrustSet::new().with_key(key.clone()),
            threads: 0,
        },
    );
    assert_eq!(
        r.failure, None,
        "the committed bundle no longer verifies; if the format changed on purpose, run `{REGEN}`"
    );
    let s = &r.streams[0];
    assert_eq!((s.stream.as_str(), s.first_seq, s.checkpoints), ("ingress", 4, 2));
    assert!(s.kids_seen.contains(key.kid()));
    // A key given as 64 hex works the same.
    let hex = TrustSet::new().with_key(PublicKey::parse(&key.to_hex()).expect("hex"));
    assert_eq!(
        verify_bundle(
            &dir,
            &VerifyOptions {
                trust: hex,
                threads: 1
            }
        )
        .failure,
        None
    );
}

#[test]
fn the_wal_fixtures_verify_or_fail_with_their_class() {
    let text = std::fs::read_to_string(vectors().join("wal.json")).expect("wal.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    for case in doc["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        let r = verify_wal_dir(&vectors().join("wal").join(name), &VerifyOptions::default());
        match case["want_err"]["code"].as_str() {
            None => {
                assert_eq!(r.failure, None, "{name}");
                assert_eq!(
                    r.records(),
                    case["frames"].as_array().expect("frames").len() as u64,
                    "{name}"
                );
                assert_eq!(r.torn.is_some(), !case["torn"].is_null(), "{name}");
            }
            Some(code) => {
                let f = r.failure.unwrap_or_else(|| panic!("{name}: verified"));
                assert_eq!(f.code, code, "{name}: {f}");
                let want = match code {
                    "frame_digest" | "frame_record" | "chain_link" => FailureClass::Integrity,
                    _ => FailureClass::Structure,
                };
                assert_eq!(f.class, want, "{name}: {f}");
                assert_eq!(
                    f.offset.unwrap_or(0),
                    case["want_err"]["offset"].as_u64().expect("offset"),
                    "{name}"
                );
            }
        }
    }
}
