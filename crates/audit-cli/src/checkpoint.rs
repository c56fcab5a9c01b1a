//! `auditctl checkpoint` and `auditctl export`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use audit_chain::{AuditSink, FsyncPolicy};
use audit_export::{
    BundleRequest, Cadence, Checkpointer, CheckpointerError, Ed25519Signer, ExportError, Signer,
    export_bundle,
};
use audit_wal::{ReadError, WalOptions, WalSink};

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
        Ok((w, _)) => Ok(Arc::new(w)),
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

/// `checkpoint --wal DIR --key KEY.pem`.
pub(crate) fn checkpoint(
    dir: &Path,
    key: &Path,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    let signer: Arc<dyn Signer> = match Ed25519Signer::load(key) {
        Ok(k) => Arc::new(k),
        Err(e) => return crate::fail(err, Exit::Usage, format_args!("{e}")),
    };
    let wal = match open_wal(dir, err) {
        Ok(w) => w,
        Err(x) => return x,
    };
    let cp = match Checkpointer::open(wal.clone(), vec![signer], Cadence::default()) {
        Ok((c, _)) => c,
        Err(e) => return crate::fail(err, checkpointer_exit(&e), format_args!("{e}")),
    };
    let made = match cp.checkpoint_all(crate::now_ms()) {
        Ok(m) => m,
        Err(e) => return crate::fail(err, checkpointer_exit(&e), format_args!("{e}")),
    };
    let _ = if json {
        // Each checkpoint byte for byte as its stored line.
        let lines: Vec<String> = made.iter().map(audit_verify::SignedCheckpoint::to_line).collect();
        writeln!(out, "{{\"checkpoints\":[{}]}}", lines.join(","))
    } else if made.is_empty() {
        writeln!(out, "every stream is already covered by a checkpoint")
    } else {
        made.iter().try_for_each(|c| {
            writeln!(
                out,
                "{} {} seq {}..={} root {}",
                c.body.writer_id(),
                c.body.stream(),
                c.body.start_seq(),
                c.body.end_seq(),
                c.body.root()
            )
        })
    };
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
fn export_exit(e: &ExportError) -> Exit {
    match e {
        ExportError::Io { .. } | ExportError::Read(ReadError::Io { .. }) => Exit::Io,
        ExportError::Read(ReadError::Corrupt(source)) => crate::verify::class_exit(
            audit_verify::Failure::from_segment(std::path::PathBuf::new(), source).class,
        ),
        ExportError::Checkpoints { .. } => Exit::Structure,
        ExportError::Read(_) | ExportError::Missing { .. } | ExportError::Checkpoint { .. } => {
            Exit::Integrity
        }
        _ => Exit::Usage,
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
                    "exported stream {stream:?} seq {}..={} ({} records, {} checkpoints) to {}",
                    s.range.0,
                    s.range.1,
                    s.records,
                    s.checkpoints,
                    s.dir.display()
                )
            };
            Exit::Ok
        }
        Err(e) => crate::fail(err, export_exit(&e), format_args!("{e}")),
    }
}
