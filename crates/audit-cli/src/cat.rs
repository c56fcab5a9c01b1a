//! `auditctl cat`: a WAL's or a bundle's records as JSON Lines, each
//! verified, several writers merged in the global order of FORMAT-v1.md
//! section 3.
//!
//! Two passes over the same bytes: the first verifies every frame and link
//! up to the first failure, the second prints what was verified. One
//! writer's records come out in the order it wrote them, across its
//! streams too: the key's `seq` counts per stream, so it cannot order two
//! streams of one writer (docs/FORMAT.md, "Global order across writers"). Several writers
//! are merged by the key `(ts_ms, writer_id bytes, seq)` of each writer's
//! next record, as `audit_chain::Merge` merges chains: a writer's own
//! records are never reordered, since `ts_ms` is advisory.
//!
//! Memory: sealed segments and bundle files are mapped one at a time by
//! the first pass and by each writer's cursor in the second; the newest
//! segment (which may still grow) is read once and shared. So it is the
//! newest segment plus one mapped file per writer, never an entry per
//! record.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use audit_canon::Limits;
use audit_chain::{GlobalOrder, Merge};
use audit_verify::{
    Chains, Decoded, FileBytes, NumberedFiles, SegmentError, SegmentReader, Step, check_frame, decode_frame,
    scan_segment,
};

use crate::exit::Exit;
use crate::verify::class_exit;

/// Which records to print.
pub(crate) struct Filter<'a> {
    pub(crate) stream: Option<&'a str>,
    pub(crate) from: Option<u64>,
    pub(crate) to: Option<u64>,
}

impl Filter<'_> {
    fn wants_seq(&self, seq: u64) -> bool {
        self.from.is_none_or(|f| seq >= f) && self.to.is_none_or(|t| seq <= t)
    }
}

/// One segment or bundle file, in number order.
struct File {
    path: PathBuf,
    number: u64,
    /// Nobody appends to it any more (a sealed segment, a bundle file):
    /// it may be mapped.
    sealed: bool,
}

