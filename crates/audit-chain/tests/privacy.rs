//! The privacy scrubber: what it replaces, what it leaves alone, each IP
//! mode, the reject policy, and that nothing raw reaches the sink.

use std::sync::Arc;

use audit_canon::{AttrValue, Limits, RecordError, SubjectRef};
use audit_chain::{EmitError, Emitter, Event, IpMode, PiiAction, PiiKind, Privacy, RamSink};
use proptest::prelude::*;

/// `input` as one attrs string after scrubbing with `privacy`.
fn scrub_with(privacy: &Privacy, input: &str) -> String {
    let mut ev = Event::new("s", "K", "ok").attr("v", input);
    privacy.scrub(&mut ev).expect("redact policy never refuses");
    match ev.attrs.get("v") {
        Some(AttrValue::String(s)) => s.clone(),
        other => panic!("{other:?}"),
    }
}

fn check(input: &str, want: &str) {
    assert_eq!(scrub_with(&Privacy::default(), input), want, "input {input:?}");
}

#[test]
fn personal_data_and_secrets_are_replaced_by_their_kind() {
    check("login from 203.0.113.7 ok", "login from [ip] ok");
    check("peer=2001:db8:85a3::8a2e:370:7334.", "peer=[ip].");
    check("loopback ::1 and ::ffff:192.0.2.1", "loopback [ip] and [ip]");
    check("mail jane.doe+audit@example.co.uk now", "mail [email] now");
    check("call +65 6123 4567 or +1-202-555-0143", "call [phone] or [phone]");
    check("office 202-555-0143", "office [phone]");
    check("nric S1234567D on file", "nric [nric] on file");
    check("req 3f2504e0-4f89-41d3-9a0c-0305e82c3301", "req [uuid]");
    check("role arn:aws:iam::123456789012:role/Admin,", "role [aws_arn],");
    check(
        "key=AIzaSyA1234567890abcdefghijklmnopqrstuv",
        "key=[google_api_key]",
    );
    check(
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc",
        "Authorization: [bearer_token]",
    );
    check("two 10.0.0.1,10.0.0.2", "two [ip],[ip]");
    // The scheme in any case, and a token without a digit (the pre-scan
    // once looked for a lower-case `earer ` only).
    check("auth BEARER abcdefghijkl", "auth [bearer_token]");
}

#[test]
fn ordinary_values_are_left_alone() {
    for s in [
        "GET /v1/objects/tenant-0042/9f86d081884c",
        "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36",
        "b3:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "version 1.2.3 built 2026-11-22 10:30:00",
        "256.1.1.1 is not an address",
        "uuid v1 6ba7b810-9dad-11d1-80b4-00c04fd430c8",
        "count 1234567 items",
        "a@b is not an email",
        "",
    ] {
        check(s, s);
    }
}

#[test]
fn ip_modes_drop_keep_a_prefix_or_a_salted_tag() {
    let prefix = Privacy::new(IpMode::Prefix, PiiAction::Redact);
    assert_eq!(scrub_with(&prefix, "from 203.0.113.7"), "from 203.0.113.0/24");
    assert_eq!(
        scrub_with(&prefix, "from 2001:db8:1:2:3:4:5:6"),
        "from 2001:db8:1:2::/64"
    );
    let hash = Privacy::new(
        IpMode::Hash {
            salt: b"pepper".to_vec(),
        },
        PiiAction::Redact,
    );
    let tag = scrub_with(&hash, "203.0.113.7");
    // Independently: BLAKE3 of salt || address text, first 16 hex digits.
    let want = format!("ip:{}", &blake3::hash(b"pepper203.0.113.7").to_hex()[..16]);
    assert_eq!(tag, want);
    assert_eq!(
        scrub_with(&hash, "203.0.113.7"),
        tag,
        "stable: equal addresses stay linkable"
    );
    let other_salt = Privacy::new(
        IpMode::Hash {
            salt: b"salt2".to_vec(),
        },
        PiiAction::Redact,
    );
    assert_ne!(scrub_with(&other_salt, "203.0.113.7"), tag);
    assert_eq!(
        scrub_with(&Privacy::off(), "203.0.113.7 a@example.com"),
        "203.0.113.7 a@example.com"
    );
}

