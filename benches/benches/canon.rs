//! Criterion bench `canon`: our canonical paths against their floors, over
//! the same realistic records, in the same run.
//!
//! - `canon/encode`: typed record to canonical bytes + `self_hash`, against
//!   `serde_json::to_writer` of a plain derived struct + `blake3::hash`.
//! - `canon/verify`: `verify_record` of stored bytes, against `blake3::hash`
//!   of the same bytes alone.
//!
//! After criterion's own output it prints each path's ratio to its floor
//! (medians of this run), which is what `docs/PERFORMANCE.md` records.

use std::hint::black_box;

use audit_canon::{AuditRecord, Digest, Limits, PrevHash, verify_record};
use audit_cli::workload::Workload;
use criterion::{Criterion, Throughput};
use ron_audit_benches::{Floor, floor_of, report};

/// How many records one iteration processes.
const BATCH: usize = 1000;

fn records() -> Vec<AuditRecord> {
    let mut w = Workload::new(42);
    let mut prev = PrevHash::Genesis;
    let limits = Limits::default();
    (0..BATCH)
        .map(|i| {
            let e = w.next_event();
            let r = AuditRecord::builder()
                .ts_ms(e.ts_ms)
                .writer_id("svc-gateway@bench-1")
                .seq(i as u64 + 1)
                .stream(e.stream)
                .kind(e.kind)
                .actor(e.actor)
                .subject(e.subject)
                .reason(e.reason)
                .attrs(e.attrs)
                .prev(prev)
                .build()
                .expect("workload records are valid");
            prev = PrevHash::Digest(r.self_hash(&limits).expect("within bounds"));
            r
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let limits = Limits::default();
    let recs = records();
    let floors: Vec<Floor> = recs.iter().map(floor_of).collect();
    let stored: Vec<Vec<u8>> = recs
        .iter()
        .map(|r| r.to_canonical(&limits).expect("bounds"))
        .collect();
    let mean = stored.iter().map(Vec::len).sum::<usize>() / stored.len();
    eprintln!("canon bench: {BATCH} records per iteration, mean canonical size {mean} B");

    let mut g = c.benchmark_group("canon");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("encode", |b| {
        let mut buf = Vec::with_capacity(4096);
        b.iter(|| {
            for r in &recs {
                r.canonical_bytes(&limits, &mut buf).expect("bounds");
                black_box(Digest::of(&buf));
            }
        })
    });
    g.bench_function("encode_floor", |b| {
        let mut buf = Vec::with_capacity(4096);
        b.iter(|| {
            for f in &floors {
                buf.clear();
                serde_json::to_writer(&mut buf, f).expect("serialize");
                black_box(blake3::hash(&buf));
            }
        })
    });
    g.bench_function("verify", |b| {
        b.iter(|| {
            for s in &stored {
                black_box(verify_record(s, &limits).expect("verifies"));
            }
        })
    });
    g.bench_function("verify_floor", |b| {
        b.iter(|| {
            for s in &stored {
                black_box(blake3::hash(s));
            }
        })
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    report(
        "canon",
        BATCH,
        &[("encode", "encode_floor", 0.85), ("verify", "verify_floor", 0.60)],
    );
}
