//! Export bundles (FORMAT-v1.md section 6): a stream's records over whole
//! checkpoints, those checkpoints, and a manifest, written into a temporary
//! directory that is renamed into place, so a crash leaves no bundle or a
//! whole one.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use audit_canon::{CheckpointLink, Digest, Frontier, leaf_hash};
use audit_chain::AuditStream;
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
    /// The WAL holds no record of the stream by the writer: a name that
    /// does not exist here (a typo, another writer).
    #[error("{}", no_stream(writer_id, stream, streams))]
    NoStream {
        /// The writer.
        writer_id: String,
        /// The stream asked for.
        stream: String,
        /// The WAL's streams, as (writer, stream).
        streams: Vec<(String, String)>,
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
    /// `from` is after `to`.
    #[error("stream {stream:?}: the range {from}..={to} is empty (from is after to)")]
    EmptyRange {
        /// The stream.
        stream: String,
        /// The first seq asked for.
        from: u64,
        /// The last seq asked for.
        to: u64,
    },
    /// A stored checkpoint of the stream does not hold against the WAL or
    /// the checkpoint before it; the bundle would not verify.
    #[error("stream {stream:?}: the checkpoint of seq {start}..={end} {problem}")]
    Checkpoint {
        /// The stream.
        stream: String,
        /// The checkpoint's first seq.
        start: u64,
        /// The checkpoint's last seq.
        end: u64,
        /// What does not hold.
        problem: &'static str,
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
    /// A checkpoint covers a record the WAL does not hold.
    #[error("stream {stream:?}: a checkpoint covers seq {seq}, which the wal does not hold")]
    Missing {
        /// The stream.
        stream: String,
        /// The first seq missing.
        seq: u64,
    },
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

/// A bundle's records file being written: header and frames go to disk as
/// they come, hashed on the way, and it is synced when finished.
struct RecordsFile {
    name: String,
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    hasher: blake3::Hasher,
    /// Bytes written so far, header included.
    bytes: u64,
    first: u64,
    count: u64,
}

impl RecordsFile {
    /// Creates `records-NNNNNN.seg` (number `number`) in `dir` and writes
    /// its header; its first record will be `first`.
    fn create(dir: &Path, number: u64, first: u64) -> Result<Self, ExportError> {
        let name = format!("records-{number:06}.seg");
        let path = dir.join(&name);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io(&path, "create"))?;
        let mut file = Self {
            name,
            path,
            out: std::io::BufWriter::with_capacity(1 << 20, f),
            hasher: blake3::Hasher::new(),
            bytes: 0,
            first,
            count: 0,
        };
        file.write(&encode_header(number))?;
        Ok(file)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), ExportError> {
        self.out.write_all(bytes).map_err(io(&self.path, "write"))?;
        self.hasher.update(bytes);
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    /// Appends one encoded frame.
    fn push(&mut self, frame: &[u8]) -> Result<(), ExportError> {
        self.write(frame)?;
        self.count += 1;
        Ok(())
    }

    /// Flushes and syncs the file; its entry in the manifest's `files`.
    fn finish(self) -> Result<serde_json::Value, ExportError> {
        let Self {
            name,
            path,
            out,
            hasher,
            bytes,
            first,
            count,
        } = self;
        out.into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .map_err(io(&path, "write"))?;
        Ok(json!({
            "file": name,
            "bytes": bytes,
            "b3": Digest::from(hasher.finalize()).to_hash_string(),
            "range": [first, first + count - 1],
            "count": count,
        }))
    }
}

/// "writer "w" has no stream "s" (its streams: a, b)", or, when the
/// writer has none, the writers there are.
fn no_stream(writer_id: &str, stream: &str, streams: &[(String, String)]) -> String {
    let own: Vec<&str> = streams
        .iter()
        .filter(|(w, _)| w == writer_id)
        .map(|(_, s)| s.as_str())
        .collect();
    if !own.is_empty() {
        return format!(
            "writer {writer_id:?} has no stream {stream:?} (its streams: {})",
            own.join(", ")
        );
    }
    let mut writers: Vec<&str> = streams.iter().map(|(w, _)| w.as_str()).collect();
    writers.dedup();
    if writers.is_empty() {
        return format!("writer {writer_id:?} has no stream {stream:?}: the WAL has no records");
    }
    format!(
        "writer {writer_id:?} has no records in this WAL (writers: {})",
        writers.join(", ")
    )
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
    export_in_files(wal, req, out, created_ts_ms, MAX_FILE_BYTES as u64)
}

/// [`export_bundle`], starting a new records file once one reaches
/// `max_file_bytes` (tests make small ones).
fn export_in_files(
    wal: &WalSink,
    req: &BundleRequest,
    out: &Path,
    created_ts_ms: u64,
    max_file_bytes: u64,
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
        if wal.chain_state(&req.writer_id, &req.stream).is_none() {
            return Err(ExportError::NoStream {
                writer_id: req.writer_id.clone(),
                stream: req.stream.clone(),
                streams: wal.streams(),
            });
        }
        return Err(ExportError::NoCheckpoints {
            writer_id: req.writer_id.clone(),
            stream: req.stream.clone(),
        });
    };
    let broken = |c: &SignedCheckpoint, problem| ExportError::Checkpoint {
        stream: req.stream.clone(),
        start: c.body.start_seq(),
        end: c.body.end_seq(),
        problem,
    };
    let bounds = || {
        all.iter()
            .map(|c| format!("{}..={}", c.body.start_seq(), c.body.end_seq()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let from = req.from.unwrap_or(first.body.start_seq());
    let to = req.to.unwrap_or(last.body.end_seq());
    // The stream's checkpoints up to the range's end must chain as a
    // verifier checks them, or the bundle would not verify.
    let mut want = CheckpointLink::FIRST;
    for c in all.iter().take_while(|c| c.body.start_seq() <= to) {
        if c.body.link() != want {
            return Err(broken(
                c,
                "does not continue the checkpoint before it (its start or prev_checkpoint)",
            ));
        }
        want = c.body.next_link();
    }
    if to < from {
        return Err(ExportError::EmptyRange {
            stream: req.stream.clone(),
            from,
            to,
        });
    }
    if !all.iter().any(|c| c.body.start_seq() == from) {
        return Err(ExportError::NotAligned {
            stream: req.stream.clone(),
            seq: from,
            which: "start",
            bounds: bounds(),
        });
    }
    if !all.iter().any(|c| c.body.end_seq() == to) {
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

    // The frontier of the tree of size from - 1, from the records before
    // the range, verified on read.
    let mut frontier = Frontier::new();
    if from > 1 {
        wal.for_each_raw(&req.writer_id, &req.stream, 1..=from - 1, |r| {
            // Cannot fail below u64::MAX leaves.
            let _ = frontier.push(leaf_hash(&r.self_hash));
            Ok::<_, ExportError>(())
        })?;
    }

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
        .map_err(io(out, "create"))?;
    let result = (|| {
        let mut files = Vec::new();
        let mut file: Option<RecordsFile> = None;
        let mut frame = Vec::new();
        // The records, verified on read and written to disk as they come:
        // a bundle of any size is made in the memory of one frame.
        let mut records = 0u64;
        // Each checkpoint's root and head are checked against the records
        // as they pass, as a verifier of the bundle will.
        let mut ends = chosen.iter().peekable();
        let mut tree = frontier.clone();
        wal.for_each_raw(&req.writer_id, &req.stream, from..=to, |r| {
            // Cannot fail below u64::MAX leaves.
            let _ = tree.push(leaf_hash(&r.self_hash));
            if let Some(c) = ends.next_if(|c| c.body.end_seq() == r.seq) {
                if tree.root().as_ref() != Some(c.body.root()) {
                    return Err(broken(c, "has a root that is not the root of the records"));
                }
                if r.self_hash != *c.body.head() {
                    return Err(broken(c, "has a head that is not its last record's self_hash"));
                }
            }
            let f = match &mut file {
                Some(f) => f,
                None => file.insert(RecordsFile::create(&tmp, files.len() as u64 + 1, r.seq)?),
            };
            frame.clear();
            encode_frame(&mut frame, 1, r.seq, r.canonical, &r.self_hash)
                .map_err(|e| io(&tmp, "encode")(std::io::Error::other(e)))?;
            let had_frames = f.count > 0;
            f.push(&frame)?;
            records += 1;
            if f.bytes >= max_file_bytes
                && had_frames
                && let Some(done) = file.take()
            {
                files.push(done.finish()?);
            }
            Ok::<_, ExportError>(())
        })?;
        if records != to - from + 1 {
            // Checkpoints cover records the WAL does not hold.
            return Err(ExportError::Missing {
                stream: req.stream.clone(),
                seq: from + records,
            });
        }
        if let Some(done) = file.take() {
            files.push(done.finish()?);
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
        Ok((files.len(), records))
    })();
    match result {
        Ok((files, records)) => Ok(BundleSummary {
            dir: out.to_path_buf(),
            range: (from, to),
            records,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
    use std::sync::Arc;

    use audit_canon::Limits;
    use audit_chain::{AuditSink, Emitter, Event, FsyncPolicy, Privacy};
    use audit_verify::{TrustSet, VerifyOptions, verify_path};
    use audit_wal::{WalOptions, WalSink};

    use super::{BundleRequest, export_in_files};
    use crate::{Cadence, Checkpointer, Ed25519Signer, Signer};

    /// Records files are cut as they fill and each is described as it was
    /// written: the bundle verifies, the files' ranges run back to back,
    /// and each file but the last passed the limit with its last frame.
    #[test]
    fn records_files_are_cut_as_they_fill_and_the_bundle_verifies() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let opts = WalOptions {
            rotate_bytes: 4096,
            fsync: FsyncPolicy::OnCheckpoint,
        };
        let wal = Arc::new(WalSink::open(tmp.path().join("wal"), opts).expect("open").0);
        let key = Arc::new(Ed25519Signer::generate().expect("key"));
        let signer: Arc<dyn Signer> = key.clone();
        let (cp, _) = Checkpointer::open(wal.clone(), vec![signer], Cadence::default()).expect("cp");
        let e = Emitter::new("svc@1", wal.clone(), Limits::default())
            .expect("emitter")
            .with_privacy(Privacy::off());
        for round in 0..3u64 {
            for i in 0..20u64 {
                e.emit(Event::new("a", "GetServed", "ok").attr("i", round * 20 + i))
                    .expect("emit");
            }
            cp.checkpoint_all(1).expect("checkpoint");
        }
        wal.flush().expect("flush");
        let req = BundleRequest {
            writer_id: "svc@1".into(),
            stream: "a".into(),
            from: Some(21),
            to: Some(60),
        };
        let out = tmp.path().join("bundle");
        let limit = 1024;
        let summary = export_in_files(&wal, &req, &out, 9, limit).expect("export");
        assert_eq!((summary.range, summary.records), ((21, 60), 40));
        assert!(summary.files >= 5, "{} files", summary.files);
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("manifest.json")).expect("read")).expect("json");
        let files = manifest["files"].as_array().expect("files");
        assert_eq!(files.len(), summary.files);
        let mut next = 21;
        for (i, f) in files.iter().enumerate() {
            let name = f["file"].as_str().expect("file");
            assert_eq!(name, format!("records-{:06}.seg", i + 1));
            let bytes = std::fs::read(out.join(name)).expect("read");
            assert_eq!(f["bytes"].as_u64(), Some(bytes.len() as u64));
            assert_eq!(
                f["b3"].as_str(),
                Some(audit_canon::Digest::of(&bytes).to_hash_string().as_str())
            );
            let (first, count) = (
                f["range"][0].as_u64().expect("first"),
                f["count"].as_u64().expect("count"),
            );
            assert_eq!((first, f["range"][1].as_u64()), (next, Some(first + count - 1)));
            if i + 1 < files.len() {
                assert!(bytes.len() as u64 >= limit, "file {name}: {} bytes", bytes.len());
            }
            next += count;
        }
        assert_eq!(next, 61);
        let report = verify_path(
            &out,
            &VerifyOptions {
                trust: TrustSet::new().with_key(key.public_key().clone()),
                threads: 0,
            },
        );
        assert!(report.failure.is_none(), "{:?}", report.failure);
        assert_eq!(report.records(), 40);
    }
}
