//! Every way of tampering with a WAL directory fails verification with the
//! right class (FORMAT-v1.md section 7), naming the file and offset; the
//! untouched WAL verifies.

mod common;

use common::fails;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use audit_chain::AuditSink;
use audit_export::{Ed25519Signer, Signer};
use audit_verify::{
    FailureClass, Report, SegmentReader, SignedCheckpoint, Step, TrustSet, VerifyOptions, segment_file_name,
    verify_wal_dir,
};

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    key: Arc<Ed25519Signer>,
}

/// 60 records over 3 streams in ~4 segments, two rounds of checkpoints.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("wal");
    let (wal, key) = common::checkpointed_wal(&dir);
    wal.close().expect("close");
    Fixture { _tmp: tmp, dir, key }
}

impl Fixture {
    fn trust(&self) -> TrustSet {
        TrustSet::new().with_key(self.key.public_key().clone())
    }
    fn verify(&self) -> Report {
        verify_wal_dir(
            &self.dir,
            &VerifyOptions {
                trust: self.trust(),
                threads: 2,
            },
        )
    }
    fn seg(&self, n: u64) -> PathBuf {
        self.dir.join(segment_file_name(n))
    }
    fn edit(&self, path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
        let mut b = std::fs::read(path).expect("read");
        f(&mut b);
        std::fs::write(path, b).expect("write");
    }
    fn frames(&self, n: u64) -> Vec<(usize, usize)> {
        let bytes = std::fs::read(self.seg(n)).expect("read");
        let mut r = SegmentReader::new(&bytes, n).expect("header");
        let mut v = Vec::new();
        while let Step::Frame(f) = r.next_step().expect("frame") {
            v.push((f.offset as usize, 45 + f.canonical.len()));
        }
        v
    }
    fn checkpoint_lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("checkpoints.jsonl"))
            .expect("read")
            .lines()
            .map(str::to_owned)
            .collect()
    }
    fn write_lines(&self, lines: &[String]) {
        std::fs::write(self.dir.join("checkpoints.jsonl"), lines.join("\n") + "\n").expect("write");
    }
}

#[test]
fn the_untouched_wal_verifies_with_every_checkpoint() {
    let fx = fixture();
    let r = fx.verify();
    assert_eq!(r.failure, None);
    assert_eq!(r.exit_code(), 0);
    assert!(r.signatures_checked);
    assert_eq!(r.records(), 60);
    assert_eq!(r.streams.len(), 3);
    for s in &r.streams {
        assert_eq!(
            (s.records, s.first_seq, s.last_seq, s.checkpoints),
            (20, 1, 20, 2)
        );
        assert!(s.kids_seen.contains(fx.key.kid()));
    }
    assert!(
        fx.frames(1).len() >= 2 && fx.seg(4).exists(),
        "want several segments"
    );
    // Without trusted keys the records still verify; signatures are unchecked.
    let r = verify_wal_dir(&fx.dir, &VerifyOptions::default());
    assert_eq!((r.failure, r.signatures_checked), (None, false));
}

#[test]
fn flipped_bytes_in_a_record_a_digest_and_a_frame_header() {
    // In the record: the digest no longer matches.
    let fx = fixture();
    let (off, len) = fx.frames(2)[1];
    fx.edit(&fx.seg(2), |b| {
        let at = off
            + b[off..off + len]
                .windows(12)
                .position(|w| w == b"\"reason\":\"ok")
                .expect("reason")
            + 10;
        b[at] ^= 0x01; // "ok" -> "nk": still a valid record, another digest
    });
    let r = fx.verify();
    fails(&r, FailureClass::Integrity, "frame_digest");
    let f = r.failure.expect("failure");
    assert_eq!((&f.file, f.offset), (&fx.seg(2), Some(off as u64)));
    // The stream and seq are the failure's fields, said once in its text.
    assert!(f.reason.starts_with("stored digest b3:"), "{}", f.reason);
    let text = f.to_string();
    assert_eq!(text.matches("seq ").count(), 1, "{text}");
    // In the stored digest.
    let fx = fixture();
    fx.edit(&fx.seg(2), |b| b[off + len - 5] ^= 0x01);
    fails(&fx.verify(), FailureClass::Integrity, "frame_digest");
    // In the frame header's seq.
    let fx = fixture();
    fx.edit(&fx.seg(2), |b| b[off + 6] ^= 0x01);
    fails(&fx.verify(), FailureClass::Structure, "frame_field");
    // In the frame header's len.
    let fx = fixture();
    fx.edit(&fx.seg(2), |b| b[off + 3] ^= 0x40);
    fails(&fx.verify(), FailureClass::Structure, "frame_len");
    // In the segment header's magic.
    let fx = fixture();
    fx.edit(&fx.seg(2), |b| b[2] ^= 0x01);
    fails(&fx.verify(), FailureClass::Structure, "segment_header");
}

