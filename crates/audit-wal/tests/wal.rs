//! The WAL as a sink: records survive reopening with their chains, segments
//! rotate and get indexes, one writer per directory, order is enforced.

mod common;

use std::sync::Arc;

use audit_chain::{AuditSink, AuditStream, EmitError, FsyncPolicy, SinkError};
use audit_wal::{OpenError, WalSink};
use common::*;

#[test]
fn appended_records_survive_reopen_with_heads_and_frontiers() {
    on_both(|b| {
        for policy in [FsyncPolicy::Always, FsyncPolicy::OnCheckpoint, FsyncPolicy::Never] {
            let fresh = if b.name == "os" {
                Backend::real()
            } else {
                Backend::mem()
            };
            let (wal, report) = fresh.open(opts(policy, 1 << 20)).expect("open");
            assert_eq!((report.records, report.segments), (0, 1), "{}", b.name);
            let wal = Arc::new(wal);
            let e = emitter(&wal);
            let mut acked = Acked::new();
            assert!(emit_range(&e, 0, 60, &mut acked).is_none());
            let before: Vec<_> = STREAMS.iter().map(|s| e.chain_state(s).expect("state")).collect();
            wal.close().expect("close");
            drop((e, wal));

            let (wal, report) = fresh.open(opts(policy, 1 << 20)).expect("reopen");
            assert_eq!((report.records, report.streams, report.torn), (60, 3, None));
            // A clean close indexes the open segment: nothing to parse.
            if policy != FsyncPolicy::Never {
                assert_eq!(report.records_scanned, 0, "{} {policy:?}", b.name);
            }
            for (s, st) in STREAMS.iter().zip(&before) {
                assert_eq!(wal.chain_state(WRITER, s).as_ref(), Some(st), "{} {s}", b.name);
            }
            assert_all_there(&wal, &acked, b.name);
            // The chains continue where they were.
            let wal = Arc::new(wal);
            let e = emitter(&wal);
            assert!(emit_range(&e, 60, 63, &mut acked).is_none());
            assert_eq!(e.chain_state("ingress").expect("state").seq(), 21);
            assert_all_there(&wal, &acked, b.name);
        }
    });
}

#[test]
fn segments_rotate_and_reopen_hashes_sealed_ones_instead_of_parsing() {
    on_both(|b| {
        let (wal, _) = b.open(opts(FsyncPolicy::OnCheckpoint, 4096)).expect("open");
        let wal = Arc::new(wal);
        let e = emitter(&wal);
        let mut acked = Acked::new();
        assert!(emit_range(&e, 0, 100, &mut acked).is_none());
        let (segments, _) = wal.end();
        assert!(segments >= 5, "{}: only {segments} segments", b.name);
        for n in 1..=segments {
            let seg = b.read(&audit_verify::segment_file_name(n));
            assert!(seg.len() <= 4096, "segment {n} has {} bytes", seg.len());
        }
        // Crash-like drop (no close): the newest segment has no index.
        drop((e, wal));
        let (wal, report) = b.open(opts(FsyncPolicy::OnCheckpoint, 4096)).expect("reopen");
        assert_eq!(report.segments, segments);
        assert_eq!(report.records, 100);
        assert!(
            report.records_scanned < 100 / segments + 10,
            "{}: parsed {} records on open",
            b.name,
            report.records_scanned
        );
        assert!(report.indexes_rebuilt.is_empty());
        assert_all_there(&wal, &acked, b.name);
    });
}

#[test]
fn records_are_visited_in_order_across_segments_and_a_visitor_can_stop_the_walk() {
    on_both(|b| {
        let (wal, _) = b.open(opts(FsyncPolicy::OnCheckpoint, 4096)).expect("open");
        let wal = Arc::new(wal);
        let e = emitter(&wal);
        let mut acked = Acked::new();
        assert!(emit_range(&e, 0, 90, &mut acked).is_none());
        assert!(wal.end().0 >= 4, "{}", b.name);
        let stream = STREAMS[1];
        let want = wal.read_raw(WRITER, stream, 5..=25).expect("read");
        assert_eq!(want.len(), 21, "{}", b.name);
        let mut seen = Vec::new();
        wal.for_each_raw(WRITER, stream, 5..=25, |r| {
            seen.push((r.seq, r.canonical.to_vec(), r.self_hash));
            Ok::<_, audit_wal::ReadError>(())
        })
        .expect("walk");
        let want: Vec<_> = want
            .into_iter()
            .map(|r| (r.seq, r.canonical, r.self_hash))
            .collect();
        assert_eq!(seen, want, "{}", b.name);
        // The visitor's own error ends the walk at once and comes back.
        #[derive(Debug, PartialEq)]
        enum Stop {
            At(u64),
            Read(String),
        }
        impl From<audit_wal::ReadError> for Stop {
            fn from(e: audit_wal::ReadError) -> Self {
                Self::Read(e.to_string())
            }
        }
        let mut visited = 0;
        let stopped = wal.for_each_raw(WRITER, stream, 1..=u64::MAX, |r| {
            visited += 1;
            if r.seq == 3 { Err(Stop::At(r.seq)) } else { Ok(()) }
        });
        assert_eq!((stopped, visited), (Err(Stop::At(3)), 3), "{}", b.name);
    });
}

