//! The file layer the WAL runs on: [`Vfs`] and [`WalFile`], with
//! [`OsFs`] for the real filesystem. Tests swap in `MemFs`, which knows
//! which bytes are durable and injects faults.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// The bytes of a whole file: mapped (sealed segments on disk) or owned.
pub enum FileBytes {
    /// Read into memory.
    Owned(Vec<u8>),
    /// Mapped read-only (`audit_verify::map_readonly`).
    Mapped(memmap2::Mmap),
}

impl AsRef<[u8]> for FileBytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            Self::Owned(v) => v,
            Self::Mapped(m) => m,
        }
    }
}

impl fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileBytes({} bytes)", self.as_ref().len())
    }
}

/// An open file the WAL appends to.
pub trait WalFile: Send + fmt::Debug {
    /// Appends all of `buf` at the end of the file. A failure may leave a
    /// prefix of `buf` written.
    fn append(&mut self, buf: &[u8]) -> io::Result<()>;
    /// `fdatasync`: every byte written so far is durable when it returns `Ok`.
    fn sync_data(&mut self) -> io::Result<()>;
    /// Cuts (or extends with zeros) the file to `len` bytes.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    /// A handle that syncs this file from another thread, so that a sync
    /// need not hold up the writer.
    fn syncer(&self) -> io::Result<Box<dyn FileSyncer>>;
}

/// Syncs one file, apart from its writer.
pub trait FileSyncer: Send + Sync + fmt::Debug {
    /// `fdatasync`: every byte written to the file before the call is
    /// durable when it returns `Ok`.
    fn sync_data(&self) -> io::Result<()>;
}

/// An exclusive lock, released on drop.
pub trait DirLock: Send + Sync + fmt::Debug {}

/// The operations the WAL needs from a filesystem. All paths are absolute
/// or relative to the process; the WAL only touches its own directory.
pub trait Vfs: Send + Sync + fmt::Debug {
    /// Creates `dir` (mode 0700) and its parents if missing.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// The names of the entries of `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Takes the exclusive lock on `path` (created 0600), or fails with
    /// `WouldBlock` when another holder has it, in this process or another.
    /// The holder's process id is written into it for [`Vfs::lock_holder`].
    fn lock(&self, path: &Path) -> io::Result<Box<dyn DirLock>>;
    /// The process id that the holder of the lock on `path` wrote, when it
    /// can be read: what an opener refused with `WouldBlock` reports.
    fn lock_holder(&self, path: &Path) -> Option<u32>;
    /// Creates `path` (mode 0600), failing if it exists.
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn WalFile>>;
    /// Opens an existing file for appending.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WalFile>>;
    /// The whole content of a file that is no longer written to.
    fn read_sealed(&self, path: &Path) -> io::Result<FileBytes>;
    /// The first `len` bytes of a file (the open segment).
    fn read_prefix(&self, path: &Path, len: u64) -> io::Result<Vec<u8>>;
    /// The file's length.
    fn len(&self, path: &Path) -> io::Result<u64>;
    /// Atomically renames `from` to `to` (same directory).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes `dir`'s entries (creations, renames, removals) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The real filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsFs;

#[derive(Debug)]
struct OsFile(File);

impl WalFile for OsFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }
    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn syncer(&self) -> io::Result<Box<dyn FileSyncer>> {
        Ok(Box::new(OsSyncer(self.0.try_clone()?)))
    }
}

/// A duplicate descriptor of a segment file: `fdatasync` through it makes
/// durable every byte written through any descriptor of the file.
#[derive(Debug)]
struct OsSyncer(File);

impl FileSyncer for OsSyncer {
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
}

#[derive(Debug)]
struct OsLock(#[allow(dead_code)] File);

impl DirLock for OsLock {}

impl Vfs for OsFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for e in std::fs::read_dir(dir)? {
            // Names that are not UTF-8 are not ours; they are skipped.
            if let Ok(n) = e?.file_name().into_string() {
                names.push(n);
            }
        }
        Ok(names)
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn DirLock>> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        // flock(2): a second open file description conflicts, in this
        // process as in another.
        match f.try_lock() {
            Ok(()) => {
                // Informational only: a failure here leaves the lock held
                // and the holder unnamed.
                let _ = f.set_len(0).and_then(|()| writeln!(&f, "{}", std::process::id()));
                Ok(Box::new(OsLock(f)))
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(io::ErrorKind::WouldBlock.into()),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    fn lock_holder(&self, path: &Path) -> Option<u32> {
        let mut text = String::new();
        // A pid is at most 10 digits; anything longer is not one.
        File::open(path).ok()?.take(16).read_to_string(&mut text).ok()?;
        text.trim_end().parse().ok()
    }

    fn create_new(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        let f = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        Ok(Box::new(OsFile(f)))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        Ok(Box::new(OsFile(OpenOptions::new().append(true).open(path)?)))
    }

    fn read_sealed(&self, path: &Path) -> io::Result<FileBytes> {
        let f = File::open(path)?;
        if f.metadata()?.len() == 0 {
            return Ok(FileBytes::Owned(Vec::new()));
        }
        audit_verify::map_readonly(&f).map(FileBytes::Mapped)
    }

    fn read_prefix(&self, path: &Path, len: u64) -> io::Result<Vec<u8>> {
        use std::io::Read;
        let f = File::open(path)?;
        let n = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let mut buf = Vec::with_capacity(n.min(f.metadata()?.len() as usize));
        f.take(len).read_to_end(&mut buf)?;
        Ok(buf)
    }

    fn len(&self, path: &Path) -> io::Result<u64> {
        Ok(std::fs::metadata(path)?.len())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}
