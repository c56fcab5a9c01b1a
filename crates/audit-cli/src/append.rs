//! `auditctl append`: JSON Lines events from stdin into a WAL, each line
//! all or nothing, and nothing after the first line that fails. Under
//! `--fsync always` each record is durable before the next is appended;
//! `--batch N` syncs once per N records instead, on a syncer thread, while
//! later lines go on. The main thread reads, parses and prepares lines
//! (scrub, check, build); a committer thread seals and appends them in
//! order.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use audit_canon::{ActorRef, AttrValue, Attrs, SubjectRef};
use audit_chain::{AuditConfig, AuditSink, AuditStream, Emitter, Event, FsyncPolicy};
use audit_wal::{WalOptions, WalSink};
use serde_json::Value;

use crate::count::count;
use crate::exit::Exit;

/// Parses one event line: `{"stream","kind","actor","subject","reason","attrs"}`
/// and an optional `ts_ms`; any other key is refused.
///
/// A well-formed line is read straight into the event's fields. A line
/// that reading refuses is read again by [`parse_event_checked`], which
/// refuses it too and names what is wrong. A key repeated in any object
/// is refused by both (FORMAT-v1.md section 2, rule 3: never merged).
pub(crate) fn parse_event(line: &[u8]) -> Result<Event, String> {
    // UTF-8 is checked once for the line, not string by string.
    let Ok(text) = std::str::from_utf8(line) else {
        return parse_event_checked(line);
    };
    match serde_json::from_str::<FastLine>(text) {
        Ok(l) => Ok(Event {
            stream: l.stream,
            kind: l.kind,
            actor: l.actor,
            subject: l.subject,
            reason: l.reason,
            attrs: l.attrs.0,
            ts_ms: l.ts_ms,
        }),
        Err(_) => parse_event_checked(line),
    }
}

/// An event line as typed fields, with no `serde_json::Value` in between:
/// half the allocations of [`parse_event_checked`] for the same line.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FastLine {
    stream: String,
    kind: String,
    #[serde(default)]
    actor: ActorRef,
    #[serde(default)]
    subject: SubjectRef,
    reason: String,
    #[serde(default)]
    attrs: Attrs,
    /// Present means an unsigned integer (`null` is refused, as by the
    /// checked reading).
    #[serde(default, deserialize_with = "some_u64")]
    ts_ms: Option<u64>,
}

fn some_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    <u64 as serde::Deserialize>::deserialize(d).map(Some)
}

/// The reading whose errors explain themselves: through a
/// `serde_json::Value`, field by field.
pub(crate) fn parse_event_checked(line: &[u8]) -> Result<Event, String> {
    let v = strict_value(line)?;
    let Value::Object(mut m) = v else {
        return Err("an event is a JSON object".into());
    };
    for k in m.keys() {
        if !["stream", "kind", "actor", "subject", "reason", "attrs", "ts_ms"].contains(&k.as_str()) {
            return Err(format!(
                "unknown field {k:?} (v, seq, prev and self_hash are assigned)"
            ));
        }
    }
    // Every value is moved out of the parsed line, never copied.
    let actor: ActorRef = match m.remove("actor") {
        None => ActorRef::default(),
        Some(a) => serde_json::from_value(a).map_err(|e| format!("actor: {e}"))?,
    };
    let subject: SubjectRef = match m.remove("subject") {
        None => SubjectRef::default(),
        Some(s) => serde_json::from_value(s).map_err(|e| format!("subject: {e}"))?,
    };
    let mut attrs = BTreeMap::new();
    match m.remove("attrs") {
        None => {}
        Some(Value::Object(o)) => {
            for (k, v) in o {
                let v = AttrValue::try_from(v).map_err(|e| format!("attrs.{k}: {e}"))?;
                attrs.insert(k, v);
            }
        }
        Some(_) => return Err("attrs must be an object".into()),
    }
    let mut text = |k: &str| -> Result<String, String> {
        match m.remove(k) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(format!("{k} must be a string")),
            None => Err(format!("{k} is missing")),
        }
    };
    let (stream, kind, reason) = (text("stream")?, text("kind")?, text("reason")?);
    let mut ev = Event::new(stream, kind, reason).actor(actor).subject(subject);
    ev.attrs = attrs;
    match m.get("ts_ms") {
        None => {}
        Some(t) => ev = ev.ts_ms(t.as_u64().ok_or("ts_ms must be an unsigned integer")?),
    }
    Ok(ev)
}

