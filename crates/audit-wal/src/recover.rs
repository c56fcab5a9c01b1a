//! Opening a WAL directory: lock it, check the segments (sealed ones by
//! their index digest, the newest frame by frame), cut a torn tail of the
//! newest segment and nothing else, and rebuild every chain's head and
//! Merkle frontier.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io;
use std::path::Path;
use std::sync::Arc;

use audit_canon::{Digest, Limits};
use audit_verify::{
    Chains, SegmentScan, parse_segment_file_name, scan_segment, scan_segment_from, segment_file_name,
};

use crate::error::{OpenError, Recovery, TornCut};
use crate::fs::{DirLock, Vfs};
use crate::index::{SegmentIndex, decode_index, encode_index, index_file_name, parse_index_file_name};
use crate::writer::{SegmentWriter, TMP_SUFFIX, write_atomic};

/// The lock file's name.
pub(crate) const LOCK_FILE: &str = "wal.lock";

/// A recovered WAL, ready to append to.
pub(crate) struct Recovered {
    pub(crate) lock: Box<dyn DirLock>,
    pub(crate) writer: SegmentWriter,
    pub(crate) chains: Chains,
    pub(crate) report: Recovery,
}

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> OpenError + 'a {
    move |source| OpenError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

/// Reads and decodes `n`'s index; `None` when it is missing or unusable
/// (it is then derived from the segment again).
fn load_index(
    fs: &dyn Vfs,
    dir: &Path,
    n: u64,
    present: &BTreeSet<u64>,
) -> Result<Option<SegmentIndex>, OpenError> {
    if !present.contains(&n) {
        return Ok(None);
    }
    let path = dir.join(index_file_name(n));
    let bytes = fs.read_sealed(&path).map_err(io_err(&path, "read index"))?;
    match decode_index(bytes.as_ref(), n) {
        Ok(idx) => Ok(Some(idx)),
        Err(e) => {
            tracing::warn!(name: "audit.wal.index_unusable", segment = n, error = %e, "rebuilding a segment index");
            Ok(None)
        }
    }
}

