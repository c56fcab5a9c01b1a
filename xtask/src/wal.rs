//! The WAL fixtures: `vectors/wal/<case>/` segment directories written by
//! `audit-wal` (on its in-memory file layer, so the bytes are
//! reproducible), corrupt and torn variants made by editing bytes, and
//! `vectors/wal.json`, which says what a reader must find in each: every
//! frame, every chain's head and Merkle root, the torn tail, or the first
//! error with its segment and offset. The expectations come from
//! `audit-verify`'s reader; `scripts/interop/check_vectors.py` re-derives
//! them from the bytes alone.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use audit_canon::{ActorRef, Limits, SubjectRef};
use audit_chain::{AuditSink, Emitter, Event, FsyncPolicy, Privacy};
use audit_verify::{
    Chains, FRAME_OVERHEAD, SegmentError, parse_segment_file_name, scan_segment, segment_file_name,
};
use audit_wal::{MemFs, WalOptions, WalSink};
use serde_json::{Value, json};

/// A fixture directory: file names and bytes.
pub(crate) type Files = Vec<(String, Vec<u8>)>;

const WRITER: &str = "svc-gateway@inst-1";

/// Writes the base WAL: 30 records over three streams, segments rotated at
/// 2 KiB, closed cleanly (so every segment has an index).
fn base() -> Result<Files, String> {
    let fs = MemFs::new();
    let opts = WalOptions {
        rotate_bytes: 2048,
        fsync: FsyncPolicy::Always,
    };
    let (wal, _) = WalSink::open_on(Arc::new(fs.clone()), "/wal", opts).map_err(|e| e.to_string())?;
    let wal = Arc::new(wal);
    let tick = AtomicU64::new(0);
    let emitter = Emitter::new(WRITER, wal.clone(), Limits::default())
        .map_err(|e| e.to_string())?
        .with_privacy(Privacy::off())
        .with_clock(Arc::new(move || {
            1_730_246_400_000 + tick.fetch_add(1, Ordering::Relaxed)
        }));
    for i in 0..30u64 {
        let stream = ["ingress", "policy", "storage"][(i % 3) as usize];
        let mut ev = Event::new(stream, "GetServed", "ok")
            .attr("i", i)
            .attr("bytes", i * 1000);
        if i % 4 == 1 {
            ev = ev.actor(ActorRef {
                passport_id: Some(format!("p-{i}")),
                ..ActorRef::default()
            });
        }
        if i % 5 == 2 {
            // Non-ASCII and an escape inside frames.
            ev = ev.subject(SubjectRef {
                name: Some(format!("Zoe\u{308} \"{i}\"")),
                ..SubjectRef::default()
            });
        }
        emitter.emit(ev).map_err(|e| e.to_string())?;
    }
    wal.close().map_err(|e| e.to_string())?;
    let mut names = audit_wal::Vfs::list(&fs, Path::new("/wal")).map_err(|e| e.to_string())?;
    names.retain(|n| n != "wal.lock");
    names.sort();
    Ok(names
        .into_iter()
        .filter_map(|n| Some((n.clone(), fs.contents(&Path::new("/wal").join(&n))?)))
        .collect())
}

fn file<'a>(files: &'a mut Files, name: &str) -> Result<&'a mut Vec<u8>, String> {
    files
        .iter_mut()
        .find(|(n, _)| n == name)
        .map(|(_, b)| b)
        .ok_or_else(|| format!("fixture has no {name}"))
}

/// Frame offsets of a segment's bytes.
fn frames(seg: &[u8], n: u64) -> Result<Vec<(u64, usize)>, String> {
    let mut out = Vec::new();
    let mut r = audit_verify::SegmentReader::new(seg, n).map_err(|e| e.to_string())?;
    while let audit_verify::Step::Frame(f) = r.next_step().map_err(|e| e.to_string())? {
        out.push((f.offset, f.canonical.len()));
    }
    Ok(out)
}

