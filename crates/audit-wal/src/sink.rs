//! [`WalSink`]: the durable [`AuditSink`], with group commit.
//!
//! One writer thread drains everything queued into one `write` and (policy
//! `always`) one `fdatasync`, then acknowledges the whole group with one
//! wake-up, so durable throughput grows with the number of appenders. An
//! appender that finds the writer idle, nothing queued and the last group a
//! single record writes its own frame on its own thread instead: a lone
//! appender pays no thread hand-off. Either way one thread at a time
//! writes (the `io` lock). `append_begin` always queues and returns at
//! once, so one caller can put several records, even of one stream, into
//! one group before it waits.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

use audit_canon::{Digest, PrevHash, RecordLink};
use audit_chain::{AppendTicket, AuditSink, AuditStream, ChainState, FsyncPolicy, SealedRecord, SinkError};
use audit_verify::{Chains, SEGMENT_HEADER_LEN, encode_frame};

use crate::error::{OpenError, Recovery};
use crate::fs::{DirLock, OsFs, Vfs};
use crate::recover::recover;
use crate::telemetry;
use crate::writer::SegmentWriter;

/// How a [`WalSink`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOptions {
    /// A segment is sealed and a new one started before a frame would take
    /// it past this many bytes (a single larger frame still gets a segment).
    pub rotate_bytes: u64,
    /// When appends are synced.
    pub fsync: FsyncPolicy,
}

impl WalOptions {
    /// The WAL settings of a host's configuration (`wal.rotate_bytes`,
    /// `wal.fsync`; `wal.dir` is the directory to open).
    pub fn from_config(cfg: &audit_chain::AuditConfig) -> Self {
        Self {
            rotate_bytes: cfg.wal_rotate_bytes,
            fsync: cfg.wal_fsync,
        }
    }
}

impl Default for WalOptions {
    fn default() -> Self {
        Self {
            rotate_bytes: 128 << 20,
            fsync: FsyncPolicy::OnCheckpoint,
        }
    }
}

/// The durable sink: append-only segment files in one directory.
///
/// - `always`: [`AuditSink::append`] returns after an `fdatasync` covers
///   the record (group commit).
/// - `on_checkpoint`: `append` returns once the record is written to the
///   file (it survives the process, not a power cut); [`AuditSink::flush`]
///   syncs, and a checkpointer calls it before it commits to the records.
/// - `never` (tests): no syncs at all.
///
/// After a failed `fdatasync` the sink refuses every write
/// ([`SinkError::Poisoned`]) until reopened, since what the disk holds is
/// then unknown. A failed write (`ENOSPC`, `EIO`) is cut back, fails the
/// records of its group (and any queued behind them), and the sink keeps
/// working.
pub struct WalSink {
    inner: Arc<Inner>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for WalSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalSink")
            .field("dir", &self.inner.dir)
            .field("opts", &self.inner.opts)
            .finish_non_exhaustive()
    }
}

struct Inner {
    fs: Arc<dyn Vfs>,
    dir: PathBuf,
    opts: WalOptions,
    state: Mutex<State>,
    /// The writer thread waits here for work.
    work: Condvar,
    /// `close` waits here for the last group.
    idle: Condvar,
    io: Mutex<Io>,
    _lock: Box<dyn DirLock>,
}

/// Under `state`: the queue, the tentative heads, the acknowledged state.
struct State {
    /// Frames queued for the next group, back to back.
    queued: Vec<u8>,
    queued_meta: Vec<Queued>,
    /// The group the queued frames will be written in.
    open: Arc<Group>,
    /// Records in the last group written (1: appenders are not contending).
    last_group: usize,
    /// A group is being written (by the writer thread or an appender).
    writing: bool,
    /// Heads including queued and in-flight records.
    tentative: HashMap<String, HashMap<String, Tentative>>,
    /// Heads of written records: what `chain_state` reports.
    chains: Chains,
    /// Where written frames end: (segment, length).
    end: (u64, u64),
    poisoned: Option<String>,
    closed: bool,
    /// The writer thread should exit once the queue is empty.
    stop: bool,
    /// Threads waiting on `idle` (only `close`). A condvar notify is a
    /// system call even when nobody waits, so appends skip it then.
    idle_waiters: usize,
}

