//! `auditctl bench`: each measure of the pipeline beside the baseline that
//! bounds it, measured one after the other in this process, so the ratios
//! survive a noisy machine. One row per measure (CLI-v1.md, and the bench
//! sections of the crate issues for the targets).

use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use audit_canon::{Digest, Limits};
use audit_chain::{AuditSink, Emitter, Event, FsyncPolicy, Privacy, RamSink, SealedRecord};
use audit_export::{Cadence, Checkpointer, Ed25519Signer, Prover, Signer};
use audit_verify::{SegmentReader, Step, TrustSet, VerifyOptions, verify_proof, verify_wal_dir};
use audit_wal::{WalOptions, WalSink};
use serde_json::json;

use crate::exit::Exit;
use crate::floor::floor_of;
use crate::workload::Workload;

/// One measure.
struct Row {
    name: &'static str,
    /// Records the row measured with.
    records: usize,
    value: f64,
    unit: &'static str,
    baseline: Option<f64>,
    ratio: Option<f64>,
    target: Option<&'static str>,
    pass: Option<bool>,
}

fn secs<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let r = f();
    (t.elapsed().as_secs_f64(), r)
}

/// The middle value (sorts `v`); NaN when empty.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn rate(n: usize, s: f64) -> f64 {
    n as f64 / s.max(1e-9)
}

fn events(n: u64) -> Vec<Event> {
    let mut w = Workload::new(42);
    (0..n).map(|_| w.next_event().into_chain_event()).collect()
}

fn sealed(evs: &[Event]) -> Vec<SealedRecord> {
    let ram = Arc::new(RamSink::new(usize::MAX, usize::MAX));
    let e = match Emitter::new("svc-gateway@bench-1", ram.clone(), Limits::default()) {
        Ok(e) => e.with_privacy(Privacy::off()),
        Err(_) => return Vec::new(),
    };
    for ev in evs {
        let _ = e.emit(ev.clone());
    }
    let mut out = Vec::new();
    for (w, s) in audit_chain::AuditStream::streams(&*ram) {
        out.extend(ram.read(&w, &s).unwrap_or_default());
    }
    out
}

fn emitter_on<S: AuditSink + audit_chain::AuditStream + 'static>(sink: Arc<S>) -> Result<Emitter, String> {
    Emitter::new("svc-gateway@bench-1", sink, Limits::default()).map_err(|e| e.to_string())
}

#[allow(clippy::too_many_arguments)]
fn ratio_row(
    name: &'static str,
    records: usize,
    unit: &'static str,
    ours: f64,
    base: f64,
    target: &'static str,
    min: f64,
) -> Row {
    let row = info_row(name, records, unit, ours, base);
    Row {
        target: Some(target),
        pass: row.ratio.map(|r| r >= min),
        ..row
    }
}

/// A measure beside a baseline with no target of its own: what bounds it.
fn info_row(name: &'static str, records: usize, unit: &'static str, ours: f64, base: f64) -> Row {
    Row {
        name,
        records,
        value: ours,
        unit,
        baseline: Some(base),
        ratio: Some(ours / base.max(1e-9)),
        target: None,
        pass: None,
    }
}

/// Runs `work` on every item, the items cut into `threads` runs of
/// neighbours, one per thread (one: this thread).
fn spread<T: Sync>(items: &[T], threads: usize, work: impl Fn(&T) + Sync) {
    if threads <= 1 {
        items.iter().for_each(&work);
        return;
    }
    std::thread::scope(|s| {
        for run in items.chunks(items.len().div_ceil(threads).max(1)) {
            let work = &work;
            s.spawn(move || run.iter().for_each(work));
        }
    });
}

