//! Proofs: every record proves against every checkpoint that covers it,
//! every pair of checkpoints proves consistent, offline and signed; any
//! tampered byte of a proof fails with its class.

use std::sync::Arc;

use audit_canon::Limits;
use audit_chain::{AuditSink, Emitter, Event, FsyncPolicy, Privacy};
use audit_export::{
    CHECKPOINTS_FILE, Cadence, Checkpointer, Ed25519Signer, ProveError, Prover, Signer, consistency_proof,
    inclusion_proof, read_stream_dir, read_stream_leaves, stream_checkpoints,
};
use audit_verify::{FailureClass, ProofError, ProofOutcome, TrustSet, verify_proof};
use audit_wal::{WalOptions, WalSink};

fn setup() -> (tempfile::TempDir, Arc<WalSink>, Arc<Ed25519Signer>, Vec<u64>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let wal = Arc::new(
        WalSink::open(
            tmp.path().join("wal"),
            WalOptions {
                // Small segments: the records span several, sealed (mapped) and open.
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
    let mut ends = Vec::new();
    let mut seq = 0;
    for n in [1u64, 4, 8, 3, 17] {
        for i in 0..n {
            e.emit(Event::new("s", "GetServed", "ok").attr("i", i))
                .expect("emit");
        }
        seq += n;
        cp.checkpoint_all(5).expect("checkpoint");
        ends.push(seq);
    }
    wal.flush().expect("flush");
    (tmp, wal, key, ends)
}

#[test]
fn every_record_and_every_checkpoint_pair_proves() {
    let (_t, wal, key, ends) = setup();
    let trust = TrustSet::new().with_key(key.public_key().clone());
    for &end in &ends {
        for seq in 1..=end {
            let p = inclusion_proof(&wal, "svc@1", "s", seq, Some(end)).expect("prove");
            match verify_proof(p.as_bytes(), &trust) {
                Ok(ProofOutcome::Inclusion {
                    seq: s,
                    tree_size,
                    kids,
                    ..
                }) => {
                    assert_eq!((s, tree_size, kids), (seq, end, vec![key.kid().to_owned()]));
                }
                other => panic!("seq {seq} in {end}: {other:?}"),
            }
        }
    }
    for (i, &a) in ends.iter().enumerate() {
        for &b in &ends[i..] {
            let p = consistency_proof(&wal, "svc@1", "s", a, b).expect("prove");
            let out = verify_proof(p.as_bytes(), &trust).unwrap_or_else(|e| panic!("{a}->{b}: {e}"));
            assert!(
                matches!(out, ProofOutcome::Consistency { old_size, new_size, .. } if (old_size, new_size) == (a, b))
            );
        }
    }
    // Default checkpoint: the latest.
    let p = inclusion_proof(&wal, "svc@1", "s", 2, None).expect("prove");
    assert!(matches!(
        verify_proof(p.as_bytes(), &trust),
        Ok(ProofOutcome::Inclusion { tree_size: 33, .. })
    ));
    assert!(matches!(
        inclusion_proof(&wal, "svc@1", "s", 34, None),
        Err(ProveError::NotCovered { .. })
    ));
    assert!(matches!(
        inclusion_proof(&wal, "svc@1", "s", 1, Some(6)),
        Err(ProveError::NoCheckpoint { .. })
    ));
    assert!(matches!(
        consistency_proof(&wal, "svc@1", "s", 13, 5),
        Err(ProveError::Order { .. })
    ));
}

#[test]
fn one_prover_over_the_directory_gives_the_proofs_of_the_open_wal() {
    let (_t, wal, _key, ends) = setup();
    let (writer, records) = read_stream_dir(wal.dir(), None, "s").expect("read");
    assert_eq!(writer, "svc@1");
    let cps = stream_checkpoints(&wal.dir().join(CHECKPOINTS_FILE), "svc@1", "s").expect("checkpoints");
    let prover = Prover::new("s", &records, &cps);
    for &end in &ends {
        for seq in 1..=end {
            assert_eq!(
                prover.inclusion(seq, Some(end)).expect("prove"),
                inclusion_proof(&wal, "svc@1", "s", seq, Some(end)).expect("prove"),
                "seq {seq} in {end}"
            );
        }
        for &old in ends.iter().filter(|&&e| e <= end) {
            assert_eq!(
                prover.consistency(old, end).expect("prove"),
                consistency_proof(&wal, "svc@1", "s", old, end).expect("prove"),
                "{old} to {end}"
            );
        }
    }
    assert!(matches!(
        prover.inclusion(34, None),
        Err(ProveError::NotCovered {
            seq: 34,
            size: 33,
            ..
        })
    ));
    assert!(matches!(
        prover.consistency(13, 5),
        Err(ProveError::Order { old: 13, new: 5 })
    ));
    let e = prover.inclusion(1, Some(6)).expect_err("no checkpoint ends at 6");
    assert!(matches!(&e, ProveError::NoCheckpoint { end: 6, ends, .. } if *ends == ends_of(&cps)));
    let listed: Vec<String> = ends.iter().map(u64::to_string).collect();
    assert_eq!(
        e.to_string(),
        format!(
            "stream \"s\": no checkpoint ends at seq 6 (checkpoints end at {})",
            listed.join(", ")
        )
    );
    // A stream with records and no checkpoint yet says so.
    let bare = Prover::new("s", &records, &[]);
    for e in [
        bare.inclusion(1, None).expect_err("none"),
        bare.consistency(1, 2).expect_err("none"),
    ] {
        assert_eq!(
            e.to_string(),
            "stream \"s\" has no checkpoints yet (auditctl checkpoint makes them)"
        );
    }
}

fn ends_of(cps: &[audit_verify::SignedCheckpoint]) -> Vec<u64> {
    cps.iter().map(|c| c.body.end_seq()).collect()
}

#[test]
fn a_prover_over_digests_proves_the_records_it_kept_and_refuses_the_others() {
    let (_t, wal, _key, ends) = setup();
    let (segments, _) = wal.end();
    assert!(segments >= 3, "{segments} segments");
    let (_, records) = read_stream_dir(wal.dir(), None, "s").expect("read");
    let (writer, leaves) = read_stream_leaves(wal.dir(), None, "s", |s| s % 2 == 1).expect("read");
    assert_eq!(writer, "svc@1");
    let hashes: Vec<_> = records.iter().map(|r| r.self_hash).collect();
    assert_eq!(leaves.self_hashes, hashes);
    let odd: Vec<u64> = (1..=33).filter(|s| s % 2 == 1).collect();
    assert_eq!(leaves.kept.keys().copied().collect::<Vec<_>>(), odd);
    for (&seq, bytes) in &leaves.kept {
        assert_eq!(bytes, &records[seq as usize - 1].canonical);
    }
    let cps = stream_checkpoints(&wal.dir().join(CHECKPOINTS_FILE), "svc@1", "s").expect("checkpoints");
    let (full, digests) = (
        Prover::new("s", &records, &cps),
        Prover::over_leaves("s", &leaves, &cps),
    );
    for &end in &ends {
        for seq in 1..=end {
            let got = digests.inclusion(seq, Some(end));
            if seq % 2 == 1 {
                assert_eq!(got.expect("kept"), full.inclusion(seq, Some(end)).expect("prove"));
            } else {
                assert!(
                    matches!(got, Err(ProveError::NotKept { seq: s, .. }) if s == seq),
                    "seq {seq}: {got:?}"
                );
            }
        }
        for &old in ends.iter().filter(|&&e| e <= end) {
            assert_eq!(
                digests.consistency(old, end).expect("prove"),
                full.consistency(old, end).expect("prove")
            );
        }
    }
}

#[test]
fn a_tampered_proof_fails_with_its_class() {
    let (_t, wal, key, _) = setup();
    let trust = TrustSet::new().with_key(key.public_key().clone());
    let p = inclusion_proof(&wal, "svc@1", "s", 7, Some(13)).expect("prove");
    let path_at = p.find("\"path\":[\"b3:").expect("path") + 12;
    let flip = |p: &str, at: usize| {
        let mut b = p.as_bytes().to_vec();
        b[at] = if b[at] == b'0' { b'1' } else { b'0' };
        b
    };
    let e = verify_proof(&flip(&p, path_at), &trust).expect_err("path");
    assert_eq!(e.class(), FailureClass::Integrity, "{e}");
    let e = verify_proof(
        p.replace("\"leaf_index\":6", "\"leaf_index\":5").as_bytes(),
        &trust,
    )
    .expect_err("index");
    assert_eq!(e.class(), FailureClass::Integrity, "{e}");
    let e = verify_proof(
        p.replace("\"reason\":\"ok\"", "\"reason\":\"no\"").as_bytes(),
        &trust,
    )
    .expect_err("record");
    assert!(matches!(e, ProofError::Inclusion(_)), "{e}");
    let stranger = Ed25519Signer::generate().expect("key");
    let e = verify_proof(
        p.as_bytes(),
        &TrustSet::new().with_key(stranger.public_key().clone()),
    )
    .expect_err("untrusted");
    assert_eq!(e.class(), FailureClass::Trust);
    let e = verify_proof(
        p.replace("\"type\":\"inclusion\"", "\"type\":\"inclusio\"")
            .as_bytes(),
        &trust,
    )
    .expect_err("type");
    assert_eq!(e.class(), FailureClass::Structure);
    let c = consistency_proof(&wal, "svc@1", "s", 5, 16).expect("prove");
    let at = c.rfind("\"b3:").expect("path") + 5;
    let e = verify_proof(&flip(&c, at), &trust).expect_err("consistency path");
    assert!(matches!(e, ProofError::Consistency(_)), "{e}");
}

/// A proof that went through a JSON tool (keys sorted, pretty-printed)
/// still verifies: its record and checkpoints are read in any JSON form and
/// checked over their canonical bytes. An edit made along the way is still
/// caught: a checkpoint body edit by its signature, a record edit by its
/// hash.
#[test]
fn a_proof_reformatted_by_a_json_tool_verifies_and_edits_still_fail() {
    let (_t, wal, key, _) = setup();
    let trust = TrustSet::new().with_key(key.public_key().clone());
    let reformat = |p: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(p).expect("json");
        edit(&mut v);
        serde_json::to_vec_pretty(&v).expect("json")
    };
    let inc = inclusion_proof(&wal, "svc@1", "s", 7, Some(13)).expect("prove");
    let con = consistency_proof(&wal, "svc@1", "s", 5, 16).expect("prove");
    for p in [&inc, &con] {
        let pretty = reformat(p, &|_| ());
        assert_ne!(pretty, p.as_bytes());
        assert_eq!(
            verify_proof(&pretty, &trust).expect("reformatted proof verifies"),
            verify_proof(p.as_bytes(), &trust).expect("proof verifies")
        );
    }
    let e = verify_proof(
        &reformat(&inc, &|v| v["checkpoint"]["body"]["created_ts_ms"] = 8.into()),
        &trust,
    )
    .expect_err("edited checkpoint");
    assert_eq!(e.class(), FailureClass::Trust, "{e}");
    let e = verify_proof(
        &reformat(&con, &|v| v["new"]["body"]["range"][0] = 6.into()),
        &trust,
    )
    .expect_err("edited checkpoint");
    assert!(
        matches!(e, ProofError::Checkpoint(_) | ProofError::Trust(_)),
        "{e}"
    );
    let e = verify_proof(&reformat(&inc, &|v| v["record"]["reason"] = "no".into()), &trust)
        .expect_err("edited record");
    assert!(matches!(e, ProofError::Inclusion(_)), "{e}");
    // A repeated key is refused, whatever a JSON tool would keep of it.
    let twice = inc.replacen("\"created_ts_ms\":", "\"created_ts_ms\":1,\"created_ts_ms\":", 1);
    let e = verify_proof(twice.as_bytes(), &trust).expect_err("repeated key");
    assert_eq!(e.class(), FailureClass::Structure, "{e}");
}

/// Reading a stream's leaves from a directory: a stream with no records is
/// named as such, and a missing segment (or none at all) is refused, never
/// read past.
#[test]
fn a_stream_without_records_and_a_missing_segment_are_named() {
    let (t, wal, _key, _ends) = setup();
    wal.close().expect("close");
    let dir = t.path().join("wal");
    let err = read_stream_leaves(&dir, None, "nope", |_| false).expect_err("no records");
    assert!(
        matches!(&err, ProveError::NoRecords { stream, streams, .. } if stream == "nope" && streams == &["s"]),
        "{err}"
    );
    assert!(err.to_string().ends_with("(its streams: s)"), "{err}");
    assert!(read_stream_leaves(&dir, None, "s", |_| false).is_ok());
    // A writer that has no records of an existing stream is named too.
    let err = read_stream_leaves(&dir, Some("other@1"), "s", |_| false).expect_err("no records");
    assert!(
        err.to_string()
            .starts_with(r#"stream "s" of writer "other@1" has no records in "#),
        "{err}"
    );
    // A flipped byte in a record: the segment's own error, not a proof.
    let seg = dir.join("wal-000002.seg");
    let mut bytes = std::fs::read(&seg).expect("read");
    let at = bytes.windows(4).position(|w| w == b"\"ok\"").expect("reason") + 1;
    bytes[at] ^= 1;
    std::fs::write(&seg, &bytes).expect("write");
    let err = read_stream_leaves(&dir, None, "s", |_| false).expect_err("corrupt");
    assert!(
        matches!(&err, ProveError::Segment { path, error } if *path == seg && error.code() == "frame_digest"),
        "{err}"
    );
    std::fs::remove_file(dir.join("wal-000002.seg")).expect("remove");
    // The listing `auditctl verify` makes refuses it the same way.
    let listed = |dir: &std::path::Path| {
        audit_verify::list_numbered(dir, audit_verify::NumberedFiles::Segments).expect_err("not whole")
    };
    let err = read_stream_leaves(&dir, None, "s", |_| false).expect_err("missing");
    assert!(
        matches!(&err, ProveError::Listing(f) if f.code == "missing_segment" && f.file == seg),
        "{err}"
    );
    assert!(
        err.to_string().contains("segment 2 is missing (segments run to "),
        "{err}"
    );
    assert_eq!(err.to_string(), listed(&dir).to_string());
    let empty = t.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let err = read_stream_leaves(&empty, None, "s", |_| false).expect_err("empty");
    assert!(
        matches!(&err, ProveError::Listing(f) if f.file == empty.join("wal-000001.seg")),
        "{err}"
    );
    assert!(
        err.to_string()
            .ends_with("segment 1 is missing (the directory has no segments)"),
        "{err}"
    );
    assert_eq!(err.to_string(), listed(&empty).to_string());
    let err = read_stream_leaves(&t.path().join("nope"), None, "s", |_| false).expect_err("none");
    assert!(matches!(&err, ProveError::Listing(f) if f.code == "io"), "{err}");
}
