//! The segment writer: creates segments atomically, appends groups of
//! frames, syncs, and seals a segment by writing its index.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use audit_canon::Digest;
use audit_verify::{Chains, SEGMENT_HEADER_LEN, encode_header, segment_file_name};

use crate::fs::{Vfs, WalFile};
use crate::index::{encode_index, index_file_name};

/// Suffix of files written under a temporary name, then renamed.
pub(crate) const TMP_SUFFIX: &str = ".tmp";

/// Writes `bytes` to `dir/name` so that a crash leaves either the old file
/// (or none) or the whole new one: a temporary file, synced, renamed over
/// the name, then the directory synced. `durable` false (fsync policy
/// `never`) skips the syncs.
pub(crate) fn write_atomic(
    fs: &dyn Vfs,
    dir: &Path,
    name: &str,
    bytes: &[u8],
    durable: bool,
) -> io::Result<()> {
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    let fin = dir.join(name);
    // A stale temporary file of an earlier attempt is garbage.
    match fs.remove(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let written = (|| {
        let mut f = fs.create_new(&tmp)?;
        f.append(bytes)?;
        if durable {
            f.sync_data()?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        // Best effort: the name is ignored by readers and removed on open.
        let _ = fs.remove(&tmp);
        return Err(e);
    }
    fs.rename(&tmp, &fin)?;
    if durable {
        fs.sync_dir(dir)?;
    }
    Ok(())
}

/// The segment being appended to.
#[derive(Debug)]
pub(crate) struct SegmentWriter {
    fs: Arc<dyn Vfs>,
    dir: PathBuf,
    number: u64,
    file: Box<dyn WalFile>,
    /// Bytes of whole, accepted frames (and the header).
    len: u64,
    /// Frames in the segment.
    records: u64,
}

impl SegmentWriter {
    /// Creates segment `number` with its header, atomically.
    pub(crate) fn create(fs: Arc<dyn Vfs>, dir: &Path, number: u64, durable: bool) -> io::Result<Self> {
        let name = segment_file_name(number);
        write_atomic(&*fs, dir, &name, &encode_header(number), durable)?;
        let file = fs.open_append(&dir.join(&name))?;
        Ok(Self {
            fs,
            dir: dir.to_path_buf(),
            number,
            file,
            len: SEGMENT_HEADER_LEN as u64,
            records: 0,
        })
    }

    /// Continues segment `number`, whose first `len` bytes are `records`
    /// whole frames (recovery checked them).
    pub(crate) fn resume(
        fs: Arc<dyn Vfs>,
        dir: &Path,
        number: u64,
        len: u64,
        records: u64,
    ) -> io::Result<Self> {
        let file = fs.open_append(&dir.join(segment_file_name(number)))?;
        Ok(Self {
            fs,
            dir: dir.to_path_buf(),
            number,
            file,
            len,
            records,
        })
    }

    pub(crate) fn number(&self) -> u64 {
        self.number
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.dir.join(segment_file_name(self.number))
    }

    /// Appends `frames` whole frames in one write. On failure the file is
    /// cut back to its previous length, so no partial frame stays behind;
    /// if even that fails, the error says so (`Err(_, false)`).
    pub(crate) fn append(&mut self, bytes: &[u8], frames: u64) -> Result<(), (io::Error, bool)> {
        match self.file.append(bytes) {
            Ok(()) => {
                self.len += bytes.len() as u64;
                self.records += frames;
                Ok(())
            }
            Err(e) => {
                let clean = self.file.set_len(self.len).is_ok();
                Err((e, clean))
            }
        }
    }

    /// `fdatasync` of everything appended.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// A handle that syncs this segment from another thread.
    pub(crate) fn syncer(&self) -> io::Result<Box<dyn crate::fs::FileSyncer>> {
        self.file.syncer()
    }

    /// Writes the index of the segment's current bytes (`chains` is where
    /// every chain stands at its end). The caller has synced the segment.
    pub(crate) fn write_index(&self, chains: &Chains, durable: bool) -> io::Result<()> {
        let bytes = self.fs.read_prefix(&self.path(), self.len)?;
        if bytes.len() as u64 != self.len {
            return Err(io::Error::other("segment shorter than written"));
        }
        let index = encode_index(self.number, self.len, &Digest::of(&bytes), self.records, chains);
        write_atomic(
            &*self.fs,
            &self.dir,
            &index_file_name(self.number),
            &index,
            durable,
        )
    }
}
