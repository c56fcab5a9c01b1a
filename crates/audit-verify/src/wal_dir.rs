//! Verifying a whole WAL directory: every segment (hashed on all cores,
//! links checked in order), and `checkpoints.jsonl` (chain, roots, heads,
//! signatures against the caller's trust set).
// One `Failure` ends a verification, so it is returned once per run;
// boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use audit_canon::{Digest, Limits, PrevHash, RecordLink};

use crate::chains::Chains;
use crate::header::{parse_segment_file_name, segment_file_name};
use crate::reader::{SegmentError, SegmentReader, Step, TornTail, check_frame};
use crate::report::{Failure, FailureClass, Report, StreamReport};
use crate::signed::SignedCheckpoint;
use crate::trust::TrustSet;

/// The file of a WAL directory (and of a bundle) that holds checkpoints.
pub const CHECKPOINTS_FILE: &str = "checkpoints.jsonl";

/// How to verify.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The keys and policy checkpoints are checked against. Empty: signatures
    /// are reported as unchecked.
    pub trust: TrustSet,
    /// Threads that hash segments (0: all cores).
    pub threads: usize,
}

impl VerifyOptions {
    pub(crate) fn threads(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }
}

/// A checkpoint still waiting for its stream to reach `end_seq`.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) cp: SignedCheckpoint,
    pub(crate) offset: u64,
}

/// `(writer_id, stream)`.
pub(crate) type StreamKey = (String, String);
/// Checkpoints waiting for their stream's records, per stream.
pub(crate) type PendingMap = HashMap<StreamKey, VecDeque<Pending>>;
/// Kids that signed each stream's checkpoints.
pub(crate) type KidsMap = HashMap<StreamKey, BTreeSet<String>>;

/// A segment's links and its torn tail, if any.
pub(crate) type SegmentLinks = (Vec<Link>, Option<TornTail>);

/// One frame's chain fields, owned.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub(crate) offset: u64,
    pub(crate) ts_ms: u64,
    pub(crate) writer_id: String,
    pub(crate) stream: String,
    pub(crate) seq: u64,
    pub(crate) prev: PrevHash,
    pub(crate) self_hash: Digest,
}

/// Reads and checks every frame of one segment (no chain check): what the
/// parallel phase does.
pub(crate) fn read_links(bytes: &[u8], segment: u64, allow_torn: bool) -> Result<SegmentLinks, SegmentError> {
    let limits = Limits::default();
    let mut r = SegmentReader::new(bytes, segment)?;
    let mut out = Vec::new();
    loop {
        match r.next_step()? {
            Step::End => return Ok((out, None)),
            Step::Torn(t) if allow_torn => return Ok((out, Some(t))),
            Step::Torn(t) => {
                return Err(SegmentError::Trailing {
                    segment,
                    offset: t.offset,
                    len: t.len,
                });
            }
            Step::Frame(f) => {
                let l = check_frame(&f, segment, &limits)?;
                out.push(Link {
                    offset: f.offset,
                    ts_ms: l.ts_ms,
                    writer_id: l.writer_id.into_owned(),
                    stream: l.stream.into_owned(),
                    seq: l.seq,
                    prev: l.prev,
                    self_hash: l.self_hash,
                });
            }
        }
    }
}

/// A whole file's bytes, mapped or read.
pub(crate) enum Bytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Self::Mapped(m) => m,
            Self::Read(v) => v,
        }
    }
}

/// Reads a file whole: mapped when `map` (files nobody appends to).
pub(crate) fn read_file(path: &Path, map: bool) -> std::io::Result<Bytes> {
    if map {
        let f = std::fs::File::open(path)?;
        if f.metadata()?.len() > 0 {
            return crate::mmap::map_readonly(&f).map(Bytes::Mapped);
        }
    }
    std::fs::read(path).map(Bytes::Read)
}

