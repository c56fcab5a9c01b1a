//! Every command of CLI-v1.md end to end in a temporary directory: its
//! output, and its exit code for success and for each failure class.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use common::{auditctl, text};

#[track_caller]
fn ok(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    text(&o.stdout)
}

#[track_caller]
fn exits(o: &Output, code: i32) -> String {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let e = text(&o.stderr);
    assert_eq!(e.lines().count(), 1, "one sentence on stderr: {e}");
    e
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

const EVENTS: &str = r#"{"stream":"ingress","kind":"GetServed","actor":{"anon":true},"subject":{"name":"a"},"reason":"ok","attrs":{"status":200,"bytes":512}}
{"stream":"policy","kind":"PolicyChanged","actor":{"passport_id":"p-1"},"subject":{},"reason":"ok","attrs":{"rule":"r1"},"ts_ms":1730246400000}
{"stream":"ingress","kind":"GetServed","reason":"ok","attrs":{"status":404}}
{"stream":"ingress","kind":"QuotaReject","reason":"audit_backpressure","attrs":{}}
"#;

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    wal: PathBuf,
    key: PathBuf,
    public: PathBuf,
}

impl Env {
    /// `append` of `events` to the WAL, then a `checkpoint` of it.
    fn append_and_checkpoint(&self, events: &[u8]) {
        ok(&auditctl(
            &["append", "--wal", p(&self.wal), "--writer", "svc@1"],
            events,
        ));
        ok(&auditctl(
            &["checkpoint", "--wal", p(&self.wal), "--key", p(&self.key)],
            b"",
        ));
    }
}

fn env() -> Env {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().to_path_buf();
    let e = Env {
        wal: root.join("wal"),
        key: root.join("key.pem"),
        public: root.join("pub.pem"),
        root,
        _tmp: tmp,
    };
    ok(&auditctl(
        &["keygen", "--out", p(&e.key), "--pub", p(&e.public)],
        b"",
    ));
    e.append_and_checkpoint(EVENTS.as_bytes());
    e
}

#[test]
fn keygen_and_pubkey_agree_and_never_overwrite() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = tmp.path().join("k.pem");
    let out = ok(&auditctl(&["keygen", "--out", p(&key), "--json"], b""));
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    let kid = v["kid"].as_str().expect("kid").to_owned();
    assert_eq!(kid.len(), 32);
    let again = auditctl(&["keygen", "--out", p(&key)], b"");
    assert!(exits(&again, 2).contains("refusing to overwrite"));
    // A public key file that cannot be written leaves no secret key behind.
    let lone = tmp.path().join("lone.pem");
    let nowhere = tmp.path().join("no-such-dir/lone.pub.pem");
    exits(
        &auditctl(&["keygen", "--out", p(&lone), "--pub", p(&nowhere)], b""),
        5,
    );
    assert!(!lone.exists(), "the secret key was left behind");
    ok(&auditctl(&["keygen", "--out", p(&lone)], b""));
    let shown = ok(&auditctl(&["pubkey", p(&key)], b""));
    assert!(shown.contains(&format!("kid {kid}")), "{shown}");
    // A public key file shows the same kid and key; where a secret key
    // belongs it is refused, naming what it is.
    let public = tmp.path().join("k.pub.pem");
    let signer = audit_export::Ed25519Signer::load(&key).expect("load");
    std::fs::write(&public, signer.public_key_pem()).expect("write");
    assert_eq!(ok(&auditctl(&["pubkey", p(&public)], b"")), shown);
    let wal = tmp.path().join("wal");
    ok(&auditctl(
        &["append", "--wal", p(&wal), "--writer", "w"],
        EVENTS.as_bytes(),
    ));
    let said = exits(
        &auditctl(&["checkpoint", "--wal", p(&wal), "--key", p(&public)], b""),
        2,
    );
    assert!(said.contains("holds a public key"), "{said}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).expect("stat").permissions().mode() & 0o777,
        0o600
    );
    // An openssl-made key works too.
    let ossl = tmp.path().join("o.pem");
    let made = Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out", p(&ossl)])
        .status()
        .expect("openssl");
    assert!(made.success());
    assert!(ok(&auditctl(&["pubkey", p(&ossl)], b"")).starts_with("kid "));
    exits(&auditctl(&["pubkey", p(&tmp.path().join("missing.pem"))], b""), 5);
}

#[test]
fn append_keeps_the_lines_before_a_bad_one_and_names_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let wal = tmp.path().join("wal");
    let input = format!(
        "{}{}\n{}",
        EVENTS.lines().next().expect("line"),
        "",
        "{\"stream\":\"ingress\",\"kind\":\"K\",\"reason\":\"ok\",\"attrs\":{\"x\":1.5}}\n"
    );
    let o = auditctl(
        &[
            "append",
            "--wal",
            p(&wal),
            "--writer",
            "svc@1",
            "--fsync",
            "always",
        ],
        input.as_bytes(),
    );
    let e = exits(&o, 1);
    assert!(
        e.contains("line 2") && e.contains("nothing of it was written"),
        "{e}"
    );
    assert!(
        text(&o.stdout).contains("appended 1 record to"),
        "{}",
        text(&o.stdout)
    );
    let lines = ok(&auditctl(&["cat", p(&wal)], b""));
    assert_eq!(lines.lines().count(), 1);
    let unknown = auditctl(
        &["append", "--wal", p(&wal), "--writer", "svc@1"],
        b"{\"stream\":\"s\",\"kind\":\"K\",\"reason\":\"ok\",\"seq\":9}\n",
    );
    assert!(exits(&unknown, 1).contains("unknown field \"seq\""));
    assert_eq!(
        auditctl(
            &[
                "append",
                "--wal",
                p(&wal),
                "--writer",
                "svc@1",
                "--fsync",
                "sometimes"
            ],
            b""
        )
        .status
        .code(),
        Some(2)
    );
    // A line longer than any event can be is refused by its number without
    // being read whole; the line before it stays appended.
    let long = format!(
        "{}\n{{\"stream\":\"s\",\"kind\":\"K\",\"reason\":\"ok\",\"attrs\":{{\"x\":\"{}\"}}}}\n",
        EVENTS.lines().next().expect("line"),
        "a".repeat(70_000)
    );
    let other = tmp.path().join("long");
    let o = auditctl(
        &["append", "--wal", p(&other), "--writer", "svc@1"],
        long.as_bytes(),
    );
    assert!(exits(&o, 1).contains("line 2: longer than 65536 bytes"));
    assert!(
        text(&o.stdout).contains("appended 1 record to"),
        "{}",
        text(&o.stdout)
    );
    // A writer the record rules refuse is refused before a WAL is made.
    let fresh = tmp.path().join("fresh");
    let long = "w".repeat(129);
    for writer in ["", "svc\u{7}", long.as_str()] {
        let said = exits(
            &auditctl(
                &["append", "--wal", p(&fresh), "--writer", writer],
                EVENTS.as_bytes(),
            ),
            2,
        );
        assert!(said.contains("writer_id"), "{said}");
        assert!(!fresh.exists(), "{writer:?}: a WAL was created");
    }
    // Appending again continues the chains.
    ok(&auditctl(
        &["append", "--wal", p(&wal), "--writer", "svc@1"],
        EVENTS.as_bytes(),
    ));
    let all = ok(&auditctl(&["cat", p(&wal), "--stream", "ingress"], b""));
    let seqs: Vec<u64> = all
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["seq"]
                .as_u64()
                .expect("seq")
        })
        .collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
}

