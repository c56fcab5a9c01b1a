//! The segment reader: walks a segment's bytes frame by frame, tells a torn
//! tail from corruption, and checks each frame against its record and its
//! chain. The writer's recovery and the independent verifier share it.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use audit_canon::{Digest, Limits, RecordLink, VerifyError, verify_record_link};

use crate::chains::{Chains, LinkError};
use crate::frame::{Decoded, Frame, decode_frame};
use crate::header::{HeaderError, SEGMENT_HEADER_LEN, decode_header, segment_file_name};

/// Reads the frames of one segment file held in memory (or mapped).
#[derive(Debug, Clone)]
pub struct SegmentReader<'a> {
    bytes: &'a [u8],
    segment: u64,
    pos: usize,
}

/// One step of a [`SegmentReader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// The next whole frame (not yet checked against its record).
    Frame(Frame<'a>),
    /// The last frame ended exactly at the end of the file.
    End,
    /// The file ends in a torn write: what FORMAT-v1.md lets a writer cut,
    /// in the newest segment only.
    Torn(TornTail),
}

/// A torn tail: bytes after the last whole frame that are an incomplete
/// frame or all zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    /// Where the torn bytes start (the end of the last whole frame).
    pub offset: u64,
    /// How many bytes follow.
    pub len: u64,
    /// Which kind of torn write.
    pub kind: TornKind,
}

/// The two kinds of torn write the format allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TornKind {
    /// The file ends inside a frame.
    Incomplete,
    /// The file ends in a run of zero bytes.
    Zeros,
}

impl<'a> SegmentReader<'a> {
    /// A reader over the bytes of segment `segment`, after checking its
    /// header.
    pub fn new(bytes: &'a [u8], segment: u64) -> Result<Self, SegmentError> {
        decode_header(bytes, segment).map_err(|problem| SegmentError::Header { segment, problem })?;
        Ok(Self {
            bytes,
            segment,
            pos: SEGMENT_HEADER_LEN,
        })
    }

    /// A reader that starts at `offset`, the end of a frame the caller
    /// already knows (an index said so), after checking the header.
    pub fn at(bytes: &'a [u8], segment: u64, offset: u64) -> Result<Self, SegmentError> {
        let mut r = Self::new(bytes, segment)?;
        match usize::try_from(offset) {
            Ok(o) if o >= SEGMENT_HEADER_LEN && o <= bytes.len() => r.pos = o,
            _ => {
                return Err(SegmentError::Trailing {
                    segment,
                    offset,
                    len: 0,
                });
            }
        }
        Ok(r)
    }

    /// The offset of the next frame.
    pub fn position(&self) -> u64 {
        self.pos as u64
    }

    /// The segment number.
    pub fn segment(&self) -> u64 {
        self.segment
    }

    /// The next frame, the end, or a torn tail. A frame `len` outside
    /// `1..=1 MiB` that is not part of a zero run is corruption.
    pub fn next_step(&mut self) -> Result<Step<'a>, SegmentError> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            return Ok(Step::End);
        }
        let offset = self.pos as u64;
        let torn = |kind| {
            Step::Torn(TornTail {
                offset,
                len: rest.len() as u64,
                kind,
            })
        };
        if rest.iter().all(|&b| b == 0) {
            return Ok(torn(TornKind::Zeros));
        }
        match decode_frame(rest, offset) {
            Decoded::Frame(f) => {
                self.pos += f.canonical.len() + crate::frame::FRAME_OVERHEAD;
                Ok(Step::Frame(f))
            }
            Decoded::Incomplete { .. } => Ok(torn(TornKind::Incomplete)),
            Decoded::BadLen { len } => Err(SegmentError::FrameLen {
                segment: self.segment,
                offset,
                len,
            }),
        }
    }
}