/// Runs `cat PATH [--stream S] [--from SEQ] [--to SEQ]`.
pub(crate) fn cat(path: &Path, filter: &Filter<'_>, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && from > to
    {
        return crate::fail(
            err,
            Exit::Usage,
            format_args!("--from {from} is after --to {to}: the range is empty"),
        );
    }
    let bundle = audit_verify::is_bundle(path);
    let files = match files_of(path, bundle) {
        Ok(f) => f,
        Err(f) => return crate::fail(err, class_exit(f.class), format_args!("{f}")),
    };
    let checked = match check_all(&files, bundle) {
        Ok(c) => c,
        Err((p, e)) => return crate::fail(err, Exit::Io, format_args!("{}: {e}", p.display())),
    };
    // A stream with no record anywhere here is most likely a mistyped
    // name: said on stderr, as nothing is printed (exit 0: nothing failed).
    if let Some(s) = filter.stream
        && checked.failure.is_none()
        && !checked.streams.contains(s)
    {
        let known: Vec<&str> = checked.streams.iter().map(String::as_str).collect();
        let _ = writeln!(
            err,
            "auditctl: note: {} has no records of stream {s:?} (its streams: {})",
            path.display(),
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
    }
    let ctx = Ctx {
        files: &files,
        checked: &checked,
        filter,
    };
    for next in merged(&ctx) {
        // Only a file that changed after its check, or stdout (closed by
        // `| head`: no message), fails here.
        let printed = match next {
            Out::Record(r) => r.print(&files, out),
            Out::Failed(e) => Err(e),
        };
        match printed {
            Ok(true) => {}
            Ok(false) => return Exit::Io,
            Err(e) => return crate::fail(err, Exit::Io, format_args!("{e}")),
        }
    }
    match &checked.failure {
        None => Exit::Ok,
        Some(f) => crate::fail(err, class_exit(f.class), format_args!("{f}")),
    }
}

/// The segment files of a WAL directory, or the record files of a bundle,
/// by number, whole from 1 (a removed file is refused as `auditctl verify`
/// refuses it, never skipped).
fn files_of(path: &Path, bundle: bool) -> Result<Vec<File>, Box<audit_verify::Failure>> {
    let kind = if bundle {
        NumberedFiles::Records
    } else {
        NumberedFiles::Segments
    };
    let named = audit_verify::list_numbered(path, kind)?;
    let last = named.last().map_or(0, |s| s.0);
    Ok(named
        .into_iter()
        .map(|(number, path)| File {
            path,
            number,
            sealed: bundle || number != last,
        })
        .collect())
}

fn load(f: &File) -> Result<FileBytes, (PathBuf, std::io::Error)> {
    audit_verify::read_file(&f.path, f.sealed).map_err(|e| (f.path.clone(), e))
}

/// What the verifying pass found.
struct Checked {
    /// The writers seen, in byte order.
    writers: Vec<String>,
    /// The streams seen (of any writer).
    streams: BTreeSet<String>,
    /// Where verification stopped (file index, offset): frames from there
    /// on are not printed.
    stop: Option<(usize, u64)>,
    failure: Option<audit_verify::Failure>,
    /// The newest segment's bytes, read once for both passes.
    newest: Option<Rc<FileBytes>>,
}

/// The first pass: every frame checked (canonical bytes, digest, `v` and
/// `seq`) and, in a WAL, linked into its chain.
fn check_all(files: &[File], bundle: bool) -> Result<Checked, (PathBuf, std::io::Error)> {
    let limits = Limits::default();
    let mut chains = Chains::new();
    let mut writers = BTreeSet::new();
    let mut streams = BTreeSet::new();
    let (mut last_writer, mut last_stream) = (String::new(), String::new());
    let mut seen = |w: &str, s: &str| {
        if w != last_writer {
            last_writer = w.to_owned();
            writers.insert(last_writer.clone());
        }
        if s != last_stream {
            last_stream = s.to_owned();
            streams.insert(last_stream.clone());
        }
    };
    let mut newest = None;
    let mut stop = None;
    let mut failure = None;
    for (i, f) in files.iter().enumerate() {
        let bytes = Rc::new(load(f)?);
        let res = if bundle {
            // A bundle's chain may start mid-stream, so frames are checked
            // here and `auditctl verify` checks the rest.
            check_bundle_file(f, &bytes, &limits, &mut seen)
        } else {
            scan_segment(&bytes, f.number, !f.sealed, &mut chains, &limits, |_, l| {
                seen(&l.writer_id, &l.stream);
            })
            .map(drop)
        };
        if !f.sealed {
            newest = Some(bytes);
        }
        if let Err(e) = res {
            stop = Some((i, e.offset()));
            failure = Some(audit_verify::Failure::from_segment(f.path.clone(), &e));
            break;
        }
    }
    Ok(Checked {
        writers: writers.into_iter().collect(),
        streams,
        stop,
        failure,
        newest,
    })
}

fn check_bundle_file(
    f: &File,
    bytes: &[u8],
    limits: &Limits,
    seen: &mut impl FnMut(&str, &str),
) -> Result<(), SegmentError> {
    let mut r = SegmentReader::new(bytes, f.number)?;
    while let Step::Frame(frame) = r.next_step()? {
        let link = check_frame(&frame, f.number, limits)?;
        seen(&link.writer_id, &link.stream);
    }
    Ok(())
}

/// What the second pass shares.
struct Ctx<'a> {
    files: &'a [File],
    checked: &'a Checked,
    filter: &'a Filter<'a>,
}

impl Ctx<'_> {
    /// File `i`'s bytes: the newest segment as the first pass read it,
    /// any other mapped again.
    fn bytes(&self, i: usize) -> Result<Rc<FileBytes>, String> {
        let f = self.files.get(i).ok_or("no such file")?;
        match &self.checked.newest {
            Some(b) if !f.sealed => Ok(b.clone()),
            _ => load(f)
                .map(Rc::new)
                .map_err(|(p, e)| format!("{}: {e}", p.display())),
        }
    }
}

/// The fields a record's canonical bytes start with (their key order is
/// fixed); the rest is skipped.
#[derive(serde::Deserialize)]
struct Head<'a> {
    ts_ms: u64,
    #[serde(borrow)]
    writer_id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    stream: std::borrow::Cow<'a, str>,
}

/// A verified record on its way out: where its frame is, and its place
/// in the global order.
struct Record<'a> {
    ts_ms: u64,
    /// Its writer's id (empty when there is one writer: nothing to merge).
    writer: &'a [u8],
    seq: u64,
    bytes: Rc<FileBytes>,
    /// The frame's file (index) and offset.
    file: usize,
    offset: u64,
}

