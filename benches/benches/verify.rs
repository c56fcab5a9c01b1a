//! Bench `verify`: records/s and GB/s verifying a WAL directory (default
//! 1 GiB; `AUDIT_BENCH_WAL_MIB` sets it) on 1 core and on all cores, each
//! beside BLAKE3 alone over the same records' bytes, record by record, on
//! the same number of threads, measured in the same run. Also the cost of
//! a checkpoint over 10,000 new records beyond its fsync.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use audit_canon::Limits;
use audit_chain::{Emitter, FsyncPolicy, Privacy};
use audit_cli::Workload;
use audit_export::{Cadence, Checkpointer, Ed25519Signer, Signer};
use audit_verify::{SegmentReader, Step, VerifyOptions, parse_segment_file_name, verify_wal_dir};
use audit_wal::{WalOptions, WalSink};
use ron_audit_benches::median;

const W: &str = "svc-gateway@bench-1";

fn build_wal(dir: &Path, mib: u64) -> u64 {
    let opts = WalOptions {
        rotate_bytes: 128 << 20,
        fsync: FsyncPolicy::Never,
    };
    let (sink, _) = WalSink::open(dir, opts).expect("open");
    let sink = Arc::new(sink);
    let em = Emitter::new(W, sink.clone(), Limits::default())
        .expect("emitter")
        .with_privacy(Privacy::off());
    let mut w = Workload::new(5);
    let mut n = 0;
    while (sink.end().0 - 1) * (128 << 20) + sink.end().1 < mib << 20 {
        for _ in 0..1000 {
            em.emit(w.next_event().into_chain_event()).expect("emit");
        }
        n += 1000;
    }
    audit_chain::AuditSink::close(&*sink).expect("close");
    n
}

fn segments(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| {
            let e = e.ok()?;
            Some((parse_segment_file_name(e.file_name().to_str()?)?, e.path()))
        })
        .collect();
    v.sort();
    v
}

