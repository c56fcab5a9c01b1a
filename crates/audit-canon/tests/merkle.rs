//! Merkle known answers: our BLAKE3 vectors, tampered proofs, and the
//! transparency-dev/merkle RFC 6962 vectors run through our generic
//! verifier with SHA-256.

#![allow(clippy::expect_fun_call)]

mod common;

use std::path::Path;

use audit_canon::{
    Blake3Tree, ConsistencyProofError, Digest, Frontier, InclusionProofError, TreeHasher, consistency_path,
    inclusion_path, leaf_hash, recursive_root, root_of, verify_consistency, verify_inclusion,
};
use base64::Engine as _;
use common::{load, str_of, u64_of};
use sha2::{Digest as _, Sha256};

fn digest(s: &str) -> Digest {
    Digest::parse(s).expect("hash string")
}

fn digests(v: &serde_json::Value) -> Vec<Digest> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| digest(x.as_str().expect("str")))
        .collect()
}

/// The tree's leaves, rebuilt from the literal description in the vector
/// file with blake3 directly.
fn leaves() -> Vec<Digest> {
    let doc = load("merkle.json");
    let records = digests(&doc["record_self_hashes"]);
    for (i, r) in records.iter().enumerate() {
        let want = blake3::hash(format!("ron-audit vector record {i}").as_bytes());
        assert_eq!(r.as_bytes(), want.as_bytes(), "record {i}");
    }
    records.iter().map(leaf_hash).collect()
}

/// MTH written out again in the test, on raw blake3, as the oracle.
fn oracle_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    if leaves.len() == 1 {
        return leaves[0];
    }
    let mut k = 1;
    while k * 2 < leaves.len() {
        k *= 2;
    }
    let l = oracle_root(&leaves[..k]);
    let r = oracle_root(&leaves[k..]);
    *blake3::hash(&[&[1u8][..], &l, &r].concat()).as_bytes()
}

#[test]
fn roots_match_vectors_by_frontier_rs_merkle_and_recursion() {
    let doc = load("merkle.json");
    let leaves = leaves();
    for case in doc["roots"].as_array().expect("roots") {
        let n = u64_of(case, "size") as usize;
        let want = digest(str_of(case, "root"));
        let raw: Vec<[u8; 32]> = leaves[..n].iter().map(|d| *d.as_bytes()).collect();
        assert_eq!(oracle_root(&raw), *want.as_bytes(), "oracle, size {n}");
        assert_eq!(root_of(&leaves[..n]), Some(want), "rs_merkle, size {n}");
        assert_eq!(
            recursive_root(&Blake3Tree, &leaves[..n]),
            Some(want),
            "recursive, size {n}"
        );
        let mut f = Frontier::new();
        for l in &leaves[..n] {
            f.push(*l).expect("push");
        }
        assert_eq!(f.root(), Some(want), "frontier, size {n}");
        let hashes = digests(&case["frontier"]);
        assert_eq!(f.hashes(), &hashes[..], "frontier hashes, size {n}");
        let back = Frontier::from_hashes(n as u64, hashes).expect("from_hashes");
        assert_eq!(back, f);
    }
}

#[test]
fn frontier_from_hashes_refuses_the_wrong_count() {
    let err = Frontier::from_hashes(3, vec![Digest::of(b"x")]).expect_err("3 needs 2 hashes");
    assert!(matches!(
        err,
        audit_canon::FrontierError::Length {
            size: 3,
            got: 1,
            want: 2
        }
    ));
}

#[test]
fn committed_proofs_verify_and_regenerate() {
    let doc = load("merkle.json");
    let leaves = leaves();
    for case in doc["inclusion"].as_array().expect("inclusion") {
        let (i, n) = (u64_of(case, "leaf_index"), u64_of(case, "tree_size"));
        let path = digests(&case["path"]);
        let root = digest(str_of(case, "root"));
        assert_eq!(
            inclusion_path(&Blake3Tree, &leaves[..n as usize], i).expect("path"),
            path
        );
        verify_inclusion(&Blake3Tree, i, n, &leaves[i as usize], &path, &root).expect(str_of(case, "desc"));
    }
    for case in doc["consistency"].as_array().expect("consistency") {
        let (m, n) = (u64_of(case, "old_size"), u64_of(case, "new_size"));
        let path = digests(&case["path"]);
        assert_eq!(
            consistency_path(&Blake3Tree, &leaves[..n as usize], m).expect("path"),
            path
        );
        let (ro, rn) = (digest(str_of(case, "old_root")), digest(str_of(case, "new_root")));
        verify_consistency(&Blake3Tree, m, n, &ro, &rn, &path).expect(str_of(case, "desc"));
    }
}

