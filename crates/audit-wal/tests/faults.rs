//! Disk full and I/O errors: the append fails with a typed error, nothing
//! acknowledged is lost, no partial frame stays behind, and the log works
//! again once space returns; a failed fsync stops writes until reopened.

mod common;

use std::io::ErrorKind;
use std::sync::Arc;

use audit_chain::{AuditSink, EmitError, Emitter, FsyncPolicy, SinkError};
use audit_verify::segment_file_name;
use audit_wal::{FaultOp, MemFs, WalSink};
use common::*;

/// A WAL on `MemFs` (the file layer these tests inject faults into), an
/// emitter over it, and an empty ledger of acknowledged records.
fn on_memfs(policy: FsyncPolicy, rotate_bytes: u64) -> (Backend, MemFs, Arc<WalSink>, Emitter, Acked) {
    let b = Backend::mem();
    let mem = b.mem.clone().expect("memfs");
    let (wal, _) = b.open(opts(policy, rotate_bytes)).expect("open");
    let wal = Arc::new(wal);
    let e = emitter(&wal);
    (b, mem, wal, e, Acked::new())
}

#[test]
fn disk_full_fails_the_append_and_the_log_resumes_when_space_returns() {
    for policy in [FsyncPolicy::Always, FsyncPolicy::OnCheckpoint] {
        let (b, mem, wal, e, mut acked) = on_memfs(policy, 1 << 20);
        assert!(emit_range(&e, 0, 10, &mut acked).is_none());
        let (_, end) = wal.end();
        // Room for less than one frame: the write is partial, then ENOSPC.
        mem.set_space(Some(100));
        let err = e.emit(event(10)).expect_err("disk full");
        assert!(matches!(err, EmitError::Sink(SinkError::NoSpace(_))), "{err}");
        assert_eq!(err.drop_reason(), "io_backpressure");
        assert_eq!(wal.end().1, end, "the end moved");
        assert_eq!(
            b.read(&segment_file_name(1)).len() as u64,
            end,
            "a partial frame stayed in the file"
        );
        assert_eq!(
            e.chain_state("policy").expect("state").seq(),
            3,
            "the chain moved"
        );
        // Still full: still refused, still nothing half-written.
        assert!(e.emit(event(10)).is_err());
        mem.set_space(None);
        assert!(
            emit_range(&e, 10, 20, &mut acked).is_none(),
            "{policy:?}: the log did not resume"
        );
        wal.close().expect("close");
        drop((e, wal));
        let (wal, report) = b.open(opts(policy, 1 << 20)).expect("reopen");
        assert_eq!((report.records, report.torn), (20, None));
        assert_all_there(&wal, &acked, "after disk full");
    }
}

#[test]
fn disk_full_while_rotating_keeps_the_log_usable() {
    let (b, mem, wal, e, mut acked) = on_memfs(FsyncPolicy::Always, 1500);
    // The next file created (at the first rotation) finds the disk full.
    mem.fail_next(FaultOp::Create, ErrorKind::StorageFull);
    let mut i = 0;
    while wal.end().0 == 1 && i < 100 {
        match e.emit(event(i)) {
            Ok(r) => {
                acked.insert((r.stream, r.seq), r.self_hash);
                i += 1;
            }
            Err(err) => {
                assert!(matches!(err, EmitError::Sink(SinkError::NoSpace(_))), "{err}");
                break;
            }
        }
    }
    assert!(i < 100, "never rotated");
    assert_eq!(wal.end().0, 1, "rotated despite the full disk");
    assert!(
        emit_range(&e, i, i + 20, &mut acked).is_none(),
        "the log did not resume"
    );
    assert!(wal.end().0 >= 2);
    drop((e, wal));
    let (wal, _) = b.open(opts(FsyncPolicy::Always, 1500)).expect("reopen");
    assert_all_there(&wal, &acked, "after a full disk while rotating");
}

#[test]
fn an_io_error_on_write_fails_that_append_only() {
    // Faults are injected through MemFs; the real filesystem cannot be
    // made to fail on demand without privileges.
    let (_b, mem, wal, e, mut acked) = on_memfs(FsyncPolicy::Always, 1 << 20);
    assert!(emit_range(&e, 0, 5, &mut acked).is_none());
    mem.fail_next(FaultOp::Write, ErrorKind::Other);
    let err = e.emit(event(5)).expect_err("EIO");
    assert!(matches!(err, EmitError::Sink(SinkError::Io(_))), "{err}");
    assert!(emit_range(&e, 5, 10, &mut acked).is_none());
    assert_all_there(&wal, &acked, "after EIO");
}

