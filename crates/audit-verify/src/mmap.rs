//! The workspace's one `unsafe` function: mapping a sealed segment
//! read-only. It lives here, at the bottom of the reading side, so that the
//! WAL's recovery and the verifier share it.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;

/// Maps `file` read-only. Callers map only *sealed* segments (files no
/// writer appends to any more); the open segment is read with `read(2)`.
///
/// # Safety argument
///
/// `memmap2::Mmap::map` is unsafe because the mapped bytes change if the
/// file is modified while mapped, which Rust's `&[u8]` forbids. Sealed
/// segments are append-only and never written again, and the WAL's own
/// reads happen inside a directory it holds an exclusive lock on, with
/// files created 0600. A process that ignores all that and rewrites a
/// mapped file can still change the bytes under us; readers then see
/// corrupt frames and report them (every frame is checked before use, and
/// decoding never indexes out of bounds), but the contents seen are
/// unspecified. Truncation by such a process would raise `SIGBUS`; that is
/// the documented limit of mapping.
pub fn map_readonly(file: &File) -> io::Result<memmap2::Mmap> {
    // SAFETY: see above; the file is a sealed segment under our lock.
    unsafe { memmap2::Mmap::map(file) }
}
