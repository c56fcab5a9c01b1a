//! [`AuditConfig`]: the seed's CONFIG chapter. Layers, lowest first:
//! defaults, a TOML file, `RON_AUDIT_*` environment, `--audit-*` flags.
//! Every layer is applied through one typed setter, and [`AuditConfig::validate`]
//! checks each rule with its own error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where records go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    /// RAM only (amnesia).
    Ram,
    /// The durable WAL.
    Wal,
    /// Exports only.
    Export,
    /// WAL and exports.
    WalExport,
}

impl SinkKind {
    fn has_wal(self) -> bool {
        matches!(self, Self::Wal | Self::WalExport)
    }
    fn has_export(self) -> bool {
        matches!(self, Self::Export | Self::WalExport)
    }
}

/// Full-queue behaviour (`block` is for tests only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShedPolicy {
    /// Shed with `Busy`.
    Drop,
    /// Wait for room (tests only; refused in the `prod` profile).
    Block,
}

/// WAL fsync policy (`never` is for tests only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Every append waits for `fdatasync` (group commit).
    Always,
    /// Synced when a checkpoint is written.
    OnCheckpoint,
    /// Never synced (tests only; refused in the `prod` profile).
    Never,
}

/// The IP mode by name (the salt itself is read by [`AuditConfig::privacy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpModeName {
    /// Drop addresses.
    Drop,
    /// Keep /24 or /64.
    Prefix,
    /// Salted hash.
    Hash,
}

/// Deployment profile: `prod` refuses test-only settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Development and tests.
    Dev,
    /// Production.
    Prod,
}

/// The audit configuration of a host (fields as in the seed's schema).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// `sink`.
    pub sink: SinkKind,
    /// `queue_depth`: per worker.
    pub queue_depth: u32,
    /// `workers`: 1..=8.
    pub workers: u16,
    /// `max_attrs_bytes`.
    pub max_attrs_bytes: u64,
    /// `max_record_bytes`.
    pub max_record_bytes: u64,
    /// `shed_policy`.
    pub shed_policy: ShedPolicy,
    /// `amnesia`: no disk writes.
    pub amnesia: bool,
    /// `profile`.
    pub profile: Profile,
    /// `privacy.ip_mode`.
    pub ip_mode: IpModeName,
    /// `privacy.hash_salt_path`.
    pub hash_salt_path: Option<PathBuf>,
    /// `privacy.pii_action`: replace personal data and secrets other than
    /// IPs with a marker (`redact`, the default) or refuse the event
    /// (`reject`). IPs follow `ip_mode` either way.
    pub pii_action: crate::PiiAction,
    /// `wal.dir`.
    pub wal_dir: Option<PathBuf>,
    /// `wal.rotate_bytes`.
    pub wal_rotate_bytes: u64,
    /// `wal.fsync`.
    pub wal_fsync: FsyncPolicy,
    /// `export.dir`.
    pub export_dir: Option<PathBuf>,
    /// `export.checkpoint_every`: records.
    pub checkpoint_every: u64,
    /// `export.export_every`.
    pub export_every: Duration,
    /// `export.signer_key_id`.
    pub signer_key_id: String,
    /// `export.alg`.
    pub alg: String,
    /// `streams.<name>.queue_depth`.
    pub stream_queue_depth: BTreeMap<String, u32>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            sink: SinkKind::Ram,
            queue_depth: 1024,
            workers: 1,
            max_attrs_bytes: 1024,
            max_record_bytes: 4096,
            shed_policy: ShedPolicy::Drop,
            amnesia: true,
            profile: Profile::Dev,
            ip_mode: IpModeName::Drop,
            hash_salt_path: None,
            pii_action: crate::PiiAction::Redact,
            wal_dir: None,
            wal_rotate_bytes: 128 << 20,
            wal_fsync: FsyncPolicy::OnCheckpoint,
            export_dir: None,
            checkpoint_every: 50_000,
            export_every: Duration::from_secs(15 * 60),
            signer_key_id: String::new(),
            alg: "ed25519".into(),
            stream_queue_depth: BTreeMap::new(),
        }
    }
}