/// `append` writes a WAL whatever the configuration's `sink` is (`ram` by
/// default), so the `wal.*` rules hold for it: a refused configuration
/// creates nothing.
#[test]
fn append_refuses_a_configuration_whose_wal_rules_fail_and_creates_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let wal = tmp.path().join("wal");
    let config = |name: &str, text: &str| {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).expect("write config");
        path
    };
    let small = config("small.toml", "[wal]\nrotate_bytes = \"1MiB\"\n");
    let prod = config("prod.toml", "profile = \"prod\"\n");
    let append = |cfg: &Path, fsync: &str| {
        let args = [
            "append",
            "--wal",
            p(&wal),
            "--writer",
            "svc@1",
            "--config",
            p(cfg),
            "--fsync",
            fsync,
        ];
        auditctl(&args, EVENTS.as_bytes())
    };
    let e = exits(&append(&small, "always"), 2);
    assert!(e.contains("wal.rotate_bytes = 1048576 is below 8MiB"), "{e}");
    let e = exits(&append(&prod, "never"), 2);
    assert!(e.contains("wal.fsync = \"never\" is for tests only"), "{e}");
    assert!(!wal.exists(), "a refused configuration created the WAL");
    assert!(ok(&append(&prod, "always")).contains("appended 4 records"));
}

