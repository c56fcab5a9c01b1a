//! Listing a directory's numbered files, a WAL's `wal-NNNNNN.seg`
//! segments or a bundle's `records-NNNNNN.seg` files, whole from 1, and
//! telling a bundle from a WAL directory: one listing for every reader.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use crate::bundle::MANIFEST_FILE;
use crate::header::{first_missing_segment, parse_segment_file_name, segment_file_name};
use crate::report::{Failure, FailureClass};

/// A kind of numbered file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberedFiles {
    /// A WAL directory's `wal-NNNNNN.seg`.
    Segments,
    /// A bundle's `records-NNNNNN.seg`.
    Records,
}

impl NumberedFiles {
    /// The file name of number `n`.
    pub fn name(self, n: u64) -> String {
        match self {
            Self::Segments => segment_file_name(n),
            Self::Records => format!("records-{n:06}.seg"),
        }
    }

    /// The number a file name stands for: at least 6 digits, and exactly
    /// [`NumberedFiles::name`] of its number (one number, one name).
    pub fn number_of(self, name: &str) -> Option<u64> {
        match self {
            Self::Segments => parse_segment_file_name(name),
            Self::Records => {
                let d = name.strip_prefix("records-")?.strip_suffix(".seg")?;
                let n: u64 = d.bytes().all(|b| b.is_ascii_digit()).then(|| d.parse().ok())??;
                (self.name(n) == name).then_some(n)
            }
        }
    }

    /// The reason given when number `missing` is absent and the files run
    /// to `last` (0: there are none).
    pub fn missing_reason(self, missing: u64, last: u64) -> String {
        let what = match self {
            Self::Segments => "segment",
            Self::Records => "records file",
        };
        if last == 0 {
            format!("{what} {missing} is missing (the directory has no {what}s)")
        } else {
            format!("{what} {missing} is missing ({what}s run to {last})")
        }
    }
}

/// The numbered files of `dir`, in number order. Refused when they do not
/// run from 1 without a gap, the first absent one named (`missing_segment`,
/// structure: a removed file is never skipped in silence), or when `dir`
/// cannot be read (`io`).
pub fn list_numbered(dir: &Path, kind: NumberedFiles) -> Result<Vec<(u64, PathBuf)>, Box<Failure>> {
    let io = |e: std::io::Error| {
        Box::new(Failure {
            class: FailureClass::Io,
            code: "io",
            file: dir.to_path_buf(),
            offset: None,
            stream: None,
            seq: None,
            reason: e.to_string(),
        })
    };
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io)? {
        let e = e.map_err(io)?;
        if let Some(n) = e.file_name().to_str().and_then(|n| kind.number_of(n)) {
            files.push((n, e.path()));
        }
    }
    files.sort();
    if let Some(missing) = first_missing_segment(files.iter().map(|f| f.0)) {
        let last = files.last().map_or(0, |f| f.0);
        return Err(Box::new(Failure {
            class: FailureClass::Structure,
            code: "missing_segment",
            file: dir.join(kind.name(missing)),
            offset: None,
            stream: None,
            seq: None,
            reason: kind.missing_reason(missing, last),
        }));
    }
    Ok(files)
}

/// Whether `dir` is a bundle rather than a WAL directory: it has a
/// `manifest.json` or a records file. (A bundle that lost its manifest is
/// still a bundle, and is refused as one.)
pub fn is_bundle(dir: &Path) -> bool {
    dir.join(MANIFEST_FILE).exists()
        || std::fs::read_dir(dir).is_ok_and(|rd| {
            rd.filter_map(Result::ok).any(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| NumberedFiles::Records.number_of(n).is_some())
            })
        })
}

#[cfg(test)]
mod tests {
    use super::NumberedFiles;

    #[test]
    fn one_number_one_name() {
        for kind in [NumberedFiles::Segments, NumberedFiles::Records] {
            for n in [1, 42, 999_999, 1_000_000, u64::MAX] {
                assert_eq!(kind.number_of(&kind.name(n)), Some(n), "{kind:?} {n}");
            }
        }
        let check = |name: &str, want: Option<u64>| {
            assert_eq!(NumberedFiles::Records.number_of(name), want, "{name}");
        };
        check("records-000001.seg", Some(1));
        check("records-1.seg", None);
        check("records-0000001.seg", None);
        check("records-+00001.seg", None);
        check("records-000001.seg.tmp", None);
        check("wal-000001.seg", None);
        assert_eq!(NumberedFiles::Segments.number_of("records-000001.seg"), None);
    }
}
