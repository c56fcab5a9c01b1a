//! Leaf and node hashing, the hasher trait the proofs are generic over, and
//! the root of a slice of leaves (via rs_merkle, cross-checked in tests
//! against the recursive RFC 9162 definition).

use crate::digest::Digest;

/// `leaf(record) = H(0x00 || raw self_hash digest)`.
pub fn leaf_hash(self_hash: &Digest) -> Digest {
    // One call on a stack buffer: `blake3::hash` of a short input skips
    // the incremental hasher's setup, which costs as much as the hash here.
    let mut input = [0x00; 33];
    let (_, rest) = input.split_at_mut(1);
    rest.copy_from_slice(self_hash.as_bytes());
    blake3::hash(&input).into()
}

/// `node(l, r) = H(0x01 || l || r)`.
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    let mut input = [0x01; 65];
    let (_, rest) = input.split_at_mut(1);
    let (l, r) = rest.split_at_mut(32);
    l.copy_from_slice(left.as_bytes());
    r.copy_from_slice(right.as_bytes());
    blake3::hash(&input).into()
}

/// The interior-node hash of a Merkle tree, so that the RFC 9162 proof
/// algorithms here can be checked against other logs' published vectors
/// (with SHA-256) as well as used with ron-audit's BLAKE3 tree.
pub trait TreeHasher {
    /// A node hash. `PartialEq` is what compares roots; make it
    /// constant-time where it matters (ron-audit's [`Digest`] is).
    type Hash: Clone + PartialEq;

    /// The parent of two nodes.
    fn hash_children(&self, left: &Self::Hash, right: &Self::Hash) -> Self::Hash;

    /// Whether a leaf hash or proof element has the shape of a hash (e.g.
    /// the right length, for byte-vector hash types). Ill-formed inputs are
    /// rejected before any hashing.
    fn is_well_formed(&self, _hash: &Self::Hash) -> bool {
        true
    }
}

/// ron-audit's tree: BLAKE3 with the `0x01` node prefix.
#[derive(Debug, Clone, Copy, Default)]
pub struct Blake3Tree;

impl TreeHasher for Blake3Tree {
    type Hash = Digest;

    fn hash_children(&self, left: &Digest, right: &Digest) -> Digest {
        node_hash(left, right)
    }
}

/// rs_merkle's view of our node hash. rs_merkle promotes an unpaired last
/// node unchanged, which FORMAT-v1.md section 5 notes gives the RFC 9162 root.
#[derive(Clone)]
struct RsMerkleBlake3;

impl rs_merkle::Hasher for RsMerkleBlake3 {
    type Hash = [u8; 32];

    fn hash(data: &[u8]) -> [u8; 32] {
        // Only reached for interior nodes via `concat_and_hash`, which
        // passes the 64 concatenated child bytes.
        let mut h = blake3::Hasher::new();
        h.update(&[0x01]);
        h.update(data);
        *h.finalize().as_bytes()
    }
}

/// The root of the tree over `leaves` (leaf hashes), or `None` when empty.
pub fn root_of(leaves: &[Digest]) -> Option<Digest> {
    if leaves.is_empty() {
        return None;
    }
    let raw: Vec<[u8; 32]> = leaves.iter().map(|d| *d.as_bytes()).collect();
    rs_merkle::MerkleTree::<RsMerkleBlake3>::from_leaves(&raw)
        .root()
        .map(Digest::from_bytes)
}
