//! Fuzz target `checkpoint_line`: arbitrary bytes as a line of
//! `checkpoints.jsonl`. Invariants: no panic; whatever parses writes back
//! to exactly the input (one checkpoint, one representation).
#![no_main]

use audit_verify::SignedCheckpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cp) = SignedCheckpoint::parse_line(data) {
        assert_eq!(cp.to_line().as_bytes(), data);
        let again = SignedCheckpoint::parse_line(cp.to_line().as_bytes()).expect("its own line parses");
        assert_eq!(again, cp);
    }
});
