//! Metric names the WAL reports through the `metrics` facade.

/// Counter: torn tails cut at open.
pub(crate) const TORN_TAIL_TOTAL: &str = "audit_wal_torn_tail_total";

/// Histogram: seconds per `fdatasync` of a group.
pub(crate) const FSYNC_SECONDS: &str = "wal_fsync_seconds";

/// Histogram: records per written group.
pub(crate) const GROUP_RECORDS: &str = "audit_wal_group_records";
