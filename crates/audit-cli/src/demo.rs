//! `auditctl demo`: the quick start. At this stage of the project it runs
//! the real emit pipeline in memory (amnesia mode): `Emitter` with privacy
//! on into a bounded `RamSink`, then checkpoint bodies, verification on
//! read, proofs and a caught tamper, each step with its time.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use audit_canon::{
    Blake3Tree, CheckpointBody, Digest, Limits, PrevHash, consistency_path, inclusion_path, leaf_hash,
    root_of, verify_consistency, verify_inclusion, verify_record,
};
use audit_chain::{AuditStream, Emitter, Event, RamSink};

use crate::exit::Exit;
use crate::workload::Workload;

/// The writer identity the demo uses.
pub const DEMO_WRITER: &str = "svc-gateway@demo-1";

/// Runs the demo over `records` events, printing each step to `out`.
pub fn run(records: u64, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    match steps(records, out) {
        Ok(exit) => exit,
        Err(e) => {
            let _ = writeln!(err, "auditctl demo: {e}");
            Exit::Integrity
        }
    }
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

fn rate(n: usize, s: f64) -> String {
    if s > 0.0 {
        format!("{:.0}/s", n as f64 / s)
    } else {
        "-".into()
    }
}

fn steps(records: u64, out: &mut dyn Write) -> Result<Exit, Box<dyn std::error::Error>> {
    let limits = Limits::default();
    writeln!(
        out,
        "ron-audit demo: {records} events, writer {DEMO_WRITER}, in memory (amnesia mode)"
    )?;

    let t = Instant::now();
    let mut workload = Workload::new(0x5EED);
    let events: Vec<Event> = (0..records)
        .map(|_| workload.next_event().into_chain_event())
        .collect();
    writeln!(
        out,
        "  1. generated {} realistic events in {:.2} s",
        events.len(),
        secs(t)
    )?;

    let n = events.len();
    let sink = Arc::new(RamSink::new(n, n.saturating_mul(limits.max_record_bytes())));
    let emitter = Emitter::new(DEMO_WRITER, sink.clone(), limits)?;
    let t = Instant::now();
    for ev in events {
        emitter.emit(ev)?;
    }
    let s = secs(t);
    writeln!(
        out,
        "  2. emitted {n} records (privacy scrub, canonical bytes, BLAKE3, chain link, Merkle frontier) \
         into RAM: {:.1} MiB, mean {} B, in {:.2} s, {}",
        sink.bytes() as f64 / (1024.0 * 1024.0),
        sink.bytes() / n.max(1),
        s,
        rate(n, s)
    )?;

    let t = Instant::now();
    let mut checkpoints = BTreeMap::new();
    for (_, stream) in sink.streams() {
        let state = emitter.chain_state(&stream).ok_or("stream without state")?;
        let (Some(root), PrevHash::Digest(head)) = (state.frontier().root(), *state.head()) else {
            continue;
        };
        let body = CheckpointBody::new(
            DEMO_WRITER,
            stream.as_str(),
            1,
            state.seq(),
            root,
            head,
            PrevHash::Genesis,
            1_767_225_600_000,
        )?;
        checkpoints.insert(stream, body);
    }
    writeln!(
        out,
        "  3. checkpoint bodies from each stream's frontier (unsigned until audit-export lands) in {:.3} s:",
        secs(t)
    )?;
    for (stream, body) in &checkpoints {
        writeln!(
            out,
            "       {stream:<8} seq 1..={:<6} root {}",
            body.end_seq(),
            body.root()
        )?;
    }

    let t = Instant::now();
    let mut verified = 0usize;
    let mut leaves_by_stream = BTreeMap::new();
    for (stream, cp) in &checkpoints {
        // read() checks every record's canonical bytes, self_hash, seq and prev.
        let recs = sink.read(DEMO_WRITER, stream)?;
        let leaves: Vec<Digest> = recs.iter().map(|r| leaf_hash(r.self_hash())).collect();
        if root_of(&leaves).as_ref() != Some(cp.root()) {
            writeln!(out, "  root mismatch in stream {stream}")?;
            return Ok(Exit::Integrity);
        }
        verified += recs.len();
        leaves_by_stream.insert(stream.clone(), (leaves, recs));
    }
    let s = secs(t);
    writeln!(
        out,
        "  4. verified {verified} records (canonical bytes, self_hash, seq, prev) and {} roots in {:.2} s, {}",
        checkpoints.len(),
        s,
        rate(verified, s)
    )?;

    // Gateway requests carry an HTTP status worth tampering with.
    let stream = if leaves_by_stream.contains_key("gateway") {
        "gateway".to_owned()
    } else {
        leaves_by_stream.keys().next().cloned().ok_or("no streams")?
    };
    let (leaves, recs) = leaves_by_stream.get(&stream).ok_or("no stream")?;
    let cp = checkpoints.get(&stream).ok_or("no checkpoint")?;
    let size = leaves.len() as u64;
    let index = size / 3;
    let t = Instant::now();
    let path = inclusion_path(&Blake3Tree, leaves, index)?;
    let leaf = leaves.get(index as usize).ok_or("no leaf")?;
    verify_inclusion(&Blake3Tree, index, size, leaf, &path, cp.root())?;
    writeln!(
        out,
        "  5. proved stream {stream} seq {} is in the checkpoint of {size} records: {} hashes, checked in {:.3} s",
        index + 1,
        path.len(),
        secs(t)
    )?;

    let old = (size / 2).max(1);
    let old_root = root_of(leaves.get(..old as usize).ok_or("no prefix")?).ok_or("empty")?;
    let t = Instant::now();
    let cpath = consistency_path(&Blake3Tree, leaves, old)?;
    verify_consistency(&Blake3Tree, old, size, &old_root, cp.root(), &cpath)?;
    writeln!(
        out,
        "  6. proved the tree of {old} records is a prefix of the tree of {size}: {} hashes, in {:.3} s",
        cpath.len(),
        secs(t)
    )?;

    let original = recs.get(index as usize).ok_or("no record")?;
    let mut tampered = original.canonical().to_vec();
    if let Some(pos) = tampered.windows(8).position(|w| w == b"\"status\"") {
        // Change one digit of the HTTP status.
        if let Some(b) = tampered.get_mut(pos + 9) {
            *b = if *b == b'5' { b'4' } else { b'5' };
        }
    } else if let Some(b) = tampered.last_mut() {
        *b ^= 1;
    }
    let want = *original.self_hash();
    let caught = match verify_record(&tampered, &limits) {
        Err(e) => format!("rejected: {e}"),
        Ok(d) if d != want => format!("rejected: self_hash {d} is not the chained {want}"),
        Ok(_) => "NOT DETECTED".into(),
    };
    writeln!(
        out,
        "  7. tampered with stream {stream} seq {}: {caught}",
        index + 1
    )?;
    if caught == "NOT DETECTED" {
        return Ok(Exit::Integrity);
    }
    writeln!(
        out,
        "done. Nothing was written to disk; the WAL, signed checkpoints and bundles arrive with audit-wal and audit-export."
    )?;
    Ok(Exit::Ok)
}