#[test]
fn tampered_proofs_fail_with_their_error() {
    let doc = load("merkle.json");
    for case in doc["inclusion_invalid"].as_array().expect("inclusion_invalid") {
        let err: InclusionProofError = verify_inclusion(
            &Blake3Tree,
            u64_of(case, "leaf_index"),
            u64_of(case, "tree_size"),
            &digest(str_of(case, "leaf")),
            &digests(&case["path"]),
            &digest(str_of(case, "root")),
        )
        .expect_err(str_of(case, "desc"));
        assert_eq!(err.code(), str_of(case, "want_err"), "{}", str_of(case, "desc"));
    }
    for case in doc["consistency_invalid"]
        .as_array()
        .expect("consistency_invalid")
    {
        let err: ConsistencyProofError = verify_consistency(
            &Blake3Tree,
            u64_of(case, "old_size"),
            u64_of(case, "new_size"),
            &digest(str_of(case, "old_root")),
            &digest(str_of(case, "new_root")),
            &digests(&case["path"]),
        )
        .expect_err(str_of(case, "desc"));
        assert_eq!(err.code(), str_of(case, "want_err"), "{}", str_of(case, "desc"));
    }
}

/// RFC 6962 SHA-256 hashing over byte vectors, as transparency-dev uses.
struct Sha256Tree;

impl TreeHasher for Sha256Tree {
    type Hash = Vec<u8>;

    fn hash_children(&self, l: &Vec<u8>, r: &Vec<u8>) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(l);
        h.update(r);
        h.finalize().to_vec()
    }

    fn is_well_formed(&self, h: &Vec<u8>) -> bool {
        h.len() == 32
    }
}

fn b64(v: &serde_json::Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap_or_default())
        .expect("base64")
}

fn b64_list(v: &serde_json::Value) -> Vec<Vec<u8>> {
    v.as_array()
        .map(|a| a.iter().map(b64).collect())
        .unwrap_or_default()
}

fn json_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.expect("entry").path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

fn external(kind: &str) -> Vec<(String, serde_json::Value)> {
    let dir = common::vectors_dir()
        .join("external/transparency-dev-merkle")
        .join(kind);
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let v = serde_json::from_str(&std::fs::read_to_string(&p).expect("read")).expect("json");
            (p.display().to_string(), v)
        })
        .collect()
}

#[test]
fn transparency_dev_inclusion_vectors_pass_with_sha256() {
    let cases = external("inclusion");
    assert!(cases.len() > 50, "found only {} inclusion vectors", cases.len());
    let (mut happy, mut rejected) = (0, 0);
    for (file, c) in cases {
        let got = verify_inclusion(
            &Sha256Tree,
            c["leafIdx"].as_u64().expect("leafIdx"),
            c["treeSize"].as_u64().expect("treeSize"),
            &b64(&c["leafHash"]),
            &b64_list(&c["proof"]),
            &b64(&c["root"]),
        );
        if c["wantErr"].as_bool().expect("wantErr") {
            assert!(got.is_err(), "{file}: accepted");
            rejected += 1;
        } else {
            assert!(got.is_ok(), "{file}: {got:?}");
            happy += 1;
        }
    }
    assert!(happy >= 5 && rejected >= 40, "happy {happy}, rejected {rejected}");
}

#[test]
fn transparency_dev_consistency_vectors_pass_with_sha256() {
    let cases = external("consistency");
    assert!(cases.len() > 50, "found only {} consistency vectors", cases.len());
    let (mut happy, mut rejected) = (0, 0);
    for (file, c) in cases {
        let got = verify_consistency(
            &Sha256Tree,
            c["size1"].as_u64().expect("size1"),
            c["size2"].as_u64().expect("size2"),
            &b64(&c["root1"]),
            &b64(&c["root2"]),
            &b64_list(&c["proof"]),
        );
        if c["wantErr"].as_bool().expect("wantErr") {
            assert!(got.is_err(), "{file}: accepted");
            rejected += 1;
        } else {
            assert!(got.is_ok(), "{file}: {got:?}");
            happy += 1;
        }
    }
    assert!(happy >= 5 && rejected >= 40, "happy {happy}, rejected {rejected}");
}
