//! Drills (issue 8): a real filesystem that fills up, and a slow disk.
//! The SIGKILL crash loop is in `crash_consistency.rs`, the storm in
//! `storm.rs`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_chain::{
    AuditSink, EmitError, FsyncPolicy, Overflow, QueueConfig, QueueError, QueuedEmitter, SinkError,
};
use audit_verify::{VerifyOptions, verify_wal_dir};
use audit_wal::WalSink;
use common::*;

/// A small tmpfs mounted for one test, unmounted when dropped.
struct SmallFs {
    mnt: PathBuf,
    _tmp: tempfile::TempDir,
}

impl SmallFs {
    /// Mounts a tmpfs of `bytes`, or `None` where this process may not mount.
    fn mount(bytes: u64) -> Option<Self> {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mnt = tmp.path().join("mnt");
        std::fs::create_dir(&mnt).expect("mount point");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&mnt)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Self { mnt, _tmp: tmp })
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mnt).status();
    }
}

/// The WAL fills a real filesystem: the append that does not fit fails
/// with a typed error, no partial frame stays, nothing acknowledged is
/// lost, and the log goes on once space is freed.
fn fill_and_free(dir: &Path, ballast: &Path) {
    let (wal, _) = WalSink::open(dir, opts(FsyncPolicy::Always, 256 << 10)).expect("open");
    let wal = Arc::new(wal);
    let e = emitter(&wal);
    let mut acked = Acked::new();
    let mut i = 0;
    let err = loop {
        match e.emit(event(i)) {
            Ok(r) => {
                acked.insert((r.stream, r.seq), r.self_hash);
                i += 1;
            }
            Err(err) => break err,
        }
        assert!(i < 1_000_000, "the filesystem never filled");
    };
    assert!(
        matches!(err, EmitError::Sink(SinkError::NoSpace(_))),
        "not a disk-full error: {err}"
    );
    assert_eq!(err.drop_reason(), "io_backpressure");
    assert!(acked.len() > 100, "only {} records fit", acked.len());
    // The newest segment ends exactly at the last acknowledged frame.
    let (segment, end) = wal.end();
    let newest = dir.join(audit_verify::segment_file_name(segment));
    assert_eq!(
        std::fs::metadata(&newest).expect("newest").len(),
        end,
        "a partial frame stayed"
    );
    // Still full: still refused, and the chain does not move.
    let head = e.chain_state("ingress").expect("state");
    assert!(e.emit(event(i)).is_err());
    assert_eq!(e.chain_state("ingress").expect("state"), head);

    std::fs::remove_file(ballast).expect("free space");
    let more = i + 200;
    assert!(
        emit_range(&e, i, more, &mut acked).is_none(),
        "the log did not resume"
    );
    wal.close().expect("close");
    drop((e, wal));
    let (wal, report) = WalSink::open(dir, opts(FsyncPolicy::Always, 256 << 10)).expect("reopen");
    assert_eq!((report.records, report.torn), (acked.len() as u64, None));
    assert_all_there(&wal, &acked, "after the disk filled");
    drop(wal);
    let verified = verify_wal_dir(dir, &VerifyOptions::default());
    assert_eq!(
        (&verified.failure, verified.records()),
        (&None, acked.len() as u64)
    );
}

#[test]
fn a_full_filesystem_refuses_appends_keeps_every_acknowledged_record_and_resumes() {
    let Some(fs) = SmallFs::mount(2 << 20) else {
        // Without mount rights, the fault layer's disk-full tests
        // (`faults.rs`) still run; say so rather than pass silently.
        eprintln!("drill skipped here: this process cannot mount a tmpfs (needs root)");
        assert!(
            Command::new("id")
                .arg("-u")
                .output()
                .is_ok_and(|o| o.stdout != b"0\n"),
            "running as root, yet the tmpfs mount failed"
        );
        return;
    };
    let ballast = fs.mnt.join("ballast");
    std::fs::write(&ballast, vec![0u8; 512 << 10]).expect("ballast");
    fill_and_free(&fs.mnt.join("wal"), &ballast);
}