/// Checks one frame against the record it holds: the bytes are a canonical
/// record under `limits`, the stored digest is theirs, and `v` and `seq`
/// match the record's.
pub fn check_frame<'a>(
    frame: &Frame<'a>,
    segment: u64,
    limits: &Limits,
) -> Result<RecordLink<'a>, SegmentError> {
    let link = verify_record_link(frame.canonical, limits).map_err(|source| SegmentError::Record {
        segment,
        offset: frame.offset,
        seq: frame.seq,
        source,
    })?;
    if link.self_hash != frame.digest {
        return Err(SegmentError::Digest {
            segment,
            offset: frame.offset,
            stream: link.stream.into_owned(),
            seq: link.seq,
            stored: frame.digest,
            actual: link.self_hash,
        });
    }
    // A valid record has `v` 1.
    let fields = [("v", u64::from(frame.v), 1), ("seq", frame.seq, link.seq)];
    if let Some(&(field, in_frame, in_record)) = fields.iter().find(|(_, a, b)| a != b) {
        return Err(SegmentError::Field {
            segment,
            offset: frame.offset,
            stream: link.stream.into_owned(),
            seq: link.seq,
            field,
            in_frame,
            in_record,
        });
    }
    Ok(link)
}

/// What a scan of one segment found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentScan {
    /// Whole frames read.
    pub records: u64,
    /// The end of the last whole frame (the header's end when there is none).
    pub end: u64,
    /// A torn tail after `end` (only ever in a scan of the newest segment).
    pub torn: Option<TornTail>,
}

/// Reads segment `segment` whole: every frame checked ([`check_frame`]) and
/// linked into `chains`, `visit` called for each. In a sealed segment
/// (`newest` false) any byte after the last whole frame is corruption; in
/// the newest one a torn tail is returned for the caller to cut. On error
/// `chains` holds the state before the failing frame.
pub fn scan_segment<'a>(
    bytes: &'a [u8],
    segment: u64,
    newest: bool,
    chains: &mut Chains,
    limits: &Limits,
    visit: impl FnMut(&Frame<'a>, &RecordLink<'a>),
) -> Result<SegmentScan, SegmentError> {
    scan_segment_from(
        bytes,
        segment,
        SEGMENT_HEADER_LEN as u64,
        newest,
        chains,
        limits,
        visit,
    )
}

/// [`scan_segment`] from `from`, the end of a frame already known (`chains`
/// holds the state there). `records` counts the frames after `from`.
pub fn scan_segment_from<'a>(
    bytes: &'a [u8],
    segment: u64,
    from: u64,
    newest: bool,
    chains: &mut Chains,
    limits: &Limits,
    mut visit: impl FnMut(&Frame<'a>, &RecordLink<'a>),
) -> Result<SegmentScan, SegmentError> {
    let mut reader = SegmentReader::at(bytes, segment, from)?;
    let mut records = 0;
    loop {
        let end = reader.position();
        match reader.next_step()? {
            Step::End => {
                return Ok(SegmentScan {
                    records,
                    end,
                    torn: None,
                });
            }
            Step::Torn(t) if newest => {
                return Ok(SegmentScan {
                    records,
                    end,
                    torn: Some(t),
                });
            }
            Step::Torn(t) => {
                return Err(SegmentError::Trailing {
                    segment,
                    offset: t.offset,
                    len: t.len,
                });
            }
            Step::Frame(f) => {
                let link = check_frame(&f, segment, limits)?;
                chains.advance(&link).map_err(|problem| SegmentError::Link {
                    segment,
                    offset: f.offset,
                    writer_id: link.writer_id.to_string(),
                    stream: link.stream.to_string(),
                    seq: link.seq,
                    problem,
                })?;
                visit(&f, &link);
                records += 1;
            }
        }
    }
}