/// Every key: its dotted name, environment variable and flag.
const KEYS: &[(&str, &str, &str)] = &[
    ("sink", "RON_AUDIT_SINK", "--audit-sink"),
    ("queue_depth", "RON_AUDIT_QUEUE_DEPTH", "--audit-queue-depth"),
    ("workers", "RON_AUDIT_WORKERS", "--audit-workers"),
    (
        "max_attrs_bytes",
        "RON_AUDIT_MAX_ATTRS_BYTES",
        "--audit-max-attrs",
    ),
    (
        "max_record_bytes",
        "RON_AUDIT_MAX_RECORD_BYTES",
        "--audit-max-record",
    ),
    ("shed_policy", "RON_AUDIT_SHED_POLICY", "--audit-shed"),
    ("amnesia", "RON_AUDIT_AMNESIA", "--audit-amnesia"),
    ("profile", "RON_AUDIT_PROFILE", "--audit-profile"),
    (
        "privacy.ip_mode",
        "RON_AUDIT_PRIVACY_IP_MODE",
        "--audit-privacy-ip",
    ),
    (
        "privacy.hash_salt_path",
        "RON_AUDIT_PRIVACY_HASH_SALT_PATH",
        "--audit-privacy-hash-salt",
    ),
    (
        "privacy.pii_action",
        "RON_AUDIT_PRIVACY_PII_ACTION",
        "--audit-privacy-pii",
    ),
    ("wal.dir", "RON_AUDIT_WAL_DIR", "--audit-wal-dir"),
    (
        "wal.rotate_bytes",
        "RON_AUDIT_WAL_ROTATE_BYTES",
        "--audit-wal-rotate",
    ),
    ("wal.fsync", "RON_AUDIT_WAL_FSYNC", "--audit-wal-fsync"),
    ("export.dir", "RON_AUDIT_EXPORT_DIR", "--audit-export-dir"),
    (
        "export.checkpoint_every",
        "RON_AUDIT_CHECKPOINT_EVERY",
        "--audit-checkpoint-every",
    ),
    (
        "export.export_every",
        "RON_AUDIT_EXPORT_EVERY",
        "--audit-export-every",
    ),
    (
        "export.signer_key_id",
        "RON_AUDIT_CHECKPOINT_SIGNER_KEY_ID",
        "--audit-checkpoint-signer",
    ),
    ("export.alg", "RON_AUDIT_CHECKPOINT_ALG", "--audit-checkpoint-alg"),
];

