//! Verifying a whole WAL directory: every segment (its frames checked on
//! all cores), links and checkpoint roots in one ordered pass, and
//! `checkpoints.jsonl` (chain, roots, heads, signatures against the
//! caller's trust set).
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
// One `Failure` ends a verification, so it is returned once per run;
// boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use audit_canon::{CheckpointLink, Digest, Limits, PrevHash, RecordLink, leaf_hash};

use crate::chains::Chains;
use crate::reader::{SegmentError, SegmentReader, Step, TornTail, check_frame};
use crate::report::{Failure, FailureClass, Report, StreamReport};
use crate::signed::{CheckpointLineError, SignedCheckpoint, whole_checkpoint_lines};
use crate::trust::TrustSet;

/// The file of a WAL directory (and of a bundle) that holds checkpoints.
pub const CHECKPOINTS_FILE: &str = "checkpoints.jsonl";

/// How to verify.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The keys and policy checkpoints are checked against. Empty: signatures
    /// are reported as unchecked.
    pub trust: TrustSet,
    /// Threads that check frames (0: all cores).
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

/// One frame's chain fields, borrowed from the segment's bytes, and its
/// Merkle leaf.
#[derive(Debug, Clone)]
pub(crate) struct Link<'a> {
    pub(crate) offset: u64,
    pub(crate) ts_ms: u64,
    pub(crate) writer_id: Cow<'a, str>,
    pub(crate) stream: Cow<'a, str>,
    pub(crate) seq: u64,
    pub(crate) prev: PrevHash,
    pub(crate) self_hash: Digest,
    pub(crate) leaf: Digest,
}

/// What reading one sealed segment found: the links of its valid frames
/// in order, then the end or the first error (after them).
pub(crate) struct SegmentRead<'a> {
    pub(crate) links: Vec<Link<'a>>,
    pub(crate) error: Option<SegmentError>,
}

/// One frame checked ([`check_frame`]) and its leaf computed.
fn frame_link<'a>(
    f: &crate::frame::Frame<'a>,
    segment: u64,
    limits: &Limits,
) -> Result<Link<'a>, SegmentError> {
    let l = check_frame(f, segment, limits)?;
    Ok(Link {
        offset: f.offset,
        ts_ms: l.ts_ms,
        leaf: leaf_hash(&l.self_hash),
        writer_id: l.writer_id,
        stream: l.stream,
        seq: l.seq,
        prev: l.prev,
        self_hash: l.self_hash,
    })
}

fn check_chunk<'a>(
    frames: &[crate::frame::Frame<'a>],
    segment: u64,
) -> (Vec<Link<'a>>, Option<SegmentError>) {
    let limits = Limits::default();
    let mut out = Vec::with_capacity(frames.len());
    for f in frames {
        match frame_link(f, segment, &limits) {
            Ok(l) => out.push(l),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

/// A segment's frame boundaries, found in one cheap pass (nothing is
/// checked but the framing): the whole frames, then a torn tail (only
/// when allowed) or the first framing error.
struct Walk<'a> {
    frames: Vec<crate::frame::Frame<'a>>,
    torn: Option<TornTail>,
    error: Option<SegmentError>,
}

fn walk_frames(bytes: &[u8], segment: u64, allow_torn: bool) -> Walk<'_> {
    let mut w = Walk {
        frames: Vec::new(),
        torn: None,
        error: None,
    };
    match SegmentReader::new(bytes, segment) {
        Ok(mut r) => while walk_more(&mut r, segment, allow_torn, usize::MAX, &mut w) {},
        Err(e) => w.error = Some(e),
    }
    w
}

/// Walks up to `max` more frames onto `w.frames`. Returns whether the
/// segment goes on; when it does not, `w` holds how it ended (a torn tail,
/// when allowed, or the first framing error; neither at a clean end).
fn walk_more<'a>(
    r: &mut SegmentReader<'a>,
    segment: u64,
    allow_torn: bool,
    max: usize,
    w: &mut Walk<'a>,
) -> bool {
    for _ in 0..max {
        match r.next_step() {
            Ok(Step::Frame(f)) => w.frames.push(f),
            Ok(Step::End) => return false,
            Ok(Step::Torn(t)) if allow_torn => {
                w.torn = Some(t);
                return false;
            }
            Ok(Step::Torn(t)) => {
                w.error = Some(SegmentError::Trailing {
                    segment,
                    offset: t.offset,
                    len: t.len,
                });
                return false;
            }
            Err(e) => {
                w.error = Some(e);
                return false;
            }
        }
    }
    true
}

