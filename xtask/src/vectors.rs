//! `cargo xtask vectors [--check]`: writes `vectors/records.json` and
//! `vectors/merkle.json` from `audit-canon`, after checking every value
//! against the independent reference in `reference.rs`.

use std::fmt::Write as _;
use std::path::Path;

use audit_canon::{
    Blake3Tree, CheckpointBody, Digest, Frontier, Limits, PrevHash, consistency_path, inclusion_path,
    leaf_hash, parse_record, root_of, verify_consistency, verify_inclusion,
};
use serde_json::{Value, json};

use crate::reference;

const REGEN: &str = "cargo xtask vectors";

pub(crate) fn run(root: &Path, check: bool) -> Result<(), String> {
    let records = records()?;
    let seeds = fuzz_seeds(&records);
    let files = [("records.json", records), ("merkle.json", merkle()?)];
    let dir = root.join("vectors");
    let mut stale = Vec::new();
    sync_seeds(&root.join("fuzz/seeds/canonicalize"), &seeds, check, &mut stale)?;
    for (name, doc) in files {
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())? + "\n";
        let path = dir.join(name);
        if check {
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            if on_disk != text {
                stale.push(path.display().to_string());
            }
        } else {
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            println!("wrote {}", path.display());
        }
    }
    if stale.is_empty() {
        if check {
            println!("vectors are up to date");
        }
        Ok(())
    } else {
        Err(format!(
            "{} differ from what the code produces; run `{REGEN}` and review the diff",
            stale.join(", ")
        ))
    }
}

const TS: u64 = 1_730_246_400_000;
const W: &str = "svc-gateway@inst-1";

/// A record text with the given pieces (each a JSON fragment).
#[allow(clippy::too_many_arguments)]
fn rec(
    writer: &str,
    seq: &str,
    stream: &str,
    kind: &str,
    actor: &str,
    subject: &str,
    reason: &str,
    attrs: &str,
    prev: &str,
) -> String {
    format!(
        r#"{{"v":1,"ts_ms":{TS},"writer_id":{writer},"seq":{seq},"stream":{stream},"kind":{kind},"actor":{actor},"subject":{subject},"reason":{reason},"attrs":{attrs},"prev":{prev}}}"#
    )
}

/// The common case with only `attrs` varied.
fn with_attrs(attrs: &str) -> String {
    rec(
        &q(W),
        "1",
        r#""ingress""#,
        r#""GetServed""#,
        r#"{"anon":true}"#,
        "{}",
        r#""ok""#,
        attrs,
        r#""b3:0""#,
    )
}

fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// A JSON string literal `"xxx…"` whose canonical form is `n` bytes long
/// including the quotes.
fn padded(n: usize) -> String {
    format!("\"{}\"", "x".repeat(n - 2))
}