/// Issue 3, item 6: privacy at the source holds for `append` too. A raw
/// email, phone number or IP address never reaches disk by default; the
/// configuration can keep an IP's prefix, or refuse such an event.
#[test]
fn append_scrubs_personal_data_before_it_reaches_disk_or_refuses_it_when_configured() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let line = r#"{"stream":"login","kind":"Login","actor":{"cap_id":"c-1"},"subject":{"name":"alice@example.com"},"reason":"ok","attrs":{"ip":"203.0.113.7","note":"call +65 6123 4567"}}"#;
    let input = format!("{EVENTS}{line}\n");
    let config = |name: &str, text: &str| {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).expect("write config");
        path
    };
    let append = |wal: &Path, cfg: Option<&Path>| {
        let mut args = vec!["append", "--wal", p(wal), "--writer", "svc@1"];
        if let Some(cfg) = cfg {
            args.extend(["--config", p(cfg)]);
        }
        auditctl(&args, input.as_bytes())
    };
    let on_disk = |wal: &Path| -> Vec<u8> {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(wal).expect("wal dir") {
            all.extend(std::fs::read(entry.expect("entry").path()).expect("read"));
        }
        all
    };
    let contains = |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());

    // Defaults: every value replaced by its marker.
    let wal = tmp.path().join("default");
    assert!(ok(&append(&wal, None)).contains("appended 5 records"));
    let login = ok(&auditctl(&["cat", p(&wal), "--stream", "login"], b""));
    assert!(
        login.contains(r#""subject":{"name":"[email]"}"#)
            && login.contains(r#""ip":"[ip]""#)
            && login.contains(r#""note":"call [phone]""#),
        "{login}"
    );
    let bytes = on_disk(&wal);
    for raw in ["alice@example.com", "203.0.113.7", "6123 4567"] {
        assert!(!contains(&bytes, raw), "{raw} reached disk");
    }

    // ip_mode = "prefix": the /24 is kept, the rest still scrubbed.
    let wal = tmp.path().join("prefix");
    let prefix = config("prefix.toml", "[privacy]\nip_mode = \"prefix\"\n");
    assert!(ok(&append(&wal, Some(&prefix))).contains("appended 5 records"));
    let login = ok(&auditctl(&["cat", p(&wal), "--stream", "login"], b""));
    assert!(
        login.contains(r#""ip":"203.0.113.0/24""#) && login.contains("[email]"),
        "{login}"
    );

    // pii_action = "reject": the line is refused, naming it and its field;
    // the lines before it stay, nothing of it is written.
    let wal = tmp.path().join("reject");
    let reject = config("reject.toml", "[privacy]\npii_action = \"reject\"\n");
    let e = exits(&append(&wal, Some(&reject)), 1);
    assert!(
        e.contains("line 5") && e.contains("subject.name holds what looks like an email address"),
        "{e}"
    );
    assert!(
        !e.contains("alice@example.com"),
        "the refusal repeats the value: {e}"
    );
    assert_eq!(ok(&auditctl(&["cat", p(&wal)], b"")).lines().count(), 4);
    assert!(!contains(&on_disk(&wal), "alice@example.com"));
}

/// FORMAT-v1.md section 2, rule 3: a repeated key is refused, not merged.
#[test]
fn append_refuses_a_line_with_a_repeated_key_and_writes_nothing_of_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let wal = tmp.path().join("wal");
    let line = r#"{"stream":"ingress","kind":"K","reason":"ok","attrs":{"a":1,"a":2}}"#;
    let o = auditctl(
        &["append", "--wal", p(&wal), "--writer", "svc@1"],
        format!("{EVENTS}{line}\n").as_bytes(),
    );
    let e = exits(&o, 1);
    assert!(e.contains(r#"line 5: duplicate key "a" in attrs"#), "{e}");
    assert_eq!(ok(&auditctl(&["cat", p(&wal)], b"")).lines().count(), 4);
}

#[test]
fn append_commits_nothing_after_a_line_over_the_size_bound() {
    // The size bound is checked when a record is sealed, on the committing
    // thread, after the reading thread has prepared lines well past it.
    let tmp = tempfile::tempdir().expect("tempdir");
    let wal = tmp.path().join("wal");
    let input: String = (1..=600)
        .map(|i| {
            let blob = if i == 300 { "x".repeat(2000) } else { String::new() };
            format!(
                "{{\"stream\":\"s{}\",\"kind\":\"K\",\"reason\":\"ok\",\"attrs\":{{\"i\":{i},\"blob\":\"{blob}\"}}}}\n",
                i % 3
            )
        })
        .collect();
    let o = auditctl(
        &["append", "--wal", p(&wal), "--writer", "svc@1"],
        input.as_bytes(),
    );
    let e = exits(&o, 1);
    assert!(
        e.contains("line 300 ") && e.contains("nothing of it was written"),
        "{e}"
    );
    assert!(
        text(&o.stdout).contains("appended 299 records"),
        "{}",
        text(&o.stdout)
    );
    let lines = ok(&auditctl(&["cat", p(&wal)], b""));
    assert_eq!(lines.lines().count(), 299);
    ok(&auditctl(&["verify", p(&wal)], b""));
}

#[test]
fn append_in_batches_syncs_per_batch_and_keeps_every_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let wal = tmp.path().join("wal");
    let input: String = (0..130)
        .map(|i| {
            format!(
                "{{\"stream\":\"s{}\",\"kind\":\"K\",\"reason\":\"ok\",\"attrs\":{{\"i\":{i}}}}}\n",
                i % 3
            )
        })
        .collect();
    let args = [
        "append",
        "--wal",
        p(&wal),
        "--writer",
        "svc@1",
        "--fsync",
        "always",
        "--batch",
        "64",
    ];
    assert!(ok(&auditctl(&args, input.as_bytes())).contains("appended 130 records"));
    let v = ok(&auditctl(&["verify", p(&wal), "--json"], b""));
    let v: serde_json::Value = serde_json::from_str(&v).expect("json");
    let total: u64 = v["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .map(|s| s["records"].as_u64().expect("records"))
        .sum();
    assert_eq!(total, 130);
    // A batch is a sync: without syncs there is nothing to batch.
    let never = auditctl(
        &[
            "append",
            "--wal",
            p(&wal),
            "--writer",
            "svc@1",
            "--fsync",
            "never",
            "--batch",
            "8",
        ],
        b"",
    );
    assert!(exits(&never, 2).contains("--batch needs --fsync always"));
    assert_eq!(
        auditctl(
            &["append", "--wal", p(&wal), "--writer", "svc@1", "--batch", "0"],
            b""
        )
        .status
        .code(),
        Some(2)
    );
}

#[test]
fn append_and_checkpoint_json_are_one_object_each() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (wal, key) = (tmp.path().join("wal"), tmp.path().join("k.pem"));
    ok(&auditctl(&["keygen", "--out", p(&key)], b""));
    let one = |args: &[&str], stdin: &[u8]| -> serde_json::Value {
        let out = ok(&auditctl(args, stdin));
        assert_eq!(out.lines().count(), 1, "one line: {out}");
        serde_json::from_str(&out).expect("one JSON object")
    };
    let append = ["append", "--wal", p(&wal), "--writer", "svc@1", "--json"];
    let a = one(&append, EVENTS.as_bytes());
    assert_eq!(a["appended"].as_u64(), Some(4));
    assert_eq!(a["writer_id"].as_str(), Some("svc@1"));
    let streams = a["streams"].as_array().expect("streams");
    let last: Vec<_> = streams
        .iter()
        .map(|s| {
            (
                s["stream"].as_str().expect("stream"),
                s["last_seq"].as_u64().expect("seq"),
            )
        })
        .collect();
    assert_eq!(last, [("ingress", 3), ("policy", 1)]);
    // Each head is the self_hash of the stream's last record, as cat prints it.
    let cat = ok(&auditctl(&["cat", p(&wal), "--stream", "ingress"], b""));
    let tail: serde_json::Value =
        serde_json::from_str(cat.lines().last().expect("a record")).expect("record");
    assert_eq!(streams[0]["head"], tail["self_hash"]);

    let cp = ["checkpoint", "--wal", p(&wal), "--key", p(&key), "--json"];
    let made = one(&cp, b"");
    let stored = std::fs::read_to_string(wal.join("checkpoints.jsonl")).expect("checkpoints");
    let listed = made["checkpoints"].as_array().expect("checkpoints");
    assert_eq!(listed.len(), 2);
    for (shown, line) in listed.iter().zip(stored.lines()) {
        let line: serde_json::Value = serde_json::from_str(line).expect("stored line");
        assert_eq!(shown, &line);
    }
    // Nothing new to cover: still one object, with no checkpoints.
    assert_eq!(one(&cp, b""), serde_json::json!({"checkpoints": []}));
    // A later append continues the chain it reports.
    let more = one(&append, EVENTS.lines().next().expect("line").as_bytes());
    assert_eq!(more["appended"].as_u64(), Some(1));
    assert_eq!(more["streams"][0]["last_seq"].as_u64(), Some(4));
}

/// `checkpoint` and `export` refuse a damaged `checkpoints.jsonl` with the
/// exit code `verify` gives it, and write nothing.
#[test]
fn checkpoint_and_export_refuse_a_damaged_checkpoints_file_as_verify_classes_it() {
    let e = env();
    // A second checkpoint of ingress, so one chains to another.
    e.append_and_checkpoint(EVENTS.lines().next().expect("line").as_bytes());
    let file = e.wal.join("checkpoints.jsonl");
    let good = std::fs::read_to_string(&file).expect("checkpoints");
    assert_eq!(good.lines().count(), 3, "{good}");
    // The second ingress checkpoint's prev_checkpoint, one hex digit off.
    let second = good.lines().nth(2).expect("line 3");
    let at = second.find("\"prev_checkpoint\":\"b3:").expect("prev") + 22;
    let digit = if &second[at..=at] == "0" { "1" } else { "0" };
    let chain_broken = good.replacen(
        second,
        &format!("{}{digit}{}", &second[..at], &second[at + 1..]),
        1,
    );
    let check = |damaged: &str, code: i32| {
        std::fs::write(&file, damaged).expect("write");
        let made = exits(
            &auditctl(&["checkpoint", "--wal", p(&e.wal), "--key", p(&e.key)], b""),
            code,
        );
        assert!(made.contains("checkpoints.jsonl"), "{made}");
        exits(&auditctl(&["verify", p(&e.wal)], b""), code);
        // export refuses it too, with the same class, and writes nothing.
        let bundle = e.root.join("bundle");
        let refused = auditctl(&export_args(&e.wal, "ingress", &bundle), b"");
        let said = exits(&refused, code);
        assert!(said.contains("checkpoint"), "{said}");
        assert!(!bundle.exists());
        assert_eq!(std::fs::read_to_string(&file).expect("read"), damaged);
    };
    check(
        &good.replacen("{\"body\":{\"v\":1,", "{\"body\":{ \"v\":1,", 1),
        4,
    );
    check(&chain_broken, 1);
}

/// Two keys sign every checkpoint (`--key` twice); `rotate-key` records
/// `KeyRotated` in each stream of the writer and cross-signs, and later
/// checkpoints need the new key.
#[test]
fn checkpoints_are_cross_signed_and_keys_rotate_from_the_command_line() {
    let e = env();
    // A WAL of its own, so every checkpoint in it is signed by both keys.
    let wal = e.root.join("wal2");
    let (k2, p2) = (e.root.join("k2.pem"), e.root.join("k2.pub.pem"));
    ok(&auditctl(&["keygen", "--out", p(&k2), "--pub", p(&p2)], b""));
    let kid = |pem: &Path| {
        let v: serde_json::Value =
            serde_json::from_str(&ok(&auditctl(&["pubkey", p(pem), "--json"], b""))).expect("json");
        v["kid"].as_str().expect("kid").to_owned()
    };
    let (old_kid, new_kid) = (kid(&e.key), kid(&k2));
    let append = ["append", "--wal", p(&wal), "--writer", "svc@1"];
    ok(&auditctl(&append, EVENTS.as_bytes()));
    let made: serde_json::Value = serde_json::from_str(&ok(&auditctl(
        &[
            "checkpoint",
            "--wal",
            p(&wal),
            "--key",
            p(&e.key),
            "--key",
            p(&k2),
            "--json",
        ],
        b"",
    )))
    .expect("json");
    for c in made["checkpoints"].as_array().expect("checkpoints") {
        let kids: Vec<&str> = c["sigs"]
            .as_array()
            .expect("sigs")
            .iter()
            .filter_map(|s| s["kid"].as_str())
            .collect();
        assert_eq!(kids, [old_kid.as_str(), new_kid.as_str()]);
    }
    let both = ["verify", p(&wal), "--trust", p(&e.public), "--trust", p(&p2)];
    ok(&auditctl(&[&both[..], &["--min-sigs", "2"]].concat(), b""));
    // The same key twice is refused before anything is written.
    let said = exits(
        &auditctl(
            &["checkpoint", "--wal", p(&wal), "--key", p(&k2), "--key", p(&k2)],
            b"",
        ),
        2,
    );
    assert!(said.contains("are the same key"), "{said}");

    let rotate = |writer: &str| {
        auditctl(
            &[
                "rotate-key",
                "--wal",
                p(&wal),
                "--writer",
                writer,
                "--old",
                p(&e.key),
                "--new",
                p(&k2),
                "--json",
            ],
            b"",
        )
    };
    let before = std::fs::read(wal.join("wal-000001.seg")).expect("read");
    assert!(exits(&rotate("nobody"), 2).contains("has no streams"));
    // An --old key that did not sign the latest checkpoints is refused:
    // the record would name a rotation from a key that never signed.
    let k3 = e.root.join("k3.pem");
    ok(&auditctl(&["keygen", "--out", p(&k3)], b""));
    let stranger = auditctl(
        &[
            "rotate-key",
            "--wal",
            p(&wal),
            "--writer",
            "svc@1",
            "--old",
            p(&k3),
            "--new",
            p(&k2),
        ],
        b"",
    );
    let why = exits(&stranger, 2);
    assert!(why.contains(&format!("--old {}: stream", k3.display())), "{why}");
    assert!(why.contains("did not sign its latest checkpoint"), "{why}");
    assert_eq!(std::fs::read(wal.join("wal-000001.seg")).expect("read"), before);
    let r: serde_json::Value = serde_json::from_str(&ok(&rotate("svc@1"))).expect("one JSON object");
    assert_eq!(r["rotated"]["new_kid"].as_str(), Some(new_kid.as_str()));
    assert_eq!(r["rotated"]["streams"], serde_json::json!(["ingress", "policy"]));
    // Each stream's newest record is the rotation, and its checkpoint
    // covers it, signed by both keys.
    for (stream, checkpoint) in ["ingress", "policy"]
        .into_iter()
        .zip(r["checkpoints"].as_array().expect("made"))
    {
        let cat = ok(&auditctl(&["cat", p(&wal), "--stream", stream], b""));
        let last: serde_json::Value =
            serde_json::from_str(cat.lines().last().expect("record")).expect("json");
        assert_eq!(last["kind"], "KeyRotated");
        assert_eq!(
            last["attrs"],
            serde_json::json!({"new_kid": new_kid, "old_kid": old_kid})
        );
        assert_eq!(checkpoint["body"]["head"], last["self_hash"]);
        assert_eq!(checkpoint["sigs"].as_array().map(Vec::len), Some(2));
    }
    // After the rotation only the new key signs: trusting the old key
    // alone fails, both (the overlap) or the new one alone verify.
    ok(&auditctl(&append, EVENTS.as_bytes()));
    ok(&auditctl(&["checkpoint", "--wal", p(&wal), "--key", p(&k2)], b""));
    exits(&auditctl(&["verify", p(&wal), "--trust", p(&e.public)], b""), 3);
    ok(&auditctl(&both, b""));
}

#[test]
fn checkpoint_verify_and_the_exit_codes_of_verify() {
    let e = env();
    let out = ok(&auditctl(&["verify", p(&e.wal), "--trust", p(&e.public)], b""));
    assert!(
        out.contains("svc@1 ingress: 3 records, seq 1..=3") && out.contains("1 checkpoint verified"),
        "{out}"
    );
    let json = ok(&auditctl(
        &["verify", p(&e.wal), "--trust", p(&e.public), "--json"],
        b"",
    ));
    let v: serde_json::Value = serde_json::from_str(&json).expect("one JSON object");
    assert_eq!((v["ok"].as_bool(), v["records"].as_u64()), (Some(true), Some(4)));
    // Nothing new: no checkpoint.
    assert!(
        ok(&auditctl(
            &["checkpoint", "--wal", p(&e.wal), "--key", p(&e.key)],
            b""
        ))
        .contains("already covered")
    );
    // Unchecked without keys.
    assert!(ok(&auditctl(&["verify", p(&e.wal)], b"")).contains("signatures: unchecked"));
    // Another key: trust failure (3).
    let other = e.root.join("other.pem");
    let hex = ok(&auditctl(&["keygen", "--out", p(&other)], b""))
        .lines()
        .nth(1)
        .expect("pub line")
        .split(' ')
        .nth(1)
        .expect("hex")
        .to_owned();
    exits(&auditctl(&["verify", p(&e.wal), "--trust", &hex], b""), 3);
    exits(
        &auditctl(
            &[
                "verify",
                p(&e.wal),
                "--trust",
                p(&e.public),
                "--trust",
                &hex,
                "--min-sigs",
                "2",
            ],
            b"",
        ),
        3,
    );
    // A policy no data could meet is a usage error, never a trust failure
    // of the data: too few distinct keys (the same key twice is one), or
    // none at all.
    for trust in [&[][..], &[p(&e.public)][..], &[p(&e.public), p(&e.public)][..]] {
        let mut args = vec!["verify", p(&e.wal), "--min-sigs", "2"];
        for t in trust {
            args.extend(["--trust", t]);
        }
        let said = exits(&auditctl(&args, b""), 2);
        assert!(
            said.contains("--min-sigs 2 needs at least 2 distinct --trust keys"),
            "{said}"
        );
    }
    // A flipped byte in a record: integrity (1), naming file and offset.
    let seg = e.wal.join("wal-000001.seg");
    let mut b = std::fs::read(&seg).expect("read");
    let at = b
        .windows(10)
        .position(|w| w == b"\"name\":\"a\"")
        .expect("subject")
        + 8;
    b[at] = b'b';
    std::fs::write(&seg, &b).expect("write");
    let err = exits(&auditctl(&["verify", p(&e.wal), "--trust", p(&e.public)], b""), 1);
    assert!(err.contains("wal-000001.seg at offset 32"), "{err}");
    // cat stops at the failure with the verifier's code.
    exits(&auditctl(&["cat", p(&e.wal)], b""), 1);
    // A missing segment: structure (4). Usage (2) and I/O-ish paths.
    std::fs::rename(&seg, e.root.join("moved.seg")).expect("mv");
    std::fs::write(e.wal.join("wal-000002.seg"), b"").expect("touch");
    exits(&auditctl(&["verify", p(&e.wal)], b""), 4);
    // A path that does not exist is I/O (5), as for cat and prove; a file
    // that is not a directory is structure (4).
    for cmd in ["verify", "cat"] {
        exits(&auditctl(&[cmd, p(&e.root.join("nope"))], b""), 5);
    }
    exits(
        &auditctl(
            &["prove", p(&e.root.join("nope")), "--stream", "s", "--seq", "1"],
            b"",
        ),
        5,
    );
    exits(&auditctl(&["verify", p(&e.key)], b""), 4);
    let said = exits(&auditctl(&["verify", p(&e.wal), "--trust", "zz"], b""), 5);
    assert!(said.contains("trusted key file zz: No such file"), "{said}");
    // A file that is there but holds no key is a usage error.
    let not_a_key = e.wal.join("checkpoints.jsonl");
    let said = exits(
        &auditctl(&["verify", p(&e.wal), "--trust", p(&not_a_key)], b""),
        2,
    );
    assert!(
        said.contains("a public key is an SPKI PEM block or 64 hex"),
        "{said}"
    );
    let usage = exits(&auditctl(&["verify"], b""), 2);
    insta::assert_snapshot!(usage, @"auditctl: the following required arguments were not provided: <PATH> (see auditctl --help)");
}

/// `export --wal WAL --writer svc@1 --stream STREAM --out OUT`.
fn export_args<'a>(wal: &'a Path, stream: &'a str, out: &'a Path) -> Vec<&'a str> {
    vec![
        "export",
        "--wal",
        p(wal),
        "--writer",
        "svc@1",
        "--stream",
        stream,
        "--out",
        p(out),
    ]
}

/// A stream or writer that is not there (a typo) is named beside the ones
/// that are: export refuses it (usage), cat prints nothing and says so.
#[test]
fn a_stream_that_is_not_there_is_named_beside_the_ones_that_are() {
    let e = env();
    let out = e.root.join("b");
    let said = exits(&auditctl(&export_args(&e.wal, "ingres", &out), b""), 2);
    assert!(
        said.contains("writer \"svc@1\" has no stream \"ingres\" (its streams: ingress, policy)"),
        "{said}"
    );
    let mut args = export_args(&e.wal, "ingress", &out);
    args[4] = "svc@2";
    let said = exits(&auditctl(&args, b""), 2);
    assert!(
        said.contains("writer \"svc@2\" has no records in this WAL (writers: svc@1)"),
        "{said}"
    );
    assert!(!out.exists(), "nothing written");
    let o = auditctl(&["cat", p(&e.wal), "--stream", "ingres"], b"");
    assert!(o.stdout.is_empty());
    let note = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{note}");
    assert!(
        note.contains("has no records of stream \"ingres\" (its streams: ingress, policy)"),
        "{note}"
    );
    // A stream that is there, with nothing in the range asked: no note.
    let o = auditctl(&["cat", p(&e.wal), "--stream", "ingress", "--from", "99"], b"");
    assert!(o.stdout.is_empty() && o.stderr.is_empty());
    assert_eq!(o.status.code(), Some(0));
}

/// The committed v1 bundle (records 4..=11, a frontier of 3 records before
/// them, checkpoints ending at 6 and 11) proves each of its records
/// against each checkpoint that covers it, and its two checkpoints
/// consistent: every proof checks against the signed roots with the test
/// key.
#[test]
fn the_committed_v1_bundle_proves_every_record_it_holds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bundle = root.join("vectors/bundle/v1");
    let key = root.join("vectors/bundle/test-key.pub.pem");
    let tmp = tempfile::tempdir().expect("tempdir");
    let pf = tmp.path().join("proof.json");
    let check = |args: &[&str]| {
        let proof = ok(&auditctl(
            &[&["prove", p(&bundle), "--stream", "ingress"][..], args].concat(),
            b"",
        ));
        std::fs::write(&pf, &proof).expect("write");
        ok(&auditctl(&["verify-proof", p(&pf), "--trust", p(&key)], b""))
    };
    for seq in 4..=11u64 {
        for end in [6u64, 11] {
            if seq <= end {
                let said = check(&["--seq", &seq.to_string(), "--checkpoint", &end.to_string()]);
                assert!(said.contains(&format!("seq {seq} ")), "{said}");
            }
        }
    }
    assert!(check(&["--consistency", "6", "11"]).contains("is a prefix of"));
    let said = exits(
        &auditctl(&["prove", p(&bundle), "--stream", "ingress", "--seq", "3"], b""),
        2,
    );
    assert!(said.contains("before the bundle's first seq 4"), "{said}");
}

