//! One WAL frame: `len` u32, `v` u8, `seq` u64, the record's canonical
//! bytes, their 32-byte digest (FORMAT-v1.md section 4).
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use audit_canon::Digest;

/// Bytes a frame adds around the canonical bytes: 4 + 1 + 8 + 32.
pub const FRAME_OVERHEAD: usize = 45;

/// The largest `len` a frame may declare (1 MiB).
pub const MAX_FRAME_LEN: u32 = 1 << 20;

/// The fixed part before the canonical bytes: `len`, `v`, `seq`.
const PREFIX: usize = 13;

/// A decoded frame, borrowing its canonical bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The frame's offset in its segment file.
    pub offset: u64,
    /// The `v` byte.
    pub v: u8,
    /// The `seq` field.
    pub seq: u64,
    /// The record's canonical bytes (`len` of them).
    pub canonical: &'a [u8],
    /// The stored digest.
    pub digest: Digest,
}

impl Frame<'_> {
    /// The frame's length on disk.
    pub fn encoded_len(&self) -> u64 {
        (FRAME_OVERHEAD + self.canonical.len()) as u64
    }
}

/// Appends the frame of one record to `out`. The caller passes the
/// record's canonical bytes and their digest; `len` must be in
/// `1..=MAX_FRAME_LEN`.
pub fn encode_frame(
    out: &mut Vec<u8>,
    v: u8,
    seq: u64,
    canonical: &[u8],
    digest: &Digest,
) -> Result<(), FrameLenError> {
    let len = u32::try_from(canonical.len())
        .ok()
        .filter(|l| (1..=MAX_FRAME_LEN).contains(l))
        .ok_or(FrameLenError { len: canonical.len() })?;
    out.reserve(FRAME_OVERHEAD + canonical.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.push(v);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(canonical);
    out.extend_from_slice(digest.as_bytes());
    Ok(())
}

/// Canonical bytes that no frame can hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a frame holds 1..=1048576 bytes of record, not {len}")]
pub struct FrameLenError {
    /// The rejected length.
    pub len: usize,
}

/// What the bytes at a frame boundary hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A whole frame (its fields are not yet checked against the record).
    Frame(Frame<'a>),
    /// The bytes end inside a frame whose `len` is valid: `len` says it
    /// needs `need` bytes, `have` remain.
    Incomplete {
        /// The frame's full length.
        need: u64,
        /// Bytes left in the file.
        have: u64,
    },
    /// A `len` outside `1..=MAX_FRAME_LEN` (all-zero bytes included).
    BadLen {
        /// The `len` field.
        len: u32,
    },
}

/// Decodes the frame at the start of `bytes`, which sits at `offset` in
/// its file. Never allocates and never reads past `bytes`.
pub fn decode_frame(bytes: &[u8], offset: u64) -> Decoded<'_> {
    let have = bytes.len() as u64;
    let Some(len) = bytes
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
    else {
        // Fewer than 4 bytes: a frame's start, or nothing a frame starts with.
        return Decoded::Incomplete {
            need: FRAME_OVERHEAD as u64 + 1,
            have,
        };
    };
    if !(1..=MAX_FRAME_LEN).contains(&len) {
        return Decoded::BadLen { len };
    }
    let n = len as usize;
    let need = (FRAME_OVERHEAD + n) as u64;
    let (Some(head), Some(canonical), Some(digest)) = (
        bytes.get(4..PREFIX),
        bytes.get(PREFIX..PREFIX + n),
        bytes.get(PREFIX + n..PREFIX + n + 32),
    ) else {
        return Decoded::Incomplete { need, have };
    };
    let (v, seq) = head.split_first().map_or((0, [0u8; 8]), |(v, s)| {
        let mut q = [0u8; 8];
        q.copy_from_slice(s);
        (*v, q)
    });
    let mut d = [0u8; 32];
    d.copy_from_slice(digest);
    Decoded::Frame(Frame {
        offset,
        v,
        seq: u64::from_le_bytes(seq),
        canonical,
        digest: Digest::from_bytes(d),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn frames_round_trip_and_every_prefix_is_incomplete() {
        let canonical = br#"{"v":1}"#;
        let digest = Digest::of(canonical);
        let mut buf = Vec::new();
        encode_frame(&mut buf, 1, 9, canonical, &digest).unwrap();
        assert_eq!(buf.len(), FRAME_OVERHEAD + canonical.len());
        assert_eq!(&buf[..4], &7u32.to_le_bytes());
        let want = Frame {
            offset: 32,
            v: 1,
            seq: 9,
            canonical,
            digest,
        };
        assert_eq!(decode_frame(&buf, 32), Decoded::Frame(want));
        for cut in 0..buf.len() {
            assert!(
                matches!(decode_frame(&buf[..cut], 32), Decoded::Incomplete { have, .. } if have == cut as u64),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn lengths_outside_the_range_are_refused_both_ways() {
        assert_eq!(
            encode_frame(&mut Vec::new(), 1, 1, b"", &Digest::of(b"")),
            Err(FrameLenError { len: 0 })
        );
        let big = vec![b'x'; (MAX_FRAME_LEN + 1) as usize];
        assert!(encode_frame(&mut Vec::new(), 1, 1, &big, &Digest::of(b"")).is_err());
        assert_eq!(decode_frame(&[0; 64], 0), Decoded::BadLen { len: 0 });
        let mut huge = (MAX_FRAME_LEN + 1).to_le_bytes().to_vec();
        huge.extend([0; 60]);
        assert_eq!(
            decode_frame(&huge, 0),
            Decoded::BadLen {
                len: MAX_FRAME_LEN + 1
            }
        );
    }
}
