//! [`Signer`]: what signs checkpoints (an Ed25519 key file here; a KMS or
//! HSM in a host), and [`Ed25519Signer`], which reads and writes PKCS#8 PEM.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::fmt;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use audit_verify::PublicKey;
use ed25519_dalek::Signer as _;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePublicKey};
use zeroize::Zeroizing;

/// Signs checkpoint messages. Object-safe, so hosts plug in a KMS or HSM.
pub trait Signer: Send + Sync {
    /// The key's `kid` (FORMAT-v1.md section 5).
    fn kid(&self) -> &str;
    /// The signature algorithm's name as stored (`ed25519`).
    fn alg(&self) -> &str;
    /// Signs `msg` (the full signed message, context prefix included).
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// A signer failed (a remote signer's outage, say).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signer {kid} failed: {reason}")]
pub struct SignError {
    /// The signer's `kid`.
    pub kid: String,
    /// Why.
    pub reason: String,
}

/// An Ed25519 secret key held in memory. The key bytes are zeroized on drop
/// and never printed: `Debug` shows the `kid` only.
pub struct Ed25519Signer {
    key: SigningKey,
    public: PublicKey,
}

impl fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519Signer")
            .field("kid", &self.public.kid())
            .finish_non_exhaustive()
    }
}

/// A key file that cannot be read, parsed or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file could not be read or written.
    #[error("key file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file exists and would be overwritten.
    #[error("key file {} exists; refusing to overwrite it", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Not an Ed25519 PKCS#8 PEM secret key.
    #[error("key file {}: not an Ed25519 PKCS#8 PEM secret key ({reason})", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// The decoder's reason (never the key material).
        reason: String,
    },
    /// A public key (SPKI `PUBLIC KEY` PEM) where the secret key belongs.
    #[error("key file {} holds a public key (PEM PUBLIC KEY); signing needs the secret key", path.display())]
    PublicKey {
        /// The file.
        path: PathBuf,
    },
    /// The system's random source failed.
    #[error("no randomness for a new key: {0}")]
    Random(std::io::Error),
}

impl Ed25519Signer {
    /// A new random key (from the operating system's CSPRNG).
    pub fn generate() -> Result<Self, KeyFileError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut *seed))
            .map_err(KeyFileError::Random)?;
        Ok(Self::from_key(SigningKey::from_bytes(&seed)))
    }

    fn from_key(key: SigningKey) -> Self {
        let public = match PublicKey::from_raw(key.verifying_key().as_bytes()) {
            Ok(p) => p,
            // A signing key's own public key is always a valid point.
            Err(e) => unreachable!("ed25519 public key of a signing key: {e}"),
        };
        Self { key, public }
    }

    /// Parses a PKCS#8 PEM secret key (`openssl genpkey -algorithm ed25519`
    /// writes one). `path` only names the source in errors.
    pub fn from_pkcs8_pem(pem: &str, path: &Path) -> Result<Self, KeyFileError> {
        if pem.trim_start().starts_with("-----BEGIN PUBLIC KEY-----") {
            return Err(KeyFileError::PublicKey {
                path: path.to_path_buf(),
            });
        }
        let key = SigningKey::from_pkcs8_pem(pem).map_err(|e| KeyFileError::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Ok(Self::from_key(key))
    }

    /// Reads a PKCS#8 PEM secret key file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, KeyFileError> {
        let path = path.as_ref();
        let mut text = Zeroizing::new(String::new());
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .map_err(|source| KeyFileError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Self::from_pkcs8_pem(&text, path)
    }

    /// Writes the secret key as PKCS#8 PEM to a new file with mode 0600;
    /// refuses to overwrite an existing file.
    pub fn save_new(&self, path: impl AsRef<Path>) -> Result<(), KeyFileError> {
        let path = path.as_ref();
        let io = |source| KeyFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let pem = self.pkcs8_v1_pem();
        let mut f = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(KeyFileError::Exists {
                    path: path.to_path_buf(),
                });
            }
            Err(e) => return Err(io(e)),
        };
        f.write_all(pem.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(io)
    }

    /// PKCS#8 v1 (RFC 5208, no public key inside) as PEM: byte for byte
    /// the layout `openssl genpkey -algorithm ed25519` writes, which every
    /// OpenSSL 3 reads (it refuses the v2 form with an embedded public key).
    fn pkcs8_v1_pem(&self) -> Zeroizing<String> {
        use base64::Engine as _;
        // SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING seed } }
        let mut der = Zeroizing::new(Vec::with_capacity(48));
        der.extend_from_slice(&[
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
        ]);
        der.extend_from_slice(self.key.as_bytes());
        let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*der));
        Zeroizing::new(format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            *b64
        ))
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The public key as SPKI PEM (what `openssl pkey -pubout` writes).
    pub fn public_key_pem(&self) -> String {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }
}

impl Signer for Ed25519Signer {
    fn kid(&self) -> &str {
        self.public.kid()
    }

    fn alg(&self) -> &str {
        "ed25519"
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignError> {
        Ok(self.key.sign(msg).to_bytes().to_vec())
    }
}