/// A bundle proves what it holds: every record it holds against every
/// checkpoint it carries, and consistency between those checkpoints, with
/// proofs byte for byte the WAL's (its tree rebuilt from the manifest's
/// frontier when it starts after seq 1). What it does not hold, or does
/// not verify, is refused.
#[test]
fn prove_makes_from_a_bundle_the_proofs_the_wal_makes() {
    let e = env();
    for round in 0..4 {
        let events: String = (0..3)
            .map(|i| {
                format!(
                    "{{\"stream\":\"ingress\",\"kind\":\"K\",\"reason\":\"ok\",\"attrs\":{{\"n\":{}}}}}\n",
                    round * 3 + i
                )
            })
            .collect();
        e.append_and_checkpoint(events.as_bytes());
    }
    // ingress: 3 records from env(), then 4 checkpoints of 3 more each:
    // checkpoints end at 3, 6, 9, 12, 15. The bundle starts at 7.
    let bundle = e.root.join("later");
    ok(&auditctl(
        &[&export_args(&e.wal, "ingress", &bundle)[..], &["--from", "7"]].concat(),
        b"",
    ));
    let prove = |path: &Path, args: &[&str]| {
        auditctl(
            &[&["prove", p(path), "--stream", "ingress"][..], args].concat(),
            b"",
        )
    };
    let pf = e.root.join("bundle-proof.json");
    for seq in 7..=15u64 {
        for end in [None, Some(9u64), Some(12), Some(15)] {
            if end.is_some_and(|end| seq > end) {
                continue;
            }
            let (s, end_s) = (seq.to_string(), end.map(|x| x.to_string()));
            let mut args = vec!["--seq", s.as_str()];
            if let Some(x) = &end_s {
                args.extend(["--checkpoint", x.as_str()]);
            }
            let from_bundle = ok(&prove(&bundle, &args));
            assert_eq!(
                from_bundle,
                ok(&prove(&e.wal, &args)),
                "seq {seq} against {end:?}"
            );
            std::fs::write(&pf, &from_bundle).expect("write");
            ok(&auditctl(&["verify-proof", p(&pf), "--trust", p(&e.public)], b""));
        }
    }
    for (a, b) in [("9", "12"), ("9", "15"), ("12", "15"), ("15", "15")] {
        let args = ["--consistency", a, b];
        assert_eq!(
            ok(&prove(&bundle, &args)),
            ok(&prove(&e.wal, &args)),
            "{a} to {b}"
        );
    }
    // Before the bundle: only a frontier is there.
    let said = exits(&prove(&bundle, &["--seq", "3"]), 2);
    assert!(said.contains("before the bundle's first seq 7"), "{said}");
    let said = exits(&prove(&bundle, &["--consistency", "6", "15"]), 2);
    assert!(said.contains("no checkpoint ends at seq 6"), "{said}");
    // Another stream or writer than the bundle's.
    let other = auditctl(&["prove", p(&bundle), "--stream", "policy", "--seq", "8"], b"");
    assert!(exits(&other, 2).contains("holds stream \"ingress\" of writer \"svc@1\""));
    let other = prove(&bundle, &["--seq", "8", "--writer", "svc@2"]);
    assert!(exits(&other, 2).contains("not stream \"ingress\" of writer \"svc@2\""));
    // A bundle that does not verify proves nothing.
    let seg = bundle.join("records-000001.seg");
    let mut bytes = std::fs::read(&seg).expect("read");
    let at = bytes.windows(4).position(|w| w == b"\"ok\"").expect("reason") + 1;
    bytes[at] = b'k';
    std::fs::write(&seg, &bytes).expect("write");
    let o = prove(&bundle, &["--seq", "8"]);
    assert!(o.stdout.is_empty());
    assert!(exits(&o, 1).contains("records-000001.seg"));
}

