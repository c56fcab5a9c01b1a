//! The crate's one `unsafe` function: mapping a sealed segment read-only.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;

/// Maps `file` read-only.
///
/// # Safety argument
///
/// `memmap2::Mmap::map` is unsafe because the mapped bytes change if the
/// file is modified while mapped, which Rust's `&[u8]` forbids. The WAL
/// only maps *sealed* segments: segments it will never write again (they
/// are append-only and no longer the newest), inside a directory it holds
/// an exclusive lock on, with files created 0600. Another process that
/// ignores the lock and rewrites a sealed segment can still change the
/// bytes under us; the reader then sees corrupt frames and reports them
/// (every frame is checked before use, and decoding never indexes out of
/// bounds), but the contents seen are unspecified. Truncation by such a
/// process would raise `SIGBUS`; that is the documented limit of mapping
/// and the reason the open segment is read with `read(2)` instead.
pub(crate) fn map_sealed(file: &File) -> io::Result<memmap2::Mmap> {
    // SAFETY: see above; the file is a sealed segment under our lock.
    unsafe { memmap2::Mmap::map(file) }
}
