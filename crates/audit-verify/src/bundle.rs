//! Verifying an export bundle (FORMAT-v1.md section 6) offline: the
//! manifest against the files, every record, its links, every checkpoint
//! root (from the carried frontier), chain and signature.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::result_large_err)]

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use audit_canon::{Digest, Frontier};
use serde::Deserialize;

use crate::chains::{Chains, StreamHead};
use crate::listing::NumberedFiles;
use crate::report::{Failure, FailureClass, Report};
use crate::wal_dir::{
    CHECKPOINTS_FILE, Linker, VerifyOptions, io_failure, read_checkpoints, read_file, read_links,
};

/// The manifest's name in a bundle.
pub const MANIFEST_FILE: &str = "manifest.json";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    version: u64,
    writer_id: String,
    stream: String,
    files: Vec<ManifestFile>,
    checkpoints: u64,
    frontier: Vec<String>,
    /// Advisory; checked for type only.
    #[serde(rename = "created_ts_ms")]
    _created_ts_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    file: String,
    bytes: u64,
    b3: String,
    range: [u64; 2],
    count: u64,
}

/// The largest `manifest.json` read: 64 MiB, room for the entries of a
/// bundle of petabytes.
const MAX_MANIFEST_BYTES: u64 = 64 << 20;

/// What a bundle's manifest says about the stream it holds
/// ([`read_manifest`]). [`verify_bundle`] checks all of it against the
/// files; reading it alone checks only its form.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BundleManifest {
    /// The stream's writer.
    pub writer_id: String,
    /// The stream.
    pub stream: String,
    /// The first seq of the bundle's records (its first file's range).
    pub first_seq: u64,
    /// The frontier of the stream's tree over the records before
    /// `first_seq` (empty when it is 1).
    pub frontier: Frontier,
}

/// Reads `dir/manifest.json` (bounded), as [`verify_bundle`] reads it:
/// version 1, every key known, at least one records file, a frontier of
/// the right length for the first seq.
pub fn read_manifest(dir: &Path) -> Result<BundleManifest, Box<Failure>> {
    let mpath = dir.join(MANIFEST_FILE);
    let m = load_manifest(&mpath)?;
    let (start, frontier) = first_seq_and_frontier(&mpath, &m)?;
    Ok(BundleManifest {
        writer_id: m.writer_id,
        stream: m.stream,
        first_seq: start,
        frontier,
    })
}

/// The manifest's text, parsed and of version 1.
fn load_manifest(mpath: &Path) -> Result<Manifest, Failure> {
    // Read up to a bound no manifest reaches (an entry of ~150 bytes per
    // 64 MiB records file), so a planted giant is refused, not loaded.
    let mut text = Vec::new();
    std::fs::File::open(mpath)
        .and_then(|f| f.take(MAX_MANIFEST_BYTES + 1).read_to_end(&mut text))
        .map_err(|e| io_failure(mpath, &e))?;
    if text.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(structure(
            mpath.to_path_buf(),
            "manifest",
            format!("larger than {MAX_MANIFEST_BYTES} bytes, more than any bundle manifest"),
        ));
    }
    let m: Manifest = serde_json::from_slice(&text).map_err(|e| {
        structure(
            mpath.to_path_buf(),
            "manifest",
            format!("not a bundle manifest: {e}"),
        )
    })?;
    if m.version != 1 {
        return Err(structure(
            mpath.to_path_buf(),
            "manifest",
            format!("version {} (this verifier reads 1)", m.version),
        ));
    }
    Ok(m)
}

/// The first seq (the first file's range start) and the frontier of the
/// tree before it.
fn first_seq_and_frontier(mpath: &Path, m: &Manifest) -> Result<(u64, Frontier), Failure> {
    let Some(start) = m.files.first().map(|f| f.range[0]) else {
        return Err(structure(
            mpath.to_path_buf(),
            "manifest",
            "the bundle lists no record files".into(),
        ));
    };
    let bad = |what: String| structure(mpath.to_path_buf(), "manifest", format!("frontier: {what}"));
    let mut hashes = Vec::with_capacity(m.frontier.len().min(64));
    for h in &m.frontier {
        hashes.push(Digest::parse(h).map_err(|e| bad(e.to_string()))?);
    }
    let size = start
        .checked_sub(1)
        .ok_or_else(|| bad("the first file's range starts at seq 0".into()))?;
    let frontier = Frontier::from_hashes(size, hashes).map_err(|e| bad(e.to_string()))?;
    Ok((start, frontier))
}