/// Reads `line` as one JSON value, refusing a key repeated in any object
/// and naming where (`serde_json::Value` would keep the last one).
fn strict_value(line: &[u8]) -> Result<Value, String> {
    use serde::de::DeserializeSeed;
    // What a Windows editor may put first in a file; named, as `canon`
    // names it, instead of "expected value at column 1".
    if line.starts_with(b"\xef\xbb\xbf") {
        return Err("not JSON: the line starts with a byte order mark (EF BB BF)".into());
    }
    let mut de = serde_json::Deserializer::from_slice(line);
    StrictValue { path: "" }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| match e.classify() {
            serde_json::error::Category::Data => e.to_string(),
            _ => format!("not JSON: {e}"),
        })
}

/// A JSON value at `path` (dotted keys and `[i]`, `""` for the event).
struct StrictValue<'p> {
    path: &'p str,
}

impl<'de> serde::de::DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::from(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::from(u))
    }

    fn visit_f64<E: serde::de::Error>(self, f: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format_args!("{f} is not a JSON number")))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictValue {
            path: &format!("{}[{}]", self.path, out.len()),
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(k) = map.next_key::<String>()? {
            if out.contains_key(&k) {
                let within = if self.path.is_empty() {
                    "the event"
                } else {
                    self.path
                };
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate key {k:?} in {within}"
                )));
            }
            let path = if self.path.is_empty() {
                k.clone()
            } else {
                format!("{}.{k}", self.path)
            };
            let v = map.next_value_seed(StrictValue { path: &path })?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// The fsync flag's values.
pub(crate) fn parse_fsync(s: &str) -> Result<FsyncPolicy, String> {
    match s {
        "always" => Ok(FsyncPolicy::Always),
        "on-checkpoint" | "on_checkpoint" => Ok(FsyncPolicy::OnCheckpoint),
        "never" => Ok(FsyncPolicy::Never),
        _ => Err("always, on-checkpoint or never".into()),
    }
}

/// Runs `append`.
/// A line of input.
#[allow(clippy::large_enum_variant)] // one at a time, never stored
enum Line {
    /// An event and its 1-based line number.
    Event(u64, Event),
    /// A line that is not an event, and why.
    Bad(u64, String),
    /// Reading stdin failed.
    ReadFailed(String),
}

/// Reads and parses the next non-empty line; `None` at the end.
/// Lines are read up to this many bytes, the input bound of a record in
/// any JSON form (`audit_canon::MAX_INPUT_BYTES`): no event line is longer,
/// and a longer one is refused without being held in memory whole.
const MAX_LINE_BYTES: usize = audit_canon::MAX_INPUT_BYTES;

fn next_line(input: &mut dyn BufRead, buf: &mut Vec<u8>, lineno: &mut u64) -> Option<Line> {
    loop {
        buf.clear();
        let limit = MAX_LINE_BYTES as u64 + 1;
        match std::io::Read::take(&mut *input, limit).read_until(b'\n', buf) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => return Some(Line::ReadFailed(e.to_string())),
        }
        *lineno += 1;
        if buf.len() > MAX_LINE_BYTES && buf.last() != Some(&b'\n') {
            return Some(Line::Bad(
                *lineno,
                format!("longer than {MAX_LINE_BYTES} bytes, the most an event line can be"),
            ));
        }
        let trimmed = buf.trim_ascii();
        if !trimmed.is_empty() {
            return Some(match parse_event(trimmed) {
                Ok(ev) => Line::Event(*lineno, ev),
                Err(e) => Line::Bad(*lineno, e),
            });
        }
    }
}

/// Events handed from the reading thread to the committer at a time.
const JOB_BATCH: usize = 128;

/// A prepared line on its way to the committer.
struct Prepared {
    lineno: u64,
    stream: String,
    p: audit_chain::PreparedEvent,
}

/// A batch's emptied buffer and its committed records, handed back to the
/// reading thread to reuse and free.
type Spent = (Vec<Prepared>, Vec<(String, audit_chain::SealedRecord)>);

/// A failed line: its number (to find the first), exit code and message.
type LineFailure = (u64, Exit, String);

pub(crate) fn emit_exit(e: &audit_chain::EmitError) -> Exit {
    match e {
        audit_chain::EmitError::Sink(_) => Exit::Io,
        _ => Exit::Integrity,
    }
}

