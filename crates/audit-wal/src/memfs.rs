//! [`MemFs`]: an in-memory [`Vfs`] that knows which bytes are durable,
//! injects faults (disk full, I/O errors, a crash at the n-th sync) and
//! produces the image a crash would leave. The crash tests run every WAL
//! scenario on it as well as on the real filesystem.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::fs::{DirLock, FileBytes, FileSyncer, Vfs, WalFile};

/// An in-memory filesystem with a durability model.
///
/// The model: a file's bytes become durable at `sync_data`; a directory
/// entry (a creation, rename or removal) becomes durable at `sync_dir` of
/// its directory. [`MemFs::crash_image`] keeps exactly the durable state,
/// plus, depending on [`CrashMode`], some of what was written but not
/// synced.
#[derive(Debug, Clone, Default)]
pub struct MemFs {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// The namespace as the running process sees it.
    names: BTreeMap<PathBuf, u64>,
    /// The namespace as of the last `sync_dir` of each directory.
    durable_names: BTreeMap<PathBuf, u64>,
    files: BTreeMap<u64, MemFile>,
    next_id: u64,
    dirs: HashSet<PathBuf>,
    locks: HashSet<PathBuf>,
    /// Bytes that may still be written (`None`: unlimited).
    space: Option<u64>,
    /// One-shot failures for the next operation of a kind.
    fail_next: Vec<(FaultOp, io::ErrorKind)>,
    /// Syncs (file and directory) so far.
    syncs: u64,
    /// The machine dies at this sync (1-based): it and everything after fail.
    crash_at_sync: Option<u64>,
    crashed: bool,
    /// Each file sync takes this long (a slow disk).
    sync_delay: std::time::Duration,
}

#[derive(Debug, Default, Clone)]
struct MemFile {
    data: Vec<u8>,
    durable: Vec<u8>,
    /// The lowest offset changed since the last sync.
    dirty_from: usize,
}

/// An operation a fault can be injected into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOp {
    /// `WalFile::append`.
    Write,
    /// `WalFile::sync_data`.
    Sync,
    /// `Vfs::sync_dir`.
    SyncDir,
    /// `Vfs::create_new`.
    Create,
    /// `Vfs::rename`.
    Rename,
}

/// What of the unsynced bytes a crash leaves in each file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// Only durable bytes survive.
    LoseUnsynced,
    /// Everything written reached the disk.
    KeepUnsynced,
    /// The first `n` unsynced bytes of each file survive.
    TornAfter(usize),
    /// Unsynced appended space survives as zeros (allocated, never written).
    ZeroFill,
}

fn crashed() -> io::Error {
    io::Error::other("memfs: the machine crashed")
}

impl State {
    fn check(&mut self, op: FaultOp) -> io::Result<()> {
        if self.crashed {
            return Err(crashed());
        }
        if let Some(i) = self.fail_next.iter().position(|(o, _)| *o == op) {
            let (_, kind) = self.fail_next.remove(i);
            return Err(io::Error::from(kind));
        }
        if matches!(op, FaultOp::Sync | FaultOp::SyncDir) {
            self.syncs += 1;
            if self.crash_at_sync == Some(self.syncs) {
                self.crashed = true;
                return Err(crashed());
            }
        }
        Ok(())
    }

    fn file(&mut self, path: &Path) -> io::Result<&mut MemFile> {
        let id = *self.names.get(path).ok_or(io::ErrorKind::NotFound)?;
        self.files
            .get_mut(&id)
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }

    fn parent_exists(&self, path: &Path) -> io::Result<()> {
        match path.parent() {
            Some(p) if self.dirs.contains(p) => Ok(()),
            _ => Err(io::ErrorKind::NotFound.into()),
        }
    }
}

impl MemFs {
    /// An empty filesystem.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Limits the bytes that may still be written (`None`: unlimited). A
    /// write that does not fit writes what fits and fails with `ENOSPC`.
    pub fn set_space(&self, bytes: Option<u64>) {
        self.lock().space = bytes;
    }

    /// Makes the next `op` fail with `kind` (once).
    pub fn fail_next(&self, op: FaultOp, kind: io::ErrorKind) {
        self.lock().fail_next.push((op, kind));
    }