/// Runs every measure over `records` events.
pub(crate) fn run(records: u64, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    match measure(records, json, out, err) {
        Ok(rows) => {
            if json {
                let cpu = std::fs::read_to_string("/proc/cpuinfo")
                    .ok()
                    .and_then(|c| {
                        c.lines()
                            .find(|l| l.starts_with("model name"))
                            .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
                    })
                    .unwrap_or_else(|| "unknown".into());
                let doc = json!({
                    "machine": {
                        "cpu": cpu,
                        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
                        "rustc": env!("AUDITCTL_RUSTC"),
                        "commit": env!("AUDITCTL_COMMIT"),
                    },
                    "rows": rows.iter().map(|r| json!({
                        "name": r.name, "records": r.records, "value": r.value, "unit": r.unit, "baseline": r.baseline,
                        "ratio": r.ratio, "target": r.target, "pass": r.pass,
                    })).collect::<Vec<_>>(),
                });
                let _ = writeln!(out, "{doc}");
            }
            Exit::Ok
        }
        Err(e) => crate::fail(err, Exit::Io, format_args!("bench: {e}")),
    }
}

fn print_row(out: &mut dyn Write, json: bool, r: &Row) {
    if json {
        return;
    }
    let opt = |v: Option<f64>| {
        v.map_or("-".to_owned(), |x| {
            if x >= 100.0 {
                format!("{x:.0}")
            } else {
                format!("{x:.3}")
            }
        })
    };
    let _ = writeln!(
        out,
        "{:<50} {:>8} {:>12} {:<8} {:>12} {:>7} {:>8}  {}",
        r.name,
        r.records,
        opt(Some(r.value)),
        r.unit,
        opt(r.baseline),
        r.ratio.map_or("-".into(), |x| format!("{x:.2}")),
        r.target.unwrap_or("-"),
        match r.pass {
            Some(true) => "pass".to_owned(),
            Some(false) => shortfall(r),
            None => "-".to_owned(),
        }
    );
}

/// A missed row: by how much, for `>= X` targets ("FAIL, 35% short").
fn shortfall(r: &Row) -> String {
    let min = r
        .target
        .and_then(|t| t.strip_prefix(">= "))
        .and_then(|t| t.parse::<f64>().ok());
    match (r.ratio, min) {
        (Some(ratio), Some(min)) if min > 0.0 => format!("FAIL, {:.0}% short", (1.0 - ratio / min) * 100.0),
        _ => "FAIL".to_owned(),
    }
}

