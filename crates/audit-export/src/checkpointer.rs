//! The checkpointer: per stream, a signed checkpoint over everything the
//! WAL holds, chained to the stream's previous one, appended to
//! `checkpoints.jsonl` and synced, on demand or on cadence.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use audit_canon::{CheckpointBody, CheckpointError, CheckpointLink, PrevHash};
use audit_chain::{AuditSink, AuditStream, EmitError, Emitter, Event, SinkError};
use audit_verify::{CheckpointLineError, CheckpointSig, SignedCheckpoint, whole_checkpoint_lines};
use audit_wal::WalSink;

use crate::signer::{SignError, Signer};

/// The file of a WAL directory that holds its signed checkpoints.
pub const CHECKPOINTS_FILE: &str = audit_verify::CHECKPOINTS_FILE;

/// When a stream is due for a checkpoint: after `every_records` new
/// records or `every` since its last checkpoint, whichever comes first
/// (config `export.checkpoint_every`, `export.export_every`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// New records that make a stream due.
    pub every_records: u64,
    /// Time that makes a stream with new records due.
    pub every: Duration,
}

impl Default for Cadence {
    fn default() -> Self {
        Self {
            every_records: 50_000,
            every: Duration::from_secs(15 * 60),
        }
    }
}

impl Cadence {
    /// The cadence of a host's configuration.
    pub fn from_config(cfg: &audit_chain::AuditConfig) -> Self {
        Self {
            every_records: cfg.checkpoint_every,
            every: cfg.export_every,
        }
    }
}

/// Where a stream's checkpoints stand.
#[derive(Debug, Clone)]
struct Last {
    /// The link the stream's next checkpoint must have.
    next: CheckpointLink,
    /// The kids that signed the latest checkpoint.
    kids: Vec<String>,
    at: Instant,
}

impl Last {
    fn after(cp: &SignedCheckpoint) -> Self {
        Self {
            next: cp.body.next_link(),
            kids: cp.sigs.iter().map(|s| s.kid.clone()).collect(),
            at: Instant::now(),
        }
    }

    /// The last seq the stream's checkpoints cover.
    fn end_seq(&self) -> u64 {
        self.next.start_seq - 1
    }
}

/// Signs checkpoints of the streams of one WAL.
pub struct Checkpointer {
    wal: Arc<WalSink>,
    path: PathBuf,
    signers: RwLock<Vec<Arc<dyn Signer>>>,
    cadence: Cadence,
    state: Mutex<State>,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

struct State {
    file: std::fs::File,
    len: u64,
    last: HashMap<(String, String), Last>,
}

/// What opening `checkpoints.jsonl` found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckpointsRecovery {
    /// Checkpoints read.
    pub checkpoints: usize,
    /// Bytes of an incomplete last line (a crash while appending) that
    /// were cut.
    pub torn_bytes: u64,
}

