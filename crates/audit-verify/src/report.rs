//! What a verification found: per stream what verified, and the first
//! problem with its class (the exit codes of FORMAT-v1.md section 7),
//! file, offset, stream, seq and reason.

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

use audit_canon::Digest;

use crate::reader::{SegmentError, TornTail};

/// The class of a failure, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureClass {
    /// A record hash, chain link, seq gap, non-canonical bytes or Merkle
    /// root does not match (exit 1).
    Integrity,
    /// A signature is invalid, or the trusted keys do not meet the policy
    /// (exit 3).
    Trust,
    /// Bad magic, an unreadable frame, a manifest inconsistent with the
    /// files, a missing file (exit 4).
    Structure,
    /// The files could not be read (exit 5).
    Io,
}

impl FailureClass {
    /// The process exit code of FORMAT-v1.md section 7.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Integrity => 1,
            Self::Trust => 3,
            Self::Structure => 4,
            Self::Io => 5,
        }
    }

    /// A stable lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Integrity => "integrity",
            Self::Trust => "trust",
            Self::Structure => "structure",
            Self::Io => "io",
        }
    }
}

/// The first problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Its class.
    pub class: FailureClass,
    /// A stable code (`frame_digest`, `checkpoint_root`, ...).
    pub code: &'static str,
    /// The file.
    pub file: PathBuf,
    /// The byte offset in the file, when there is one.
    pub offset: Option<u64>,
    /// The stream, when known.
    pub stream: Option<String>,
    /// The seq, when known.
    pub seq: Option<u64>,
    /// What is wrong, in one lower-case sentence.
    pub reason: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failure ({}) in {}",
            self.class.name(),
            self.code,
            self.file.display()
        )?;
        if let Some(o) = self.offset {
            write!(f, " at offset {o}")?;
        }
        if let Some(s) = &self.stream {
            write!(f, ", stream {s:?}")?;
        }
        if let Some(q) = self.seq {
            write!(f, ", seq {q}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl Failure {
    /// A segment reader's error in `file`, classified.
    pub fn from_segment(file: PathBuf, e: &SegmentError) -> Self {
        let (class, stream, seq) = match e {
            SegmentError::Header { .. } | SegmentError::FrameLen { .. } | SegmentError::Trailing { .. } => {
                (FailureClass::Structure, None, None)
            }
            SegmentError::Field { stream, seq, .. } => {
                (FailureClass::Structure, Some(stream.clone()), Some(*seq))
            }
            SegmentError::Record { seq, .. } => (FailureClass::Integrity, None, Some(*seq)),
            SegmentError::Digest { stream, seq, .. } | SegmentError::Link { stream, seq, .. } => {
                (FailureClass::Integrity, Some(stream.clone()), Some(*seq))
            }
        };
        // The error's text starts with its own location ("wal-000003.seg
        // offset 96: ..."); the failure states the file and offset itself.
        // So does a record's stream and seq ("stream \"s\" seq 4: ..."),
        // which the failure states too; the writer stays in the reason.
        let full = e.to_string();
        let mut reason = full.split_once(": ").map_or(full.clone(), |(_, r)| r.to_owned());
        if let (Some(st), Some(q)) = (&stream, seq)
            && let Some(rest) = reason.strip_prefix(&format!("stream {st:?} seq {q}: "))
        {
            reason = rest.to_owned();
        }
        Self {
            class,
            code: e.code(),
            file,
            offset: Some(e.offset()),
            stream,
            seq,
            reason,
        }
    }
}

/// What verified for one `(writer_id, stream)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamReport {
    /// The writer.
    pub writer_id: String,
    /// The stream.
    pub stream: String,
    /// Records verified.
    pub records: u64,
    /// First seq.
    pub first_seq: u64,
    /// Last seq.
    pub last_seq: u64,
    /// The last record's `self_hash`.
    pub head: Digest,
    /// Checkpoints whose root, head and chain verified.
    pub checkpoints: u64,
    /// Every `kid` that signed a checkpoint of the stream.
    pub kids_seen: BTreeSet<String>,
}

/// The result of verifying a WAL directory or a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// Per stream, sorted by `(writer_id, stream)`.
    pub streams: Vec<StreamReport>,
    /// A torn tail at the end of a WAL's newest segment (a crash artifact
    /// the next open cuts; not a failure).
    pub torn: Option<(PathBuf, TornTail)>,
    /// Whether signatures were checked (false without trusted keys).
    pub signatures_checked: bool,
    /// The first problem; `None` when everything verified.
    pub failure: Option<Failure>,
}

impl Report {
    /// 0 when everything verified, else the failure's exit code.
    pub fn exit_code(&self) -> u8 {
        self.failure.as_ref().map_or(0, |f| f.class.exit_code())
    }

    /// Records verified in all streams.
    pub fn records(&self) -> u64 {
        self.streams.iter().map(|s| s.records).sum()
    }
}
