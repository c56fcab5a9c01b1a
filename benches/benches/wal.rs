//! Bench `wal`: durable appends per second with `fsync = always` for 1, 4
//! and 64 concurrent producers, each beside the same-run raw baseline (the
//! same frame bytes written with one `fdatasync` per batch of the same
//! size); `on_checkpoint` beside `RamSink`; the latency of a durable append
//! beside that of one `fdatasync`; and the time to open a WAL beside the
//! time to verify it in full.
//!
//! Records are sealed before timing (untimed), so the figures are the
//! WAL's own cost. Every timed round uses a fresh directory. Sizes can be
//! scaled down with `AUDIT_BENCH_QUICK=1` (CI smoke) and the open-time WAL
//! set with `AUDIT_BENCH_WAL_MIB` (default 1024).

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use audit_canon::Limits;
use audit_chain::{AuditSink, Emitter, Event, FsyncPolicy, Privacy, RamSink, SealedRecord};
use audit_cli::Workload;
use audit_verify::{Chains, FRAME_OVERHEAD, encode_frame, parse_segment_file_name, scan_segment};
use audit_wal::{WalOptions, WalSink};
use criterion::{BatchSize, Criterion, Throughput};
use ron_audit_benches::{criterion_mode_only, median, percentile};

const W: &str = "svc-gateway@bench-1";

fn quick() -> bool {
    std::env::var_os("AUDIT_BENCH_QUICK").is_some()
}

/// `per` chained records on each of `producers` streams, sealed.
fn chains(producers: usize, per: usize) -> Vec<Vec<SealedRecord>> {
    let ram = Arc::new(RamSink::new(usize::MAX, usize::MAX));
    let em = Emitter::new(W, ram.clone(), Limits::default())
        .expect("emitter")
        .with_privacy(Privacy::off());
    let mut w = Workload::new(11);
    for p in 0..producers {
        for _ in 0..per {
            let mut ev = w.next_event().into_chain_event();
            ev.stream = format!("p{p}");
            em.emit(ev).expect("emit");
        }
    }
    (0..producers)
        .map(|p| ram.read(W, &format!("p{p}")).expect("read"))
        .collect()
}

fn events(n: usize) -> Vec<Event> {
    let mut w = Workload::new(7);
    (0..n).map(|_| w.next_event().into_chain_event()).collect()
}

fn frames_of(recs: &[SealedRecord]) -> Vec<Vec<u8>> {
    recs.iter()
        .map(|r| {
            let mut f = Vec::with_capacity(FRAME_OVERHEAD + r.canonical().len());
            encode_frame(&mut f, 1, r.record().seq(), r.canonical(), r.self_hash()).expect("frame");
            f
        })
        .collect()
}

fn wal(dir: &std::path::Path, fsync: FsyncPolicy) -> Arc<WalSink> {
    let opts = WalOptions {
        rotate_bytes: 128 << 20,
        fsync,
    };
    Arc::new(WalSink::open(dir.join("wal"), opts).expect("open wal").0)
}

