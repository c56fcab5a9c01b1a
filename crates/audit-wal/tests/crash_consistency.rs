//! Crash consistency, after redb's and okaywal's: torn tails are cut and
//! reported, corruption anywhere else fails the open with its location and
//! changes nothing, a crash at any sync point keeps every acknowledged
//! record (a real SIGKILL loop is in `crash_loop.rs`).

mod common;

use std::sync::Arc;

use audit_chain::{AuditSink, FsyncPolicy};
use audit_verify::{SEGMENT_HEADER_LEN, SegmentReader, Step, TornKind, segment_file_name};
use audit_wal::{CrashMode, MemFs, OpenError, WalSink};
use common::*;

/// Frame start offsets of a segment file.
fn frame_starts(seg: &[u8], number: u64) -> Vec<u64> {
    let mut r = SegmentReader::new(seg, number).expect("header");
    let mut starts = Vec::new();
    while let Step::Frame(f) = r.next_step().expect("frame") {
        starts.push(f.offset);
    }
    starts
}

/// A WAL with `n` records in one open segment, left as a crash leaves it
/// (no close, so no index covers the tail).
fn crashed_wal(b: &Backend, n: u64) -> Acked {
    let (wal, _) = b.open(opts(FsyncPolicy::Always, 1 << 20)).expect("open");
    let wal = Arc::new(wal);
    let mut acked = Acked::new();
    assert!(emit_range(&emitter(&wal), 0, n, &mut acked).is_none());
    acked
}

#[test]
fn torn_tail_is_cut_and_reported() {
    on_both(|b| {
        let acked = crashed_wal(b, 12);
        let name = segment_file_name(1);
        let whole = b.read(&name);
        let starts = frame_starts(&whole, 1);
        let from = starts[starts.len() - 3];
        for cut in from..whole.len() as u64 {
            b.write(&name, whole[..cut as usize].to_vec());
            let (wal, report) = b
                .open(opts(FsyncPolicy::Always, 1 << 20))
                .expect("torn tail opens");
            let boundary = *starts.iter().rev().find(|&&s| s <= cut).expect("boundary");
            let whole_frames = starts.iter().filter(|&&s| s < boundary).count() as u64;
            assert_eq!(report.records, whole_frames, "{} cut {cut}", b.name);
            match report.torn {
                None => assert_eq!(cut, boundary, "{} cut {cut}: not reported", b.name),
                Some(t) => {
                    assert_eq!(
                        (t.segment, t.offset, t.len),
                        (1, boundary, cut - boundary),
                        "{}",
                        b.name
                    );
                    assert_eq!(t.kind, TornKind::Incomplete);
                }
            }
            assert_eq!(
                b.read(&name).len() as u64,
                boundary,
                "{} cut {cut}: file not cut",
                b.name
            );
            // Everything before the cut is still there, and the log goes on.
            let kept: Acked = (0..whole_frames)
                .map(|i| {
                    let key = (STREAMS[(i % 3) as usize].to_owned(), i / 3 + 1);
                    let hash = acked[&key];
                    (key, hash)
                })
                .collect();
            let wal = Arc::new(wal);
            assert_all_there(&wal, &kept, b.name);
            let mut more = kept.clone();
            assert!(emit_range(&emitter(&wal), whole_frames, whole_frames + 1, &mut more).is_none());
            drop(wal);
            let (_, again) = b.open(opts(FsyncPolicy::Always, 1 << 20)).expect("reopen");
            assert_eq!((again.torn, again.records), (None, whole_frames + 1));
        }
    });
}