#[test]
fn export_cat_prove_and_verify_proof() {
    let e = env();
    let bundle = e.root.join("bundle");
    let out = ok(&auditctl(&export_args(&e.wal, "ingress", &bundle), b""));
    assert!(out.contains("seq 1..=3"), "{out}");
    assert!(
        ok(&auditctl(&["verify", p(&bundle), "--trust", p(&e.public)], b"")).contains("verified: 3 records")
    );
    let again = auditctl(&export_args(&e.wal, "ingress", &bundle), b"");
    assert!(exits(&again, 2).contains("not empty"));
    let b2 = e.root.join("b2");
    exits(
        &auditctl(
            &[&export_args(&e.wal, "ingress", &b2)[..], &["--from", "2"]].concat(),
            b"",
        ),
        2,
    );
    // A bundle that lost its manifest is still told from a WAL directory
    // (by its records file) and refused for the manifest it lacks, by
    // verify and by prove alike.
    let bare = e.root.join("bare");
    std::fs::create_dir(&bare).expect("mkdir");
    std::fs::copy(bundle.join("records-000001.seg"), bare.join("records-000001.seg")).expect("cp");
    for cmd in [
        &["verify", p(&bare)][..],
        &["prove", p(&bare), "--stream", "ingress", "--seq", "1"],
    ] {
        let said = exits(&auditctl(cmd, b""), 4);
        assert!(
            said.contains("(missing_file)") && said.contains("manifest.json"),
            "{said}"
        );
    }
    // cat: JSON Lines with self_hash that auditctl canon agrees with.
    let lines = ok(&auditctl(&["cat", p(&bundle)], b""));
    for l in lines.lines() {
        let c = ok(&auditctl(&["canon"], l.as_bytes()));
        let v: serde_json::Value = serde_json::from_str(l).expect("json");
        assert_eq!(c.lines().nth(1), v["self_hash"].as_str(), "{l}");
    }
    assert_eq!(
        ok(&auditctl(
            &[
                "cat",
                p(&e.wal),
                "--stream",
                "ingress",
                "--from",
                "2",
                "--to",
                "2"
            ],
            b""
        ))
        .lines()
        .count(),
        1
    );
    let said = exits(&auditctl(&["cat", p(&e.wal), "--from", "3", "--to", "2"], b""), 2);
    assert!(said.contains("--from 3 is after --to 2"), "{said}");
    // Proofs.
    let proof = ok(&auditctl(
        &["prove", p(&e.wal), "--stream", "ingress", "--seq", "2"],
        b"",
    ));
    let pf = e.root.join("proof.json");
    std::fs::write(&pf, &proof).expect("write");
    assert!(ok(&auditctl(&["verify-proof", p(&pf), "--trust", p(&e.public)], b"")).contains("seq 2"));
    std::fs::write(&pf, proof.replace("\"leaf_index\":1", "\"leaf_index\":0")).expect("write");
    exits(
        &auditctl(&["verify-proof", p(&pf), "--trust", p(&e.public)], b""),
        1,
    );
    // With --json a failed check is one object on stdout too, as verify's.
    // A file larger than any proof is refused unread.
    let huge = e.root.join("huge.json");
    std::fs::write(&huge, vec![b' '; (1 << 20) + 1]).expect("write");
    for (file, exit, class, code) in [
        (pf.clone(), 1, "integrity", "inclusion"),
        (e.root.join("missing.json"), 5, "io", "io"),
        (huge, 4, "structure", "proof_shape"),
    ] {
        let o = auditctl(
            &["verify-proof", p(&file), "--trust", p(&e.public), "--json"],
            b"",
        );
        exits(&o, exit);
        let v: serde_json::Value = serde_json::from_str(&text(&o.stdout)).expect("one JSON object");
        assert_eq!(
            (
                &v["ok"],
                &v["exit"],
                &v["failure"]["class"],
                &v["failure"]["code"]
            ),
            (&false.into(), &exit.into(), &class.into(), &code.into()),
            "{v}"
        );
    }
    e.append_and_checkpoint(EVENTS.as_bytes());
    let c = ok(&auditctl(
        &[
            "prove",
            p(&e.wal),
            "--stream",
            "ingress",
            "--consistency",
            "3",
            "6",
        ],
        b"",
    ));
    std::fs::write(&pf, &c).expect("write");
    assert!(
        ok(&auditctl(
            &["verify-proof", p(&pf), "--trust", p(&e.public), "--json"],
            b""
        ))
        .contains("\"consistency\"")
    );
    exits(
        &auditctl(&["prove", p(&e.wal), "--stream", "ingress", "--seq", "99"], b""),
        2,
    );
    assert_eq!(
        auditctl(&["verify-proof", p(&pf)], b"").status.code(),
        Some(2),
        "--trust is required"
    );
}