/// Appends every chain from its own thread; returns elapsed ns and each
/// append's latency in µs.
fn durable_appends(sink: &Arc<WalSink>, chains: &[Vec<SealedRecord>]) -> (f64, Vec<f64>) {
    let t = Instant::now();
    let lat = std::thread::scope(|s| {
        let handles: Vec<_> = chains
            .iter()
            .map(|c| {
                let sink = sink.clone();
                s.spawn(move || {
                    let mut lat = Vec::with_capacity(c.len());
                    for r in c {
                        let t = Instant::now();
                        sink.append(r).expect("append");
                        lat.push(t.elapsed().as_nanos() as f64 / 1000.0);
                    }
                    lat
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("producer"))
            .collect::<Vec<_>>()
    });
    (t.elapsed().as_nanos() as f64, lat)
}

/// The raw baseline: the same frames appended to a plain file, `batch` per
/// `write`, one `fdatasync` per write. Returns elapsed ns and each
/// `fdatasync`'s latency in µs.
fn raw(dir: &std::path::Path, frames: &[Vec<u8>], batch: usize) -> (f64, Vec<f64>) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("raw.bin"))
        .expect("raw file");
    let mut buf = Vec::new();
    let mut lat = Vec::new();
    let t = Instant::now();
    for group in frames.chunks(batch) {
        buf.clear();
        for fr in group {
            buf.extend_from_slice(fr);
        }
        f.write_all(&buf).expect("write");
        let s = Instant::now();
        f.sync_data().expect("fdatasync");
        lat.push(s.elapsed().as_nanos() as f64 / 1000.0);
    }
    (t.elapsed().as_nanos() as f64, lat)
}

fn row(name: &str, v: String, b: String, ratio: f64, target: &str, pass: bool) {
    println!(
        "{name:<34} {v:>14} {b:>14} {ratio:>7.2} {target:>9}  {}",
        if pass { "yes" } else { "NO" }
    );
}

/// `always` with `producers` threads vs raw writes batched the same way.
fn always_vs_raw(producers: usize, per: usize, raw_batch: usize, rounds: usize, target: f64) -> Vec<f64> {
    let chains = chains(producers, per);
    let frames: Vec<Vec<u8>> = {
        // Interleave producers as a group commit would see them.
        let per_chain: Vec<_> = chains.iter().map(|c| frames_of(c)).collect();
        (0..per)
            .flat_map(|i| per_chain.iter().map(move |c| c[i].clone()))
            .collect()
    };
    let n = (producers * per) as f64;
    let (mut ours, mut base, mut ratio, mut lat_all, mut sync_lat) = (vec![], vec![], vec![], vec![], vec![]);
    for r in 0..rounds {
        let tmp = tempfile::tempdir().expect("tempdir");
        let sink = wal(tmp.path(), FsyncPolicy::Always);
        let tmp2 = tempfile::tempdir().expect("tempdir");
        let ((t_ours, lat), (t_raw, sl)) = if r % 2 == 0 {
            let a = durable_appends(&sink, &chains);
            (a, raw(tmp2.path(), &frames, raw_batch))
        } else {
            let b = raw(tmp2.path(), &frames, raw_batch);
            (durable_appends(&sink, &chains), b)
        };
        ours.push(t_ours);
        base.push(t_raw);
        ratio.push(t_raw / t_ours);
        lat_all.extend(lat);
        sync_lat.extend(sl);
    }
    let rate = |ns: f64| n / (ns / 1e9);
    let q = median(&mut ratio);
    row(
        &format!("always, {producers} producer(s) vs raw/{raw_batch}"),
        format!("{:.0}", rate(median(&mut ours))),
        format!("{:.0}", rate(median(&mut base))),
        q,
        &format!(">= {target:.2}"),
        q >= target,
    );
    let (p99, s99) = (percentile(&mut lat_all, 0.99), percentile(&mut sync_lat, 0.99));
    if producers == 1 {
        row(
            "  p99 append vs p99 fdatasync (us)",
            format!("{p99:.0}"),
            format!("{s99:.0}"),
            p99 / s99,
            "<= 2.00",
            p99 / s99 <= 2.0,
        );
    } else {
        println!(
            "  p50 / p99 append latency: {:.0} / {:.0} us (raw p99 fdatasync of a {raw_batch}-frame batch {:.0} us)",
            percentile(&mut lat_all, 0.5),
            p99,
            s99
        );
    }
    vec![q]
}

/// `on_checkpoint` vs `RamSink`, both through the `Emitter` as a host uses
/// them, and at the sink alone.
fn on_checkpoint_vs_ram(n: usize, rounds: usize) {
    let evs = events(n);
    let recs = chains(1, n);
    let (mut r_emit, mut r_sink, mut t_wal, mut t_ram) = (vec![], vec![], vec![], vec![]);
    for r in 0..rounds {
        let tmp = tempfile::tempdir().expect("tempdir");
        let sink = wal(tmp.path(), FsyncPolicy::OnCheckpoint);
        let em_w = Emitter::new(W, sink.clone(), Limits::default()).expect("emitter");
        let ram = Arc::new(RamSink::new(usize::MAX, usize::MAX));
        let em_r = Emitter::new(W, ram, Limits::default()).expect("emitter");
        let run = |em: &Emitter| {
            let t = Instant::now();
            for e in evs.iter().cloned() {
                em.emit(e).expect("emit");
            }
            t.elapsed().as_nanos() as f64
        };
        let (a, b) = if r % 2 == 0 {
            let a = run(&em_w);
            (a, run(&em_r))
        } else {
            let b = run(&em_r);
            (run(&em_w), b)
        };
        sink.flush().expect("flush");
        t_wal.push(a);
        t_ram.push(b);
        r_emit.push(b / a);
        // Sink alone: the same sealed records.
        let tmp = tempfile::tempdir().expect("tempdir");
        let sink = wal(tmp.path(), FsyncPolicy::OnCheckpoint);
        let ram = RamSink::new(usize::MAX, usize::MAX);
        let t = Instant::now();
        for rec in &recs[0] {
            sink.append(rec).expect("append");
        }
        let a = t.elapsed().as_nanos() as f64;
        let t = Instant::now();
        for rec in &recs[0] {
            ram.append(rec).expect("append");
        }
        r_sink.push(t.elapsed().as_nanos() as f64 / a);
    }
    let rate = |ns: f64| n as f64 / (ns / 1e9);
    let q = median(&mut r_emit);
    row(
        "on_checkpoint vs RamSink (emit)",
        format!("{:.0}", rate(median(&mut t_wal))),
        format!("{:.0}", rate(median(&mut t_ram))),
        q,
        ">= 0.85",
        q >= 0.85,
    );
    let s = median(&mut r_sink);
    println!(
        "  sink alone (append of sealed records): WAL/RamSink ratio {s:.2} (not a target: one write(2) per append)"
    );
}

/// Open time of a WAL of `mib` MiB (sealed segments indexed) vs a full
/// frame-by-frame verify of the same segments.
fn open_vs_verify(mib: u64) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("wal");
    let opts = WalOptions {
        rotate_bytes: 128 << 20,
        fsync: FsyncPolicy::Never,
    };
    let (sink, _) = WalSink::open(&dir, opts).expect("open");
    let sink = Arc::new(sink);
    let em = Emitter::new(W, sink.clone(), Limits::default())
        .expect("emitter")
        .with_privacy(Privacy::off());
    let mut w = Workload::new(3);
    while sink.end().0.saturating_sub(1) * (128 << 20) + sink.end().1 < mib << 20 {
        for _ in 0..1000 {
            em.emit(w.next_event().into_chain_event()).expect("emit");
        }
    }
    // A crash-like end: the newest segment keeps no index, so open parses it.
    drop(em);
    drop(sink);
    let mut t_open = Vec::new();
    let mut t_verify = Vec::new();
    let mut records = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let (s, report) = WalSink::open(&dir, opts).expect("reopen");
        t_open.push(t.elapsed().as_secs_f64());
        records = report.records;
        drop(s);
        let t = Instant::now();
        let mut segs: Vec<(u64, std::path::PathBuf)> = std::fs::read_dir(&dir)
            .expect("dir")
            .filter_map(|e| {
                let e = e.ok()?;
                Some((parse_segment_file_name(e.file_name().to_str()?)?, e.path()))
            })
            .collect();
        segs.sort();
        let last = segs.len() as u64;
        let mut chains = Chains::new();
        for (n, p) in segs {
            let bytes = std::fs::read(p).expect("read");
            scan_segment(&bytes, n, n == last, &mut chains, &Limits::default(), |_, _| {}).expect("verify");
        }
        t_verify.push(t.elapsed().as_secs_f64());
    }
    let (o, v) = (median(&mut t_open), median(&mut t_verify));
    row(
        &format!("open vs full verify, {mib} MiB (s)"),
        format!("{o:.3}"),
        format!("{v:.3}"),
        o / v,
        "< 0.10",
        o / v < 0.10,
    );
    println!("  {records} records; open hashes sealed segments and parses the newest one");
}

