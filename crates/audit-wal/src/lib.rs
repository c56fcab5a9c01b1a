//! `audit-wal`: the durable sink. Append-only segment files with group
//! commit, and recovery that cuts only a torn tail and reports every other
//! mismatch as corruption.
//!
//! # Main types
//!
//! - [`WalSink`]: implements `audit_chain::AuditSink` and `AuditStream`
//!   over one directory of `wal-NNNNNN.seg` files (FORMAT-v1.md section 4),
//!   opened with [`WalSink::open`], which returns a [`Recovery`] report.
//! - [`WalOptions`]: rotation size and fsync policy (`always`,
//!   `on_checkpoint`, `never`).
//! - [`OpenError`], [`ReadError`]: typed failures naming the directory,
//!   segment, offset, stream and seq.
//! - [`Vfs`], [`OsFs`], [`MemFs`]: the file layer; `MemFs` tracks which
//!   bytes are durable and injects faults, for the crash tests.
//!
//! # Guarantees
//!
//! - An append acknowledged under `always` is covered by an `fdatasync`
//!   before `append` returns; under `on_checkpoint` it is in the file and
//!   [`audit_chain::AuditSink::flush`] makes it durable.
//! - Recovery cuts only what FORMAT-v1.md calls a torn write (an
//!   incomplete final frame or a final run of zeros in the newest segment),
//!   and reports the cut. Anything else that does not verify fails the open
//!   with the segment, offset, stream and seq, and nothing is modified.
//! - One writer per directory: an exclusive lock (`flock`) refuses a
//!   second opener, in this process or another, naming the holder's pid
//!   when the lock file has it. The directory is created
//!   0700 and files 0600; new files and the directory are synced.
//! - A failed write is cut back and fails only its group; a failed
//!   `fdatasync` stops all writes until the WAL is reopened.
//!
//! # Key design choice
//!
//! Group commit: a writer thread writes everything queued with one `write`
//! and one `fdatasync`, so many appenders share each sync, and so do the
//! records one caller hands over with `append_begin` before it waits (the
//! emitter's `commit_begin`, the queued front end's workers). An appender
//! that finds the WAL idle writes its own frame: one appender pays no
//! hand-off.
//! Sealed segments carry an index (their digest and every chain's head and
//! Merkle frontier at their end), so reopening hashes sealed segments
//! instead of parsing them. Frames are decoded by `audit-verify`'s reader,
//! the same code third parties verify with, and sealed segments are mapped
//! through its one `unsafe` function.
//!
//! # What it does not do
//!
//! It never repairs corruption (that is an operator's explicit action), it
//! does not sign or export (that is `audit-export`), and it keeps no cache
//! of records: reads go back to the files.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use audit_canon::Limits;
//! use audit_chain::{AuditSink, Emitter, Event, FsyncPolicy};
//! use audit_wal::{WalOptions, WalSink};
//!
//! let dir = tempfile::tempdir()?;
//! let opts = WalOptions { fsync: FsyncPolicy::Always, ..WalOptions::default() };
//! let (wal, report) = WalSink::open(dir.path().join("wal"), opts)?;
//! assert_eq!(report.records, 0);
//! let wal = Arc::new(wal);
//! let emitter = Emitter::new("svc@1", wal.clone(), Limits::default())?;
//! emitter.emit(Event::new("ingress", "GetServed", "ok"))?;
//! wal.close()?;
//! drop((emitter, wal));
//!
//! let (wal, report) = WalSink::open(dir.path().join("wal"), opts)?;
//! assert_eq!((report.records, report.torn), (1, None));
//! assert_eq!(wal.read("svc@1", "ingress", 1..=1)?.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod error;
mod fs;
mod index;
mod memfs;
mod read;
mod recover;
mod sink;
mod telemetry;
mod writer;

pub use error::{OpenError, ReadError, Recovery, TornCut};
pub use fs::{DirLock, FileBytes, FileSyncer, OsFs, Vfs, WalFile};
pub use memfs::{CrashMode, FaultOp, MemFs};
pub use read::{RawRecord, RawRecordRef};
pub use sink::{WalOptions, WalSink};