#[test]
fn help_and_error_text_are_stable() {
    let help = ok(&auditctl(&["--help"], b""));
    insta::assert_snapshot!(help, @r"
    auditctl: the ron-audit command line for operators and auditors

    Usage: auditctl <COMMAND>

    Commands:
      keygen        Make a new Ed25519 secret key (PKCS#8 PEM, mode 0600, never overwrites); print its kid and public key
      pubkey        Print the kid and public key of a secret key file (openssl's too), or of a public key file
      canon         Read one record (JSON, with or without self_hash) on stdin; print its canonical bytes and its self_hash
      append        Append events (JSON Lines on stdin) to a WAL; a bad line is rejected with its number and the lines before it stay appended
      checkpoint    Append one signed checkpoint for every stream with records not yet covered, and print them
      rotate-key    Rotate the checkpoint key: record KeyRotated in every stream of a writer, then checkpoint every stream signed by the old and the new key
      export        Write an export bundle of one stream, covering whole checkpoints
      verify        Verify a WAL directory or a bundle: every record, link, checkpoint root, checkpoint chain and signature
      cat           Print records as JSON Lines (with self_hash), each verified; each writer's records in the order it wrote them, several writers merged by the global key (ts_ms, writer_id, seq)
      prove         Print an inclusion proof (--seq) or a consistency proof (--consistency A B) of a stream as JSON
      verify-proof  Check a proof file offline against its signed checkpoint(s)
      bench         Measure the pipeline, each measure beside the baseline it is judged against in the same run; one row per measure
      demo          The quick start: a key, realistic events in a WAL, checkpoints, a bundle, verification, proofs and a caught tamper, with timings
      help          Print this message or the help of the given subcommand(s)

    Options:
      -h, --help     Print help
      -V, --version  Print version
    ");
    let e = exits(&auditctl(&["verify", "/nonexistent-dir"], b""), 5);
    insta::assert_snapshot!(e, @"auditctl: io failure (io) in /nonexistent-dir: No such file or directory (os error 2)");
    let e = exits(&auditctl(&["verify", "/dev/null"], b""), 4);
    insta::assert_snapshot!(e, @"auditctl: /dev/null is not a directory (a WAL directory or a bundle)");
    for cmd in [
        "keygen",
        "pubkey",
        "canon",
        "append",
        "checkpoint",
        "rotate-key",
        "export",
        "verify",
        "cat",
        "prove",
        "verify-proof",
        "demo",
    ] {
        let h = ok(&auditctl(&[cmd, "--help"], b""));
        assert!(
            h.starts_with(char::is_alphabetic) && h.contains("Usage: auditctl"),
            "{cmd}: {h}"
        );
    }
}

#[test]
fn bench_prints_one_row_per_measure_and_json_for_scripts() {
    let o = auditctl(&["bench", "--records", "1000", "--json"], b"");
    let out = ok(&o);
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    for k in ["cpu", "cores", "rustc", "commit"] {
        assert!(!v["machine"][k].is_null(), "machine.{k} missing: {out}");
    }
    let rows = v["rows"].as_array().expect("rows");
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().expect("name")).collect();
    for want in [
        "canonicalize+hash vs serialize+BLAKE3",
        "emit into RAM vs serialize+BLAKE3",
        "emit into WAL on_checkpoint vs into RAM",
        "WAL always, 1 producer vs raw fdatasync/rec",
        "WAL always, 64 producers vs raw, 64/fdatasync",
        "checkpoint over new records, beyond fsync",
        "inclusion proofs made and checked",
        "verify, 1 core vs BLAKE3 per record, 1 core",
        "verify, all cores vs verify, 1 core",
        "verify, all cores vs BLAKE3 per record, all cores",
        "verify, 1 core vs bulk BLAKE3, 1 core",
        "verify, all cores vs bulk BLAKE3, all cores",
    ] {
        assert!(names.contains(&want), "no row {want:?} in {names:?}");
    }
    for r in rows {
        // Rates are positive. A cost beyond a subtracted baseline (the
        // checkpoint row: its time less one fsync's) is clamped at 0, which
        // it reaches when the disk's sync time moves within the run.
        let value = r["value"].as_f64().expect("value");
        if r["unit"].as_str().is_some_and(|u| u.ends_with("/s")) {
            assert!(value > 0.0, "{r}");
        } else {
            assert!(value >= 0.0, "{r}");
        }
        assert!(r["records"].as_u64().is_some_and(|x| x > 0), "{r}");
        if let Some(ratio) = r["ratio"].as_f64() {
            let want = r["value"].as_f64().expect("value") / r["baseline"].as_f64().expect("baseline");
            assert!((ratio - want).abs() < 1e-9, "ratio is value/baseline: {r}");
            // A row with a target passes or fails; one without (a bound
            // shown for context) says neither.
            assert_eq!(r["pass"].is_boolean(), !r["target"].is_null(), "{r}");
        }
    }
    assert_eq!(
        auditctl(&["bench", "--records", "10"], b"").status.code(),
        Some(2)
    );
}

#[test]
fn cat_reads_sealed_and_open_segments_in_order_and_stops_at_a_flipped_byte() {
    use std::sync::Arc;

    use audit_chain::{AuditSink, Emitter, Event, FsyncPolicy, Privacy};
    use audit_wal::{WalOptions, WalSink};

    let tmp = tempfile::tempdir().expect("tempdir");
    let wal = tmp.path().join("wal");
    let mut want: Vec<(String, u64, String)> = Vec::new();
    let segments = {
        let opts = WalOptions {
            rotate_bytes: 4096,
            fsync: FsyncPolicy::OnCheckpoint,
        };
        let sink = Arc::new(WalSink::open(&wal, opts).expect("open").0);
        let em = Emitter::new("svc@1", sink.clone(), audit_canon::Limits::default())
            .expect("emitter")
            .with_privacy(Privacy::off());
        for i in 0..120u64 {
            let stream = if i % 3 == 0 { "policy" } else { "ingress" };
            let r = em
                .emit(Event::new(stream, "GetServed", "ok").attr("i", i))
                .expect("emit");
            want.push((r.stream, r.seq, r.self_hash.to_string()));
        }
        sink.close().expect("close");
        sink.end().0
    };
    assert!(segments >= 3, "{segments} segments");
    let got = |args: &[&str]| -> Vec<(String, u64, String)> {
        ok(&auditctl(args, b""))
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json");
                (
                    v["stream"].as_str().expect("stream").to_owned(),
                    v["seq"].as_u64().expect("seq"),
                    v["self_hash"].as_str().expect("self_hash").to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(got(&["cat", p(&wal)]), want);
    let policy: Vec<_> = want.iter().filter(|w| w.0 == "policy").cloned().collect();
    assert_eq!(got(&["cat", p(&wal), "--stream", "policy"]), policy);
    // A flipped byte in the first (sealed) segment stops cat with the
    // verifier's integrity code, whatever came before it.
    let seg = wal.join("wal-000001.seg");
    let mut b = std::fs::read(&seg).expect("read");
    let at = b.windows(4).position(|w| w == b"\"ok\"").expect("reason") + 1;
    b[at] = b'k';
    std::fs::write(&seg, &b).expect("write");
    let e = exits(&auditctl(&["cat", p(&wal)], b""), 1);
    assert!(e.contains("wal-000001.seg"), "{e}");
}

/// Several writers come out merged by the key `(ts_ms, writer_id, seq)` of
/// each writer's next record (FORMAT-v1.md section 3), never reordering a
/// writer's own records; one writer comes out as it wrote.
#[test]
fn cat_merges_writers_in_the_global_order_and_keeps_each_writers_own_order() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let wal = tmp.path().join("wal");
    let line = |stream: &str, ts: u64| {
        format!("{{\"stream\":\"{stream}\",\"kind\":\"K\",\"reason\":\"ok\",\"ts_ms\":{ts}}}\n")
    };
    // Writer a's clock steps back (its third record is the oldest of all).
    let a = [line("s", 10), line("t", 20), line("s", 5)].concat();
    let b = [line("s", 7), line("s", 20)].concat();
    for (writer, lines) in [("a", &a), ("b", &b)] {
        ok(&auditctl(
            &["append", "--wal", p(&wal), "--writer", writer],
            lines.as_bytes(),
        ));
    }
    let order = |out: &str| -> Vec<(String, String, u64)> {
        out.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json");
                let s = |k: &str| v[k].as_str().expect("string").to_owned();
                (s("writer_id"), s("stream"), v["seq"].as_u64().expect("seq"))
            })
            .collect()
    };
    let rec = |w: &str, s: &str, q: u64| (w.to_owned(), s.to_owned(), q);
    // Heads a/s1 (10) and b/s1 (7): b/s1. Then a/s1 (10) before b/s2 (20);
    // a/t1 (20, "a") before b/s2 (20, "b"); a/s2 (5) next, as a wrote it.
    let merged = vec![
        rec("b", "s", 1),
        rec("a", "s", 1),
        rec("a", "t", 1),
        rec("a", "s", 2),
        rec("b", "s", 2),
    ];
    assert_eq!(order(&ok(&auditctl(&["cat", p(&wal)], b""))), merged);
    let only_s: Vec<_> = merged.iter().filter(|r| r.1 == "s").cloned().collect();
    assert_eq!(
        order(&ok(&auditctl(&["cat", p(&wal), "--stream", "s"], b""))),
        only_s
    );
    // One writer: its own order, the clock step included.
    let single = tmp.path().join("single");
    ok(&auditctl(
        &["append", "--wal", p(&single), "--writer", "a"],
        a.as_bytes(),
    ));
    assert_eq!(
        order(&ok(&auditctl(&["cat", p(&single)], b""))),
        vec![rec("a", "s", 1), rec("a", "t", 1), rec("a", "s", 2)]
    );
    // A flipped byte in b's last record (the last frame written): what was
    // verified before it comes out merged, then the integrity exit code.
    let seg = wal.join("wal-000001.seg");
    let mut bytes = std::fs::read(&seg).expect("read");
    let at = bytes.len() - 40;
    bytes[at] ^= 1;
    std::fs::write(&seg, &bytes).expect("write");
    let o = auditctl(&["cat", p(&wal)], b"");
    assert_eq!(order(&text(&o.stdout)), merged[..4].to_vec());
    assert!(exits(&o, 1).contains("wal-000001.seg"));
}

/// Two writers whose records lie in different segments (each writer's
/// clock only moves forward, so the merge is the sorted order): the
/// cursors cross sealed segments and the open one.
#[test]
fn cat_merges_writers_across_sealed_and_open_segments() {
    use std::sync::Arc;

    use audit_chain::{AuditSink, Emitter, Event, FsyncPolicy, Privacy};
    use audit_wal::{WalOptions, WalSink};

    let tmp = tempfile::tempdir().expect("tempdir");
    let wal = tmp.path().join("wal");
    let mut want: Vec<(u64, String, u64, String)> = Vec::new();
    let segments = {
        let opts = WalOptions {
            rotate_bytes: 4096,
            fsync: FsyncPolicy::OnCheckpoint,
        };
        let sink = Arc::new(WalSink::open(&wal, opts).expect("open").0);
        // All of a's records, then all of b's: b's interleave a's in time.
        for (writer, first_ts) in [("a", 0u64), ("b", 1)] {
            let em = Emitter::new(writer, sink.clone(), audit_canon::Limits::default())
                .expect("emitter")
                .with_privacy(Privacy::off());
            for i in 0..60u64 {
                let stream = ["x", "y", "z"][(i % 3) as usize];
                let ts = 1_700_000_000_000 + first_ts + 2 * i;
                let r = em
                    .emit(Event::new(stream, "K", "ok").ts_ms(ts).attr("i", i))
                    .expect("emit");
                want.push((ts, writer.to_owned(), r.seq, stream.to_owned()));
            }
        }
        sink.close().expect("close");
        sink.end().0
    };
    assert!(segments >= 4, "{segments} segments");
    want.sort();
    let got = |args: &[&str]| -> Vec<(u64, String, u64, String)> {
        ok(&auditctl(args, b""))
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json");
                let s = |k: &str| v[k].as_str().expect("string").to_owned();
                (
                    v["ts_ms"].as_u64().expect("ts"),
                    s("writer_id"),
                    v["seq"].as_u64().expect("seq"),
                    s("stream"),
                )
            })
            .collect()
    };
    assert_eq!(got(&["cat", p(&wal)]), want);
    let y: Vec<_> = want
        .iter()
        .filter(|w| w.3 == "y" && (5..=9).contains(&w.2))
        .cloned()
        .collect();
    assert_eq!(
        got(&["cat", p(&wal), "--stream", "y", "--from", "5", "--to", "9"]),
        y
    );
    // A removed segment is a structure failure before anything is
    // printed, as `verify` reports it; never a silent gap.
    std::fs::remove_file(wal.join("wal-000002.seg")).expect("remove");
    let o = auditctl(&["cat", p(&wal)], b"");
    assert!(o.stdout.is_empty());
    let e = exits(&o, 4);
    assert!(
        e.contains("(missing_segment)") && e.contains("wal-000002.seg"),
        "{e}"
    );
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    assert!(exits(&auditctl(&["cat", p(&empty)], b""), 4).contains("wal-000001.seg"));
}

