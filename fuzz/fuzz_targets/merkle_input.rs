//! Shared by the `inclusion_proof` and `consistency_proof` fuzz targets:
//! reading numbers and hashes out of the fuzzer's bytes, the leaves of a
//! real tree, and the one-byte mutation both targets apply.

use audit_canon::{Digest, leaf_hash};

/// The little-endian u64 at `at` (missing bytes are zeros).
pub fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in b.iter_mut().enumerate() {
        *x = data.get(at + i).copied().unwrap_or(0);
    }
    u64::from_le_bytes(b)
}

/// `data` as 32-byte hashes (a short tail is dropped).
pub fn digests(data: &[u8]) -> Vec<Digest> {
    data.chunks_exact(32)
        .map(|c| Digest::from_bytes(c.try_into().unwrap()))
        .collect()
}

/// The leaf hashes of a tree of `n` records.
pub fn leaves(n: usize) -> Vec<Digest> {
    (0..n as u64)
        .map(|i| leaf_hash(&Digest::of(&i.to_le_bytes())))
        .collect()
}

/// The mutation a real-mode input asks for: its kind, a position and a
/// non-zero byte to XOR with.
pub struct Mutation {
    pub kind: u8,
    pub pos: usize,
    pub xor: u8,
}

impl Mutation {
    pub fn of(rest: &[u8]) -> Self {
        Self {
            kind: rest.get(4).copied().unwrap_or(0) % 8,
            pos: rest.get(5).copied().unwrap_or(0) as usize,
            xor: rest.get(6).copied().unwrap_or(0) | 1,
        }
    }

    /// Flips one byte of `d`.
    pub fn flip(&self, d: &mut Digest) {
        let mut b = *d.as_bytes();
        b[self.pos % 32] ^= self.xor;
        *d = Digest::from_bytes(b);
    }
}
