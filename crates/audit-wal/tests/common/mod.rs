//! Shared by the WAL tests: both file layers, a small workload, and what
//! "every acknowledged record is there" means.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use audit_canon::{Digest, Limits};
use audit_chain::{Emitter, Event, FsyncPolicy, Privacy};
use audit_wal::{MemFs, OsFs, Vfs, WalOptions, WalSink};

/// One file layer a scenario runs on, with the WAL directory to use.
pub struct Backend {
    pub name: &'static str,
    pub fs: Arc<dyn Vfs>,
    pub mem: Option<MemFs>,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl Backend {
    pub fn real() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        Self {
            name: "os",
            fs: Arc::new(OsFs),
            mem: None,
            dir: tmp.path().join("wal"),
            _tmp: Some(tmp),
        }
    }

    pub fn mem() -> Self {
        let mem = MemFs::new();
        Self {
            name: "mem",
            fs: Arc::new(mem.clone()),
            mem: Some(mem),
            dir: PathBuf::from("/wal"),
            _tmp: None,
        }
    }

    pub fn open(&self, opts: WalOptions) -> Result<(WalSink, audit_wal::Recovery), audit_wal::OpenError> {
        WalSink::open_on(self.fs.clone(), &self.dir, opts)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        match &self.mem {
            Some(m) => m.contents(&self.path(name)).expect("file"),
            None => std::fs::read(self.path(name)).expect("file"),
        }
    }

    pub fn write(&self, name: &str, bytes: Vec<u8>) {
        match &self.mem {
            Some(m) => m.overwrite(&self.path(name), bytes).expect("overwrite"),
            None => std::fs::write(self.path(name), bytes).expect("write"),
        }
    }

    pub fn remove(&self, name: &str) {
        self.fs.remove(&self.path(name)).expect("remove");
    }

    /// Every file of the directory and its bytes.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        let mut names = self.fs.list(&self.dir).expect("list");
        names.sort();
        names.into_iter().map(|n| (n.clone(), self.read(&n))).collect()
    }
}

/// Runs `scenario` on the real filesystem and on `MemFs`.
pub fn on_both(scenario: impl Fn(&Backend)) {
    for b in [Backend::real(), Backend::mem()] {
        scenario(&b);
    }
}

pub fn opts(fsync: FsyncPolicy, rotate_bytes: u64) -> WalOptions {
    WalOptions { rotate_bytes, fsync }
}

pub const WRITER: &str = "svc-test@1";
pub const STREAMS: [&str; 3] = ["ingress", "policy", "storage"];

pub fn emitter<S: audit_chain::AuditSink + audit_chain::AuditStream + 'static>(wal: &Arc<S>) -> Emitter {
    let n = std::sync::atomic::AtomicU64::new(0);
    Emitter::new(WRITER, wal.clone(), Limits::default())
        .expect("emitter")
        .with_privacy(Privacy::off())
        .with_clock(Arc::new(move || {
            1_700_000_000_000 + n.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        }))
}

/// The i-th event of the workload.
pub fn event(i: u64) -> Event {
    Event::new(STREAMS[(i % 3) as usize], "GetServed", "ok")
        .attr("i", i)
        .attr("pad", "x".repeat((i % 7 * 20) as usize))
}

/// What an acknowledged record is: its place and its hash.
pub type Acked = BTreeMap<(String, u64), Digest>;

/// Emits events `from..to`, recording every acknowledged one; stops at
/// the first error and returns it.
pub fn emit_range(e: &Emitter, from: u64, to: u64, acked: &mut Acked) -> Option<audit_chain::EmitError> {
    for i in from..to {
        match e.emit(event(i)) {
            Ok(r) => {
                acked.insert((r.stream, r.seq), r.self_hash);
            }
            Err(err) => return Some(err),
        }
    }
    None
}

/// Every acknowledged record is in the WAL, verifies, and links.
pub fn assert_all_there(wal: &WalSink, acked: &Acked, ctx: &str) {
    for s in STREAMS {
        let want: Vec<_> = acked.iter().filter(|((st, _), _)| st == s).collect();
        let Some(((_, last), _)) = want.last() else {
            continue;
        };
        let got = wal
            .read(WRITER, s, 1..=*last)
            .unwrap_or_else(|e| panic!("{ctx}: read {s}: {e}"));
        assert_eq!(got.len() as u64, *last, "{ctx}: stream {s} lost records");
        for ((_, seq), hash) in want {
            let r = &got[(*seq - 1) as usize];
            assert_eq!(r.self_hash(), hash, "{ctx}: stream {s} seq {seq} differs");
        }
    }
}

pub fn wal_path(dir: &Path) -> PathBuf {
    dir.to_path_buf()
}