/// A command that opens a WAL for writing says on stderr what opening
/// repaired of a crash: a torn tail cut from the newest segment.
#[test]
fn a_torn_tail_cut_on_open_is_reported_on_stderr() {
    let e = env();
    let seg = e.wal.join("wal-000001.seg");
    let whole = std::fs::read(&seg).expect("read").len() as u64;
    // The first 20 bytes of a frame more (the first frame's, after the
    // 32-byte header), as a crash in the middle of a write leaves them.
    let half = {
        let mut b = std::fs::read(&seg).expect("read");
        let start: Vec<u8> = b[32..52].to_vec();
        b.extend_from_slice(&start);
        b
    };
    for args in [
        vec!["append", "--wal", p(&e.wal), "--writer", "svc@1"],
        vec!["checkpoint", "--wal", p(&e.wal), "--key", p(&e.key)],
    ] {
        std::fs::write(&seg, &half).expect("write");
        // verify reports the tail and does not fail; opening cuts it.
        assert!(ok(&auditctl(&["verify", p(&e.wal)], b"")).contains("torn tail"));
        let o = auditctl(&args, b"");
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let said = text(&o.stderr);
        assert!(
            said.contains(&format!(
                "cut a torn tail of 20 bytes after offset {whole} of wal-000001.seg"
            )),
            "{args:?}: {said}"
        );
        assert_eq!(std::fs::metadata(&seg).expect("stat").len(), whole);
    }
    // So is an incomplete last line of checkpoints.jsonl.
    let file = e.wal.join("checkpoints.jsonl");
    let lines = std::fs::read(&file).expect("read");
    let mut torn = lines.clone();
    torn.extend_from_slice(&lines[..30]);
    std::fs::write(&file, &torn).expect("write");
    let o = auditctl(&["checkpoint", "--wal", p(&e.wal), "--key", p(&e.key)], b"");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("cut an incomplete last line of 30 bytes"),
        "{}",
        text(&o.stderr)
    );
    assert!(std::fs::read(&file).expect("read").starts_with(&lines));
}

