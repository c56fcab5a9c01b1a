//! Checkpoints: chained per stream, committing to exactly the WAL's
//! records, signed by every configured signer, resumed after reopening,
//! on cadence, and across a key rotation.

use std::sync::Arc;
use std::time::Duration;

use audit_canon::{Limits, PrevHash, leaf_hash, root_of};
use audit_chain::{AuditSink, AuditStream, Emitter, Event, FsyncPolicy, Privacy};
use audit_export::{Cadence, Checkpointer, CheckpointerError, Ed25519Signer, Signer};
use audit_verify::{CheckpointLineError, SignedCheckpoint, TrustSet};
use audit_wal::{WalOptions, WalSink};

const W: &str = "svc-test@1";

fn wal(dir: &std::path::Path) -> Arc<WalSink> {
    let opts = WalOptions {
        rotate_bytes: 1 << 20,
        fsync: FsyncPolicy::OnCheckpoint,
    };
    Arc::new(WalSink::open(dir, opts).expect("open").0)
}

fn emitter(wal: &Arc<WalSink>) -> Emitter {
    Emitter::new(W, wal.clone(), Limits::default())
        .expect("emitter")
        .with_privacy(Privacy::off())
}

fn emit(e: &Emitter, n: u64) {
    for i in 0..n {
        e.emit(Event::new(["a", "b", "c"][(i % 3) as usize], "GetServed", "ok").attr("i", i))
            .expect("emit");
    }
}

fn lines(path: &std::path::Path) -> Vec<SignedCheckpoint> {
    std::fs::read_to_string(path)
        .expect("checkpoints")
        .lines()
        .map(|l| SignedCheckpoint::parse_line(l.as_bytes()).expect("line"))
        .collect()
}

#[test]
fn checkpoints_chain_per_stream_and_commit_to_the_wal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = wal(&dir.path().join("wal"));
    let concrete = Arc::new(Ed25519Signer::generate().expect("key"));
    let trust = TrustSet::new().with_key(concrete.public_key().clone());
    let key: Arc<dyn Signer> = concrete;
    let (cp, rec) = Checkpointer::open(wal.clone(), vec![key.clone()], Cadence::default()).expect("open");
    assert_eq!(rec.checkpoints, 0);
    let e = emitter(&wal);
    emit(&e, 30);
    let first = cp.checkpoint_all(1000).expect("checkpoint");
    assert_eq!(first.len(), 3);
    assert!(cp.checkpoint_all(1001).expect("nothing new").is_empty());
    emit(&e, 9);
    let second = cp.checkpoint_all(2000).expect("checkpoint");
    assert_eq!(second.len(), 3);
    for c in first.iter().chain(&second) {
        assert_eq!(c.verify_sigs(&trust), Ok(vec![key.kid().to_owned()]));
        let recs = wal.read(W, c.body.stream(), 1..=c.body.end_seq()).expect("read");
        let leaves: Vec<_> = recs.iter().map(|r| leaf_hash(r.self_hash())).collect();
        assert_eq!(root_of(&leaves).as_ref(), Some(c.body.root()));
        assert_eq!(recs.last().map(|r| r.self_hash()), Some(c.body.head()));
    }
    for (a, b) in first.iter().zip(&second) {
        assert_eq!((a.body.start_seq(), a.body.end_seq()), (1, 10));
        assert_eq!((b.body.start_seq(), b.body.end_seq()), (11, 13));
        assert_eq!(*b.body.prev_checkpoint(), PrevHash::Digest(a.body.digest()));
        assert_eq!(*a.body.prev_checkpoint(), PrevHash::Genesis);
    }
    assert_eq!(lines(cp.path()).len(), 6);
    // Reopened, the chain continues.
    drop(cp);
    let (cp, rec) = Checkpointer::open(wal.clone(), vec![key.clone()], Cadence::default()).expect("reopen");
    assert_eq!((rec.checkpoints, rec.torn_bytes), (6, 0));
    emit(&e, 3);
    let third = cp.checkpoint_all(3000).expect("checkpoint");
    assert_eq!(third[0].body.start_seq(), 14);
}

#[test]
fn a_torn_last_line_is_cut_and_any_other_bad_line_refuses_to_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = wal(&dir.path().join("wal"));
    let key: Arc<dyn Signer> = Arc::new(Ed25519Signer::generate().expect("key"));
    let (cp, _) = Checkpointer::open(wal.clone(), vec![key.clone()], Cadence::default()).expect("open");
    emit(&emitter(&wal), 6);
    cp.checkpoint_all(1).expect("checkpoint");
    let path = cp.path().to_path_buf();
    drop(cp);
    let good = std::fs::read(&path).expect("read");
    let mut torn = good.clone();
    torn.extend_from_slice(b"{\"body\":{\"v\":1,\"wri");
    std::fs::write(&path, &torn).expect("write");
    let (cp, rec) =
        Checkpointer::open(wal.clone(), vec![key.clone()], Cadence::default()).expect("torn line");
    assert_eq!((rec.checkpoints, rec.torn_bytes), (3, 19));
    assert_eq!(std::fs::read(&path).expect("read"), good);
    drop(cp);
    let mut bad = good.clone();
    bad[1] = b'#';
    std::fs::write(&path, &bad).expect("write");
    let err = Checkpointer::open(wal.clone(), vec![key.clone()], Cadence::default()).expect_err("bad line");
    assert!(matches!(err, CheckpointerError::Line { line: 1, .. }), "{err}");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        bad,
        "a refused open changed the file"
    );
    // A flipped final newline leaves an unterminated line that no crash
    // makes (it ends in a control byte): damage, refused, not cut.
    let mut flipped = good.clone();
    *flipped.last_mut().expect("bytes") ^= 0x01;
    std::fs::write(&path, &flipped).expect("write");
    let err = Checkpointer::open(wal.clone(), vec![key.clone()], Cadence::default()).expect_err("damage");
    assert!(
        matches!(
            err,
            CheckpointerError::Line {
                line: 3,
                source: CheckpointLineError::NotTorn { byte: 0x0b, .. },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).expect("read"), flipped, "damage was cut");
    // Zeros after a prefix are what a crash leaves: cut.
    let mut zeros = good.clone();
    zeros.extend_from_slice(b"{\"body\":{\"v\":1,");
    zeros.extend_from_slice(&[0; 16]);
    std::fs::write(&path, &zeros).expect("write");
    let (_, rec) = Checkpointer::open(wal.clone(), vec![key], Cadence::default()).expect("torn line");
    assert_eq!(rec.torn_bytes, 31);
    assert_eq!(std::fs::read(&path).expect("read"), good);
}

