//! `auditctl prove` and `auditctl verify-proof`.

use std::io::{Read, Write};
use std::path::Path;

use audit_export::{ProveError, Prover, read_bundle_leaves, read_stream_leaves, stream_checkpoints};
use audit_verify::{ProofOutcome, verify_proof};

use crate::count::count;
use crate::exit::Exit;

fn prove_exit(e: &ProveError) -> Exit {
    match e {
        ProveError::Dir { .. } => Exit::Io,
        ProveError::Segment { error, .. } => crate::verify::segment_exit(error),
        ProveError::Listing(f) | ProveError::Bundle(f) => crate::verify::class_exit(f.class),
        ProveError::Export(e) => crate::checkpoint::export_exit(e),
        ProveError::Read(e) => crate::checkpoint::read_exit(e),
        _ => Exit::Usage,
    }
}

/// What `prove` is asked: `--stream S (--seq N [--checkpoint END] |
/// --consistency A B) [--writer ID]`.
pub(crate) struct Ask<'a> {
    pub(crate) stream: &'a str,
    pub(crate) seq: Option<u64>,
    pub(crate) checkpoint: Option<u64>,
    pub(crate) consistency: Option<(u64, u64)>,
    pub(crate) writer: Option<&'a str>,
}

/// `prove PATH ...`, PATH a WAL directory or a bundle.
pub(crate) fn prove(path: &Path, ask: &Ask<'_>, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    if audit_verify::is_bundle(path) {
        return prove_from_bundle(path, ask, out, err);
    }
    // Only the digests, and the one record an inclusion proof carries:
    // memory grows by 32 bytes a record, not by the records.
    let (writer, leaves) = match read_stream_leaves(path, ask.writer, ask.stream, |s| Some(s) == ask.seq) {
        Ok(r) => r,
        Err(e) => return crate::fail(err, prove_exit(&e), format_args!("{e}")),
    };
    let cps = match stream_checkpoints(&path.join(audit_verify::CHECKPOINTS_FILE), &writer, ask.stream) {
        Ok(c) => c,
        Err(e) => return crate::fail(err, crate::checkpoint::export_exit(&e), format_args!("{e}")),
    };
    print_proof(&Prover::over_leaves(ask.stream, &leaves, &cps), ask, out, err)
}

/// `prove BUNDLE ...`: the bundle is verified, then its tree is rebuilt
/// from the manifest's frontier and its records, so it proves the records
/// it holds against the checkpoints it carries.
fn prove_from_bundle(path: &Path, ask: &Ask<'_>, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let (bundle, cps) = match read_bundle_leaves(path, |s| Some(s) == ask.seq) {
        Ok(r) => r,
        Err(e) => return crate::fail(err, prove_exit(&e), format_args!("{e}")),
    };
    let m = &bundle.manifest;
    if m.stream != ask.stream || ask.writer.is_some_and(|w| w != m.writer_id) {
        let e = ProveError::OtherStream {
            dir: path.to_path_buf(),
            held: m.stream.clone(),
            writer_id: m.writer_id.clone(),
            asked: match ask.writer {
                Some(w) => format!("stream {:?} of writer {w:?}", ask.stream),
                None => format!("stream {:?}", ask.stream),
            },
        };
        return crate::fail(err, prove_exit(&e), format_args!("{e}"));
    }
    match Prover::over_bundle(&bundle, &cps) {
        Ok(prover) => print_proof(&prover, ask, out, err),
        Err(e) => crate::fail(err, prove_exit(&e), format_args!("{e}")),
    }
}

fn print_proof(prover: &Prover<'_>, ask: &Ask<'_>, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let proof = match (ask.seq, ask.consistency) {
        (Some(n), None) => prover.inclusion(n, ask.checkpoint),
        (None, Some((a, b))) => prover.consistency(a, b),
        _ => {
            return crate::fail(
                err,
                Exit::Usage,
                format_args!("give --seq N or --consistency A B"),
            );
        }
    };
    match proof {
        Ok(p) => {
            let _ = writeln!(out, "{p}");
            Exit::Ok
        }
        Err(e) => crate::fail(err, prove_exit(&e), format_args!("{e}")),
    }
}

/// `verify-proof PROOF.json --trust PUB`.
pub(crate) fn verify_proof_file(
    path: &Path,
    trust: &[String],
    min_sigs: usize,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    let trust = match crate::verify::trust_set(trust, min_sigs, err) {
        Ok(t) => t,
        Err(x) => return x,
    };
    // With --json a failed check is one object too, as verify's report is:
    // {"ok":false,"exit":N,"failure":{"class","code","file","reason"}}.
    let failed = |out: &mut dyn Write,
                  err: &mut dyn Write,
                  class: audit_verify::FailureClass,
                  code: &'static str,
                  reason: String| {
        let exit = crate::verify::class_exit(class);
        if json {
            let f = audit_verify::Failure {
                class,
                code,
                file: path.to_path_buf(),
                offset: None,
                stream: None,
                seq: None,
                reason: reason.clone(),
            };
            let failure = crate::verify::failure_json(&f);
            let _ = writeln!(
                out,
                "{}",
                serde_json::json!({"ok": false, "exit": exit as i32, "failure": failure})
            );
        }
        crate::fail(err, exit, format_args!("{}: {reason}", path.display()))
    };
    // A proof holds one record (at most 64 KiB in any JSON form), at most
    // 64 path hashes and two checkpoints: 1 MiB is far beyond any, and a
    // larger file is refused without being read whole.
    const MAX_PROOF_BYTES: u64 = 1 << 20;
    let mut text = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(MAX_PROOF_BYTES + 1).read_to_end(&mut text));
    if let Err(e) = read {
        return failed(out, err, audit_verify::FailureClass::Io, "io", e.to_string());
    }
    if text.len() as u64 > MAX_PROOF_BYTES {
        let reason = format!("larger than {MAX_PROOF_BYTES} bytes, more than any proof file");
        return failed(
            out,
            err,
            audit_verify::FailureClass::Structure,
            "proof_shape",
            reason,
        );
    }
    match verify_proof(text.trim_ascii(), &trust) {
        Ok(ProofOutcome::Inclusion {
            stream,
            seq,
            self_hash,
            tree_size,
            kids,
        }) => {
            let _ = if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"ok": true, "type": "inclusion", "stream": stream, "seq": seq, "self_hash": self_hash.to_string(), "tree_size": tree_size, "kids": kids})
                )
            } else {
                writeln!(
                    out,
                    "verified: stream {stream:?} seq {seq} ({self_hash}) is in the signed tree of {} (signed by {})",
                    count(tree_size, "record"),
                    kids.join(", ")
                )
            };
            Exit::Ok
        }
        Ok(ProofOutcome::Consistency {
            stream,
            old_size,
            new_size,
            kids,
        }) => {
            let _ = if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"ok": true, "type": "consistency", "stream": stream, "old_size": old_size, "new_size": new_size, "kids": kids})
                )
            } else {
                writeln!(
                    out,
                    "verified: stream {stream:?}: the signed tree of {} is a prefix of the signed tree of {new_size} (signed by {})",
                    count(old_size, "record"),
                    kids.join(", ")
                )
            };
            Exit::Ok
        }
        Err(e) => failed(out, err, e.class(), e.code(), e.to_string()),
    }
}
