//! Bundles: whole checkpoints of one stream, verifiable offline from any
//! checkpoint boundary (the frontier makes later starts work), written
//! atomically; and every way of tampering with one fails with its class.

mod common;

use common::fails;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use audit_canon::{Digest, Limits};
use audit_chain::{AuditSink, Emitter, Event, FsyncPolicy, Privacy};
use audit_export::{BundleRequest, Cadence, Checkpointer, Ed25519Signer, ExportError, Signer, export_bundle};
use audit_verify::{FailureClass, TrustSet, VerifyOptions, verify_bundle, verify_path};
use audit_wal::{WalOptions, WalSink};

struct Fx {
    tmp: tempfile::TempDir,
    wal: Arc<WalSink>,
    key: Arc<Ed25519Signer>,
}

/// Stream "a": 3 checkpoints (seq 1..=10, 11..=20, 21..=25); stream "b" too.
fn fx() -> Fx {
    let tmp = tempfile::tempdir().expect("tempdir");
    let wal = Arc::new(
        WalSink::open(
            tmp.path().join("wal"),
            WalOptions {
                rotate_bytes: 4096,
                fsync: FsyncPolicy::OnCheckpoint,
            },
        )
        .expect("open")
        .0,
    );
    let key = Arc::new(Ed25519Signer::generate().expect("key"));
    let signer: Arc<dyn Signer> = key.clone();
    let (cp, _) = Checkpointer::open(wal.clone(), vec![signer], Cadence::default()).expect("cp");
    let e = Emitter::new("svc@1", wal.clone(), Limits::default())
        .expect("emitter")
        .with_privacy(Privacy::off());
    for n in [20u64, 20, 10] {
        for i in 0..n {
            e.emit(Event::new(["a", "b"][(i % 2) as usize], "GetServed", "ok").attr("i", i))
                .expect("emit");
        }
        cp.checkpoint_all(7).expect("checkpoint");
    }
    Fx { tmp, wal, key }
}

impl Fx {
    fn opts(&self) -> VerifyOptions {
        VerifyOptions {
            trust: TrustSet::new().with_key(self.key.public_key().clone()),
            threads: 0,
        }
    }
    fn export(&self, name: &str, from: Option<u64>, to: Option<u64>) -> Result<PathBuf, ExportError> {
        let out = self.tmp.path().join(name);
        let req = BundleRequest {
            writer_id: "svc@1".into(),
            stream: "a".into(),
            from,
            to,
        };
        export_bundle(&self.wal, &req, &out, 9).map(|_| out)
    }
}