/// A segment that does not read back as whole, valid, linked frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SegmentError {
    /// The header does not match.
    #[error("{}: bad header: {problem}", segment_file_name(*segment))]
    Header {
        /// The segment number.
        segment: u64,
        /// What is wrong.
        problem: HeaderError,
    },
    /// A frame declares a length outside `1..=1 MiB`.
    #[error("{} offset {offset}: frame length {len} is outside 1..=1048576", segment_file_name(*segment))]
    FrameLen {
        /// The segment number.
        segment: u64,
        /// The frame's offset.
        offset: u64,
        /// The declared length.
        len: u32,
    },
    /// Bytes after the last whole frame of a sealed segment.
    #[error(
        "{} offset {offset}: {len} bytes after the last whole frame of a sealed segment",
        segment_file_name(*segment)
    )]
    Trailing {
        /// The segment number.
        segment: u64,
        /// Where the extra bytes start.
        offset: u64,
        /// How many.
        len: u64,
    },
    /// The frame's bytes are not a canonical record.
    #[error("{} offset {offset} (frame seq {seq}): {source}", segment_file_name(*segment))]
    Record {
        /// The segment number.
        segment: u64,
        /// The frame's offset.
        offset: u64,
        /// The frame's `seq` field (the record did not parse).
        seq: u64,
        /// Why the bytes are not a canonical record.
        source: VerifyError,
    },
    /// The stored digest is not the digest of the frame's bytes.
    #[error(
        "{} offset {offset}: stream {stream:?} seq {seq}: stored digest {stored} but the bytes hash to {actual}",
        segment_file_name(*segment)
    )]
    Digest {
        /// The segment number.
        segment: u64,
        /// The frame's offset.
        offset: u64,
        /// The record's stream.
        stream: String,
        /// The record's seq.
        seq: u64,
        /// The digest in the frame.
        stored: Digest,
        /// The digest of the bytes.
        actual: Digest,
    },
    /// A frame field disagrees with the record.
    #[error(
        "{} offset {offset}: stream {stream:?} seq {seq}: frame {field} is {in_frame}, the record's is {in_record}",
        segment_file_name(*segment)
    )]
    Field {
        /// The segment number.
        segment: u64,
        /// The frame's offset.
        offset: u64,
        /// The record's stream.
        stream: String,
        /// The record's seq.
        seq: u64,
        /// `v` or `seq`.
        field: &'static str,
        /// The frame's value.
        in_frame: u64,
        /// The record's value.
        in_record: u64,
    },
    /// The record does not follow its chain.
    #[error(
        "{} offset {offset}: writer {writer_id:?} stream {stream:?} seq {seq}: {problem}",
        segment_file_name(*segment)
    )]
    Link {
        /// The segment number.
        segment: u64,
        /// The frame's offset.
        offset: u64,
        /// The record's writer.
        writer_id: String,
        /// The record's stream.
        stream: String,
        /// The record's seq.
        seq: u64,
        /// How the link breaks.
        problem: LinkError,
    },
}

impl SegmentError {
    /// The segment number the error is in.
    pub fn segment(&self) -> u64 {
        match self {
            Self::Header { segment, .. }
            | Self::FrameLen { segment, .. }
            | Self::Trailing { segment, .. }
            | Self::Record { segment, .. }
            | Self::Digest { segment, .. }
            | Self::Field { segment, .. }
            | Self::Link { segment, .. } => *segment,
        }
    }

    /// The byte offset in the segment file where the problem is (0 for a
    /// bad header).
    pub fn offset(&self) -> u64 {
        match self {
            Self::Header { .. } => 0,
            Self::FrameLen { offset, .. }
            | Self::Trailing { offset, .. }
            | Self::Record { offset, .. }
            | Self::Digest { offset, .. }
            | Self::Field { offset, .. }
            | Self::Link { offset, .. } => *offset,
        }
    }

    /// A stable, machine-readable name of the error class.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Header { .. } => "segment_header",
            Self::FrameLen { .. } => "frame_len",
            Self::Trailing { .. } => "trailing_bytes",
            Self::Record { .. } => "frame_record",
            Self::Digest { .. } => "frame_digest",
            Self::Field { .. } => "frame_field",
            Self::Link { .. } => "chain_link",
        }
    }
}