impl AuditConfig {
    /// Layers, lowest precedence first: defaults, the TOML `file` (if any),
    /// `env` (`RON_AUDIT_*` pairs; pass `std::env::vars()`), then `flags`
    /// (`--audit-*` names with their values; a bare `--audit-amnesia` is
    /// `true`). Unknown `RON_AUDIT_*` variables and flags are errors, not
    /// silently ignored. The result is validated.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &[(&str, &str)],
    ) -> Result<Self, ConfigError> {
        let mut cfg = Self::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
                path: path.to_owned(),
                error: e.to_string(),
            })?;
            cfg.apply_toml(&text, &path.display().to_string())?;
        }
        for (name, value) in env {
            if !name.starts_with("RON_AUDIT_") {
                continue;
            }
            let key = KEYS
                .iter()
                .find(|(_, e, _)| *e == name)
                .map(|(k, _, _)| *k)
                .ok_or_else(|| ConfigError::UnknownKey {
                    key: name.clone(),
                    source_name: "environment".into(),
                })?;
            cfg.set(key, &value, &format!("environment {name}"))?;
        }
        for (flag, value) in flags {
            let key = KEYS
                .iter()
                .find(|(_, _, f)| f == flag)
                .map(|(k, _, _)| *k)
                .ok_or_else(|| ConfigError::UnknownKey {
                    key: (*flag).to_owned(),
                    source_name: "flags".into(),
                })?;
            cfg.set(key, value, &format!("flag {flag}"))?;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Applies a TOML document (the `audit.toml` of the seed).
    pub fn apply_toml(&mut self, text: &str, origin: &str) -> Result<(), ConfigError> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Toml {
            origin: origin.to_owned(),
            error: e.message().to_owned(),
        })?;
        let mut flat = Vec::new();
        flatten("", &table, &mut flat);
        for (key, value) in flat {
            if let Some(rest) = key.strip_prefix("streams.") {
                let Some(name) = rest.strip_suffix(".queue_depth") else {
                    return Err(ConfigError::UnknownKey {
                        key,
                        source_name: origin.to_owned(),
                    });
                };
                let depth = parse_num(&key, &value, origin)?;
                let depth = u32::try_from(depth).map_err(|_| invalid(&key, &value, origin, "a u32"))?;
                self.stream_queue_depth
                    .insert(name.trim_matches('"').to_owned(), depth);
                continue;
            }
            if !KEYS.iter().any(|(k, _, _)| *k == key) {
                return Err(ConfigError::UnknownKey {
                    key,
                    source_name: origin.to_owned(),
                });
            }
            self.set(&key, &value, origin)?;
        }
        Ok(())
    }

    /// Sets one key from its text form.
    fn set(&mut self, key: &str, v: &str, origin: &str) -> Result<(), ConfigError> {
        let bad = |want: &'static str| invalid(key, v, origin, want);
        match key {
            "sink" => {
                self.sink = match v {
                    "ram" => SinkKind::Ram,
                    "wal" => SinkKind::Wal,
                    "export" => SinkKind::Export,
                    "wal+export" => SinkKind::WalExport,
                    _ => return Err(bad("ram, wal, export or wal+export")),
                }
            }
            "queue_depth" => {
                self.queue_depth = u32::try_from(parse_num(key, v, origin)?).map_err(|_| bad("a u32"))?
            }
            "workers" => {
                self.workers = u16::try_from(parse_num(key, v, origin)?).map_err(|_| bad("a u16"))?
            }
            "max_attrs_bytes" => {
                self.max_attrs_bytes = parse_size(v).ok_or_else(|| bad("a size like 1KiB"))?
            }
            "max_record_bytes" => {
                self.max_record_bytes = parse_size(v).ok_or_else(|| bad("a size like 4KiB"))?
            }
            "shed_policy" => {
                self.shed_policy = match v {
                    "drop" => ShedPolicy::Drop,
                    "block" => ShedPolicy::Block,
                    _ => return Err(bad("drop or block")),
                }
            }
            "amnesia" => {
                self.amnesia = match v {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(bad("true or false")),
                }
            }
            "profile" => {
                self.profile = match v {
                    "dev" => Profile::Dev,
                    "prod" => Profile::Prod,
                    _ => return Err(bad("dev or prod")),
                }
            }
            "privacy.ip_mode" => {
                self.ip_mode = match v {
                    "drop" => IpModeName::Drop,
                    "prefix" => IpModeName::Prefix,
                    "hash" => IpModeName::Hash,
                    _ => return Err(bad("drop, prefix or hash")),
                }
            }
            "privacy.hash_salt_path" => self.hash_salt_path = non_empty_path(v),
            "privacy.pii_action" => {
                self.pii_action = match v {
                    "redact" => crate::PiiAction::Redact,
                    "reject" => crate::PiiAction::Reject,
                    _ => return Err(bad("redact or reject")),
                }
            }
            "wal.dir" => self.wal_dir = non_empty_path(v),
            "wal.rotate_bytes" => {
                self.wal_rotate_bytes = parse_size(v).ok_or_else(|| bad("a size like 128MiB"))?
            }
            "wal.fsync" => {
                self.wal_fsync = match v {
                    "always" => FsyncPolicy::Always,
                    "on_checkpoint" => FsyncPolicy::OnCheckpoint,
                    "never" => FsyncPolicy::Never,
                    _ => return Err(bad("always, on_checkpoint or never")),
                }
            }
            "export.dir" => self.export_dir = non_empty_path(v),
            "export.checkpoint_every" => self.checkpoint_every = parse_num(key, v, origin)?,
            "export.export_every" => {
                self.export_every = parse_duration(v).ok_or_else(|| bad("a duration like 15m"))?
            }
            "export.signer_key_id" => v.clone_into(&mut self.signer_key_id),
            "export.alg" => v.clone_into(&mut self.alg),
            _ => {
                return Err(ConfigError::UnknownKey {
                    key: key.to_owned(),
                    source_name: origin.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Checks every rule of the seed's CONFIG chapter (section 4); the first
    /// broken rule is reported. Paths are checked on the filesystem.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use ConfigError as E;
        if self.amnesia && self.sink.has_wal() {
            return Err(E::AmnesiaForbidsWal);
        }
        if self.max_attrs_bytes < 256 || self.max_attrs_bytes > 1024 {
            return Err(E::AttrsBound {
                value: self.max_attrs_bytes,
            });
        }
        if self.max_record_bytes < self.max_attrs_bytes + 512 || self.max_record_bytes > 4096 {
            return Err(E::RecordBound {
                value: self.max_record_bytes,
                attrs: self.max_attrs_bytes,
            });
        }
        if self.queue_depth == 0 || self.stream_queue_depth.values().any(|&d| d == 0) {
            return Err(E::QueueDepthZero);
        }
        if !(1..=8).contains(&self.workers) {
            return Err(E::Workers { value: self.workers });
        }
        if self.profile == Profile::Prod && self.shed_policy == ShedPolicy::Block {
            return Err(E::BlockInProd);
        }
        if self.ip_mode == IpModeName::Hash {
            let path = self.hash_salt_path.as_ref().ok_or(E::SaltPathMissing)?;
            check_secret_file(path)?;
        }
        if self.sink.has_wal() {
            let dir = self.wal_dir.as_ref().ok_or(E::WalDirMissing)?;
            check_private_dir(dir, "wal.dir")?;
            self.validate_wal_writer()?;
        }
        if self.sink.has_export() {
            let dir = self.export_dir.as_ref().ok_or(E::ExportDirMissing)?;
            check_private_dir(dir, "export.dir")?;
            if self.checkpoint_every < 1000 {
                return Err(E::CheckpointEvery {
                    value: self.checkpoint_every,
                });
            }
            if self.signer_key_id.is_empty() {
                return Err(E::SignerKeyIdEmpty);
            }
            if self.alg.is_empty() {
                return Err(E::AlgEmpty);
            }
        }
        Ok(())
    }

    /// The queued front end this configuration asks for: `workers`
    /// workers of `queue_depth` events each, shedding unless
    /// `shed_policy = "block"`. [`crate::QueuedEmitter::from_config`] adds
    /// the per-stream depths.
    pub fn queue_config(&self) -> crate::QueueConfig {
        crate::QueueConfig {
            workers: usize::from(self.workers),
            capacity: usize::try_from(self.queue_depth).unwrap_or(usize::MAX),
            overflow: match self.shed_policy {
                ShedPolicy::Drop => crate::Overflow::Shed,
                ShedPolicy::Block => crate::Overflow::Block,
            },
        }
    }

    /// The queue depth of `stream` (its override, else the global one).
    pub fn queue_depth_for(&self, stream: &str) -> u32 {
        self.stream_queue_depth
            .get(stream)
            .copied()
            .unwrap_or(self.queue_depth)
    }

    /// The rules of the `wal.*` keys that do not depend on `wal.dir`:
    /// `wal.rotate_bytes` at least 8 MiB, and `wal.fsync = "never"`
    /// refused with `profile = "prod"`. [`Self::validate`] applies them when
    /// `sink` includes `wal`; a tool that writes a WAL in a directory it is
    /// given, whatever `sink` says (`auditctl append`), applies them itself.
    pub fn validate_wal_writer(&self) -> Result<(), ConfigError> {
        if self.wal_rotate_bytes < 8 << 20 {
            return Err(ConfigError::RotateTooSmall {
                value: self.wal_rotate_bytes,
            });
        }
        if self.wal_fsync == FsyncPolicy::Never && self.profile == Profile::Prod {
            return Err(ConfigError::FsyncNeverInProd);
        }
        Ok(())
    }

    /// The privacy policy this configuration asks for; reads the salt file
    /// for `ip_mode = "hash"` (checked by [`Self::validate`]).
    pub fn privacy(&self) -> Result<crate::Privacy, ConfigError> {
        use crate::{IpMode, Privacy};
        let ip = match self.ip_mode {
            IpModeName::Drop => IpMode::Drop,
            IpModeName::Prefix => IpMode::Prefix,
            IpModeName::Hash => {
                let path = self.hash_salt_path.as_ref().ok_or(ConfigError::SaltPathMissing)?;
                let salt = std::fs::read(path).map_err(|e| ConfigError::Read {
                    path: path.clone(),
                    error: e.to_string(),
                })?;
                IpMode::Hash { salt }
            }
        };
        Ok(Privacy::new(ip, self.pii_action))
    }

    /// The canonical size limits this configuration asks for.
    pub fn limits(&self) -> Result<audit_canon::Limits, ConfigError> {
        let to = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        audit_canon::Limits::new(to(self.max_attrs_bytes), to(self.max_record_bytes)).map_err(|_| {
            ConfigError::RecordBound {
                value: self.max_record_bytes,
                attrs: self.max_attrs_bytes,
            }
        })
    }
}

fn invalid(key: &str, value: &str, origin: &str, want: &'static str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        value: value.to_owned(),
        origin: origin.to_owned(),
        want,
    }
}

fn non_empty_path(v: &str) -> Option<PathBuf> {
    (!v.is_empty()).then(|| PathBuf::from(v))
}

fn parse_num(key: &str, v: &str, origin: &str) -> Result<u64, ConfigError> {
    v.parse().map_err(|_| invalid(key, v, origin, "a whole number"))
}

/// `1024`, `256B`, `1KB` (1000), `1KiB` (1024), `MB`/`MiB`, `GB`/`GiB`.
pub fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// `500ms`, `30s`, `15m`, `2h`.
pub fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = v.split_at(split);
    let n: u64 = num.parse().ok()?;
    Some(match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        _ => return None,
    })
}