/// BLAKE3 of every record's bytes, record by record, segments split over
/// `threads` (the bytes are read the same way the verifier reads them).
fn hash_only(segs: &[(u64, PathBuf)], threads: usize) -> u64 {
    let chunks: Vec<&[(u64, PathBuf)]> = segs.chunks(segs.len().div_ceil(threads).max(1)).collect();
    std::thread::scope(|s| {
        let hs: Vec<_> = chunks
            .iter()
            .map(|c| {
                s.spawn(move || {
                    let mut n = 0u64;
                    for (num, p) in *c {
                        let f = std::fs::File::open(p).expect("open");
                        let m = audit_verify::map_readonly(&f).expect("map");
                        let mut r = SegmentReader::new(&m, *num).expect("header");
                        while let Ok(Step::Frame(fr)) = r.next_step() {
                            std::hint::black_box(blake3::hash(fr.canonical));
                            n += 1;
                        }
                    }
                    n
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("thread")).sum()
    })
}

fn main() {
    if ron_audit_benches::criterion_mode_only() {
        return;
    }
    let mib: u64 = std::env::var("AUDIT_BENCH_WAL_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("wal");
    let t = Instant::now();
    let records = build_wal(&dir, mib);
    let segs = segments(&dir);
    let bytes: u64 = segs
        .iter()
        .map(|(_, p)| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    println!(
        "verify: WAL of {records} records, {:.2} GiB in {} segments (built in {:.1} s)",
        bytes as f64 / (1u64 << 30) as f64,
        segs.len(),
        t.elapsed().as_secs_f64()
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rounds = if std::env::var_os("AUDIT_BENCH_QUICK").is_some() {
        1
    } else {
        3
    };
    let (mut v1, mut vn, mut h1, mut hn) = (vec![], vec![], vec![], vec![]);
    let (mut r1, mut rn) = (vec![], vec![]);
    for _ in 0..rounds {
        let time = |f: &mut dyn FnMut()| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        };
        let a = time(&mut || {
            assert_eq!(
                verify_wal_dir(
                    &dir,
                    &VerifyOptions {
                        threads: 1,
                        ..Default::default()
                    }
                )
                .failure,
                None
            )
        });
        let b = time(&mut || assert_eq!(hash_only(&segs, 1), records));
        let c = time(&mut || {
            assert_eq!(
                verify_wal_dir(
                    &dir,
                    &VerifyOptions {
                        threads: cores,
                        ..Default::default()
                    }
                )
                .failure,
                None
            )
        });
        let d = time(&mut || assert_eq!(hash_only(&segs, cores), records));
        v1.push(a);
        h1.push(b);
        vn.push(c);
        hn.push(d);
        r1.push(b / a);
        rn.push(a / c);
    }
    let rate = |s: f64| records as f64 / s;
    let gbs = |s: f64| bytes as f64 / s / 1e9;
    let (v1, h1, vn, hn) = (median(&mut v1), median(&mut h1), median(&mut vn), median(&mut hn));
    let (q1, qn) = (median(&mut r1), median(&mut rn));
    println!(
        "{:<38} {:>12} {:>9} {:>14} {:>7} {:>9}  pass",
        "measure", "rec/s", "GB/s", "baseline rec/s", "ratio", "target"
    );
    println!(
        "{:<38} {:>12.0} {:>9.2} {:>14.0} {:>7.2} {:>9}  {}",
        "verify, 1 core vs BLAKE3 alone, 1 core",
        rate(v1),
        gbs(v1),
        rate(h1),
        q1,
        ">= 0.60",
        if q1 >= 0.6 { "yes" } else { "NO" }
    );
    println!(
        "{:<38} {:>12.0} {:>9.2} {:>14.0} {:>7.2} {:>9}  {}",
        format!("verify, {cores} cores vs verify, 1 core"),
        rate(vn),
        gbs(vn),
        rate(v1),
        qn,
        ">= 1.70",
        if qn >= 1.7 { "yes" } else { "NO" }
    );
    println!(
        "  (BLAKE3 alone on {cores} cores: {:.0} rec/s, {:.2} GB/s)",
        rate(hn),
        gbs(hn)
    );

    // A checkpoint over 10,000 new records, beyond its fsync.
    let cdir = tmp.path().join("cp");
    let (sink, _) = WalSink::open(
        &cdir,
        WalOptions {
            rotate_bytes: 128 << 20,
            fsync: FsyncPolicy::Never,
        },
    )
    .expect("open");
    let sink = Arc::new(sink);
    let key: Arc<dyn Signer> = Arc::new(Ed25519Signer::generate().expect("key"));
    let (cp, _) = Checkpointer::open(sink.clone(), vec![key], Cadence::default()).expect("cp");
    let em = Emitter::new(W, sink.clone(), Limits::default())
        .expect("emitter")
        .with_privacy(Privacy::off());
    let mut w = Workload::new(9);
    let (mut costs, mut syncs) = (vec![], vec![]);
    // The checkpoint's own fsync, alone: a line of the same length appended
    // to a scratch file beside it and synced (a sync with nothing to write
    // costs a tenth of one that has a line to make durable).
    let probe = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(cdir.join("sync-probe"))
        .expect("probe");
    for _ in 0..10 {
        for _ in 0..10_000 {
            let mut ev = w.next_event().into_chain_event();
            ev.stream = "ingress".into();
            em.emit(ev).expect("emit");
        }
        let t = Instant::now();
        let made = cp.checkpoint_all(1).expect("checkpoint");
        costs.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(made.len(), 1);
        let mut line = vec![b'x'; made[0].to_line().len()];
        line.push(b'\n');
        let t = Instant::now();
        std::io::Write::write_all(&mut &probe, &line).expect("write");
        probe.sync_data().expect("sync");
        syncs.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (c, s) = (median(&mut costs), median(&mut syncs));
    println!(
        "{:<38} {:>12} {:>9} {:>14} {:>7} {:>9}  {}",
        "checkpoint of 10,000 new records (ms)",
        format!("{c:.3}"),
        "",
        format!("fsync {s:.3}"),
        format!("{:.3}", c - s),
        "< 1 ms",
        if c - s < 1.0 { "yes" } else { "NO" }
    );
    drop(sink);
}
