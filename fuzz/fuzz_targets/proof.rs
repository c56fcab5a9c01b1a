//! Fuzz target `proof`: arbitrary bytes as a proof file, checked without
//! trusted keys (so the Merkle and record checks run) and with one.
//! Invariant: no panic, and every failure has a class.
#![no_main]

use audit_verify::{PublicKey, TrustSet, verify_proof};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = verify_proof(data, &TrustSet::new()) {
        let _ = e.class();
    }
    let key = PublicKey::from_raw(&[
        0x3d, 0x40, 0x17, 0xc3, 0xe8, 0x43, 0x89, 0x5a, 0x92, 0xb7, 0x0a, 0xa7, 0x4d, 0x1b, 0x7e, 0xbc, 0x9c,
        0x98, 0x2c, 0xcf, 0x2e, 0xc4, 0x96, 0x8c, 0xc0, 0xcd, 0x55, 0xf1, 0x2a, 0xf4, 0x66, 0x0c,
    ]);
    if let Ok(k) = key {
        let _ = verify_proof(data, &TrustSet::new().with_key(k));
    }
});