fn line_failure(lineno: u64, stream: &str, e: &audit_chain::EmitError) -> String {
    format!("line {lineno} (stream {stream:?}): {e}; nothing of it was written")
}

/// The committer: commits prepared lines in order until the first failure;
/// under `--batch`, asks the syncer for a sync every `batch` records.
/// Returns how many were committed, and the failure that stopped it.
fn commit_lines(
    emitter: &Emitter,
    jobs: &crossbeam_channel::Receiver<Vec<Prepared>>,
    spent: &crossbeam_channel::Sender<Spent>,
    batch: Option<(u64, &crossbeam_channel::Sender<()>)>,
    progress: bool,
) -> (u64, Option<LineFailure>) {
    let mut n = 0u64;
    for mut job in jobs {
        let mut done = Vec::with_capacity(job.len());
        for Prepared { lineno, stream, p } in job.drain(..) {
            match emitter.commit_sealed(p) {
                Ok((_, sealed)) => done.push((stream, sealed)),
                Err(e) => {
                    return (
                        n,
                        Some((lineno, emit_exit(&e), line_failure(lineno, &stream, &e))),
                    );
                }
            }
            n += 1;
            // A syncer gone means its sync failed: the WAL refuses the
            // next append, which reports the line.
            if let Some((batch, sync)) = batch
                && n.is_multiple_of(batch)
            {
                let _ = sync.send(());
            }
            if progress && n.is_multiple_of(100_000) {
                eprint!("\rappended {n} records");
            }
        }
        // The reader may be gone (it stopped at a failure): then free here.
        let _ = spent.send((job, done));
    }
    (n, None)
}

/// The flags of `auditctl append` besides its WAL directory.
pub(crate) struct Settings<'a> {
    pub(crate) writer: &'a str,
    pub(crate) fsync: Option<FsyncPolicy>,
    pub(crate) config: Option<&'a Path>,
    pub(crate) batch: u64,
    /// Print the summary as one JSON object.
    pub(crate) json: bool,
}

