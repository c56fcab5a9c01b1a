//! The text of every error class, as users see it: inline snapshots, so a
//! change of wording shows up in review. Messages are lower-case, carry the
//! offending input, field and offset, and have no trailing period.

use audit_canon::{
    AuditRecord, Blake3Tree, CheckpointBody, CheckpointLink, Digest, Frontier, Limits, PrevHash,
    verify_consistency, verify_inclusion, verify_record,
};
use insta::assert_snapshot;

const GENESIS: &str = r#"{"v":1,"ts_ms":1730246400000,"writer_id":"svc-gateway@inst-1","seq":1,"stream":"ingress","kind":"GetServed","actor":{"anon":true},"subject":{},"reason":"ok","attrs":{},"prev":"b3:0"}"#;

/// The parse error of `GENESIS` with `from` replaced by `to`.
fn parse_err(from: &str, to: &str) -> String {
    let input = GENESIS.replacen(from, to, 1);
    assert_ne!(input, GENESIS, "replacement {from:?} did not apply");
    match audit_canon::parse_record(input.as_bytes(), &Limits::default()) {
        Ok(_) => panic!("{input} parsed"),
        Err(e) => format!("{}: {e}", e.code()),
    }
}

#[test]
fn parse_errors_name_the_offset_and_the_rule() {
    assert_snapshot!(parse_err(r#""seq":1"#, r#""seq":2.0"#), @"float: float at offset 68: numbers must be integers");
    assert_snapshot!(parse_err(r#""attrs":{}"#, r#""attrs":{"n":-0}"#), @"negative_zero: -0 at offset 170: negative zero is a float");
    assert_snapshot!(parse_err(r#""attrs":{}"#, r#""attrs":{"a":1,"a":2}"#), @r#"duplicate_key: duplicate key "a" in attrs at offset 172"#);
    assert_snapshot!(parse_err(r#""attrs":{}"#, "\"attrs\":{\"\u{e9}\":1,\"e\u{301}\":2}"), @r#"keys_equal_after_nfc: key "é" in attrs at offset 173 equals an earlier key after NFC"#);
    assert_snapshot!(parse_err(r#""subject":{}"#, r#""subject":{"path":"/x"}"#), @r#"unknown_field: unknown field "path" in subject at offset 141"#);
    assert_snapshot!(parse_err(r#""attrs":{}"#, r#""attrs":{"n":18446744073709551616}"#), @"integer_out_of_range: integer out of range at offset 170 (attrs)");
    assert_snapshot!(parse_err(r#""attrs":{}"#, r#""attrs":{"s":"\ud800"}"#), @"lone_surrogate: lone surrogate escape at offset 171");
    assert_snapshot!(parse_err(r#""attrs":{}"#, r#""attrs":{"a":{"b":{"c":{"d":{"e":{"f":{"g":[[1]]}}}}}}}"#), @"too_deep: attrs nests containers more than 8 deep at offset 201");
    assert_snapshot!(parse_err(r#","prev":"b3:0""#, ""), @"missing_field: missing field prev");
    assert_snapshot!(parse_err(r#""b3:0""#, r#""b3:XYZ""#), @r#"bad_hash: prev at offset 175: hash string "b3:XYZ" has 3 hex digits, want 64"#);
}

#[test]
fn field_rule_errors_name_the_field_the_rule_and_the_value() {
    assert_snapshot!(parse_err(r#""ingress""#, r#""-ingress""#), @r#"bad_first_character: stream may not start with '-' (value "-ingress")"#);
    assert_snapshot!(parse_err(r#""ok""#, r#""oK""#), @r#"bad_character: reason may not contain 'K' (byte 1) (value "oK")"#);
    assert_snapshot!(parse_err(r#""seq":1"#, r#""seq":0"#), @r#"seq_zero: seq must be at least 1 (value "0")"#);
    assert_snapshot!(parse_err(r#""seq":1"#, r#""seq":7"#), @r#"genesis_only_first: prev is "b3:0" but seq is 7; only seq 1 links to genesis (value "b3:0")"#);
    assert_snapshot!(parse_err(r#""svc-gateway@inst-1""#, r#""svc\u0007""#), @r#"control_character: writer_id has control character '\u{7}' at byte 3 (value "svc\u{7}")"#);
}

#[test]
fn bounds_and_verification_errors() {
    let big = format!(r#""attrs":{{"p":"{}"}}"#, "x".repeat(1100));
    assert_snapshot!(parse_err(r#""attrs":{}"#, &big), @"attrs_too_large: attrs is 1108 bytes canonical, more than the limit of 1024");
    let spaced = GENESIS.replacen(r#""seq":1"#, r#""seq": 1"#, 1);
    let e = verify_record(spaced.as_bytes(), &Limits::default()).expect_err("not canonical");
    assert_snapshot!(e.to_string(), @r#"stream "ingress" seq 1: bytes are not canonical, first difference at offset 68"#);
    let want = Digest::of(b"something else");
    let e = audit_canon::verify_record_against(GENESIS.as_bytes(), &want, &Limits::default())
        .expect_err("digest");
    assert_snapshot!(e.to_string(), @"self_hash mismatch: expected b3:284a1dea71d98644dadaeb412d4f0494ed683d5f3da0ba2e5ba4f9765a82e7ed, bytes hash to b3:0c1a9dc479041a90fc084e5090d29f743f179a895a73f31181110c02f65ee001");
}

#[test]
fn builder_and_proof_errors() {
    let e = AuditRecord::builder()
        .writer_id("w")
        .seq(1)
        .stream("s")
        .kind("K")
        .reason("ok")
        .build()
        .expect_err("no ts");
    assert_snapshot!(e.to_string(), @"ts_ms is required");
    let l = Digest::of(b"leaf");
    let e = verify_inclusion(&Blake3Tree, 5, 5, &l, &[], &l).expect_err("index");
    assert_snapshot!(e.to_string(), @"leaf index 5 is not below tree size 5");
    let e = verify_inclusion(&Blake3Tree, 0, 2, &l, &[], &l).expect_err("path");
    assert_snapshot!(e.to_string(), @"audit path of 0 hashes has the wrong length for leaf 0 of 2");
    let e = verify_consistency(&Blake3Tree, 0, 3, &l, &l, &[]).expect_err("sizes");
    assert_snapshot!(e.to_string(), @"consistency needs 1 <= old size <= new size, got 0 and 3");
    let e = Frontier::from_hashes(5, vec![l]).expect_err("length");
    assert_snapshot!(e.to_string(), @"frontier of size 5 needs 2 hashes, got 1");
    let e = CheckpointBody::new("w", "s", 3, 2, l, l, PrevHash::Digest(l), 0).expect_err("range");
    assert_snapshot!(e.to_string(), @"checkpoint range [3, 2] is not 1 <= start <= end");
    assert_snapshot!(CheckpointLink::FIRST.to_string(), @"seq 1 linking to b3:0");
    let mut from_frontier = audit_canon::MerkleTree::from_frontier(Blake3Tree, 2, vec![l]).expect("frontier");
    from_frontier.push(l);
    let e = from_frontier
        .inclusion_path(1, 3)
        .expect_err("inside the frontier");
    assert_snapshot!(e.to_string(), @"leaf index 1 is before leaf 2, where the held leaves start (only a frontier is held before it)");
    let e = from_frontier
        .consistency_path(1, 3)
        .expect_err("from inside the frontier");
    assert_snapshot!(e.to_string(), @"consistency from size 1 needs nodes before leaf 2, where the held leaves start (only a frontier is held before it)");
    let e = Limits::new(2048, 4096).expect_err("looser");
    assert_snapshot!(e.to_string(), @"max_attrs_bytes 2048 is outside 2..=1024");
}

/// The error of reading `body` (a canonical body with `from` replaced by
/// `to`) as a body in any JSON form.
fn body_json_err(from: &str, to: &str) -> String {
    const BODY: &str = r#"{"v":1,"writer_id":"w","stream":"s","range":[1,2],"root":"b3:1111111111111111111111111111111111111111111111111111111111111111","head":"b3:2222222222222222222222222222222222222222222222222222222222222222","prev_checkpoint":"b3:0","created_ts_ms":7}"#;
    assert!(CheckpointBody::from_json(BODY.as_bytes()).is_ok());
    let input = BODY.replacen(from, to, 1);
    assert_ne!(input, BODY, "replacement {from:?} did not apply");
    match CheckpointBody::from_json(input.as_bytes()) {
        Ok(b) => panic!("{input} parsed as {b:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn checkpoint_bodies_in_other_json_forms_are_read_strictly() {
    assert_snapshot!(body_json_err(r#""v":1,"#, r#""v":1,"v":1,"#), @r#"checkpoint body at offset 7: expected a body key not seen before (v, writer_id, stream, range, root, head, prev_checkpoint, created_ts_ms)"#);
    assert_snapshot!(body_json_err(r#""v":1,"#, r#""v":1,"x":1,"#), @r#"checkpoint body at offset 7: expected a body key not seen before (v, writer_id, stream, range, root, head, prev_checkpoint, created_ts_ms)"#);
    assert_snapshot!(body_json_err(r#""v":1,"#, ""), @r#"checkpoint body has no "v""#);
    assert_snapshot!(body_json_err(r#""v":1"#, r#""v":2"#), @"checkpoint body at offset 6: expected v 1");
    assert_snapshot!(body_json_err(r#""created_ts_ms":7"#, r#""created_ts_ms":7.0"#), @"checkpoint body at offset 245: expected an integer in 0..=u64::MAX");
    assert_snapshot!(body_json_err(r#""created_ts_ms":7"#, r#""created_ts_ms":-7"#), @"checkpoint body at offset 245: expected an integer in 0..=u64::MAX");
    assert_snapshot!(body_json_err("[1,2]", "[1,2,3]"), @"checkpoint body at offset 48: expected ']'");
    assert_snapshot!(body_json_err(r#""w""#, "7"), @"checkpoint body at offset 19: expected a string");
    assert_snapshot!(body_json_err(r#"7}"#, r#"7}}"#), @"checkpoint body at offset 247: expected the end of the body");
    assert_snapshot!(body_json_err("[1,2]", "[2,2]"), @r#"checkpoint starting at seq 2: prev_checkpoint must be "b3:0" exactly when start is 1"#);
}