fn measure(records: u64, json: bool, out: &mut dyn Write, _err: &mut dyn Write) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    if !json {
        let _ = writeln!(
            out,
            "auditctl bench: {records} realistic records; each row beside its same-run baseline"
        );
        let _ = writeln!(
            out,
            "{:<50} {:>8} {:>12} {:<8} {:>12} {:>7} {:>8}  pass",
            "measure", "records", "value", "unit", "baseline", "ratio", "target"
        );
    }
    let push = |rows: &mut Vec<Row>, r: Row, out: &mut dyn Write| {
        print_row(out, json, &r);
        rows.push(r);
    };
    let evs = events(records);
    let recs = sealed(&evs);
    let n = recs.len();
    let limits = Limits::default();

    let tmp = std::env::temp_dir().join(format!("auditctl-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = (|| -> Result<(), String> {
        // 1-3, interleaved: the records are cut into CHUNKS slices and each
        // slice goes through every measure in turn, so a change in the
        // machine's speed during the run (the neighbours' load) falls on
        // each measure and its baseline alike.
        //   1. canonicalize + hash vs serialize (derived struct) + BLAKE3;
        //   2. emit into RAM vs the same floor;
        //   3. emit into a WAL (on_checkpoint) vs emit into RAM.
        // The sinks keep every record, as a host's would. Events are copied
        // for the emitters before the clock starts: a host hands over
        // events it built, and copying them is not emitting.
        const CHUNKS: usize = 20;
        let typed: Vec<_> = recs.iter().map(|r| r.record().clone()).collect();
        let floors: Vec<_> = typed.iter().map(floor_of).collect();
        let em_ram = emitter_on(Arc::new(RamSink::new(usize::MAX, usize::MAX)))?;
        let wal = Arc::new(
            WalSink::open(
                tmp.join("w1"),
                WalOptions {
                    rotate_bytes: 128 << 20,
                    fsync: FsyncPolicy::OnCheckpoint,
                },
            )
            .map_err(|e| e.to_string())?
            .0,
        );
        let em_wal = emitter_on(wal.clone())?;
        let mut buf = Vec::with_capacity(4096);
        let (mut t_floor, mut t_ours, mut t_emit, mut t_wal) = (0.0, 0.0, 0.0, 0.0);
        let per = n.div_ceil(CHUNKS).max(1);
        for ((fl, ty), ev) in floors.chunks(per).zip(typed.chunks(per)).zip(evs.chunks(per)) {
            t_floor += secs(|| {
                for f in fl {
                    buf.clear();
                    let _ = serde_json::to_writer(&mut buf, f);
                    black_box(blake3::hash(&buf));
                }
            })
            .0;
            t_ours += secs(|| {
                for r in ty {
                    buf.clear();
                    let _ = r.canonical_bytes(&limits, &mut buf);
                    black_box(Digest::of(&buf));
                }
            })
            .0;
            let batch = ev.to_vec();
            t_emit += secs(|| {
                for e in batch {
                    let _ = em_ram.emit(e);
                }
            })
            .0;
            let batch = ev.to_vec();
            t_wal += secs(|| {
                for e in batch {
                    let _ = em_wal.emit(e);
                }
            })
            .0;
        }
        let _ = wal.close();
        push(
            &mut rows,
            ratio_row(
                "canonicalize+hash vs serialize+BLAKE3",
                n,
                "rec/s",
                rate(n, t_ours),
                rate(n, t_floor),
                ">= 0.85",
                0.85,
            ),
            out,
        );
        push(
            &mut rows,
            ratio_row(
                "emit into RAM vs serialize+BLAKE3",
                n,
                "ev/s",
                rate(n, t_emit),
                rate(n, t_floor),
                ">= 0.75",
                0.75,
            ),
            out,
        );
        push(
            &mut rows,
            ratio_row(
                "emit into WAL on_checkpoint vs into RAM",
                n,
                "ev/s",
                rate(n, t_wal),
                rate(n, t_emit),
                ">= 0.85",
                0.85,
            ),
            out,
        );

        // 4-5. WAL `always` vs raw write + fdatasync of the same frames.
        let few = n.min(2000);
        for (producers, per, target, min) in [
            (1usize, few, ">= 0.90", 0.90),
            (64, (n / 64).clamp(1, 200), ">= 0.50", 0.50),
        ] {
            let chains = crate_chains(producers, per);
            let total: usize = chains.iter().map(Vec::len).sum();
            let dir = tmp.join(format!("always-{producers}"));
            let wal = Arc::new(
                WalSink::open(
                    &dir,
                    WalOptions {
                        rotate_bytes: 128 << 20,
                        fsync: FsyncPolicy::Always,
                    },
                )
                .map_err(|e| e.to_string())?
                .0,
            );
            let frames: Vec<Vec<u8>> = chains.iter().flatten().map(frame_of).collect();
            let raw = tmp.join(format!("raw-{producers}.bin"));
            let (t_w, t_raw) = if producers == 1 {
                // One producer: 10 alternating rounds, so a change in the
                // disk's sync time within the row falls on both sides.
                let mut raw_file = raw_file(&raw)?;
                let (mut t_w, mut t_raw) = (0.0, 0.0);
                let per_round = total.div_ceil(10).max(1);
                for (records, frames) in chains
                    .iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .chunks(per_round)
                    .zip(frames.chunks(per_round))
                {
                    t_w += secs(|| {
                        for r in records {
                            let _ = wal.append(r);
                        }
                    })
                    .0;
                    t_raw += raw_appends(&mut raw_file, frames, 1)?;
                }
                (t_w, t_raw)
            } else {
                // Many producers run once each: rounds would add the wake-up
                // of 64 threads to every round of ours.
                let (t_w, ()) = secs(|| {
                    std::thread::scope(|s| {
                        for c in &chains {
                            let wal = wal.clone();
                            s.spawn(move || {
                                for r in c {
                                    let _ = wal.append(r);
                                }
                            });
                        }
                    })
                });
                (t_w, raw_appends(&mut raw_file(&raw)?, &frames, producers)?)
            };
            // fdatasync-bound rows use fewer records (the `records` field).
            let name = if producers == 1 {
                "WAL always, 1 producer vs raw fdatasync/rec"
            } else {
                "WAL always, 64 producers vs raw, 64/fdatasync"
            };
            push(
                &mut rows,
                ratio_row(
                    name,
                    total,
                    "rec/s",
                    rate(total, t_w),
                    rate(total, t_raw),
                    target,
                    min,
                ),
                out,
            );
        }

        // 6. A checkpoint over 10,000 new records, beyond its fsync: the
        //    median of 5 checkpoints, each over that many new records, less
        //    the median of 5 appends of a line of the same length, synced,
        //    to a scratch file beside it (the checkpoint's own fsync alone).
        let wal = Arc::new(
            WalSink::open(
                tmp.join("cp"),
                WalOptions {
                    rotate_bytes: 128 << 20,
                    fsync: FsyncPolicy::Never,
                },
            )
            .map_err(|e| e.to_string())?
            .0,
        );
        let key = Arc::new(Ed25519Signer::generate().map_err(|e| e.to_string())?);
        let signer: Arc<dyn Signer> = key.clone();
        let (cp, _) =
            Checkpointer::open(wal.clone(), vec![signer], Cadence::default()).map_err(|e| e.to_string())?;
        let em = emitter_on(wal.clone())?;
        let probe = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(tmp.join("cp").join("sync-probe"))
            .map_err(|e| e.to_string())?;
        let per_cp = n.min(10_000);
        let (mut t_cps, mut t_syncs) = (Vec::new(), Vec::new());
        for round in 0..5 {
            for e in evs.iter().cycle().skip(round * per_cp).take(per_cp).cloned() {
                let mut e = e;
                e.stream = "ingress".into();
                let _ = em.emit(e);
            }
            let (t_cp, made) = secs(|| cp.checkpoint_all(1));
            let made = made.map_err(|e| e.to_string())?;
            let mut line = vec![b'x'; made.first().map_or(0, |c| c.to_line().len())];
            line.push(b'\n');
            let (t_sync, synced) =
                secs(|| std::io::Write::write_all(&mut &probe, &line).and_then(|()| probe.sync_data()));
            synced.map_err(|e| e.to_string())?;
            t_cps.push(t_cp);
            t_syncs.push(t_sync);
        }
        let (t_cp, t_sync) = (median(&mut t_cps), median(&mut t_syncs));
        let beyond = (t_cp - t_sync).max(0.0) * 1e3;
        push(
            &mut rows,
            Row {
                name: "checkpoint over new records, beyond fsync",
                records: per_cp,
                value: beyond,
                unit: "ms",
                baseline: Some(t_sync * 1e3),
                ratio: None,
                target: Some("< 1 ms"),
                pass: Some(beyond < 1.0),
            },
            out,
        );

        // 7. Verify a WAL of the records on 1 and all cores vs BLAKE3 alone.
        let vdir = tmp.join("v");
        {
            let wal = Arc::new(
                WalSink::open(
                    &vdir,
                    WalOptions {
                        rotate_bytes: 64 << 20,
                        fsync: FsyncPolicy::Never,
                    },
                )
                .map_err(|e| e.to_string())?
                .0,
            );
            for r in &recs {
                let _ = wal.append(r);
            }
            let _ = wal.close();
        }
        let segs: Vec<_> = (1u64..)
            .map(|k| (k, vdir.join(audit_verify::segment_file_name(k))))
            .take_while(|(_, p)| p.exists())
            .collect();
        // The baselines over the same bytes, mapped as the verifier maps
        // them (inside the timing, as the verifier's mapping is inside
        // its): BLAKE3 record by record, and in bulk (whole files in 4 MiB
        // pieces), on one thread and on all.
        let map_all = || -> Vec<(u64, audit_verify::FileBytes)> {
            segs.iter()
                .filter_map(|(k, p)| Some((*k, audit_verify::read_file(p, true).ok()?)))
                .collect()
        };
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        // Record by record: each thread walks the frames and hashes its
        // share, in runs of 2,048 (the verifier's chunk).
        let per_record = |threads: usize| {
            let mapped = map_all();
            let ids: Vec<usize> = (0..threads).collect();
            spread(&ids, threads, |&t| {
                let mut i = 0usize;
                for (k, b) in &mapped {
                    let Ok(mut r) = SegmentReader::new(b, *k) else {
                        continue;
                    };
                    while let Ok(Step::Frame(f)) = r.next_step() {
                        if (i / 2048) % threads == t {
                            black_box(blake3::hash(f.canonical));
                        }
                        i += 1;
                    }
                }
            })
        };
        let bulk = |threads: usize| {
            let mapped = map_all();
            let pieces: Vec<&[u8]> = mapped.iter().flat_map(|(_, b)| b.chunks(4 << 20)).collect();
            spread(&pieces, threads, |p| {
                black_box(blake3::hash(p));
            })
        };
        // Three alternating rounds of all of them; the median time of each.
        let (mut h1, mut v1, mut vn) = (Vec::new(), Vec::new(), Vec::new());
        let (mut hn, mut b1, mut bn) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            h1.push(secs(|| per_record(1)).0);
            hn.push(secs(|| per_record(cores)).0);
            b1.push(secs(|| bulk(1)).0);
            bn.push(secs(|| bulk(cores)).0);
            for (threads, times) in [(1, &mut v1), (0, &mut vn)] {
                let (t, rep) = secs(|| {
                    verify_wal_dir(
                        &vdir,
                        &VerifyOptions {
                            trust: TrustSet::new(),
                            threads,
                        },
                    )
                });
                if rep.failure.is_some() {
                    return Err(format!("verify failed: {:?}", rep.failure));
                }
                times.push(t);
            }
        }
        let (t_h1, t_v1, t_vn) = (median(&mut h1), median(&mut v1), median(&mut vn));
        push(
            &mut rows,
            ratio_row(
                "verify, 1 core vs BLAKE3 per record, 1 core",
                n,
                "rec/s",
                rate(n, t_v1),
                rate(n, t_h1),
                ">= 0.60",
                0.60,
            ),
            out,
        );
        push(
            &mut rows,
            ratio_row(
                "verify, all cores vs verify, 1 core",
                n,
                "rec/s",
                rate(n, t_vn),
                rate(n, t_v1),
                ">= 1.70",
                1.70,
            ),
            out,
        );
        let (t_hn, t_b1, t_bn) = (median(&mut hn), median(&mut b1), median(&mut bn));
        for (name, ours, base) in [
            ("verify, all cores vs BLAKE3 per record, all cores", t_vn, t_hn),
            ("verify, 1 core vs bulk BLAKE3, 1 core", t_v1, t_b1),
            ("verify, all cores vs bulk BLAKE3, all cores", t_vn, t_bn),
        ] {
            push(
                &mut rows,
                info_row(name, n, "rec/s", rate(n, ours), rate(n, base)),
                out,
            );
        }

        // 8. Proofs made and checked per second (leaves read once).
        cp.checkpoint_all(2).map_err(|e| e.to_string())?;
        let trust = TrustSet::new().with_key(key.public_key().clone());
        let stream: Vec<audit_export::StreamRecord> = wal
            .read_raw("svc-gateway@bench-1", "ingress", 1..=u64::MAX)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|r| audit_export::StreamRecord {
                canonical: r.canonical,
                self_hash: r.self_hash,
            })
            .collect();
        let cps = audit_export::stream_checkpoints(cp.path(), "svc-gateway@bench-1", "ingress")
            .map_err(|e| e.to_string())?;
        // One prover for the stream (its leaves hashed once, timed too),
        // then proofs of records spread over it.
        let k = 5_000u64;
        let (t_p, ok) = secs(|| {
            let prover = Prover::new("ingress", &stream, &cps);
            (1..=k).all(|s| {
                prover
                    .inclusion(s * 37 % stream.len().max(1) as u64 + 1, None)
                    .ok()
                    .is_some_and(|p| verify_proof(p.as_bytes(), &trust).is_ok())
            })
        });
        if !ok {
            return Err("a proof did not verify".into());
        }
        push(
            &mut rows,
            Row {
                name: "inclusion proofs made and checked",
                records: stream.len(),
                value: k as f64 / t_p,
                unit: "proofs/s",
                baseline: None,
                ratio: None,
                target: None,
                pass: None,
            },
            out,
        );
        let _ = wal.close();
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result?;
    Ok(rows)
}

