//! The directory verifier checks a segment's frames on several threads in
//! chunks, while one thread walks the frames and links them in order. Its
//! answer must not depend on the thread count: a WAL of several chunks per
//! segment verifies the same on 1 to 5 threads, and a damaged one fails at
//! the same first problem (code, offset, seq) on each.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use audit_canon::Limits;
use audit_chain::{AuditSink, Emitter, Event, FsyncPolicy, Privacy};
use audit_verify::{Report, SegmentReader, Step, VerifyOptions, segment_file_name, verify_wal_dir};
use audit_wal::{WalOptions, WalSink};

/// More than three of the verifier's 2,048-frame chunks in one segment.
const RECORDS: u64 = 7_000;

/// A WAL of `RECORDS` records over 3 streams, one segment.
fn wal(dir: &Path) {
    let opts = WalOptions {
        rotate_bytes: 64 << 20,
        fsync: FsyncPolicy::Never,
    };
    let wal = Arc::new(WalSink::open(dir, opts).expect("open").0);
    let e = Emitter::new("svc@1", wal.clone(), Limits::default())
        .expect("emitter")
        .with_privacy(Privacy::off());
    for i in 0..RECORDS {
        e.emit(Event::new(["a", "b", "c"][(i % 3) as usize], "GetServed", "ok").attr("i", i))
            .expect("emit");
    }
    wal.close().expect("close");
}

/// `(offset, length)` of every frame of segment 1.
fn frames(dir: &Path) -> Vec<(usize, usize)> {
    let bytes = std::fs::read(dir.join(segment_file_name(1))).expect("read");
    let mut r = SegmentReader::new(&bytes, 1).expect("header");
    let mut v = Vec::new();
    while let Step::Frame(f) = r.next_step().expect("frame") {
        v.push((f.offset as usize, f.canonical.len()));
    }
    v
}

fn verify(dir: &Path, threads: usize) -> Report {
    verify_wal_dir(
        dir,
        &VerifyOptions {
            trust: audit_verify::TrustSet::default(),
            threads,
        },
    )
}

/// Records verified, and the failure's code, offset and seq: what must not
/// depend on the thread count.
type Outcome = (u64, Option<(&'static str, Option<u64>, Option<u64>)>);

fn outcome(r: &Report) -> Outcome {
    (r.records(), r.failure.as_ref().map(|f| (f.code, f.offset, f.seq)))
}

/// Verifies `dir` on 1 to 5 threads; every answer equals the one-thread one.
fn same_on_every_thread_count(dir: &Path) -> Outcome {
    let one = verify(dir, 1);
    let want = outcome(&one);
    for threads in 2..=5 {
        let r = verify(dir, threads);
        assert_eq!(outcome(&r), want, "{threads} threads");
    }
    want
}

/// A fresh WAL of `RECORDS` records: its directory (kept alive by the
/// `TempDir`) and its frames.
fn fixture() -> (tempfile::TempDir, PathBuf, Vec<(usize, usize)>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("wal");
    wal(&dir);
    let fr = frames(&dir);
    (tmp, dir, fr)
}

fn edit(dir: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let path = dir.join(segment_file_name(1));
    let mut b = std::fs::read(&path).expect("read");
    f(&mut b);
    std::fs::write(&path, b).expect("write");
}

#[test]
fn a_wal_of_several_chunks_verifies_the_same_on_any_thread_count() {
    let (_tmp, dir, fr) = fixture();
    assert!(fr.len() as u64 == RECORDS, "one segment holds every record");
    assert_eq!(same_on_every_thread_count(&dir), (RECORDS, None));
}

#[test]
fn damage_in_a_later_chunk_fails_at_the_same_frame_on_any_thread_count() {
    let (_tmp, dir, fr) = fixture();
    // A flipped byte inside the record of frame 4,500 (the third chunk).
    let (at, _) = fr[4500];
    edit(&dir, |b| b[at + 20] ^= 0x01);
    let (_, failure) = same_on_every_thread_count(&dir);
    let (code, offset, _) = failure.expect("fails");
    assert_eq!((code, offset), ("frame_record", Some(at as u64)));
}

#[test]
fn a_bad_frame_length_stops_the_walk_after_the_frames_before_it_are_checked() {
    let (_tmp, dir, fr) = fixture();
    // Frame 6,000 claims a length beyond the limit: the walk stops there.
    let (late, _) = fr[6000];
    edit(&dir, |b| {
        b[late..late + 4].copy_from_slice(&u32::MAX.to_le_bytes())
    });
    let (_, failure) = same_on_every_thread_count(&dir);
    assert_eq!(
        failure.map(|(c, o, _)| (c, o)),
        Some(("frame_len", Some(late as u64)))
    );
    // With an earlier flipped record as well, that one is the first problem.
    let (early, _) = fr[2500];
    edit(&dir, |b| b[early + 20] ^= 0x01);
    let (_, failure) = same_on_every_thread_count(&dir);
    assert_eq!(
        failure.map(|(c, o, _)| (c, o)),
        Some(("frame_record", Some(early as u64)))
    );
}