#[test]
fn trailing_zeros_are_cut_as_a_torn_tail() {
    on_both(|b| {
        let acked = crashed_wal(b, 6);
        let name = segment_file_name(1);
        let whole = b.read(&name);
        let starts = frame_starts(&whole, 1);
        let last = *starts.last().expect("frames");
        for (keep, zeros) in [(whole.len(), 1), (whole.len(), 4096), (last as usize + 20, 300)] {
            let mut bytes = whole[..keep].to_vec();
            bytes.resize(keep + zeros, 0);
            b.write(&name, bytes);
            let (wal, report) = b.open(opts(FsyncPolicy::Always, 1 << 20)).expect("opens");
            let t = report.torn.expect("reported");
            let boundary = if keep == whole.len() {
                whole.len() as u64
            } else {
                last
            };
            assert_eq!(
                (t.offset, t.len),
                (boundary, (keep + zeros) as u64 - boundary),
                "{}",
                b.name
            );
            let want = if keep == whole.len() {
                TornKind::Zeros
            } else {
                TornKind::Incomplete
            };
            assert_eq!(t.kind, want);
            if keep == whole.len() {
                assert_all_there(&wal, &acked, b.name);
            }
            drop(wal);
            b.write(&name, whole.clone());
        }
    });
}

#[test]
fn a_corrupted_byte_in_a_sealed_segment_fails_open_with_its_location_and_changes_nothing() {
    on_both(|b| {
        let (wal, _) = b.open(opts(FsyncPolicy::Always, 1200)).expect("open");
        let wal = Arc::new(wal);
        assert!(emit_range(&emitter(&wal), 0, 30, &mut Acked::new()).is_none());
        wal.close().expect("close");
        drop(wal);
        let name = segment_file_name(1);
        let seg = b.read(&name);
        let starts = frame_starts(&seg, 1);
        assert!(starts.len() >= 3, "segment 1 has {} frames", starts.len());
        for at in 0..seg.len() {
            for flip in [0x01u8, 0x80] {
                let mut bad = seg.clone();
                bad[at] ^= flip;
                b.write(&name, bad);
                let before = b.snapshot();
                let err = b
                    .open(opts(FsyncPolicy::Always, 1200))
                    .expect_err("corrupt segment opened");
                assert_eq!(
                    b.snapshot(),
                    before,
                    "{}: open modified files (byte {at})",
                    b.name
                );
                if (10..14).contains(&at) {
                    // The reserved header field is ignored by readers: the
                    // frames still verify, but the index no longer matches.
                    assert!(
                        matches!(err, OpenError::IndexMismatch { segment: 1, .. }),
                        "{err}"
                    );
                    continue;
                }
                let OpenError::Corrupt { source, .. } = &err else {
                    panic!("{}: byte {at}: {err}", b.name)
                };
                let want = if at < SEGMENT_HEADER_LEN {
                    0
                } else {
                    *starts.iter().rev().find(|&&s| s <= at as u64).expect("frame")
                };
                assert_eq!(
                    (source.segment(), source.offset()),
                    (1, want),
                    "{}: byte {at}: {err}",
                    b.name
                );
            }
        }
        b.write(&name, seg);
        assert!(b.open(opts(FsyncPolicy::Always, 1200)).is_ok());
    });
}

#[test]
fn a_corrupted_whole_frame_in_the_newest_segment_is_corruption_not_a_torn_tail() {
    on_both(|b| {
        crashed_wal(b, 8);
        let name = segment_file_name(1);
        let seg = b.read(&name);
        let starts = frame_starts(&seg, 1);
        for &frame in &starts[starts.len() - 2..] {
            for at in [frame + 13, frame + 40, seg.len() as u64 - 1] {
                if at < frame {
                    continue;
                }
                let mut bad = seg.clone();
                bad[at as usize] ^= 0x20;
                b.write(&name, bad);
                let before = b.snapshot();
                let err = b
                    .open(opts(FsyncPolicy::Always, 1 << 20))
                    .expect_err("corrupt frame opened");
                let OpenError::Corrupt { source, .. } = &err else {
                    panic!("{err}")
                };
                let want = *starts.iter().rev().find(|&&s| s <= at).expect("frame");
                assert_eq!(source.offset(), want, "{}: {err}", b.name);
                assert_eq!(b.snapshot(), before, "{}: open modified files", b.name);
            }
        }
    });
}

