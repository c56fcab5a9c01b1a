//! Criterion bench `emit`: events through `Emitter` into `RamSink` on one
//! core, and through `QueuedEmitter` with 2 workers, each beside its
//! same-run floor (derived-struct serialization + `blake3::hash` per record),
//! plus `emit` latency percentiles and the share of Merkle frontier upkeep.
//!
//! Every timed round starts from a fresh sink and emitter (set up untimed),
//! so memory growth does not leak into the figures.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_canon::{Digest, Frontier, Limits, leaf_hash};
use audit_chain::{AuditStream, Emitter, Event, Overflow, QueueConfig, QueuedEmitter, RamSink};
use audit_cli::Workload;
use criterion::{BatchSize, Criterion, Throughput};
use ron_audit_benches::{Floor, criterion_mode_only, floor_of, median, percentile, record_of};

const BATCH: usize = 1000;
const W: &str = "svc-gateway@bench-1";

fn events() -> Vec<Event> {
    let mut w = Workload::new(7);
    (0..BATCH).map(|_| w.next_event().into_chain_event()).collect()
}

fn fresh() -> (Arc<RamSink>, Emitter) {
    let sink = Arc::new(RamSink::new(usize::MAX, usize::MAX));
    let em = Emitter::new(W, sink.clone(), Limits::default()).expect("emitter");
    (sink, em)
}

/// The floor records: what the same events serialize to with a derived struct.
fn floors(evs: &[Event]) -> Vec<Floor> {
    let (sink, em) = fresh();
    for e in evs {
        em.emit(e.clone()).expect("emit");
    }
    let mut out = Vec::new();
    for (w, s) in sink.streams() {
        out.extend(
            sink.read(&w, &s)
                .expect("read")
                .iter()
                .map(|r| floor_of(r.record())),
        );
    }
    out
}

fn floor(fl: &[Floor], buf: &mut Vec<u8>) {
    for f in fl {
        buf.clear();
        serde_json::to_writer(&mut *buf, f).expect("serialize");
        black_box(blake3::hash(buf));
    }
}

fn emit_one_core(em: &Emitter, evs: Vec<Event>) {
    for e in evs {
        black_box(em.emit(e).expect("emit"));
    }
}

/// A started front end over a fresh sink. Starting (thread spawns) and
/// dropping the sink (freeing every record) happen outside the timings,
/// as for [`fresh`]: a host pays them once, not per event.
fn started(workers: usize) -> (Arc<RamSink>, QueuedEmitter) {
    let (sink, em) = fresh();
    let q = QueuedEmitter::start(
        Arc::new(em),
        QueueConfig {
            workers,
            capacity: 4096,
            overflow: Overflow::Block,
        },
    )
    .expect("start");
    (sink, q)
}

/// Queues every event and waits until the workers have recorded them all.
fn emit_queued(q: &QueuedEmitter, evs: Vec<Event>) {
    for e in evs {
        q.try_emit(e).expect("queued");
    }
    let stats = q.shutdown(Duration::from_secs(60));
    assert_eq!(stats.emitted, BATCH as u64);
}

