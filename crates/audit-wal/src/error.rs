//! The errors of opening and reading a WAL, and the recovery report.

use std::io;
use std::path::PathBuf;

use audit_verify::{SegmentError, TornKind};

/// Why a WAL directory could not be opened. Nothing on disk was changed,
/// except where a variant says otherwise.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Another `WalSink`, in this process or another, holds the directory.
    #[error(
        "wal {}: locked by another writer{}",
        dir.display(),
        holder.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    Locked {
        /// The WAL directory.
        dir: PathBuf,
        /// The holder's process id, as it wrote it into the lock file.
        holder: Option<u32>,
    },
    /// A filesystem operation failed.
    #[error("wal {}: {op} failed: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// A segment does not verify: corruption, never cut or repaired.
    #[error("wal {}: corrupt: {source}", dir.display())]
    Corrupt {
        /// The WAL directory.
        dir: PathBuf,
        /// Where and what (segment, offset, stream, seq).
        source: Box<SegmentError>,
    },
    /// Segment numbers are not contiguous from 1.
    #[error("wal {}: {}", dir.display(), audit_verify::NumberedFiles::Segments.missing_reason(*number, *last))]
    MissingSegment {
        /// The WAL directory.
        dir: PathBuf,
        /// The first missing number.
        number: u64,
        /// The highest segment number present.
        last: u64,
    },
    /// A segment's index disagrees with the segment, yet every frame of the
    /// segment verifies: the index was damaged, or the segment was replaced
    /// by other valid frames.
    #[error("wal {}: index of {} does not describe the segment ({detail})", dir.display(), audit_verify::segment_file_name(*segment))]
    IndexMismatch {
        /// The WAL directory.
        dir: PathBuf,
        /// The segment number.
        segment: u64,
        /// What differs.
        detail: String,
    },
}

impl OpenError {
    /// A stable, machine-readable name of the error class.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Locked { .. } => "locked",
            Self::Io { .. } => "io",
            Self::Corrupt { .. } => "corrupt",
            Self::MissingSegment { .. } => "missing_segment",
            Self::IndexMismatch { .. } => "index_mismatch",
        }
    }
}

/// What opening a WAL found and did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recovery {
    /// Segment files, sealed and open.
    pub segments: u64,
    /// Frames parsed and verified during open (those after the newest
    /// index; sealed segments with a valid index are hashed, not parsed).
    pub records_scanned: u64,
    /// Records in the WAL.
    pub records: u64,
    /// Chains in the WAL.
    pub streams: usize,
    /// The torn tail cut from the newest segment, if any.
    pub torn: Option<TornCut>,
    /// Sealed segments whose missing or unreadable index was rebuilt.
    pub indexes_rebuilt: Vec<u64>,
    /// Leftover temporary files removed (an interrupted atomic write).
    pub temp_files_removed: Vec<String>,
}

/// A torn write cut at open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornCut {
    /// The segment number.
    pub segment: u64,
    /// The new end of the segment (the end of its last whole frame).
    pub offset: u64,
    /// Bytes cut.
    pub len: u64,
    /// An incomplete frame or a run of zeros.
    pub kind: TornKind,
}

/// Why records could not be read back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// A filesystem operation failed.
    #[error("wal read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A frame does not verify.
    #[error("wal read: corrupt: {0}")]
    Corrupt(Box<SegmentError>),
    /// Records of the stream do not link.
    #[error("wal read: stream {stream:?}: seq {seq} does not link to seq {}", seq - 1)]
    Link {
        /// The stream.
        stream: String,
        /// The record that does not link.
        seq: u64,
    },
}

impl From<SegmentError> for ReadError {
    fn from(e: SegmentError) -> Self {
        Self::Corrupt(Box::new(e))
    }
}
