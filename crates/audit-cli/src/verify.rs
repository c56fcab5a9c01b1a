//! `auditctl verify`.

use std::io::Write;
use std::path::Path;

use audit_verify::{Failure, FailureClass, PublicKey, Report, TrustSet, VerifyOptions, verify_path};

use crate::count::count;
use crate::exit::Exit;

/// Builds the trust set from `--trust` values: a file (SPKI PEM or hex) or
/// 64 hex characters inline.
pub(crate) fn trust_set(trust: &[String], min_sigs: usize, err: &mut dyn Write) -> Result<TrustSet, Exit> {
    let mut set = TrustSet::new().with_min_sigs(min_sigs);
    let mut kids = std::collections::BTreeSet::new();
    for t in trust {
        let inline_hex = t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit());
        // Not a key written inline, so a file: one that is missing is named
        // as such (a mistyped path), not parsed as a key.
        let text = if Path::new(t).exists() || !inline_hex {
            match std::fs::read_to_string(t) {
                Ok(s) => s,
                Err(e) => {
                    return Err(crate::fail(
                        err,
                        Exit::Io,
                        format_args!("trusted key file {t}: {e}"),
                    ));
                }
            }
        } else {
            t.clone()
        };
        match PublicKey::parse(&text) {
            Ok(k) => {
                kids.insert(k.kid().to_owned());
                set = set.with_key(k);
            }
            Err(e) => return Err(crate::fail(err, Exit::Usage, format_args!("--trust {t}: {e}"))),
        }
    }
    // A policy no data could meet is the command line's mistake, not a
    // trust failure of the data (and without keys it would be ignored).
    if min_sigs > kids.len().max(1) {
        return Err(crate::fail(
            err,
            Exit::Usage,
            format_args!(
                "--min-sigs {min_sigs} needs at least {min_sigs} distinct --trust keys; {} given",
                kids.len()
            ),
        ));
    }
    Ok(set)
}

pub(crate) fn class_exit(c: FailureClass) -> Exit {
    match c {
        FailureClass::Integrity => Exit::Integrity,
        FailureClass::Trust => Exit::Trust,
        FailureClass::Structure => Exit::Structure,
        FailureClass::Io => Exit::Io,
    }
}

fn report_json(r: &Report) -> serde_json::Value {
    serde_json::json!({
        "ok": r.failure.is_none(),
        "exit": r.exit_code(),
        "records": r.records(),
        "signatures_checked": r.signatures_checked,
        "torn_tail": r.torn.as_ref().map(|(p, t)| serde_json::json!({"file": p, "offset": t.offset, "len": t.len})),
        "streams": r.streams.iter().map(|s| serde_json::json!({
            "writer_id": s.writer_id, "stream": s.stream, "records": s.records,
            "first_seq": s.first_seq, "last_seq": s.last_seq, "head": s.head.to_string(),
            "checkpoints": s.checkpoints, "kids_seen": s.kids_seen,
        })).collect::<Vec<_>>(),
        "failure": r.failure.as_ref().map(failure_json),
    })
}

/// A failure as the `--json` objects of `verify` and `verify-proof` give it.
pub(crate) fn failure_json(f: &Failure) -> serde_json::Value {
    serde_json::json!({
        "class": f.class.name(), "code": f.code, "file": f.file, "offset": f.offset,
        "stream": f.stream, "seq": f.seq, "reason": f.reason,
    })
}

/// The exit code of a segment that does not verify: its failure's class.
pub(crate) fn segment_exit(e: &audit_verify::SegmentError) -> Exit {
    class_exit(Failure::from_segment(std::path::PathBuf::new(), e).class)
}

/// `verify PATH [--trust PUB]... [--min-sigs N] [--json]`.
pub(crate) fn verify(
    path: &Path,
    trust: &[String],
    min_sigs: usize,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    let trust = match trust_set(trust, min_sigs, err) {
        Ok(t) => t,
        Err(x) => return x,
    };
    // A path that does not exist is an I/O failure, reported as the
    // verifier reports every failure (and in the --json object).
    if path.exists() && !path.is_dir() {
        return crate::fail(
            err,
            Exit::Structure,
            format_args!(
                "{} is not a directory (a WAL directory or a bundle)",
                path.display()
            ),
        );
    }
    let r = verify_path(path, &VerifyOptions { trust, threads: 0 });
    if json {
        let _ = writeln!(out, "{}", report_json(&r));
    } else {
        for s in &r.streams {
            let kids: Vec<_> = s.kids_seen.iter().map(String::as_str).collect();
            let _ = writeln!(
                out,
                "{} {}: {}, seq {}..={}, head {}, {} verified, keys seen: {}",
                s.writer_id,
                s.stream,
                count(s.records, "record"),
                s.first_seq,
                s.last_seq,
                s.head,
                count(s.checkpoints, "checkpoint"),
                if kids.is_empty() {
                    "none".to_owned()
                } else {
                    kids.join(", ")
                }
            );
        }
        if let Some((p, t)) = &r.torn {
            let _ = writeln!(
                out,
                "torn tail: {} bytes at offset {} of {} (a crash artifact; the next open cuts it)",
                t.len,
                t.offset,
                p.display()
            );
        }
        if !r.signatures_checked {
            let _ = writeln!(out, "signatures: unchecked (no --trust key given)");
        }
        if r.failure.is_none() {
            let _ = writeln!(
                out,
                "verified: {} in {}",
                count(r.records(), "record"),
                count(r.streams.len(), "stream")
            );
        }
    }
    match &r.failure {
        None => Exit::Ok,
        Some(f) => crate::fail(err, class_exit(f.class), format_args!("{f}")),
    }
}
