//! Property tests: canonicalization is idempotent and round-trips, the
//! single-pass validator agrees with parse-and-canonicalize on arbitrary
//! mutations, frontier roots equal the recursive definition, and proofs
//! verify exactly when untampered.

use std::collections::BTreeMap;

use audit_canon::{
    ActorRef, AttrValue, AuditRecord, Blake3Tree, Digest, Frontier, Integer, Limits, PrevHash, SubjectRef,
    consistency_path, inclusion_path, leaf_hash, parse_record, recursive_root, root_of, verify_consistency,
    verify_inclusion, verify_record, verify_record_link,
};
use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;

/// Strings that exercise normalization and escaping: ASCII, controls,
/// quotes, combining marks, precomposed letters, CJK, emoji.
fn text() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => proptest::char::range('a', 'z'),
        1 => proptest::char::range('\u{0}', '\u{1f}'),
        1 => Just('"'),
        1 => Just('\\'),
        1 => Just('\u{7f}'),
        1 => Just('\u{301}'),
        1 => Just('\u{327}'),
        1 => Just('é'),
        1 => Just('ñ'),
        1 => Just('\u{1100}'),
        1 => Just('\u{1161}'),
        1 => Just('日'),
        1 => Just('😀'),
    ];
    proptest::collection::vec(ch, 0..12).prop_map(|v| v.into_iter().collect())
}

fn attr_value() -> impl Strategy<Value = AttrValue> {
    let leaf = prop_oneof![
        Just(AttrValue::Null),
        any::<bool>().prop_map(AttrValue::Bool),
        any::<i64>().prop_map(|i| AttrValue::Integer(Integer::from(i))),
        any::<u64>().prop_map(|u| AttrValue::Integer(Integer::from(u))),
        text().prop_map(AttrValue::String),
    ];
    leaf.prop_recursive(5, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(AttrValue::Array),
            proptest::collection::btree_map(text(), inner, 0..4).prop_map(AttrValue::Object),
        ]
    })
}

prop_compose! {
    fn record()(
        ts_ms in any::<u64>(),
        writer in "[a-zA-Z0-9@._-]{1,20}",
        writer_tail in text(),
        seq in 1u64..=u64::MAX,
        stream in "[a-z0-9][a-z0-9._-]{0,12}",
        kind in "[A-Za-z][A-Za-z0-9_.]{0,12}",
        reason in "[a-z0-9_.-]{1,12}",
        anon in proptest::option::of(any::<bool>()),
        cap in proptest::option::of(text()),
        name in proptest::option::of(text()),
        attrs in proptest::collection::btree_map(text(), attr_value(), 0..5),
        prev in any::<[u8; 32]>(),
    ) -> Option<AuditRecord> {
        let writer: String = format!("{writer}{writer_tail}").chars().filter(|c| !c.is_control()).collect();
        let prev = if seq == 1 { PrevHash::Genesis } else { PrevHash::Digest(Digest::from_bytes(prev)) };
        AuditRecord::builder()
            .ts_ms(ts_ms)
            .writer_id(writer)
            .seq(seq)
            .stream(stream)
            .kind(kind)
            .actor(ActorRef { anon, cap_id: cap, ..ActorRef::default() })
            .subject(SubjectRef { name, ..SubjectRef::default() })
            .reason(reason)
            .attrs(attrs)
            .prev(prev)
            .build()
            .ok()
    }
}

/// The obvious slow canonicalizer (serde_json `Value`, whose maps sort keys),
/// as an oracle independent of the writer under test.
fn oracle(rec: &AuditRecord) -> Vec<u8> {
    let v = serde_json::to_value(rec).expect("to_value");
    let mut out = String::from("{");
    for (i, k) in [
        "v",
        "ts_ms",
        "writer_id",
        "seq",
        "stream",
        "kind",
        "actor",
        "subject",
        "reason",
        "attrs",
        "prev",
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            "\"{k}\":{}",
            serde_json::to_string(&v[*k]).expect("to_string")
        ));
    }
    out.push('}');
    out.into_bytes()
}

fn is_nfc_everywhere(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.nfc().collect::<String>() == *s,
        serde_json::Value::Array(a) => a.iter().all(is_nfc_everywhere),
        serde_json::Value::Object(m) => m
            .iter()
            .all(|(k, v)| k.nfc().collect::<String>() == *k && is_nfc_everywhere(v)),
        _ => true,
    }
}