#[test]
fn nested_attrs_and_subject_name_are_scrubbed_too() {
    let mut ev = Event::new("s", "K", "ok")
        .subject(SubjectRef {
            name: Some("user jane@example.com".into()),
            ..SubjectRef::default()
        })
        .attr(
            "headers",
            AttrValue::Object([("x-forwarded-for".to_owned(), AttrValue::from("198.51.100.4"))].into()),
        )
        .attr("list", AttrValue::Array(vec!["ok".into(), "10.1.2.3".into()]));
    assert_eq!(Privacy::default().scrub(&mut ev), Ok(3));
    assert_eq!(ev.subject.name.as_deref(), Some("user [email]"));
    assert_eq!(
        ev.attrs.get("headers"),
        Some(&AttrValue::Object(
            [("x-forwarded-for".to_owned(), AttrValue::from("[ip]"))].into()
        ))
    );
}

#[test]
fn under_reject_the_event_is_refused_named_and_never_stored() {
    let sink = Arc::new(RamSink::new(100, 1 << 20));
    let em = Emitter::new("svc@1", sink.clone(), Limits::default())
        .expect("emitter")
        .with_privacy(Privacy::new(IpMode::Drop, PiiAction::Reject));
    let err = em
        .emit(Event::new("s", "K", "ok").attr("note", "contact jane@example.com"))
        .expect_err("refused");
    let EmitError::Privacy(p) = &err else {
        panic!("{err}")
    };
    assert_eq!((p.field.as_str(), p.kind), ("attrs/note", PiiKind::Email));
    assert!(sink.is_empty(), "nothing of a refused event is stored");
    // IPs are never refused: the IP mode handles them.
    em.emit(Event::new("s", "K", "ok").attr("ip", "10.0.0.1"))
        .expect("ip is dropped, not refused");
    let stored = sink.read("svc@1", "s").expect("read");
    assert_eq!(
        stored[0].record().attrs().get("ip"),
        Some(&AttrValue::from("[ip]"))
    );
}

#[test]
fn the_emitter_scrubs_by_default_so_raw_values_never_reach_the_sink() {
    let sink = Arc::new(RamSink::new(100, 1 << 20));
    let em = Emitter::new("svc@1", sink.clone(), Limits::default()).expect("emitter");
    em.emit(Event::new("s", "K", "ok").attr("who", "jane@example.com from 203.0.113.9"))
        .expect("emit");
    let r = &sink.read("svc@1", "s").expect("read")[0];
    let bytes = String::from_utf8(r.canonical().to_vec()).expect("utf8");
    assert!(
        !bytes.contains("jane@example.com") && !bytes.contains("203.0.113.9"),
        "{bytes}"
    );
    assert!(bytes.contains("[email] from [ip]"), "{bytes}");
}

/// The emitter scrubs inside the record builder's walk; `Privacy::scrub`
/// walks the event on its own. Both must give the same record, or refuse
/// with the same error: a field and kind under `Reject`, or the object
/// whose keys became equal once rewritten.
fn check_emitter_agrees_with_scrub(policy: &Privacy, ev: &Event) {
    let mut ev = ev.clone();
    ev.ts_ms = Some(1_700_000_000_000);
    let emit = |privacy: &Privacy, ev: Event| -> Result<String, EmitError> {
        let sink = Arc::new(RamSink::new(10, 1 << 20));
        let em = Emitter::new("svc@1", sink.clone(), Limits::default())
            .expect("emitter")
            .with_privacy(privacy.clone());
        em.emit(ev)?;
        let stored = sink.read("svc@1", "s").expect("read");
        Ok(String::from_utf8(stored[0].canonical().to_vec()).expect("utf8"))
    };
    let expected = {
        let mut ev = ev.clone();
        policy
            .scrub(&mut ev)
            .and_then(|_| emit(&Privacy::off(), ev))
            // The emitter names a field as the record has it: keys in NFC.
            .map_err(|e| {
                let nfc = |s: &mut String| *s = s.replace("cafe\u{301}", "caf\u{e9}");
                match e {
                    EmitError::Privacy(mut p) => {
                        nfc(&mut p.field);
                        EmitError::Privacy(p)
                    }
                    EmitError::Invalid(RecordError::KeysEqualAfterVisit { mut path, mut key }) => {
                        nfc(&mut path);
                        nfc(&mut key);
                        EmitError::Invalid(RecordError::KeysEqualAfterVisit { path, key })
                    }
                    e => e,
                }
            })
    };
    let actual = emit(policy, ev.clone());
    assert_eq!(actual, expected, "policy {policy:?}, event {ev:?}");
}