#[test]
fn deleted_duplicated_reordered_and_inserted_frames() {
    let cut = |b: &mut Vec<u8>, (o, l): (usize, usize)| b.drain(o..o + l).collect::<Vec<u8>>();
    // Deleted.
    let fx = fixture();
    let fr = fx.frames(2);
    fx.edit(&fx.seg(2), |b| drop(cut(b, fr[1])));
    fails(&fx.verify(), FailureClass::Integrity, "chain_link");
    // Duplicated.
    let fx = fixture();
    fx.edit(&fx.seg(2), |b| {
        let f = b[fr[1].0..fr[1].0 + fr[1].1].to_vec();
        b.splice(fr[2].0..fr[2].0, f);
    });
    fails(&fx.verify(), FailureClass::Integrity, "chain_link");
    // Reordered (two frames of the same stream swapped).
    let fx = fixture();
    fx.edit(&fx.seg(2), |b| {
        let (a, c) = (fr[0], fr[3]);
        let fa = b[a.0..a.0 + a.1].to_vec();
        let fc = b[c.0..c.0 + c.1].to_vec();
        b.splice(c.0..c.0 + c.1, fa);
        b.splice(a.0..a.0 + a.1, fc);
    });
    fails(&fx.verify(), FailureClass::Integrity, "chain_link");
    // Inserted: a valid frame of another WAL's record.
    let fx = fixture();
    let other = fixture();
    let f = std::fs::read(other.seg(1)).expect("read")[32..32 + other.frames(1)[0].1].to_vec();
    fx.edit(&fx.seg(2), |b| drop(b.splice(fr[1].0..fr[1].0, f)));
    fails(&fx.verify(), FailureClass::Integrity, "chain_link");
}

#[test]
fn removed_renamed_swapped_and_truncated_segments() {
    let fx = fixture();
    std::fs::remove_file(fx.seg(2)).expect("rm");
    fails(&fx.verify(), FailureClass::Structure, "missing_segment");
    let fx = fixture();
    std::fs::rename(fx.seg(2), fx.dir.join("wal-000009.seg")).expect("mv");
    fails(&fx.verify(), FailureClass::Structure, "missing_segment");
    let fx = fixture();
    std::fs::rename(fx.seg(2), fx.dir.join("x")).expect("mv");
    std::fs::rename(fx.seg(3), fx.seg(2)).expect("mv");
    std::fs::rename(fx.dir.join("x"), fx.seg(3)).expect("mv");
    fails(&fx.verify(), FailureClass::Structure, "segment_header");
    let fx = fixture();
    let fr = fx.frames(1);
    fx.edit(&fx.seg(1), |b| b.truncate(fr[1].0 + 20));
    fails(&fx.verify(), FailureClass::Structure, "trailing_bytes");
    let fx = fixture();
    fx.edit(&fx.seg(1), |b| b.truncate(fr[1].0));
    fails(&fx.verify(), FailureClass::Integrity, "chain_link");
}

#[test]
fn a_torn_tail_of_the_newest_segment_is_reported_not_failed() {
    let fx = fixture();
    let newest = (1..)
        .take_while(|n| fx.seg(*n).exists())
        .last()
        .expect("segments");
    let fr = fx.frames(newest);
    let last = *fr.last().expect("frames");
    fx.edit(&fx.seg(newest), |b| b.truncate(last.0 + 10));
    let r = verify_wal_dir(
        &fx.dir,
        &VerifyOptions {
            trust: fx.trust(),
            threads: 1,
        },
    );
    // The lost record was covered by a checkpoint: that is an integrity
    // failure, but the torn tail itself is reported as such.
    assert!(r.torn.is_some());
    fails(&r, FailureClass::Integrity, "checkpoint_beyond_records");
}

fn edit_body(line: &str, from: &str, to: &str) -> String {
    assert!(line.contains(from), "{line} has no {from}");
    line.replacen(from, to, 1)
}