#[derive(Clone)]
struct Tentative {
    seq: u64,
    head: Digest,
    /// The record's group and place in it while it is queued or written.
    pending: Option<(Arc<Group>, usize)>,
}

/// One group commit: its appenders park here until it is written.
///
/// No mutex is held on the way out, and the writer wakes one appender
/// only: appender `i` (in the order they parked) wakes `2i + 1` and
/// `2i + 2`, so a large group wakes as a tree, in parallel, while the
/// writer already writes the next group.
#[derive(Default)]
struct Group {
    /// How many of its records were written, and what stopped the rest.
    outcome: OnceLock<(usize, Option<SinkError>)>,
    waiters: Mutex<Vec<std::thread::Thread>>,
}

impl Group {
    fn set(&self, written: usize, err: Option<SinkError>) {
        let _ = self.outcome.set((written, err));
        self.wake_children_of(None);
    }

    /// Unparks the root (`None`) or the two children of waiter `i`.
    fn wake_children_of(&self, i: Option<usize>) {
        let range = match i {
            None => 0..1,
            Some(i) => 2 * i + 1..2 * i + 3,
        };
        let wake: Vec<_> = {
            let w = lock(&self.waiters);
            let end = range.end.min(w.len());
            w.get(range.start.min(end)..end)
                .map(<[_]>::to_vec)
                .unwrap_or_default()
        };
        for t in wake {
            t.unpark();
        }
    }

    /// The outcome of the record at `index`, whose digest is `hash`.
    fn wait(&self, index: usize, hash: Digest) -> Result<Digest, SinkError> {
        let me = {
            let mut w = lock(&self.waiters);
            w.push(std::thread::current());
            w.len() - 1
        };
        loop {
            if let Some((written, err)) = self.outcome.get() {
                self.wake_children_of(Some(me));
                return if index < *written {
                    Ok(hash)
                } else {
                    Err(err.clone().unwrap_or(SinkError::Closed))
                };
            }
            // Spurious returns are fine: the loop checks again.
            std::thread::park();
        }
    }
}

struct Queued {
    record: SealedRecord,
    /// Frame length in bytes.
    len: usize,
}

/// Under `io`: the open segment. Only the thread writing a group holds it long.
struct Io {
    seg: SegmentWriter,
}

fn link_of(r: &SealedRecord) -> RecordLink<'_> {
    let rec = r.record();
    RecordLink {
        ts_ms: rec.ts_ms(),
        writer_id: Cow::Borrowed(rec.writer_id()),
        seq: rec.seq(),
        stream: Cow::Borrowed(rec.stream()),
        prev: *rec.prev(),
        self_hash: *r.self_hash(),
    }
}

