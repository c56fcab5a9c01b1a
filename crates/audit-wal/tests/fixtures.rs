//! Compatibility: the committed v1 WAL fixtures in `vectors/wal/` (clean,
//! torn and corrupt) read as `vectors/wal.json` says, through both the
//! shared segment reader and `WalSink::open`, which cuts the torn ones and
//! refuses the corrupt ones without changing a byte.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use audit_canon::Limits;
use audit_chain::{AuditStream, FsyncPolicy};
use audit_verify::{Chains, parse_segment_file_name, scan_segment};
use audit_wal::{OpenError, WalOptions, WalSink};
use serde_json::Value;

const REGEN: &str = "cargo xtask vectors";

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors")
}

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(vectors().join("wal.json")).expect("vectors/wal.json");
    let doc: Value = serde_json::from_str(&text).expect("json");
    doc["cases"].as_array().expect("cases").clone()
}

/// Copies a fixture into a fresh directory (opening may cut a torn tail).
fn copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("wal");
    std::fs::create_dir(&dir).expect("mkdir");
    for e in std::fs::read_dir(vectors().join("wal").join(name)).expect("fixture dir") {
        let e = e.expect("entry");
        if e.file_name() != "README.md" {
            std::fs::copy(e.path(), dir.join(e.file_name())).expect("copy");
        }
    }
    (tmp, dir)
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().into_string().expect("name"),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .filter(|(n, _)| n != "wal.lock")
        .collect();
    v.sort();
    v
}

#[test]
fn the_shared_reader_finds_what_the_fixtures_say() {
    let cases = cases();
    assert!(cases.len() >= 10);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let (_tmp, dir) = copy(name);
        let mut segs: Vec<(u64, Vec<u8>)> = std::fs::read_dir(&dir)
            .expect("dir")
            .filter_map(|e| {
                let e = e.ok()?;
                let n = parse_segment_file_name(e.file_name().to_str()?)?;
                Some((n, std::fs::read(e.path()).ok()?))
            })
            .collect();
        segs.sort();
        let last = segs.last().map_or(0, |s| s.0);
        let mut chains = Chains::new();
        let mut frames = 0;
        let mut first_err = None;
        let mut torn = None;
        for (i, (n, bytes)) in segs.iter().enumerate() {
            if *n != i as u64 + 1 {
                first_err = Some(("missing_segment".to_owned(), i as u64 + 1, 0));
                break;
            }
            match scan_segment(bytes, *n, *n == last, &mut chains, &Limits::default(), |_, _| {
                frames += 1
            }) {
                Ok(s) => torn = s.torn.map(|t| (t.offset, t.len)),
                Err(e) => {
                    first_err = Some((e.code().to_owned(), e.segment(), e.offset()));
                    break;
                }
            }
        }
        let want_err = &case["want_err"];
        match first_err {
            Some((code, seg, off)) => {
                let want = (
                    want_err["code"].as_str(),
                    want_err["segment"].as_u64(),
                    want_err["offset"].as_u64(),
                );
                assert_eq!(
                    want,
                    (Some(code.as_str()), Some(seg), Some(off)),
                    "{name}: differs from vectors/wal.json; if intended, run `{REGEN}`"
                );
            }
            None => {
                assert!(
                    want_err.is_null(),
                    "{name}: expected {want_err}, read cleanly; run `{REGEN}`?"
                );
                assert_eq!(frames, case["frames"].as_array().expect("frames").len(), "{name}");
                let want_torn = case["torn"]
                    .as_object()
                    .map(|t| (t["offset"].as_u64().expect("o"), t["len"].as_u64().expect("l")));
                assert_eq!(torn, want_torn, "{name}");
                for s in case["streams"].as_array().expect("streams") {
                    let h = chains
                        .get(
                            s["writer_id"].as_str().expect("w"),
                            s["stream"].as_str().expect("s"),
                        )
                        .expect("stream");
                    assert_eq!(
                        Some(h.head.to_hash_string().as_str()),
                        s["head"].as_str(),
                        "{name}"
                    );
                    let root = h.frontier.root().map(|r| r.to_hash_string());
                    assert_eq!(root.as_deref(), s["root"].as_str(), "{name}");
                }
            }
        }
    }
}

#[test]
fn opening_the_fixtures_cuts_only_torn_tails_and_refuses_corruption_unchanged() {
    let opts = WalOptions {
        rotate_bytes: 2048,
        fsync: FsyncPolicy::Always,
    };
    for case in cases() {
        let name = case["name"].as_str().expect("name");
        let (_tmp, dir) = copy(name);
        let before = snapshot(&dir);
        let want_err = &case["want_err"];
        match WalSink::open(&dir, opts) {
            Ok((wal, report)) => {
                assert!(
                    want_err.is_null(),
                    "{name}: opened, but the fixture is corrupt: {want_err}"
                );
                let frames = case["frames"].as_array().expect("frames").len() as u64;
                assert_eq!(report.records, frames, "{name}");
                let want_torn = case["torn"]
                    .as_object()
                    .map(|t| t["offset"].as_u64().expect("offset"));
                assert_eq!(report.torn.map(|t| t.offset), want_torn, "{name}");
                for s in case["streams"].as_array().expect("streams") {
                    let st = wal
                        .chain_state(
                            s["writer_id"].as_str().expect("w"),
                            s["stream"].as_str().expect("s"),
                        )
                        .expect("stream recovered");
                    assert_eq!(Some(st.seq()), s["seq"].as_u64(), "{name}");
                    let root = st.frontier().root().map(|r| r.to_hash_string());
                    assert_eq!(root.as_deref(), s["root"].as_str(), "{name}");
                }
                let wal = Arc::new(wal);
                let again = audit_chain::Emitter::new("svc-gateway@inst-1", wal.clone(), Limits::default())
                    .expect("emitter")
                    .emit(audit_chain::Event::new("ingress", "GetServed", "ok"));
                assert!(again.is_ok(), "{name}: the log does not continue: {again:?}");
            }
            Err(e) => {
                let code = match &e {
                    OpenError::Corrupt { source, .. } => {
                        assert_eq!(
                            (Some(source.segment()), Some(source.offset())),
                            (want_err["segment"].as_u64(), want_err["offset"].as_u64()),
                            "{name}: {e}"
                        );
                        source.code()
                    }
                    OpenError::MissingSegment { number, .. } => {
                        assert_eq!(Some(*number), want_err["segment"].as_u64(), "{name}");
                        e.code()
                    }
                    other => panic!("{name}: {other}"),
                };
                assert_eq!(Some(code), want_err["code"].as_str(), "{name}: {e}");
                assert_eq!(snapshot(&dir), before, "{name}: a refused open changed files");
            }
        }
    }
}
