//! Size bounds on records: [`Limits`].

/// Size bounds applied when a record is canonicalized, parsed or verified.
///
/// The defaults are the format's (FORMAT-v1.md section 1): 1 KiB of canonical
/// `attrs`, 4 KiB for the whole canonical record. A host may configure
/// stricter bounds; [`Limits::new`] refuses looser ones, so every record a
/// ron-audit writer accepts is accepted by every verifier on defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    max_attrs_bytes: usize,
    max_record_bytes: usize,
}

/// The format's ceiling for the canonical `attrs` value, in bytes.
pub const MAX_ATTRS_BYTES: usize = 1024;
/// The format's ceiling for a whole canonical record, in bytes.
pub const MAX_RECORD_BYTES: usize = 4096;
/// Nesting bound of `attrs` containers, counting `attrs` itself as 1.
pub const MAX_DEPTH: usize = 8;
/// The largest input text [`crate::parse_record`] reads. Non-canonical input
/// may carry whitespace and escapes, so this is looser than the record bound,
/// but it is a bound: nothing larger is even scanned.
pub const MAX_INPUT_BYTES: usize = 64 * 1024;

impl Limits {
    /// Stricter-than-default limits. Fails when either bound is zero or
    /// exceeds the format's ceiling.
    pub fn new(max_attrs_bytes: usize, max_record_bytes: usize) -> Result<Self, LimitsError> {
        if !(2..=MAX_ATTRS_BYTES).contains(&max_attrs_bytes) {
            return Err(LimitsError::Attrs {
                value: max_attrs_bytes,
            });
        }
        if !(1..=MAX_RECORD_BYTES).contains(&max_record_bytes) {
            return Err(LimitsError::Record {
                value: max_record_bytes,
            });
        }
        Ok(Self {
            max_attrs_bytes,
            max_record_bytes,
        })
    }

    /// Bound on the canonical `attrs` value, in bytes.
    pub fn max_attrs_bytes(&self) -> usize {
        self.max_attrs_bytes
    }

    /// Bound on the whole canonical record, in bytes.
    pub fn max_record_bytes(&self) -> usize {
        self.max_record_bytes
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_attrs_bytes: MAX_ATTRS_BYTES,
            max_record_bytes: MAX_RECORD_BYTES,
        }
    }
}

/// A requested limit is outside what the format allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitsError {
    /// `max_attrs_bytes` is not in `2..=1024`.
    #[error("max_attrs_bytes {value} is outside 2..=1024")]
    Attrs {
        /// The requested value.
        value: usize,
    },
    /// `max_record_bytes` is not in `1..=4096`.
    #[error("max_record_bytes {value} is outside 1..=4096")]
    Record {
        /// The requested value.
        value: usize,
    },
}
