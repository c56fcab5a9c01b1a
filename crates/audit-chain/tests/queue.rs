//! The queued front end's claims: it sheds instead of blocking, counts what
//! it sheds, drains on shutdown without losing what it accepted, reports
//! what a deadline dropped, and keeps one writer per chain head.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_canon::Limits;
use audit_chain::{EmitError, Emitter, Event, Overflow, QueueConfig, QueueError, QueuedEmitter, RamSink};
use common::GatedSink;

const W: &str = "svc-gateway@queue-1";

fn ev(stream: &str, i: u64) -> Event {
    Event::new(stream, "GetServed", "ok").attr("i", i)
}

fn config(workers: usize, capacity: usize) -> QueueConfig {
    QueueConfig {
        workers,
        capacity,
        overflow: Overflow::Shed,
    }
}

#[test]
fn a_full_queue_sheds_with_busy_at_once_and_counts_it() {
    let (sink, entered, release) = GatedSink::new();
    let em = Arc::new(Emitter::new(W, sink.clone(), Limits::default()).expect("emitter"));
    let q = QueuedEmitter::start(em, config(1, 4)).expect("start");
    // The worker takes the first event and sticks in the sink...
    q.try_emit(ev("slow", 0)).expect("accepted");
    entered
        .recv_timeout(Duration::from_secs(10))
        .expect("worker is in the sink");
    // ...so four more fill the queue...
    for i in 1..=4 {
        q.try_emit(ev("slow", i)).expect("room in the queue");
    }
    // ...and the rest are shed at once, never blocking the caller.
    let t = Instant::now();
    for i in 5..105 {
        let err = q.try_emit(ev("slow", i)).expect_err("queue is full");
        assert!(
            matches!(err, QueueError::Busy { ref stream } if stream == "slow"),
            "{err}"
        );
    }
    // A generous bound: blocking would last until the 10 s gate timeout.
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "shedding took {:?}",
        t.elapsed()
    );
    assert_eq!(q.stats().busy_rejections, 100);
    assert_eq!(q.stats().accepted, 5);
    for _ in 0..5 {
        let _ = release.send(());
    }
    let stats = q.shutdown(Duration::from_secs(30));
    assert_eq!(stats.emitted, 5, "everything accepted was recorded: {stats:?}");
    assert_eq!(sink.inner.read(W, "slow").expect("verifies").len(), 5);
}

#[test]
fn shutdown_drains_everything_accepted() {
    let sink = Arc::new(RamSink::new(1_000_000, 1 << 30));
    let em = Arc::new(Emitter::new(W, sink.clone(), Limits::default()).expect("emitter"));
    let q = QueuedEmitter::start(
        em,
        QueueConfig {
            overflow: Overflow::Block,
            ..config(3, 64)
        },
    )
    .expect("start");
    let streams = ["a", "b", "c", "d", "e"];
    for i in 0..5_000u64 {
        q.try_emit(ev(streams[(i % 5) as usize], i))
            .expect("block policy waits for room");
    }
    let stats = q.shutdown(Duration::from_secs(60));
    assert_eq!(stats.accepted, 5_000);
    assert_eq!(stats.emitted, 5_000, "{stats:?}");
    assert_eq!(stats.dropped_at_shutdown, 0);
    let total: usize = streams
        .iter()
        .map(|s| sink.read(W, s).expect("verifies").len())
        .sum();
    assert_eq!(total, 5_000);
    assert!(
        matches!(q.try_emit(ev("a", 0)), Err(QueueError::Closed)),
        "intake stopped"
    );
}

#[test]
fn events_still_queued_at_the_deadline_are_dropped_and_counted() {
    let (sink, entered, release) = GatedSink::new();
    let em = Arc::new(Emitter::new(W, sink.clone(), Limits::default()).expect("emitter"));
    let q = Arc::new(QueuedEmitter::start(em, config(1, 16)).expect("start"));
    let first = q.emit_with_receipt(ev("slow", 0)).expect("accepted");
    entered
        .recv_timeout(Duration::from_secs(10))
        .expect("worker is in the sink");
    let waiting: Vec<_> = (1..=5)
        .map(|i| q.emit_with_receipt(ev("slow", i)).expect("queued"))
        .collect();
    // Shut down with no time to drain, then let the stuck append finish.
    let q2 = q.clone();
    let shutdown = std::thread::spawn(move || q2.shutdown(Duration::ZERO));
    let t = Instant::now();
    while q.is_accepting() {
        assert!(t.elapsed() < Duration::from_secs(10), "shutdown did not begin");
        std::thread::yield_now();
    }
    release.send(()).expect("release");
    let stats = shutdown.join().expect("join");
    assert_eq!(stats.emitted, 1);
    assert_eq!(stats.dropped_at_shutdown, 5, "{stats:?}");
    assert_eq!(
        stats.accepted,
        stats.emitted + stats.dropped_at_shutdown + stats.failed
    );
    assert_eq!(first.wait(Duration::from_secs(10)).expect("recorded").seq, 1);
    for w in waiting {
        assert!(matches!(
            w.wait(Duration::from_secs(10)),
            Err(QueueError::Dropped)
        ));
    }
    assert_eq!(sink.inner.read(W, "slow").expect("verifies").len(), 1);
}