pub(crate) fn run(
    wal_dir: &Path,
    settings: &Settings<'_>,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    let Settings {
        writer,
        fsync,
        config,
        batch,
        json,
    } = *settings;
    // Defaults < the config file < RON_AUDIT_* environment < flags. The
    // WAL rules hold whatever `sink` says: this command writes a WAL.
    let mut cfg = match AuditConfig::load(config, std::env::vars(), &[]) {
        Ok(c) => c,
        Err(e) => return crate::fail(err, Exit::Usage, format_args!("configuration: {e}")),
    };
    if let Some(f) = fsync {
        cfg.wal_fsync = f;
    }
    let checked = cfg
        .validate_wal_writer()
        .and_then(|()| Ok((cfg.limits()?, cfg.privacy()?)));
    let (limits, privacy) = match checked {
        Ok(c) => c,
        Err(e) => return crate::fail(err, Exit::Usage, format_args!("configuration: {e}")),
    };
    // A bad writer is refused before the WAL is created.
    if let Err(e) = Emitter::check_writer_id(writer) {
        return crate::fail(err, Exit::Usage, format_args!("writer {writer:?}: {e}"));
    }
    let mut opts = WalOptions::from_config(&cfg);
    // Batches: records are written as they come and synced once per batch
    // (the sync is the acknowledgement), as a transaction of N rows is.
    let batched = batch > 1;
    if batched {
        if opts.fsync != FsyncPolicy::Always {
            return crate::fail(err, Exit::Usage, format_args!("--batch needs --fsync always"));
        }
        opts.fsync = FsyncPolicy::OnCheckpoint;
    }
    let wal = match WalSink::open(wal_dir, opts) {
        Ok((w, r)) => {
            crate::report_recovery(wal_dir, &r, err);
            w
        }
        Err(e) => return crate::fail(err, crate::open_exit(&e), format_args!("{e}")),
    };
    let wal = Arc::new(wal);
    let emitter = match Emitter::new(writer, wal.clone(), limits) {
        Ok(e) => e.with_privacy(privacy),
        Err(e) => return crate::fail(err, Exit::Usage, format_args!("writer {writer:?}: {e}")),
    };
    let progress = std::io::stderr().is_terminal();
    // A syncer thread syncs batches while later lines are appended (at
    // most one batch waits behind the sync in flight).
    let (sync_tx, sync_rx) = crossbeam_channel::bounded::<()>(1);
    let syncer = batched.then(|| {
        let wal = wal.clone();
        std::thread::spawn(move || -> Result<(), String> {
            for () in sync_rx {
                wal.flush().map_err(|e| e.to_string())?;
            }
            Ok(())
        })
    });
    // Two stages: this thread reads, parses and prepares each line (scrub,
    // check, build); a committer thread gives the events their positions,
    // seals and appends them, in line order. A line that fails stops both:
    // nothing after it is committed.
    let (job_tx, job_rx) = crossbeam_channel::bounded::<Vec<Prepared>>(4);
    // Committed records come back to be freed here, where they were
    // allocated: the system allocator's per-thread caches refill only from
    // frees on their own thread (freed on the committer, every allocation
    // here took the slow path, and two stages ran slower than one).
    let (spent_tx, spent_rx) = crossbeam_channel::unbounded::<Spent>();
    let (mut read_failed, (n, commit_failed)) = std::thread::scope(|scope| {
        let committer = scope.spawn(|| {
            let sync = batched.then_some((batch, &sync_tx));
            commit_lines(&emitter, &job_rx, &spent_tx, sync, progress)
        });
        let mut failed = None;
        let (mut buf, mut lineno) = (Vec::new(), 0u64);
        let mut jobs = Vec::with_capacity(JOB_BATCH);
        let mut spare: Vec<Vec<Prepared>> = Vec::new();
        while let Some(line) = next_line(&mut *input, &mut buf, &mut lineno) {
            let (lineno, ev) = match line {
                Line::Event(lineno, ev) => (lineno, ev),
                Line::Bad(lineno, e) => {
                    failed = Some((
                        lineno,
                        Exit::Integrity,
                        format!("line {lineno}: {e}; nothing of it was written"),
                    ));
                    break;
                }
                Line::ReadFailed(e) => {
                    failed = Some((lineno.saturating_add(1), Exit::Io, format!("stdin: {e}")));
                    break;
                }
            };
            let stream = ev.stream.clone();
            match emitter.prepare(ev) {
                Ok(p) => jobs.push(Prepared { lineno, stream, p }),
                Err(e) => {
                    failed = Some((lineno, emit_exit(&e), line_failure(lineno, &stream, &e)));
                    break;
                }
            }
            if jobs.len() == JOB_BATCH {
                for (batch, done) in spent_rx.try_iter() {
                    drop(done);
                    spare.push(batch);
                }
                let next = spare.pop().unwrap_or_else(|| Vec::with_capacity(JOB_BATCH));
                if job_tx.send(std::mem::replace(&mut jobs, next)).is_err() {
                    break; // the committer stopped at a failure of its own
                }
            }
        }
        if !jobs.is_empty() {
            let _ = job_tx.send(jobs);
        }
        drop(job_tx);
        let committed = committer
            .join()
            .unwrap_or_else(|_| (0, Some((0, Exit::Io, "the committer panicked".to_owned()))));
        drop(spent_rx);
        (failed, committed)
    });
    drop(sync_tx);
    // The first failing line is what is reported; later lines were not
    // committed either way.
    let mut failed = match (read_failed.take(), commit_failed) {
        (Some(r), Some(c)) => Some(if c.0 <= r.0 { c } else { r }),
        (r, c) => r.or(c),
    }
    .map(|(_, exit, msg)| (exit, msg));
    if let Some(Ok(Err(e)) | Err(e)) = syncer.map(|h| h.join().map_err(|_| "the syncer panicked".to_owned()))
    {
        failed.get_or_insert((Exit::Io, format!("syncing a batch: {e}")));
    }
    if progress && n >= 100_000 {
        let _ = writeln!(err);
    }
    let closed = wal.close();
    let mut streams = Vec::new();
    for (w, s) in wal.streams() {
        if w != emitter.writer_id() {
            continue;
        }
        if let Some(st) = wal.chain_state(&w, &s) {
            streams.push((s, st.seq(), st.head().to_string()));
        }
    }
    let _ = if json {
        let streams: Vec<_> = streams
            .iter()
            .map(|(s, seq, head)| serde_json::json!({"stream": s, "last_seq": seq, "head": head}))
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::json!({"wal": wal_dir, "writer_id": writer, "appended": n, "streams": streams})
        )
    } else {
        let _ = writeln!(out, "appended {} to {}", count(n, "record"), wal_dir.display());
        streams
            .iter()
            .try_for_each(|(s, seq, head)| writeln!(out, "  {s:<16} last seq {seq:<8} head {head}"))
    };
    if let Some((exit, msg)) = failed {
        return crate::fail(err, exit, format_args!("{msg}"));
    }
    if let Err(e) = closed {
        return crate::fail(err, Exit::Io, format_args!("closing the WAL: {e}"));
    }
    Exit::Ok
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{FastLine, parse_event, parse_event_checked};
    use crate::Workload;

    /// JSON values of every kind, including the ones `attrs` refuses
    /// (floats, integers past u64) and objects with a repeated key.
    fn json() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            any::<i64>().prop_map(|i| i.to_string()),
            any::<u64>().prop_map(|u| u.to_string()),
            Just("18446744073709551616".to_owned()),
            Just("1.5".to_owned()),
            Just("-0".to_owned()),
            Just("1e3".to_owned()),
            "[a-z0-9 @.:-]{0,12}".prop_map(|s| format!("{s:?}")),
            Just(r#""caf\u00e9 \"q\" \\ \n""#.to_owned()),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec((prop_oneof![Just("a"), Just("b"), Just("c")], inner), 0..4).prop_map(
                    |kv| {
                        let body: Vec<String> = kv.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
                        format!("{{{}}}", body.join(","))
                    }
                ),
            ]
        })
    }

    /// A field's value: usually right, sometimes any JSON, sometimes absent.
    fn field(
        name: &'static str,
        right: BoxedStrategy<String>,
        weights: (u32, u32, u32),
    ) -> impl Strategy<Value = Option<(&'static str, String)>> {
        prop_oneof![
            weights.0 => right.prop_map(move |v| Some((name, v))),
            weights.1 => json().prop_map(move |v| Some((name, v))),
            weights.2 => Just(None),
        ]
    }

    /// Event lines: mostly well formed, with wrong types, missing,
    /// unknown and repeated fields mixed in, in any order.
    fn line() -> impl Strategy<Value = String> {
        let word = || "[a-z]{1,8}".prop_map(|s| format!("{s:?}")).boxed();
        let actor = prop_oneof![
            Just(r#"{"passport_id":"p-1"}"#.to_owned()),
            Just(r#"{"anon":true,"cap_id":"c"}"#.to_owned()),
            Just(r#"{"anon":null}"#.to_owned()),
        ]
        .boxed();
        let subject = prop_oneof![
            Just(r#"{"name":"n 10.0.0.1"}"#.to_owned()),
            Just(r#"{"content_id":"b3:0","other":1}"#.to_owned()),
        ]
        .boxed();
        let attrs = prop::collection::vec(
            (prop_oneof![Just("a"), Just("b"), Just("c"), Just("ip")], json()),
            0..4,
        )
        .prop_map(|kv| {
            let body: Vec<String> = kv.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
            format!("{{{}}}", body.join(","))
        })
        .boxed();
        let ts = any::<u64>().prop_map(|u| u.to_string()).boxed();
        (
            field("stream", word(), (16, 1, 1)),
            field("kind", word(), (16, 1, 1)),
            field("reason", word(), (16, 1, 1)),
            field("actor", actor, (6, 1, 6)),
            field("subject", subject, (6, 1, 6)),
            field("attrs", attrs, (12, 1, 4)),
            field("ts_ms", ts, (6, 1, 6)),
            field("seq", word(), (0, 1, 12)),
            field("stream", word(), (1, 0, 12)),
        )
            .prop_map(|(a, b, c, d, e, f, g, h, i)| {
                [a, b, c, d, e, f, g, h, i]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
            })
            .prop_shuffle()
            .prop_map(|fs| {
                let body: Vec<String> = fs.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
                format!("{{{}}}", body.join(","))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2048),
            ..ProptestConfig::default()
        })]

        #[test]
        fn the_fast_reading_agrees_with_the_checked_one_on_every_line(l in line()) {
            prop_assert_eq!(parse_event(l.as_bytes()), parse_event_checked(l.as_bytes()), "line {}", l);
        }
    }

    /// The generator reaches both outcomes often (a repeated key among the
    /// refusals), and the checked reading accepts exactly the lines the
    /// fast one takes: it only explains refusals. So the agreement test
    /// above cannot pass by only ever falling back.
    #[test]
    fn the_checked_reading_accepts_exactly_what_the_fast_one_takes() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let (mut fast, mut refused, mut repeated) = (0, 0, 0);
        for _ in 0..4_000 {
            let l = line().new_tree(&mut runner).expect("tree").current();
            let taken = serde_json::from_slice::<FastLine>(l.as_bytes()).is_ok();
            let checked = parse_event_checked(l.as_bytes());
            assert_eq!(taken, checked.is_ok(), "{l}: {checked:?}");
            match checked {
                Ok(_) => fast += 1,
                Err(e) => {
                    refused += 1;
                    repeated += usize::from(e.starts_with("duplicate key"));
                }
            }
        }
        assert!(
            fast >= 400 && refused >= 400 && repeated >= 40,
            "{fast} {refused} {repeated}"
        );
    }

    /// A key repeated in any object of a line is refused, naming the
    /// object, never merged (FORMAT-v1.md section 2, rule 3). The column
    /// is that of the repeated key's closing quote.
    #[test]
    fn a_repeated_key_anywhere_is_refused_naming_where() {
        let check = |line: &str, want: &str| {
            let got = parse_event(line.as_bytes());
            assert_eq!(got, parse_event_checked(line.as_bytes()), "{line}");
            assert_eq!(got.map(|_| ()), Err(want.to_owned()), "{line}");
        };
        check(
            r#"{"stream":"s","stream":"t","kind":"K","reason":"r"}"#,
            r#"duplicate key "stream" in the event at line 1 column 22"#,
        );
        check(
            r#"{"stream":"s","kind":"K","reason":"r","actor":{"cap_id":"a","cap_id":"b"}}"#,
            r#"duplicate key "cap_id" in actor at line 1 column 68"#,
        );
        check(
            r#"{"stream":"s","kind":"K","reason":"r","subject":{"name":"a","name":"a"}}"#,
            r#"duplicate key "name" in subject at line 1 column 66"#,
        );
        check(
            r#"{"stream":"s","kind":"K","reason":"r","attrs":{"a":1,"a":1}}"#,
            r#"duplicate key "a" in attrs at line 1 column 56"#,
        );
        check(
            r#"{"stream":"s","kind":"K","reason":"r","attrs":{"l":[0,{"q":{"x":1,"x":2}}]}}"#,
            r#"duplicate key "x" in attrs.l[1].q at line 1 column 69"#,
        );
        // The same key in different objects is no repetition.
        assert!(parse_event(br#"{"stream":"s","kind":"K","reason":"r","attrs":{"a":{"a":1}}}"#).is_ok());
    }

    #[test]
    fn the_fast_reading_takes_every_workload_line() {
        let mut w = Workload::new(11);
        for _ in 0..2_000 {
            let e = w.next_event();
            let line = serde_json::json!({
                "stream": e.stream, "kind": e.kind, "actor": e.actor, "subject": e.subject,
                "reason": e.reason, "attrs": e.attrs, "ts_ms": e.ts_ms,
            })
            .to_string();
            assert!(
                serde_json::from_slice::<FastLine>(line.as_bytes()).is_ok(),
                "the fast reading refused {line}"
            );
            assert_eq!(parse_event(line.as_bytes()), Ok(e.into_chain_event()));
        }
    }

    #[test]
    fn a_line_that_is_not_utf8_is_refused_as_the_checked_reading_refuses_it() {
        let check = |line: &[u8], want: Result<&str, &str>| {
            let got = parse_event(line);
            assert_eq!(
                got,
                parse_event_checked(line),
                "{}",
                String::from_utf8_lossy(line)
            );
            match (got, want) {
                (Ok(ev), Ok(reason)) => assert_eq!(ev.reason, reason),
                (Err(e), Err(prefix)) => assert!(e.starts_with(prefix), "{e}"),
                (got, want) => panic!("{got:?}, wanted {want:?}"),
            }
        };
        check(
            br#"{"stream":"s","kind":"K","reason":"caf\u00e9"}"#,
            Ok("caf\u{e9}"),
        );
        check(
            "{\"stream\":\"s\",\"kind\":\"K\",\"reason\":\"caf\u{e9}\"}".as_bytes(),
            Ok("caf\u{e9}"),
        );
        check(
            b"{\"stream\":\"s\",\"kind\":\"K\",\"reason\":\"caf\xe9\"}",
            Err("not JSON"),
        );
        check(
            b"{\"stream\":\"s\",\"kind\":\"K\",\"reason\":\"ok\"}\xff",
            Err("not JSON"),
        );
        check(
            b"\xef\xbb\xbf{\"stream\":\"s\",\"kind\":\"K\",\"reason\":\"ok\"}",
            Err("not JSON: the line starts with a byte order mark"),
        );
    }
}