pub(crate) fn io_failure(file: &Path, e: &std::io::Error) -> Failure {
    Failure {
        class: if e.kind() == std::io::ErrorKind::NotFound {
            FailureClass::Structure
        } else {
            FailureClass::Io
        },
        code: if e.kind() == std::io::ErrorKind::NotFound {
            "missing_file"
        } else {
            "io"
        },
        file: file.to_path_buf(),
        offset: None,
        stream: None,
        seq: None,
        reason: e.to_string(),
    }
}

/// Parses `checkpoints.jsonl` text: every line a signed checkpoint, each
/// stream's checkpoints chained, signatures checked against `trust` when it
/// has keys. Returns the pending checkpoints per stream and the kids seen;
/// an incomplete last line (a crash while appending) is ignored.
pub(crate) fn read_checkpoints(
    file: &Path,
    text: &[u8],
    trust: &TrustSet,
    first_start: &dyn Fn(&str, &str) -> Option<u64>,
) -> Result<(PendingMap, KidsMap), Failure> {
    let mut pending: HashMap<(String, String), VecDeque<Pending>> = HashMap::new();
    let mut kids: HashMap<(String, String), BTreeSet<String>> = HashMap::new();
    let mut last: HashMap<(String, String), (u64, Digest)> = HashMap::new();
    let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut offset = 0u64;
    for line in text.get(..whole).unwrap_or_default().split(|&b| b == b'\n') {
        let at = offset;
        offset += line.len() as u64 + 1;
        if line.is_empty() {
            continue;
        }
        let fail = |class, code, stream: Option<String>, seq: Option<u64>, reason: String| Failure {
            class,
            code,
            file: file.to_path_buf(),
            offset: Some(at),
            stream,
            seq,
            reason,
        };
        let cp = SignedCheckpoint::parse_line(line).map_err(|e| {
            fail(
                FailureClass::Structure,
                "checkpoint_line",
                None,
                None,
                e.to_string(),
            )
        })?;
        let b = &cp.body;
        let key = (b.writer_id().to_owned(), b.stream().to_owned());
        let stream = Some(b.stream().to_owned());
        let (want_start, want_prev) = match last.get(&key) {
            Some((end, d)) => (Some(end + 1), Some(PrevHash::Digest(*d))),
            // A bundle may start after seq 1: its first checkpoint's link
            // to an earlier one cannot be checked here.
            None => match first_start(b.writer_id(), b.stream()) {
                Some(1) | None => (Some(1), Some(PrevHash::Genesis)),
                Some(s) => (Some(s), None),
            },
        };
        if want_start.is_some_and(|s| s != b.start_seq())
            || want_prev.is_some_and(|p| p != *b.prev_checkpoint())
        {
            return Err(fail(
                FailureClass::Integrity,
                "checkpoint_chain",
                stream,
                Some(b.start_seq()),
                format!(
                    "checkpoint of seq {}..={} does not continue the stream's checkpoints (expected start {} and prev {})",
                    b.start_seq(),
                    b.end_seq(),
                    want_start.map_or("-".to_owned(), |s| s.to_string()),
                    want_prev.map_or("-".to_owned(), |p| p.to_string()),
                ),
            ));
        }
        if !trust.is_empty() {
            cp.verify_sigs(trust).map_err(|e| {
                fail(
                    FailureClass::Trust,
                    "checkpoint_signature",
                    stream.clone(),
                    Some(b.end_seq()),
                    e.to_string(),
                )
            })?;
        }
        kids.entry(key.clone())
            .or_default()
            .extend(cp.sigs.iter().map(|s| s.kid.clone()));
        last.insert(key.clone(), (b.end_seq(), b.digest()));
        pending
            .entry(key)
            .or_default()
            .push_back(Pending { cp, offset: at });
    }
    Ok((pending, kids))
}

/// The chain-order phase: links every record, checks each checkpoint's
/// root and head when its stream reaches `end_seq`.
pub(crate) struct Linker {
    pub(crate) chains: Chains,
    pub(crate) pending: HashMap<(String, String), VecDeque<Pending>>,
    pub(crate) verified: HashMap<(String, String), u64>,
    pub(crate) first: HashMap<(String, String), u64>,
    pub(crate) counts: HashMap<(String, String), u64>,
    pub(crate) checkpoints_file: PathBuf,
}