/// `per` chained, sealed records on each of `producers` streams.
fn crate_chains(producers: usize, per: usize) -> Vec<Vec<SealedRecord>> {
    let ram = Arc::new(RamSink::new(usize::MAX, usize::MAX));
    let Ok(e) = emitter_on(ram.clone()) else {
        return Vec::new();
    };
    let e = e.with_privacy(Privacy::off());
    let mut w = Workload::new(11);
    for p in 0..producers {
        for _ in 0..per {
            let mut ev = w.next_event().into_chain_event();
            ev.stream = format!("p{p}");
            let _ = e.emit(ev);
        }
    }
    (0..producers)
        .map(|p| {
            ram.read("svc-gateway@bench-1", &format!("p{p}"))
                .unwrap_or_default()
        })
        .collect()
}

fn frame_of(r: &SealedRecord) -> Vec<u8> {
    let mut f = Vec::with_capacity(audit_verify::FRAME_OVERHEAD + r.canonical().len());
    let _ = audit_verify::encode_frame(&mut f, 1, r.record().seq(), r.canonical(), r.self_hash());
    f
}

/// The frames appended to a plain file, `batch` per `write`, one
/// `fdatasync` per write.
/// A scratch file for [`raw_appends`].
fn raw_file(path: &std::path::Path) -> Result<std::fs::File, String> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| e.to_string())
}

/// Seconds to append `frames` to `f`, `batch` of them per `write` and
/// `fdatasync`.
fn raw_appends(f: &mut std::fs::File, frames: &[Vec<u8>], batch: usize) -> Result<f64, String> {
    let mut buf = Vec::new();
    let t = Instant::now();
    for g in frames.chunks(batch.max(1)) {
        buf.clear();
        for fr in g {
            buf.extend_from_slice(fr);
        }
        f.write_all(&buf)
            .and_then(|()| f.sync_data())
            .map_err(|e| e.to_string())?;
    }
    Ok(t.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::{Row, shortfall};

    fn row(ratio: Option<f64>, target: Option<&'static str>) -> Row {
        Row {
            name: "m",
            records: 1,
            value: 1.0,
            unit: "rec/s",
            baseline: None,
            ratio,
            target,
            pass: Some(false),
        }
    }

    #[test]
    fn a_missed_row_says_by_how_much() {
        assert_eq!(shortfall(&row(Some(0.44), Some(">= 0.50"))), "FAIL, 12% short");
        assert_eq!(shortfall(&row(Some(0.52), Some(">= 0.60"))), "FAIL, 13% short");
        assert_eq!(shortfall(&row(None, Some("< 1 ms"))), "FAIL");
    }
}
