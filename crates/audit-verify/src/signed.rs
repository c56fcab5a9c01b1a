//! Signed checkpoints as stored, one per line of `checkpoints.jsonl`:
//! `{"body":{..canonical body..},"sigs":[{"alg","kid","sig"}..]}`, and the
//! check of their signatures against a [`TrustSet`].
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use audit_canon::{CheckpointBody, CheckpointError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::trust::TrustSet;

/// One signature beside a checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointSig {
    /// `ed25519` (others are kept and reported, never counted).
    pub alg: String,
    /// The signer's `kid`.
    pub kid: String,
    /// The raw signature bytes.
    pub sig: Vec<u8>,
}

/// A checkpoint body and its signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The body.
    pub body: CheckpointBody,
    /// Its signatures, in stored order.
    pub sigs: Vec<CheckpointSig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(borrow)]
    body: &'a serde_json::value::RawValue,
    sigs: Vec<SigJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SigJson {
    alg: String,
    kid: String,
    sig: String,
}

/// A line that is not a signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointLineError {
    /// Not the JSON shape `{"body":..,"sigs":[..]}`.
    #[error("not a signed checkpoint: {0}")]
    Shape(String),
    /// The body is not a canonical checkpoint body.
    #[error(transparent)]
    Body(CheckpointError),
    /// A signature entry is malformed.
    #[error("signature {index}: {reason}")]
    Sig {
        /// Its position in `sigs`.
        index: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The line is not byte-for-byte the canonical form of what it says.
    #[error("the line is not in canonical form")]
    NotCanonical,
    /// The unterminated last line holds a byte no checkpoint line holds,
    /// so it is not a torn append but damage.
    #[error(
        "the unterminated last line (at byte {line_offset}) holds byte {byte:#04x} at its byte {at}: damage, not a torn append"
    )]
    NotTorn {
        /// Where the unterminated line starts in the file.
        line_offset: usize,
        /// The byte's offset in the line.
        at: usize,
        /// The byte.
        byte: u8,
    },
}

/// The whole lines of a `checkpoints.jsonl` text: everything up to its
/// last `\n`, for writers, exporters and verifiers alike. The bytes after
/// it may be what a crash while appending leaves: a prefix of a checkpoint
/// line (canonical JSON: no byte below 0x20, no 0x7f), perhaps followed by
/// zeros; that tail is torn, and is cut by writers and ignored by readers.
/// Any other tail is damage (bitrot, a flipped newline) and is refused, so
/// that nobody cuts or ignores it.
pub fn whole_checkpoint_lines(text: &[u8]) -> Result<&[u8], CheckpointLineError> {
    let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let tail = text.get(whole..).unwrap_or_default();
    let end = tail.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    match tail
        .iter()
        .take(end)
        .enumerate()
        .find(|&(_, &b)| b < 0x20 || b == 0x7f)
    {
        Some((at, &byte)) => Err(CheckpointLineError::NotTorn {
            line_offset: whole,
            at,
            byte,
        }),
        None => Ok(text.get(..whole).unwrap_or_default()),
    }
}

impl SignedCheckpoint {
    /// Parses one stored line (without its newline). The body must be the
    /// canonical body bytes, and the whole line the canonical form
    /// [`SignedCheckpoint::to_line`] writes: one checkpoint has one
    /// representation.
    pub fn parse_line(line: &[u8]) -> Result<Self, CheckpointLineError> {
        let cp = Self::parse_with(line, CheckpointBody::from_canonical)?;
        if cp.to_line().as_bytes() != line {
            return Err(CheckpointLineError::NotCanonical);
        }
        Ok(cp)
    }

    /// Parses a signed checkpoint in any JSON form, as a proof file that
    /// went through a JSON tool holds it (see
    /// [`CheckpointBody::from_json`]). The signatures are checked over the
    /// body's canonical bytes, so what is read is what was signed.
    pub fn parse_json(json: &[u8]) -> Result<Self, CheckpointLineError> {
        Self::parse_with(json, CheckpointBody::from_json)
    }

    fn parse_with(
        json: &[u8],
        body: fn(&[u8]) -> Result<CheckpointBody, CheckpointError>,
    ) -> Result<Self, CheckpointLineError> {
        let parsed: Line<'_> =
            serde_json::from_slice(json).map_err(|e| CheckpointLineError::Shape(e.to_string()))?;
        let body = body(parsed.body.get().as_bytes()).map_err(CheckpointLineError::Body)?;
        let mut sigs = Vec::with_capacity(parsed.sigs.len().min(64));
        for (index, s) in parsed.sigs.into_iter().enumerate() {
            if s.kid.len() != 32
                || !s
                    .kid
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(CheckpointLineError::Sig {
                    index,
                    reason: "kid is not 32 lowercase hex characters",
                });
            }
            let sig = STANDARD
                .decode(s.sig.as_bytes())
                .map_err(|_| CheckpointLineError::Sig {
                    index,
                    reason: "sig is not standard padded base64",
                })?;
            if s.alg == "ed25519" && sig.len() != 64 {
                return Err(CheckpointLineError::Sig {
                    index,
                    reason: "an ed25519 signature has 64 bytes",
                });
            }
            sigs.push(CheckpointSig {
                alg: s.alg,
                kid: s.kid,
                sig,
            });
        }
        Ok(Self { body, sigs })
    }

    /// The stored line (without newline): the canonical body, then the
    /// signatures with keys in the order `alg`, `kid`, `sig`.
    pub fn to_line(&self) -> String {
        let body = String::from_utf8_lossy(&self.body.to_canonical()).into_owned();
        let sigs: Vec<String> = self
            .sigs
            .iter()
            .map(|s| {
                format!(
                    "{{\"alg\":{},\"kid\":\"{}\",\"sig\":\"{}\"}}",
                    serde_json::Value::from(s.alg.as_str()),
                    s.kid,
                    STANDARD.encode(&s.sig)
                )
            })
            .collect();
        format!("{{\"body\":{body},\"sigs\":[{}]}}", sigs.join(","))
    }

    /// Checks the signatures against `trust`: every signature by a trusted
    /// key must verify, and at least `trust.min_sigs()` distinct trusted
    /// keys must have signed. Returns the trusted `kid`s that signed.
    pub fn verify_sigs(&self, trust: &TrustSet) -> Result<Vec<String>, SigError> {
        let msg = self.body.signing_message();
        let mut good: Vec<String> = Vec::new();
        for s in &self.sigs {
            let Some(key) = trust.get(&s.kid) else { continue };
            if s.alg != "ed25519" {
                continue;
            }
            if !key.verify(&msg, &s.sig) {
                return Err(SigError::Bad { kid: s.kid.clone() });
            }
            if !good.contains(&s.kid) {
                good.push(s.kid.clone());
            }
        }
        if good.len() < trust.min_sigs() {
            return Err(SigError::Policy {
                got: good.len(),
                need: trust.min_sigs(),
                seen: self.sigs.iter().map(|s| s.kid.clone()).collect(),
            });
        }
        Ok(good)
    }
}

/// A checkpoint's signatures do not satisfy the trust policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigError {
    /// A trusted key's signature does not verify.
    #[error("signature by trusted key {kid} does not verify")]
    Bad {
        /// The key.
        kid: String,
    },
    /// Too few distinct trusted keys signed.
    #[error("{got} trusted signature(s), the policy needs {need} (signed by: {})", if seen.is_empty() { "nobody".to_owned() } else { seen.join(", ") })]
    Policy {
        /// Valid trusted signatures.
        got: usize,
        /// The policy's minimum.
        need: usize,
        /// Every `kid` that signed.
        seen: Vec<String>,
    },
}