#[test]
fn receipts_report_the_record_and_failures() {
    let sink = Arc::new(RamSink::new(1000, 1 << 20));
    let em = Arc::new(Emitter::new(W, sink.clone(), Limits::default()).expect("emitter"));
    let q = QueuedEmitter::start(em, config(2, 8)).expect("start");
    let r = q
        .emit_with_receipt(ev("ingress", 1))
        .expect("queued")
        .wait(Duration::from_secs(10))
        .expect("receipt");
    assert_eq!((r.stream.as_str(), r.seq), ("ingress", 1));
    // A field that breaks its rule is refused to the caller at once, never queued.
    for bad in [
        q.emit_with_receipt(Event::new("ingress", "GetServed", "NOT-OK"))
            .map(|_| ()),
        q.try_emit(Event::new("ingress", "GetServed", "NOT-OK")),
    ] {
        let bad = bad.expect_err("invalid reason");
        assert!(
            matches!(bad, QueueError::Emit(EmitError::Invalid(_))) && bad.to_string().contains("reason"),
            "{bad}"
        );
    }
    // A record over the size bound is found by the worker, and its receipt says so.
    let big = Event::new("ingress", "GetServed", "ok").attr("blob", "x".repeat(2000));
    let over = q
        .emit_with_receipt(big)
        .expect("queued")
        .wait(Duration::from_secs(10))
        .expect_err("over the attrs bound");
    assert!(matches!(over, QueueError::Emit(EmitError::Bounds(_))), "{over}");
    let stats = q.shutdown(Duration::from_secs(10));
    assert_eq!(
        (stats.accepted, stats.refused, stats.emitted, stats.failed),
        (2, 2, 1, 1)
    );
    assert_eq!(sink.len(), 1);
}

#[test]
fn many_producers_through_sharded_workers_keep_every_chain_contiguous() {
    let sink = Arc::new(RamSink::new(1_000_000, 1 << 30));
    let em = Arc::new(Emitter::new(W, sink.clone(), Limits::default()).expect("emitter"));
    let q = Arc::new(
        QueuedEmitter::start(
            em,
            QueueConfig {
                overflow: Overflow::Block,
                ..config(4, 32)
            },
        )
        .expect("start"),
    );
    let streams = ["s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"];
    std::thread::scope(|s| {
        for t in 0..6u64 {
            let q = q.clone();
            s.spawn(move || {
                for i in 0..500u64 {
                    q.try_emit(ev(streams[((t + i) % 9) as usize], i))
                        .expect("queued");
                }
            });
        }
    });
    let stats = q.shutdown(Duration::from_secs(60));
    assert_eq!(stats.emitted, 3_000, "{stats:?}");
    for s in streams {
        let recs = sink.read(W, s).expect("every stream verifies");
        assert!(
            recs.iter()
                .enumerate()
                .all(|(i, r)| r.record().seq() == i as u64 + 1)
        );
    }
}

#[test]
fn bad_configs_are_refused() {
    let sink = Arc::new(RamSink::new(10, 1 << 20));
    let em = Arc::new(Emitter::new(W, sink, Limits::default()).expect("emitter"));
    assert!(matches!(
        QueuedEmitter::start(em.clone(), config(0, 8)),
        Err(QueueError::Config(_))
    ));
    assert!(matches!(
        QueuedEmitter::start(em.clone(), config(9, 8)),
        Err(QueueError::Config(_))
    ));
    assert!(matches!(
        QueuedEmitter::start(em, config(2, 0)),
        Err(QueueError::Config(_))
    ));
}

