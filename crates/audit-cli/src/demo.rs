//! `auditctl demo`: the quick start. At this stage of the project it runs
//! the whole canonical layer in memory: chain, hash, Merkle tree,
//! checkpoint bodies, verification and proofs, with timings.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use audit_canon::{
    AuditRecord, Blake3Tree, CheckpointBody, Digest, Frontier, Limits, PrevHash, consistency_path,
    inclusion_path, leaf_hash, parse_record, root_of, verify_consistency, verify_inclusion, verify_record,
};

use crate::exit::Exit;
use crate::workload::Workload;

/// The writer identity the demo uses.
pub const DEMO_WRITER: &str = "svc-gateway@demo-1";

/// One stream's chain as the demo keeps it.
#[derive(Default)]
struct Chain {
    records: Vec<Vec<u8>>,
    leaves: Vec<Digest>,
    frontier: Frontier,
    head: Option<Digest>,
}

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
    let events: Vec<_> = (0..records).map(|_| workload.next_event()).collect();
    writeln!(
        out,
        "  1. generated {} realistic events in {:.2} s",
        events.len(),
        secs(t)
    )?;

    let t = Instant::now();
    let mut chains: BTreeMap<&str, Chain> = BTreeMap::new();
    let mut buf = Vec::with_capacity(2048);
    let mut bytes = 0usize;
    for ev in &events {
        let chain = chains.entry(ev.stream).or_default();
        let seq = chain.records.len() as u64 + 1;
        let record = AuditRecord::builder()
            .ts_ms(ev.ts_ms)
            .writer_id(DEMO_WRITER)
            .seq(seq)
            .stream(ev.stream)
            .kind(ev.kind)
            .actor(ev.actor.clone())
            .subject(ev.subject.clone())
            .reason(ev.reason)
            .attrs(ev.attrs.clone())
            .prev(chain.head.map_or(PrevHash::Genesis, PrevHash::Digest))
            .build()?;
        record.canonical_bytes(&limits, &mut buf)?;
        let self_hash = Digest::of(&buf);
        let leaf = leaf_hash(&self_hash);
        chain.frontier.push(leaf)?;
        chain.leaves.push(leaf);
        chain.head = Some(self_hash);
        chain.records.push(buf.clone());
        bytes += buf.len();
    }
    let s = secs(t);
    writeln!(
        out,
        "  2. chained, canonicalized and hashed {} records ({:.1} MiB, mean {} B) in {:.2} s, {}",
        events.len(),
        bytes as f64 / (1024.0 * 1024.0),
        bytes / events.len().max(1),
        s,
        rate(events.len(), s)
    )?;

    let t = Instant::now();
    let mut checkpoints = BTreeMap::new();
    for (stream, chain) in &chains {
        let (Some(root), Some(head)) = (chain.frontier.root(), chain.head) else {
            continue;
        };
        let n = chain.records.len() as u64;
        let body = CheckpointBody::new(
            DEMO_WRITER,
            *stream,
            1,
            n,
            root,
            head,
            PrevHash::Genesis,
            1_767_225_600_000,
        )?;
        checkpoints.insert(*stream, body);
    }
    writeln!(
        out,
        "  3. checkpoint bodies (unsigned until audit-export lands) in {:.3} s:",
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
    for (stream, chain) in &chains {
        let mut prev = PrevHash::Genesis;
        for (i, bytes) in chain.records.iter().enumerate() {
            let digest = verify_record(bytes, &limits)?;
            let rec = parse_record(bytes, &limits)?.record;
            if rec.seq() != i as u64 + 1 || *rec.prev() != prev {
                writeln!(out, "  chain broken in stream {stream} at seq {}", i + 1)?;
                return Ok(Exit::Integrity);
            }
            prev = PrevHash::Digest(digest);
            verified += 1;
        }
        let root = root_of(&chain.leaves).ok_or("empty stream")?;
        if checkpoints.get(stream).map(|c| *c.root()) != Some(root) {
            writeln!(out, "  root mismatch in stream {stream}")?;
            return Ok(Exit::Integrity);
        }
    }
    let s = secs(t);
    writeln!(
        out,
        "  4. verified {verified} records (canonical bytes, self_hash, seq, prev) and {} roots in {:.2} s, {}",
        chains.len(),
        s,
        rate(verified, s)
    )?;

    // Gateway requests carry an HTTP status worth tampering with.
    let (stream, chain) = chains
        .get_key_value("gateway")
        .or_else(|| chains.iter().next())
        .ok_or("no streams")?;
    let cp = checkpoints.get(stream).ok_or("no checkpoint")?;
    let n = chain.leaves.len() as u64;
    let index = n / 3;
    let t = Instant::now();
    let path = inclusion_path(&Blake3Tree, &chain.leaves, index)?;
    verify_inclusion(
        &Blake3Tree,
        index,
        n,
        &chain.leaves[index as usize],
        &path,
        cp.root(),
    )?;
    writeln!(
        out,
        "  5. proved stream {stream} seq {} is in the checkpoint of {n} records: {} hashes, checked in {:.3} s",
        index + 1,
        path.len(),
        secs(t)
    )?;

    let old = (n / 2).max(1);
    let old_root = root_of(&chain.leaves[..old as usize]).ok_or("empty")?;
    let t = Instant::now();
    let cpath = consistency_path(&Blake3Tree, &chain.leaves, old)?;
    verify_consistency(&Blake3Tree, old, n, &old_root, cp.root(), &cpath)?;
    writeln!(
        out,
        "  6. proved the tree of {old} records is a prefix of the tree of {n}: {} hashes, in {:.3} s",
        cpath.len(),
        secs(t)
    )?;

    let mut tampered = chain.records[index as usize].clone();
    if let Some(pos) = tampered.windows(8).position(|w| w == b"\"status\"") {
        // Change one digit of the HTTP status.
        let at = pos + 9;
        tampered[at] = if tampered[at] == b'5' { b'4' } else { b'5' };
    } else if let Some(b) = tampered.last_mut() {
        *b ^= 1;
    }
    let want = Digest::of(&chain.records[index as usize]);
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