/// What a reader must find in `files`: frames and chains, the torn tail,
/// or the first error.
fn expect(files: &Files) -> Value {
    let limits = Limits::default();
    let mut segs: Vec<(u64, &Vec<u8>)> = files
        .iter()
        .filter_map(|(n, b)| Some((parse_segment_file_name(n)?, b)))
        .collect();
    segs.sort_by_key(|(n, _)| *n);
    let last = segs.last().map_or(0, |(n, _)| *n);
    if let Some(missing) = (1..=last).find(|k| !segs.iter().any(|(n, _)| n == k)) {
        return json!({"want_err": {"code": "missing_segment", "segment": missing, "offset": 0}});
    }
    let mut chains = Chains::new();
    let mut out_frames = Vec::new();
    let mut torn = Value::Null;
    for (n, bytes) in &segs {
        let mut seen = Vec::new();
        let scan = scan_segment(bytes, *n, *n == last, &mut chains, &limits, |f, l| {
            seen.push(json!({
                "segment": n, "offset": f.offset, "seq": l.seq,
                "writer_id": l.writer_id, "stream": l.stream, "self_hash": l.self_hash.to_hash_string(),
            }));
        });
        match scan {
            Err(e) => return json!({"want_err": err_json(&e)}),
            Ok(s) => {
                out_frames.extend(seen);
                if let Some(t) = s.torn {
                    let kind = match t.kind {
                        audit_verify::TornKind::Incomplete => "incomplete",
                        audit_verify::TornKind::Zeros => "zeros",
                    };
                    torn = json!({"segment": n, "offset": t.offset, "len": t.len, "kind": kind});
                }
            }
        }
    }
    let mut streams: Vec<Value> = chains
        .iter()
        .map(|(w, s, h)| {
            json!({
                "writer_id": w, "stream": s, "seq": h.seq, "head": h.head.to_hash_string(),
                "root": h.frontier.root().map(|r| r.to_hash_string()),
            })
        })
        .collect();
    streams.sort_by_key(|v| v["stream"].as_str().unwrap_or_default().to_owned());
    json!({"frames": out_frames, "streams": streams, "torn": torn, "want_err": null})
}

fn err_json(e: &SegmentError) -> Value {
    json!({"code": e.code(), "segment": e.segment(), "offset": e.offset(), "message": e.to_string()})
}

