//! [`WalSink`]: the durable [`AuditSink`], with group commit.
//!
//! Appenders queue their frames under a short lock; whichever appender
//! finds no write in progress becomes the writer for everything queued at
//! that moment: one `write`, one `fdatasync` (policy `always`), then it
//! acknowledges the whole group. A lone appender writes its own frame
//! without a thread hand-off; under load, groups grow with concurrency.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use audit_canon::{Digest, PrevHash, RecordLink};
use audit_chain::{AuditSink, AuditStream, ChainState, FsyncPolicy, SealedRecord, SinkError};
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
/// records of its group, and the sink keeps working.
pub struct WalSink {
    fs: Arc<dyn Vfs>,
    dir: PathBuf,
    opts: WalOptions,
    state: Mutex<State>,
    done: Condvar,
    io: Mutex<Io>,
    _lock: Box<dyn DirLock>,
}

impl std::fmt::Debug for WalSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalSink")
            .field("dir", &self.dir)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

/// Under `state`: the queue, the tentative heads, the acknowledged state.
struct State {
    /// Frames queued for the next group, back to back.
    queued: Vec<u8>,
    queued_meta: Vec<Queued>,
    next_ticket: u64,
    /// Every ticket up to this one is finished (written, or failed).
    done_through: u64,
    failures: HashMap<u64, SinkError>,
    /// A writer is working on a group.
    writing: bool,
    /// Heads including queued and in-flight records.
    tentative: HashMap<String, HashMap<String, Tentative>>,
    /// Heads of written records: what `chain_state` reports.
    chains: Chains,
    /// Where written frames end: (segment, length).
    end: (u64, u64),
    poisoned: Option<String>,
    closed: bool,
}

#[derive(Clone, Copy)]
struct Tentative {
    seq: u64,
    head: Digest,
    ticket: u64,
}

struct Queued {
    ticket: u64,
    record: SealedRecord,
    /// Frame length in bytes.
    len: usize,
}