fn io_error(op: &str, path: &Path, e: &std::io::Error) -> String {
    format!("{op} {}: {e}", path.display())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Takes the queued frames as the next group and marks a write running.
fn take_queue(st: &mut State) -> (Vec<u8>, Vec<Queued>, Arc<Group>) {
    st.writing = true;
    (
        std::mem::take(&mut st.queued),
        std::mem::take(&mut st.queued_meta),
        std::mem::take(&mut st.open),
    )
}

fn set_pending(st: &mut State, record: &SealedRecord, at: (Arc<Group>, usize)) {
    let r = record.record();
    let t = Tentative {
        seq: r.seq(),
        head: *record.self_hash(),
        pending: Some(at),
    };
    // Allocate the keys only for a stream's first record.
    match st
        .tentative
        .get_mut(r.writer_id())
        .and_then(|m| m.get_mut(r.stream()))
    {
        Some(slot) => *slot = t,
        None => {
            st.tentative
                .entry(r.writer_id().to_owned())
                .or_default()
                .insert(r.stream().to_owned(), t);
        }
    }
}

fn tentative_of(chains: &Chains) -> HashMap<String, HashMap<String, Tentative>> {
    let mut t: HashMap<String, HashMap<String, Tentative>> = HashMap::new();
    for (w, s, h) in chains.iter() {
        t.entry(w.to_owned()).or_default().insert(
            s.to_owned(),
            Tentative {
                seq: h.seq,
                head: h.head,
                pending: None,
            },
        );
    }
    t
}

impl WalSink {
    /// Opens (or creates) the WAL in `dir` on the real filesystem and
    /// recovers it (see [`Recovery`]).
    pub fn open(dir: impl AsRef<Path>, opts: WalOptions) -> Result<(Self, Recovery), OpenError> {
        Self::open_on(Arc::new(OsFs), dir, opts)
    }

    /// [`WalSink::open`] on another file layer (tests run every scenario on
    /// `MemFs` as well).
    pub fn open_on(
        fs: Arc<dyn Vfs>,
        dir: impl AsRef<Path>,
        opts: WalOptions,
    ) -> Result<(Self, Recovery), OpenError> {
        let dir = dir.as_ref().to_path_buf();
        let durable = opts.fsync != FsyncPolicy::Never;
        let r = recover(fs.clone(), &dir, durable)?;
        let inner = Arc::new(Inner {
            fs,
            opts,
            state: Mutex::new(State {
                queued: Vec::new(),
                queued_meta: Vec::new(),
                open: Arc::new(Group::default()),
                last_group: 1,
                writing: false,
                tentative: tentative_of(&r.chains),
                end: (r.writer.number(), r.writer.len()),
                chains: r.chains,
                poisoned: None,
                closed: false,
                stop: false,
                idle_waiters: 0,
            }),
            work: Condvar::new(),
            idle: Condvar::new(),
            io: Mutex::new(Io { seg: r.writer }),
            _lock: r.lock,
            dir: dir.clone(),
        });
        let w = inner.clone();
        let writer = std::thread::Builder::new()
            .name("audit-wal-writer".into())
            .spawn(move || w.writer_loop())
            .map_err(|source| OpenError::Io {
                path: dir,
                op: "start the writer thread",
                source,
            })?;
        Ok((
            Self {
                inner,
                writer: Some(writer),
            },
            r.report,
        ))
    }

    /// The WAL directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The file layer.
    pub(crate) fn fs(&self) -> &dyn Vfs {
        &*self.inner.fs
    }

    /// The newest segment's number and the end of its written frames.
    pub fn end(&self) -> (u64, u64) {
        lock(&self.inner.state).end
    }
}

impl Drop for WalSink {
    fn drop(&mut self) {
        lock(&self.inner.state).stop = true;
        self.inner.work.notify_all();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

impl Inner {
    fn refuse(st: &State) -> Result<(), SinkError> {
        if st.closed {
            return Err(SinkError::Closed);
        }
        if let Some(why) = &st.poisoned {
            return Err(SinkError::Poisoned(why.clone()));
        }
        Ok(())
    }

    /// The writer thread: drains the queue, group after group. It takes
    /// the next group before it wakes the last one's appenders, so the next
    /// `write` starts while they run.
    fn writer_loop(&self) {
        let mut st = lock(&self.state);
        loop {
            if st.writing || st.queued_meta.is_empty() {
                if st.stop && !st.writing && st.queued_meta.is_empty() {
                    return;
                }
                st = self.work.wait(st).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            let mut job = take_queue(&mut st);
            drop(st);
            loop {
                let (bytes, group, g) = job;
                let (mut s, written, err) = self.commit_group(&bytes, &group, &g);
                let next = if s.queued_meta.is_empty() {
                    s.writing = false;
                    if s.idle_waiters > 0 {
                        self.idle.notify_all();
                    }
                    None
                } else {
                    Some(take_queue(&mut s))
                };
                drop(s);
                g.set(written, err);
                match next {
                    Some(n) => job = n,
                    None => break,
                }
            }
            st = lock(&self.state);
        }
    }

    /// Writes a group (`writing` is set) and publishes what was written
    /// under the state lock, which it returns still held, `writing` still
    /// set. The group's appenders are not woken yet.
    fn commit_group(
        &self,
        bytes: &[u8],
        group: &[Queued],
        g: &Arc<Group>,
    ) -> (MutexGuard<'_, State>, usize, Option<SinkError>) {
        let (written, err) = {
            let mut io = lock(&self.io);
            self.write_group(&mut io, bytes, group)
        };
        let mut st = lock(&self.state);
        for q in group {
            let r = q.record.record();
            if let Some(t) = st
                .tentative
                .get_mut(r.writer_id())
                .and_then(|m| m.get_mut(r.stream()))
                && t.pending.as_ref().is_some_and(|(p, _)| Arc::ptr_eq(p, g))
            {
                t.pending = None;
            }
        }
        if let Some(e) = &err {
            // Everything queued since may link to a failed record: it fails
            // too, and the heads fall back to the written ones.
            std::mem::take(&mut st.open).set(0, Some(e.clone()));
            st.queued_meta.clear();
            st.queued.clear();
            st.tentative = tentative_of(&st.chains);
        }
        st.last_group = group.len();
        (st, written, err)
    }

    /// An appender writes its own frame as a one-record group (nothing was
    /// queued and nobody was writing; `writing` is set by the caller).
    fn write_own(&self, frame: &[u8], q: Queued, g: &Arc<Group>) {
        let (mut st, written, err) = self.commit_group(frame, std::slice::from_ref(&q), g);
        st.writing = false;
        if !st.queued_meta.is_empty() {
            self.work.notify_one();
        }
        if st.idle_waiters > 0 {
            self.idle.notify_all();
        }
        drop(st);
        g.set(written, err);
    }

    /// Writes one group (rotating segments as needed). Returns how many of
    /// its records were written, and the error that stopped the rest.
    fn write_group(&self, io: &mut Io, bytes: &[u8], group: &[Queued]) -> (usize, Option<SinkError>) {
        if group.is_empty() {
            return (0, None);
        }
        metrics::histogram!(telemetry::GROUP_RECORDS).record(group.len() as f64);
        let mut written = 0;
        let mut at = 0;
        while written < group.len() {
            // The longest run of frames that fits the segment; at least one
            // frame when the segment is empty.
            let mut n = 0;
            let mut len = 0usize;
            for q in group.iter().skip(written) {
                let fits = io.seg.len() + (len + q.len) as u64 <= self.opts.rotate_bytes;
                if !fits && (n > 0 || io.seg.len() > SEGMENT_HEADER_LEN as u64) {
                    break;
                }
                n += 1;
                len += q.len;
            }
            if n == 0 {
                if let Err(e) = self.rotate(io) {
                    return (written, Some(e));
                }
                continue;
            }
            let part = bytes.get(at..at + len).unwrap_or_default();
            if let Err(e) = self.write_part(io, part, n as u64) {
                return (written, Some(e));
            }
            let mut st = lock(&self.state);
            for q in group.iter().skip(written).take(n) {
                // Cannot fail: the tentative check admitted it in order.
                let _ = st.chains.advance(&link_of(&q.record));
            }
            st.end = (io.seg.number(), io.seg.len());
            drop(st);
            written += n;
            at += len;
        }
        (written, None)
    }

    fn write_part(&self, io: &mut Io, part: &[u8], frames: u64) -> Result<(), SinkError> {
        if let Err((e, clean)) = io.seg.append(part, frames) {
            let msg = io_error("write", &io.seg.path(), &e);
            if !clean {
                return Err(self.poison(format!("{msg}; cutting the partial write back failed too")));
            }
            return Err(if e.kind() == std::io::ErrorKind::StorageFull {
                SinkError::NoSpace(msg)
            } else {
                SinkError::Io(msg)
            });
        }
        if self.opts.fsync == FsyncPolicy::Always {
            self.sync(io)?;
        }
        Ok(())
    }

    fn sync(&self, io: &mut Io) -> Result<(), SinkError> {
        let t = Instant::now();
        let r = io.seg.sync();
        metrics::histogram!(telemetry::FSYNC_SECONDS).record(t.elapsed().as_secs_f64());
        r.map_err(|e| self.poison(io_error("fdatasync", &io.seg.path(), &e)))
    }

    /// Marks the sink failed for good (until reopened) and returns the error.
    fn poison(&self, why: String) -> SinkError {
        tracing::error!(name: "audit.wal.poisoned", error = %why, "wal refuses writes until reopened");
        let mut st = lock(&self.state);
        st.poisoned.get_or_insert(why.clone());
        SinkError::Poisoned(why)
    }

    /// Seals the open segment (sync, index) and starts the next one.
    fn rotate(&self, io: &mut Io) -> Result<(), SinkError> {
        let durable = self.opts.fsync != FsyncPolicy::Never;
        if durable {
            self.sync(io)?;
        }
        let chains = lock(&self.state).chains.clone();
        let classify = |op: &str, e: std::io::Error| {
            let msg = io_error(op, &self.dir, &e);
            if e.kind() == std::io::ErrorKind::StorageFull {
                SinkError::NoSpace(msg)
            } else {
                self.poison(msg)
            }
        };
        io.seg
            .write_index(&chains, durable)
            .map_err(|e| classify("write index in", e))?;
        let next = SegmentWriter::create(self.fs.clone(), &self.dir, io.seg.number() + 1, durable)
            .map_err(|e| classify("create segment in", e))?;
        io.seg = next;
        lock(&self.state).end = (io.seg.number(), io.seg.len());
        Ok(())
    }

    /// Syncs and writes the open segment's index (a clean close opens
    /// without scanning it).
    fn seal_open_segment(&self, io: &mut Io) -> Result<(), SinkError> {
        if self.opts.fsync == FsyncPolicy::Never {
            return Ok(());
        }
        self.sync(io)?;
        let chains = lock(&self.state).chains.clone();
        io.seg
            .write_index(&chains, true)
            .map_err(|e| SinkError::Io(io_error("write index in", &self.dir, &e)))
    }
}

impl WalSink {
    /// Checks that `record` follows its stream's head (counting queued and
    /// in-flight records), then writes it here (`on_the_spot`, when nobody
    /// writes, nobody waits and nobody did) or queues it for the writer
    /// thread. Returns where to wait for its outcome.
    fn hand_over(&self, record: &SealedRecord, on_the_spot: bool) -> Result<Handed, SinkError> {
        let inner = &*self.inner;
        let r = record.record();
        let mut frame = Vec::with_capacity(audit_verify::FRAME_OVERHEAD + record.canonical().len());
        encode_frame(&mut frame, 1, r.seq(), record.canonical(), record.self_hash())
            .map_err(|e| SinkError::Io(e.to_string()))?;
        let mut st = lock(&inner.state);
        loop {
            Inner::refuse(&st)?;
            let cur = st
                .tentative
                .get(r.writer_id())
                .and_then(|m| m.get(r.stream()))
                .cloned();
            match cur {
                Some(t) if t.head == *record.self_hash() => match t.pending {
                    None => return Ok(Handed::Done(t.head)),
                    Some((g, i)) => {
                        // The same record is in flight: wait, then look again.
                        drop(st);
                        let _ = g.wait(i, t.head);
                        st = lock(&inner.state);
                        continue;
                    }
                },
                Some(t) if r.seq() == t.seq.wrapping_add(1) && *r.prev() == PrevHash::Digest(t.head) => break,
                None if r.seq() == 1 && r.prev().is_genesis() => break,
                _ => {
                    return Err(SinkError::OutOfOrder {
                        stream: r.stream().to_owned(),
                        seq: r.seq(),
                        head_seq: cur.map_or(0, |t| t.seq),
                    });
                }
            }
        }
        let hash = *record.self_hash();
        let q = Queued {
            record: record.clone(),
            len: frame.len(),
        };
        let (g, index) = if on_the_spot && !st.writing && st.queued_meta.is_empty() && st.last_group <= 1 {
            // Nobody writes, nobody waits, nobody did: write it here.
            let g = Arc::new(Group::default());
            set_pending(&mut st, record, (g.clone(), 0));
            st.writing = true;
            drop(st);
            inner.write_own(&frame, q, &g);
            (g, 0)
        } else {
            let pos = (st.open.clone(), st.queued_meta.len());
            set_pending(&mut st, record, pos.clone());
            st.queued.extend_from_slice(&frame);
            st.queued_meta.push(q);
            if !st.writing {
                inner.work.notify_one();
            }
            drop(st);
            pos
        };
        Ok(Handed::InGroup(g, index, hash))
    }
}

/// Where a handed-over record's outcome is: known already (the record was
/// the head), or in its group.
enum Handed {
    Done(Digest),
    InGroup(Arc<Group>, usize, Digest),
}

impl Handed {
    fn wait(self) -> Result<Digest, SinkError> {
        match self {
            Self::Done(head) => Ok(head),
            Self::InGroup(g, index, hash) => g.wait(index, hash),
        }
    }
}

impl AuditSink for WalSink {
    /// A lone appender writes its own frame (no hand-off to the writer
    /// thread); with others appending, its frame joins their group.
    fn append(&self, record: &SealedRecord) -> Result<Digest, SinkError> {
        self.hand_over(record, true)?.wait()
    }

    /// Queues the frame for the writer thread and returns at once, so one
    /// caller can hand over several records for one group; the ticket
    /// waits for the group's write and, under `always`, its `fdatasync`.
    fn append_begin(&self, record: &SealedRecord) -> Result<AppendTicket, SinkError> {
        Ok(match self.hand_over(record, false)? {
            Handed::Done(head) => AppendTicket::ready(Ok(head)),
            pending => AppendTicket::waiting(move || pending.wait()),
        })
    }

    fn flush(&self) -> Result<(), SinkError> {
        let inner = &*self.inner;
        Inner::refuse(&lock(&inner.state))?;
        if inner.opts.fsync == FsyncPolicy::Never {
            return Ok(());
        }
        // Every append that returned is written. The sync runs on its own
        // descriptor outside the I/O lock, so appends go on meanwhile (a
        // rotation in between syncs the segment it seals itself).
        let (syncer, path) = {
            let io = lock(&inner.io);
            (io.seg.syncer(), io.seg.path())
        };
        let syncer = syncer.map_err(|e| SinkError::Io(io_error("dup", &path, &e)))?;
        let t = Instant::now();
        let r = syncer.sync_data();
        metrics::histogram!(telemetry::FSYNC_SECONDS).record(t.elapsed().as_secs_f64());
        r.map_err(|e| inner.poison(io_error("fdatasync", &path, &e)))
    }

    fn close(&self) -> Result<(), SinkError> {
        let inner = &*self.inner;
        let mut st = lock(&inner.state);
        if st.closed {
            return Ok(());
        }
        // Refuse new appends; let queued ones finish.
        st.closed = true;
        while st.writing || !st.queued_meta.is_empty() {
            inner.work.notify_one();
            st.idle_waiters += 1;
            st = inner.idle.wait(st).unwrap_or_else(PoisonError::into_inner);
            st.idle_waiters -= 1;
        }
        if let Some(why) = &st.poisoned {
            return Err(SinkError::Poisoned(why.clone()));
        }
        drop(st);
        let mut io = lock(&inner.io);
        inner.seal_open_segment(&mut io)
    }
}

impl AuditStream for WalSink {
    fn chain_state(&self, writer_id: &str, stream: &str) -> Option<ChainState> {
        let st = lock(&self.inner.state);
        let h = st.chains.get(writer_id, stream)?;
        ChainState::from_parts(h.seq, PrevHash::Digest(h.head), h.frontier.clone()).ok()
    }

    fn streams(&self) -> Vec<(String, String)> {
        let st = lock(&self.inner.state);
        let mut v: Vec<_> = st
            .chains
            .iter()
            .map(|(w, s, _)| (w.to_owned(), s.to_owned()))
            .collect();
        v.sort();
        v
    }
}