#[test]
fn a_failed_fsync_refuses_writes_until_reopened() {
    for policy in [FsyncPolicy::Always, FsyncPolicy::OnCheckpoint] {
        let (b, mem, wal, e, mut acked) = on_memfs(policy, 1 << 20);
        assert!(emit_range(&e, 0, 6, &mut acked).is_none());
        wal.flush().expect("flush");
        let durable = acked.clone();
        mem.fail_next(FaultOp::Sync, ErrorKind::Other);
        let failed = if policy == FsyncPolicy::Always {
            e.emit(event(6)).map(drop).map_err(|e| match e {
                EmitError::Sink(s) => s,
                other => panic!("{other}"),
            })
        } else {
            assert!(emit_range(&e, 6, 7, &mut acked).is_none());
            wal.flush()
        };
        assert!(
            matches!(failed, Err(SinkError::Poisoned(_))),
            "{policy:?}: {failed:?}"
        );
        let err = e.emit(event(7)).expect_err("poisoned");
        assert!(matches!(err, EmitError::Sink(SinkError::Poisoned(_))), "{err}");
        assert!(matches!(wal.flush(), Err(SinkError::Poisoned(_))));
        drop((e, wal));
        let (wal, _) = b.open(opts(policy, 1 << 20)).expect("reopen");
        assert_all_there(&wal, &durable, "after a failed fsync");
        let wal = Arc::new(wal);
        let mut more = durable.clone();
        let e = emitter(&wal);
        let seq = |wal: &audit_wal::WalSink| {
            audit_chain::AuditStream::chain_state(wal, WRITER, "ingress").map(|s| s.seq())
        };
        let start = seq(&wal).expect("ingress recovered");
        assert!(
            emit_range(&e, 100, 103, &mut more).is_none(),
            "{policy:?}: no writes after reopen"
        );
        assert_eq!(seq(&wal), Some(start + 1));
    }
}

#[test]
fn a_failed_fsync_under_concurrent_appends_loses_nothing_acknowledged() {
    let b = Backend::mem();
    let mem = b.mem.clone().expect("memfs");
    mem.set_sync_delay(std::time::Duration::from_micros(300));
    let (wal, _) = b.open(opts(FsyncPolicy::Always, 4096)).expect("open");
    let wal = Arc::new(wal);
    let acked = std::sync::Mutex::new(Acked::new());
    let failures = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let (wal, acked, failures) = (wal.clone(), &acked, &failures);
            s.spawn(move || {
                let e = emitter(&wal);
                for i in 0..60u64 {
                    let ev = audit_chain::Event::new(format!("s{t}"), "GetServed", "ok").attr("i", i);
                    match e.emit(ev) {
                        Ok(r) => {
                            acked
                                .lock()
                                .expect("acked")
                                .insert((r.stream, r.seq), r.self_hash);
                        }
                        Err(EmitError::Sink(SinkError::Poisoned(_))) => {
                            failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        Err(other) => panic!("unexpected: {other}"),
                    }
                }
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        mem.fail_next(FaultOp::Sync, ErrorKind::Other);
    });
    let acked = acked.into_inner().expect("acked");
    assert!(failures.into_inner() > 0, "the failed sync failed no append");
    assert!(!acked.is_empty());
    drop(wal);
    // What the disk holds is only what was synced.
    let image = mem.crash_image(audit_wal::CrashMode::LoseUnsynced);
    let (wal, _) = audit_wal::WalSink::open_on(Arc::new(image), &b.dir, opts(FsyncPolicy::Always, 4096))
        .expect("reopen");
    for ((stream, seq), hash) in &acked {
        let got = wal.read(WRITER, stream, *seq..=*seq).expect("read");
        assert_eq!(
            got.first().map(|r| *r.self_hash()),
            Some(*hash),
            "{stream} seq {seq} lost"
        );
    }
}

/// Records handed over together (`commit_begin`, then the waits) share a
/// group. A failed write fails the records it hit, and every record of the
/// stream handed over after them that the writer had taken; nothing of them
/// is kept. A record handed over after the WAL refused them is placed after
/// the last stored record instead (the emitter reloads the stream's head).
/// Either way every acknowledged record is there and the chain has no gap.
#[test]
fn a_failed_group_write_keeps_every_acknowledged_record_and_the_stream_goes_on() {
    for policy in [FsyncPolicy::Always, FsyncPolicy::OnCheckpoint] {
        let (_b, mem, wal, e, mut acked) = on_memfs(policy, 1 << 20);
        assert!(emit_range(&e, 0, 6, &mut acked).is_none());
        mem.fail_next(FaultOp::Write, ErrorKind::StorageFull);
        // Five records of one stream, handed over before any is acknowledged.
        let tickets: Vec<_> = (0..5)
            .map(|i| {
                let ev = audit_chain::Event::new("ingress", "GetServed", "ok").attr("burst", i);
                e.commit_begin(e.prepare(ev).expect("prepare"))
                    .expect("handed over")
            })
            .collect();
        let mut refused = 0;
        for t in tickets {
            match t.wait() {
                Ok(r) => {
                    acked.insert((r.stream, r.seq), r.self_hash);
                }
                Err(EmitError::Sink(SinkError::NoSpace(_))) => refused += 1,
                Err(other) => panic!("{policy:?}: {other}"),
            }
        }
        assert!(refused >= 1, "{policy:?}: the failed write refused nothing");
        // The chain goes on from what the WAL holds.
        assert!(emit_range(&e, 6, 12, &mut acked).is_none(), "{policy:?}");
        assert_all_there(&wal, &acked, &format!("{policy:?} after a failed group write"));
    }
}
