//! Export bundles (FORMAT-v1.md section 6): a stream's records over whole
//! checkpoints, those checkpoints, and a manifest, written into a temporary
//! directory that is renamed into place, so a crash leaves no bundle or a
//! whole one.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use audit_canon::{Digest, Frontier, leaf_hash};
use audit_verify::{SignedCheckpoint, encode_frame, encode_header, whole_checkpoint_lines};
use audit_wal::WalSink;
use serde_json::json;

/// Records per bundle segment file are cut before a file would pass this.
const MAX_FILE_BYTES: usize = 64 << 20;

/// What to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleRequest {
    /// The writer.
    pub writer_id: String,
    /// The stream.
    pub stream: String,
    /// First seq (default: the first checkpoint's start); must start a checkpoint.
    pub from: Option<u64>,
    /// Last seq (default: the last checkpoint's end); must end a checkpoint.
    pub to: Option<u64>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleSummary {
    /// The bundle directory.
    pub dir: PathBuf,
    /// First and last seq.
    pub range: (u64, u64),
    /// Records.
    pub records: u64,
    /// Checkpoints.
    pub checkpoints: usize,
    /// Segment files.
    pub files: usize,
}

/// A bundle could not be written. Nothing is left at the bundle's path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A file operation failed.
    #[error("{}: {op} failed: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The destination exists and is not an empty directory.
    #[error("{} exists and is not empty; refusing to write a bundle there", path.display())]
    NotEmpty {
        /// The destination.
        path: PathBuf,
    },
    /// The stream has no checkpoint to export.
    #[error("stream {stream:?} of {writer_id:?} has no checkpoints")]
    NoCheckpoints {
        /// The writer.
        writer_id: String,
        /// The stream.
        stream: String,
    },
    /// `from` or `to` is not a checkpoint boundary.
    #[error("stream {stream:?}: seq {seq} is not the {which} of a checkpoint (checkpoints: {bounds})")]
    NotAligned {
        /// The stream.
        stream: String,
        /// The seq asked for.
        seq: u64,
        /// `start` or `end`.
        which: &'static str,
        /// The checkpoints' ranges.
        bounds: String,
    },
    /// `checkpoints.jsonl` could not be read.
    #[error("{}: line {line}: {reason}", path.display())]
    Checkpoints {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Why.
        reason: String,
    },
    /// The WAL could not be read.
    #[error("wal: {0}")]
    Read(#[from] audit_wal::ReadError),
}

fn io<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> ExportError + 'a {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path, "create"))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io(path, "write"))
}

/// The checkpoints of one stream, in order, from a `checkpoints.jsonl`.
pub fn stream_checkpoints(
    path: &Path,
    writer_id: &str,
    stream: &str,
) -> Result<Vec<SignedCheckpoint>, ExportError> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io(path, "read")(e)),
    };
    let mut out = Vec::new();
    // A torn last line (a crash while appending) is not a checkpoint;
    // damage there is refused, as the checkpointer and verifiers do.
    let whole = whole_checkpoint_lines(&text).map_err(|e| ExportError::Checkpoints {
        path: path.to_path_buf(),
        line: text.iter().filter(|&&b| b == b'\n').count() + 1,
        reason: e.to_string(),
    })?;
    for (i, line) in whole.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let cp = SignedCheckpoint::parse_line(line).map_err(|e| ExportError::Checkpoints {
            path: path.to_path_buf(),
            line: i + 1,
            reason: e.to_string(),
        })?;
        if cp.body.writer_id() == writer_id && cp.body.stream() == stream {
            out.push(cp);
        }
    }
    Ok(out)
}

