//! Drill: an event storm. Producers offer twice the measured capacity of
//! the queued front end over a durable (`always`) WAL on the real
//! filesystem for 20 s. Claims: memory stays under its bound, callers keep
//! their pace (they are never held back), every shed event is counted by
//! reason, and every acknowledged record verifies afterwards.
//!
//! Its own test binary: it installs the process's metrics recorder and
//! reads the process's resident memory.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use audit_chain::{AuditSink, FsyncPolicy, Overflow, QueueConfig, QueueError, QueuedEmitter};
use audit_verify::{VerifyOptions, verify_wal_dir};
use audit_wal::WalSink;
use common::*;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

const PRODUCERS: u64 = 4;
const STORM: Duration = Duration::from_secs(20);
const QUEUE: QueueConfig = QueueConfig {
    workers: 2,
    capacity: 1024,
    overflow: Overflow::Shed,
};
/// Growth of resident memory the storm may cause: the queues hold at most
/// 2 x 1024 events of under 1 KiB, the WAL one group buffer; the rest is
/// allocator and thread-stack slack.
const MEMORY_BOUND_BYTES: u64 = 64 << 20;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn queued(dir: &std::path::Path, overflow: Overflow) -> (Arc<WalSink>, QueuedEmitter) {
    let (wal, _) = WalSink::open(dir, opts(FsyncPolicy::Always, 8 << 20)).expect("open");
    let wal = Arc::new(wal);
    let q = QueuedEmitter::start(Arc::new(emitter(&wal)), QueueConfig { overflow, ..QUEUE }).expect("start");
    (wal, q)
}

/// Events per second the front end records when callers wait for room.
fn measure_capacity(dir: &std::path::Path) -> f64 {
    let (wal, q) = queued(dir, Overflow::Block);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..PRODUCERS {
            let q = &q;
            s.spawn(move || {
                let mut i = t;
                while start.elapsed() < Duration::from_secs(2) {
                    q.try_emit(event(i)).expect("blocking emit");
                    i += PRODUCERS;
                }
            });
        }
    });
    let emitted = q.stats().emitted;
    let rate = emitted as f64 / start.elapsed().as_secs_f64();
    q.shutdown(Duration::from_secs(30));
    wal.close().expect("close");
    rate
}

#[derive(Default)]
struct Offered {
    ok: AtomicU64,
    busy: AtomicU64,
    other: AtomicU64,
    max_call_ns: AtomicU64,
}