fn bench(c: &mut Criterion) {
    let evs = events();
    let fl = floors(&evs);
    let mut g = c.benchmark_group("emit");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("one_core", |b| {
        b.iter_batched(
            || (fresh(), evs.clone()),
            |((_s, em), e)| emit_one_core(&em, e),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("queued_2_workers", |b| {
        b.iter_batched(
            || (started(2), evs.clone()),
            |((_s, q), e)| emit_queued(&q, e),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("floor", |b| {
        let mut buf = Vec::with_capacity(4096);
        b.iter(|| floor(&fl, &mut buf))
    });
    g.finish();
}

/// Alternating rounds: one core, queued, floor, frontier upkeep; ratios per round.
fn paired_report(rounds: usize) {
    let evs = events();
    let fl = floors(&evs);
    let mut buf = Vec::with_capacity(4096);
    let hashes: Vec<Digest> = (0..BATCH).map(|i| Digest::of(&i.to_le_bytes())).collect();
    let (mut one, mut queued, mut flo, mut front) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut r_one, mut r_q, mut r_front) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let ((_s, em), e) = (fresh(), evs.clone());
        let t = Instant::now();
        emit_one_core(&em, e);
        let t_one = t.elapsed().as_nanos() as f64;
        let ((_s, q), e) = (started(2), evs.clone());
        let t = Instant::now();
        emit_queued(&q, e);
        let t_q = t.elapsed().as_nanos() as f64;
        let t = Instant::now();
        floor(&fl, &mut buf);
        let t_floor = t.elapsed().as_nanos() as f64;
        let t = Instant::now();
        let mut f = Frontier::new();
        for h in &hashes {
            f.push(leaf_hash(h)).expect("push");
        }
        black_box(f.root());
        let t_front = t.elapsed().as_nanos() as f64;
        one.push(t_one);
        queued.push(t_q);
        flo.push(t_floor);
        front.push(t_front);
        r_one.push(t_floor / t_one);
        r_q.push(t_one / t_q);
        r_front.push(t_front / t_one);
    }
    let rate = |ns: f64| BATCH as f64 / (ns / 1e9);
    println!("\nemit: paired same-run figures ({rounds} alternating rounds of {BATCH} events, medians)");
    println!(
        "{:<26} {:>12} {:>12} {:>7} {:>9}  pass",
        "measure", "value", "baseline", "ratio", "target"
    );
    let row = |name: &str, v: String, b: String, ratio: f64, target: &str, pass: bool| {
        println!(
            "{name:<26} {v:>12} {b:>12} {ratio:>7.2} {target:>9}  {}",
            if pass { "yes" } else { "NO" }
        );
    };
    let ro = median(&mut r_one);
    row(
        "one core vs floor (ev/s)",
        format!("{:.0}", rate(median(&mut one))),
        format!("{:.0}", rate(median(&mut flo))),
        ro,
        ">= 0.75",
        ro >= 0.75,
    );
    let rq = median(&mut r_q);
    row(
        "2 workers vs one core",
        format!("{:.0}", rate(median(&mut queued))),
        format!("{:.0}", rate(median(&mut one.clone()))),
        rq,
        ">= 1.60",
        rq >= 1.6,
    );
    let rf = median(&mut r_front);
    row(
        "frontier upkeep share",
        format!("{:.0} ns", median(&mut front) / BATCH as f64),
        format!("{:.0} ns", median(&mut one) / BATCH as f64),
        rf,
        "<= 0.10",
        rf <= 0.10,
    );

    breakdown(&evs, rounds);

    // Latency of single emits, not saturated: one caller, fresh sink.
    let (_s, em) = fresh();
    let mut lat = Vec::with_capacity(50 * BATCH);
    for _ in 0..50 {
        for e in evs.iter().cloned() {
            let t = Instant::now();
            black_box(em.emit(e).expect("emit"));
            lat.push(t.elapsed().as_nanos() as f64 / 1000.0);
        }
    }
    let (p50, p99) = (percentile(&mut lat, 0.50), percentile(&mut lat, 0.99));
    println!(
        "{:<26} {:>12} {:>12} {:>7} {:>9}  {}",
        "emit latency p50 / p99",
        format!("{p50:.1} us"),
        format!("{p99:.1} us"),
        "-",
        "p99 < 50",
        if p99 < 50.0 { "yes" } else { "NO" }
    );
}

/// Where one emit's time goes: each stage alone over the same events
/// (medians of `rounds`), to steer optimisation. Not targets. The builder
/// writes a record's canonical bytes as it checks it, so "build" includes
/// the writing and "seal" only puts `seq` and `prev` in and hashes.
fn breakdown(evs: &[Event], rounds: usize) {
    use audit_canon::{AuditRecord, PrevHash};
    use audit_chain::{AuditSink, Privacy, SealedRecord};
    let limits = Limits::default();
    let privacy = Privacy::default();
    let build = |e: Event| record_of(e, W, 1, PrevHash::Genesis);
    let records: Vec<AuditRecord> = evs.iter().cloned().map(build).collect();
    let (mut scrub, mut built, mut sealed, mut appended) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let mut e = evs.to_vec();
        let t = Instant::now();
        for ev in &mut e {
            black_box(privacy.scrub(ev).expect("redact"));
        }
        scrub.push(t.elapsed().as_nanos() as f64);
        let e = evs.to_vec();
        let t = Instant::now();
        let out: Vec<AuditRecord> = e.into_iter().map(build).collect();
        built.push(t.elapsed().as_nanos() as f64);
        drop(black_box(out)); // freeing is not part of building
        let r = records.clone();
        let t = Instant::now();
        let seals: Vec<SealedRecord> = r
            .into_iter()
            .map(|x| SealedRecord::seal(x, &limits).expect("seal"))
            .collect();
        sealed.push(t.elapsed().as_nanos() as f64);
        // Appends need a chain: re-seal each record at its position, untimed.
        let mut chain = Vec::with_capacity(seals.len());
        let mut prev = PrevHash::Genesis;
        for (i, x) in seals.iter().enumerate() {
            let rec = x
                .record()
                .clone()
                .with_position(i as u64 + 1, prev)
                .expect("position");
            let s = SealedRecord::seal(rec.to_builder().stream("one").build().expect("b"), &limits)
                .expect("seal");
            prev = PrevHash::Digest(*s.self_hash());
            chain.push(s);
        }
        let sink = RamSink::new(usize::MAX, usize::MAX);
        let t = Instant::now();
        for x in &chain {
            black_box(sink.append(x).expect("append"));
        }
        appended.push(t.elapsed().as_nanos() as f64);
    }
    let per = |v: &mut Vec<f64>| median(v) / BATCH as f64;
    println!(
        "breakdown per event (ns): scrub {:.0}, build+validate+write {:.0}, seq/prev+hash+seal {:.0}, RamSink append {:.0}",
        per(&mut scrub),
        per(&mut built),
        per(&mut sealed),
        per(&mut appended)
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    if criterion_mode_only() {
        return;
    }
    paired_report(60);
}