impl Linker {
    pub(crate) fn link(&mut self, file: &Path, segment: u64, l: &Link) -> Result<(), Failure> {
        let rl = RecordLink {
            ts_ms: l.ts_ms,
            writer_id: std::borrow::Cow::Borrowed(&l.writer_id),
            seq: l.seq,
            stream: std::borrow::Cow::Borrowed(&l.stream),
            prev: l.prev,
            self_hash: l.self_hash,
        };
        self.chains.advance(&rl).map_err(|problem| {
            Failure::from_segment(
                file.to_path_buf(),
                &SegmentError::Link {
                    segment,
                    offset: l.offset,
                    writer_id: l.writer_id.clone(),
                    stream: l.stream.clone(),
                    seq: l.seq,
                    problem,
                },
            )
        })?;
        let key = (l.writer_id.clone(), l.stream.clone());
        self.first.entry(key.clone()).or_insert(l.seq);
        *self.counts.entry(key.clone()).or_default() += 1;
        let Some(q) = self.pending.get_mut(&key) else {
            return Ok(());
        };
        let Some(front) = q.front() else { return Ok(()) };
        if front.cp.body.end_seq() != l.seq {
            return Ok(());
        }
        let head = self.chains.get(&l.writer_id, &l.stream);
        let root = head.and_then(|h| h.frontier.root());
        let b = &front.cp.body;
        let problem = if root.as_ref() != Some(b.root()) {
            Some((
                "checkpoint_root",
                format!(
                    "root {} but the records give {}",
                    b.root(),
                    root.map_or("none".into(), |r| r.to_string())
                ),
            ))
        } else if *b.head() != l.self_hash {
            Some((
                "checkpoint_head",
                format!("head {} but record {} is {}", b.head(), l.seq, l.self_hash),
            ))
        } else {
            None
        };
        if let Some((code, reason)) = problem {
            return Err(Failure {
                class: FailureClass::Integrity,
                code,
                file: self.checkpoints_file.clone(),
                offset: Some(front.offset),
                stream: Some(l.stream.clone()),
                seq: Some(l.seq),
                reason,
            });
        }
        q.pop_front();
        *self.verified.entry(key).or_default() += 1;
        Ok(())
    }

    /// Checkpoints left over cover records that are not there.
    pub(crate) fn finish(&self) -> Result<(), Failure> {
        let mut left: Vec<_> = self
            .pending
            .iter()
            .filter_map(|(k, q)| Some((k, q.front()?)))
            .collect();
        left.sort_by_key(|(_, p)| p.offset);
        if let Some(((_, s), p)) = left.first() {
            let have = self.chains.get(p.cp.body.writer_id(), s).map_or(0, |h| h.seq);
            return Err(Failure {
                class: FailureClass::Integrity,
                code: "checkpoint_beyond_records",
                file: self.checkpoints_file.clone(),
                offset: Some(p.offset),
                stream: Some(s.clone()),
                seq: Some(p.cp.body.end_seq()),
                reason: format!(
                    "checkpoint covers seq {} but the records end at seq {have}",
                    p.cp.body.end_seq()
                ),
            });
        }
        Ok(())
    }

    pub(crate) fn streams(&self, kids: &HashMap<(String, String), BTreeSet<String>>) -> Vec<StreamReport> {
        let mut v: Vec<_> = self
            .chains
            .iter()
            .map(|(w, s, h)| {
                let key = (w.to_owned(), s.to_owned());
                StreamReport {
                    writer_id: w.to_owned(),
                    stream: s.to_owned(),
                    records: self.counts.get(&key).copied().unwrap_or(0),
                    first_seq: self.first.get(&key).copied().unwrap_or(1),
                    last_seq: h.seq,
                    head: h.head,
                    checkpoints: self.verified.get(&key).copied().unwrap_or(0),
                    kids_seen: kids.get(&key).cloned().unwrap_or_default(),
                }
            })
            .collect();
        v.sort_by(|a, b| (&a.writer_id, &a.stream).cmp(&(&b.writer_id, &b.stream)));
        v
    }
}

