//! Fuzz target `checkpoint_json`: arbitrary bytes as a signed checkpoint in
//! any JSON form, as a proof file holds it. Invariants: no panic; whatever
//! parses is a checkpoint whose canonical line parses strictly back to it,
//! so what a signature is checked over is exactly what was read.
#![no_main]

use audit_verify::SignedCheckpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cp) = SignedCheckpoint::parse_json(data) {
        let line = cp.to_line();
        let strict = SignedCheckpoint::parse_line(line.as_bytes()).expect("its canonical line parses");
        assert_eq!(strict, cp);
        assert_eq!(SignedCheckpoint::parse_json(line.as_bytes()).expect("and as JSON"), cp);
    }
});
