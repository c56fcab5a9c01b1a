//! Reading records back: sealed segments through a read-only map, the open
//! segment up to its last written frame, every frame verified on read.

use std::ops::RangeInclusive;

use audit_canon::{Limits, PrevHash, parse_record};
use audit_chain::SealedRecord;
use audit_verify::{SegmentReader, Step, check_frame, segment_file_name};

use crate::error::ReadError;
use crate::fs::FileBytes;
use crate::sink::WalSink;

impl WalSink {
    /// Calls `visit` with every record in WAL order (the order they were
    /// written), each verified: canonical bytes, digest, frame fields.
    pub fn for_each_record(&self, mut visit: impl FnMut(SealedRecord)) -> Result<(), ReadError> {
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
                check_frame(&f, n, &limits)?;
                // check_frame proved the bytes canonical; parsing cannot fail.
                let parsed = parse_record(f.canonical, &limits).map_err(|e| {
                    ReadError::from(audit_verify::SegmentError::Record {
                        segment: n,
                        offset: f.offset,
                        seq: f.seq,
                        source: e.into(),
                    })
                })?;
                visit(SealedRecord::from_parsed(parsed));
            }
        }
        Ok(())
    }

    /// The records of `(writer_id, stream)` with `seq` in `seqs`, in order,
    /// verified on read and checked to link to each other.
    pub fn read(
        &self,
        writer_id: &str,
        stream: &str,
        seqs: RangeInclusive<u64>,
    ) -> Result<Vec<SealedRecord>, ReadError> {
        let mut out: Vec<SealedRecord> = Vec::new();
        let mut broken = None;
        self.for_each_record(|r| {
            let rec = r.record();
            if rec.writer_id() != writer_id || rec.stream() != stream || !seqs.contains(&rec.seq()) {
                return;
            }
            if let Some(prev) = out.last()
                && (prev.record().seq() + 1 != rec.seq()
                    || *rec.prev() != PrevHash::Digest(*prev.self_hash()))
            {
                broken.get_or_insert(rec.seq());
            }
            out.push(r);
        })?;
        if let Some(seq) = broken {
            return Err(ReadError::Link {
                stream: stream.to_owned(),
                seq,
            });
        }
        Ok(out)
    }
}
