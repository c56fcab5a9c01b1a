//! Criterion bench `canon`: our canonical paths against their floors, over
//! the same realistic records, in the same run.
//!
//! - `canon/encode`: typed record to canonical bytes + `self_hash`, against
//!   `serde_json::to_writer` of a plain derived struct + `blake3::hash`.
//! - `canon/verify`: `verify_record` of stored bytes, against `blake3::hash`
//!   of the same bytes alone.
//!
//! After criterion's output it prints two ratio tables: criterion's medians
//! (separate time windows, so machine noise moves them) and a paired run that
//! alternates each path with its floor (both see the same load). The paired
//! figures are the ones `docs/PERFORMANCE.md` records.

use std::cell::RefCell;
use std::hint::black_box;

use audit_canon::{AuditRecord, Digest, Limits, PrevHash, verify_record};
use audit_cli::Workload;
use criterion::{Criterion, Throughput};
use ron_audit_benches::{Floor, criterion_mode_only, floor_of, paired, print_paired, record_of, report};

/// How many records one iteration processes.
const BATCH: usize = 1000;

fn records() -> Vec<AuditRecord> {
    let mut w = Workload::new(42);
    let mut prev = PrevHash::Genesis;
    let limits = Limits::default();
    (0..BATCH)
        .map(|i| {
            let r = record_of(
                w.next_event().into_chain_event(),
                "svc-gateway@bench-1",
                i as u64 + 1,
                prev,
            );
            prev = PrevHash::Digest(r.self_hash(&limits).expect("within bounds"));
            r
        })
        .collect()
}

/// The four measured paths over one batch.
struct Paths {
    limits: Limits,
    recs: Vec<AuditRecord>,
    floors: Vec<Floor>,
    stored: Vec<Vec<u8>>,
    buf: Vec<u8>,
}

impl Paths {
    fn new() -> Self {
        let limits = Limits::default();
        let recs = records();
        let floors = recs.iter().map(floor_of).collect();
        let stored = recs
            .iter()
            .map(|r| r.to_canonical(&limits).expect("bounds"))
            .collect();
        Self {
            limits,
            recs,
            floors,
            stored,
            buf: Vec::with_capacity(4096),
        }
    }

    fn encode(&mut self) {
        for r in &self.recs {
            r.canonical_bytes(&self.limits, &mut self.buf).expect("bounds");
            black_box(Digest::of(&self.buf));
        }
    }

    fn encode_floor(&mut self) {
        for f in &self.floors {
            self.buf.clear();
            serde_json::to_writer(&mut self.buf, f).expect("serialize");
            black_box(blake3::hash(&self.buf));
        }
    }

    fn verify(&self) {
        for s in &self.stored {
            black_box(verify_record(s, &self.limits).expect("verifies"));
        }
    }

    fn verify_floor(&self) {
        for s in &self.stored {
            black_box(blake3::hash(s));
        }
    }
}

fn bench(c: &mut Criterion) {
    let p = RefCell::new(Paths::new());
    let mean = p.borrow().stored.iter().map(Vec::len).sum::<usize>() / BATCH;
    eprintln!("canon bench: {BATCH} records per iteration, mean canonical size {mean} B");
    let mut g = c.benchmark_group("canon");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("encode", |b| b.iter(|| p.borrow_mut().encode()));
    g.bench_function("encode_floor", |b| b.iter(|| p.borrow_mut().encode_floor()));
    g.bench_function("verify", |b| b.iter(|| p.borrow().verify()));
    g.bench_function("verify_floor", |b| b.iter(|| p.borrow().verify_floor()));
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    if criterion_mode_only() {
        return;
    }
    report(
        "canon",
        BATCH,
        &[("encode", "encode_floor", 0.85), ("verify", "verify_floor", 0.60)],
    );
    let rounds = 400;
    println!("\ncanon: paired same-run ratios ({rounds} alternating rounds of {BATCH} records, medians)");
    println!(
        "{:<10} {:>14} {:>14} {:>7} {:>7}  pass",
        "path", "ours rec/s", "floor rec/s", "ratio", "target"
    );
    let p = RefCell::new(Paths::new());
    let enc = paired(
        rounds,
        || p.borrow_mut().encode(),
        || p.borrow_mut().encode_floor(),
    );
    print_paired("encode", BATCH, &enc, 0.85);
    let ver = paired(rounds, || p.borrow().verify(), || p.borrow().verify_floor());
    print_paired("verify", BATCH, &ver, 0.60);
}
