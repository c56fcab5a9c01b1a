//! The bundle fixture: `vectors/bundle/v1/`, a bundle of stream `ingress`
//! from its second checkpoint on (so it carries a frontier), signed with
//! the committed TEST key `vectors/bundle/test-key.pem` (made by `openssl
//! genpkey -algorithm ed25519`; never use it for anything else). Its public
//! key `test-key.pub.pem` was made by `openssl pkey -pubout`.
//! `scripts/interop/check_vectors.py` verifies the bundle with that key.
//! Every input is fixed (clock, events, timestamps) and Ed25519 is
//! deterministic, so the bytes regenerate exactly.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use audit_canon::Limits;
use audit_chain::{AuditSink, Emitter, Event, FsyncPolicy, Privacy};
use audit_export::{BundleRequest, Cadence, Checkpointer, Ed25519Signer, Signer, export_bundle};
use audit_wal::{WalOptions, WalSink};

use crate::wal::Files;

/// The bundle's files, by name.
pub(crate) fn bundle(root: &Path) -> Result<Files, String> {
    let key =
        Arc::new(Ed25519Signer::load(root.join("vectors/bundle/test-key.pem")).map_err(|e| e.to_string())?);
    let tmp = std::env::temp_dir().join(format!("ron-audit-xtask-bundle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let out = (|| -> Result<Files, String> {
        let opts = WalOptions {
            rotate_bytes: 1 << 20,
            fsync: FsyncPolicy::Never,
        };
        let wal = Arc::new(WalSink::open(tmp.join("wal"), opts).map_err(|e| e.to_string())?.0);
        let signer: Arc<dyn Signer> = key.clone();
        let (cp, _) =
            Checkpointer::open(wal.clone(), vec![signer], Cadence::default()).map_err(|e| e.to_string())?;
        let tick = AtomicU64::new(0);
        let e = Emitter::new("svc-gateway@inst-1", wal.clone(), Limits::default())
            .map_err(|e| e.to_string())?
            .with_privacy(Privacy::off())
            .with_clock(Arc::new(move || {
                1_730_246_400_000 + tick.fetch_add(1, Ordering::Relaxed)
            }));
        for (round, n) in [5u64, 6, 9].into_iter().enumerate() {
            for i in 0..n {
                let ev = Event::new(["ingress", "policy"][(i % 2) as usize], "GetServed", "ok")
                    .attr("i", i)
                    .attr("status", 200 + round as u64);
                e.emit(ev).map_err(|e| e.to_string())?;
            }
            cp.checkpoint_all(1_730_246_500_000 + round as u64)
                .map_err(|e| e.to_string())?;
        }
        wal.flush().map_err(|e| e.to_string())?;
        let req = BundleRequest {
            writer_id: "svc-gateway@inst-1".into(),
            stream: "ingress".into(),
            from: Some(4),
            to: None,
        };
        let dir = tmp.join("bundle");
        export_bundle(&wal, &req, &dir, 1_730_246_600_000).map_err(|e| e.to_string())?;
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|n| {
                std::fs::read(dir.join(&n))
                    .map(|b| (n, b))
                    .map_err(|e| e.to_string())
            })
            .collect()
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    out
}
