//! `auditctl demo`: the quick start (CLI-v1.md). Makes a key, appends
//! realistic events to a WAL under a directory, checkpoints, exports one
//! stream, verifies the WAL and the bundle, proves one record and checks
//! the proof, shows a tamper caught, and prints each step with its time and
//! where the files are.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use audit_chain::{AuditSink, Emitter, Event, FsyncPolicy};
use audit_export::{
    BundleRequest, Cadence, Checkpointer, Ed25519Signer, Prover, Signer, consistency_proof, export_bundle,
    read_bundle_leaves,
};
use audit_verify::{ProofOutcome, TrustSet, VerifyOptions, verify_bundle, verify_proof, verify_wal_dir};
use audit_wal::{WalOptions, WalSink};

use crate::count::count;
use crate::exit::Exit;
use crate::workload::Workload;

/// The writer identity the demo uses.
pub const DEMO_WRITER: &str = "svc-gateway@demo-1";

/// The marker that says a directory is the demo's own (and may be reused).
const MARKER: &str = ".auditctl-demo";

/// Runs the demo over `records` events in `dir`, printing each step to `out`.
pub fn run(dir: &Path, records: u64, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let mut out = Stdout {
        inner: out,
        closed: false,
    };
    match steps(dir, records, &mut out) {
        Ok(exit) => exit,
        // Stdout closed (`auditctl demo | head`): no message, as `cat`.
        Err(_) if out.closed => Exit::Io,
        Err(DemoError(exit, msg)) => crate::fail(err, exit, format_args!("demo: {msg}")),
    }
}

/// The demo's output, noting whether its reader went away.
struct Stdout<'a> {
    inner: &'a mut dyn Write,
    closed: bool,
}

impl Write for Stdout<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = self.inner.write(buf);
        self.closed |= matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe);
        r
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

struct DemoError(Exit, String);

impl<E: std::fmt::Display> From<E> for DemoError {
    fn from(e: E) -> Self {
        DemoError(Exit::Io, e.to_string())
    }
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

fn rate(n: u64, s: f64) -> String {
    if s > 0.0 {
        format!("{:.0}/s", n as f64 / s)
    } else {
        "-".into()
    }
}

/// Makes `dir` ready: created, or emptied when it holds the demo's marker;
/// a non-empty directory the demo did not make is refused.
fn prepare(dir: &Path) -> Result<(), DemoError> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir)?.peekable();
        if entries.peek().is_some() {
            if !dir.join(MARKER).exists() {
                return Err(DemoError(
                    Exit::Usage,
                    format!(
                        "{} is not empty and was not made by auditctl demo; refusing to touch it",
                        dir.display()
                    ),
                ));
            }
            std::fs::remove_dir_all(dir)?;
        }
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join(MARKER),
        b"made by auditctl demo; rerunning the demo replaces this directory\n",
    )?;
    Ok(())
}

