//! Fuzz target `record`: arbitrary bytes as a stored record, the way a
//! log reader sees them (`verify_record_link`, the single-pass validator).
//! Invariants: no panic; the validator accepts exactly the bytes that
//! parse and are already canonical, and then reports the parsed record's
//! chain fields and digest; its error code matches the parser's.
#![no_main]

use audit_canon::{Limits, parse_record, verify_record_link};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let link = verify_record_link(data, &limits);
    match (parse_record(data, &limits), link) {
        (Ok(p), Ok(l)) => {
            assert_eq!(p.canonical, data, "validator accepted non-canonical bytes");
            let r = &p.record;
            assert_eq!(l.self_hash, p.self_hash);
            assert_eq!((l.ts_ms, l.seq), (r.ts_ms(), r.seq()));
            assert_eq!((&*l.writer_id, &*l.stream), (r.writer_id(), r.stream()));
            assert_eq!(l.prev, *r.prev());
        }
        (Ok(p), Err(_)) => assert_ne!(p.canonical, data, "validator refused canonical bytes"),
        (Err(e), Err(v)) => assert_eq!(e.code(), v.code()),
        (Err(_), Ok(_)) => panic!("validator accepted what the parser refused"),
    }
});
