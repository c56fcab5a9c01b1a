//! Fuzz target `frame`: arbitrary bytes as a segment header and the frame
//! after it (inputs of at most 32 bytes also as a frame alone).
//! Invariants: no panic; a header decodes exactly when it is the encoding
//! of its number, reserved bytes aside; a decoded frame lies inside the
//! input and encodes back to exactly its bytes; `Incomplete` only when
//! the bytes end before the frame does; `BadLen` only for a `len` outside
//! `1..=MAX_FRAME_LEN`.
#![no_main]

use audit_verify::{
    Decoded, FRAME_OVERHEAD, MAX_FRAME_LEN, SEGMENT_HEADER_LEN, decode_frame, decode_header, encode_frame,
    encode_header,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The header: the number is bytes 14..22 (little-endian); the
    // reserved bytes 10..14 are ignored, everything else must match.
    if data.len() >= SEGMENT_HEADER_LEN {
        let number = u64::from_le_bytes(data[14..22].try_into().unwrap());
        let want = encode_header(number);
        let same = data[..10] == want[..10] && data[14..SEGMENT_HEADER_LEN] == want[14..];
        assert_eq!(decode_header(data, number).is_ok(), same, "header {number}");
    } else {
        assert!(decode_header(data, 1).is_err());
    }

    // The frame: after the header when there is one (seeds are segments).
    let data = data
        .get(SEGMENT_HEADER_LEN..)
        .filter(|b| !b.is_empty())
        .unwrap_or(data);
    match decode_frame(data, 32) {
        Decoded::Frame(f) => {
            assert_eq!(f.offset, 32);
            let n = f.encoded_len() as usize;
            assert!(n <= data.len() && n == FRAME_OVERHEAD + f.canonical.len());
            let mut again = Vec::new();
            encode_frame(&mut again, f.v, f.seq, f.canonical, &f.digest).expect("a decoded length encodes");
            assert_eq!(again, &data[..n]);
        }
        Decoded::Incomplete { need, have } => {
            assert_eq!(have, data.len() as u64);
            assert!(need > have);
        }
        Decoded::BadLen { len } => {
            assert!(!(1..=MAX_FRAME_LEN).contains(&len));
            assert_eq!(data[..4], len.to_le_bytes());
        }
    }
});