proptest! {
    // 512 cases by default; PROPTEST_CASES=N for a longer run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn canonicalizing_twice_changes_nothing_and_round_trips(rec in record()) {
        let Some(rec) = rec else { return Ok(()) };
        let limits = Limits::default();
        let Ok(bytes) = rec.to_canonical(&limits) else { return Ok(()) };
        prop_assert_eq!(&bytes, &oracle(&rec), "writer disagrees with the serde_json oracle");
        let parsed = parse_record(&bytes, &limits).expect("canonical bytes parse");
        prop_assert_eq!(&parsed.record, &rec);
        prop_assert_eq!(&parsed.canonical, &bytes);
        let value: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        prop_assert!(is_nfc_everywhere(&value), "canonical bytes hold a non-NFC string");
        prop_assert_eq!(verify_record(&bytes, &limits).expect("verifies"), Digest::of(&bytes));
        let link = verify_record_link(&bytes, &limits).expect("verifies");
        prop_assert_eq!(
            (link.ts_ms, &*link.writer_id, link.seq, &*link.stream, &link.prev, link.self_hash),
            (rec.ts_ms(), rec.writer_id(), rec.seq(), rec.stream(), rec.prev(), Digest::of(&bytes))
        );
    }

    /// A built record carries the bytes its builder wrote; a parsed one does
    /// not. Both, at their own position or moved to another, and consumed
    /// by `into_canonical`, must write what the oracle writes.
    #[test]
    fn built_and_parsed_records_write_the_same_bytes_at_any_position(
        rec in record(), seq in 1u64..=u64::MAX, prev in any::<[u8; 32]>()
    ) {
        let Some(rec) = rec else { return Ok(()) };
        let limits = Limits::default();
        let Ok(bytes) = rec.to_canonical(&limits) else { return Ok(()) };
        let parsed = parse_record(&bytes, &limits).expect("canonical bytes parse").record;
        prop_assert_eq!(&parsed.to_canonical(&limits).expect("parsed"), &bytes);
        let (back, consumed) = rec.clone().into_canonical(&limits).expect("consumed");
        prop_assert_eq!(&consumed, &bytes);
        prop_assert_eq!(&back, &rec);
        let prev = if seq == 1 { PrevHash::Genesis } else { PrevHash::Digest(Digest::from_bytes(prev)) };
        for r in [rec, parsed] {
            let moved = r.with_position(seq, prev).expect("position");
            let want = oracle(&moved);
            let mut out = vec![b'x'; 3];
            prop_assert_eq!(moved.canonical_bytes(&limits, &mut out).is_ok(), want.len() <= limits.max_record_bytes());
            if out.is_empty() { continue; }
            prop_assert_eq!(&out, &want);
            prop_assert_eq!(&moved.clone().into_canonical(&limits).expect("consumed").1, &want);
        }
    }

    #[test]
    fn any_one_byte_change_fails_verification_or_changes_the_hash(
        rec in record(), pos in any::<prop::sample::Index>(), byte in any::<u8>()
    ) {
        let Some(rec) = rec else { return Ok(()) };
        let limits = Limits::default();
        let Ok(bytes) = rec.to_canonical(&limits) else { return Ok(()) };
        let at = pos.index(bytes.len());
        prop_assume!(bytes[at] != byte);
        let mut m = bytes.clone();
        m[at] = byte;
        match verify_record(&m, &limits) {
            Err(_) => {}
            Ok(d) => prop_assert_ne!(d, Digest::of(&bytes)),
        }
        // If it still parses, it is either another record or not canonical.
        if let Ok(p) = parse_record(&m, &limits) {
            prop_assert!(p.self_hash != Digest::of(&bytes) || verify_record(&m, &limits).is_err());
        }
    }

    #[test]
    fn validator_agrees_with_parse_and_canonicalize(
        rec in record(), edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4)
    ) {
        let Some(rec) = rec else { return Ok(()) };
        let limits = Limits::default();
        let Ok(mut m) = rec.to_canonical(&limits) else { return Ok(()) };
        for (pos, byte, op) in edits {
            let at = pos.index(m.len().max(1)).min(m.len());
            match op {
                0 if at < m.len() => m[at] = byte,
                1 => m.insert(at, byte),
                _ if at < m.len() => { m.remove(at); }
                _ => {}
            }
        }
        let fast = verify_record(&m, &limits);
        let slow = parse_record(&m, &limits);
        match &slow {
            Ok(p) if p.canonical == m => prop_assert!(fast.is_ok(), "validator refused canonical bytes: {:?}", fast),
            Ok(_) => prop_assert!(fast.is_err(), "validator accepted non-canonical bytes"),
            Err(e) => prop_assert_eq!(fast.expect_err("validator accepted invalid bytes").code(), e.code()),
        }
    }

    #[test]
    fn frontier_root_equals_the_recursive_root(n in 1usize..600) {
        let leaves: Vec<Digest> = (0..n).map(|i| leaf_hash(&Digest::of(&i.to_le_bytes()))).collect();
        let mut f = Frontier::new();
        for (i, l) in leaves.iter().enumerate() {
            f.push(*l).expect("push");
            prop_assert_eq!(f.hashes().len(), (i + 1).count_ones() as usize);
        }
        let want = recursive_root(&Blake3Tree, &leaves);
        prop_assert_eq!(f.root(), want);
        prop_assert_eq!(root_of(&leaves), want);
        let back = Frontier::from_hashes(n as u64, f.hashes().to_vec()).expect("from_hashes");
        prop_assert_eq!(back.root(), want);
    }

    #[test]
    fn every_inclusion_proof_verifies_and_every_tampered_one_fails(
        n in 1usize..300, i in any::<prop::sample::Index>(), which in any::<prop::sample::Index>(), bit in 0u8..8
    ) {
        let t = Blake3Tree;
        let leaves: Vec<Digest> = (0..n).map(|k| leaf_hash(&Digest::of(&k.to_le_bytes()))).collect();
        let root = root_of(&leaves).expect("root");
        let i = i.index(n);
        let path = inclusion_path(&t, &leaves, i as u64).expect("path");
        prop_assert!(verify_inclusion(&t, i as u64, n as u64, &leaves[i], &path, &root).is_ok());
        if !path.is_empty() {
            let mut bad = path.clone();
            let w = which.index(bad.len());
            let mut b = *bad[w].as_bytes();
            b[w % 32] ^= 1 << bit;
            bad[w] = Digest::from_bytes(b);
            prop_assert!(verify_inclusion(&t, i as u64, n as u64, &leaves[i], &bad, &root).is_err());
            prop_assert!(verify_inclusion(&t, i as u64, n as u64, &leaves[i], &path[1..], &root).is_err());
        }
        let other = (i + 1) % n;
        if other != i {
            prop_assert!(verify_inclusion(&t, other as u64, n as u64, &leaves[i], &path, &root).is_err());
            prop_assert!(verify_inclusion(&t, i as u64, n as u64, &leaves[other], &path, &root).is_err());
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_every_tampered_one_fails(
        n in 2usize..300, m in any::<prop::sample::Index>(), which in any::<prop::sample::Index>(), bit in 0u8..8
    ) {
        let t = Blake3Tree;
        let leaves: Vec<Digest> = (0..n).map(|k| leaf_hash(&Digest::of(&k.to_le_bytes()))).collect();
        let m = 1 + m.index(n - 1); // 1..n
        let (ro, rn) = (root_of(&leaves[..m]).expect("root"), root_of(&leaves).expect("root"));
        let path = consistency_path(&t, &leaves, m as u64).expect("path");
        prop_assert!(verify_consistency(&t, m as u64, n as u64, &ro, &rn, &path).is_ok());
        let mut bad = path.clone();
        let w = which.index(bad.len());
        let mut b = *bad[w].as_bytes();
        b[w % 32] ^= 1 << bit;
        bad[w] = Digest::from_bytes(b);
        prop_assert!(verify_consistency(&t, m as u64, n as u64, &ro, &rn, &bad).is_err());
        prop_assert!(verify_consistency(&t, m as u64, n as u64, &rn, &ro, &path).is_err());
        prop_assert!(verify_consistency(&t, m as u64, n as u64, &ro, &rn, &path[..path.len() - 1]).is_err());
    }
}

#[test]
fn attrs_keys_are_sorted_by_bytes_after_nfc() {
    let mut attrs = BTreeMap::new();
    attrs.insert("e\u{301}".to_owned(), AttrValue::from(1));
    attrs.insert("f".to_owned(), AttrValue::from(2));
    let rec = AuditRecord::builder()
        .ts_ms(0)
        .writer_id("w")
        .seq(1)
        .stream("s")
        .kind("K")
        .reason("ok")
        .attrs(attrs)
        .build()
        .expect("build");
    let bytes = rec.to_canonical(&Limits::default()).expect("bounds");
    let text = String::from_utf8(bytes).expect("utf8");
    assert!(text.contains("\"attrs\":{\"f\":2,\"\u{e9}\":1}"), "{text}");
}

prop_compose! {
    fn checkpoint()(
        writer in "[a-zA-Z0-9@._-]{1,20}",
        stream in "[a-z0-9][a-z0-9._-]{0,12}",
        start in 1u64..1_000_000,
        len in 0u64..1_000_000,
        root in any::<[u8; 32]>(),
        head in any::<[u8; 32]>(),
        prev in any::<[u8; 32]>(),
        ts in any::<u64>(),
    ) -> audit_canon::CheckpointBody {
        let prev = if start == 1 { PrevHash::Genesis } else { PrevHash::Digest(Digest::from_bytes(prev)) };
        audit_canon::CheckpointBody::new(
            writer, stream, start, start + len, Digest::from_bytes(root), Digest::from_bytes(head), prev, ts,
        )
        .expect("valid body")
    }
}

proptest! {
    #[test]
    fn checkpoint_bodies_round_trip_and_mutations_never_parse_to_other_bytes(
        cp in checkpoint(), pos in any::<prop::sample::Index>(), byte in any::<u8>()
    ) {
        let bytes = cp.to_canonical();
        let back = audit_canon::CheckpointBody::from_canonical(&bytes).expect("canonical body parses");
        prop_assert_eq!(&back, &cp);
        let mut m = bytes.clone();
        let at = pos.index(m.len());
        prop_assume!(m[at] != byte);
        m[at] = byte;
        // A changed body either fails, or is another valid body whose own
        // canonical bytes are exactly the mutated bytes (never normalized).
        if let Ok(other) = audit_canon::CheckpointBody::from_canonical(&m) {
            prop_assert_eq!(other.to_canonical(), m);
            prop_assert_ne!(other, cp);
        }
    }
}

/// `body` as other JSON tools write it: keys in the order of `order`
/// (a permutation seed), with whitespace, and every string char escaped
/// as `\uXXXX` when `escape` is set.
fn reformatted(body: &audit_canon::CheckpointBody, order: &[usize], escape: bool) -> String {
    let v: serde_json::Value = serde_json::from_slice(&body.to_canonical()).expect("json");
    let obj = v.as_object().expect("object");
    let mut keys: Vec<&String> = obj.keys().collect();
    for (i, &j) in order.iter().enumerate() {
        let n = keys.len();
        keys.swap(i % n, j % n);
    }
    let value = |v: &serde_json::Value| match v.as_str() {
        Some(s) if escape => format!(
            "\"{}\"",
            s.encode_utf16()
                .map(|u| format!("\\u{u:04x}"))
                .collect::<String>()
        ),
        _ => serde_json::to_string_pretty(v).expect("json"),
    };
    let members: Vec<String> = keys
        .iter()
        .map(|k| format!("\n  \"{k}\" :  {}", value(&obj[k.as_str()])))
        .collect();
    format!(" {{{}\n}}\n", members.join(" ,"))
}

proptest! {
    /// Any JSON form of a body (key order, whitespace, escapes) reads as
    /// that body, so its canonical bytes, which a signature covers, are the
    /// original's; a mutated form either fails or reads as a body whose
    /// canonical bytes are what a signer would have had to sign.
    #[test]
    fn checkpoint_bodies_in_any_json_form_read_as_their_canonical_body(
        cp in checkpoint(),
        order in prop::collection::vec(0usize..8, 0..8),
        escape in any::<bool>(),
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let text = reformatted(&cp, &order, escape);
        let back = audit_canon::CheckpointBody::from_json(text.as_bytes());
        prop_assert_eq!(back, Ok(cp.clone()), "{}", text);
        prop_assert_eq!(audit_canon::CheckpointBody::from_json(&cp.to_canonical()), Ok(cp.clone()));
        let mut m = text.into_bytes();
        let at = pos.index(m.len());
        prop_assume!(m[at] != byte);
        m[at] = byte;
        if let Ok(other) = audit_canon::CheckpointBody::from_json(&m) {
            // Re-reading its canonical bytes strictly gives it back.
            prop_assert_eq!(
                audit_canon::CheckpointBody::from_canonical(&other.to_canonical()),
                Ok(other)
            );
        }
    }
}

proptest! {
    /// A stream's checkpoints chain by `next_link`: it names the seq after
    /// the predecessor's end and the hash of the predecessor's canonical
    /// bytes; the body built from it has that link, and a body that starts
    /// elsewhere or links to another hash does not.
    #[test]
    fn checkpoints_chain_by_next_link(
        cp in checkpoint(),
        len in 0u64..1000,
        other in any::<[u8; 32]>(),
        ts in any::<u64>(),
    ) {
        use audit_canon::{CheckpointBody, CheckpointLink};
        let want = cp.next_link();
        prop_assert_eq!(want.start_seq, cp.end_seq() + 1);
        prop_assert_eq!(want.prev, PrevHash::Digest(Digest::of(&cp.to_canonical())));
        let body = |start: u64, prev: PrevHash| {
            CheckpointBody::new(cp.writer_id(), cp.stream(), start, start + len, *cp.root(), *cp.head(), prev, ts)
                .expect("valid body")
        };
        prop_assert_eq!(body(want.start_seq, want.prev).link(), want);
        prop_assert_ne!(body(want.start_seq + 1, want.prev).link(), want);
        let other = PrevHash::Digest(Digest::from_bytes(other));
        prop_assume!(other != want.prev);
        prop_assert_ne!(body(want.start_seq, other).link(), want);
        prop_assert_eq!(cp.link() == CheckpointLink::FIRST, cp.start_seq() == 1);
    }
}