/// A slow disk (every fsync takes 20 ms) under 16 direct appenders: group
/// commit puts many records behind each fsync, so an append waits for
/// about one or two fsyncs, not for everyone's.
#[test]
fn a_slow_disk_is_amortized_by_group_commit() {
    const DELAY: Duration = Duration::from_millis(20);
    const THREADS: u64 = 16;
    const EACH: u64 = 10;
    let b = Backend::mem();
    let mem = b.mem.clone().expect("memfs");
    mem.set_sync_delay(DELAY);
    let (wal, _) = b.open(opts(FsyncPolicy::Always, 1 << 30)).expect("open");
    let wal = Arc::new(wal);
    let syncs_before = mem.syncs();
    let mut latencies: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let wal = wal.clone();
                s.spawn(move || {
                    let e = emitter(&wal);
                    (0..EACH)
                        .map(|i| {
                            let t0 = Instant::now();
                            e.emit(audit_chain::Event::new(format!("s{t}"), "GetServed", "ok").attr("i", i))
                                .expect("emit");
                            t0.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("appender"))
            .collect()
    });
    latencies.sort();
    let syncs = mem.syncs() - syncs_before;
    let records = THREADS * EACH;
    let median = latencies[latencies.len() / 2];
    let ctx = format!("{syncs} fsyncs for {records} records, median append {median:?}");
    assert!(syncs * 4 <= records, "little grouping: {ctx}");
    // One at a time, an append would wait for the 16 appenders' fsyncs.
    assert!(median < DELAY * 5, "appends waited for others' fsyncs: {ctx}");
    eprintln!("slow disk, direct: {ctx}");
}

/// A WAL under `always` on a `MemFs` whose syncs take `delay`, and a
/// queued front end over it.
fn queued_on_slow_memfs(
    delay: Duration,
    config: QueueConfig,
) -> (audit_wal::MemFs, Arc<WalSink>, QueuedEmitter) {
    let b = Backend::mem();
    let mem = b.mem.clone().expect("memfs");
    mem.set_sync_delay(delay);
    let (wal, _) = b.open(opts(FsyncPolicy::Always, 1 << 30)).expect("open");
    let wal = Arc::new(wal);
    let q = QueuedEmitter::start(Arc::new(emitter(&wal)), config).expect("start");
    (mem, wal, q)
}

/// A slow disk behind the queued front end: callers never wait for the
/// disk, shedding engages once the bounded queues fill, and an accepted
/// event is recorded within the time its queue takes to drain.
#[test]
fn a_slow_disk_behind_the_queue_sheds_and_never_blocks_callers() {
    const DELAY: Duration = Duration::from_millis(20);
    const CAPACITY: usize = 16;
    let (_mem, wal, q) = queued_on_slow_memfs(
        DELAY,
        QueueConfig {
            workers: 2,
            capacity: CAPACITY,
            overflow: Overflow::Shed,
        },
    );
    // A waiter takes the receipts in the order they were asked for and
    // notes how long each event took to become durable.
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, audit_chain::PendingReceipt)>();
    let waiter = std::thread::spawn(move || {
        let mut worst = Duration::ZERO;
        for (sent, p) in rx {
            p.wait(Duration::from_secs(10))
                .expect("an accepted event is recorded");
            worst = worst.max(sent.elapsed());
        }
        worst
    });
    let start = Instant::now();
    let (mut busy, mut max_call) = (0u64, Duration::ZERO);
    let mut i = 0;
    while start.elapsed() < Duration::from_secs(2) {
        let t0 = Instant::now();
        match q.emit_with_receipt(event(i)) {
            Ok(p) => tx.send((t0, p)).expect("waiter"),
            Err(QueueError::Busy { .. }) => busy += 1,
            Err(e) => panic!("unexpected: {e}"),
        }
        max_call = max_call.max(t0.elapsed());
        i += 1;
        std::thread::sleep(Duration::from_micros(200));
    }
    drop(tx);
    let worst = waiter.join().expect("waiter");
    // A worker hands over what its queue holds at once and waits for
    // their fsyncs together, so an event waits at most for its queue's
    // events ahead of it, one fsync each (the worst case, with no
    // grouping). The bound allows three per event, for a loaded machine's
    // scheduling.
    let bound = DELAY * (3 * (CAPACITY as u32 + 1));
    let stats = q.shutdown(Duration::from_secs(10));
    let ctx = format!("{stats:?}, slowest call {max_call:?}, worst latency {worst:?}, bound {bound:?}");
    assert!(
        busy > 0 && stats.busy_rejections == busy,
        "shedding did not engage: {ctx}"
    );
    assert!(max_call < DELAY, "a caller waited for the disk: {ctx}");
    assert!(stats.emitted > 0 && stats.failed == 0, "{ctx}");
    assert!(
        worst <= bound,
        "an accepted event waited past its queue's drain time: {ctx}"
    );
    eprintln!("slow disk, queued: {ctx}");
    wal.close().expect("close");
}

/// A queued worker hands a stream's waiting records to the WAL together,
/// so under `always` one sync acknowledges many records of one stream.
#[test]
fn a_queued_worker_acknowledges_many_records_of_one_stream_per_sync() {
    const DELAY: Duration = Duration::from_millis(5);
    const N: u64 = 300;
    let (mem, wal, q) = queued_on_slow_memfs(
        DELAY,
        QueueConfig {
            workers: 1,
            capacity: 4096,
            overflow: Overflow::Block,
        },
    );
    let syncs_before = mem.syncs();
    let pending: Vec<_> = (0..N)
        .map(|i| {
            let ev = audit_chain::Event::new("ingress", "GetServed", "ok").attr("i", i);
            q.emit_with_receipt(ev).expect("queued")
        })
        .collect();
    for (i, p) in pending.into_iter().enumerate() {
        let r = p.wait(Duration::from_secs(30)).expect("recorded");
        assert_eq!(r.seq, i as u64 + 1);
    }
    let syncs = mem.syncs() - syncs_before;
    let stats = q.shutdown(Duration::from_secs(10));
    assert_eq!((stats.emitted, stats.failed), (N, 0));
    assert!(syncs * 5 <= N, "{syncs} syncs for {N} records of one stream");
    eprintln!("queued, one stream: {syncs} syncs for {N} records");
    let chain = audit_chain::AuditStream::chain_state(&*wal, WRITER, "ingress").expect("chain");
    assert_eq!(chain.seq(), N);
}