fn rewrite_manifest(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let p = dir.join("manifest.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).expect("read")).expect("json");
    f(&mut v);
    std::fs::write(&p, serde_json::to_vec(&v).expect("json")).expect("write");
}

/// Re-states a segment file's bytes and digest in the manifest.
fn refresh_manifest(dir: &Path) {
    let bytes = std::fs::read(dir.join("records-000001.seg")).expect("read");
    rewrite_manifest(dir, |v| {
        v["files"][0]["bytes"] = bytes.len().into();
        v["files"][0]["b3"] = Digest::of(&bytes).to_hash_string().into();
    });
}

#[test]
fn whole_stream_and_later_start_bundles_verify_offline() {
    let fx = fx();
    let all = fx.export("all", None, None).expect("export");
    let r = verify_bundle(&all, &fx.opts());
    assert_eq!(r.failure, None);
    assert_eq!(r.streams.len(), 1);
    let s = &r.streams[0];
    assert_eq!(
        (
            s.stream.as_str(),
            s.first_seq,
            s.last_seq,
            s.records,
            s.checkpoints
        ),
        ("a", 1, 25, 25, 3)
    );
    assert_eq!(
        verify_path(&all, &fx.opts()).failure,
        None,
        "told apart from a WAL by its manifest"
    );
    // From the second checkpoint: the frontier stands in for seq 1..=10.
    let later = fx.export("later", Some(11), Some(20)).expect("export");
    let r = verify_bundle(&later, &fx.opts());
    assert_eq!(r.failure, None);
    assert_eq!(
        (
            r.streams[0].first_seq,
            r.streams[0].last_seq,
            r.streams[0].checkpoints
        ),
        (11, 20, 1)
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(later.join("manifest.json")).expect("m")).expect("json");
    assert_eq!(m["frontier"].as_array().map(Vec::len), Some(2), "10 = 8 + 2");
    // No temporary directory is left behind.
    let left: Vec<_> = std::fs::read_dir(fx.tmp.path())
        .expect("dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn export_refuses_unaligned_ranges_and_non_empty_destinations() {
    let fx = fx();
    assert!(matches!(
        fx.export("x", Some(12), None),
        Err(ExportError::NotAligned {
            seq: 12,
            which: "start",
            ..
        })
    ));
    assert!(matches!(
        fx.export("y", None, Some(19)),
        Err(ExportError::NotAligned {
            seq: 19,
            which: "end",
            ..
        })
    ));
    // Both ends are checkpoint boundaries, in the wrong order.
    let empty = fx.export("z", Some(11), Some(10));
    assert!(matches!(
        empty,
        Err(ExportError::EmptyRange { from: 11, to: 10, .. })
    ));
    assert_eq!(
        empty.expect_err("empty").to_string(),
        r#"stream "a": the range 11..=10 is empty (from is after to)"#
    );
    let busy = fx.tmp.path().join("busy");
    std::fs::create_dir(&busy).expect("mkdir");
    std::fs::write(busy.join("f"), b"x").expect("write");
    assert!(matches!(
        fx.export("busy", None, None),
        Err(ExportError::NotEmpty { .. })
    ));
    assert_eq!(std::fs::read(busy.join("f")).expect("read"), b"x");
    // A destination whose parent does not exist is named, not the
    // temporary directory beside it.
    let err = fx.export("no-such-dir/b", None, None).expect_err("no parent");
    assert!(
        matches!(&err, ExportError::Io { path, .. } if *path == fx.tmp.path().join("no-such-dir/b")),
        "{err}"
    );
    std::fs::create_dir(fx.tmp.path().join("empty")).expect("mkdir");
    assert!(
        fx.export("empty", None, None).is_ok(),
        "an empty directory is fine"
    );
    // A damaged last checkpoint line (its newline flipped) is refused, not
    // skipped as if a crash had torn it.
    let cps = fx.tmp.path().join("wal/checkpoints.jsonl");
    let good = std::fs::read(&cps).expect("read");
    let mut bad = good.clone();
    *bad.last_mut().expect("bytes") ^= 0x01;
    std::fs::write(&cps, &bad).expect("write");
    let lines = good.iter().filter(|&&b| b == b'\n').count();
    let err = fx.export("damaged", None, None).expect_err("damaged checkpoints");
    assert!(
        matches!(&err, ExportError::Checkpoints { line, .. } if *line == lines),
        "{err}"
    );
    std::fs::write(&cps, &good).expect("restore");
}

/// A stored checkpoint that does not hold (edited after signing: its root,
/// head or link) is refused by export, naming it, and nothing is written:
/// the bundle would fail verification. Each edit keeps the line canonical.
#[test]
fn export_refuses_checkpoints_that_do_not_hold_and_writes_nothing() {
    let fx = fx();
    let cps = fx.tmp.path().join("wal/checkpoints.jsonl");
    let good = std::fs::read_to_string(&cps).expect("read");
    // Stream "a"'s second checkpoint (seq 11..=20) is line 3.
    let line = good.lines().nth(2).expect("line 3");
    assert!(line.contains(r#""stream":"a","range":[11,20]"#), "{line}");
    let check = |field: &str, want: &str| {
        // One hex digit of the field's value, changed.
        let at = line.find(&format!("\"{field}\":\"b3:")).expect("field") + field.len() + 7;
        let digit = if &line[at..=at] == "0" { "1" } else { "0" };
        let edited = format!("{}{digit}{}", &line[..at], &line[at + 1..]);
        std::fs::write(&cps, good.replacen(line, &edited, 1)).expect("write");
        let out = fx.tmp.path().join(field);
        let err = fx.export(field, None, Some(20)).expect_err(field);
        assert!(
            matches!(
                &err,
                ExportError::Checkpoint {
                    start: 11,
                    end: 20,
                    ..
                }
            ),
            "{field}: {err}"
        );
        assert!(err.to_string().ends_with(want), "{field}: {err}");
        assert!(!out.exists(), "{field}: nothing is written");
        // The verifier agrees that such a WAL does not hold.
        let r = verify_path(&fx.tmp.path().join("wal"), &VerifyOptions::default());
        assert_eq!(
            r.failure.map(|f| f.class),
            Some(FailureClass::Integrity),
            "{field}"
        );
    };
    check("root", "has a root that is not the root of the records");
    check("head", "has a head that is not its last record's self_hash");
    check(
        "prev_checkpoint",
        "does not continue the checkpoint before it (its start or prev_checkpoint)",
    );
    std::fs::write(&cps, &good).expect("restore");
    assert!(fx.export("whole", None, None).is_ok());
}

#[test]
fn a_manifest_that_disagrees_with_the_files_is_a_structure_failure() {
    let fx = fx();
    let b = fx.export("b", None, None).expect("export");
    let orig = std::fs::read(b.join("manifest.json")).expect("read");
    for (what, edit) in [
        (
            "digest",
            Box::new(|v: &mut serde_json::Value| {
                v["files"][0]["b3"] = format!("b3:{}", "0".repeat(64)).into()
            }) as Box<dyn Fn(&mut serde_json::Value)>,
        ),
        (
            "bytes",
            Box::new(|v: &mut serde_json::Value| v["files"][0]["bytes"] = 5.into()),
        ),
        (
            "count",
            Box::new(|v: &mut serde_json::Value| v["files"][0]["count"] = 24.into()),
        ),
        (
            "range",
            Box::new(|v: &mut serde_json::Value| v["files"][0]["range"] = serde_json::json!([2, 26])),
        ),
        (
            "checkpoints",
            Box::new(|v: &mut serde_json::Value| v["checkpoints"] = 2.into()),
        ),
        (
            "range from seq 0",
            Box::new(|v: &mut serde_json::Value| {
                let count = v["files"][0]["count"].as_u64().expect("count");
                v["files"][0]["range"] = serde_json::json!([0, count - 1]);
            }),
        ),
        (
            "range from 0 to u64::MAX",
            Box::new(|v: &mut serde_json::Value| v["files"][0]["range"] = serde_json::json!([0, u64::MAX])),
        ),
        (
            "range up to u64::MAX",
            Box::new(|v: &mut serde_json::Value| {
                let count = v["files"][0]["count"].as_u64().expect("count");
                v["files"][0]["range"] = serde_json::json!([u64::MAX - (count - 1), u64::MAX]);
            }),
        ),
    ] {
        std::fs::write(b.join("manifest.json"), &orig).expect("restore");
        rewrite_manifest(&b, |v| edit(v));
        let r = verify_bundle(&b, &fx.opts());
        let f = r.failure.as_ref().unwrap_or_else(|| panic!("{what}: verified"));
        // A moved range start also moves the frontier the manifest needs.
        assert!(
            f.class == FailureClass::Structure && f.code.starts_with("manifest"),
            "{what}: {f}"
        );
        assert_eq!(r.exit_code(), 4, "{what}");
    }
    // A manifest larger than any bundle's is refused without being loaded
    // (trailing whitespace would otherwise parse).
    let mut giant = orig.clone();
    giant.resize((64 << 20) + 1, b' ');
    std::fs::write(b.join("manifest.json"), &giant).expect("write");
    let r = verify_bundle(&b, &fx.opts());
    let f = r.failure.as_ref().expect("giant manifest");
    assert!(
        f.code == "manifest" && f.reason.contains("more than any bundle manifest"),
        "{f}"
    );
    std::fs::write(b.join("manifest.json"), &orig).expect("restore");
    std::fs::remove_file(b.join("records-000001.seg")).expect("rm");
    fails(
        &verify_bundle(&b, &fx.opts()),
        FailureClass::Structure,
        "missing_file",
    );
}

#[test]
fn tampered_records_foreign_records_and_a_wrong_frontier_are_integrity_failures() {
    let fx = fx();
    // A flipped byte: found at its frame, whether or not the manifest's
    // digest was restated to match.
    let b = fx.export("flip", None, None).expect("export");
    let seg = b.join("records-000001.seg");
    let mut bytes = std::fs::read(&seg).expect("read");
    let at = bytes
        .windows(12)
        .position(|w| w == b"\"reason\":\"ok")
        .expect("reason")
        + 10;
    bytes[at] ^= 1;
    std::fs::write(&seg, &bytes).expect("write");
    fails(
        &verify_bundle(&b, &fx.opts()),
        FailureClass::Integrity,
        "frame_digest",
    );
    refresh_manifest(&b);
    fails(
        &verify_bundle(&b, &fx.opts()),
        FailureClass::Integrity,
        "frame_digest",
    );
    // Another stream's records under this stream's manifest.
    let a = fx.export("a", None, None).expect("export");
    let req = BundleRequest {
        writer_id: "svc@1".into(),
        stream: "b".into(),
        from: None,
        to: None,
    };
    let other = fx.tmp.path().join("other");
    export_bundle(&fx.wal, &req, &other, 9).expect("export b");
    std::fs::copy(other.join("records-000001.seg"), a.join("records-000001.seg")).expect("copy");
    refresh_manifest(&a);
    fails(
        &verify_bundle(&a, &fx.opts()),
        FailureClass::Integrity,
        "foreign_record",
    );
    // A frontier that does not match: the first checkpoint's root fails.
    let later = fx.export("later", Some(11), None).expect("export");
    rewrite_manifest(&later, |v| {
        v["frontier"][0] = format!("b3:{}", "ab".repeat(32)).into()
    });
    fails(
        &verify_bundle(&later, &fx.opts()),
        FailureClass::Integrity,
        "checkpoint_root",
    );
}

#[test]
fn bundle_signatures_need_a_trusted_key() {
    let fx = fx();
    let b = fx.export("b", None, None).expect("export");
    let stranger = Ed25519Signer::generate().expect("key");
    let r = verify_bundle(
        &b,
        &VerifyOptions {
            trust: TrustSet::new().with_key(stranger.public_key().clone()),
            threads: 0,
        },
    );
    fails(&r, FailureClass::Trust, "checkpoint_signature");
    assert_eq!(r.exit_code(), 3);
    // Unchecked without keys, but the records and roots still verify.
    let r = verify_bundle(&b, &VerifyOptions::default());
    assert_eq!((r.failure, r.signatures_checked), (None, false));
    fx.wal.flush().expect("flush");
}

#[test]
fn a_checkpoint_over_records_the_wal_does_not_hold_is_refused_and_nothing_is_written() {
    let fx = fx();
    // A WAL with only 3 records of stream "a", beside the checkpoints of
    // the fixture's (which cover 1..=10 first).
    let short = fx.tmp.path().join("short");
    {
        let opts = WalOptions {
            rotate_bytes: 4096,
            fsync: FsyncPolicy::OnCheckpoint,
        };
        let wal = Arc::new(WalSink::open(&short, opts).expect("open").0);
        let e = Emitter::new("svc@1", wal.clone(), Limits::default())
            .expect("emitter")
            .with_privacy(Privacy::off());
        for i in 0..3u64 {
            e.emit(Event::new("a", "GetServed", "ok").attr("i", i))
                .expect("emit");
        }
        wal.close().expect("close");
    }
    let cps = audit_verify::CHECKPOINTS_FILE;
    std::fs::copy(fx.wal.dir().join(cps), short.join(cps)).expect("copy");
    let (wal, _) = WalSink::open(
        &short,
        WalOptions {
            rotate_bytes: 4096,
            fsync: FsyncPolicy::OnCheckpoint,
        },
    )
    .expect("reopen");
    let out = fx.tmp.path().join("bundle-short");
    let req = BundleRequest {
        writer_id: "svc@1".into(),
        stream: "a".into(),
        from: Some(1),
        to: Some(10),
    };
    let e = export_bundle(&wal, &req, &out, 9).expect_err("refused");
    assert!(
        matches!(&e, ExportError::Missing { stream, seq: 4 } if stream == "a"),
        "{e}"
    );
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(fx.tmp.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Splits a bundle's one records file into two after its `k`-th frame
/// (each file with its own header) and states both in the manifest.
fn split_records(dir: &Path, k: usize) -> [(u64, u64); 2] {
    use audit_verify::{SegmentReader, Step, encode_header};
    let one = dir.join("records-000001.seg");
    let bytes = std::fs::read(&one).expect("read");
    let mut r = SegmentReader::new(&bytes, 1).expect("header");
    let mut offsets = Vec::new();
    let mut seqs = Vec::new();
    while let Ok(Step::Frame(f)) = r.next_step() {
        offsets.push(f.offset as usize);
        seqs.push(f.seq);
    }
    let cut = offsets[k];
    let first = bytes[..cut].to_vec();
    let mut second = encode_header(2).to_vec();
    second.extend_from_slice(&bytes[cut..]);
    std::fs::write(&one, &first).expect("write");
    std::fs::write(dir.join("records-000002.seg"), &second).expect("write");
    let ranges = [(seqs[0], seqs[k - 1]), (seqs[k], seqs[seqs.len() - 1])];
    rewrite_manifest(dir, |v| {
        let entry = |name: &str, b: &[u8], (lo, hi): (u64, u64)| {
            serde_json::json!({
                "file": name, "bytes": b.len(), "b3": Digest::of(b).to_hash_string(),
                "range": [lo, hi], "count": hi - lo + 1,
            })
        };
        v["files"] = serde_json::json!([
            entry("records-000001.seg", &first, ranges[0]),
            entry("records-000002.seg", &second, ranges[1]),
        ]);
    });
    ranges
}

#[test]
fn a_bundle_over_two_record_files_verifies_and_a_gap_between_them_is_named() {
    let fx = fx();
    let b = fx.export("two", Some(11), None).expect("export");
    let ranges = split_records(&b, 4);
    assert_eq!(ranges, [(11, 14), (15, 25)]);
    let r = verify_bundle(&b, &fx.opts());
    assert!(r.failure.is_none(), "{:?}", r.failure);
    assert_eq!((r.records(), r.streams[0].first_seq), (15, 11));
    // The second file's range moved one on: a gap the manifest states.
    rewrite_manifest(&b, |v| v["files"][1]["range"] = serde_json::json!([16, 26]));
    let f = verify_bundle(&b, &fx.opts()).failure.expect("a gap");
    assert_eq!(f.code, "manifest_mismatch");
    assert!(
        f.reason
            .ends_with("range starts at 16, the previous file ended at 14"),
        "{f}"
    );
}