/// A checkpoint could not be read, made or stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointerError {
    /// A file operation failed.
    #[error("{}: {op} failed: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// A stored line is not a signed checkpoint.
    #[error("{} line {line}: {source}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Why.
        source: CheckpointLineError,
    },
    /// A stored checkpoint does not continue its stream's previous one.
    #[error("{} line {line}: stream {stream:?}: {problem}", path.display())]
    Chain {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The stream.
        stream: String,
        /// What breaks.
        problem: String,
    },
    /// A stored checkpoint covers records the WAL does not hold.
    #[error("stream {stream:?}: a checkpoint covers seq {end_seq}, the WAL holds {wal_seq}")]
    AheadOfWal {
        /// The stream.
        stream: String,
        /// The checkpoint's last seq.
        end_seq: u64,
        /// The WAL's last seq.
        wal_seq: u64,
    },
    /// No signer is configured.
    #[error("no signer configured")]
    NoSigner,
    /// A signer failed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The body could not be built.
    #[error(transparent)]
    Body(#[from] CheckpointError),
    /// The WAL refused to sync.
    #[error("wal: {0}")]
    Sink(#[from] SinkError),
    /// The rotation record could not be appended.
    #[error("rotation record: {0}")]
    Emit(#[from] EmitError),
    /// A rotation would record a change from a key that did not sign the
    /// stream's latest checkpoint: the checkpointer was opened with
    /// another key than the one the log is signed with.
    #[error(
        "stream {stream:?}: kid {old_kid} did not sign its latest checkpoint (seq {end_seq}, signed by {}); a rotation starts from the key that signs now",
        signed_by.join(", ")
    )]
    NotSignedByOld {
        /// The stream.
        stream: String,
        /// The last seq its latest checkpoint covers.
        end_seq: u64,
        /// The kid the rotation would record as the old key.
        old_kid: String,
        /// The kids that did sign it.
        signed_by: Vec<String>,
    },
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Checkpointer {
    /// Opens the checkpoints of `wal`'s directory, checking that each
    /// stream's checkpoints chain and none covers more than the WAL holds.
    /// An incomplete last line is cut (a crash while appending); any other
    /// bad line fails the open and nothing is changed.
    pub fn open(
        wal: Arc<WalSink>,
        signers: Vec<Arc<dyn Signer>>,
        cadence: Cadence,
    ) -> Result<(Self, CheckpointsRecovery), CheckpointerError> {
        let path = wal.dir().join(CHECKPOINTS_FILE);
        let io = |op| {
            let path = path.clone();
            move |source| CheckpointerError::Io { path, op, source }
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(io("open"))?;
        let mut text = Vec::new();
        file.read_to_end(&mut text).map_err(io("read"))?;
        let mut report = CheckpointsRecovery::default();
        // Only a torn append is cut; damage in the last line (which
        // follows every newline) refuses to open.
        let whole = whole_checkpoint_lines(&text)
            .map_err(|source| CheckpointerError::Line {
                path: path.clone(),
                line: text.iter().filter(|&&b| b == b'\n').count() + 1,
                source,
            })?
            .len();
        let mut last: HashMap<(String, String), Last> = HashMap::new();
        for (i, line) in text
            .get(..whole)
            .unwrap_or_default()
            .split(|&b| b == b'\n')
            .enumerate()
        {
            if line.is_empty() {
                continue;
            }
            let n = i + 1;
            let cp = SignedCheckpoint::parse_line(line).map_err(|source| CheckpointerError::Line {
                path: path.clone(),
                line: n,
                source,
            })?;
            let b = &cp.body;
            let key = (b.writer_id().to_owned(), b.stream().to_owned());
            let want = last.get(&key).map_or(CheckpointLink::FIRST, |l| l.next);
            if b.link() != want {
                return Err(CheckpointerError::Chain {
                    path: path.clone(),
                    line: n,
                    stream: b.stream().to_owned(),
                    problem: format!("starts at {}, expected {want}", b.link()),
                });
            }
            let wal_seq = wal.chain_state(b.writer_id(), b.stream()).map_or(0, |s| s.seq());
            if b.end_seq() > wal_seq {
                return Err(CheckpointerError::AheadOfWal {
                    stream: b.stream().to_owned(),
                    end_seq: b.end_seq(),
                    wal_seq,
                });
            }
            last.insert(key, Last::after(&cp));
            report.checkpoints += 1;
        }
        if whole < text.len() {
            report.torn_bytes = (text.len() - whole) as u64;
            file.set_len(whole as u64).map_err(io("cut a torn line"))?;
            file.sync_data().map_err(io("sync"))?;
            tracing::warn!(name: "audit.export.torn_checkpoint_line", bytes = report.torn_bytes, "cut an incomplete checkpoint line");
        }
        let cp = Self {
            wal,
            signers: RwLock::new(signers),
            cadence,
            state: Mutex::new(State {
                file,
                len: whole as u64,
                last,
            }),
            path,
        };
        Ok((cp, report))
    }

    /// The file checkpoints are appended to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the signers (every checkpoint from now on carries one
    /// signature per signer).
    pub fn set_signers(&self, signers: Vec<Arc<dyn Signer>>) {
        *self.signers.write().unwrap_or_else(PoisonError::into_inner) = signers;
    }

    /// Checkpoints every stream with records not yet covered. The WAL is
    /// synced first, so a checkpoint never covers a record that is not
    /// durable.
    pub fn checkpoint_all(&self, created_ts_ms: u64) -> Result<Vec<SignedCheckpoint>, CheckpointerError> {
        let mut st = lock(&self.state);
        let states: Vec<_> = self
            .wal
            .streams()
            .into_iter()
            .filter_map(|(w, s)| {
                let cs = self.wal.chain_state(&w, &s)?;
                let done = st.last.get(&(w.clone(), s.clone())).map_or(0, |l| l.end_seq());
                (cs.seq() > done).then_some((w, s, cs))
            })
            .collect();
        if states.is_empty() {
            return Ok(Vec::new());
        }
        self.wal.flush()?;
        let mut out = Vec::with_capacity(states.len());
        for (w, s, cs) in states {
            out.push(self.write_one(&mut st, &w, &s, &cs, created_ts_ms)?);
        }
        Ok(out)
    }

    /// Checkpoints the streams that are due under the cadence.
    pub fn run_due(&self, created_ts_ms: u64) -> Result<Vec<SignedCheckpoint>, CheckpointerError> {
        let due = {
            let st = lock(&self.state);
            self.wal.streams().into_iter().any(|(w, s)| {
                let seq = self.wal.chain_state(&w, &s).map_or(0, |c| c.seq());
                match st.last.get(&(w, s)) {
                    None => seq >= self.cadence.every_records,
                    Some(l) => {
                        seq > l.end_seq()
                            && (seq - l.end_seq() >= self.cadence.every_records
                                || l.at.elapsed() >= self.cadence.every)
                    }
                }
            })
        };
        if due {
            self.checkpoint_all(created_ts_ms)
        } else {
            Ok(Vec::new())
        }
    }

    fn write_one(
        &self,
        st: &mut State,
        writer_id: &str,
        stream: &str,
        cs: &audit_chain::ChainState,
        created_ts_ms: u64,
    ) -> Result<SignedCheckpoint, CheckpointerError> {
        let key = (writer_id.to_owned(), stream.to_owned());
        let CheckpointLink {
            start_seq: start,
            prev,
        } = st.last.get(&key).map_or(CheckpointLink::FIRST, |l| l.next);
        let (Some(root), PrevHash::Digest(head)) = (cs.frontier().root(), *cs.head()) else {
            return Err(CheckpointerError::Body(CheckpointError::Range { start, end: 0 }));
        };
        let body = CheckpointBody::new(
            writer_id,
            stream,
            start,
            cs.seq(),
            root,
            head,
            prev,
            created_ts_ms,
        )?;
        let msg = body.signing_message();
        let signers = self
            .signers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if signers.is_empty() {
            return Err(CheckpointerError::NoSigner);
        }
        let mut sigs = Vec::with_capacity(signers.len());
        for s in &signers {
            sigs.push(CheckpointSig {
                alg: s.alg().to_owned(),
                kid: s.kid().to_owned(),
                sig: s.sign(&msg)?,
            });
        }
        let cp = SignedCheckpoint { body, sigs };
        let mut line = cp.to_line().into_bytes();
        line.push(b'\n');
        let written = st.file.write_all(&line).and_then(|()| st.file.sync_data());
        if let Err(source) = written {
            // Cut a partial line back; the stream's checkpoints stay as they were.
            let _ = st.file.set_len(st.len);
            return Err(CheckpointerError::Io {
                path: self.path.clone(),
                op: "append a checkpoint",
                source,
            });
        }
        st.len += line.len() as u64;
        st.last.insert(key, Last::after(&cp));
        metrics::counter!("audit_export_checkpoints_total").increment(1);
        Ok(cp)
    }

    /// Rotates to `new`: records a `KeyRotated` event (attrs `old_kid`,
    /// `new_kid`) in every stream of `emitter`'s writer, checkpoints every
    /// stream signed by both the old and the new key, then signs with the
    /// new key alone.
    ///
    /// The old key is the first configured signer. It must have signed
    /// the latest checkpoint of each of the writer's streams that has one
    /// ([`CheckpointerError::NotSignedByOld`], checked before anything is
    /// written), or the record would name a key the log was never signed
    /// with.
    pub fn rotate_key(
        &self,
        new: Arc<dyn Signer>,
        emitter: &Emitter,
        created_ts_ms: u64,
    ) -> Result<Vec<SignedCheckpoint>, CheckpointerError> {
        let old = self
            .signers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let old_kid = old
            .first()
            .map(|s| s.kid().to_owned())
            .ok_or(CheckpointerError::NoSigner)?;
        let streams: Vec<String> = self
            .wal
            .streams()
            .into_iter()
            .filter_map(|(w, s)| (w == emitter.writer_id()).then_some(s))
            .collect();
        {
            let st = lock(&self.state);
            for s in &streams {
                let key = (emitter.writer_id().to_owned(), s.clone());
                if let Some(l) = st.last.get(&key)
                    && !l.kids.contains(&old_kid)
                {
                    return Err(CheckpointerError::NotSignedByOld {
                        stream: s.clone(),
                        end_seq: l.end_seq(),
                        old_kid,
                        signed_by: l.kids.clone(),
                    });
                }
            }
        }
        for s in streams {
            emitter.emit(
                Event::new(s, "KeyRotated", "key_rotation")
                    .attr("old_kid", old_kid.as_str())
                    .attr("new_kid", new.kid()),
            )?;
        }
        let mut both = old;
        both.push(new.clone());
        self.set_signers(both);
        let out = self.checkpoint_all(created_ts_ms);
        self.set_signers(vec![new]);
        out
    }
}
