//! `auditctl canon`: one record on stdin to its canonical bytes and `self_hash`.

use std::io::{Read, Write};

use audit_canon::{Limits, MAX_INPUT_BYTES, parse_record};

use crate::exit::Exit;

/// Reads one record from `input`, writes the canonical bytes and the
/// `self_hash` on two lines of `out` (or one JSON object with `json`), and
/// reports problems on `err`.
pub fn run(input: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write, json: bool) -> Exit {
    let mut buf = Vec::new();
    // Read one byte past the bound so an oversized input is refused, not truncated.
    if let Err(e) = input.take(MAX_INPUT_BYTES as u64 + 1).read_to_end(&mut buf) {
        let _ = writeln!(err, "auditctl canon: cannot read stdin: {e}");
        return Exit::Io;
    }
    // A record file usually ends with one newline; it is not part of the record.
    let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    let parsed = match parse_record(text, &Limits::default()) {
        Ok(p) => p,
        Err(e) => {
            if json {
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::json!({"ok": false, "error": e.code(), "message": e.to_string()})
                );
            }
            let _ = writeln!(err, "auditctl canon: stdin: {e}");
            return Exit::Integrity;
        }
    };
    let mismatch = parsed.check_claimed().err();
    let canonical = String::from_utf8_lossy(&parsed.canonical);
    let written = if json {
        let mut obj = serde_json::json!({
            "ok": mismatch.is_none(),
            "canonical": canonical,
            "self_hash": parsed.self_hash.to_hash_string(),
            "stream": parsed.record.stream(),
            "seq": parsed.record.seq(),
        });
        if let Some(m) = &mismatch {
            obj["error"] = "self_hash_mismatch".into();
            obj["message"] = m.to_string().into();
        }
        writeln!(out, "{obj}")
    } else {
        writeln!(out, "{canonical}\n{}", parsed.self_hash)
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        let _ = writeln!(err, "auditctl canon: cannot write stdout: {e}");
        return Exit::Io;
    }
    match mismatch {
        Some(m) => {
            let _ = writeln!(err, "auditctl canon: stdin: {m}");
            Exit::Integrity
        }
        None => Exit::Ok,
    }
}
