//! Fuzz target `canonicalize`: arbitrary bytes through the record parser,
//! the canonical writer and the single-pass validator. Invariants checked:
//! no panic; whatever parses canonicalizes to bytes that verify, reparse to
//! the same record and canonicalize to themselves; the validator accepts the
//! input exactly when it equals its own canonical form.
#![no_main]

use audit_canon::{Limits, parse_record, verify_record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let verified = verify_record(data, &limits);
    match parse_record(data, &limits) {
        Ok(p) => {
            let digest = verify_record(&p.canonical, &limits).expect("canonical bytes verify");
            assert_eq!(digest, p.self_hash);
            let again = parse_record(&p.canonical, &limits).expect("canonical bytes reparse");
            assert_eq!(again.record, p.record);
            assert_eq!(again.canonical, p.canonical);
            assert_eq!(
                verified.is_ok(),
                p.canonical == data,
                "validator disagrees with parse+canonicalize"
            );
        }
        Err(e) => {
            let v = verified.expect_err("verify accepted what parse refused");
            assert_eq!(v.code(), e.code());
        }
    }
});