fn bench(c: &mut Criterion) {
    let recs = chains(1, 1000);
    let mut g = c.benchmark_group("wal");
    g.throughput(Throughput::Elements(1000));
    g.sample_size(10);
    g.bench_function("append_on_checkpoint", |b| {
        b.iter_batched(
            || {
                let tmp = tempfile::tempdir().expect("tempdir");
                let sink = wal(tmp.path(), FsyncPolicy::OnCheckpoint);
                (tmp, sink)
            },
            |(_tmp, sink)| {
                for r in &recs[0] {
                    sink.append(r).expect("append");
                }
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("ram_append", |b| {
        b.iter_batched(
            || RamSink::new(usize::MAX, usize::MAX),
            |ram| {
                for r in &recs[0] {
                    ram.append(r).expect("append");
                }
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    if criterion_mode_only() {
        return;
    }
    let q = quick();
    let rounds = if q { 2 } else { 5 };
    println!("\nwal: paired same-run figures ({rounds} alternating rounds, medians)");
    println!(
        "{:<34} {:>14} {:>14} {:>7} {:>9}  pass",
        "measure", "ours rec/s", "baseline", "ratio", "target"
    );
    always_vs_raw(1, if q { 200 } else { 2000 }, 1, rounds, 0.90);
    always_vs_raw(4, if q { 100 } else { 1000 }, 4, rounds, 0.0);
    always_vs_raw(64, if q { 20 } else { 200 }, 64, rounds, 0.50);
    on_checkpoint_vs_ram(if q { 2000 } else { 20_000 }, rounds);
    let mib = std::env::var("AUDIT_BENCH_WAL_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if q { 64 } else { 1024 });
    open_vs_verify(mib);
}