#[test]
fn a_surge_past_capacity_is_shed_counted_and_never_blocks() {
    let sink = Arc::new(RamSink::new(10_000_000, 1 << 32));
    let em = Arc::new(Emitter::new(W, sink.clone(), Limits::default()).expect("emitter"));
    // One worker with a small queue against four unthrottled producers: far
    // more offered than one worker records.
    let q = Arc::new(QueuedEmitter::start(em, config(1, 64)).expect("start"));
    let per_producer = 20_000u64;
    let slowest = std::sync::Mutex::new(Duration::ZERO);
    std::thread::scope(|s| {
        for p in 0..4u64 {
            let (q, slowest) = (q.clone(), &slowest);
            s.spawn(move || {
                let mut worst = Duration::ZERO;
                for i in 0..per_producer {
                    let t = Instant::now();
                    let _ = q.try_emit(ev(["a", "b", "c"][(i % 3) as usize], p * per_producer + i));
                    worst = worst.max(t.elapsed());
                }
                let mut w = slowest.lock().expect("lock");
                *w = (*w).max(worst);
            });
        }
    });
    let stats = q.shutdown(Duration::from_secs(60));
    let offered = 4 * per_producer;
    assert!(stats.busy_rejections > 0, "a surge must shed: {stats:?}");
    assert_eq!(
        stats.accepted + stats.busy_rejections,
        offered,
        "every offer is accepted or counted"
    );
    assert_eq!(
        stats.emitted, stats.accepted,
        "everything accepted is recorded: {stats:?}"
    );
    // No call waited on the worker: shedding is immediate. (A generous
    // bound for a shared machine; a blocked call would wait for the drain.)
    let worst = *slowest.lock().expect("lock");
    assert!(worst < Duration::from_secs(1), "slowest try_emit took {worst:?}");
    let recorded: usize = ["a", "b", "c"]
        .iter()
        .map(|s| sink.read(W, s).expect("verifies").len())
        .sum();
    assert_eq!(recorded as u64, stats.emitted);
}

#[test]
fn shutdown_releases_the_emitter_and_its_sink() {
    let sink = Arc::new(RamSink::new(1000, 1 << 20));
    let em = Arc::new(Emitter::new(W, sink.clone(), Limits::default()).expect("emitter"));
    let q = QueuedEmitter::start(em, config(2, 8)).expect("start");
    q.try_emit(ev("a", 1)).expect("queued");
    assert!(Arc::strong_count(&sink) > 1);
    q.shutdown(Duration::from_secs(10));
    // A WAL sink's directory lock goes with it, so the same process can reopen.
    assert_eq!(Arc::strong_count(&sink), 1, "the front end still holds the sink");
    assert!(matches!(q.try_emit(ev("a", 2)), Err(QueueError::Closed)));
}

/// `streams.<name>.queue_depth` (seed CONFIG): a stream with a depth of its
/// own sheds at that depth, above or below the global one, whatever else
/// waits on its worker; the other streams share the global depth.
#[test]
fn a_stream_with_its_own_depth_sheds_at_that_depth() {
    let (sink, entered, release) = GatedSink::new();
    let em = Arc::new(Emitter::new(W, sink.clone(), Limits::default()).expect("emitter"));
    let toml = "queue_depth = 3\nworkers = 1\n[streams.\"big\"]\nqueue_depth = 10\n[streams.\"small\"]\nqueue_depth = 1\n";
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.toml");
    std::fs::write(&path, toml).expect("write");
    let cfg = audit_chain::AuditConfig::load(Some(&path), Vec::new(), &[]).expect("config");
    assert_eq!(cfg.queue_config(), config(1, 3));
    let q = QueuedEmitter::from_config(em, &cfg).expect("start");
    // The one worker sticks in the sink with the first event...
    q.try_emit(ev("slow", 0)).expect("accepted");
    entered
        .recv_timeout(Duration::from_secs(10))
        .expect("worker is in the sink");
    // ...so each stream's queue fills to its depth and then sheds.
    let fill = |stream: &str| {
        (1..=20)
            .take_while(|&i| q.try_emit(ev(stream, i)).is_ok())
            .count()
    };
    assert_eq!(fill("big"), 10, "its own depth, above the global 3");
    assert_eq!(fill("small"), 1, "its own depth, below the global 3");
    assert_eq!(fill("slow"), 3, "streams without one share the global depth");
    assert_eq!(fill("other"), 0, "...across streams");
    let err = q.try_emit(ev("big", 99)).expect_err("full");
    assert!(
        matches!(err, QueueError::Busy { ref stream } if stream == "big"),
        "{err}"
    );
    assert_eq!(q.stats().accepted, 1 + 10 + 1 + 3);
    // Once drained, the depths are free again: nothing stays counted.
    for _ in 0..4 {
        let _ = release.send(());
    }
    let t = Instant::now();
    while q.try_emit(ev("small", 100)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "small never drained");
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..4 {
        let _ = release.send(());
    }
    let stats = q.shutdown(Duration::from_secs(30));
    assert_eq!(stats.emitted, stats.accepted, "{stats:?}");
    assert_eq!(sink.inner.read(W, "big").expect("verifies").len(), 10);
    assert_eq!(sink.inner.read(W, "small").expect("verifies").len(), 2);
}

#[test]
fn a_stream_depth_of_zero_is_refused() {
    let sink = Arc::new(RamSink::new(10, 1 << 20));
    let em = Arc::new(Emitter::new(W, sink, Limits::default()).expect("emitter"));
    let depths = [("s".to_owned(), 0)].into_iter().collect();
    assert!(matches!(
        QueuedEmitter::start_with_stream_depths(em, config(1, 4), &depths),
        Err(QueueError::Config(_))
    ));
}
