//! `RecordBuilder::build_visiting`: what the visitor sees (subject.name,
//! every `attrs` key and string value), what its rewrites do to the record
//! (keys re-sorted, canonical bytes as if the host had written the
//! rewritten strings), and how a refusal or a collision is named.

use std::borrow::Cow;
use std::collections::BTreeMap;

use audit_canon::{AttrValue, AuditRecord, BuildError, Limits, RecordError, SubjectRef};

/// The record of `attrs` (and `subject.name`) built with `visit`.
fn build<E>(
    attrs: &[(&str, AttrValue)],
    name: Option<&str>,
    visit: impl FnMut(&mut Cow<'_, str>) -> Result<(), E>,
) -> Result<AuditRecord, BuildError<E>> {
    let mut b = AuditRecord::builder()
        .ts_ms(1)
        .writer_id("w")
        .seq(1)
        .stream("s")
        .kind("K")
        .reason("ok")
        .subject(SubjectRef {
            name: name.map(str::to_owned),
            ..SubjectRef::default()
        });
    for (k, v) in attrs {
        b = b.attr(*k, v.clone());
    }
    b.build_visiting(visit)
}

/// Replaces `x` by `y` in every string it is shown, making it owned only
/// when there is an `x`.
fn x_to_y(s: &mut Cow<'_, str>) -> Result<(), &'static str> {
    if s.contains('x') {
        *s = Cow::Owned(s.replace('x', "y"));
    }
    Ok(())
}

fn obj(entries: &[(&str, AttrValue)]) -> AttrValue {
    AttrValue::Object(
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

#[test]
fn the_visitor_sees_the_name_and_every_key_and_string_of_attrs() {
    let mut seen = Vec::new();
    let attrs = [
        ("b", obj(&[("k", "v".into()), ("n", 1u64.into())])),
        ("a", AttrValue::Array(vec!["s".into(), true.into()])),
    ];
    build(&attrs, Some("name"), |s| {
        seen.push(s.to_string());
        Ok::<(), ()>(())
    })
    .expect("build");
    // The name first, then attrs in key order, each key before its value.
    assert_eq!(seen, ["name", "a", "s", "b", "k", "v", "n"]);
}

#[test]
fn a_rewritten_key_is_kept_as_rewritten_and_the_object_re_sorted() {
    let attrs = [
        ("xa", 1u64.into()),
        ("b", obj(&[("x", "x".into())])),
        ("c", 2u64.into()),
    ];
    let rec = build(&attrs, None, x_to_y).expect("build");
    let want: BTreeMap<String, AttrValue> = [
        ("b".to_owned(), obj(&[("y", "y".into())])),
        ("c".to_owned(), 2u64.into()),
        ("ya".to_owned(), 1u64.into()),
    ]
    .into();
    assert_eq!(rec.attrs(), &want);
    // The bytes are those of the record written with the rewritten strings.
    let direct = build(
        &[
            ("ya", 1u64.into()),
            ("b", obj(&[("y", "y".into())])),
            ("c", 2u64.into()),
        ],
        None,
        |_| Ok::<(), ()>(()),
    )
    .expect("build");
    let bytes = |r: &AuditRecord| {
        let mut out = Vec::new();
        r.canonical_bytes(&Limits::default(), &mut out).expect("bounds");
        out
    };
    assert_eq!(bytes(&rec), bytes(&direct));
}

#[test]
fn keys_that_become_equal_are_refused_as_the_visitors_doing() {
    let got = build(&[("xa", 1u64.into()), ("ya", 2u64.into())], None, x_to_y);
    assert_eq!(
        got.map(|_| ()),
        Err(BuildError::Record(RecordError::KeysEqualAfterVisit {
            path: "attrs".into(),
            key: "ya".into(),
        }))
    );
    // Two keys equal after NFC alone stay an NFC collision, even in an
    // object where the visitor rewrote another key.
    let got = build(
        &[(
            "x",
            obj(&[
                ("caf\u{e9}", 1u64.into()),
                ("cafe\u{301}", 2u64.into()),
                ("x", 3u64.into()),
            ]),
        )],
        None,
        x_to_y,
    );
    assert_eq!(
        got.map(|_| ()),
        Err(BuildError::Record(RecordError::KeysEqualAfterNfc {
            path: "attrs/y".into(),
            key: "caf\u{e9}".into(),
        }))
    );
}

#[test]
fn a_refused_key_is_named_by_its_object_and_values_by_rewritten_keys() {
    let refuse_at = |s: &mut Cow<'_, str>| {
        if s.contains('@') {
            Err("an email")
        } else {
            x_to_y(s)
        }
    };
    let field = |attrs: &[(&str, AttrValue)]| match build(attrs, None, refuse_at) {
        Err(BuildError::Visit {
            field,
            error: "an email",
        }) => field,
        other => panic!("{other:?}"),
    };
    // The key itself is not printed: it may be what is refused.
    assert_eq!(
        field(&[("a", obj(&[("ann@example.org", 1u64.into())]))]),
        "attrs/a/(key)"
    );
    assert_eq!(
        field(&[("xb", obj(&[("c", "ann@example.org".into())]))]),
        "attrs/yb/c"
    );
}