/// Reads one sealed segment (a bundle's): frame boundaries in one cheap
/// pass, then every frame checked (canonical bytes, digest, fields; the
/// Merkle leaf computed) on `threads` threads. No chain check: that needs
/// order, and is the caller's.
pub(crate) fn read_links(bytes: &[u8], segment: u64, threads: usize) -> SegmentRead<'_> {
    let Walk {
        frames,
        error: walk_error,
        ..
    } = walk_frames(bytes, segment, false);
    // Threads only pay off for more than a few hundred frames each.
    let threads = threads.max(1).min(frames.len() / 512 + 1);
    let parts: Vec<(Vec<Link<'_>>, Option<SegmentError>)> = if threads <= 1 {
        vec![check_chunk(&frames, segment)]
    } else {
        let size = frames.len().div_ceil(threads);
        std::thread::scope(|s| {
            let hs: Vec<_> = frames
                .chunks(size)
                .map(|c| s.spawn(move || check_chunk(c, segment)))
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    };
    let mut links = Vec::with_capacity(frames.len());
    for (part, err) in parts {
        links.extend(part);
        if let Some(e) = err {
            return SegmentRead {
                links,
                error: Some(e),
            };
        }
    }
    SegmentRead {
        links,
        error: walk_error,
    }
}

/// A whole file's bytes, mapped or read ([`read_file`]); derefs to them.
pub struct FileBytes(Bytes);

enum Bytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Bytes::Mapped(m) => m,
            Bytes::Read(v) => v,
        }
    }
}

/// Reads a file whole: mapped when `map`, which only files nobody appends
/// to any more may be (sealed segments, bundle files; see
/// [`crate::map_readonly`]), else read into memory.
pub fn read_file(path: &Path, map: bool) -> std::io::Result<FileBytes> {
    if map {
        let f = std::fs::File::open(path)?;
        if f.metadata()?.len() > 0 {
            return crate::mmap::map_readonly(&f).map(|m| FileBytes(Bytes::Mapped(m)));
        }
    }
    std::fs::read(path).map(|v| FileBytes(Bytes::Read(v)))
}