/// Writes the bundle for `req` to `out` (which must not exist, or be an
/// empty directory).
pub fn export_bundle(
    wal: &WalSink,
    req: &BundleRequest,
    out: &Path,
    created_ts_ms: u64,
) -> Result<BundleSummary, ExportError> {
    match std::fs::read_dir(out) {
        Ok(mut rd) => {
            if rd.next().is_some() {
                return Err(ExportError::NotEmpty {
                    path: out.to_path_buf(),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(out, "read")(e)),
    }
    let cp_path = wal.dir().join(audit_verify::CHECKPOINTS_FILE);
    let all = stream_checkpoints(&cp_path, &req.writer_id, &req.stream)?;
    let (Some(first), Some(last)) = (all.first(), all.last()) else {
        return Err(ExportError::NoCheckpoints {
            writer_id: req.writer_id.clone(),
            stream: req.stream.clone(),
        });
    };
    let bounds = || {
        all.iter()
            .map(|c| format!("{}..={}", c.body.start_seq(), c.body.end_seq()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let from = req.from.unwrap_or(first.body.start_seq());
    let to = req.to.unwrap_or(last.body.end_seq());
    if !all.iter().any(|c| c.body.start_seq() == from) {
        return Err(ExportError::NotAligned {
            stream: req.stream.clone(),
            seq: from,
            which: "start",
            bounds: bounds(),
        });
    }
    if !all.iter().any(|c| c.body.end_seq() == to) || to < from {
        return Err(ExportError::NotAligned {
            stream: req.stream.clone(),
            seq: to,
            which: "end",
            bounds: bounds(),
        });
    }
    let chosen: Vec<&SignedCheckpoint> = all
        .iter()
        .filter(|c| c.body.start_seq() >= from && c.body.end_seq() <= to)
        .collect();

    // The frontier of the tree of size from - 1, and the records, verified on read.
    let mut frontier = Frontier::new();
    if from > 1 {
        for r in wal.read_raw(&req.writer_id, &req.stream, 1..=from - 1)? {
            // Cannot fail below u64::MAX leaves.
            let _ = frontier.push(leaf_hash(&r.self_hash));
        }
    }
    let records = wal.read_raw(&req.writer_id, &req.stream, from..=to)?;

    // Everything goes into a sibling temporary directory first.
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = out.file_name().and_then(|n| n.to_str()).unwrap_or("bundle");
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&tmp)
        .map_err(io(&tmp, "create"))?;
    let result = (|| {
        let mut files = Vec::new();
        let mut buf = Vec::new();
        let mut first_seq = from;
        let mut count = 0u64;
        let mut number = 1u64;
        let flush = |buf: &mut Vec<u8>,
                     number: u64,
                     first: u64,
                     count: u64,
                     files: &mut Vec<serde_json::Value>|
         -> Result<(), ExportError> {
            let file = format!("records-{number:06}.seg");
            write_synced(&tmp.join(&file), buf)?;
            files.push(json!({
                "file": file,
                "bytes": buf.len(),
                "b3": Digest::of(buf).to_hash_string(),
                "range": [first, first + count - 1],
                "count": count,
            }));
            buf.clear();
            Ok(())
        };
        for r in &records {
            if buf.is_empty() {
                buf.extend_from_slice(&encode_header(number));
            }
            let before = buf.len();
            encode_frame(&mut buf, 1, r.seq, &r.canonical, &r.self_hash)
                .map_err(|e| io(&tmp, "encode")(std::io::Error::other(e)))?;
            count += 1;
            if buf.len() >= MAX_FILE_BYTES && before > audit_verify::SEGMENT_HEADER_LEN {
                flush(&mut buf, number, first_seq, count, &mut files)?;
                number += 1;
                first_seq += count;
                count = 0;
            }
        }
        if count > 0 {
            flush(&mut buf, number, first_seq, count, &mut files)?;
        }
        let mut lines = String::new();
        for c in &chosen {
            lines.push_str(&c.to_line());
            lines.push('\n');
        }
        write_synced(&tmp.join(audit_verify::CHECKPOINTS_FILE), lines.as_bytes())?;
        // Key order as FORMAT-v1.md section 6 lists it.
        let manifest = format!(
            "{{\"version\":1,\"writer_id\":{},\"stream\":{},\"files\":{},\"checkpoints\":{},\"frontier\":{},\"created_ts_ms\":{}}}\n",
            json!(req.writer_id),
            json!(req.stream),
            manifest_files(&files),
            chosen.len(),
            json!(
                frontier
                    .hashes()
                    .iter()
                    .map(Digest::to_hash_string)
                    .collect::<Vec<_>>()
            ),
            created_ts_ms
        );
        write_synced(&tmp.join("manifest.json"), manifest.as_bytes())?;
        std::fs::File::open(&tmp)
            .and_then(|d| d.sync_all())
            .map_err(io(&tmp, "sync"))?;
        // An empty destination directory is replaced by the rename.
        std::fs::rename(&tmp, out).map_err(io(out, "rename into place"))?;
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io(parent, "sync"))?;
        Ok(files.len())
    })();
    match result {
        Ok(files) => Ok(BundleSummary {
            dir: out.to_path_buf(),
            range: (from, to),
            records: records.len() as u64,
            checkpoints: chosen.len(),
            files,
        }),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

/// The `files` array with each entry's keys in the order of FORMAT-v1.md.
fn manifest_files(files: &[serde_json::Value]) -> String {
    let entries: Vec<String> = files
        .iter()
        .map(|f| {
            format!(
                "{{\"file\":{},\"bytes\":{},\"b3\":{},\"range\":{},\"count\":{}}}",
                f["file"], f["bytes"], f["b3"], f["range"], f["count"]
            )
        })
        .collect();
    format!("[{}]", entries.join(","))
}