/// Reads segments `files` (in order) on `threads` threads, a batch at a
/// time, and feeds their links to `linker` in order. `newest` may end torn.
pub(crate) fn scan_files(
    files: &[(u64, PathBuf)],
    threads: usize,
    last_may_tear: bool,
    linker: &mut Linker,
) -> Result<Option<(PathBuf, TornTail)>, Failure> {
    let last = files.len().saturating_sub(1);
    let mut torn = None;
    for (bi, batch) in files.chunks(threads.max(1)).enumerate() {
        let results: Vec<Result<SegmentLinks, Failure>> = std::thread::scope(|s| {
            let handles: Vec<_> = batch
                .iter()
                .enumerate()
                .map(|(i, (n, path))| {
                    let newest = last_may_tear && bi * threads.max(1) + i == last;
                    s.spawn(move || {
                        let bytes = read_file(path, !newest).map_err(|e| io_failure(path, &e))?;
                        read_links(&bytes, *n, newest).map_err(|e| Failure::from_segment(path.clone(), &e))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Failure {
                            class: FailureClass::Io,
                            code: "io",
                            file: PathBuf::new(),
                            offset: None,
                            stream: None,
                            seq: None,
                            reason: "a reader thread panicked".into(),
                        })
                    })
                })
                .collect()
        });
        for ((n, path), r) in batch.iter().zip(results) {
            let (links, t) = r?;
            for l in &links {
                linker.link(path, *n, l)?;
            }
            if let Some(t) = t {
                torn = Some((path.clone(), t));
            }
        }
    }
    Ok(torn)
}

/// Verifies a WAL directory: its segments, in order, and its
/// `checkpoints.jsonl` if there is one.
pub fn verify_wal_dir(dir: &Path, opts: &VerifyOptions) -> Report {
    let mut report = Report {
        signatures_checked: !opts.trust.is_empty(),
        ..Report::default()
    };
    match verify_wal_inner(dir, opts, &mut report) {
        Ok(()) => {}
        Err(f) => report.failure = Some(f),
    }
    report
}

fn verify_wal_inner(dir: &Path, opts: &VerifyOptions, report: &mut Report) -> Result<(), Failure> {
    let names = std::fs::read_dir(dir).map_err(|e| io_failure(dir, &e))?;
    let mut segs = BTreeMap::new();
    for e in names {
        let e = e.map_err(|e| io_failure(dir, &e))?;
        if let Some(n) = e.file_name().to_str().and_then(parse_segment_file_name) {
            segs.insert(n, e.path());
        }
    }
    let last = segs.keys().next_back().copied().unwrap_or(0);
    if let Some(missing) = (1..=last.max(1)).find(|n| !segs.contains_key(n)) {
        return Err(Failure {
            class: FailureClass::Structure,
            code: "missing_segment",
            file: dir.join(segment_file_name(missing)),
            offset: None,
            stream: None,
            seq: None,
            reason: format!("segment {missing} is missing (segments run to {last})"),
        });
    }
    let cp_path = dir.join(CHECKPOINTS_FILE);
    let (pending, kids) = match std::fs::read(&cp_path) {
        Ok(text) => read_checkpoints(&cp_path, &text, &opts.trust, &|_, _| Some(1))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
        Err(e) => return Err(io_failure(&cp_path, &e)),
    };
    let mut linker = Linker {
        chains: Chains::new(),
        pending,
        verified: HashMap::new(),
        first: HashMap::new(),
        counts: HashMap::new(),
        checkpoints_file: cp_path,
    };
    let files: Vec<(u64, PathBuf)> = segs.into_iter().collect();
    let outcome = scan_files(&files, opts.threads(), true, &mut linker);
    report.streams = linker.streams(&kids);
    report.torn = outcome?;
    linker.finish()
}