pub(crate) fn io_failure(file: &Path, e: &std::io::Error) -> Failure {
    let missing = e.kind() == std::io::ErrorKind::NotFound;
    Failure {
        class: if missing {
            FailureClass::Structure
        } else {
            FailureClass::Io
        },
        code: if missing { "missing_file" } else { "io" },
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
    let mut last: HashMap<(String, String), CheckpointLink> = HashMap::new();
    let whole = whole_checkpoint_lines(text).map_err(|e| Failure {
        class: FailureClass::Structure,
        code: "checkpoint_line",
        file: file.to_path_buf(),
        offset: match e {
            CheckpointLineError::NotTorn { line_offset, .. } => Some(line_offset as u64),
            _ => None,
        },
        stream: None,
        seq: None,
        reason: e.to_string(),
    })?;
    let mut offset = 0u64;
    for line in whole.split(|&b| b == b'\n') {
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
        let expected = match (last.get(&key), first_start(b.writer_id(), b.stream())) {
            (Some(next), _) => (b.link() != *next).then(|| next.to_string()),
            (None, Some(1) | None) => {
                (b.link() != CheckpointLink::FIRST).then(|| CheckpointLink::FIRST.to_string())
            }
            // A bundle may start after seq 1: its first checkpoint's link
            // to an earlier one cannot be checked here, only that it
            // starts where the bundle's records do.
            (None, Some(s)) => {
                (b.start_seq() != s).then(|| format!("seq {s}, where the bundle's records start"))
            }
        };
        if let Some(expected) = expected {
            return Err(fail(
                FailureClass::Integrity,
                "checkpoint_chain",
                stream,
                Some(b.start_seq()),
                format!(
                    "checkpoint of writer {:?} seq {}..={} does not continue the stream's checkpoints: it starts at {}, expected {expected}",
                    b.writer_id(),
                    b.start_seq(),
                    b.end_seq(),
                    b.link(),
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
        last.insert(key.clone(), b.next_link());
        pending
            .entry(key)
            .or_default()
            .push_back(Pending { cp, offset: at });
    }
    Ok((pending, kids))
}

/// Per stream, what the ordered pass has seen.
#[derive(Debug, Default)]
pub(crate) struct StreamStats {
    first: u64,
    count: u64,
    verified: u64,
    pending: VecDeque<Pending>,
}

/// The ordered pass: links every record, checks each checkpoint's root
/// and head when its stream reaches `end_seq`. Lookups are by `&str`, so
/// a record allocates nothing here.
pub(crate) struct Linker {
    pub(crate) chains: Chains,
    stats: HashMap<String, HashMap<String, StreamStats>>,
    checkpoints_file: PathBuf,
}

impl Linker {
    pub(crate) fn new(pending: PendingMap, checkpoints_file: PathBuf) -> Self {
        let mut stats: HashMap<String, HashMap<String, StreamStats>> = HashMap::new();
        for ((w, s), q) in pending {
            stats.entry(w).or_default().entry(s).or_default().pending = q;
        }
        Self {
            chains: Chains::new(),
            stats,
            checkpoints_file,
        }
    }

    pub(crate) fn link(&mut self, file: &Path, segment: u64, l: &Link<'_>) -> Result<(), Failure> {
        let rl = RecordLink {
            ts_ms: l.ts_ms,
            writer_id: Cow::Borrowed(&l.writer_id),
            seq: l.seq,
            stream: Cow::Borrowed(&l.stream),
            prev: l.prev,
            self_hash: l.self_hash,
        };
        self.chains.advance_leaf(&rl, l.leaf).map_err(|problem| {
            Failure::from_segment(
                file.to_path_buf(),
                &SegmentError::Link {
                    segment,
                    offset: l.offset,
                    writer_id: l.writer_id.to_string(),
                    stream: l.stream.to_string(),
                    seq: l.seq,
                    problem,
                },
            )
        })?;
        let st = match self
            .stats
            .get_mut(l.writer_id.as_ref())
            .and_then(|m| m.get_mut(l.stream.as_ref()))
        {
            Some(st) => st,
            None => self
                .stats
                .entry(l.writer_id.to_string())
                .or_default()
                .entry(l.stream.to_string())
                .or_default(),
        };
        if st.count == 0 {
            st.first = l.seq;
        }
        st.count += 1;
        let Some(front) = st.pending.front() else {
            return Ok(());
        };
        if front.cp.body.end_seq() != l.seq {
            return Ok(());
        }
        let root = self
            .chains
            .get(&l.writer_id, &l.stream)
            .and_then(|h| h.frontier.root());
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
                stream: Some(l.stream.to_string()),
                seq: Some(l.seq),
                reason,
            });
        }
        st.pending.pop_front();
        st.verified += 1;
        Ok(())
    }

    /// Checkpoints left over cover records that are not there.
    pub(crate) fn finish(&self) -> Result<(), Failure> {
        let mut left: Vec<(&str, &str, &Pending)> = self
            .stats
            .iter()
            .flat_map(|(w, m)| {
                m.iter()
                    .filter_map(move |(s, st)| Some((w.as_str(), s.as_str(), st.pending.front()?)))
            })
            .collect();
        left.sort_by_key(|(_, _, p)| p.offset);
        if let Some((w, s, p)) = left.first() {
            let have = self.chains.get(w, s).map_or(0, |h| h.seq);
            return Err(Failure {
                class: FailureClass::Integrity,
                code: "checkpoint_beyond_records",
                file: self.checkpoints_file.clone(),
                offset: Some(p.offset),
                stream: Some((*s).to_owned()),
                seq: Some(p.cp.body.end_seq()),
                reason: format!(
                    "checkpoint covers seq {} but the records end at seq {have}",
                    p.cp.body.end_seq()
                ),
            });
        }
        Ok(())
    }

    pub(crate) fn streams(&self, kids: &KidsMap) -> Vec<StreamReport> {
        let mut v: Vec<_> = self
            .chains
            .iter()
            .map(|(w, s, h)| {
                let st = self.stats.get(w).and_then(|m| m.get(s));
                StreamReport {
                    writer_id: w.to_owned(),
                    stream: s.to_owned(),
                    records: st.map_or(0, |x| x.count),
                    first_seq: st.map_or(1, |x| x.first),
                    last_seq: h.seq,
                    head: h.head,
                    checkpoints: st.map_or(0, |x| x.verified),
                    kids_seen: kids
                        .get(&(w.to_owned(), s.to_owned()))
                        .cloned()
                        .unwrap_or_default(),
                }
            })
            .collect();
        v.sort_by(|a, b| (&a.writer_id, &a.stream).cmp(&(&b.writer_id, &b.stream)));
        v
    }
}

/// Reads segments `files` in order, each one's frames checked on `threads`
/// threads, and feeds their links to `linker` in order. The last file may
/// end torn when `last_may_tear`.
pub(crate) fn scan_files(
    files: &[(u64, PathBuf)],
    threads: usize,
    last_may_tear: bool,
    linker: &mut Linker,
) -> Result<Option<(PathBuf, TornTail)>, Failure> {
    let last = files.len().saturating_sub(1);
    let mut torn = None;
    for (i, (n, path)) in files.iter().enumerate() {
        let newest = last_may_tear && i == last;
        // Mapped, the newest segment too: the verifier reads, and a writer
        // only ever appends past what was mapped (see `map_readonly`).
        let bytes = read_file(path, true).map_err(|e| io_failure(path, &e))?;
        if threads <= 1 {
            // One thread: check and link frame by frame, nothing collected.
            if let Some(t) = stream_segment(&bytes, *n, newest, path, linker)? {
                torn = Some((path.clone(), t));
            }
            continue;
        }
        if let Some(t) = pipeline_segment(&bytes, *n, newest, threads, path, linker)? {
            torn = Some((path.clone(), t));
        }
    }
    Ok(torn)
}

/// Frames per unit of parallel work.
const CHUNK: usize = 2048;

/// Chunks of frames walked and not yet claimed by a checker.
struct Queue<'a> {
    chunks: VecDeque<(usize, Vec<crate::frame::Frame<'a>>)>,
    /// No chunk will be added: the walk ended, or the segment failed.
    closed: bool,
}

/// A chunk's checked links, then the error that stopped it, if any.
type Checked<'a> = (Vec<Link<'a>>, Option<SegmentError>);

/// The next unclaimed chunk; with `wait`, waits for one until the queue
/// is closed.
fn claim<'a>(
    queue: &std::sync::Mutex<Queue<'a>>,
    more: &std::sync::Condvar,
    wait: bool,
) -> Option<(usize, Vec<crate::frame::Frame<'a>>)> {
    let mut q = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        if let Some(c) = q.chunks.pop_front() {
            return Some(c);
        }
        if q.closed || !wait {
            return None;
        }
        q = more.wait(q).unwrap_or_else(std::sync::PoisonError::into_inner);
    }
}