fn records() -> Result<Value, String> {
    let limits = Limits::default();
    let genesis = r#"{"v":1,"ts_ms":1730246400000,"writer_id":"svc-gateway@inst-1","seq":1,"stream":"ingress","kind":"GetServed","actor":{"anon":true},"subject":{},"reason":"ok","attrs":{},"prev":"b3:0"}"#;
    let genesis_hash = Digest::of(genesis.as_bytes()).to_hash_string();
    let next = format!(
        r#"{{"v":1,"ts_ms":1730246400100,"writer_id":"svc-gateway@inst-1","seq":2,"stream":"ingress","kind":"QuotaReject","actor":{{"passport_id":"u:abcd"}},"subject":{{"content_id":"b3:1111"}},"reason":"audit_backpressure","attrs":{{"q":"work"}},"prev":"{genesis_hash}"}}"#
    );
    let some_prev = q(&genesis_hash);
    let controls: String = (0u8..0x20).map(|b| format!("\\u{b:04X}")).collect();
    // `attrs` of exactly 1024 canonical bytes: {"p":"xx…"} is 6 + string.
    let attrs_1024 = format!(r#"{{"p":{}}}"#, padded(1024 - 6));
    let attrs_1025 = format!(r#"{{"p":{}}}"#, padded(1025 - 6));
    // A record of exactly 4096 canonical bytes, padded through subject.name.
    let base_len = with_subject_name("").len();
    let rec_4096 = with_subject_name(&"n".repeat(4096 - base_len));
    let rec_4097 = with_subject_name(&"n".repeat(4097 - base_len));
    let writer_128: String = "é".repeat(64); // 2 bytes each in NFC
    let deep8 = r#"{"a":{"b":{"c":{"d":{"e":{"f":{"g":[1]}}}}}}}"#;
    let deep9 = r#"{"a":{"b":{"c":{"d":{"e":{"f":{"g":[[1]]}}}}}}}"#;

    let valid: Vec<(&str, String)> = vec![
        (
            "seed INTEROP 5.1: minimal genesis record, already canonical",
            genesis.to_owned(),
        ),
        ("seed INTEROP 5.2: next record chained to 5.1", next.clone()),
        (
            "seed INTEROP 5.3.1: NFD writer_id written with escapes becomes NFC raw UTF-8",
            rec(
                r#""s\u0065\u0301rver""#,
                "1",
                r#""ingress""#,
                r#""GetServed""#,
                "{}",
                "{}",
                r#""ok""#,
                "{}",
                r#""b3:0""#,
            ),
        ),
        (
            "NFD as raw UTF-8 in an attrs value becomes NFC",
            with_attrs("{\"who\":\"Cafe\u{301}\"}"),
        ),
        (
            "NFD in an attrs key becomes NFC, then sorts by its NFC bytes",
            with_attrs("{\"e\u{301}t\u{e9}\":1,\"f\":2}"),
        ),
        (
            "Hangul jamo compose under NFC",
            with_attrs("{\"k\":\"\u{1112}\u{1161}\u{11ab}\"}"),
        ),
        (
            "every control character U+0000..U+001F: short escapes where they exist, else lowercase \\u00xx",
            with_attrs(&format!(r#"{{"ctl":"{controls}"}}"#)),
        ),
        (
            "U+007F is written raw, not escaped",
            with_attrs(r#"{"del":"a\u007fb"}"#),
        ),
        (
            "quote and backslash stay escaped; \\/ becomes a raw slash",
            with_attrs(r#"{"s":"a\"b\\c\/d"}"#),
        ),
        (
            "\\u escapes of non-ASCII and a surrogate pair become raw UTF-8",
            with_attrs(r#"{"s":"caf\u00e9 \ud83d\ude00"}"#),
        ),
        (
            "non-ASCII and mixed-case keys sort by UTF-8 bytes",
            with_attrs("{\"\u{e9}\":1,\"z\":2,\"a\":3,\"\u{65e5}\u{672c}\":4,\"Z\":5,\"\u{e4}\":6,\"_\":7}"),
        ),
        (
            "negative integers down to i64::MIN",
            with_attrs(r#"{"min":-9223372036854775808,"neg":-1,"zero":0}"#),
        ),
        (
            "u64::MAX in ts_ms, seq and attrs",
            rec(
                &q(W),
                "18446744073709551615",
                r#""ingress""#,
                r#""GetServed""#,
                "{}",
                "{}",
                r#""ok""#,
                r#"{"max":18446744073709551615}"#,
                &some_prev,
            )
            .replace("1730246400000", "18446744073709551615"),
        ),
        (
            "attrs nested exactly 8 deep (attrs itself is 1)",
            with_attrs(deep8),
        ),
        (
            "arrays keep their order; null, true, false literal",
            with_attrs(r#"{"l":[3,1,2,null,true,false,"s",{"b":1,"a":2},[]]}"#),
        ),
        (
            "empty actor and subject",
            rec(
                &q(W),
                "1",
                r#""ingress""#,
                r#""GetServed""#,
                "{}",
                "{}",
                r#""ok""#,
                "{}",
                r#""b3:0""#,
            ),
        ),
        (
            "every actor and subject key, given in reverse order",
            rec(
                &q(W),
                "1",
                r#""ingress""#,
                r#""GetServed""#,
                r#"{"passport_id":"p:1","key_fpr":"k:2","cap_id":"c:3","anon":false}"#,
                r#"{"name":"obj","ledger_txid":"tx:9","content_id":"b3:abcd"}"#,
                r#""ok""#,
                "{}",
                r#""b3:0""#,
            ),
        ),
        (
            "keys in reverse order with whitespace everywhere",
            format!(
                "{{ \"prev\" : \"b3:0\" ,\n\t\"attrs\" : {{ \"b\" : 1 , \"a\" : [ 1 , 2 ] }} , \"reason\":\"ok\", \"subject\":{{ }}, \"actor\":{{ }},\r\n \"kind\":\"GetServed\", \"stream\":\"ingress\", \"seq\":1, \"writer_id\":{}, \"ts_ms\":{TS}, \"v\":1 }}\n",
                q(W)
            ),
        ),
        (
            "a correct self_hash in the input is accepted and left out of the canonical bytes",
            {
                let h = Digest::of(genesis.as_bytes()).to_hash_string();
                format!("{},\"self_hash\":\"{h}\"}}", &genesis[..genesis.len() - 1])
            },
        ),
        (
            "attrs of exactly 1024 canonical bytes (the default bound)",
            with_attrs(&attrs_1024),
        ),
        (
            "a record of exactly 4096 canonical bytes (the default bound)",
            rec_4096,
        ),
        (
            "writer_id of exactly 128 bytes; stream, kind and reason using every allowed punctuation",
            rec(
                &q(&writer_128),
                "1",
                r#""a.b_c-1""#,
                r#""X.y_z9""#,
                "{}",
                "{}",
                r#""a-b.c_d9""#,
                "{}",
                r#""b3:0""#,
            ),
        ),
        (
            "zero timestamps and empty strings in attrs",
            with_attrs(r#"{"e":"","z":0}"#).replace("1730246400000", "0"),
        ),
    ];

    let mut valid_out = Vec::new();
    for (desc, text) in &valid {
        let parsed =
            parse_record(text.as_bytes(), &limits).map_err(|e| format!("valid vector {desc:?}: {e}"))?;
        let reference = reference::canonical(text.as_bytes())?;
        if parsed.canonical != reference {
            return Err(format!(
                "valid vector {desc:?}: audit-canon wrote\n{}\nthe reference wrote\n{}",
                String::from_utf8_lossy(&parsed.canonical),
                String::from_utf8_lossy(&reference)
            ));
        }
        let canonical = String::from_utf8(parsed.canonical).map_err(|e| e.to_string())?;
        let self_hash = format!("b3:{}", blake3::hash(canonical.as_bytes()).to_hex());
        valid_out.push(json!({
            "desc": desc,
            "input": text,
            "canonical": canonical,
            "self_hash": self_hash,
            "dedupe_key_hex": blake3::hash(canonical.as_bytes()).to_hex().to_string(),
        }));
    }

    // Invalid inputs and the error class each must produce (ParseError::code).
    let base = genesis;
    let sub = |from: &str, to: &str| base.replacen(from, to, 1);
    let mut invalid: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "seq written as 2.0 (a float)",
            sub(r#""seq":1"#, r#""seq":2.0"#).into(),
            "float",
        ),
        (
            "1e3 in attrs (a float)",
            with_attrs(r#"{"n":1e3}"#).into(),
            "float",
        ),
        (
            "-0.0 in attrs (a float)",
            with_attrs(r#"{"n":-0.0}"#).into(),
            "float",
        ),
        ("-0 in attrs", with_attrs(r#"{"n":-0}"#).into(), "negative_zero"),
        (
            "-0 nested in an attrs array",
            with_attrs(r#"{"n":[1,[-0]]}"#).into(),
            "negative_zero",
        ),
        ("-0 as ts_ms", sub("1730246400000", "-0").into(), "negative_zero"),
        (
            "duplicate top-level key",
            sub(r#""seq":1"#, r#""seq":1,"seq":1"#).into(),
            "duplicate_key",
        ),
        (
            "duplicate key in attrs (serde_json would keep the last)",
            with_attrs(r#"{"a":1,"a":2}"#).into(),
            "duplicate_key",
        ),
        (
            "duplicate key in actor",
            sub(r#"{"anon":true}"#, r#"{"anon":true,"anon":false}"#).into(),
            "duplicate_key",
        ),
        (
            "two attrs keys equal after NFC",
            with_attrs("{\"\u{e9}\":1,\"e\u{301}\":2}").into(),
            "keys_equal_after_nfc",
        ),
        (
            "unknown top-level field",
            sub(r#""v":1,"#, r#""v":1,"extra":0,"#).into(),
            "unknown_field",
        ),
        (
            "unknown field in actor",
            sub(r#"{"anon":true}"#, r#"{"anon":true,"role":"x"}"#).into(),
            "unknown_field",
        ),
        (
            "unknown field in subject",
            sub(r#""subject":{}"#, r#""subject":{"path":"/x"}"#).into(),
            "unknown_field",
        ),
        ("attrs nested 9 deep", with_attrs(deep9).into(), "too_deep"),
        (
            "attrs of 1025 canonical bytes",
            with_attrs(&attrs_1025).into(),
            "attrs_too_large",
        ),
        (
            "record of 4097 canonical bytes",
            rec_4097.into(),
            "record_too_large",
        ),
        (
            "prev is not a hash string",
            sub(r#""b3:0""#, r#""b3:xyz""#)
                .replacen(r#""seq":1"#, r#""seq":2"#, 1)
                .into(),
            "bad_hash",
        ),
        (
            "prev in uppercase hex",
            next.replacen(&genesis_hash[3..], &genesis_hash[3..].to_uppercase(), 1)
                .into(),
            "bad_hash",
        ),
        ("seq 0", sub(r#""seq":1"#, r#""seq":0"#).into(), "seq_zero"),
        (
            "seq 1 whose prev is not genesis",
            sub(r#""b3:0""#, &some_prev).into(),
            "first_needs_genesis",
        ),
        (
            "seq 2 whose prev is genesis",
            sub(r#""seq":1"#, r#""seq":2"#).into(),
            "genesis_only_first",
        ),
        (
            "stream starting with '-'",
            sub(r#""ingress""#, r#""-ingress""#).into(),
            "bad_first_character",
        ),
        (
            "stream with a space",
            sub(r#""ingress""#, r#""in gress""#).into(),
            "bad_character",
        ),
        ("empty stream", sub(r#""ingress""#, r#""""#).into(), "empty"),
        (
            "stream of 65 bytes",
            sub(r#""ingress""#, &q(&"s".repeat(65))).into(),
            "too_long",
        ),
        (
            "kind starting with a digit",
            sub(r#""GetServed""#, r#""9Served""#).into(),
            "bad_first_character",
        ),
        (
            "reason with an uppercase letter",
            sub(r#""ok""#, r#""oK""#).into(),
            "bad_character",
        ),
        (
            "writer_id with a control character",
            sub(r#""svc-gateway@inst-1""#, r#""svc\u0007gw""#).into(),
            "control_character",
        ),
        (
            "writer_id of 129 bytes",
            sub(r#""svc-gateway@inst-1""#, &q(&"w".repeat(129))).into(),
            "too_long",
        ),
        ("v 2", sub(r#""v":1"#, r#""v":2"#).into(), "unsupported_version"),
        (
            "integer past u64::MAX in attrs",
            with_attrs(r#"{"n":18446744073709551616}"#).into(),
            "integer_out_of_range",
        ),
        (
            "integer below i64::MIN in attrs",
            with_attrs(r#"{"n":-9223372036854775809}"#).into(),
            "integer_out_of_range",
        ),
        (
            "negative seq",
            sub(r#""seq":1"#, r#""seq":-1"#).into(),
            "integer_out_of_range",
        ),
        (
            "lone high surrogate \\ud800",
            with_attrs(r#"{"s":"\ud800"}"#).into(),
            "lone_surrogate",
        ),
        (
            "lone low surrogate \\udc00",
            with_attrs(r#"{"s":"x\udc00"}"#).into(),
            "lone_surrogate",
        ),
        (
            "leading byte order mark",
            [&[0xEF, 0xBB, 0xBF][..], base.as_bytes()].concat(),
            "bom",
        ),
        (
            "missing prev",
            sub(r#","prev":"b3:0""#, "").into(),
            "missing_field",
        ),
        (
            "actor key set to null (absent means omitted, never null)",
            sub(r#"{"anon":true}"#, r#"{"cap_id":null}"#).into(),
            "wrong_type",
        ),
        (
            "attrs is an array",
            sub(r#""attrs":{}"#, r#""attrs":[]"#).into(),
            "wrong_type",
        ),
        (
            "raw control character inside a string",
            sub(r#""ok""#, "\"o\u{1}k\"").into(),
            "control_in_string",
        ),
        (
            "trailing characters after the record",
            format!("{base} x").into(),
            "trailing",
        ),
        (
            "leading zero in an integer",
            sub(r#""seq":1"#, r#""seq":01"#).into(),
            "syntax",
        ),
        (
            "truncated record",
            base.as_bytes()[..base.len() - 10].to_vec(),
            "eof",
        ),
    ];
    let mut bad_utf8 = base.as_bytes().to_vec();
    let at = base.find("ingress").unwrap_or(0);
    if let Some(b) = bad_utf8.get_mut(at + 2) {
        *b = 0xFF;
    }
    invalid.push(("invalid UTF-8 byte 0xFF inside stream", bad_utf8, "invalid_utf8"));
    let mut overlong = base.as_bytes().to_vec();
    if let Some(b) = overlong.get_mut(at) {
        *b = 0xC0;
    }
    if let Some(b) = overlong.get_mut(at + 1) {
        *b = 0xAF;
    }
    invalid.push(("overlong UTF-8 encoding inside stream", overlong, "invalid_utf8"));

    let mut invalid_out = Vec::new();
    for (desc, bytes, want) in &invalid {
        let got = match parse_record(bytes, &limits) {
            Ok(_) => return Err(format!("invalid vector {desc:?} was accepted")),
            Err(e) => e,
        };
        if got.code() != *want {
            return Err(format!(
                "invalid vector {desc:?}: want {want}, got {} ({got})",
                got.code()
            ));
        }
        let mut case = json!({ "desc": desc, "want_err": want });
        match std::str::from_utf8(bytes) {
            Ok(text) => case["input"] = json!(text),
            Err(_) => case["input_hex"] = json!(hex(bytes)),
        }
        invalid_out.push(case);
    }

    // The two seed records as a chain, with their tree and a checkpoint body.
    let p1 = parse_record(genesis.as_bytes(), &limits).map_err(|e| e.to_string())?;
    let p2 = parse_record(next.as_bytes(), &limits).map_err(|e| e.to_string())?;
    if *p2.record.prev() != PrevHash::Digest(p1.self_hash) {
        return Err("seed 5.2 does not link to 5.1".into());
    }
    let leaves = [leaf_hash(&p1.self_hash), leaf_hash(&p2.self_hash)];
    let ref_root = reference::mth(&[
        reference::leaf(p1.self_hash.as_bytes()),
        reference::leaf(p2.self_hash.as_bytes()),
    ]);
    let root = root_of(&leaves).ok_or("empty tree")?;
    if root.as_bytes() != &ref_root {
        return Err("chain root differs from the reference".into());
    }
    let cp1 = CheckpointBody::new(
        W,
        "ingress",
        1,
        2,
        root,
        p2.self_hash,
        PrevHash::Genesis,
        1_730_246_401_000,
    )
    .map_err(|e| e.to_string())?;
    let cp1_bytes = String::from_utf8(cp1.to_canonical()).map_err(|e| e.to_string())?;
    let chain = json!({
        "desc": "seed records 5.1 and 5.2 as one chain, the root of their tree, and the first checkpoint over it",
        "records": [genesis, next],
        "self_hashes": [p1.self_hash.to_hash_string(), p2.self_hash.to_hash_string()],
        "leaves": leaves.iter().map(Digest::to_hash_string).collect::<Vec<_>>(),
        "root": root.to_hash_string(),
        "checkpoint_body": cp1_bytes,
        "checkpoint_digest": format!("b3:{}", blake3::hash(cp1_bytes.as_bytes()).to_hex()),
        "signing_message_hex": hex(&cp1.signing_message()),
    });

    Ok(json!({
        "_comment": format!(
            "Generated by `{REGEN}` from audit-canon; every valid case was first checked against an independent \
             reference canonicalizer (serde_json Value + NFC, xtask/src/reference.rs) and self_hash is BLAKE3 of the \
             canonical bytes. Inputs are JSON text (`input`) or raw bytes in hex (`input_hex`). `want_err` is the \
             ParseError::code() the input must produce. Regenerate with `{REGEN}`; CI runs `{REGEN} --check`."
        ),
        "valid": valid_out,
        "invalid": invalid_out,
        "chain": chain,
    }))
}

fn with_subject_name(name: &str) -> String {
    rec(
        &q(W),
        "1",
        r#""ingress""#,
        r#""GetServed""#,
        "{}",
        &format!(r#"{{"name":"{name}"}}"#),
        r#""ok""#,
        "{}",
        r#""b3:0""#,
    )
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The self_hash digests the Merkle vectors use as records: `H("ron-audit vector record i")`.
fn vector_self_hashes(n: usize) -> Vec<[u8; 32]> {
    (0..n)
        .map(|i| *blake3::hash(format!("ron-audit vector record {i}").as_bytes()).as_bytes())
        .collect()
}

fn merkle() -> Result<Value, String> {
    let records = vector_self_hashes(100);
    let ref_leaves: Vec<[u8; 32]> = records.iter().map(reference::leaf).collect();
    let leaves: Vec<Digest> = records
        .iter()
        .map(|r| leaf_hash(&Digest::from_bytes(*r)))
        .collect();
    for (a, b) in leaves.iter().zip(&ref_leaves) {
        if a.as_bytes() != b {
            return Err("leaf hash differs from the reference".into());
        }
    }

    let mut roots = Vec::new();
    for n in (1..=17).chain([100]) {
        let want = reference::mth(&ref_leaves[..n]);
        let by_rs_merkle = root_of(&leaves[..n]).ok_or("empty")?;
        let mut f = Frontier::new();
        for l in &leaves[..n] {
            f.push(*l).map_err(|e| e.to_string())?;
        }
        let by_frontier = f.root().ok_or("empty")?;
        if by_rs_merkle.as_bytes() != &want || by_frontier.as_bytes() != &want {
            return Err(format!("root of size {n} differs from the reference"));
        }
        roots.push(json!({
            "size": n,
            "root": reference::hash_string(&want),
            "frontier": f.hashes().iter().map(Digest::to_hash_string).collect::<Vec<_>>(),
        }));
    }

    let mut inclusion = Vec::new();
    for (size, index) in [
        (1usize, 0usize),
        (2, 1),
        (7, 3),
        (8, 0),
        (13, 12),
        (17, 16),
        (100, 37),
        (100, 99),
    ] {
        let want = reference::path(index, &ref_leaves[..size]);
        let got = inclusion_path(&Blake3Tree, &leaves[..size], index as u64).map_err(|e| e.to_string())?;
        if got.iter().map(|d| *d.as_bytes()).collect::<Vec<_>>() != want {
            return Err(format!(
                "inclusion path {index} of {size} differs from the reference"
            ));
        }
        let root = Digest::from_bytes(reference::mth(&ref_leaves[..size]));
        verify_inclusion(
            &Blake3Tree,
            index as u64,
            size as u64,
            &leaves[index],
            &got,
            &root,
        )
        .map_err(|e| e.to_string())?;
        inclusion.push(json!({
            "desc": format!("leaf {index} of {size}"),
            "leaf_index": index,
            "tree_size": size,
            "leaf": leaves[index].to_hash_string(),
            "root": root.to_hash_string(),
            "path": want.iter().map(reference::hash_string).collect::<Vec<_>>(),
        }));
    }

    let mut consistency = Vec::new();
    for (old, new) in [
        (1usize, 1usize),
        (1, 2),
        (3, 7),
        (4, 8),
        (6, 13),
        (7, 8),
        (16, 17),
        (17, 100),
        (100, 100),
    ] {
        let want = reference::proof(old, &ref_leaves[..new]);
        let got = consistency_path(&Blake3Tree, &leaves[..new], old as u64).map_err(|e| e.to_string())?;
        if got.iter().map(|d| *d.as_bytes()).collect::<Vec<_>>() != want {
            return Err(format!(
                "consistency path {old} -> {new} differs from the reference"
            ));
        }
        let old_root = Digest::from_bytes(reference::mth(&ref_leaves[..old]));
        let new_root = Digest::from_bytes(reference::mth(&ref_leaves[..new]));
        verify_consistency(&Blake3Tree, old as u64, new as u64, &old_root, &new_root, &got)
            .map_err(|e| e.to_string())?;
        consistency.push(json!({
            "desc": format!("from size {old} to {new}"),
            "old_size": old,
            "new_size": new,
            "old_root": old_root.to_hash_string(),
            "new_root": new_root.to_hash_string(),
            "path": want.iter().map(reference::hash_string).collect::<Vec<_>>(),
        }));
    }

    let (inclusion_invalid, consistency_invalid) = tampered(&leaves)?;

    Ok(json!({
        "_comment": format!(
            "Generated by `{REGEN}`. Record i (0-based, seq i+1) has self_hash H(\"ron-audit vector record i\") \
             (BLAKE3 of that ASCII text); leaf = H(0x00 || self_hash), node = H(0x01 || l || r). Roots and paths \
             come from the recursive RFC 9162 definitions in xtask/src/reference.rs and were checked equal to \
             audit-canon's frontier, rs_merkle root and proof generators. The *_invalid cases are valid proofs \
             with one thing changed (a flipped bit, a moved index, a cut or extended path, swapped roots); each \
             must be rejected with the error class in `want_err`."
        ),
        "record_self_hashes": records.iter().map(reference::hash_string).collect::<Vec<_>>(),
        "roots": roots,
        "inclusion": inclusion,
        "consistency": consistency,
        "inclusion_invalid": inclusion_invalid,
        "consistency_invalid": consistency_invalid,
    }))
}

fn flip(d: &Digest) -> Digest {
    let mut b = *d.as_bytes();
    b[0] ^= 1;
    Digest::from_bytes(b)
}

/// (desc, leaf index, tree size, leaf, path, root)
type InclusionCase<'a> = (&'a str, u64, u64, Digest, Vec<Digest>, Digest);
/// (desc, old size, new size, old root, new root, path)
type ConsistencyCase<'a> = (&'a str, u64, u64, Digest, Digest, Vec<Digest>);

/// Valid proofs with one thing changed, and the error each gives.
fn tampered(leaves: &[Digest]) -> Result<(Vec<Value>, Vec<Value>), String> {
    let t = Blake3Tree;
    let strs = |p: &[Digest]| p.iter().map(Digest::to_hash_string).collect::<Vec<_>>();
    let (size, index) = (13usize, 6usize);
    let root = root_of(&leaves[..size]).ok_or("empty")?;
    let path = inclusion_path(&t, &leaves[..size], index as u64).map_err(|e| e.to_string())?;
    let mut cases: Vec<InclusionCase<'_>> = Vec::new();
    let mut p = path.clone();
    p[0] = flip(&p[0]);
    cases.push((
        "one bit of path[0] flipped",
        index as u64,
        size as u64,
        leaves[index],
        p,
        root,
    ));
    let mut p = path.clone();
    let last = p.len() - 1;
    p[last] = flip(&p[last]);
    cases.push((
        "one bit of the last path element flipped",
        index as u64,
        size as u64,
        leaves[index],
        p,
        root,
    ));
    cases.push((
        "wrong leaf",
        index as u64,
        size as u64,
        leaves[index + 1],
        path.clone(),
        root,
    ));
    cases.push((
        "leaf index plus one",
        index as u64 + 1,
        size as u64,
        leaves[index],
        path.clone(),
        root,
    ));
    cases.push((
        "tree size doubled",
        index as u64,
        2 * size as u64,
        leaves[index],
        path.clone(),
        root,
    ));
    cases.push((
        "path cut short",
        index as u64,
        size as u64,
        leaves[index],
        path[..path.len() - 1].to_vec(),
        root,
    ));
    let mut p = path.clone();
    p.push(root);
    cases.push((
        "path with an extra element",
        index as u64,
        size as u64,
        leaves[index],
        p,
        root,
    ));
    cases.push((
        "leaf index equal to the tree size",
        size as u64,
        size as u64,
        leaves[index],
        path.clone(),
        root,
    ));
    cases.push((
        "root of another size",
        index as u64,
        size as u64,
        leaves[index],
        path.clone(),
        root_of(&leaves[..size + 1]).ok_or("empty")?,
    ));
    let mut inc = Vec::new();
    for (desc, i, n, leaf, p, r) in cases {
        let err = match verify_inclusion(&t, i, n, &leaf, &p, &r) {
            Ok(()) => return Err(format!("tampered inclusion proof {desc:?} verified")),
            Err(e) => e,
        };
        inc.push(json!({"desc": desc, "leaf_index": i, "tree_size": n, "leaf": leaf.to_hash_string(), "root": r.to_hash_string(), "path": strs(&p), "want_err": err.code()}));
    }

    let (old, new) = (6usize, 13usize);
    let r_old = root_of(&leaves[..old]).ok_or("empty")?;
    let r_new = root_of(&leaves[..new]).ok_or("empty")?;
    let path = consistency_path(&t, &leaves[..new], old as u64).map_err(|e| e.to_string())?;
    let mut cases: Vec<ConsistencyCase<'_>> = Vec::new();
    let mut p = path.clone();
    p[0] = flip(&p[0]);
    cases.push((
        "one bit of path[0] flipped",
        old as u64,
        new as u64,
        r_old,
        r_new,
        p,
    ));
    let mut p = path.clone();
    let last = p.len() - 1;
    p[last] = flip(&p[last]);
    cases.push((
        "one bit of the last path element flipped",
        old as u64,
        new as u64,
        r_old,
        r_new,
        p,
    ));
    cases.push((
        "roots swapped",
        old as u64,
        new as u64,
        r_new,
        r_old,
        path.clone(),
    ));
    cases.push((
        "wrong new root",
        old as u64,
        new as u64,
        r_old,
        flip(&r_new),
        path.clone(),
    ));
    cases.push((
        "path cut short",
        old as u64,
        new as u64,
        r_old,
        r_new,
        path[..path.len() - 1].to_vec(),
    ));
    let mut p = path.clone();
    p.push(r_new);
    cases.push((
        "path with an extra element",
        old as u64,
        new as u64,
        r_old,
        r_new,
        p,
    ));
    cases.push((
        "empty path for different sizes",
        old as u64,
        new as u64,
        r_old,
        r_new,
        vec![],
    ));
    cases.push(("old size 0", 0, new as u64, r_old, r_new, path.clone()));
    cases.push((
        "old size larger than new",
        new as u64,
        old as u64,
        r_new,
        r_old,
        path.clone(),
    ));
    cases.push((
        "equal sizes with a non-empty path",
        new as u64,
        new as u64,
        r_new,
        r_new,
        path.clone(),
    ));
    cases.push((
        "equal sizes with different roots",
        new as u64,
        new as u64,
        r_old,
        r_new,
        vec![],
    ));
    let mut con = Vec::new();
    for (desc, o, n, ro, rn, p) in cases {
        let err = match verify_consistency(&t, o, n, &ro, &rn, &p) {
            Ok(()) => return Err(format!("tampered consistency proof {desc:?} verified")),
            Err(e) => e,
        };
        con.push(json!({"desc": desc, "old_size": o, "new_size": n, "old_root": ro.to_hash_string(), "new_root": rn.to_hash_string(), "path": strs(&p), "want_err": err.code()}));
    }
    Ok((inc, con))
}

/// Every record input and canonical form of the vectors, as fuzz seeds.
fn fuzz_seeds(records: &Value) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, c) in records["valid"].as_array().into_iter().flatten().enumerate() {
        for key in ["input", "canonical"] {
            out.push((
                format!("valid-{i:03}-{key}"),
                c[key].as_str().unwrap_or_default().as_bytes().to_vec(),
            ));
        }
    }
    for (i, c) in records["invalid"].as_array().into_iter().flatten().enumerate() {
        let bytes = match c.get("input_hex").and_then(Value::as_str) {
            Some(h) => (0..h.len() / 2)
                .filter_map(|k| u8::from_str_radix(h.get(2 * k..2 * k + 2)?, 16).ok())
                .collect(),
            None => c["input"].as_str().unwrap_or_default().as_bytes().to_vec(),
        };
        out.push((format!("invalid-{i:03}"), bytes));
    }
    out
}

/// Writes the seed files (removing stale ones), or in check mode reports a
/// directory that differs.
fn sync_seeds(
    dir: &Path,
    seeds: &[(String, Vec<u8>)],
    check: bool,
    stale: &mut Vec<String>,
) -> Result<(), String> {
    let existing: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n != "README.md")
            .collect(),
        Err(_) => Vec::new(),
    };
    let same = existing.len() == seeds.len()
        && seeds
            .iter()
            .all(|(name, bytes)| std::fs::read(dir.join(name)).ok().as_deref() == Some(&bytes[..]));
    if same {
        return Ok(());
    }
    if check {
        stale.push(dir.display().to_string());
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for name in &existing {
        std::fs::remove_file(dir.join(name)).map_err(|e| format!("{name}: {e}"))?;
    }
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes).map_err(|e| format!("{name}: {e}"))?;
    }
    std::fs::write(
        dir.join("README.md"),
        format!("Seed corpus of the `canonicalize` fuzz target, generated from vectors/records.json by `{REGEN}`.\n"),
    )
    .map_err(|e| e.to_string())?;
    println!("wrote {}", dir.display());
    Ok(())
}
