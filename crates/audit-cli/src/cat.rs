//! `auditctl cat`: a WAL's or a bundle's records as JSON Lines, each
//! verified, several writers merged in the global order of FORMAT-v1.md
//! section 3.
//!
//! Two passes over the same bytes (sealed segments and bundle files are
//! mapped, the open segment is read once): the first verifies every frame
//! and link up to the first failure, the second prints what was verified.
//! One writer's records come out in the order it wrote them. Several
//! writers are merged by the key `(ts_ms, writer_id bytes, seq)` of each
//! writer's next record, as `audit_chain::Merge` merges chains: a writer's
//! own records are never reordered, since `ts_ms` is advisory. Memory is
//! the files' bytes and one record per writer, never one entry per record.

use std::borrow::Cow;
use std::collections::{BTreeSet, BinaryHeap};
use std::io::Write;
use std::path::{Path, PathBuf};

use audit_canon::{Digest, Limits};
use audit_verify::{
    Chains, FileBytes, SegmentError, SegmentReader, Step, check_frame, parse_segment_file_name, scan_segment,
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
    /// `stream` is `None` only when no stream is asked for.
    fn wants(&self, stream: Option<&str>, seq: u64) -> bool {
        self.stream.is_none_or(|s| stream == Some(s))
            && self.from.is_none_or(|f| seq >= f)
            && self.to.is_none_or(|t| seq <= t)
    }
}

/// One segment or bundle file, in number order.
struct File {
    path: PathBuf,
    number: u64,
    bytes: FileBytes,
}

/// Runs `cat PATH [--stream S] [--from SEQ] [--to SEQ]`.
pub(crate) fn cat(path: &Path, filter: &Filter<'_>, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let bundle = path.join(audit_verify::MANIFEST_FILE).exists();
    let files = match files_of(path, bundle) {
        Ok(f) => f,
        Err((p, e)) => return crate::fail(err, Exit::Io, format_args!("{}: {e}", p.display())),
    };
    let checked = check_all(&files, bundle);
    let mut merge = Merge::new(&files, &checked, filter.stream.is_some());
    while let Some(r) = merge.next_record() {
        let r = match r {
            Ok(r) => r,
            Err(e) => return crate::fail(err, Exit::Structure, format_args!("{e}")),
        };
        let stream = r.head.as_ref().map(|h| h.stream.as_ref());
        if filter.wants(stream, r.seq) && !print(out, r.canonical, &r.digest) {
            return Exit::Io;
        }
    }
    match checked.failure {
        None => Exit::Ok,
        Some(f) => crate::fail(err, class_exit(f.class), format_args!("{f}")),
    }
}

/// The segment files of a WAL directory, or the record files of a bundle,
/// by number, read: sealed segments and bundle files (never appended to)
/// are mapped.
fn files_of(path: &Path, bundle: bool) -> Result<Vec<File>, (PathBuf, std::io::Error)> {
    let rd = std::fs::read_dir(path).map_err(|e| (path.to_owned(), e))?;
    let mut named: Vec<(u64, PathBuf)> = rd
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            let n = if bundle {
                name.strip_prefix("records-")?
                    .strip_suffix(".seg")?
                    .parse()
                    .ok()?
            } else {
                parse_segment_file_name(&name)?
            };
            Some((n, e.path()))
        })
        .collect();
    named.sort();
    let last = named.last().map_or(0, |s| s.0);
    named
        .into_iter()
        .map(|(number, path)| {
            let bytes =
                audit_verify::read_file(&path, bundle || number != last).map_err(|e| (path.clone(), e))?;
            Ok(File { path, number, bytes })
        })
        .collect()
}

/// What the verifying pass found.
struct Checked {
    /// The writers seen, in byte order.
    writers: BTreeSet<String>,
    /// Where verification stopped (file index, offset): frames from there
    /// on are not printed.
    stop: Option<(usize, u64)>,
    failure: Option<audit_verify::Failure>,
}

/// The first pass: every frame checked (canonical bytes, digest, `v` and
/// `seq`) and, in a WAL, linked into its chain.
fn check_all(files: &[File], bundle: bool) -> Checked {
    let limits = Limits::default();
    let mut chains = Chains::new();
    let mut writers = BTreeSet::new();
    let mut last_writer = String::new();
    let mut seen = |w: &str| {
        if w != last_writer {
            last_writer = w.to_owned();
            writers.insert(last_writer.clone());
        }
    };
    let newest = files.len().saturating_sub(1);
    for (i, f) in files.iter().enumerate() {
        let res = if bundle {
            // A bundle's chain may start mid-stream, so frames are checked
            // here and `auditctl verify` checks the rest.
            check_bundle_file(f, &limits, &mut seen)
        } else {
            scan_segment(&f.bytes, f.number, i == newest, &mut chains, &limits, |_, l| {
                seen(&l.writer_id);
            })
            .map(drop)
        };
        if let Err(e) = res {
            return Checked {
                writers,
                stop: Some((i, e.offset())),
                failure: Some(audit_verify::Failure::from_segment(f.path.clone(), &e)),
            };
        }
    }
    Checked {
        writers,
        stop: None,
        failure: None,
    }
}

fn check_bundle_file(f: &File, limits: &Limits, seen: &mut impl FnMut(&str)) -> Result<(), SegmentError> {
    let mut r = SegmentReader::new(&f.bytes, f.number)?;
    while let Step::Frame(frame) = r.next_step()? {
        seen(&check_frame(&frame, f.number, limits)?.writer_id);
    }
    Ok(())
}

