//! The serialization floor the benchmarks judge the canonical writer by:
//! the same record as a plain `#[derive(Serialize)]` struct.

use std::collections::BTreeMap;

use audit_canon::{AttrValue, AuditRecord};

/// A record as a plain `#[derive(Serialize)]` struct: what a team would
/// write without a canonical layer, and so the floor our writer is judged by.
#[derive(Debug, serde::Serialize)]
pub struct Floor {
    v: u64,
    ts_ms: u64,
    writer_id: String,
    seq: u64,
    stream: String,
    kind: String,
    actor: audit_canon::ActorRef,
    subject: audit_canon::SubjectRef,
    reason: String,
    attrs: BTreeMap<String, AttrValue>,
    prev: String,
}

/// The floor twin of a record.
pub fn floor_of(r: &AuditRecord) -> Floor {
    Floor {
        v: r.v(),
        ts_ms: r.ts_ms(),
        writer_id: r.writer_id().to_owned(),
        seq: r.seq(),
        stream: r.stream().to_owned(),
        kind: r.kind().to_owned(),
        actor: r.actor().clone(),
        subject: r.subject().clone(),
        reason: r.reason().to_owned(),
        attrs: r.attrs().clone(),
        prev: r.prev().to_string(),
    }
}