/// One segment on `threads` threads. This thread walks the frame
/// boundaries and hands out chunks of frames as it goes; `threads - 1`
/// workers check them (canonical bytes, digest, fields, the Merkle leaf),
/// and this thread links each chunk in order as soon as it is ready, and
/// checks chunks itself once the walk is done. The walk (which touches
/// every frame first, so it waits on memory) overlaps the checking: done
/// up front, it was a fifth of a segment's time with the other cores idle.
fn pipeline_segment(
    bytes: &[u8],
    segment: u64,
    allow_torn: bool,
    threads: usize,
    path: &Path,
    linker: &mut Linker,
) -> Result<Option<TornTail>, Failure> {
    let fail = |e: &SegmentError| Failure::from_segment(path.to_path_buf(), e);
    let mut reader = SegmentReader::new(bytes, segment).map_err(|e| fail(&e))?;
    let queue = std::sync::Mutex::new(Queue {
        chunks: VecDeque::new(),
        closed: false,
    });
    let more = std::sync::Condvar::new();
    let close = || {
        let mut q = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        q.closed = true;
        q.chunks.clear();
        drop(q);
        more.notify_all();
    };
    std::thread::scope(|s| {
        let (done_tx, done_rx) = std::sync::mpsc::channel::<(usize, Checked<'_>)>();
        for _ in 0..threads.saturating_sub(1) {
            let (queue, more, done_tx) = (&queue, &more, done_tx.clone());
            s.spawn(move || {
                while let Some((j, c)) = claim(queue, more, true) {
                    if done_tx.send((j, check_chunk(&c, segment))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let mut run = || -> Result<Option<TornTail>, Failure> {
            let (mut walked, mut linked) = (0usize, 0usize);
            let mut ready: BTreeMap<usize, Checked<'_>> = BTreeMap::new();
            // The walk so far: how the segment ended, once it has.
            let mut walk = Walk {
                frames: Vec::new(),
                torn: None,
                error: None,
            };
            let mut walking = true;
            loop {
                if walking {
                    walk.frames = Vec::with_capacity(CHUNK);
                    walking = walk_more(&mut reader, segment, allow_torn, CHUNK, &mut walk);
                    let chunk = std::mem::take(&mut walk.frames);
                    let mut q = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    if !chunk.is_empty() {
                        q.chunks.push_back((walked, chunk));
                        walked += 1;
                    }
                    q.closed = !walking;
                    drop(q);
                    more.notify_all();
                }
                ready.extend(done_rx.try_iter());
                while let Some((links, err)) = ready.remove(&linked) {
                    for l in &links {
                        linker.link(path, segment, l)?;
                    }
                    if let Some(e) = err {
                        return Err(fail(&e));
                    }
                    linked += 1;
                }
                if !walking {
                    if linked == walked {
                        break;
                    }
                    // Check a chunk nobody has claimed, or wait for one.
                    match claim(&queue, &more, false) {
                        Some((j, c)) => {
                            ready.insert(j, check_chunk(&c, segment));
                        }
                        None => match done_rx.recv() {
                            Ok((j, r)) => {
                                ready.insert(j, r);
                            }
                            // Every worker is gone (one panicked): the
                            // scope rethrows its panic.
                            Err(_) => break,
                        },
                    }
                }
            }
            match walk.error {
                Some(e) => Err(fail(&e)),
                None => Ok(walk.torn),
            }
        };
        let outcome = run();
        close();
        outcome
    })
}

/// Checks and links one segment's frames in order on this thread.
fn stream_segment(
    bytes: &[u8],
    segment: u64,
    allow_torn: bool,
    path: &Path,
    linker: &mut Linker,
) -> Result<Option<TornTail>, Failure> {
    let fail = |e: &SegmentError| Failure::from_segment(path.to_path_buf(), e);
    let limits = Limits::default();
    let mut r = SegmentReader::new(bytes, segment).map_err(|e| fail(&e))?;
    loop {
        match r.next_step().map_err(|e| fail(&e))? {
            Step::End => return Ok(None),
            Step::Torn(t) if allow_torn => return Ok(Some(t)),
            Step::Torn(t) => {
                return Err(fail(&SegmentError::Trailing {
                    segment,
                    offset: t.offset,
                    len: t.len,
                }));
            }
            Step::Frame(f) => {
                let l = frame_link(&f, segment, &limits).map_err(|e| fail(&e))?;
                linker.link(path, segment, &l)?;
            }
        }
    }
}

/// Verifies a WAL directory: its segments, in order, and its
/// `checkpoints.jsonl` if there is one.
pub fn verify_wal_dir(dir: &Path, opts: &VerifyOptions) -> Report {
    let mut report = Report {
        signatures_checked: !opts.trust.is_empty(),
        ..Report::default()
    };
    if let Err(f) = verify_wal_inner(dir, opts, &mut report) {
        report.failure = Some(f);
    }
    report
}

fn verify_wal_inner(dir: &Path, opts: &VerifyOptions, report: &mut Report) -> Result<(), Failure> {
    let files =
        crate::listing::list_numbered(dir, crate::listing::NumberedFiles::Segments).map_err(|f| *f)?;
    let cp_path = dir.join(CHECKPOINTS_FILE);
    let (pending, kids) = match std::fs::read(&cp_path) {
        Ok(text) => read_checkpoints(&cp_path, &text, &opts.trust, &|_, _| Some(1))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
        Err(e) => return Err(io_failure(&cp_path, &e)),
    };
    let mut linker = Linker::new(pending, cp_path);
    let outcome = scan_files(&files, opts.threads(), true, &mut linker);
    report.streams = linker.streams(&kids);
    report.torn = outcome?;
    linker.finish()
}