#[test]
fn streams_become_due_by_count_or_by_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = wal(&dir.path().join("wal"));
    let key: Arc<dyn Signer> = Arc::new(Ed25519Signer::generate().expect("key"));
    let cadence = Cadence {
        every_records: 10,
        every: Duration::from_millis(200),
    };
    let (cp, _) = Checkpointer::open(wal.clone(), vec![key], cadence).expect("open");
    let e = emitter(&wal);
    emit(&e, 15);
    assert!(
        cp.run_due(1).expect("due").is_empty(),
        "5 records per stream are not due"
    );
    emit(&e, 15);
    assert_eq!(cp.run_due(2).expect("due").len(), 3, "10 per stream are due");
    emit(&e, 3);
    assert!(cp.run_due(3).expect("due").is_empty());
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(cp.run_due(4).expect("due").len(), 3, "due by time");
}

#[test]
fn a_key_rotation_is_recorded_and_cross_signed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = wal(&dir.path().join("wal"));
    let old = Arc::new(Ed25519Signer::generate().expect("key"));
    let new = Arc::new(Ed25519Signer::generate().expect("key"));
    let (cp, _) = Checkpointer::open(wal.clone(), vec![old.clone()], Cadence::default()).expect("open");
    let e = emitter(&wal);
    emit(&e, 6);
    cp.checkpoint_all(1).expect("checkpoint");
    let rotated = cp.rotate_key(new.clone(), &e, 2).expect("rotate");
    assert_eq!(rotated.len(), 3);
    for c in &rotated {
        let kids: Vec<_> = c.sigs.iter().map(|s| s.kid.as_str()).collect();
        assert_eq!(kids, vec![old.kid(), new.kid()]);
        let last = wal
            .read(W, c.body.stream(), c.body.end_seq()..=c.body.end_seq())
            .expect("read");
        let r = last[0].record();
        assert_eq!(r.kind(), "KeyRotated");
        assert_eq!(
            r.attrs().get("old_kid").map(|v| format!("{v:?}")),
            Some(format!("{:?}", audit_canon::AttrValue::from(old.kid())))
        );
        // Either key alone verifies it.
        for k in [&old, &new] {
            let trust = TrustSet::new().with_key(k.public_key().clone());
            assert!(c.verify_sigs(&trust).is_ok());
        }
    }
    emit(&e, 3);
    let after = cp.checkpoint_all(3).expect("checkpoint");
    assert!(
        after
            .iter()
            .all(|c| c.sigs.len() == 1 && c.sigs[0].kid == new.kid())
    );
    wal.flush().expect("flush");
}

#[test]
fn a_rotation_from_a_key_that_did_not_sign_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = wal(&dir.path().join("wal"));
    let signing = Arc::new(Ed25519Signer::generate().expect("key"));
    let stranger = Arc::new(Ed25519Signer::generate().expect("key"));
    let new = Arc::new(Ed25519Signer::generate().expect("key"));
    let e = emitter(&wal);
    emit(&e, 6);
    {
        let (cp, _) =
            Checkpointer::open(wal.clone(), vec![signing.clone()], Cadence::default()).expect("open");
        cp.checkpoint_all(1).expect("checkpoint");
    }
    // Opened with a key the log was never signed with.
    let (cp, _) = Checkpointer::open(wal.clone(), vec![stranger.clone()], Cadence::default()).expect("open");
    let seqs = |wal: &WalSink| ["a", "b", "c"].map(|s| wal.chain_state(W, s).map(|c| c.seq()));
    let before = (
        seqs(&wal),
        std::fs::read(dir.path().join("wal/checkpoints.jsonl")).expect("read"),
    );
    match cp.rotate_key(new.clone(), &e, 2) {
        Err(CheckpointerError::NotSignedByOld {
            stream,
            end_seq,
            old_kid,
            signed_by,
        }) => {
            assert_eq!((stream.as_str(), end_seq), ("a", 2));
            assert_eq!(old_kid, stranger.kid());
            assert_eq!(signed_by, vec![signing.kid().to_owned()]);
        }
        other => panic!("{other:?}"),
    }
    let after = (
        seqs(&wal),
        std::fs::read(dir.path().join("wal/checkpoints.jsonl")).expect("read"),
    );
    assert_eq!(after, before, "no KeyRotated record and no checkpoint");
    // The key that signs now rotates.
    drop(cp);
    let (cp, _) = Checkpointer::open(wal.clone(), vec![signing.clone()], Cadence::default()).expect("open");
    assert_eq!(cp.rotate_key(new, &e, 3).expect("rotate").len(), 3);
}
