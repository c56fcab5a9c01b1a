//! Reading records back: sealed segments through a read-only map, the open
//! segment up to its last written frame, every frame verified on read.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::ops::RangeInclusive;

use audit_canon::{Limits, PrevHash, RecordLink, parse_record};
use audit_chain::SealedRecord;
use audit_verify::{SegmentReader, Step, check_frame, segment_file_name};

use crate::error::ReadError;
use crate::fs::FileBytes;
use crate::sink::WalSink;

/// A record as stored: its seq, canonical bytes and `self_hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    /// The record's seq.
    pub seq: u64,
    /// Its canonical bytes.
    pub canonical: Vec<u8>,
    /// `H(canonical)`.
    pub self_hash: audit_canon::Digest,
}

/// A stored record as [`WalSink::for_each_raw`] hands it over: borrowed
/// from its segment for the length of the call.
#[derive(Debug, Clone, Copy)]
pub struct RawRecordRef<'a> {
    /// The segment it is in.
    pub segment: u64,
    /// Its frame's offset in that segment.
    pub offset: u64,
    /// The record's seq.
    pub seq: u64,
    /// Its canonical bytes.
    pub canonical: &'a [u8],
    /// `H(canonical)`.
    pub self_hash: audit_canon::Digest,
}

impl WalSink {
    /// Calls `visit` with every record in WAL order (the order they were
    /// written), each verified: canonical bytes, digest, frame fields.
    pub fn for_each_record(&self, mut visit: impl FnMut(SealedRecord)) -> Result<(), ReadError> {
        self.for_each_checked(|n, f, _| {
            visit(sealed_of(n, f.offset, f.seq, f.canonical)?);
            Ok::<_, ReadError>(())
        })
    }

    /// Walks every frame written so far in WAL order (sealed segments
    /// mapped, the open one read up to its last written frame), checks it
    /// ([`check_frame`]) and hands it to `visit` with its chain fields.
    fn for_each_checked<E: From<ReadError>>(
        &self,
        mut visit: impl FnMut(u64, &audit_verify::Frame<'_>, &RecordLink<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let limits = Limits::default();
        let (last, end) = self.end();
        for n in 1..=last {
            let path = self.dir().join(segment_file_name(n));
            let io = |source| ReadError::Io {
                path: path.clone(),
                source,
            };
            let bytes = if n < last {
                self.fs().read_sealed(&path).map_err(io)?
            } else {
                FileBytes::Owned(self.fs().read_prefix(&path, end).map_err(io)?)
            };
            let mut reader = SegmentReader::new(bytes.as_ref(), n).map_err(ReadError::from)?;
            loop {
                let f = match reader.next_step().map_err(ReadError::from)? {
                    Step::Frame(f) => f,
                    Step::End => break,
                    Step::Torn(t) => {
                        return Err(E::from(ReadError::from(audit_verify::SegmentError::Trailing {
                            segment: n,
                            offset: t.offset,
                            len: t.len,
                        })));
                    }
                };
                let link = check_frame(&f, n, &limits).map_err(ReadError::from)?;
                visit(n, &f, &link)?;
            }
        }
        Ok(())
    }

    /// [`Self::read_raw`] without collecting: hands `visit` each record of
    /// `(writer_id, stream)` with `seq` in `seqs`, in order, borrowed from
    /// its segment, as the walk reaches it: each frame checked, and the
    /// run checked to link (seq + 1, `prev` the previous `self_hash`) up
    /// to it. A long run is read in the memory of one segment. The walk
    /// stops at the first error, the reader's or `visit`'s.
    pub fn for_each_raw<E: From<ReadError>>(
        &self,
        writer_id: &str,
        stream: &str,
        seqs: RangeInclusive<u64>,
        mut visit: impl FnMut(RawRecordRef<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut last: Option<(u64, audit_canon::Digest)> = None;
        self.for_each_checked(|n, f, link| {
            if link.writer_id != writer_id || link.stream != stream || !seqs.contains(&link.seq) {
                return Ok(());
            }
            if let Some((seq, head)) = last
                && (seq + 1 != link.seq || link.prev != PrevHash::Digest(head))
            {
                return Err(E::from(ReadError::Link {
                    stream: stream.to_owned(),
                    seq: link.seq,
                }));
            }
            last = Some((link.seq, link.self_hash));
            visit(RawRecordRef {
                segment: n,
                offset: f.offset,
                seq: f.seq,
                canonical: f.canonical,
                self_hash: f.digest,
            })
        })
    }

    /// The frames of `(writer_id, stream)` with `seq` in `seqs`, in order,
    /// checked and linked as [`Self::for_each_raw`] checks them, and turned
    /// into `T` by `keep`.
    fn collect_stream<T>(
        &self,
        writer_id: &str,
        stream: &str,
        seqs: RangeInclusive<u64>,
        mut keep: impl FnMut(RawRecordRef<'_>) -> Result<T, ReadError>,
    ) -> Result<Vec<T>, ReadError> {
        let mut out = Vec::new();
        self.for_each_raw(writer_id, stream, seqs, |r| {
            out.push(keep(r)?);
            Ok::<_, ReadError>(())
        })?;
        Ok(out)
    }

    /// Like [`WalSink::read`], but without building typed records: each
    /// record's `seq`, canonical bytes and `self_hash`, verified (bytes,
    /// digest, frame fields) and checked to link. What exports and proofs
    /// need, several times faster than parsing.
    pub fn read_raw(
        &self,
        writer_id: &str,
        stream: &str,
        seqs: RangeInclusive<u64>,
    ) -> Result<Vec<RawRecord>, ReadError> {
        self.collect_stream(writer_id, stream, seqs, |r| {
            Ok(RawRecord {
                seq: r.seq,
                canonical: r.canonical.to_vec(),
                self_hash: r.self_hash,
            })
        })
    }

    /// The records of `(writer_id, stream)` with `seq` in `seqs`, in order,
    /// verified on read and checked to link to each other.
    pub fn read(
        &self,
        writer_id: &str,
        stream: &str,
        seqs: RangeInclusive<u64>,
    ) -> Result<Vec<SealedRecord>, ReadError> {
        self.collect_stream(writer_id, stream, seqs, |r| {
            sealed_of(r.segment, r.offset, r.seq, r.canonical)
        })
    }
}

/// A checked frame as a typed record. `check_frame` proved the bytes
/// canonical, so parsing cannot fail; if it did, that is corruption.
fn sealed_of(segment: u64, offset: u64, seq: u64, canonical: &[u8]) -> Result<SealedRecord, ReadError> {
    let parsed = parse_record(canonical, &Limits::default()).map_err(|e| {
        ReadError::from(audit_verify::SegmentError::Record {
            segment,
            offset,
            seq,
            source: e.into(),
        })
    })?;
    Ok(SealedRecord::from_parsed(parsed))
}