/// Loads the index of every sealed segment `1..last` and checks it against
/// its segment (length, BLAKE3 of every byte), on all cores: hashing the
/// sealed segments is most of the time an open takes.
fn check_sealed(
    fs: &dyn Vfs,
    dir: &Path,
    last: u64,
    indexes: &BTreeSet<u64>,
) -> Result<Vec<(Option<SegmentIndex>, bool)>, OpenError> {
    let check = |n: u64| -> Result<(Option<SegmentIndex>, bool), OpenError> {
        let Some(idx) = load_index(fs, dir, n, indexes)? else {
            return Ok((None, false));
        };
        let path = dir.join(segment_file_name(n));
        let bytes = fs.read_sealed(&path).map_err(io_err(&path, "read segment"))?;
        let bytes = bytes.as_ref();
        let matches = idx.len == bytes.len() as u64 && Digest::of(bytes) == idx.digest;
        Ok((Some(idx), matches))
    };
    let sealed = last.saturating_sub(1);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(sealed as usize);
    if workers <= 1 {
        return (1..last).map(check).collect();
    }
    let next = std::sync::atomic::AtomicU64::new(1);
    let results = std::sync::Mutex::new(Vec::with_capacity(sealed as usize));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= last {
                        break;
                    }
                    let r = check(n);
                    results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((n, r));
                }
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    results.sort_by_key(|(n, _)| *n);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Opens (creating if needed) the WAL in `dir`.
pub(crate) fn recover(fs: Arc<dyn Vfs>, dir: &Path, durable: bool) -> Result<Recovered, OpenError> {
    let limits = Limits::default();
    fs.create_dir_all(dir).map_err(io_err(dir, "create directory"))?;
    let lock_path = dir.join(LOCK_FILE);
    let lock = fs.lock(&lock_path).map_err(|e| {
        if e.kind() == io::ErrorKind::WouldBlock {
            OpenError::Locked {
                dir: dir.to_path_buf(),
                holder: fs.lock_holder(&lock_path),
            }
        } else {
            io_err(&lock_path, "lock")(e)
        }
    })?;
    let mut report = Recovery::default();
    let names = fs.list(dir).map_err(io_err(dir, "list"))?;
    let mut segments = BTreeSet::new();
    let mut indexes = BTreeSet::new();
    for name in names {
        if name.ends_with(TMP_SUFFIX) {
            let p = dir.join(&name);
            fs.remove(&p).map_err(io_err(&p, "remove temporary file"))?;
            report.temp_files_removed.push(name);
        } else if let Some(n) = parse_segment_file_name(&name) {
            segments.insert(n);
        } else if let Some(n) = parse_index_file_name(&name) {
            indexes.insert(n);
        }
    }
    if !report.temp_files_removed.is_empty() && durable {
        fs.sync_dir(dir).map_err(io_err(dir, "sync directory"))?;
    }
    let Some(&last) = segments.last() else {
        if let Some(&n) = indexes.first() {
            return Err(OpenError::MissingSegment {
                dir: dir.to_path_buf(),
                number: n,
                last: 0,
            });
        }
        let writer = SegmentWriter::create(fs, dir, 1, durable).map_err(io_err(dir, "create segment"))?;
        report.segments = 1;
        return Ok(Recovered {
            lock,
            writer,
            chains: Chains::new(),
            report,
        });
    };
    let missing = audit_verify::first_missing_segment(segments.iter().copied())
        .or(indexes.iter().copied().find(|&n| n > last));
    if let Some(number) = missing {
        return Err(OpenError::MissingSegment {
            dir: dir.to_path_buf(),
            number,
            last,
        });
    }
    report.segments = last;
    let corrupt = |source| OpenError::Corrupt {
        dir: dir.to_path_buf(),
        source: Box::new(source),
    };
    let mismatch = |segment, detail: String| OpenError::IndexMismatch {
        dir: dir.to_path_buf(),
        segment,
        detail,
    };

    // Sealed segments: the index's digest over the whole file, or a full
    // scan (which says exactly where a mismatch is).
    let mut chains = Chains::new();
    let checked = check_sealed(&*fs, dir, last, &indexes)?;
    for (n, (index, matches)) in (1..last).zip(checked) {
        if let (Some(idx), true) = (&index, matches) {
            chains = idx.chains.clone();
            report.records += idx.records;
            continue;
        }
        let path = dir.join(segment_file_name(n));
        let bytes = fs.read_sealed(&path).map_err(io_err(&path, "read segment"))?;
        let bytes = bytes.as_ref();
        let mut next = chains.clone();
        let scan = scan_segment(bytes, n, false, &mut next, &limits, |_, _| {}).map_err(corrupt)?;
        report.records_scanned += scan.records;
        report.records += scan.records;
        if let Some(idx) = index {
            return Err(mismatch(
                n,
                format!(
                    "index covers {} bytes, the segment has {} and verifies",
                    idx.len,
                    bytes.len()
                ),
            ));
        }
        let idx = encode_index(n, bytes.len() as u64, &Digest::of(bytes), scan.records, &next);
        write_atomic(&*fs, dir, &index_file_name(n), &idx, durable)
            .map_err(io_err(&dir.join(index_file_name(n)), "write index"))?;
        report.indexes_rebuilt.push(n);
        chains = next;
    }

    // The newest segment: from its index (if it still describes a prefix),
    // then frame by frame; only here may a torn tail be cut.
    let path = dir.join(segment_file_name(last));
    let bytes = fs
        .read_prefix(&path, u64::MAX)
        .map_err(io_err(&path, "read segment"))?;
    let index = load_index(&*fs, dir, last, &indexes)?;
    let usable = index.as_ref().filter(|idx| {
        usize::try_from(idx.len)
            .ok()
            .and_then(|l| bytes.get(..l))
            .is_some_and(|prefix| Digest::of(prefix) == idx.digest)
    });
    let (mut next, from, base) = match usable {
        Some(idx) => (idx.chains.clone(), idx.len, idx.records),
        None => (chains.clone(), audit_verify::SEGMENT_HEADER_LEN as u64, 0),
    };
    let scan: SegmentScan =
        scan_segment_from(&bytes, last, from, true, &mut next, &limits, |_, _| {}).map_err(corrupt)?;
    if let (Some(idx), None) = (&index, usable) {
        return Err(mismatch(
            last,
            format!(
                "index covers {} bytes, the segment has {} and verifies",
                idx.len,
                bytes.len()
            ),
        ));
    }
    report.records_scanned += scan.records;
    report.records += base + scan.records;
    if let Some(t) = scan.torn {
        let mut f = fs.open_append(&path).map_err(io_err(&path, "open segment"))?;
        f.set_len(t.offset).map_err(io_err(&path, "cut torn tail"))?;
        if durable {
            f.sync_data().map_err(io_err(&path, "sync segment"))?;
        }
        let cut = TornCut {
            segment: last,
            offset: t.offset,
            len: t.len,
            kind: t.kind,
        };
        metrics::counter!(crate::telemetry::TORN_TAIL_TOTAL).increment(1);
        tracing::warn!(
            name: "audit.wal.torn_tail",
            segment = last,
            offset = t.offset,
            len = t.len,
            kind = ?t.kind,
            "cut a torn write at the end of the newest segment"
        );
        report.torn = Some(cut);
    }
    report.streams = next.len();
    let writer = SegmentWriter::resume(fs, dir, last, scan.end, base + scan.records)
        .map_err(io_err(&path, "open segment"))?;
    Ok(Recovered {
        lock,
        writer,
        chains: next,
        report,
    })
}