fn flatten(prefix: &str, t: &toml::Table, out: &mut Vec<(String, String)>) {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(inner) => flatten(&key, inner, out),
            toml::Value::String(s) => out.push((key, s.clone())),
            toml::Value::Integer(i) => out.push((key, i.to_string())),
            toml::Value::Boolean(b) => out.push((key, b.to_string())),
            toml::Value::Float(f) => out.push((key, f.to_string())),
            // Arrays and dates are no value of this schema: let `set` refuse them.
            toml::Value::Array(_) => out.push((key, "[array]".into())),
            toml::Value::Datetime(_) => out.push((key, "[datetime]".into())),
        }
    }
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o777
}

#[cfg(not(unix))]
fn mode_of(_: &std::fs::Metadata) -> u32 {
    0o600
}

fn check_secret_file(path: &Path) -> Result<(), ConfigError> {
    let meta = std::fs::metadata(path).map_err(|e| ConfigError::Read {
        path: path.to_owned(),
        error: e.to_string(),
    })?;
    if !meta.is_file() || meta.len() == 0 {
        return Err(ConfigError::SaltEmpty {
            path: path.to_owned(),
        });
    }
    let mode = mode_of(&meta);
    if mode != 0o600 {
        return Err(ConfigError::SaltMode {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

fn check_private_dir(path: &Path, key: &'static str) -> Result<(), ConfigError> {
    let meta = std::fs::metadata(path).map_err(|e| ConfigError::Read {
        path: path.to_owned(),
        error: e.to_string(),
    })?;
    if !meta.is_dir() {
        return Err(ConfigError::NotADir {
            key,
            path: path.to_owned(),
        });
    }
    let mode = mode_of(&meta);
    if mode & 0o077 != 0 {
        return Err(ConfigError::DirMode {
            key,
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// A configuration value or combination breaks a rule (one variant per rule).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: String,
    },
    /// The TOML file does not parse.
    #[error("{origin}: not valid TOML: {error}")]
    Toml {
        /// The file.
        origin: String,
        /// The parser's message.
        error: String,
    },
    /// A key, variable or flag this version does not know.
    #[error("{source_name}: unknown key {key:?}")]
    UnknownKey {
        /// The key.
        key: String,
        /// File, environment or flags.
        source_name: String,
    },
    /// A value that does not parse.
    #[error("{origin}: {key} = {value:?} is not {want}")]
    Invalid {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Where it came from.
        origin: String,
        /// What it must be.
        want: &'static str,
    },
    /// `amnesia = true` with a WAL sink.
    #[error("amnesia = true forbids disk writes, but sink includes wal")]
    AmnesiaForbidsWal,
    /// `max_attrs_bytes` outside 256..=1024.
    #[error("max_attrs_bytes = {value} is outside 256..=1024")]
    AttrsBound {
        /// The value.
        value: u64,
    },
    /// `max_record_bytes` below attrs + 512 or above 4096.
    #[error("max_record_bytes = {value} must be at least max_attrs_bytes ({attrs}) + 512 and at most 4096")]
    RecordBound {
        /// The value.
        value: u64,
        /// `max_attrs_bytes`.
        attrs: u64,
    },
    /// A queue depth of 0.
    #[error("queue_depth must be greater than 0")]
    QueueDepthZero,
    /// `workers` outside 1..=8.
    #[error("workers = {value} is outside 1..=8")]
    Workers {
        /// The value.
        value: u16,
    },
    /// `shed_policy = "block"` in production.
    #[error("shed_policy = \"block\" is for tests only and refused with profile = \"prod\"")]
    BlockInProd,
    /// `ip_mode = "hash"` without a salt file.
    #[error("privacy.ip_mode = \"hash\" needs privacy.hash_salt_path")]
    SaltPathMissing,
    /// The salt file is empty or not a file.
    #[error("salt file {path} is empty or not a regular file")]
    SaltEmpty {
        /// The file.
        path: PathBuf,
    },
    /// The salt file is not mode 0600.
    #[error("salt file {path} has mode {mode:o}, must be 600")]
    SaltMode {
        /// The file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// A WAL sink without `wal.dir`.
    #[error("sink includes wal but wal.dir is not set")]
    WalDirMissing,
    /// A configured directory is not one.
    #[error("{key} = {path} is not a directory")]
    NotADir {
        /// The key.
        key: &'static str,
        /// The path.
        path: PathBuf,
    },
    /// A configured directory is open to group or others.
    #[error("{key} = {path} has mode {mode:o}, must be 700")]
    DirMode {
        /// The key.
        key: &'static str,
        /// The path.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// `wal.rotate_bytes` below 8 MiB.
    #[error("wal.rotate_bytes = {value} is below 8MiB")]
    RotateTooSmall {
        /// The value.
        value: u64,
    },
    /// `wal.fsync = "never"` in production.
    #[error("wal.fsync = \"never\" is for tests only and refused with profile = \"prod\"")]
    FsyncNeverInProd,
    /// An export sink without `export.dir`.
    #[error("sink includes export but export.dir is not set")]
    ExportDirMissing,
    /// `export.checkpoint_every` below 1000.
    #[error("export.checkpoint_every = {value} is below 1000")]
    CheckpointEvery {
        /// The value.
        value: u64,
    },
    /// Signed checkpoints without a key id.
    #[error("export.signer_key_id must be set for signed checkpoints")]
    SignerKeyIdEmpty,
    /// An empty `export.alg`.
    #[error("export.alg must not be empty")]
    AlgEmpty,
}