    /// The machine dies at the `n`-th sync from now on (counting file and
    /// directory syncs, 1-based): that sync does not happen, and every later
    /// operation fails.
    pub fn crash_at_sync(&self, n: u64) {
        let mut s = self.lock();
        s.crash_at_sync = Some(s.syncs + n);
    }

    /// Makes every file sync take `delay` (a slow disk), so that concurrent
    /// appenders have something to group behind.
    pub fn set_sync_delay(&self, delay: std::time::Duration) {
        self.lock().sync_delay = delay;
    }

    /// Syncs performed so far.
    pub fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    /// Whether the simulated machine has crashed.
    pub fn has_crashed(&self) -> bool {
        self.lock().crashed
    }

    /// What a reboot after a crash now would find: the durable namespace,
    /// and in each file its durable bytes plus what `mode` keeps.
    pub fn crash_image(&self, mode: CrashMode) -> MemFs {
        let s = self.lock();
        let mut files = BTreeMap::new();
        for (path, id) in &s.durable_names {
            let Some(f) = s.files.get(id) else { continue };
            let appended = f.data.starts_with(&f.durable) && f.data.len() > f.durable.len();
            let extra = if appended {
                f.data.get(f.durable.len()..).unwrap_or_default()
            } else {
                &[]
            };
            let mut bytes = f.durable.clone();
            match mode {
                CrashMode::LoseUnsynced => {}
                CrashMode::KeepUnsynced => bytes.clone_from(&f.data),
                CrashMode::TornAfter(n) => {
                    bytes.extend_from_slice(extra.get(..n.min(extra.len())).unwrap_or_default())
                }
                CrashMode::ZeroFill => bytes.resize(bytes.len() + extra.len(), 0),
            }
            files.insert(path.clone(), bytes);
        }
        let image = MemFs::new();
        {
            let mut t = image.lock();
            t.dirs.clone_from(&s.dirs);
            for (path, bytes) in files {
                let id = t.next_id;
                t.next_id += 1;
                t.names.insert(path.clone(), id);
                t.durable_names.insert(path, id);
                t.files.insert(
                    id,
                    MemFile {
                        dirty_from: bytes.len(),
                        durable: bytes.clone(),
                        data: bytes,
                    },
                );
            }
        }
        image
    }

    /// A file's current bytes (test inspection).
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let mut s = self.lock();
        s.file(path).ok().map(|f| f.data.clone())
    }

    /// Replaces a file's bytes durably (a test corrupting a file).
    pub fn overwrite(&self, path: &Path, bytes: Vec<u8>) -> io::Result<()> {
        let mut s = self.lock();
        let f = s.file(path)?;
        f.durable.clone_from(&bytes);
        f.dirty_from = bytes.len();
        f.data = bytes;
        Ok(())
    }
}

/// A sync of one file: after the delay, every byte written so far becomes
/// durable (unless a fault is injected).
fn sync_file(fs: &MemFs, path: &Path) -> io::Result<()> {
    let delay = fs.lock().sync_delay;
    if !delay.is_zero() {
        // Outside the lock: a slow disk does not stop other files.
        std::thread::sleep(delay);
    }
    let mut s = fs.lock();
    s.check(FaultOp::Sync)?;
    let f = s.file(path)?;
    let from = f.dirty_from.min(f.durable.len()).min(f.data.len());
    f.durable.truncate(from);
    f.durable
        .extend_from_slice(f.data.get(from..).unwrap_or_default());
    f.dirty_from = f.data.len();
    Ok(())
}

/// [`FileSyncer`] of a memory file.
#[derive(Debug)]
struct MemSyncer {
    fs: MemFs,
    path: PathBuf,
}

impl FileSyncer for MemSyncer {
    fn sync_data(&self) -> io::Result<()> {
        sync_file(&self.fs, &self.path)
    }
}

#[derive(Debug)]
struct MemHandle {
    fs: MemFs,
    path: PathBuf,
}