/// Every case: its name, what it is, and its files.
pub(crate) fn cases() -> Result<Vec<(String, String, Files)>, String> {
    let good = base()?;
    let nseg = good
        .iter()
        .filter(|(n, _)| parse_segment_file_name(n).is_some())
        .count() as u64;
    if nseg < 3 {
        return Err(format!("the base WAL has {nseg} segments, the cases need 3"));
    }
    let newest = segment_file_name(nseg);
    let newest_idx = format!("wal-{nseg:06}.idx");
    let s1 = frames(file(&mut good.clone(), "wal-000001.seg")?, 1)?;
    let sn = frames(file(&mut good.clone(), &newest)?, nseg)?;
    let mut out = vec![(
        "good".to_owned(),
        "a clean WAL: three segments, each with its index".to_owned(),
        good.clone(),
    )];
    let mut case =
        |name: &str, desc: &str, edit: &dyn Fn(&mut Files) -> Result<(), String>| -> Result<(), String> {
            let mut f = good.clone();
            edit(&mut f)?;
            out.push((name.to_owned(), desc.to_owned(), f));
            Ok(())
        };
    let (last_off, _) = *sn.last().ok_or("newest segment is empty")?;
    case(
        "torn-incomplete",
        "the newest segment ends 30 bytes into its last frame (a torn write): cut at the frame's start",
        &|f| {
            file(f, &newest)?.truncate(last_off as usize + 30);
            f.retain(|(n, _)| *n != newest_idx);
            Ok(())
        },
    )?;
    case(
        "torn-zeros",
        "the newest segment ends in 100 zero bytes (allocated, never written): cut",
        &|f| {
            file(f, &newest)?.extend_from_slice(&[0; 100]);
            f.retain(|(n, _)| *n != newest_idx);
            Ok(())
        },
    )?;
    let (off, len) = s1[1];
    case(
        "corrupt-record-bytes",
        "one letter of frame 2's writer_id in sealed segment 1 changed: the stored digest no longer matches",
        &|f| {
            let seg = file(f, "wal-000001.seg")?;
            let at = off as usize + 13;
            let payload = seg.get(at..at + len).ok_or("frame")?;
            let w = payload
                .windows(14)
                .position(|x| x == b"\"writer_id\":\"s")
                .ok_or("writer_id")?
                + 13;
            seg[at + w] ^= 0x20;
            Ok(())
        },
    )?;
    let s2 = frames(file(&mut good.clone(), "wal-000002.seg")?, 2)?;
    let (off2, len2) = s2[0];
    case(
        "corrupt-digest",
        "one bit of the stored digest of segment 2's first frame flipped",
        &|f| {
            file(f, "wal-000002.seg")?[off2 as usize + 13 + len2 + 7] ^= 0x01;
            Ok(())
        },
    )?;
    case("bad-frame-len", "frame 3 of segment 1 declares 2 MiB", &|f| {
        let at = s1[2].0 as usize;
        file(f, "wal-000001.seg")?[at..at + 4].copy_from_slice(&(2u32 << 20).to_le_bytes());
        Ok(())
    })?;
    case(
        "frame-seq-mismatch",
        "the seq field of segment 2's second frame says one more than its record",
        &|f| {
            let at = s2[1].0 as usize + 5;
            let seg = file(f, "wal-000002.seg")?;
            let seq = u64::from_le_bytes(seg[at..at + 8].try_into().map_err(|_| "seq")?);
            seg[at..at + 8].copy_from_slice(&(seq + 1).to_le_bytes());
            Ok(())
        },
    )?;
    case("bad-header", "segment 2's magic says format version 2", &|f| {
        file(f, "wal-000002.seg")?[7] = 2;
        Ok(())
    })?;
    case(
        "trailing-bytes",
        "three bytes after the last frame of sealed segment 1",
        &|f| {
            file(f, "wal-000001.seg")?.extend_from_slice(&[1, 2, 3]);
            Ok(())
        },
    )?;
    case("missing-segment", "segment 2 and its index are gone", &|f| {
        f.retain(|(n, _)| n != "wal-000002.seg" && n != "wal-000002.idx");
        Ok(())
    })?;
    case(
        "swapped-frames",
        "the newest segment's first and fourth frames (same stream, consecutive seqs) swapped",
        &|f| {
            let seg = file(f, &newest)?;
            let a = sn[0];
            let b = sn.get(3).copied().ok_or("frames")?;
            let fa = seg[a.0 as usize..a.0 as usize + FRAME_OVERHEAD + a.1].to_vec();
            let fb = seg[b.0 as usize..b.0 as usize + FRAME_OVERHEAD + b.1].to_vec();
            let mid = seg[a.0 as usize + fa.len()..b.0 as usize].to_vec();
            let mut edited = seg[..a.0 as usize].to_vec();
            edited.extend_from_slice(&fb);
            edited.extend_from_slice(&mid);
            edited.extend_from_slice(&fa);
            edited.extend_from_slice(&seg[b.0 as usize + fb.len()..]);
            *seg = edited;
            f.retain(|(n, _)| *n != newest_idx);
            Ok(())
        },
    )?;
    Ok(out)
}

/// `vectors/wal.json` and the fixture directories.
pub(crate) fn generate(regen: &str) -> Result<(Value, Vec<(String, Files)>), String> {
    let cases = cases()?;
    let mut doc = Vec::new();
    for (name, desc, files) in &cases {
        let mut want = expect(files);
        want["name"] = json!(name);
        want["desc"] = json!(desc);
        want["files"] = json!(files.iter().map(|(n, _)| n).collect::<Vec<_>>());
        doc.push(want);
    }
    let value = json!({
        "_comment": format!(
            "WAL segment fixtures (FORMAT-v1.md section 4) in vectors/wal/<name>/, written by audit-wal on its \
             in-memory file layer (30 records, 3 streams, segments rotated at 2 KiB, fsync always, closed), then \
             edited byte by byte for the torn and corrupt cases. For each case: every whole frame a reader finds \
             (in order), each chain's last seq, head and Merkle root, the torn tail the newest segment ends in \
             (cut by a writer, never in a sealed segment), or want_err: the first error's code (audit-verify's \
             SegmentError::code, or missing_segment), segment and byte offset. Expectations come from \
             audit-verify's reader; scripts/interop/check_vectors.py re-derives them from the bytes. Files \
             other than wal-NNNNNN.seg (the .idx indexes) are the writer's own and readers ignore them. \
             Regenerate with `{regen}`."
        ),
        "cases": doc,
    });
    Ok((value, cases.into_iter().map(|(n, _, f)| (n, f)).collect()))
}