#[test]
fn a_missing_segment_or_bytes_after_a_sealed_one_fail_open() {
    on_both(|b| {
        let (wal, _) = b.open(opts(FsyncPolicy::Always, 1200)).expect("open");
        let wal = Arc::new(wal);
        assert!(emit_range(&emitter(&wal), 0, 40, &mut Acked::new()).is_none());
        wal.close().expect("close");
        drop(wal);
        let seg1 = b.read(&segment_file_name(1));
        let mut longer = seg1.clone();
        longer.extend_from_slice(&[0, 0, 0]);
        b.write(&segment_file_name(1), longer);
        let err = b.open(opts(FsyncPolicy::Always, 1200)).expect_err("extra bytes");
        assert!(
            matches!(&err, OpenError::Corrupt { source, .. } if source.code() == "trailing_bytes" && source.offset() == seg1.len() as u64),
            "{err}"
        );
        b.write(&segment_file_name(1), seg1);
        let seg2 = b.read(&segment_file_name(2));
        b.remove(&segment_file_name(2));
        let err = b.open(opts(FsyncPolicy::Always, 1200)).expect_err("gap");
        assert!(
            matches!(err, OpenError::MissingSegment { number: 2, .. }),
            "{err}"
        );
        b.fs.create_new(&b.path(&segment_file_name(2)))
            .expect("create")
            .append(&seg2)
            .expect("write");
        assert!(b.open(opts(FsyncPolicy::Always, 1200)).is_ok());
    });
}

/// The crash-point workload: appends across rotations, with a flush every
/// few records for `on_checkpoint`. Returns what is known durable.
fn workload(fs: &MemFs, policy: FsyncPolicy) -> Acked {
    let mut durable = Acked::new();
    let Ok((wal, _)) = WalSink::open_on(Arc::new(fs.clone()), "/wal", opts(policy, 1500)) else {
        return durable;
    };
    let wal = Arc::new(wal);
    let e = emitter(&wal);
    let mut acked = Acked::new();
    for i in 0..36 {
        if emit_range(&e, i, i + 1, &mut acked).is_some() {
            break;
        }
        // `always`: acknowledged is durable; otherwise a flush makes it so.
        let synced = policy == FsyncPolicy::Always || (i % 5 == 4 && wal.flush().is_ok());
        if synced {
            durable.clone_from(&acked);
        }
    }
    if wal.close().is_ok() {
        durable = acked;
    }
    durable
}

#[test]
fn a_crash_at_any_sync_point_keeps_every_acknowledged_record() {
    for policy in [FsyncPolicy::Always, FsyncPolicy::OnCheckpoint] {
        let dry = MemFs::new();
        let all = workload(&dry, policy);
        assert_eq!(all.len(), 36);
        let syncs = dry.syncs();
        assert!(syncs > 20, "{syncs} syncs");
        for k in 1..=syncs + 1 {
            let fs = MemFs::new();
            fs.crash_at_sync(k);
            let durable = workload(&fs, policy);
            for mode in [
                CrashMode::LoseUnsynced,
                CrashMode::KeepUnsynced,
                CrashMode::TornAfter(7),
                CrashMode::TornAfter(60),
                CrashMode::ZeroFill,
            ] {
                let ctx = format!("{policy:?}, crash at sync {k}, {mode:?}");
                let image = fs.crash_image(mode);
                let (wal, _) = WalSink::open_on(Arc::new(image.clone()), "/wal", opts(policy, 1500))
                    .unwrap_or_else(|e| panic!("{ctx}: {e}"));
                assert_all_there(&wal, &durable, &ctx);
                // The log goes on from whatever it recovered.
                let wal = Arc::new(wal);
                let mut more = Acked::new();
                assert!(emit_range(&emitter(&wal), 100, 106, &mut more).is_none(), "{ctx}");
                wal.close().unwrap_or_else(|e| panic!("{ctx}: {e}"));
                drop(wal);
                let (_, report) = WalSink::open_on(Arc::new(image), "/wal", opts(policy, 1500))
                    .unwrap_or_else(|e| panic!("{ctx}: reopen: {e}"));
                assert_eq!(report.torn, None, "{ctx}");
            }
        }
    }
}
