//! Metric names and label values (the seed's OBSERVABILITY chapter), and
//! the `tracing` events of the emit path. Everything goes through the
//! `metrics` and `tracing` facades: the host installs the recorder and the
//! subscriber; this crate keeps no registry of its own.

use metrics::{Counter, Gauge, counter, gauge};

/// Records appended, `{service, kind, stream}`.
pub const APPENDED_TOTAL: &str = "audit_appended_total";
/// Canonical bytes appended, `{service}`.
pub const BYTES_TOTAL: &str = "audit_bytes_total";
/// Events not recorded, `{service, reason}`; reasons below.
pub const DROP_TOTAL: &str = "audit_drop_total";
/// Events waiting in a worker's queue, `{service, worker}` (a gauge).
pub const QUEUE_DEPTH: &str = "audit_queue_depth";
/// Events refused at a full queue, `{service, endpoint="emit"}`.
pub const BUSY_REJECTIONS_TOTAL: &str = "busy_rejections_total";
/// Idempotent re-appends of the head, `{service}`.
pub const DEDUPE_HITS_TOTAL: &str = "audit_dedupe_hits_total";
/// Values replaced by the privacy scrubber, `{service}`.
pub const PII_REDACTED_TOTAL: &str = "audit_pii_redacted_total";
/// Events refused by the privacy scrubber, `{service}`.
pub const PII_BLOCKED_TOTAL: &str = "audit_pii_blocked_total";

/// `audit_drop_total` reasons.
pub mod reason {
    /// Shed at a full queue.
    pub const AUDIT_BACKPRESSURE: &str = "audit_backpressure";
    /// The sink refused for lack of room.
    pub const IO_BACKPRESSURE: &str = "io_backpressure";
    /// Over the record or attrs size bound.
    pub const BOUNDS_EXCEEDED: &str = "bounds_exceeded";
    /// A field broke its rule.
    pub const SCHEMA: &str = "schema";
    /// Still queued at the shutdown deadline.
    pub const SHUTDOWN: &str = "shutdown";
    /// The sink or queue was closed.
    pub const CLOSED: &str = "closed";
    /// Any other sink failure.
    pub const SINK_ERROR: &str = "sink_error";
    /// Refused by the privacy policy.
    pub const PII_BLOCKED: &str = "pii_blocked";
}

/// The `service` label of a writer: its `writer_id` up to the first `@`
/// (`svc-gateway@inst-1` is service `svc-gateway`), so instances of one
/// service aggregate.
pub(crate) fn service_of(writer_id: &str) -> String {
    writer_id.split('@').next().unwrap_or(writer_id).to_owned()
}

pub(crate) fn appended(service: &str, kind: &str, stream: &str) -> Counter {
    counter!(APPENDED_TOTAL, "service" => service.to_owned(), "kind" => kind.to_owned(), "stream" => stream.to_owned())
}

pub(crate) fn bytes(service: &str) -> Counter {
    counter!(BYTES_TOTAL, "service" => service.to_owned())
}

pub(crate) fn dropped(service: &str, reason: &'static str) -> Counter {
    counter!(DROP_TOTAL, "service" => service.to_owned(), "reason" => reason)
}

pub(crate) fn busy(service: &str) -> Counter {
    counter!(BUSY_REJECTIONS_TOTAL, "service" => service.to_owned(), "endpoint" => "emit")
}

pub(crate) fn pii_redacted(service: &str) -> Counter {
    counter!(PII_REDACTED_TOTAL, "service" => service.to_owned())
}

pub(crate) fn pii_blocked(service: &str) -> Counter {
    counter!(PII_BLOCKED_TOTAL, "service" => service.to_owned())
}

pub(crate) fn dedupe_hits(service: &str) -> Counter {
    counter!(DEDUPE_HITS_TOTAL, "service" => service.to_owned())
}

pub(crate) fn queue_depth(service: &str, worker: usize) -> Gauge {
    gauge!(QUEUE_DEPTH, "service" => service.to_owned(), "worker" => worker.to_string())
}