impl WalFile for MemHandle {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut s = self.fs.lock();
        s.check(FaultOp::Write)?;
        let fits = s.space.map_or(buf.len(), |free| {
            buf.len().min(usize::try_from(free).unwrap_or(usize::MAX))
        });
        if let Some(free) = s.space.as_mut() {
            *free -= fits as u64;
        }
        let f = s.file(&self.path)?;
        f.dirty_from = f.dirty_from.min(f.data.len());
        f.data.extend_from_slice(buf.get(..fits).unwrap_or_default());
        if fits < buf.len() {
            return Err(io::Error::from(io::ErrorKind::StorageFull));
        }
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        sync_file(&self.fs, &self.path)
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        let mut s = self.fs.lock();
        if s.crashed {
            return Err(crashed());
        }
        let f = s.file(&self.path)?;
        let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        f.dirty_from = f.dirty_from.min(len).min(f.data.len());
        f.data.resize(len, 0);
        Ok(())
    }

    fn syncer(&self) -> io::Result<Box<dyn FileSyncer>> {
        Ok(Box::new(MemSyncer {
            fs: self.fs.clone(),
            path: self.path.clone(),
        }))
    }
}

#[derive(Debug)]
struct MemLock {
    fs: MemFs,
    path: PathBuf,
}

impl DirLock for MemLock {}

impl Drop for MemLock {
    fn drop(&mut self) {
        self.fs.lock().locks.remove(&self.path);
    }
}

impl Vfs for MemFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.lock();
        if s.crashed {
            return Err(crashed());
        }
        for a in dir.ancestors() {
            s.dirs.insert(a.to_path_buf());
        }
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let s = self.lock();
        if !s.dirs.contains(dir) {
            return Err(io::ErrorKind::NotFound.into());
        }
        Ok(s.names
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect())
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn DirLock>> {
        let mut s = self.lock();
        s.parent_exists(path)?;
        if !s.locks.insert(path.to_path_buf()) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(Box::new(MemLock {
            fs: self.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn lock_holder(&self, path: &Path) -> Option<u32> {
        // Every holder of an in-memory lock is this process.
        self.lock().locks.contains(path).then(std::process::id)
    }

    fn create_new(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        let mut s = self.lock();
        s.check(FaultOp::Create)?;
        s.parent_exists(path)?;
        if s.names.contains_key(path) {
            return Err(io::ErrorKind::AlreadyExists.into());
        }
        let id = s.next_id;
        s.next_id += 1;
        s.names.insert(path.to_path_buf(), id);
        s.files.insert(id, MemFile::default());
        Ok(Box::new(MemHandle {
            fs: self.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        let mut s = self.lock();
        if s.crashed {
            return Err(crashed());
        }
        s.file(path)?;
        Ok(Box::new(MemHandle {
            fs: self.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn read_sealed(&self, path: &Path) -> io::Result<FileBytes> {
        let mut s = self.lock();
        Ok(FileBytes::Owned(s.file(path)?.data.clone()))
    }

    fn read_prefix(&self, path: &Path, len: u64) -> io::Result<Vec<u8>> {
        let mut s = self.lock();
        let f = s.file(path)?;
        let n = usize::try_from(len).unwrap_or(usize::MAX).min(f.data.len());
        Ok(f.data.get(..n).unwrap_or_default().to_vec())
    }

    fn len(&self, path: &Path) -> io::Result<u64> {
        let mut s = self.lock();
        Ok(s.file(path)?.data.len() as u64)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.check(FaultOp::Rename)?;
        let id = s.names.remove(from).ok_or(io::ErrorKind::NotFound)?;
        s.names.insert(to.to_path_buf(), id);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut s = self.lock();
        if s.crashed {
            return Err(crashed());
        }
        s.names.remove(path).ok_or(io::ErrorKind::NotFound)?;
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.check(FaultOp::SyncDir)?;
        let in_dir = |p: &Path| p.parent() == Some(dir);
        s.durable_names.retain(|p, _| !in_dir(p));
        let now: Vec<(PathBuf, u64)> = s
            .names
            .iter()
            .filter(|(p, _)| in_dir(p))
            .map(|(p, i)| (p.clone(), *i))
            .collect();
        s.durable_names.extend(now);
        Ok(())
    }
}
