//! `auditctl checkpoint` and `auditctl export`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use audit_canon::Limits;
use audit_chain::{AuditSink, AuditStream, Emitter, FsyncPolicy};
use audit_export::{
    BundleRequest, Cadence, Checkpointer, CheckpointerError, Ed25519Signer, ExportError, Signer,
    export_bundle,
};
use audit_verify::SignedCheckpoint;
use audit_wal::{ReadError, WalOptions, WalSink};

use crate::count::count;
use crate::exit::Exit;

fn open_wal(dir: &Path, err: &mut dyn Write) -> Result<Arc<WalSink>, Exit> {
    // Only an existing, whole WAL: opening would make a new one.
    if let Err(f) = audit_verify::list_numbered(dir, audit_verify::NumberedFiles::Segments) {
        return Err(crate::fail(
            err,
            crate::verify::class_exit(f.class),
            format_args!("{} is not a WAL directory: {f}", dir.display()),
        ));
    }
    let opts = WalOptions {
        rotate_bytes: 128 << 20,
        fsync: FsyncPolicy::OnCheckpoint,
    };
    match WalSink::open(dir, opts) {
        Ok((w, r)) => {
            crate::report_recovery(dir, &r, err);
            Ok(Arc::new(w))
        }
        Err(e) => Err(crate::fail(err, crate::open_exit(&e), format_args!("{e}"))),
    }
}

/// The exit code of a checkpointer failure, in `verify`'s classes: a
/// stored line that is not a signed checkpoint is structure
/// (`checkpoint_line`), a chain that does not hold or a checkpoint beyond
/// the records is integrity, and a failed file operation, sync or signer
/// is I/O.
fn checkpointer_exit(e: &CheckpointerError) -> Exit {
    match e {
        CheckpointerError::Line { .. } => Exit::Structure,
        CheckpointerError::Chain { .. } | CheckpointerError::AheadOfWal { .. } => Exit::Integrity,
        CheckpointerError::NoSigner => Exit::Usage,
        CheckpointerError::Emit(e) => crate::append::emit_exit(e),
        _ => Exit::Io,
    }
}

/// Says on stderr that opening `checkpoints.jsonl` cut an incomplete last
/// line (a crash while appending one), as for a WAL's torn tail.
fn report_torn_line(dir: &Path, torn_bytes: u64, err: &mut dyn Write) {
    if torn_bytes > 0 {
        let _ = writeln!(
            err,
            "auditctl: note: opening {} cut an incomplete last line of {torn_bytes} bytes (an interrupted append)",
            dir.join(audit_verify::CHECKPOINTS_FILE).display()
        );
    }
}

/// Loads each secret key as a signer; the same key twice is refused (a
/// checkpoint counts distinct kids).
fn signers(keys: &[PathBuf], err: &mut dyn Write) -> Result<Vec<Arc<dyn Signer>>, Exit> {
    let mut out: Vec<Arc<dyn Signer>> = Vec::with_capacity(keys.len());
    for path in keys {
        let s = Ed25519Signer::load(path)
            .map_err(|e| crate::fail(err, crate::keys::key_exit(&e), format_args!("{e}")))?;
        if let Some(i) = out.iter().position(|o| o.kid() == s.kid()) {
            return Err(crate::fail(
                err,
                Exit::Usage,
                format_args!(
                    "{} and {} are the same key (kid {})",
                    keys.get(i).map_or(path, |p| p).display(),
                    path.display(),
                    s.kid()
                ),
            ));
        }
        out.push(Arc::new(s));
    }
    Ok(out)
}

/// Prints checkpoints made: one line each, or one JSON object.
fn print_made(made: &[SignedCheckpoint], json: bool, extra: Option<(&str, String)>, out: &mut dyn Write) {
    let _ = if json {
        // Each checkpoint byte for byte as its stored line.
        let lines: Vec<String> = made.iter().map(SignedCheckpoint::to_line).collect();
        let extra = extra.map_or(String::new(), |(k, v)| format!(",{}:{v}", serde_json::json!(k)));
        writeln!(out, "{{\"checkpoints\":[{}]{extra}}}", lines.join(","))
    } else if made.is_empty() {
        writeln!(out, "every stream is already covered by a checkpoint")
    } else {
        made.iter().try_for_each(|c| {
            let kids: Vec<&str> = c.sigs.iter().map(|s| s.kid.as_str()).collect();
            writeln!(
                out,
                "{} {} seq {}..={} root {} signed by {}",
                c.body.writer_id(),
                c.body.stream(),
                c.body.start_seq(),
                c.body.end_seq(),
                c.body.root(),
                kids.join(", ")
            )
        })
    };
}

/// `checkpoint --wal DIR --key KEY.pem [--key KEY2.pem ..]`: every
/// checkpoint is signed by every key (cross-signing, witnesses).
pub(crate) fn checkpoint(
    dir: &Path,
    keys: &[PathBuf],
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    let signers = match signers(keys, err) {
        Ok(s) => s,
        Err(x) => return x,
    };
    let wal = match open_wal(dir, err) {
        Ok(w) => w,
        Err(x) => return x,
    };
    let cp = match Checkpointer::open(wal.clone(), signers, Cadence::default()) {
        Ok((c, r)) => {
            report_torn_line(dir, r.torn_bytes, err);
            c
        }
        Err(e) => return crate::fail(err, checkpointer_exit(&e), format_args!("{e}")),
    };
    let made = match cp.checkpoint_all(crate::now_ms()) {
        Ok(m) => m,
        Err(e) => return crate::fail(err, checkpointer_exit(&e), format_args!("{e}")),
    };
    print_made(&made, json, None, out);
    match wal.close() {
        Ok(()) => Exit::Ok,
        Err(e) => crate::fail(err, Exit::Io, format_args!("closing the WAL: {e}")),
    }
}

