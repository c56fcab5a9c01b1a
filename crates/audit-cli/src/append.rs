//! `auditctl append`: JSON Lines events from stdin into a WAL, each line
//! all or nothing. Under `--fsync always` each record is durable before
//! the next is appended; `--batch N` syncs once per N records instead, on
//! a syncer thread, while later lines go on.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use audit_canon::{ActorRef, AttrValue, SubjectRef};
use audit_chain::{AuditConfig, AuditSink, AuditStream, Emitter, Event, FsyncPolicy};
use audit_wal::{WalOptions, WalSink};
use serde_json::Value;

use crate::exit::Exit;

/// Parses one event line: `{"stream","kind","actor","subject","reason","attrs"}`
/// and an optional `ts_ms`; any other key is refused.
pub(crate) fn parse_event(line: &[u8]) -> Result<Event, String> {
    let v: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(m) = v else {
        return Err("an event is a JSON object".into());
    };
    for k in m.keys() {
        if !["stream", "kind", "actor", "subject", "reason", "attrs", "ts_ms"].contains(&k.as_str()) {
            return Err(format!(
                "unknown field {k:?} (v, seq, prev and self_hash are assigned)"
            ));
        }
    }
    let text = |k: &str| -> Result<String, String> {
        match m.get(k) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(format!("{k} must be a string")),
            None => Err(format!("{k} is missing")),
        }
    };
    let actor: ActorRef = match m.get("actor") {
        None => ActorRef::default(),
        Some(a) => serde_json::from_value(a.clone()).map_err(|e| format!("actor: {e}"))?,
    };
    let subject: SubjectRef = match m.get("subject") {
        None => SubjectRef::default(),
        Some(s) => serde_json::from_value(s.clone()).map_err(|e| format!("subject: {e}"))?,
    };
    let mut attrs = BTreeMap::new();
    match m.get("attrs") {
        None => {}
        Some(Value::Object(o)) => {
            for (k, v) in o {
                attrs.insert(
                    k.clone(),
                    AttrValue::try_from(v).map_err(|e| format!("attrs.{k}: {e}"))?,
                );
            }
        }
        Some(_) => return Err("attrs must be an object".into()),
    }
    let mut ev = Event::new(text("stream")?, text("kind")?, text("reason")?)
        .actor(actor)
        .subject(subject);
    ev.attrs = attrs;
    match m.get("ts_ms") {
        None => {}
        Some(t) => ev = ev.ts_ms(t.as_u64().ok_or("ts_ms must be an unsigned integer")?),
    }
    Ok(ev)
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
fn next_line(input: &mut dyn BufRead, buf: &mut Vec<u8>, lineno: &mut u64) -> Option<Line> {
    loop {
        buf.clear();
        match input.read_until(b'\n', buf) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => return Some(Line::ReadFailed(e.to_string())),
        }
        *lineno += 1;
        let trimmed = buf.trim_ascii();
        if !trimmed.is_empty() {
            return Some(match parse_event(trimmed) {
                Ok(ev) => Line::Event(*lineno, ev),
                Err(e) => Line::Bad(*lineno, e),
            });
        }
    }
}

/// The flags of `auditctl append` besides its WAL directory.
pub(crate) struct Settings<'a> {
    pub(crate) writer: &'a str,
    pub(crate) fsync: Option<FsyncPolicy>,
    pub(crate) config: Option<&'a Path>,
    pub(crate) batch: u64,
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
    } = *settings;
    // Defaults < the config file < RON_AUDIT_* environment < flags.
    let cfg = match AuditConfig::load(config, std::env::vars(), &[]) {
        Ok(c) => c,
        Err(e) => return crate::fail(err, Exit::Usage, format_args!("configuration: {e}")),
    };
    let mut opts = WalOptions::from_config(&cfg);
    if let Some(f) = fsync {
        opts.fsync = f;
    }
    // Batches: records are written as they come and synced once per batch
    // (the sync is the acknowledgement), as a transaction of N rows is.
    let batched = batch > 1;
    if batched {
        if opts.fsync != FsyncPolicy::Always {
            return crate::fail(err, Exit::Usage, format_args!("--batch needs --fsync always"));
        }
        opts.fsync = FsyncPolicy::OnCheckpoint;
    }
    let (wal, _) = match WalSink::open(wal_dir, opts) {
        Ok(w) => w,
        Err(e) => return crate::fail(err, crate::open_exit(&e), format_args!("{e}")),
    };
    let wal = Arc::new(wal);
    let emitter = match Emitter::new(writer, wal.clone(), cfg.limits().unwrap_or_default()) {
        Ok(e) => e.with_privacy(cfg.privacy().unwrap_or_default()),
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
    let mut n = 0u64;
    let mut failed = None;
    let (mut buf, mut lineno) = (Vec::new(), 0u64);
    'lines: while let Some(line) = next_line(&mut *input, &mut buf, &mut lineno) {
        {
            let (lineno, ev) = match line {
                Line::Event(lineno, ev) => (lineno, ev),
                Line::Bad(lineno, e) => {
                    failed = Some((
                        Exit::Integrity,
                        format!("line {lineno}: {e}; nothing of it was written"),
                    ));
                    break 'lines;
                }
                Line::ReadFailed(e) => {
                    failed = Some((Exit::Io, format!("stdin: {e}")));
                    break 'lines;
                }
            };
            let stream = ev.stream.clone();
            if let Err(e) = emitter.emit(ev) {
                let exit = match e {
                    audit_chain::EmitError::Sink(_) => Exit::Io,
                    _ => Exit::Integrity,
                };
                failed = Some((
                    exit,
                    format!("line {lineno} (stream {stream:?}): {e}; nothing of it was written"),
                ));
                break 'lines;
            }
            n += 1;
            // A syncer gone means its sync failed: the WAL refuses the
            // next append, which reports the line.
            if batched && n.is_multiple_of(batch) {
                let _ = sync_tx.send(());
            }
            if progress && n.is_multiple_of(100_000) {
                let _ = write!(err, "\rappended {n} records");
            }
        }
    }
    drop(sync_tx);
    if let Some(Ok(Err(e)) | Err(e)) = syncer.map(|h| h.join().map_err(|_| "the syncer panicked".to_owned()))
    {
        failed.get_or_insert((Exit::Io, format!("syncing a batch: {e}")));
    }
    if progress && n >= 100_000 {
        let _ = writeln!(err);
    }
    let closed = wal.close();
    let _ = writeln!(out, "appended {n} records to {}", wal_dir.display());
    for (w, s) in wal.streams() {
        if w != emitter.writer_id() {
            continue;
        }
        if let Some(st) = wal.chain_state(&w, &s) {
            let _ = writeln!(out, "  {s:<16} last seq {:<8} head {}", st.seq(), st.head());
        }
    }
    if let Some((exit, msg)) = failed {
        return crate::fail(err, exit, format_args!("{msg}"));
    }
    if let Err(e) = closed {
        return crate::fail(err, Exit::Io, format_args!("closing the WAL: {e}"));
    }
    Exit::Ok
}
