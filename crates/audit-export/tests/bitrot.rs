//! Drill: bitrot. One byte flipped anywhere in a sealed WAL segment, in a
//! bundle's files, or in `checkpoints.jsonl` fails verification with the
//! class of FORMAT-v1.md section 7 and the exact place: the file, and the
//! offset of the frame or line that holds the byte.

mod common;

use std::path::{Path, PathBuf};

use audit_chain::AuditSink;
use audit_export::{BundleRequest, export_bundle};
use audit_verify::{
    FailureClass, Report, SegmentReader, Step, TrustSet, VerifyOptions, segment_file_name, verify_bundle,
    verify_wal_dir,
};

struct Fixture {
    _tmp: tempfile::TempDir,
    wal: PathBuf,
    bundle: PathBuf,
    opts: VerifyOptions,
}

/// The shared checkpointed WAL and a bundle of its stream "a".
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("wal");
    let (wal, key) = common::checkpointed_wal(&dir);
    let bundle = tmp.path().join("bundle");
    let req = BundleRequest {
        writer_id: "svc@1".into(),
        stream: "a".into(),
        from: None,
        to: None,
    };
    export_bundle(&wal, &req, &bundle, 9).expect("export");
    wal.close().expect("close");
    drop(wal);
    Fixture {
        _tmp: tmp,
        wal: dir,
        bundle,
        opts: VerifyOptions {
            trust: TrustSet::new().with_key(key.public_key().clone()),
            threads: 1,
        },
    }
}

/// Start offsets of the frames of a segment file (0 for the header).
fn frame_starts(path: &Path, number: u64) -> Vec<u64> {
    let bytes = std::fs::read(path).expect("read");
    let mut r = SegmentReader::new(&bytes, number).expect("header");
    let mut v = vec![0];
    while let Step::Frame(f) = r.next_step().expect("frame") {
        v.push(f.offset);
    }
    v
}

/// Start offsets of the lines of a text file.
fn line_starts(path: &Path) -> Vec<u64> {
    let bytes = std::fs::read(path).expect("read");
    let mut v = vec![0];
    v.extend(
        bytes
            .iter()
            .enumerate()
            .filter(|(i, b)| **b == b'\n' && i + 1 < bytes.len())
            .map(|(i, _)| i as u64 + 1),
    );
    v
}

/// Flips byte `at` of `path`, runs `verify`, restores the byte; returns
/// the report.
fn with_flip(path: &Path, at: usize, verify: impl Fn() -> Report) -> Report {
    let good = std::fs::read(path).expect("read");
    let mut bad = good.clone();
    bad[at] ^= 0x01;
    std::fs::write(path, &bad).expect("write");
    let r = verify();
    std::fs::write(path, &good).expect("restore");
    r
}

/// Bytes of `path` (but `skip`) flipped in turn: about 250 spread over
/// the file, and around every unit's edges (a frame's `len`, `v`, `seq`,
/// a line's first and last byte). Verification fails with one of
/// `classes`, in `path`, at the start of the unit (frame or line) that
/// holds the byte. Returns how many bytes were checked.
fn check_flips(
    path: &Path,
    starts: &[u64],
    classes: &[FailureClass],
    skip: impl Fn(usize) -> bool,
    verify: impl Fn() -> Report,
) -> usize {
    let len = std::fs::read(path).expect("read").len();
    let stride = (len / 250).max(1);
    let mut at_list: Vec<usize> = (0..len).step_by(stride).collect();
    for &s in starts {
        let s = s as usize;
        at_list.extend([s.wrapping_sub(1), s, s + 3, s + 4, s + 5, s + 12, s + 13]);
    }
    at_list.sort_unstable();
    at_list.dedup();
    let mut checked = 0;
    for at in at_list.into_iter().filter(|&at| at < len && !skip(at)) {
        let r = with_flip(path, at, &verify);
        let ctx = format!("{} byte {at}", path.display());
        let f = r.failure.as_ref().unwrap_or_else(|| panic!("{ctx}: verified"));
        assert!(classes.contains(&f.class), "{ctx}: {f}");
        assert_eq!(r.exit_code(), f.class.exit_code());
        let unit = *starts.iter().rev().find(|&&s| s <= at as u64).expect("unit");
        assert_eq!((f.file.as_path(), f.offset), (path, Some(unit)), "{ctx}: {f}");
        checked += 1;
    }
    checked
}

#[test]
fn a_flipped_byte_in_a_sealed_wal_segment_is_found_at_its_frame() {
    let fx = fixture();
    assert_eq!(verify_wal_dir(&fx.wal, &fx.opts).failure, None);
    let seg = fx.wal.join(segment_file_name(1));
    assert!(
        fx.wal.join(segment_file_name(2)).exists(),
        "segment 1 is not sealed"
    );
    let starts = frame_starts(&seg, 1);
    // Header bytes 10..14 are the reserved field, which readers ignore.
    let n = check_flips(
        &seg,
        &starts,
        &[FailureClass::Integrity, FailureClass::Structure],
        |at| (10..14).contains(&at),
        || verify_wal_dir(&fx.wal, &fx.opts),
    );
    assert!(n > 200, "{n}");
}

#[test]
fn a_flipped_byte_in_the_wal_checkpoints_is_found_at_its_line() {
    let fx = fixture();
    let path = fx.wal.join("checkpoints.jsonl");
    check_flips(
        &path,
        &line_starts(&path),
        &[
            FailureClass::Integrity,
            FailureClass::Trust,
            FailureClass::Structure,
        ],
        |_| false,
        || verify_wal_dir(&fx.wal, &fx.opts),
    );
}

#[test]
fn a_flipped_byte_in_a_bundle_is_found_in_its_file() {
    let fx = fixture();
    assert_eq!(verify_bundle(&fx.bundle, &fx.opts).failure, None);
    let verify = || verify_bundle(&fx.bundle, &fx.opts);
    let seg = fx.bundle.join("records-000001.seg");
    check_flips(
        &seg,
        &frame_starts(&seg, 1),
        &[FailureClass::Integrity, FailureClass::Structure],
        |at| (10..14).contains(&at),
        verify,
    );
    let cps = fx.bundle.join("checkpoints.jsonl");
    check_flips(
        &cps,
        &line_starts(&cps),
        &[
            FailureClass::Integrity,
            FailureClass::Trust,
            FailureClass::Structure,
        ],
        |_| false,
        verify,
    );
}
