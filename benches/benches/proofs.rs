//! Bench `proofs`: making and checking inclusion and consistency proofs
//! over a stream of 50,000 workload records with five signed checkpoints
//! (`AUDIT_BENCH_PROOF_RECORDS` sets the count). Beside them, in the same
//! run, the one-shot `inclusion_proof_of`, which hashes every leaf for its
//! one proof, and the `Prover` build that a run of proofs pays once.

use std::hint::black_box;
use std::sync::Arc;

use audit_canon::Limits;
use audit_chain::{AuditSink, Emitter, FsyncPolicy, Privacy};
use audit_cli::Workload;
use audit_export::{
    CHECKPOINTS_FILE, Cadence, Checkpointer, Ed25519Signer, Prover, Signer, StreamRecord, inclusion_proof_of,
    stream_checkpoints,
};
use audit_verify::{SignedCheckpoint, TrustSet, verify_proof};
use audit_wal::{WalOptions, WalSink};
use criterion::{BatchSize, Criterion, Throughput};

const W: &str = "svc-gateway@bench-1";
const STREAM: &str = "ingress";

/// The stream's records and checkpoints, and the trust set of their key.
fn stream(n: u64) -> (Vec<StreamRecord>, Vec<SignedCheckpoint>, TrustSet) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let opts = WalOptions {
        rotate_bytes: 128 << 20,
        fsync: FsyncPolicy::Never,
    };
    let wal = Arc::new(WalSink::open(tmp.path(), opts).expect("open").0);
    let key = Arc::new(Ed25519Signer::generate().expect("key"));
    let signer: Arc<dyn Signer> = key.clone();
    let (cp, _) = Checkpointer::open(wal.clone(), vec![signer], Cadence::default()).expect("checkpointer");
    let em = Emitter::new(W, wal.clone(), Limits::default())
        .expect("emitter")
        .with_privacy(Privacy::off());
    let mut w = Workload::new(11);
    for i in 1..=n {
        let mut e = w.next_event().into_chain_event();
        e.stream = STREAM.to_owned();
        em.emit(e).expect("emit");
        if i % (n / 5).max(1) == 0 {
            cp.checkpoint_all(2).expect("checkpoint");
        }
    }
    cp.checkpoint_all(2).expect("checkpoint");
    let records = wal
        .read_raw(W, STREAM, 1..=u64::MAX)
        .expect("read")
        .into_iter()
        .map(|r| StreamRecord {
            canonical: r.canonical,
            self_hash: r.self_hash,
        })
        .collect();
    let cps = stream_checkpoints(&tmp.path().join(CHECKPOINTS_FILE), W, STREAM).expect("checkpoints");
    wal.close().expect("close");
    let trust = TrustSet::new().with_key(key.public_key().clone());
    (records, cps, trust)
}

fn bench(c: &mut Criterion) {
    let n = std::env::var("AUDIT_BENCH_PROOF_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000u64);
    let (records, cps, trust) = stream(n);
    let ends: Vec<u64> = cps.iter().map(|c| c.body.end_seq()).collect();
    let prover = Prover::new(STREAM, &records, &cps);
    let seqs: Vec<u64> = (1..=1000u64).map(|i| i * 7919 % n + 1).collect();
    let mut g = c.benchmark_group("proofs");
    g.bench_function("prover_build", |b| {
        b.iter(|| black_box(Prover::new(STREAM, &records, &cps)))
    });
    g.throughput(Throughput::Elements(seqs.len() as u64));
    g.bench_function("inclusion_make", |b| {
        b.iter(|| {
            for &s in &seqs {
                black_box(prover.inclusion(s, None).expect("prove"));
            }
        })
    });
    let proofs: Vec<String> = seqs
        .iter()
        .map(|&s| prover.inclusion(s, None).expect("prove"))
        .collect();
    g.bench_function("inclusion_check", |b| {
        b.iter(|| {
            for p in &proofs {
                black_box(verify_proof(p.as_bytes(), &trust).expect("verify"));
            }
        })
    });
    let pairs: Vec<(u64, u64)> = ends
        .iter()
        .enumerate()
        .flat_map(|(i, &a)| ends.iter().skip(i).map(move |&b| (a, b)))
        .collect();
    g.throughput(Throughput::Elements(pairs.len() as u64));
    g.bench_function("consistency_make", |b| {
        b.iter(|| {
            for &(a, e) in &pairs {
                black_box(prover.consistency(a, e).expect("prove"));
            }
        })
    });
    let cproofs: Vec<String> = pairs
        .iter()
        .map(|&(a, e)| prover.consistency(a, e).expect("prove"))
        .collect();
    g.bench_function("consistency_check", |b| {
        b.iter(|| {
            for p in &cproofs {
                black_box(verify_proof(p.as_bytes(), &trust).expect("verify"));
            }
        })
    });
    // The baseline a run of proofs is measured against: one proof made
    // from scratch (every leaf hashed), as `auditctl prove` makes it.
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    let mut next = seqs.iter().cycle();
    g.bench_function("inclusion_one_shot", |b| {
        b.iter_batched(
            || *next.next().unwrap_or(&1),
            |s| black_box(inclusion_proof_of(&records, &cps, STREAM, s, None).expect("prove")),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
