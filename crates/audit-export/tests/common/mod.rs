//! Shared by the export tests: a WAL of 60 records over 3 streams in ~4
//! segments with two rounds of signed checkpoints, and what "fails with
//! this class and code" means.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::sync::Arc;

use audit_canon::Limits;
use audit_chain::{Emitter, Event, FsyncPolicy, Privacy};
use audit_export::{Cadence, Checkpointer, Ed25519Signer, Signer};
use audit_verify::{FailureClass, Report};
use audit_wal::{WalOptions, WalSink};

/// Writes the WAL under `dir` and returns it (still open) with its key.
pub fn checkpointed_wal(dir: &Path) -> (Arc<WalSink>, Arc<Ed25519Signer>) {
    let key = Arc::new(Ed25519Signer::generate().expect("key"));
    let opts = WalOptions {
        rotate_bytes: 2048,
        fsync: FsyncPolicy::Always,
    };
    let wal = Arc::new(WalSink::open(dir, opts).expect("open").0);
    let signer: Arc<dyn Signer> = key.clone();
    let (cp, _) = Checkpointer::open(wal.clone(), vec![signer], Cadence::default()).expect("cp");
    let e = Emitter::new("svc@1", wal.clone(), Limits::default())
        .expect("emitter")
        .with_privacy(Privacy::off());
    for round in 0..2u64 {
        for i in 0..30u64 {
            e.emit(
                Event::new(["a", "b", "c"][(i % 3) as usize], "GetServed", "ok").attr("i", round * 100 + i),
            )
            .expect("emit");
        }
        cp.checkpoint_all(1000 + round).expect("checkpoint");
    }
    (wal, key)
}

/// `r` failed with `class` and `code`, and its exit code is the class's.
#[track_caller]
pub fn fails(r: &Report, class: FailureClass, code: &str) {
    let f = r
        .failure
        .as_ref()
        .unwrap_or_else(|| panic!("verified, expected {class:?} {code}"));
    assert_eq!((f.class, f.code), (class, code), "{f}");
    assert_eq!(r.exit_code(), class.exit_code());
}
