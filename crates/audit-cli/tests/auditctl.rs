//! `auditctl` as a user runs it: the binary, its stdin, stdout, stderr and
//! exit codes (CLI-v1.md, FORMAT-v1.md section 7).

mod common;

use common::{auditctl, text};

const GENESIS: &str = r#"{"v":1,"ts_ms":1730246400000,"writer_id":"svc-gateway@inst-1","seq":1,"stream":"ingress","kind":"GetServed","actor":{"anon":true},"subject":{},"reason":"ok","attrs":{},"prev":"b3:0"}"#;

/// The seed's genesis record hashes to this (checked independently with the
/// Python `blake3` package, and in vectors/records.json).
const GENESIS_HASH: &str = "b3:0c1a9dc479041a90fc084e5090d29f743f179a895a73f31181110c02f65ee001";

#[test]
fn canon_prints_canonical_bytes_then_self_hash() {
    // Keys reversed, pretty-printed: the canonical form comes out.
    let input = r#"{ "prev": "b3:0", "attrs": {}, "reason": "ok", "subject": {}, "actor": {"anon": true},
        "kind": "GetServed", "stream": "ingress", "seq": 1, "writer_id": "svc-gateway@inst-1",
        "ts_ms": 1730246400000, "v": 1 }
"#;
    let out = auditctl(&["canon"], input.as_bytes());
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{GENESIS}\n{GENESIS_HASH}\n"));
    assert!(out.stderr.is_empty());
}

#[test]
fn canon_rejects_an_invalid_record_with_exit_1_and_the_offset() {
    let input = GENESIS.replace(r#""seq":1"#, r#""seq":2.0"#);
    let out = auditctl(&["canon"], input.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        text(&out.stderr),
        "auditctl canon: stdin: float at offset 68: numbers must be integers\n"
    );
}

#[test]
fn canon_prints_both_lines_then_fails_on_a_wrong_self_hash() {
    let wrong = "b3:".to_owned() + &"ab".repeat(32);
    let input = format!("{},\"self_hash\":\"{wrong}\"}}", &GENESIS[..GENESIS.len() - 1]);
    let out = auditctl(&["canon"], input.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), format!("{GENESIS}\n{GENESIS_HASH}\n"));
    let err = text(&out.stderr);
    assert!(
        err.contains("stream \"ingress\" seq 1") && err.contains(&wrong),
        "{err}"
    );
}

#[test]
fn canon_accepts_the_right_self_hash() {
    let input = format!(
        "{},\"self_hash\":\"{GENESIS_HASH}\"}}",
        &GENESIS[..GENESIS.len() - 1]
    );
    let out = auditctl(&["canon"], input.as_bytes());
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
}

#[test]
fn canon_json_is_one_object() {
    let out = auditctl(&["canon", "--json"], GENESIS.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["canonical"], GENESIS);
    assert_eq!(v["self_hash"], GENESIS_HASH);
    assert_eq!(v["ok"], true);
    let bad = auditctl(&["canon", "--json"], b"{\"v\":1,\"v\":1}");
    assert_eq!(bad.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&bad.stdout).expect("one JSON object");
    assert_eq!(v["error"], "duplicate_key");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(auditctl(&["no-such-command"], b"").status.code(), Some(2));
    assert_eq!(
        auditctl(&["demo", "--records", "zero"], b"").status.code(),
        Some(2)
    );
    assert_eq!(auditctl(&["demo", "--records", "0"], b"").status.code(), Some(2));
    assert_eq!(auditctl(&[], b"").status.code(), Some(2));
    let help = auditctl(&["--help"], b"");
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help.stdout).contains("canon"));
}

#[test]
fn demo_runs_every_step_and_catches_the_tamper() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("demo");
    let d = dir.to_str().expect("path");
    let out = auditctl(&["demo", "--dir", d, "--records", "3000"], b"");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let s = text(&out.stdout);
    for step in [
        "  1. made an Ed25519 key",
        "  2. generated 3000",
        "  3. appended 3000 records",
        "  4. reopened the WAL: 3000 records",
        "  5. exported stream gateway",
        "  6. verified the WAL offline",
        "  7. verified the bundle",
        "  8. proved from the bundle alone that stream gateway",
        "  9. proved the signed tree",
        " 10. changed one byte",
    ] {
        assert!(s.contains(step), "missing {step:?} in:\n{s}");
    }
    assert!(
        s.contains("rejected, exit 1"),
        "the tamper must be rejected:\n{s}"
    );
    assert!(!s.contains("NOT DETECTED") && !s.contains("FAILED"));
    // What it left behind verifies with auditctl itself.
    let pubkey = dir.join("demo-key.pub.pem");
    let v = auditctl(
        &[
            "verify",
            dir.join("wal").to_str().expect("p"),
            "--trust",
            pubkey.to_str().expect("p"),
        ],
        b"",
    );
    assert_eq!(v.status.code(), Some(0), "{}", text(&v.stderr));
    // Rerunning in its own directory is fine; a foreign non-empty one is refused.
    assert_eq!(
        auditctl(&["demo", "--dir", d, "--records", "100"], b"")
            .status
            .code(),
        Some(0)
    );
    let foreign = tmp.path().join("foreign");
    std::fs::create_dir(&foreign).expect("mkdir");
    std::fs::write(foreign.join("precious.txt"), b"keep").expect("write");
    let refused = auditctl(
        &["demo", "--dir", foreign.to_str().expect("p"), "--records", "100"],
        b"",
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("not empty"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(
        std::fs::read(foreign.join("precious.txt")).expect("read"),
        b"keep"
    );
}
