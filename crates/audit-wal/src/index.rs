//! The segment index `wal-NNNNNN.idx`: what a segment's bytes hash to and
//! where every chain stands at its end, so that opening a WAL rebuilds the
//! chain heads and Merkle frontiers without parsing sealed segments. It is
//! the writer's private file (verifiers ignore it); docs/FORMAT.md has the
//! byte layout.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use audit_canon::{Digest, Frontier};
use audit_verify::{Chains, FRAME_OVERHEAD, SEGMENT_HEADER_LEN, StreamHead};

/// `"RON-AIX"` and version 1.
pub(crate) const INDEX_MAGIC: [u8; 8] = *b"RON-AIX\x01";

/// The file name of segment `number`'s index.
pub(crate) fn index_file_name(number: u64) -> String {
    format!("wal-{number:06}.idx")
}

/// The segment number of an index file name, like `parse_segment_file_name`.
pub(crate) fn parse_index_file_name(name: &str) -> Option<u64> {
    let seg = format!("{}.seg", name.strip_suffix(".idx")?);
    audit_verify::parse_segment_file_name(&seg)
}

/// A decoded index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentIndex {
    /// The segment it describes.
    pub(crate) segment: u64,
    /// The bytes `[0, len)` of the segment it covers.
    pub(crate) len: u64,
    /// BLAKE3 of those bytes.
    pub(crate) digest: Digest,
    /// Frames in those bytes.
    pub(crate) records: u64,
    /// Every chain's head at offset `len` (cumulative over all segments).
    pub(crate) chains: Chains,
}

/// Encodes an index (little-endian; see docs/FORMAT.md).
pub(crate) fn encode_index(
    segment: u64,
    len: u64,
    digest: &Digest,
    records: u64,
    chains: &Chains,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + chains.len() * 160);
    out.extend_from_slice(&INDEX_MAGIC);
    out.extend_from_slice(&segment.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(digest.as_bytes());
    out.extend_from_slice(&records.to_le_bytes());
    let mut all: Vec<_> = chains.iter().collect();
    all.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    out.extend_from_slice(&(all.len() as u64).to_le_bytes());
    for (w, s, h) in all {
        // writer_id <= 128 bytes and stream <= 64 bytes (record rules).
        out.push(w.len() as u8);
        out.extend_from_slice(w.as_bytes());
        out.push(s.len() as u8);
        out.extend_from_slice(s.as_bytes());
        out.extend_from_slice(&h.seq.to_le_bytes());
        out.extend_from_slice(h.head.as_bytes());
        out.extend_from_slice(&h.last_ts_ms.to_le_bytes());
        for d in h.frontier.hashes() {
            out.extend_from_slice(d.as_bytes());
        }
    }
    let check = Digest::of(&out);
    out.extend_from_slice(check.as_bytes());
    out
}

/// Why an index file cannot be used (it is then rebuilt from its segment).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum IndexError {
    #[error("truncated at offset {offset}")]
    Truncated { offset: usize },
    #[error("bad magic")]
    Magic,
    #[error("checksum mismatch")]
    Checksum,
    #[error("describes segment {found}, not {expected}")]
    Segment { found: u64, expected: u64 },
    #[error("bad entry at offset {offset}")]
    Entry { offset: usize },
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], IndexError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(IndexError::Truncated { offset: self.pos })?;
        let b = self
            .bytes
            .get(self.pos..end)
            .ok_or(IndexError::Truncated { offset: self.pos })?;
        self.pos = end;
        Ok(b)
    }
    fn u8(&mut self) -> Result<u8, IndexError> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }
    fn u64(&mut self) -> Result<u64, IndexError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(
            <[u8; 8]>::try_from(b).map_err(|_| IndexError::Truncated { offset: self.pos })?,
        ))
    }
    fn digest(&mut self) -> Result<Digest, IndexError> {
        let b = self.take(32)?;
        Ok(Digest::from_bytes(
            <[u8; 32]>::try_from(b).map_err(|_| IndexError::Truncated { offset: self.pos })?,
        ))
    }
    fn text(&mut self) -> Result<String, IndexError> {
        let at = self.pos;
        let n = usize::from(self.u8()?);
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| IndexError::Entry { offset: at })
    }
}