/// 40 records in 4 KiB segments, closed: sealed segments and their indexes.
fn sealed_with_indexes(b: &Backend) -> Acked {
    let (wal, _) = b.open(opts(FsyncPolicy::Always, 4096)).expect("open");
    let wal = Arc::new(wal);
    let mut acked = Acked::new();
    assert!(emit_range(&emitter(&wal), 0, 40, &mut acked).is_none());
    wal.close().expect("close");
    acked
}

/// An index whose record count no segment of its length could hold is not
/// used, even with a right checksum and segment digest: it is rebuilt, and
/// the counts recovery sums stay true (a count of u64::MAX overflowed the
/// sum in debug builds).
#[test]
fn an_index_claiming_more_records_than_its_segment_holds_is_rebuilt() {
    on_both(|b| {
        let acked = sealed_with_indexes(b);
        let (_, report) = b.open(opts(FsyncPolicy::Always, 4096)).expect("reopen");
        let records = report.records;
        // records: after magic (8), segment (8), len (8) and digest (32);
        // the last 32 bytes are BLAKE3 of the rest.
        let mut idx = b.read("wal-000001.idx");
        idx[56..64].copy_from_slice(&u64::MAX.to_le_bytes());
        let body = idx.len() - 32;
        let sum = audit_canon::Digest::of(&idx[..body]);
        idx[body..].copy_from_slice(sum.as_bytes());
        b.write("wal-000001.idx", idx);
        let (wal, report) = b.open(opts(FsyncPolicy::Always, 4096)).expect("reopen");
        assert_eq!(report.indexes_rebuilt, vec![1], "{}", b.name);
        assert_eq!(report.records, records, "{}", b.name);
        assert_all_there(&wal, &acked, b.name);
    });
}

#[test]
fn a_missing_index_is_rebuilt_from_its_segment() {
    on_both(|b| {
        let acked = sealed_with_indexes(b);
        b.remove("wal-000001.idx");
        let mut damaged = b.read("wal-000002.idx");
        damaged[20] ^= 1;
        b.write("wal-000002.idx", damaged);
        let (wal, report) = b.open(opts(FsyncPolicy::Always, 4096)).expect("reopen");
        assert_eq!(report.indexes_rebuilt, vec![1, 2], "{}", b.name);
        assert_all_there(&wal, &acked, b.name);
        drop(wal);
        let (_, report) = b.open(opts(FsyncPolicy::Always, 4096)).expect("reopen again");
        assert!(report.indexes_rebuilt.is_empty());
    });
}

#[test]
fn a_second_opener_gets_locked_until_the_first_is_dropped() {
    on_both(|b| {
        let (first, _) = b.open(opts(FsyncPolicy::Never, 1 << 20)).expect("open");
        let second = b.open(opts(FsyncPolicy::Never, 1 << 20));
        assert!(
            matches!(second, Err(OpenError::Locked { holder, .. }) if holder == Some(std::process::id())),
            "{}: {second:?}",
            b.name
        );
        drop(first);
        assert!(b.open(opts(FsyncPolicy::Never, 1 << 20)).is_ok());
    });
}

#[test]
fn directory_is_0700_and_files_are_0600() {
    use std::os::unix::fs::PermissionsExt;
    let b = Backend::real();
    let (wal, _) = b.open(opts(FsyncPolicy::Always, 4096)).expect("open");
    let wal = Arc::new(wal);
    assert!(emit_range(&emitter(&wal), 0, 30, &mut Acked::new()).is_none());
    wal.close().expect("close");
    let mode = |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&b.dir), 0o700);
    let names = b.snapshot();
    assert!(names.len() >= 4, "{names:?}");
    for name in names.keys() {
        assert_eq!(mode(&b.path(name)), 0o600, "{name}");
    }
}