/// Verifies a bundle directory.
pub fn verify_bundle(dir: &Path, opts: &VerifyOptions) -> Report {
    let mut report = Report {
        signatures_checked: !opts.trust.is_empty(),
        ..Report::default()
    };
    if let Err(f) = verify_bundle_inner(dir, opts, &mut report) {
        report.failure = Some(f);
    }
    report
}

fn structure(file: PathBuf, code: &'static str, reason: String) -> Failure {
    Failure {
        class: FailureClass::Structure,
        code,
        file,
        offset: None,
        stream: None,
        seq: None,
        reason,
    }
}

fn verify_bundle_inner(dir: &Path, opts: &VerifyOptions, report: &mut Report) -> Result<(), Failure> {
    let mpath = dir.join(MANIFEST_FILE);
    let m = load_manifest(&mpath)?;
    // Every segment file is listed, in order, with numbers from 1.
    let mut on_disk = BTreeSet::new();
    for e in std::fs::read_dir(dir).map_err(|e| io_failure(dir, &e))? {
        let e = e.map_err(|e| io_failure(dir, &e))?;
        if let Some(n) = e
            .file_name()
            .to_str()
            .and_then(|n| NumberedFiles::Records.number_of(n))
        {
            on_disk.insert(n);
        }
    }
    let mut files = Vec::new();
    let mut prev_end = None;
    for (i, f) in m.files.iter().enumerate() {
        let path = dir.join(&f.file);
        let number = NumberedFiles::Records
            .number_of(&f.file)
            .filter(|&n| n == i as u64 + 1)
            .ok_or_else(|| {
                structure(
                    mpath.clone(),
                    "manifest",
                    format!("file {:?} is not records-{:06}.seg", f.file, i + 1),
                )
            })?;
        let bytes = read_file(&path, true).map_err(|e| io_failure(&path, &e))?;
        let mismatch =
            |what: String| structure(mpath.clone(), "manifest_mismatch", format!("{}: {what}", f.file));
        if bytes.len() as u64 != f.bytes {
            return Err(mismatch(format!(
                "the manifest says {} bytes, the file has {}",
                f.bytes,
                bytes.len()
            )));
        }
        let b3 = Digest::of(&bytes).to_hash_string();
        if b3 != f.b3 {
            // Damage inside the file is named where it is, not only as a
            // hash the manifest disagrees with.
            if let Some(e) = read_links(&bytes, number, 1).error {
                return Err(Failure::from_segment(path, &e));
            }
            return Err(mismatch(format!(
                "the manifest says {}, the file hashes to {b3}",
                f.b3
            )));
        }
        let span = f.range[1].checked_sub(f.range[0]).and_then(|d| d.checked_add(1));
        if f.count == 0 || span != Some(f.count) {
            return Err(mismatch(format!(
                "range {:?} and count {} disagree",
                f.range, f.count
            )));
        }
        if let Some(end) = prev_end.filter(|&e: &u64| e.checked_add(1) != Some(f.range[0])) {
            return Err(mismatch(format!(
                "range starts at {}, the previous file ended at {end}",
                f.range[0],
            )));
        }
        prev_end = Some(f.range[1]);
        files.push((number, path, f.range, f.count));
    }
    if let Some(extra) = on_disk.iter().find(|n| **n > m.files.len() as u64) {
        return Err(structure(
            dir.join(format!("records-{extra:06}.seg")),
            "manifest_mismatch",
            "a segment file the manifest does not list".into(),
        ));
    }
    // The first seq and the frontier of the tree of size start - 1.
    let (start, frontier) = first_seq_and_frontier(&mpath, &m)?;

    let cp_path = dir.join(CHECKPOINTS_FILE);
    let cp_text = std::fs::read(&cp_path).map_err(|e| io_failure(&cp_path, &e))?;
    let (pending, kids) = read_checkpoints(&cp_path, &cp_text, &opts.trust, &|_, _| Some(start))?;
    let key = (m.writer_id.clone(), m.stream.clone());
    let n_cp: usize = pending.values().map(std::collections::VecDeque::len).sum();
    if n_cp as u64 != m.checkpoints {
        return Err(structure(
            cp_path,
            "manifest_mismatch",
            format!(
                "the manifest says {} checkpoints, the file has {n_cp}",
                m.checkpoints
            ),
        ));
    }
    if let Some(other) = pending.keys().find(|k| **k != key) {
        return Err(Failure {
            class: FailureClass::Integrity,
            code: "foreign_checkpoint",
            file: cp_path,
            offset: None,
            stream: Some(other.1.clone()),
            seq: None,
            reason: format!("a checkpoint of {other:?} in a bundle of {key:?}"),
        });
    }
    if pending
        .get(&key)
        .and_then(|q| q.front())
        .map(|p| p.cp.body.start_seq())
        != Some(start)
    {
        return Err(structure(
            cp_path,
            "manifest_mismatch",
            format!("the first checkpoint does not start at the bundle's first seq {start}"),
        ));
    }
    let last_end = pending
        .get(&key)
        .and_then(|q| q.back())
        .map_or(0, |p| p.cp.body.end_seq());

    let mut linker = Linker::new(pending, cp_path.clone());
    let mut seeded = start == 1;
    for (number, path, range, count) in &files {
        let bytes = read_file(path, true).map_err(|e| io_failure(path, &e))?;
        let read = read_links(&bytes, *number, opts.threads());
        if let Some(e) = &read.error {
            return Err(Failure::from_segment(path.clone(), e));
        }
        let links = read.links;
        if links.len() as u64 != *count
            || links.first().map(|l| l.seq) != Some(range[0])
            || links.last().map(|l| l.seq) != Some(range[1])
        {
            return Err(structure(
                mpath.clone(),
                "manifest_mismatch",
                format!(
                    "{}: the manifest says seq {}..={} ({count} records), the file holds {} records",
                    path.display(),
                    range[0],
                    range[1],
                    links.len()
                ),
            ));
        }
        for l in &links {
            if (l.writer_id.as_ref(), l.stream.as_ref()) != (key.0.as_str(), key.1.as_str()) {
                return Err(Failure {
                    class: FailureClass::Integrity,
                    code: "foreign_record",
                    file: path.clone(),
                    offset: Some(l.offset),
                    stream: Some(l.stream.to_string()),
                    seq: Some(l.seq),
                    reason: format!(
                        "a record of {:?} in a bundle of {:?}",
                        (&l.writer_id, &l.stream),
                        key
                    ),
                });
            }
            if !seeded {
                // The chain starts mid-stream: take the first record's
                // prev as the head before it; the checkpoint roots (from
                // the manifest's frontier) are what vouch for it.
                let head = l.prev.digest().copied().unwrap_or(Digest::from_bytes([0; 32]));
                linker.chains = Chains::from_heads([(
                    key.clone(),
                    StreamHead {
                        seq: start - 1,
                        head,
                        frontier: frontier.clone(),
                        last_ts_ms: 0,
                    },
                )]);
                seeded = true;
            }
            linker.link(path, *number, l)?;
        }
    }
    report.streams = linker.streams(&kids);
    if let Some(s) = report.streams.first_mut() {
        s.first_seq = start;
    }
    linker.finish()?;
    let last_seq = report.streams.first().map_or(0, |s| s.last_seq);
    if last_seq != last_end {
        return Err(structure(
            cp_path,
            "manifest_mismatch",
            format!("records run to seq {last_seq}, the last checkpoint ends at {last_end}"),
        ));
    }
    Ok(())
}

/// Verifies `path`: a bundle when it holds `manifest.json`, else a WAL
/// directory.
pub fn verify_path(path: &Path, opts: &VerifyOptions) -> Report {
    if crate::listing::is_bundle(path) {
        verify_bundle(path, opts)
    } else {
        crate::wal_dir::verify_wal_dir(path, opts)
    }
}