/// Decodes and checks an index file. Nothing is allocated from a count
/// before the bytes it needs are known to be present.
pub(crate) fn decode_index(bytes: &[u8], expected: u64) -> Result<SegmentIndex, IndexError> {
    let body_len = bytes
        .len()
        .checked_sub(32)
        .ok_or(IndexError::Truncated { offset: 0 })?;
    let (body, check) = bytes.split_at(body_len);
    if Digest::of(body).as_bytes() != check {
        return Err(IndexError::Checksum);
    }
    let mut c = Cursor { bytes: body, pos: 0 };
    if c.take(8)? != INDEX_MAGIC {
        return Err(IndexError::Magic);
    }
    let segment = c.u64()?;
    if segment != expected {
        return Err(IndexError::Segment {
            found: segment,
            expected,
        });
    }
    let len = c.u64()?;
    let digest = c.digest()?;
    let at = c.pos;
    let records = c.u64()?;
    // Each record is a frame of at least FRAME_OVERHEAD + 1 bytes after
    // the header: a count no segment of `len` bytes holds is not an index
    // of it (and would overflow the sums recovery makes of counts).
    let room = len.saturating_sub(SEGMENT_HEADER_LEN as u64) / (FRAME_OVERHEAD as u64 + 1);
    if records > room {
        return Err(IndexError::Entry { offset: at });
    }
    let count = c.u64()?;
    // Each entry takes at least 1 + 1 + 1 + 1 + 8 + 32 + 8 bytes.
    if count > (body.len() / 52) as u64 {
        return Err(IndexError::Entry { offset: c.pos });
    }
    let mut heads = Vec::new();
    for _ in 0..count {
        let at = c.pos;
        let w = c.text()?;
        let s = c.text()?;
        let seq = c.u64()?;
        let head = c.digest()?;
        let last_ts_ms = c.u64()?;
        let nodes = seq.count_ones() as usize;
        let mut hashes = Vec::with_capacity(nodes);
        for _ in 0..nodes {
            hashes.push(c.digest()?);
        }
        let frontier = Frontier::from_hashes(seq, hashes).map_err(|_| IndexError::Entry { offset: at })?;
        if seq == 0 || w.is_empty() || s.is_empty() {
            return Err(IndexError::Entry { offset: at });
        }
        heads.push((
            (w, s),
            StreamHead {
                seq,
                head,
                frontier,
                last_ts_ms,
            },
        ));
    }
    if c.pos != body.len() {
        return Err(IndexError::Entry { offset: c.pos });
    }
    Ok(SegmentIndex {
        segment,
        len,
        digest,
        records,
        chains: Chains::from_heads(heads),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use audit_canon::{Digest, leaf_hash};

    fn sample() -> Chains {
        let mut heads = Vec::new();
        for (i, w) in ["w1", "w2"].iter().enumerate() {
            let mut f = Frontier::new();
            let n = 5 + i as u64;
            for k in 0..n {
                f.push(leaf_hash(&Digest::of(&k.to_le_bytes()))).unwrap();
            }
            heads.push((
                (w.to_string(), "s".to_string()),
                StreamHead {
                    seq: n,
                    head: Digest::of(w.as_bytes()),
                    frontier: f,
                    last_ts_ms: 9,
                },
            ));
        }
        Chains::from_heads(heads)
    }

    #[test]
    fn index_round_trips() {
        let bytes = encode_index(3, 1000, &Digest::of(b"seg"), 11, &sample());
        let idx = decode_index(&bytes, 3).unwrap();
        assert_eq!(idx.chains, sample());
        assert_eq!((idx.segment, idx.len, idx.records), (3, 1000, 11));
        assert_eq!(
            decode_index(&bytes, 4),
            Err(IndexError::Segment {
                found: 3,
                expected: 4
            })
        );
    }

    /// A segment of `len` bytes holds at most (len - 32) / 46 records (a
    /// frame is at least 45 bytes around 1 byte of record).
    #[test]
    fn a_record_count_no_segment_of_its_length_holds_is_refused() {
        let len = 32 + 46 * 7;
        assert!(decode_index(&encode_index(1, len, &Digest::of(b"x"), 7, &sample()), 1).is_ok());
        for records in [8, u64::MAX] {
            let bytes = encode_index(1, len, &Digest::of(b"x"), records, &sample());
            assert_eq!(
                decode_index(&bytes, 1),
                Err(IndexError::Entry { offset: 56 }),
                "{records}"
            );
        }
        let bytes = encode_index(1, 0, &Digest::of(b"x"), 1, &sample());
        assert!(decode_index(&bytes, 1).is_err());
    }

    #[test]
    fn any_damage_or_truncation_is_refused_without_panicking() {
        let bytes = encode_index(1, 1000, &Digest::of(b"x"), 11, &sample());
        assert!(decode_index(&bytes, 1).is_ok());
        for cut in 0..bytes.len() {
            assert!(decode_index(&bytes[..cut], 1).is_err(), "cut {cut}");
        }
        for at in 0..bytes.len() {
            let mut b = bytes.clone();
            b[at] ^= 0x40;
            assert!(decode_index(&b, 1).is_err(), "flip {at}");
        }
    }
}
