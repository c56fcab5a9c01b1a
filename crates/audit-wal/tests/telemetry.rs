//! The WAL reports a torn-tail cut, fsync latency and group sizes through
//! the `metrics` facade.

mod common;

use std::sync::Arc;

use audit_chain::FsyncPolicy;
use common::*;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

#[test]
fn torn_tail_cuts_fsyncs_and_groups_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snap = recorder.snapshotter();
    recorder.install().expect("first recorder of this process");

    let b = Backend::mem();
    let (wal, _) = b.open(opts(FsyncPolicy::Always, 1 << 20)).expect("open");
    let wal = Arc::new(wal);
    assert!(emit_range(&emitter(&wal), 0, 5, &mut Acked::new()).is_none());
    drop(wal);
    let name = audit_verify::segment_file_name(1);
    let mut seg = b.read(&name);
    seg.truncate(seg.len() - 10);
    b.write(&name, seg);
    let (_, report) = b.open(opts(FsyncPolicy::Always, 1 << 20)).expect("reopen");
    assert!(report.torn.is_some());

    let mut torn = None;
    let (mut fsyncs, mut groups) = (0, 0);
    for (key, _, _, value) in snap.snapshot().into_vec() {
        match (key.key().name(), value) {
            ("audit_wal_torn_tail_total", DebugValue::Counter(n)) => torn = Some(n),
            ("wal_fsync_seconds", DebugValue::Histogram(v)) => fsyncs += v.len(),
            ("audit_wal_group_records", DebugValue::Histogram(v)) => groups += v.len(),
            _ => {}
        }
    }
    assert_eq!(torn, Some(1));
    assert!(fsyncs >= 5, "{fsyncs} fsyncs recorded");
    assert_eq!(groups, 5, "one group per lone append");
}
