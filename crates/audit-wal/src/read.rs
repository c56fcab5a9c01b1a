//! Reading records back: sealed segments through a read-only map, the open
//! segment up to its last written frame, every frame verified on read.

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

impl WalSink {
    /// Calls `visit` with every record in WAL order (the order they were
    /// written), each verified: canonical bytes, digest, frame fields.
    pub fn for_each_record(&self, mut visit: impl FnMut(SealedRecord)) -> Result<(), ReadError> {
        self.for_each_checked(|n, f, _| {
            visit(sealed_of(n, f)?);
            Ok(())
        })
    }

    /// Walks every frame written so far in WAL order (sealed segments
    /// mapped, the open one read up to its last written frame), checks it
    /// ([`check_frame`]) and hands it to `visit` with its chain fields.
    fn for_each_checked(
        &self,
        mut visit: impl FnMut(u64, &audit_verify::Frame<'_>, &RecordLink<'_>) -> Result<(), ReadError>,
    ) -> Result<(), ReadError> {
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
            let mut reader = SegmentReader::new(bytes.as_ref(), n)?;
            loop {
                let f = match reader.next_step()? {
                    Step::Frame(f) => f,
                    Step::End => break,
                    Step::Torn(t) => {
                        return Err(ReadError::from(audit_verify::SegmentError::Trailing {
                            segment: n,
                            offset: t.offset,
                            len: t.len,
                        }));
                    }
                };
                let link = check_frame(&f, n, &limits)?;
                visit(n, &f, &link)?;
            }
        }
        Ok(())
    }

    /// The frames of `(writer_id, stream)` with `seq` in `seqs`, in order,
    /// each checked, the run checked to link (seq + 1, `prev` the previous
    /// `self_hash`), and turned into `T` by `keep`.
    fn collect_stream<T>(
        &self,
        writer_id: &str,
        stream: &str,
        seqs: RangeInclusive<u64>,
        mut keep: impl FnMut(u64, &audit_verify::Frame<'_>) -> Result<T, ReadError>,
    ) -> Result<Vec<T>, ReadError> {
        let mut out = Vec::new();
        let mut last: Option<(u64, audit_canon::Digest)> = None;
        let mut broken = None;
        self.for_each_checked(|n, f, link| {
            if link.writer_id != writer_id || link.stream != stream || !seqs.contains(&link.seq) {
                return Ok(());
            }
            if let Some((seq, head)) = last
                && (seq + 1 != link.seq || link.prev != PrevHash::Digest(head))
            {
                broken.get_or_insert(link.seq);
            }
            last = Some((link.seq, link.self_hash));
            out.push(keep(n, f)?);
            Ok(())
        })?;
        if let Some(seq) = broken {
            return Err(ReadError::Link {
                stream: stream.to_owned(),
                seq,
            });
        }
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
        self.collect_stream(writer_id, stream, seqs, |_, f| {
            Ok(RawRecord {
                seq: f.seq,
                canonical: f.canonical.to_vec(),
                self_hash: f.digest,
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
        self.collect_stream(writer_id, stream, seqs, sealed_of)
    }
}

/// A checked frame as a typed record. `check_frame` proved the bytes
/// canonical, so parsing cannot fail; if it did, that is corruption.
fn sealed_of(segment: u64, f: &audit_verify::Frame<'_>) -> Result<SealedRecord, ReadError> {
    let parsed = parse_record(f.canonical, &Limits::default()).map_err(|e| {
        ReadError::from(audit_verify::SegmentError::Record {
            segment,
            offset: f.offset,
            seq: f.seq,
            source: e.into(),
        })
    })?;
    Ok(SealedRecord::from_parsed(parsed))
}
