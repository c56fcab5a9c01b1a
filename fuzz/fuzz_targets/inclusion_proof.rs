//! Fuzz target `inclusion_proof`: the Merkle inclusion check of
//! FORMAT-v1.md section 5 on fuzzer-chosen trees. The first byte picks a
//! mode. Raw: arbitrary index, size, leaf, path and root; the check must
//! not panic whatever the sizes. Real: a tree of 1..=256 leaves, a real
//! proof for one leaf, and at most one mutation; the unmutated proof must
//! verify, and a changed path byte, leaf, root or path length must not.
#![no_main]

use audit_canon::{Blake3Tree, Digest, inclusion_path, root_of, verify_inclusion};
use libfuzzer_sys::fuzz_target;

mod merkle_input;
use merkle_input::{Mutation, digests, leaves, u64_at};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        // Raw: index, size, then leaf, root and path as 32-byte chunks.
        let (index, size) = (u64_at(rest, 0), u64_at(rest, 8));
        let d = digests(rest.get(16..).unwrap_or_default());
        if let [leaf, root, path @ ..] = d.as_slice() {
            let _ = verify_inclusion(&Blake3Tree, index, size, leaf, path, root);
        }
        return;
    }
    let n = (u64_at(rest, 0) % 256 + 1) as usize;
    let index = u64_at(rest, 2) % n as u64;
    let leaves = leaves(n);
    let root = root_of(&leaves).unwrap();
    let mut leaf = leaves[index as usize];
    let mut path = inclusion_path(&Blake3Tree, &leaves, index).unwrap();
    let mut root_seen = root;
    let (mut at, mut size) = (index, n as u64);
    let m = Mutation::of(rest);
    let (kind, pos, flip) = (m.kind, m.pos, |d: &mut Digest| m.flip(d));
    // Whether the mutation must make the check fail.
    let must_fail = match kind {
        0 if !path.is_empty() => {
            let i = pos % path.len();
            flip(&mut path[i]);
            true
        }
        1 => {
            flip(&mut leaf);
            true
        }
        2 => {
            flip(&mut root_seen);
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
        // Another index or size: no claim (a size can share a path
        // shape), only no panic.
        5 => {
            at = u64_at(rest, 7);
            false
        }
        6 => {
            size = u64_at(rest, 7);
            false
        }
        _ => false,
    };
    let result = verify_inclusion(&Blake3Tree, at, size, &leaf, &path, &root_seen);
    if must_fail {
        assert!(result.is_err(), "a mutated proof verified (kind {kind})");
    } else if (at, size) == (index, n as u64) {
        assert!(result.is_ok(), "a real proof was refused: {result:?}");
    }
});
