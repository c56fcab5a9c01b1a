//! Public keys, `kid`s and the trust policy a verifier is given out of band
//! (FORMAT-v1.md section 5): keys are never taken from the data verified.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use audit_canon::Digest;
use ed25519_dalek::pkcs8::DecodePublicKey;
use ed25519_dalek::{Signature, VerifyingKey};

/// `kid` of a raw Ed25519 public key: the first 16 bytes of its BLAKE3
/// digest, as 32 lowercase hex characters.
pub fn kid_of(raw: &[u8; 32]) -> String {
    let mut hex = Digest::of(raw).to_hex();
    hex.truncate(32);
    hex
}

/// An Ed25519 public key and its `kid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    kid: String,
}

impl PublicKey {
    /// From the raw 32 bytes.
    pub fn from_raw(raw: &[u8; 32]) -> Result<Self, KeyError> {
        let key = VerifyingKey::from_bytes(raw).map_err(|_| KeyError::NotAPoint)?;
        Ok(Self {
            kid: kid_of(raw),
            key,
        })
    }

    /// From text: an SPKI PEM block (what `openssl pkey -pubout` writes) or
    /// 64 hex characters, surrounding whitespace ignored.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let t = text.trim();
        if t.starts_with("-----BEGIN PRIVATE KEY-----")
            || t.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        {
            return Err(KeyError::SecretKey);
        }
        if t.starts_with("-----BEGIN") {
            let key = VerifyingKey::from_public_key_pem(t).map_err(|e| KeyError::Pem(e.to_string()))?;
            return Self::from_raw(key.as_bytes());
        }
        if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(KeyError::Format);
        }
        let mut raw = [0u8; 32];
        for (i, b) in raw.iter_mut().enumerate() {
            *b = t
                .get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(KeyError::Format)?;
        }
        Self::from_raw(&raw)
    }

    /// The `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The raw key as 64 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        self.key.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// Whether `sig` is this key's signature of `msg` (RFC 8032, strict:
    /// non-canonical encodings and small-order keys are refused).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(sig) else {
            return false;
        };
        self.key.verify_strict(msg, &sig).is_ok()
    }
}

/// A public key that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Neither SPKI PEM nor 64 hex characters.
    #[error("a public key is an SPKI PEM block or 64 hex characters")]
    Format,
    /// A PEM block that is not an Ed25519 SPKI public key.
    #[error("not an Ed25519 SPKI public key: {0}")]
    Pem(String),
    /// A secret key (PKCS#8 `PRIVATE KEY` PEM) where a public key belongs:
    /// refused, and never read.
    #[error(
        "this is a secret key (PEM PRIVATE KEY); a verifier takes only the public key, which `auditctl pubkey` prints"
    )]
    SecretKey,
    /// 32 bytes that are not a curve point.
    #[error("the 32 bytes are not an Ed25519 public key")]
    NotAPoint,
}

/// The keys a verifier trusts and how many distinct ones must sign each
/// checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustSet {
    keys: BTreeMap<String, PublicKey>,
    min_sigs: usize,
}

impl Default for TrustSet {
    fn default() -> Self {
        Self {
            keys: BTreeMap::new(),
            min_sigs: 1,
        }
    }
}

impl TrustSet {
    /// No keys; policy: at least one signature.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a trusted key.
    pub fn with_key(mut self, key: PublicKey) -> Self {
        self.keys.insert(key.kid().to_owned(), key);
        self
    }

    /// At least `n` distinct trusted keys must sign (`n >= 1`; 0 is read
    /// as 1).
    pub fn with_min_sigs(mut self, n: usize) -> Self {
        self.min_sigs = n.max(1);
        self
    }

    /// Whether any key is trusted (without keys, signatures go unchecked).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The trusted key with this `kid`.
    pub fn get(&self, kid: &str) -> Option<&PublicKey> {
        self.keys.get(kid)
    }

    /// The policy's minimum.
    pub fn min_sigs(&self) -> usize {
        self.min_sigs
    }
}
