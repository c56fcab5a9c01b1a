//! The 32-byte segment header and segment file names (FORMAT-v1.md section 4).
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

/// `"RON-AUD"` and format version 1: the first 8 bytes of every segment.
pub const SEGMENT_MAGIC: [u8; 8] = *b"RON-AUD\x01";

/// Length of the segment header.
pub const SEGMENT_HEADER_LEN: usize = 32;

/// The header of segment `number`.
pub fn encode_header(number: u64) -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    let (magic, rest) = h.split_at_mut(8);
    magic.copy_from_slice(&SEGMENT_MAGIC);
    // flags (2) and reserved (4) stay zero.
    if let Some(n) = rest.get_mut(6..14) {
        n.copy_from_slice(&number.to_le_bytes());
    }
    h
}

/// Checks a segment header: magic, flags 0, the segment number the file
/// name gives, zero padding. The reserved field is ignored, as the format
/// says.
pub fn decode_header(bytes: &[u8], expected: u64) -> Result<(), HeaderError> {
    let Some(h) = bytes.get(..SEGMENT_HEADER_LEN) else {
        return Err(HeaderError::Short { len: bytes.len() });
    };
    let field = |at: usize, n: usize| h.get(at..at + n).unwrap_or_default();
    if field(0, 8) != SEGMENT_MAGIC {
        let mut found = [0u8; 8];
        found.copy_from_slice(field(0, 8));
        return Err(HeaderError::Magic { found });
    }
    let flags = u16::from_le_bytes([h.get(8).copied().unwrap_or(0), h.get(9).copied().unwrap_or(0)]);
    if flags != 0 {
        return Err(HeaderError::Flags { flags });
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(field(14, 8));
    let number = u64::from_le_bytes(n);
    if number != expected {
        return Err(HeaderError::Number {
            found: number,
            expected,
        });
    }
    if let Some(at) = field(22, 10).iter().position(|&b| b != 0) {
        return Err(HeaderError::Padding { offset: 22 + at });
    }
    Ok(())
}

/// A segment header that does not match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The file is shorter than a header.
    #[error("the file has {len} bytes, less than the 32-byte header")]
    Short {
        /// The file's length.
        len: usize,
    },
    /// The magic or the format version is not ours.
    #[error("magic is {found:02x?}, not \"RON-AUD\" version 1")]
    Magic {
        /// The first 8 bytes.
        found: [u8; 8],
    },
    /// Flags other than 0.
    #[error("flags are {flags:#06x}, not 0")]
    Flags {
        /// The flags field.
        flags: u16,
    },
    /// The number in the header is not the one in the file name.
    #[error("header says segment {found}, the file name says {expected}")]
    Number {
        /// The header's number.
        found: u64,
        /// The file name's number.
        expected: u64,
    },
    /// A non-zero byte in the zero padding.
    #[error("non-zero padding byte at offset {offset}")]
    Padding {
        /// The byte's offset in the file.
        offset: usize,
    },
}

/// `wal-NNNNNN.seg`: at least 6 digits, zero-padded.
pub fn segment_file_name(number: u64) -> String {
    format!("wal-{number:06}.seg")
}

/// The segment number of a file named like [`segment_file_name`], or
/// `None` for any other name. Extra leading zeros are refused, so a number
/// has exactly one file name.
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("wal-")?.strip_suffix(".seg")?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    (segment_file_name(n) == name).then_some(n)
}

/// The first number missing from a directory's segment `numbers`
/// (sorted, distinct), which must run from 1 without a gap: 1 when there
/// are none, `None` when they are whole. Every reader of a WAL directory
/// refuses one with a gap (FORMAT-v1.md section 4: a missing segment
/// number is corruption).
pub fn first_missing_segment(numbers: impl IntoIterator<Item = u64>) -> Option<u64> {
    let mut expected = 1;
    for n in numbers {
        if n != expected {
            return Some(expected);
        }
        expected += 1;
    }
    (expected == 1).then_some(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_missing_segment_is_found_and_none_is_missing_the_first() {
        let check = |ns: &[u64], want: Option<u64>| {
            assert_eq!(first_missing_segment(ns.iter().copied()), want, "{ns:?}")
        };
        check(&[], Some(1));
        check(&[1], None);
        check(&[1, 2, 3], None);
        check(&[2, 3], Some(1));
        check(&[1, 3], Some(2));
        check(&[1, 2, 4, 5], Some(3));
    }

    #[test]
    fn header_round_trips_and_names_its_number() {
        let h = encode_header(7);
        assert_eq!(&h[..8], b"RON-AUD\x01");
        assert_eq!(&h[14..22], &7u64.to_le_bytes());
        assert_eq!(decode_header(&h, 7), Ok(()));
        assert_eq!(
            decode_header(&h, 8),
            Err(HeaderError::Number {
                found: 7,
                expected: 8
            })
        );
    }

    #[test]
    fn reserved_field_is_ignored_but_padding_is_not() {
        let mut h = encode_header(1);
        h[10..14].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(decode_header(&h, 1), Ok(()));
        h[31] = 1;
        assert_eq!(decode_header(&h, 1), Err(HeaderError::Padding { offset: 31 }));
        assert_eq!(decode_header(&h[..31], 1), Err(HeaderError::Short { len: 31 }));
    }

    #[test]
    fn file_names_are_canonical() {
        assert_eq!(segment_file_name(1), "wal-000001.seg");
        assert_eq!(segment_file_name(1234567), "wal-1234567.seg");
        for (name, want) in [
            ("wal-000001.seg", Some(1)),
            ("wal-1234567.seg", Some(1234567)),
            ("wal-00001.seg", None),
            ("wal-0000001.seg", None),
            ("wal-00000a.seg", None),
            ("wal-000001.seg.tmp", None),
            ("wal-000001.idx", None),
        ] {
            assert_eq!(parse_segment_file_name(name), want, "{name}");
        }
    }
}
