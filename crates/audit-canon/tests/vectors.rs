//! Known-answer tests over `vectors/records.json`: canonical bytes, hashes,
//! and the exact error of every invalid input.

#![allow(clippy::expect_fun_call)]

mod common;

use audit_canon::{
    AuditRecord, CheckpointBody, Digest, Frontier, Limits, PrevHash, dedupe_key, leaf_hash, parse_record,
    verify_record,
};
use common::{REGEN, load, str_of, unhex};

#[test]
fn valid_records_canonicalize_to_the_committed_bytes_and_hashes() {
    let doc = load("records.json");
    let limits = Limits::default();
    let cases = doc["valid"].as_array().expect("valid");
    assert!(cases.len() >= 20, "at least 20 valid vectors");
    for case in cases {
        let desc = str_of(case, "desc");
        let input = str_of(case, "input");
        let want = str_of(case, "canonical");
        let want_hash = str_of(case, "self_hash");
        let parsed = parse_record(input.as_bytes(), &limits).unwrap_or_else(|e| panic!("{desc}: {e}"));
        assert_eq!(
            String::from_utf8_lossy(&parsed.canonical),
            want,
            "{desc}: canonical bytes differ from vectors/records.json; if the change is intended, run `{REGEN}`"
        );
        // Independent of the code under test: BLAKE3 of the literal bytes.
        let independent = format!("b3:{}", blake3::hash(want.as_bytes()).to_hex());
        assert_eq!(
            independent, want_hash,
            "{desc}: self_hash in the vector is not BLAKE3 of its canonical bytes"
        );
        assert_eq!(parsed.self_hash.to_hash_string(), want_hash, "{desc}");
        assert_eq!(
            dedupe_key(want.as_bytes()),
            *blake3::hash(want.as_bytes()).as_bytes(),
            "{desc}"
        );
        assert_eq!(
            str_of(case, "dedupe_key_hex"),
            blake3::hash(want.as_bytes()).to_hex().as_str()
        );

        // Stored canonical bytes verify, and reparse to the same record.
        let digest = verify_record(want.as_bytes(), &limits).unwrap_or_else(|e| panic!("{desc}: {e}"));
        assert_eq!(digest.to_hash_string(), want_hash, "{desc}");
        let again = parse_record(want.as_bytes(), &limits).expect("canonical bytes parse");
        assert_eq!(
            again.record, parsed.record,
            "{desc}: canonical bytes parse to another record"
        );
        assert_eq!(
            again.canonical, parsed.canonical,
            "{desc}: canonicalizing twice changed the bytes"
        );

        // serde's compact writer emits the same bytes; serde reads them back.
        let via_serde = serde_json::to_vec(&parsed.record).expect("serialize");
        assert_eq!(
            String::from_utf8_lossy(&via_serde),
            want,
            "{desc}: serde output differs"
        );
        let back: AuditRecord = serde_json::from_str(want).expect("deserialize");
        assert_eq!(back, parsed.record, "{desc}");

        // Rebuilding through the builder gives the same bytes.
        let rebuilt = parsed.record.to_builder().build().expect("rebuild");
        assert_eq!(
            rebuilt.to_canonical(&limits).expect("bounds"),
            parsed.canonical,
            "{desc}"
        );
    }
}

#[test]
fn every_invalid_input_gives_its_own_error() {
    let doc = load("records.json");
    let limits = Limits::default();
    let cases = doc["invalid"].as_array().expect("invalid");
    assert!(cases.len() >= 25, "at least 25 invalid vectors");
    for case in cases {
        let desc = str_of(case, "desc");
        let want = str_of(case, "want_err");
        let bytes = match case.get("input_hex") {
            Some(h) => unhex(h.as_str().expect("hex")),
            None => str_of(case, "input").as_bytes().to_vec(),
        };
        let err = parse_record(&bytes, &limits).expect_err(desc);
        assert_eq!(err.code(), want, "{desc}: got {err}");
        // The stored-bytes verifier refuses them too, with the same class.
        let verr = verify_record(&bytes, &limits).expect_err(desc);
        assert_eq!(verr.code(), want, "{desc}: verify_record gave {verr}");
        // serde goes through the same parser.
        if let Ok(text) = std::str::from_utf8(&bytes) {
            assert!(
                serde_json::from_str::<AuditRecord>(text).is_err(),
                "{desc}: serde accepted it"
            );
        }
    }
}

#[test]
fn the_seed_records_form_a_chain_with_the_committed_root_and_checkpoint() {
    let doc = load("records.json");
    let chain = &doc["chain"];
    let limits = Limits::default();
    let texts: Vec<&str> = chain["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|v| v.as_str().expect("s"))
        .collect();
    let r1 = parse_record(texts[0].as_bytes(), &limits).expect("5.1");
    let r2 = parse_record(texts[1].as_bytes(), &limits).expect("5.2");
    assert_eq!(*r1.record.prev(), PrevHash::Genesis);
    assert_eq!(
        *r2.record.prev(),
        PrevHash::Digest(r1.self_hash),
        "5.2 links to 5.1"
    );

    // The tree root by hand from the spec's definitions, with blake3 directly.
    let leaf = |d: &Digest| *blake3::hash(&[&[0u8][..], d.as_bytes()].concat()).as_bytes();
    let l1 = leaf(&r1.self_hash);
    let l2 = leaf(&r2.self_hash);
    let root = blake3::hash(&[&[1u8][..], &l1, &l2].concat());
    assert_eq!(format!("b3:{}", root.to_hex()), str_of(chain, "root"));
    let mut f = Frontier::new();
    f.push(leaf_hash(&r1.self_hash)).expect("push");
    f.push(leaf_hash(&r2.self_hash)).expect("push");
    assert_eq!(f.root().expect("root").to_hash_string(), str_of(chain, "root"));

    let body = str_of(chain, "checkpoint_body");
    let cp = CheckpointBody::from_canonical(body.as_bytes()).expect("checkpoint body");
    assert_eq!(cp.to_canonical(), body.as_bytes(), "checkpoint body round trip");
    assert_eq!(cp.root().to_hash_string(), str_of(chain, "root"));
    assert_eq!(*cp.head(), r2.self_hash);
    assert_eq!(
        format!("b3:{}", blake3::hash(body.as_bytes()).to_hex()),
        str_of(chain, "checkpoint_digest")
    );
    assert_eq!(cp.digest().to_hash_string(), str_of(chain, "checkpoint_digest"));
    let msg = unhex(str_of(chain, "signing_message_hex"));
    assert_eq!(msg, [&b"ron-audit checkpoint v1\n"[..], body.as_bytes()].concat());
    assert_eq!(cp.signing_message(), msg);
}