fn steps(dir: &Path, records: u64, out: &mut dyn Write) -> Result<Exit, DemoError> {
    let total = Instant::now();
    prepare(dir)?;
    writeln!(
        out,
        "ron-audit demo: {}, writer {DEMO_WRITER}, in {}",
        count(records, "event"),
        dir.display()
    )?;

    let t = Instant::now();
    let key_path = dir.join("demo-key.pem");
    let key = Arc::new(Ed25519Signer::generate()?);
    key.save_new(&key_path)?;
    let pub_path = dir.join("demo-key.pub.pem");
    std::fs::write(&pub_path, key.public_key_pem())?;
    writeln!(
        out,
        "  1. made an Ed25519 key, kid {} ({}, public key {}) in {:.3} s",
        key.kid(),
        key_path.display(),
        pub_path.display(),
        secs(t)
    )?;

    let t = Instant::now();
    let mut workload = Workload::new(0x5EED);
    let events: Vec<Event> = (0..records)
        .map(|_| workload.next_event().into_chain_event())
        .collect();
    writeln!(
        out,
        "  2. generated {} in {:.2} s",
        count(events.len(), "realistic event"),
        secs(t)
    )?;

    let wal_dir = dir.join("wal");
    let opts = WalOptions {
        rotate_bytes: 16 << 20,
        fsync: FsyncPolicy::OnCheckpoint,
    };
    let wal = Arc::new(
        WalSink::open(&wal_dir, opts)
            .map_err(|e| DemoError(Exit::Io, e.to_string()))?
            .0,
    );
    let signer: Arc<dyn Signer> = key.clone();
    let every = (records / 4).max(1);
    let (checkpointer, _) = Checkpointer::open(
        wal.clone(),
        vec![signer],
        Cadence {
            every_records: every,
            every: std::time::Duration::from_secs(3600),
        },
    )
    .map_err(|e| DemoError(Exit::Io, e.to_string()))?;
    let emitter = Emitter::new(DEMO_WRITER, wal.clone(), audit_canon::Limits::default())?;
    let t = Instant::now();
    let mut checkpoints = 0;
    for (i, ev) in events.into_iter().enumerate() {
        emitter.emit(ev)?;
        if (i as u64 + 1).is_multiple_of(every) {
            checkpoints += checkpointer.checkpoint_all(crate::now_ms())?.len();
        }
    }
    checkpoints += checkpointer.checkpoint_all(crate::now_ms())?.len();
    let s = secs(t);
    let (segments, _) = wal.end();
    wal.close()?;
    writeln!(
        out,
        "  3. appended {} (privacy scrub, canonical bytes, BLAKE3, chain link, Merkle frontier, WAL frame) \
         and signed {} in {s:.2} s, {} ({} in {})",
        count(records, "record"),
        count(checkpoints, "checkpoint"),
        rate(records, s),
        count(segments, "segment"),
        wal_dir.display()
    )?;
    drop((emitter, checkpointer, wal));

    let t = Instant::now();
    let (wal, report) = WalSink::open(&wal_dir, opts).map_err(|e| DemoError(Exit::Io, e.to_string()))?;
    writeln!(
        out,
        "  4. reopened the WAL: {} in {} recovered, {} parsed (sealed segments checked by digest), {}, in {:.3} s",
        count(report.records, "record"),
        count(report.streams, "stream"),
        report.records_scanned,
        match &report.torn {
            None => "no torn tail".to_owned(),
            Some(t) => format!("a torn tail of {} bytes cut", t.len),
        },
        secs(t)
    )?;

    let stream = "gateway";
    let bundle = dir.join("bundle-gateway");
    let t = Instant::now();
    let req = BundleRequest {
        writer_id: DEMO_WRITER.into(),
        stream: stream.into(),
        from: None,
        to: None,
    };
    let summary = export_bundle(&wal, &req, &bundle, crate::now_ms())
        .map_err(|e| DemoError(Exit::Io, e.to_string()))?;
    writeln!(
        out,
        "  5. exported stream {stream} seq {}..={} ({}, {}) to {} in {:.3} s",
        summary.range.0,
        summary.range.1,
        count(summary.records, "record"),
        count(summary.checkpoints, "checkpoint"),
        bundle.display(),
        secs(t)
    )?;
    let size = summary.range.1;
    let seq = (size / 3).max(1);
    // The auditor's side: the inclusion proof is made from the bundle alone
    // (verified first), as a holder of the bundle hands one to a third party.
    let proof = {
        let (held, cps) = read_bundle_leaves(&bundle, |s| s == seq)
            .map_err(|e| DemoError(Exit::Integrity, e.to_string()))?;
        Prover::over_bundle(&held, &cps)
            .and_then(|p| p.inclusion(seq, None))
            .map_err(|e| DemoError(Exit::Integrity, e.to_string()))?
    };
    let ends: Vec<u64> =
        audit_export::stream_checkpoints(&wal_dir.join(audit_verify::CHECKPOINTS_FILE), DEMO_WRITER, stream)
            .map_err(|e| DemoError(Exit::Integrity, e.to_string()))?
            .iter()
            .map(|c| c.body.end_seq())
            .collect();
    let consistency = match (ends.first(), ends.last()) {
        (Some(&a), Some(&b)) => Some(
            consistency_proof(&wal, DEMO_WRITER, stream, a, b)
                .map_err(|e| DemoError(Exit::Integrity, e.to_string()))?,
        ),
        _ => None,
    };
    wal.close()?;
    drop(wal);

    let trust = TrustSet::new().with_key(key.public_key().clone());
    let opts_v = VerifyOptions {
        trust: trust.clone(),
        threads: 0,
    };
    let t = Instant::now();
    let r = verify_wal_dir(&wal_dir, &opts_v);
    let s = secs(t);
    if let Some(f) = &r.failure {
        writeln!(out, "  6. verifying the WAL FAILED: {f}")?;
        return Ok(crate::verify::class_exit(f.class));
    }
    let cps: u64 = r.streams.iter().map(|s| s.checkpoints).sum();
    writeln!(
        out,
        "  6. verified the WAL offline with the public key only: {} in {}, {} (roots, heads, chain, signatures) in {s:.2} s, {}",
        count(r.records(), "record"),
        count(r.streams.len(), "stream"),
        count(cps, "signed checkpoint"),
        rate(r.records(), s)
    )?;
    let t = Instant::now();
    let r = verify_bundle(&bundle, &opts_v);
    if let Some(f) = &r.failure {
        writeln!(out, "  7. verifying the bundle FAILED: {f}")?;
        return Ok(crate::verify::class_exit(f.class));
    }
    writeln!(
        out,
        "  7. verified the bundle: {}, {}, in {:.3} s",
        count(r.records(), "record"),
        count(r.streams.iter().map(|s| s.checkpoints).sum::<u64>(), "checkpoint"),
        secs(t)
    )?;

    let proof_path = dir.join(format!("proof-{stream}-{seq}.json"));
    std::fs::write(&proof_path, format!("{proof}\n"))?;
    let t = Instant::now();
    match verify_proof(proof.as_bytes(), &trust) {
        Ok(ProofOutcome::Inclusion { tree_size, .. }) => writeln!(
            out,
            "  8. proved from the bundle alone that stream {stream} seq {seq} is in the signed tree of {} ({}), checked in {:.4} s",
            count(tree_size, "record"),
            proof_path.display(),
            secs(t)
        )?,
        other => {
            writeln!(out, "  8. the inclusion proof did NOT verify: {other:?}")?;
            return Ok(Exit::Integrity);
        }
    }
    if let Some(c) = consistency {
        let c_path = dir.join(format!("proof-{stream}-consistency.json"));
        std::fs::write(&c_path, format!("{c}\n"))?;
        match verify_proof(c.as_bytes(), &trust) {
            Ok(ProofOutcome::Consistency {
                old_size, new_size, ..
            }) => writeln!(
                out,
                "  9. proved the signed tree of {} is a prefix of the signed tree of {new_size} ({})",
                count(old_size, "record"),
                c_path.display()
            )?,
            other => {
                writeln!(out, "  9. the consistency proof did NOT verify: {other:?}")?;
                return Ok(Exit::Integrity);
            }
        }
    }

    // A copy of the bundle with one byte of one record changed (and the
    // manifest restated, as a careful forger would): the verifier names it.
    let tampered = dir.join("bundle-gateway-tampered");
    copy_dir(&bundle, &tampered)?;
    let seg = tampered.join("records-000001.seg");
    let mut bytes = std::fs::read(&seg)?;
    let at = bytes
        .windows(9)
        .position(|w| w == b"\"status\":")
        .map_or(bytes.len() / 2, |p| p + 9);
    if let Some(b) = bytes.get_mut(at) {
        *b = if *b == b'5' { b'4' } else { b'5' };
    }
    std::fs::write(&seg, &bytes)?;
    restate_manifest(&tampered, &bytes)?;
    let r = verify_bundle(&tampered, &opts_v);
    match &r.failure {
        Some(f) => writeln!(
            out,
            " 10. changed one byte of one record in {}: rejected, exit {}: {f}",
            tampered.display(),
            f.class.exit_code()
        )?,
        None => {
            writeln!(out, " 10. changed one byte of one record: NOT DETECTED")?;
            return Ok(Exit::Integrity);
        }
    }
    writeln!(
        out,
        "done in {:.1} s. Try: auditctl verify {} --trust {}",
        secs(total),
        wal_dir.display(),
        pub_path.display()
    )?;
    Ok(Exit::Ok)
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), DemoError> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dest: PathBuf = to.join(e.file_name());
        std::fs::copy(e.path(), dest)?;
    }
    Ok(())
}

fn restate_manifest(dir: &Path, seg: &[u8]) -> Result<(), DemoError> {
    let p = dir.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&p)?)?;
    m["files"][0]["bytes"] = seg.len().into();
    m["files"][0]["b3"] = audit_canon::Digest::of(seg).to_hash_string().into();
    std::fs::write(&p, serde_json::to_vec(&m)?)?;
    Ok(())
}