#[test]
fn the_emitter_scrubs_as_privacy_scrub_does_at_every_depth() {
    let nested = |k: &str, v: &str| AttrValue::Object([(k.to_owned(), AttrValue::from(v))].into());
    let events = [
        Event::new("s", "K", "ok").attr("note", "nothing personal here"),
        Event::new("s", "K", "ok")
            .subject(SubjectRef {
                name: Some("user jane@example.com".into()),
                ..SubjectRef::default()
            })
            .attr("note", "plain"),
        Event::new("s", "K", "ok").attr("headers", nested("x-forwarded-for", "198.51.100.4, 2001:db8::1")),
        Event::new("s", "K", "ok").attr(
            "list",
            AttrValue::Array(vec!["ok".into(), "10.1.2.3".into(), "call +6591234567".into()]),
        ),
        Event::new("s", "K", "ok").attr(
            "a",
            AttrValue::Object(
                [(
                    "b".to_owned(),
                    nested("c", "id 0b8f5a2e-6a3c-4d1e-9f7b-2c4d6e8fa0b1"),
                )]
                .into(),
            ),
        ),
        // A key that is not NFC: the builder normalizes keys after the walk.
        Event::new("s", "K", "ok")
            .attr("cafe\u{301}", "mail jane@example.com")
            .attr("z", "S1234567D"),
        Event::new("s", "K", "ok")
            .attr("ip", "203.0.113.9")
            .attr("key", "AIzaSyA-1234567890abcdefghijklmnopqrstu"),
        // Keys: rewritten, refused, or two of them becoming one.
        Event::new("s", "K", "ok")
            .attr("peers", nested("203.0.113.7", "up"))
            .attr("jane@example.com", "mail a@b.co"),
        Event::new("s", "K", "ok").attr(
            "peers",
            AttrValue::Object(
                [
                    ("10.0.0.1".to_owned(), AttrValue::from("up")),
                    ("10.0.0.2".to_owned(), AttrValue::from("down")),
                ]
                .into(),
            ),
        ),
        Event::new("s", "K", "ok")
            .attr("host 10.0.0.1", nested("x", "S1234567D"))
            .attr("[ip]", 1u64),
    ];
    let policies = [
        Privacy::default(),
        Privacy::new(IpMode::Prefix, PiiAction::Redact),
        Privacy::new(IpMode::Drop, PiiAction::Reject),
        Privacy::new(
            IpMode::Hash {
                salt: b"pepper".to_vec(),
            },
            PiiAction::Reject,
        ),
    ];
    for policy in &policies {
        for ev in &events {
            check_emitter_agrees_with_scrub(policy, ev);
        }
    }
}

/// Values mixing noise with real personal data of every kind.
fn pii_text() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        4 => "[a-zA-Z0-9 .:@+_/-]{0,10}",
        1 => Just("jane.doe@example.org".to_owned()),
        1 => Just("+65 9123 4567".to_owned()),
        1 => Just("S1234567D".to_owned()),
        1 => Just("203.0.113.7".to_owned()),
        1 => Just("2001:db8::1".to_owned()),
        1 => Just("0b8f5a2e-6a3c-4d1e-9f7b-2c4d6e8fa0b1".to_owned()),
        1 => Just("Bearer abcdefgh12345".to_owned()),
        1 => Just("caf\u{e9} cafe\u{301}".to_owned()),
    ];
    proptest::collection::vec(fragment, 0..4).prop_map(|v| v.concat())
}

fn pii_value() -> impl Strategy<Value = AttrValue> {
    let leaf = prop_oneof![
        3 => pii_text().prop_map(AttrValue::String),
        1 => any::<u32>().prop_map(|n| AttrValue::from(u64::from(n))),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(AttrValue::Array),
            proptest::collection::btree_map(key(), inner, 0..3).prop_map(AttrValue::Object),
        ]
    })
}

