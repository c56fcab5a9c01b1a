//! Fixed workloads for instruction-count profiling, which is repeatable on a
//! noisy machine where timings are not:
//!
//! ```sh
//! cargo build --release -p ron-audit-benches --bin profile
//! valgrind --tool=callgrind target/release/profile emit [ROUNDS]
//! valgrind --tool=callgrind target/release/profile floor [ROUNDS]
//! valgrind --tool=callgrind target/release/profile verify [RECORDS]
//! ```
//!
//! - `emit`: 1,000 workload events through `Emitter` into a fresh
//!   `RamSink`, per round. Events are cloned before each round's loop, so
//!   the profile's `Emitter::emit` subtree is emit alone.
//! - `floor`: the emit bench's floor over the same records
//!   (derived-struct serialization + BLAKE3).
//! - `queued`: the same rounds through `QueuedEmitter` with 2 workers
//!   (for `perf record`; callgrind serializes threads).
//! - `verify`: writes a WAL of RECORDS workload records (no fsync), then
//!   verifies it on one thread; the `verify_wal_dir` subtree is the verify.

use std::hint::black_box;
use std::sync::Arc;

use audit_canon::Limits;
use audit_chain::{
    AuditSink, AuditStream, Emitter, Event, FsyncPolicy, Overflow, QueueConfig, QueuedEmitter, RamSink,
};
use audit_cli::{Workload, floor_of};
use audit_verify::{VerifyOptions, verify_wal_dir};
use audit_wal::{WalOptions, WalSink};

const W: &str = "svc-gateway@bench-1";

fn events(n: usize) -> Vec<Event> {
    let mut w = Workload::new(7);
    (0..n).map(|_| w.next_event().into_chain_event()).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("emit", String::as_str);
    let n: Option<usize> = args.get(2).and_then(|a| a.parse().ok());
    match mode {
        "emit" => emit(n.unwrap_or(5)),
        "floor" => floor(n.unwrap_or(5)),
        "verify" => verify(n.unwrap_or(20_000)),
        "queued" => queued(n.unwrap_or(5)),
        other => {
            eprintln!("usage: profile emit|floor|queued|verify [N] (unknown mode {other:?})");
            std::process::exit(2);
        }
    }
}

fn emit(rounds: usize) {
    let events = events(1000);
    for _ in 0..rounds {
        let sink = Arc::new(RamSink::new(usize::MAX, usize::MAX));
        let em = Emitter::new(W, sink, Limits::default()).expect("emitter");
        let batch = events.clone();
        for e in batch {
            black_box(em.emit(e).expect("emit"));
        }
    }
}

fn queued(rounds: usize) {
    let events = events(1000);
    for _ in 0..rounds {
        let sink = Arc::new(RamSink::new(usize::MAX, usize::MAX));
        let em = Arc::new(Emitter::new(W, sink.clone(), Limits::default()).expect("emitter"));
        let q = QueuedEmitter::start(
            em,
            QueueConfig {
                workers: 2,
                capacity: 4096,
                overflow: Overflow::Block,
            },
        )
        .expect("start");
        for e in events.clone() {
            q.try_emit(e).expect("queued");
        }
        let stats = q.shutdown(std::time::Duration::from_secs(60));
        assert_eq!(stats.emitted, 1000);
        drop(q);
        drop(sink); // the last reference: records are freed here, not in a worker
    }
}

fn floor(rounds: usize) {
    let sink = Arc::new(RamSink::new(usize::MAX, usize::MAX));
    let em = Emitter::new(W, sink.clone(), Limits::default()).expect("emitter");
    for e in events(1000) {
        em.emit(e).expect("emit");
    }
    let mut floors = Vec::new();
    for (w, s) in sink.streams() {
        floors.extend(
            sink.read(&w, &s)
                .expect("read")
                .iter()
                .map(|r| floor_of(r.record())),
        );
    }
    let mut buf = Vec::with_capacity(4096);
    for _ in 0..rounds {
        for f in &floors {
            buf.clear();
            serde_json::to_writer(&mut buf, f).expect("serialize");
            black_box(blake3::hash(&buf));
        }
    }
}

fn verify(records: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let opts = WalOptions {
            fsync: FsyncPolicy::Never,
            ..WalOptions::default()
        };
        let (sink, _) = WalSink::open(dir.path(), opts).expect("open");
        let sink = Arc::new(sink);
        let em = Emitter::new(W, sink.clone(), Limits::default()).expect("emitter");
        for e in events(records) {
            em.emit(e).expect("emit");
        }
        sink.close().expect("close");
    }
    let report = verify_wal_dir(
        dir.path(),
        &VerifyOptions {
            trust: audit_verify::TrustSet::default(),
            threads: 1,
        },
    );
    assert_eq!(report.exit_code(), 0, "{report:?}");
    assert_eq!(report.records(), records as u64);
}