/// `auditctl demo | head -1` and `auditctl cat WAL | head -1`: once the
/// reader of stdout is gone, the command stops without a message on
/// stderr (exit 5, I/O), instead of reporting its own broken pipe.
#[test]
fn a_closed_stdout_stops_demo_and_cat_without_a_message() {
    use std::io::Read;
    use std::process::Stdio;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("demo");
    let run = |args: &[&str]| {
        let mut child = common::spawn(args, Stdio::null());
        // Read the first line, then close stdout as `head -1` does.
        let mut stdout = child.stdout.take().expect("stdout");
        let mut first = Vec::new();
        let mut byte = [0u8; 1];
        while stdout.read(&mut byte).expect("read") == 1 && byte[0] != b'\n' {
            first.push(byte[0]);
        }
        drop(stdout);
        let out = child.wait_with_output().expect("wait");
        (text(&first), out)
    };
    let (first, out) = run(&["demo", "--records", "2000", "--dir", p(&dir)]);
    assert!(first.starts_with("ron-audit demo: 2000 events"), "{first}");
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(text(&out.stderr), "", "no message for a closed stdout");
    let wal = tmp.path().join("wal");
    ok(&auditctl(
        &["append", "--wal", p(&wal), "--writer", "svc@1"],
        EVENTS.repeat(500).as_bytes(),
    ));
    let (first, out) = run(&["cat", p(&wal)]);
    assert!(first.starts_with("{\"v\":1"), "{first}");
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(text(&out.stderr), "");
}