/// Keys: mostly plain, some holding personal data (which may become
/// equal once rewritten).
fn key() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[a-z]{1,5}", 1 => pii_text()]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    /// The fixed cases above, over generated events: nested values, names,
    /// every policy.
    #[test]
    fn the_emitter_scrubs_generated_events_as_privacy_scrub_does(
        attrs in proptest::collection::btree_map(key(), pii_value(), 0..5),
        name in proptest::option::of(pii_text()),
        policy in 0usize..4,
    ) {
        let policy = match policy {
            0 => Privacy::default(),
            1 => Privacy::new(IpMode::Prefix, PiiAction::Redact),
            2 => Privacy::new(IpMode::Drop, PiiAction::Reject),
            _ => Privacy::new(IpMode::Hash { salt: b"pepper".to_vec() }, PiiAction::Reject),
        };
        let mut ev = Event::new("s", "K", "ok").subject(SubjectRef { name, ..SubjectRef::default() });
        ev.attrs = attrs;
        check_emitter_agrees_with_scrub(&policy, &ev);
    }
}

/// Keys of `attrs` are scrubbed as their values are: an address or an
/// email used as a key never reaches the sink; two keys that become the
/// same refuse the event (keeping one would lose the other); under
/// `Reject` a key is refused without being named.
#[test]
fn attrs_keys_are_scrubbed_and_never_reach_the_sink() {
    let sink = Arc::new(RamSink::new(100, 1 << 20));
    let em = Emitter::new("svc@1", sink.clone(), Limits::default()).expect("emitter");
    let peers = |keys: &[&str]| {
        AttrValue::Object(
            keys.iter()
                .map(|k| ((*k).to_owned(), AttrValue::from("up")))
                .collect(),
        )
    };
    em.emit(
        Event::new("s", "K", "ok")
            .attr("peers", peers(&["203.0.113.7"]))
            .attr("jane@example.com", 1u64),
    )
    .expect("emit");
    let stored = sink.read("svc@1", "s").expect("read");
    let bytes = String::from_utf8(stored[0].canonical().to_vec()).expect("utf8");
    assert!(
        bytes.contains(r#""attrs":{"[email]":1,"peers":{"[ip]":"up"}}"#),
        "{bytes}"
    );
    // Two addresses as keys of one object both become `[ip]`.
    let err = em
        .emit(Event::new("s", "K", "ok").attr("peers", peers(&["10.0.0.1", "10.0.0.2"])))
        .expect_err("refused");
    assert_eq!(
        err,
        EmitError::Invalid(RecordError::KeysEqualAfterVisit {
            path: "attrs/peers".into(),
            key: "[ip]".into(),
        })
    );
    assert_eq!(
        sink.read("svc@1", "s").expect("read").len(),
        1,
        "nothing of it was stored"
    );
    // With prefixes, two addresses of different networks stay apart.
    let prefix = Emitter::new("svc@2", sink.clone(), Limits::default())
        .expect("emitter")
        .with_privacy(Privacy::new(IpMode::Prefix, PiiAction::Redact));
    prefix
        .emit(Event::new("s", "K", "ok").attr("peers", peers(&["10.0.0.1", "10.0.1.2"])))
        .expect("emit");
    let stored = sink.read("svc@2", "s").expect("read");
    assert_eq!(
        stored[0].record().attrs().get("peers"),
        Some(&peers(&["10.0.0.0/24", "10.0.1.0/24"]))
    );
    // Under reject, the key is refused by its object's path, not by itself.
    let reject = Emitter::new("svc@3", sink.clone(), Limits::default())
        .expect("emitter")
        .with_privacy(Privacy::new(IpMode::Drop, PiiAction::Reject));
    let err = reject
        .emit(Event::new("s", "K", "ok").attr("by", peers(&["jane@example.com"])))
        .expect_err("refused");
    let EmitError::Privacy(p) = &err else {
        panic!("{err}")
    };
    assert_eq!((p.field.as_str(), p.kind), ("attrs/by/(key)", PiiKind::Email));
    assert!(!err.to_string().contains("jane"), "{err}");
}