/// The fields a record's canonical bytes start with (their key order is
/// fixed); the rest is skipped.
#[derive(serde::Deserialize)]
struct Head<'a> {
    ts_ms: u64,
    #[serde(borrow)]
    writer_id: Cow<'a, str>,
    #[serde(borrow)]
    stream: Cow<'a, str>,
}

/// A verified record on its way out.
struct Record<'a> {
    /// Read when writers are merged or a stream is asked for.
    head: Option<Head<'a>>,
    seq: u64,
    canonical: &'a [u8],
    digest: Digest,
}

/// One writer's records (every record when `writer` is `None`), in file
/// order, up to where verification stopped.
struct Cursor<'a> {
    files: &'a [File],
    stop: Option<(usize, u64)>,
    writer: Option<&'a str>,
    /// Read each record's [`Head`] (always, when `writer` is given).
    heads: bool,
    file: usize,
    reader: Option<SegmentReader<'a>>,
}

impl<'a> Cursor<'a> {
    fn next_record(&mut self) -> Option<Result<Record<'a>, String>> {
        loop {
            let f = self.files.get(self.file)?;
            let reader = match &mut self.reader {
                Some(r) => r,
                None => self.reader.insert(SegmentReader::new(&f.bytes, f.number).ok()?),
            };
            let frame = match reader.next_step() {
                Ok(Step::Frame(frame)) => frame,
                // The end, a torn tail, or an error the first pass stopped at.
                _ => {
                    self.file += 1;
                    self.reader = None;
                    continue;
                }
            };
            if self
                .stop
                .is_some_and(|(i, offset)| (self.file, frame.offset) >= (i, offset))
            {
                return None;
            }
            if !self.heads {
                return Some(Ok(Record {
                    head: None,
                    seq: frame.seq,
                    canonical: frame.canonical,
                    digest: frame.digest,
                }));
            }
            let head = match serde_json::from_slice::<Head<'a>>(frame.canonical) {
                Ok(h) => h,
                Err(e) => {
                    return Some(Err(format!(
                        "{} at offset {}: the record changed after it was verified ({e})",
                        f.path.display(),
                        frame.offset
                    )));
                }
            };
            if self.writer.is_none_or(|w| w == head.writer_id) {
                return Some(Ok(Record {
                    head: Some(head),
                    seq: frame.seq,
                    canonical: frame.canonical,
                    digest: frame.digest,
                }));
            }
        }
    }
}

/// The next record of writer `input`, ordered by the global key (writers
/// differ, so keys never tie).
struct Next<'a> {
    record: Record<'a>,
    input: usize,
}

impl Next<'_> {
    /// (With one cursor, which reads no head, there is nothing to order.)
    fn key(&self) -> (u64, &[u8], u64) {
        let h = self.record.head.as_ref();
        (
            h.map_or(0, |h| h.ts_ms),
            h.map_or(&[][..], |h| h.writer_id.as_bytes()),
            self.record.seq,
        )
    }
}

impl PartialEq for Next<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Next<'_> {}

impl PartialOrd for Next<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Next<'_> {
    /// Reversed, so that `BinaryHeap` pops the smallest key first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.key().cmp(&self.key()).then(other.input.cmp(&self.input))
    }
}

/// The second pass: one cursor per writer, merged (one cursor over every
/// record when there is one writer).
struct Merge<'a> {
    cursors: Vec<Cursor<'a>>,
    heap: BinaryHeap<Next<'a>>,
    failed: Option<String>,
}

impl<'a> Merge<'a> {
    /// `streams`: a stream is asked for, so every record's head is read.
    fn new(files: &'a [File], checked: &'a Checked, streams: bool) -> Self {
        let cursor = |writer: Option<&'a str>| Cursor {
            files,
            stop: checked.stop,
            writer,
            heads: streams || writer.is_some(),
            file: 0,
            reader: None,
        };
        let cursors: Vec<Cursor<'a>> = if checked.writers.len() > 1 {
            checked.writers.iter().map(|w| cursor(Some(w.as_str()))).collect()
        } else {
            vec![cursor(None)]
        };
        let mut m = Self {
            cursors,
            heap: BinaryHeap::new(),
            failed: None,
        };
        for i in 0..m.cursors.len() {
            m.refill(i);
        }
        m
    }

    fn refill(&mut self, input: usize) {
        match self.cursors.get_mut(input).and_then(Cursor::next_record) {
            Some(Ok(record)) => self.heap.push(Next { record, input }),
            Some(Err(e)) => self.failed = Some(e),
            None => {}
        }
    }

    fn next_record(&mut self) -> Option<Result<Record<'a>, String>> {
        if let Some(e) = self.failed.take() {
            return Some(Err(e));
        }
        let next = self.heap.pop()?;
        self.refill(next.input);
        Some(Ok(next.record))
    }
}

/// Prints one record with its `self_hash` (its frame's digest, which the
/// first pass checked is the digest of its bytes); false when stdout fails.
fn print(out: &mut dyn Write, canonical: &[u8], digest: &Digest) -> bool {
    let text = String::from_utf8_lossy(canonical);
    let body = text.strip_suffix('}').unwrap_or(&text);
    writeln!(out, "{body},\"self_hash\":\"{digest}\"}}").is_ok()
}
