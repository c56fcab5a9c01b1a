//! Fuzz target `consistency_proof`: the Merkle consistency check of
//! FORMAT-v1.md section 5 on fuzzer-chosen trees. The first byte picks a
//! mode. Raw: arbitrary sizes, roots and path; the check must not panic
//! whatever the sizes. Real: a tree of 1..=256 leaves, a real proof from
//! an older size, and at most one mutation; the unmutated proof must
//! verify, and a changed path byte, root or path length must not.
#![no_main]

use audit_canon::{Blake3Tree, Digest, consistency_path, root_of, verify_consistency};
use libfuzzer_sys::fuzz_target;

mod merkle_input;
use merkle_input::{Mutation, digests, leaves, u64_at};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        // Raw: old size, new size, then old root, new root and path.
        let (old, new) = (u64_at(rest, 0), u64_at(rest, 8));
        let d = digests(rest.get(16..).unwrap_or_default());
        if let [r1, r2, path @ ..] = d.as_slice() {
            let _ = verify_consistency(&Blake3Tree, old, new, r1, r2, path);
        }
        return;
    }
    let n = (u64_at(rest, 0) % 256 + 1) as usize;
    let m = (u64_at(rest, 2) % n as u64 + 1) as usize;
    let leaves = leaves(n);
    let (old_root, new_root) = (root_of(&leaves[..m]).unwrap(), root_of(&leaves).unwrap());
    let mut path = consistency_path(&Blake3Tree, &leaves, m as u64).unwrap();
    let (mut r1, mut r2) = (old_root, new_root);
    let (mut old, mut new) = (m as u64, n as u64);
    let mutation = Mutation::of(rest);
    let (kind, pos, flip) = (mutation.kind, mutation.pos, |d: &mut Digest| mutation.flip(d));
    // Whether the mutation must make the check fail. Equal sizes take an
    // empty path and compare roots, so a flipped root fails there too.
    let must_fail = match kind {
        0 if !path.is_empty() => {
            let i = pos % path.len();
            flip(&mut path[i]);
            true
        }
        1 => {
            flip(&mut r1);
            true
        }
        2 => {
            flip(&mut r2);
            true
        }
        3 if !path.is_empty() => {
            path.pop();
            true
        }
        4 => {
            path.push(leaves[pos % n]);
            true
        }
        // Other sizes: no claim, only no panic.
        5 => {
            old = u64_at(rest, 7);
            false
        }
        6 => {
            new = u64_at(rest, 7);
            false
        }
        _ => false,
    };
    let result = verify_consistency(&Blake3Tree, old, new, &r1, &r2, &path);
    if must_fail {
        assert!(result.is_err(), "a mutated proof verified (kind {kind})");
    } else if (old, new) == (m as u64, n as u64) {
        assert!(result.is_ok(), "a real proof was refused: {result:?}");
    }
});