#[test]
fn out_of_order_records_are_refused_and_the_head_again_is_a_no_op() {
    on_both(|b| {
        let (wal, _) = b.open(opts(FsyncPolicy::Never, 1 << 20)).expect("open");
        let wal = Arc::new(wal);
        let ram = Arc::new(audit_chain::RamSink::new(100, 1 << 20));
        let other = emitter(&ram);
        let r1 = other.emit(event(0)).expect("emit");
        let r2 = other.emit(event(3)).expect("emit");
        let stored = ram.read(WRITER, &r1.stream).expect("read");
        let err = wal.append(&stored[1]).expect_err("seq 2 before seq 1");
        assert!(
            matches!(
                err,
                SinkError::OutOfOrder {
                    seq: 2,
                    head_seq: 0,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(wal.append(&stored[0]), Ok(r1.self_hash));
        assert_eq!(
            wal.append(&stored[0]),
            Ok(r1.self_hash),
            "the head again is a no-op"
        );
        assert_eq!(wal.append(&stored[1]), Ok(r2.self_hash));
        assert_eq!(wal.read(WRITER, &r1.stream, 1..=9).expect("read").len(), 2);
    });
}

#[test]
fn a_closed_wal_refuses_appends() {
    on_both(|b| {
        let (wal, _) = b.open(opts(FsyncPolicy::OnCheckpoint, 1 << 20)).expect("open");
        let wal = Arc::new(wal);
        let e = emitter(&wal);
        e.emit(event(0)).expect("emit");
        wal.close().expect("close");
        wal.close().expect("close is idempotent");
        let err = e.emit(event(1)).expect_err("closed");
        assert!(matches!(err, EmitError::Sink(SinkError::Closed)), "{err}");
    });
}

#[test]
fn concurrent_appenders_share_fsyncs() {
    let b = Backend::mem();
    let mem = b.mem.clone().expect("memfs");
    mem.set_sync_delay(std::time::Duration::from_millis(2));
    let (wal, _) = b.open(opts(FsyncPolicy::Always, 1 << 30)).expect("open");
    let wal = Arc::new(wal);
    let syncs_before = mem.syncs();
    let per_thread = 40;
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let wal = wal.clone();
            s.spawn(move || {
                let e = emitter(&wal);
                for i in 0..per_thread {
                    let ev = audit_chain::Event::new(format!("s{t}"), "GetServed", "ok").attr("i", i);
                    e.emit(ev).expect("emit");
                }
            });
        }
    });
    let syncs = mem.syncs() - syncs_before;
    let records = 8 * per_thread;
    assert!(
        syncs < records / 2,
        "{syncs} fsyncs for {records} records: no grouping"
    );
    for t in 0..8 {
        assert_eq!(
            wal.read(WRITER, &format!("s{t}"), 1..=u64::MAX)
                .expect("read")
                .len() as u64,
            per_thread
        );
    }
}

#[test]
fn options_come_from_the_host_config() {
    let cfg = audit_chain::AuditConfig::default();
    let o = audit_wal::WalOptions::from_config(&cfg);
    assert_eq!((o.rotate_bytes, o.fsync), (128 << 20, FsyncPolicy::OnCheckpoint));
    assert_eq!(o, audit_wal::WalOptions::default());
}

#[test]
fn a_flush_makes_earlier_appends_durable_without_stopping_later_ones() {
    let b = Backend::mem();
    let mem = b.mem.clone().expect("memfs");
    let (wal, _) = b.open(opts(FsyncPolicy::OnCheckpoint, 1 << 30)).expect("open");
    let wal = Arc::new(wal);
    let e = emitter(&wal);
    let mut acked = Acked::new();
    assert!(emit_range(&e, 0, 30, &mut acked).is_none());
    mem.set_sync_delay(std::time::Duration::from_millis(300));
    let flushed = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            wal.flush().expect("flush");
            flushed.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        // Appends made while the sync is in flight do not wait for it.
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(emit_range(&e, 30, 40, &mut Acked::new()).is_none());
        assert!(
            !flushed.load(std::sync::atomic::Ordering::SeqCst),
            "the appends waited for the sync"
        );
    });
    // A crash now keeps exactly what the flush covered, at least.
    let image = mem.crash_image(audit_wal::CrashMode::LoseUnsynced);
    let (wal, _) = WalSink::open_on(Arc::new(image), "/wal", opts(FsyncPolicy::OnCheckpoint, 1 << 30))
        .expect("reopen after crash");
    assert_all_there(&wal, &acked, "after a crash past the flush");
}