impl Record<'_> {
    /// Prints the record with its `self_hash` (its frame's digest, which
    /// the first pass checked is the digest of its bytes); false when
    /// stdout fails.
    fn print(&self, files: &[File], out: &mut dyn Write) -> Result<bool, String> {
        let at = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let Decoded::Frame(f) = decode_frame(self.bytes.get(at..).unwrap_or_default(), self.offset) else {
            let path = files.get(self.file).map(|f| f.path.display().to_string());
            return Err(format!(
                "{} at offset {}: the frame changed after it was verified",
                path.unwrap_or_default(),
                self.offset
            ));
        };
        let text = String::from_utf8_lossy(f.canonical);
        let body = text.strip_suffix('}').unwrap_or(&text);
        Ok(writeln!(out, "{body},\"self_hash\":\"{}\"}}", f.digest).is_ok())
    }
}

/// What the second pass hands on: a verified record, or why it cannot go
/// on (a file that changed after its check).
enum Out<'a> {
    Record(Record<'a>),
    Failed(String),
}

impl GlobalOrder for Out<'_> {
    fn global_key(&self) -> (u64, &[u8], u64) {
        match self {
            Out::Record(r) => (r.ts_ms, r.writer, r.seq),
            // Before any record: the merge hands a failure on at once.
            Out::Failed(_) => (0, &[], 0),
        }
    }
}

/// One writer's wanted records (every wanted record when `writer` is
/// `None`), in file order, up to where verification stopped.
struct Cursor<'a> {
    ctx: &'a Ctx<'a>,
    /// Index into `Checked::writers`.
    writer: Option<usize>,
    file: usize,
    /// The current file's bytes and the next frame's offset in it.
    at: Option<(Rc<FileBytes>, u64)>,
}

impl<'a> Iterator for Cursor<'a> {
    type Item = Out<'a>;

    fn next(&mut self) -> Option<Out<'a>> {
        let ctx = self.ctx;
        let writer = self.writer.and_then(|w| ctx.checked.writers.get(w));
        // Records' leading fields are read when writers are merged or a
        // stream is asked for.
        let heads = writer.is_some() || ctx.filter.stream.is_some();
        loop {
            let f = ctx.files.get(self.file)?;
            if self.at.is_none() {
                match ctx.bytes(self.file) {
                    Ok(b) => self.at = Some((b, audit_verify::SEGMENT_HEADER_LEN as u64)),
                    Err(e) => return Some(Out::Failed(e)),
                }
            }
            let (bytes, pos) = self.at.as_mut()?;
            let step = SegmentReader::at(bytes, f.number, *pos).map(|mut r| (r.next_step(), r.position()));
            let frame = match step {
                Ok((Ok(Step::Frame(frame)), next)) => {
                    *pos = next;
                    frame
                }
                // The end, a torn tail, or what the first pass stopped at.
                _ => {
                    self.file += 1;
                    self.at = None;
                    continue;
                }
            };
            let stop = ctx.checked.stop;
            if stop.is_some_and(|(i, offset)| (self.file, frame.offset) >= (i, offset)) {
                return None;
            }
            if !ctx.filter.wants_seq(frame.seq) {
                continue;
            }
            let mut ts_ms = 0;
            if heads {
                let head = match serde_json::from_slice::<Head<'_>>(frame.canonical) {
                    Ok(h) => h,
                    Err(e) => {
                        return Some(Out::Failed(format!(
                            "{} at offset {}: the record changed after it was verified ({e})",
                            f.path.display(),
                            frame.offset
                        )));
                    }
                };
                if writer.is_some_and(|w| *w != head.writer_id)
                    || ctx.filter.stream.is_some_and(|s| s != head.stream)
                {
                    continue;
                }
                ts_ms = head.ts_ms;
            }
            return Some(Out::Record(Record {
                ts_ms,
                writer: writer.map_or(&[][..], |w| w.as_bytes()),
                seq: frame.seq,
                bytes: bytes.clone(),
                file: self.file,
                offset: frame.offset,
            }));
        }
    }
}

/// The second pass: one cursor per writer, merged in the global order by
/// `audit_chain::Merge` (one cursor over every record when there is one
/// writer).
fn merged<'a>(ctx: &'a Ctx<'a>) -> Merge<Cursor<'a>> {
    let writers = ctx.checked.writers.len();
    let cursor = |writer| Cursor {
        ctx,
        writer,
        file: 0,
        at: None,
    };
    Merge::new(if writers > 1 {
        (0..writers).map(|w| cursor(Some(w))).collect()
    } else {
        vec![cursor(None)]
    })
}