/// Under `io`: the open segment. Only the current writer holds it long.
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
        let mut tentative: HashMap<String, HashMap<String, Tentative>> = HashMap::new();
        for (w, s, h) in r.chains.iter() {
            tentative.entry(w.to_owned()).or_default().insert(
                s.to_owned(),
                Tentative {
                    seq: h.seq,
                    head: h.head,
                    ticket: 0,
                },
            );
        }
        let sink = Self {
            fs,
            opts,
            state: Mutex::new(State {
                queued: Vec::new(),
                queued_meta: Vec::new(),
                next_ticket: 1,
                done_through: 0,
                failures: HashMap::new(),
                writing: false,
                tentative,
                end: (r.writer.number(), r.writer.len()),
                chains: r.chains,
                poisoned: None,
                closed: false,
            }),
            done: Condvar::new(),
            io: Mutex::new(Io { seg: r.writer }),
            _lock: r.lock,
            dir,
        };
        Ok((sink, r.report))
    }

    /// The WAL directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file layer.
    pub(crate) fn fs(&self) -> &dyn Vfs {
        &*self.fs
    }

    /// The newest segment's number and the end of its written frames.
    pub fn end(&self) -> (u64, u64) {
        self.lock_state().end
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_io(&self) -> MutexGuard<'_, Io> {
        self.io.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn refuse(st: &State) -> Result<(), SinkError> {
        if st.closed {
            return Err(SinkError::Closed);
        }
        if let Some(why) = &st.poisoned {
            return Err(SinkError::Poisoned(why.clone()));
        }
        Ok(())
    }

    /// Waits until `ticket` is finished; becomes the writer when nobody is.
    fn wait<'a>(&'a self, mut st: MutexGuard<'a, State>, ticket: u64) -> MutexGuard<'a, State> {
        while st.done_through < ticket {
            if st.writing {
                st = self.done.wait(st).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            st.writing = true;
            let bytes = std::mem::take(&mut st.queued);
            let group = std::mem::take(&mut st.queued_meta);
            drop(st);
            let mut io = self.lock_io();
            let outcome = self.write_group(&mut io, &bytes, &group);
            drop(io);
            st = self.lock_state();
            self.finish_group(&mut st, &group, outcome);
            st.writing = false;
            self.done.notify_all();
        }
        st
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
            let mut st = self.lock_state();
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
        let path = io.seg.path();
        if let Err((e, clean)) = io.seg.append(part, frames) {
            let msg = io_error("write", &path, &e);
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
        let mut st = self.lock_state();
        st.poisoned.get_or_insert(why.clone());
        SinkError::Poisoned(why)
    }

    /// Seals the open segment (sync, index) and starts the next one.
    fn rotate(&self, io: &mut Io) -> Result<(), SinkError> {
        let durable = self.opts.fsync != FsyncPolicy::Never;
        if durable {
            self.sync(io)?;
        }
        let chains = self.lock_state().chains.clone();
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
        self.lock_state().end = (io.seg.number(), io.seg.len());
        Ok(())
    }

    /// Publishes a group's outcome. On failure, every record queued since
    /// fails too (it may link to a failed one) and the tentative heads fall
    /// back to the written ones.
    fn finish_group(&self, st: &mut State, group: &[Queued], (written, err): (usize, Option<SinkError>)) {
        let Some(last) = group.last() else { return };
        st.done_through = last.ticket;
        let Some(err) = err else { return };
        for q in group.iter().skip(written) {
            st.failures.insert(q.ticket, err.clone());
        }
        for q in std::mem::take(&mut st.queued_meta) {
            st.failures.insert(q.ticket, err.clone());
            st.done_through = q.ticket;
        }
        st.queued.clear();
        let mut tentative: HashMap<String, HashMap<String, Tentative>> = HashMap::new();
        for (w, s, h) in st.chains.iter() {
            tentative.entry(w.to_owned()).or_default().insert(
                s.to_owned(),
                Tentative {
                    seq: h.seq,
                    head: h.head,
                    ticket: 0,
                },
            );
        }
        st.tentative = tentative;
    }

    /// Syncs and writes the open segment's index (a clean close opens
    /// without scanning it).
    fn seal_open_segment(&self, io: &mut Io) -> Result<(), SinkError> {
        if self.opts.fsync == FsyncPolicy::Never {
            return Ok(());
        }
        self.sync(io)?;
        let chains = self.lock_state().chains.clone();
        io.seg
            .write_index(&chains, true)
            .map_err(|e| SinkError::Io(io_error("write index in", &self.dir, &e)))
    }
}

impl AuditSink for WalSink {
    fn append(&self, record: &SealedRecord) -> Result<Digest, SinkError> {
        let r = record.record();
        let mut frame = Vec::with_capacity(audit_verify::FRAME_OVERHEAD + record.canonical().len());
        encode_frame(&mut frame, 1, r.seq(), record.canonical(), record.self_hash())
            .map_err(|e| SinkError::Io(e.to_string()))?;
        let mut st = self.lock_state();
        loop {
            Self::refuse(&st)?;
            let cur = st
                .tentative
                .get(r.writer_id())
                .and_then(|m| m.get(r.stream()))
                .copied();
            match cur {
                Some(t) if t.head == *record.self_hash() => {
                    if t.ticket <= st.done_through {
                        return Ok(t.head);
                    }
                    // The same record is in flight: wait for it, then look again.
                    st = self.wait(st, t.ticket);
                    continue;
                }
                Some(t) if r.seq() == t.seq.wrapping_add(1) && *r.prev() == PrevHash::Digest(t.head) => {}
                None if r.seq() == 1 && r.prev().is_genesis() => {}
                _ => {
                    return Err(SinkError::OutOfOrder {
                        stream: r.stream().to_owned(),
                        seq: r.seq(),
                        head_seq: cur.map_or(0, |t| t.seq),
                    });
                }
            }
            break;
        }
        let ticket = st.next_ticket;
        st.next_ticket += 1;
        st.queued.extend_from_slice(&frame);
        st.queued_meta.push(Queued {
            ticket,
            record: record.clone(),
            len: frame.len(),
        });
        st.tentative.entry(r.writer_id().to_owned()).or_default().insert(
            r.stream().to_owned(),
            Tentative {
                seq: r.seq(),
                head: *record.self_hash(),
                ticket,
            },
        );
        let mut st = self.wait(st, ticket);
        match st.failures.remove(&ticket) {
            Some(e) => Err(e),
            None => Ok(*record.self_hash()),
        }
    }

    fn flush(&self) -> Result<(), SinkError> {
        Self::refuse(&self.lock_state())?;
        if self.opts.fsync == FsyncPolicy::Never {
            return Ok(());
        }
        let mut io = self.lock_io();
        self.sync(&mut io)
    }

    fn close(&self) -> Result<(), SinkError> {
        {
            let mut st = self.lock_state();
            if st.closed {
                return Ok(());
            }
            st.closed = true;
            // Appends already queued still get written by their waiters.
        }
        let mut st = self.lock_state();
        loop {
            let last = st.next_ticket - 1;
            if st.done_through >= last && !st.writing {
                break;
            }
            st = if st.writing {
                self.done.wait(st).unwrap_or_else(PoisonError::into_inner)
            } else {
                self.wait(st, last)
            };
        }
        if let Some(why) = &st.poisoned {
            return Err(SinkError::Poisoned(why.clone()));
        }
        drop(st);
        let mut io = self.lock_io();
        self.seal_open_segment(&mut io)
    }
}

impl AuditStream for WalSink {
    fn chain_state(&self, writer_id: &str, stream: &str) -> Option<ChainState> {
        let st = self.lock_state();
        let h = st.chains.get(writer_id, stream)?;
        ChainState::from_parts(h.seq, PrevHash::Digest(h.head), h.frontier.clone()).ok()
    }

    fn streams(&self) -> Vec<(String, String)> {
        let st = self.lock_state();
        let mut v: Vec<_> = st
            .chains
            .iter()
            .map(|(w, s, _)| (w.to_owned(), s.to_owned()))
            .collect();
        v.sort();
        v
    }
}
