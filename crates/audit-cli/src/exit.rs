//! Exit codes of FORMAT-v1.md section 7, shared by every command.

use std::process::ExitCode;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: everything verified / done.
    Ok = 0,
    /// 1: integrity failure (bad record, hash, link, root).
    Integrity = 1,
    /// 2: usage error.
    Usage = 2,
    /// 3: trust failure (signatures, policy).
    Trust = 3,
    /// 4: structure failure (bad magic, manifest, missing file).
    Structure = 4,
    /// 5: I/O error.
    Io = 5,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}
