//! Fuzz target `segment`: arbitrary bytes as a WAL segment through the
//! shared reader (audit-verify), as the newest segment (torn tail allowed)
//! and as a sealed one. Invariants: no panic; every frame the reader
//! returns lies inside the input, back to back from offset 32; a torn tail
//! starts where the frames end and runs to the end of the input; a sealed
//! read accepts exactly what a newest read accepts without a torn tail.
#![no_main]

use audit_canon::Limits;
use audit_verify::{Chains, SEGMENT_HEADER_LEN, SegmentReader, Step, scan_segment};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(mut r) = SegmentReader::new(data, 1) {
        let mut at = SEGMENT_HEADER_LEN as u64;
        loop {
            match r.next_step() {
                Ok(Step::Frame(f)) => {
                    assert_eq!(f.offset, at);
                    at += f.encoded_len();
                    assert!(at <= data.len() as u64);
                }
                Ok(Step::End) => {
                    assert_eq!(at, data.len() as u64);
                    break;
                }
                Ok(Step::Torn(t)) => {
                    assert_eq!((t.offset, t.offset + t.len), (at, data.len() as u64));
                    break;
                }
                Err(e) => {
                    // Past a good header only a frame can be bad, at its start.
                    assert_eq!(e.offset(), at);
                    break;
                }
            }
        }
    }
    let newest = scan_segment(data, 1, true, &mut Chains::new(), &limits, |_, _| {});
    let sealed = scan_segment(data, 1, false, &mut Chains::new(), &limits, |_, _| {});
    match (&newest, &sealed) {
        (Ok(n), Ok(s)) => assert_eq!((n.records, n.torn, n.end), (s.records, s.torn, s.end)),
        (Ok(n), Err(_)) => assert!(n.torn.is_some()),
        (Err(a), Err(b)) => assert_eq!(a, b),
        (Err(_), Ok(_)) => panic!("a sealed read accepted what a newest read refused"),
    }
});