#[test]
fn edited_dropped_and_reordered_checkpoints() {
    let fx = fixture();
    assert_eq!(fx.checkpoint_lines().len(), 6);
    // Line 3 is stream a's second checkpoint: edit one field, re-sign, so
    // only that field is wrong.
    let resign = |fx: &Fixture, edit: &dyn Fn(&SignedCheckpoint) -> (String, String)| {
        let mut lines = fx.checkpoint_lines();
        let cp = SignedCheckpoint::parse_line(lines[3].as_bytes()).expect("line");
        let (from, to) = edit(&cp);
        let body = String::from_utf8(cp.body.to_canonical()).expect("utf8");
        assert!(body.contains(&from), "{body} has no {from}");
        let body = audit_canon::CheckpointBody::from_canonical(body.replacen(&from, &to, 1).as_bytes())
            .expect("still a body");
        let sig = fx.key.sign(&body.signing_message()).expect("sign");
        let signed = SignedCheckpoint {
            body,
            sigs: vec![audit_verify::CheckpointSig {
                alg: "ed25519".into(),
                kid: fx.key.kid().into(),
                sig,
            }],
        };
        lines[3] = signed.to_line();
        fx.write_lines(&lines);
    };
    let other = format!("b3:{}", "ab".repeat(32));
    resign(&fx, &|c| (c.body.root().to_string(), other.clone()));
    fails(&fx.verify(), FailureClass::Integrity, "checkpoint_root");
    let fx = fixture();
    resign(&fx, &|c| (c.body.head().to_string(), other.clone()));
    fails(&fx.verify(), FailureClass::Integrity, "checkpoint_head");
    let fx = fixture();
    resign(&fx, &|c| {
        let s = c.body.start_seq();
        (format!("\"range\":[{s},"), format!("\"range\":[{},", s + 1))
    });
    fails(&fx.verify(), FailureClass::Integrity, "checkpoint_chain");
    let fx = fixture();
    resign(&fx, &|c| (c.body.prev_checkpoint().to_string(), other.clone()));
    fails(&fx.verify(), FailureClass::Integrity, "checkpoint_chain");
    // Edited without re-signing: the signature fails first.
    let fx = fixture();
    let mut l = fx.checkpoint_lines();
    let cp = SignedCheckpoint::parse_line(l[3].as_bytes()).expect("line");
    l[3] = edit_body(&l[3], &cp.body.root().to_string(), &other);
    fx.write_lines(&l);
    fails(&fx.verify(), FailureClass::Trust, "checkpoint_signature");
    // Dropped line: the stream's next checkpoint no longer chains. The
    // reason names the writer (a stream name may have several).
    let fx = fixture();
    let mut l = fx.checkpoint_lines();
    l.remove(0);
    fx.write_lines(&l);
    let r = fx.verify();
    fails(&r, FailureClass::Integrity, "checkpoint_chain");
    let reason = &r.failure.as_ref().expect("failure").reason;
    assert!(
        reason.starts_with("checkpoint of writer \"svc@1\" seq "),
        "{reason}"
    );
    // Reordered lines of one stream.
    let fx = fixture();
    let mut l = fx.checkpoint_lines();
    l.swap(0, 3);
    fx.write_lines(&l);
    fails(&fx.verify(), FailureClass::Integrity, "checkpoint_chain");
    // A garbled line.
    let fx = fixture();
    let mut l = fx.checkpoint_lines();
    l[2].insert(5, ' ');
    fx.write_lines(&l);
    fails(&fx.verify(), FailureClass::Structure, "checkpoint_line");
}

#[test]
fn untrusted_bad_and_moved_signatures() {
    let fx = fixture();
    let stranger = Ed25519Signer::generate().expect("key");
    let r = verify_wal_dir(
        &fx.dir,
        &VerifyOptions {
            trust: TrustSet::new().with_key(stranger.public_key().clone()),
            threads: 0,
        },
    );
    fails(&r, FailureClass::Trust, "checkpoint_signature");
    // A bad signature by the trusted key.
    let fx = fixture();
    let mut l = fx.checkpoint_lines();
    let mut cp = SignedCheckpoint::parse_line(l[1].as_bytes()).expect("line");
    cp.sigs[0].sig[7] ^= 1;
    l[1] = cp.to_line();
    fx.write_lines(&l);
    fails(&fx.verify(), FailureClass::Trust, "checkpoint_signature");
    // A signature moved from one checkpoint to another.
    let fx = fixture();
    let mut l = fx.checkpoint_lines();
    let a = SignedCheckpoint::parse_line(l[0].as_bytes()).expect("line");
    let mut b = SignedCheckpoint::parse_line(l[1].as_bytes()).expect("line");
    b.sigs = a.sigs.clone();
    l[1] = b.to_line();
    fx.write_lines(&l);
    fails(&fx.verify(), FailureClass::Trust, "checkpoint_signature");
    // Two trusted keys required, one signed.
    let fx = fixture();
    let r = verify_wal_dir(
        &fx.dir,
        &VerifyOptions {
            trust: fx
                .trust()
                .with_key(stranger.public_key().clone())
                .with_min_sigs(2),
            threads: 0,
        },
    );
    fails(&r, FailureClass::Trust, "checkpoint_signature");
}