#[test]
fn a_storm_at_twice_capacity_sheds_counts_and_loses_nothing_acknowledged() {
    let recorder = DebuggingRecorder::new();
    let snap = recorder.snapshotter();
    recorder.install().expect("first recorder of this process");
    let tmp = tempfile::tempdir().expect("tempdir");

    let capacity = measure_capacity(&tmp.path().join("measure"));
    assert!(capacity > 0.0, "nothing recorded while measuring");
    let per_producer = 2.0 * capacity / PRODUCERS as f64;

    let dir = tmp.path().join("wal");
    let (wal, q) = queued(&dir, Overflow::Shed);
    let baseline = rss_bytes();
    let peak = AtomicU64::new(baseline);
    let done = AtomicBool::new(false);
    let offered = Offered::default();
    let mut receipts = Vec::new();
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_bytes(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|t| {
                let (q, offered) = (&q, &offered);
                s.spawn(move || {
                    // Receipts are taken as they come due (a pending one
                    // holds a channel of ~1 KiB; a taken one, its stream,
                    // seq and hash), so the test's own bookkeeping does not
                    // count against the memory bound.
                    let mut pending = std::collections::VecDeque::new();
                    let mut taken = Vec::new();
                    let mut sent = 0u64;
                    while start.elapsed() < STORM {
                        // Paced: as many as the schedule says by now.
                        let due = (start.elapsed().as_secs_f64() * per_producer) as u64;
                        while sent < due {
                            let i = sent * PRODUCERS + t;
                            let t0 = Instant::now();
                            // Every 16th asks for a receipt (also never blocks).
                            let outcome = if i.is_multiple_of(16) {
                                q.emit_with_receipt(event(i)).map(|p| pending.push_back(p))
                            } else {
                                q.try_emit(event(i))
                            };
                            offered
                                .max_call_ns
                                .fetch_max(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
                            match outcome {
                                Ok(()) => &offered.ok,
                                Err(QueueError::Busy { .. }) => &offered.busy,
                                Err(_) => &offered.other,
                            }
                            .fetch_add(1, Ordering::Relaxed);
                            sent += 1;
                        }
                        // The oldest of more than 1,024 pending receipts was
                        // accepted 16,000 events ago, long since recorded
                        // (the queues hold 2,048): taking it does not wait.
                        while pending.len() > 1024 {
                            if let Some(p) = pending.pop_front() {
                                taken.push(p.wait(Duration::from_secs(30)));
                            }
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    taken.extend(pending.into_iter().map(|p| p.wait(Duration::from_secs(30))));
                    taken
                })
            })
            .collect();
        for p in producers {
            receipts.extend(p.join().expect("producer"));
        }
        done.store(true, Ordering::Relaxed);
    });
    let storm_secs = start.elapsed().as_secs_f64();
    let stats = q.shutdown(Duration::from_secs(30));

    let (ok, busy) = (
        offered.ok.load(Ordering::Relaxed),
        offered.busy.load(Ordering::Relaxed),
    );
    let ctx = format!(
        "capacity {capacity:.0}/s, offered {:.0}/s, {stats:?}, peak rss +{} KiB",
        (ok + busy) as f64 / storm_secs,
        peak.load(Ordering::Relaxed).saturating_sub(baseline) >> 10
    );
    // Callers kept their pace: a blocked caller could not offer more than
    // the capacity.
    assert!(
        (ok + busy) as f64 >= 1.5 * capacity * storm_secs,
        "callers were held back: {ctx}"
    );
    assert!(
        offered.max_call_ns.load(Ordering::Relaxed) < 100_000_000,
        "a call took {} ms: {ctx}",
        offered.max_call_ns.load(Ordering::Relaxed) / 1_000_000
    );
    assert_eq!(offered.other.load(Ordering::Relaxed), 0, "{ctx}");
    // Shedding engaged, and every event is accounted for.
    assert!(busy > 0, "nothing was shed at twice the capacity: {ctx}");
    assert_eq!((stats.accepted, stats.busy_rejections), (ok, busy), "{ctx}");
    assert_eq!(
        (stats.emitted, stats.failed, stats.dropped_at_shutdown),
        (ok, 0, 0),
        "{ctx}"
    );
    // Memory stayed under the bound.
    assert!(
        peak.load(Ordering::Relaxed).saturating_sub(baseline) <= MEMORY_BOUND_BYTES,
        "memory grew past the bound: {ctx}"
    );
    // Every drop is counted by reason, and nothing else was dropped.
    let mut drops = Vec::new();
    for (key, _, _, value) in snap.snapshot().into_vec() {
        if let ("audit_drop_total", DebugValue::Counter(n)) = (key.key().name(), value) {
            let reason = key
                .key()
                .labels()
                .find(|l| l.key() == "reason")
                .map(|l| l.value().to_owned());
            drops.push((reason.unwrap_or_default(), n));
        }
    }
    let backpressure: u64 = drops
        .iter()
        .filter(|(r, _)| r == "audit_backpressure")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(backpressure, busy, "drops by reason {drops:?}: {ctx}");
    assert!(
        drops.iter().all(|(r, n)| r == "audit_backpressure" || *n == 0),
        "{drops:?}"
    );

    // Every acknowledged record verifies afterwards.
    wal.close().expect("close");
    let report = verify_wal_dir(&dir, &VerifyOptions::default());
    assert_eq!(report.failure, None, "{ctx}");
    assert_eq!(report.records(), ok, "{ctx}");
    let mut acked = Acked::new();
    for r in receipts {
        let r = r.expect("a receipt of an accepted event");
        acked.insert((r.stream, r.seq), r.self_hash);
    }
    assert!(!acked.is_empty());
    drop(wal);
    let (wal, _) = WalSink::open(&dir, opts(FsyncPolicy::Always, 8 << 20)).expect("reopen");
    assert_all_there(&wal, &acked, &ctx);
    eprintln!("storm: {ctx}; {} receipts checked", acked.len());
}