/// `rotate-key --wal DIR --writer ID --old OLD.pem --new NEW.pem`: records
/// `KeyRotated` (`old_kid`, `new_kid`) as the next record of every stream
/// of the writer, then checkpoints every stream signed by both keys
/// (`Checkpointer::rotate_key`). Later checkpoints are made with the new
/// key alone.
pub(crate) fn rotate_key(
    dir: &Path,
    writer: &str,
    old: &Path,
    new: &Path,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    if let Err(e) = Emitter::check_writer_id(writer) {
        return crate::fail(err, Exit::Usage, format_args!("writer {writer:?}: {e}"));
    }
    let keys = match signers(&[old.to_path_buf(), new.to_path_buf()], err) {
        Ok(s) => s,
        Err(x) => return x,
    };
    let (Some(old_key), Some(new_key)) = (keys.first().cloned(), keys.get(1).cloned()) else {
        return Exit::Usage;
    };
    let wal = match open_wal(dir, err) {
        Ok(w) => w,
        Err(x) => return x,
    };
    let streams: Vec<String> = wal
        .streams()
        .into_iter()
        .filter_map(|(w, s)| (w == writer).then_some(s))
        .collect();
    if streams.is_empty() {
        let _ = wal.close();
        return crate::fail(
            err,
            Exit::Usage,
            format_args!("writer {writer:?} has no streams in {}", dir.display()),
        );
    }
    let emitter = match Emitter::new(writer, wal.clone(), Limits::default()) {
        Ok(e) => e,
        Err(e) => return crate::fail(err, Exit::Usage, format_args!("writer {writer:?}: {e}")),
    };
    let cp = match Checkpointer::open(wal.clone(), vec![old_key.clone()], Cadence::default()) {
        Ok((c, r)) => {
            report_torn_line(dir, r.torn_bytes, err);
            c
        }
        Err(e) => return crate::fail(err, checkpointer_exit(&e), format_args!("{e}")),
    };
    let made = match cp.rotate_key(new_key.clone(), &emitter, crate::now_ms()) {
        Ok(m) => m,
        Err(e @ CheckpointerError::NotSignedByOld { .. }) => {
            return crate::fail(err, Exit::Usage, format_args!("--old {}: {e}", old.display()));
        }
        Err(e) => return crate::fail(err, checkpointer_exit(&e), format_args!("{e}")),
    };
    let rotated = serde_json::json!({"old_kid": old_key.kid(), "new_kid": new_key.kid(), "streams": streams});
    if !json {
        let _ = writeln!(
            out,
            "recorded KeyRotated {} -> {} in {} of {writer}: {}",
            old_key.kid(),
            new_key.kid(),
            count(streams.len(), "stream"),
            streams.join(", ")
        );
    }
    print_made(&made, json, Some(("rotated", rotated.to_string())), out);
    match wal.close() {
        Ok(()) => Exit::Ok,
        Err(e) => crate::fail(err, Exit::Io, format_args!("closing the WAL: {e}")),
    }
}

/// The exit code of an export failure, in `verify`'s classes: a damaged
/// `checkpoints.jsonl` is structure (`checkpoint_line`), a record that
/// does not verify is its failure's class, a checkpoint that does not hold
/// against the records or the one before it, or a broken link, is integrity, a failed file operation I/O, and a
/// request the data cannot answer (range, stream, destination) usage.
pub(crate) fn export_exit(e: &ExportError) -> Exit {
    match e {
        ExportError::Io { .. } => Exit::Io,
        ExportError::Read(e) => read_exit(e),
        ExportError::Checkpoints { .. } => Exit::Structure,
        ExportError::Missing { .. } | ExportError::Checkpoint { .. } => Exit::Integrity,
        _ => Exit::Usage,
    }
}

/// The exit code of a failed read of a WAL's records: I/O, the class of a
/// segment that does not verify, or integrity for a broken link.
pub(crate) fn read_exit(e: &ReadError) -> Exit {
    match e {
        ReadError::Io { .. } => Exit::Io,
        ReadError::Corrupt(source) => crate::verify::segment_exit(source),
        _ => Exit::Integrity,
    }
}

/// `export --wal DIR --writer ID --stream S --out BUNDLE [--from] [--to]`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn export(
    dir: &Path,
    writer: &str,
    stream: &str,
    bundle: &Path,
    from: Option<u64>,
    to: Option<u64>,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    let wal = match open_wal(dir, err) {
        Ok(w) => w,
        Err(x) => return x,
    };
    let req = BundleRequest {
        writer_id: writer.to_owned(),
        stream: stream.to_owned(),
        from,
        to,
    };
    match export_bundle(&wal, &req, bundle, crate::now_ms()) {
        Ok(s) => {
            let _ = if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"bundle": s.dir, "range": [s.range.0, s.range.1], "records": s.records, "checkpoints": s.checkpoints, "files": s.files})
                )
            } else {
                writeln!(
                    out,
                    "exported stream {stream:?} seq {}..={} ({}, {}) to {}",
                    s.range.0,
                    s.range.1,
                    count(s.records, "record"),
                    count(s.checkpoints, "checkpoint"),
                    s.dir.display()
                )
            };
            Exit::Ok
        }
        Err(e) => crate::fail(err, export_exit(&e), format_args!("{e}")),
    }
}
