//! `AuditConfig`: the seed's CONFIG test matrix, precedence of the layers,
//! sizes and durations, and one error per validation rule.

use std::path::Path;
use std::time::Duration;

use audit_chain::{AuditConfig, ConfigError, FsyncPolicy, IpModeName, SinkKind, parse_duration, parse_size};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load(toml: &str, envs: &[(&str, &str)], flags: &[(&str, &str)]) -> Result<AuditConfig, ConfigError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.toml");
    std::fs::write(&path, toml).expect("write");
    AuditConfig::load(Some(&path), env(envs), flags)
}

#[cfg(unix)]
fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn defaults_are_the_seeds_and_valid() {
    let c = AuditConfig::load(None, env(&[]), &[]).expect("defaults validate");
    assert_eq!(c, AuditConfig::default());
    assert_eq!(
        (c.sink, c.queue_depth, c.workers, c.amnesia),
        (SinkKind::Ram, 1024, 1, true)
    );
    assert_eq!((c.max_attrs_bytes, c.max_record_bytes), (1024, 4096));
    assert_eq!(c.wal_fsync, FsyncPolicy::OnCheckpoint);
    assert_eq!(c.export_every, Duration::from_secs(900));
}

#[test]
fn flags_beat_env_beat_file_beat_defaults() {
    let toml =
        "queue_depth = 100\nworkers = 2\nmax_attrs_bytes = \"512B\"\n[privacy]\nip_mode = \"prefix\"\n";
    let c = load(toml, &[], &[]).expect("file");
    assert_eq!(
        (c.queue_depth, c.workers, c.max_attrs_bytes, c.ip_mode),
        (100, 2, 512, IpModeName::Prefix)
    );
    let c = load(toml, &[("RON_AUDIT_QUEUE_DEPTH", "200"), ("PATH", "/bin")], &[]).expect("env");
    assert_eq!(
        (c.queue_depth, c.workers),
        (200, 2),
        "env over file; other variables ignored"
    );
    let c = load(
        toml,
        &[("RON_AUDIT_QUEUE_DEPTH", "200")],
        &[("--audit-queue-depth", "300")],
    )
    .expect("flags");
    assert_eq!(c.queue_depth, 300, "flags over env");
}

#[test]
fn per_stream_queue_depth_overrides_the_global_one() {
    let c = load(
        "queue_depth = 2048\n[streams.\"ingress\"]\nqueue_depth = 4096\n",
        &[],
        &[],
    )
    .expect("load");
    assert_eq!(
        (c.queue_depth_for("ingress"), c.queue_depth_for("policy")),
        (4096, 2048)
    );
}

#[test]
fn sizes_and_durations_parse_as_the_seed_writes_them() {
    for (s, want) in [
        ("1KiB", 1024),
        ("4KiB", 4096),
        ("128MiB", 128 << 20),
        ("256B", 256),
        ("1KB", 1000),
        ("77", 77),
    ] {
        assert_eq!(parse_size(s), Some(want), "{s}");
    }
    for s in ["", "KiB", "1 XB", "-1B", "1.5KiB"] {
        assert_eq!(parse_size(s), None, "{s}");
    }
    for (s, want) in [("15m", 900), ("30s", 30), ("2h", 7200)] {
        assert_eq!(parse_duration(s), Some(Duration::from_secs(want)), "{s}");
    }
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_duration("15"), None);
}

/// The seed's CONFIG test matrix (section 11), each row its own error.
#[test]
fn the_seed_test_matrix_gives_one_error_per_rule() {
    let err = |toml: &str| load(toml, &[], &[]).expect_err(toml);
    assert!(matches!(
        err("sink = \"wal\"\namnesia = true"),
        ConfigError::AmnesiaForbidsWal
    ));
    assert!(matches!(
        err("max_attrs_bytes = \"2KiB\"\nmax_record_bytes = \"2KiB\""),
        ConfigError::AttrsBound { value: 2048 }
    ));
    assert!(matches!(
        err("max_attrs_bytes = \"1KiB\"\nmax_record_bytes = \"1KiB\""),
        ConfigError::RecordBound {
            value: 1024,
            attrs: 1024
        }
    ));
    assert!(matches!(
        err("[privacy]\nip_mode = \"hash\""),
        ConfigError::SaltPathMissing
    ));
    assert!(matches!(
        err("sink = \"wal\"\namnesia = false"),
        ConfigError::WalDirMissing
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    #[cfg(unix)]
    chmod(dir.path(), 0o700);
    let wal = format!(
        "sink = \"wal\"\namnesia = false\nprofile = \"prod\"\n[wal]\ndir = {:?}\nfsync = \"never\"",
        dir.path()
    );
    assert!(matches!(err(&wal), ConfigError::FsyncNeverInProd));
    assert!(
        load(&wal.replace("prod", "dev"), &[], &[]).is_ok(),
        "never is allowed outside prod"
    );
}

#[test]
fn every_other_rule_has_its_own_error() {
    let err = |toml: &str| load(toml, &[], &[]).expect_err(toml);
    assert!(matches!(err("queue_depth = 0"), ConfigError::QueueDepthZero));
    assert!(matches!(
        err("[streams.a]\nqueue_depth = 0"),
        ConfigError::QueueDepthZero
    ));
    assert!(matches!(err("workers = 9"), ConfigError::Workers { value: 9 }));
    assert!(matches!(err("workers = 0"), ConfigError::Workers { value: 0 }));
    assert!(matches!(
        err("shed_policy = \"block\"\nprofile = \"prod\""),
        ConfigError::BlockInProd
    ));
    assert!(matches!(err("sink = \"export\""), ConfigError::ExportDirMissing));
    let dir = tempfile::tempdir().expect("tempdir");
    #[cfg(unix)]
    chmod(dir.path(), 0o700);
    let d = format!("{:?}", dir.path());
    let wal = format!("sink = \"wal\"\namnesia = false\n[wal]\ndir = {d}\n");
    assert!(matches!(
        err(&format!("{wal}rotate_bytes = \"1MiB\"")),
        ConfigError::RotateTooSmall { .. }
    ));
    let export = format!("sink = \"export\"\n[export]\ndir = {d}\nsigner_key_id = \"ops-1\"\n");
    assert!(load(&export, &[], &[]).is_ok());
    assert!(matches!(
        err(&format!("{export}checkpoint_every = 10")),
        ConfigError::CheckpointEvery { value: 10 }
    ));
    assert!(matches!(
        err(&format!("sink = \"export\"\n[export]\ndir = {d}\n")),
        ConfigError::SignerKeyIdEmpty
    ));
    assert!(matches!(
        err(&format!("{export}alg = \"\"")),
        ConfigError::AlgEmpty
    ));
    #[cfg(unix)]
    {
        chmod(dir.path(), 0o755);
        assert!(matches!(
            err(&wal),
            ConfigError::DirMode {
                key: "wal.dir",
                mode: 0o755,
                ..
            }
        ));
        chmod(dir.path(), 0o700);
    }
    let file = dir.path().join("plain");
    std::fs::write(&file, "x").expect("write");
    assert!(matches!(
        err(&format!(
            "sink = \"wal\"\namnesia = false\n[wal]\ndir = {file:?}\n"
        )),
        ConfigError::NotADir { .. }
    ));
}

#[cfg(unix)]
#[test]
fn the_hash_salt_must_be_a_non_empty_0600_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let salt = dir.path().join("salt");
    std::fs::write(&salt, b"pepper").expect("write");
    let toml = format!("[privacy]\nip_mode = \"hash\"\nhash_salt_path = {salt:?}\n");
    chmod(&salt, 0o644);
    assert!(matches!(
        load(&toml, &[], &[]),
        Err(ConfigError::SaltMode { mode: 0o644, .. })
    ));
    chmod(&salt, 0o600);
    let c = load(&toml, &[], &[]).expect("0600 salt");
    assert_eq!(
        c.privacy().expect("privacy"),
        audit_chain::Privacy::new(
            audit_chain::IpMode::Hash {
                salt: b"pepper".to_vec()
            },
            audit_chain::PiiAction::Redact
        )
    );
    std::fs::write(&salt, b"").expect("truncate");
    assert!(matches!(
        load(&toml, &[], &[]),
        Err(ConfigError::SaltEmpty { .. })
    ));
}

#[test]
fn unknown_keys_and_bad_values_are_errors_naming_their_source() {
    let e = load("queue_dept = 5", &[], &[]).expect_err("typo");
    assert!(
        matches!(&e, ConfigError::UnknownKey { key, .. } if key == "queue_dept"),
        "{e}"
    );
    let e = load("", &[("RON_AUDIT_QUEUE_DEPT", "5")], &[]).expect_err("typo");
    assert!(
        e.to_string().contains("environment") && e.to_string().contains("RON_AUDIT_QUEUE_DEPT"),
        "{e}"
    );
    let e = load("", &[], &[("--audit-wokers", "2")]).expect_err("typo");
    assert!(matches!(e, ConfigError::UnknownKey { .. }));
    let e = load("sink = \"disk\"", &[], &[]).expect_err("bad enum");
    assert!(e.to_string().contains("ram, wal, export or wal+export"), "{e}");
    let e = load("", &[("RON_AUDIT_MAX_ATTRS_BYTES", "lots")], &[]).expect_err("bad size");
    assert!(
        matches!(&e, ConfigError::Invalid { key, origin, .. } if key == "max_attrs_bytes" && origin.contains("RON_AUDIT_MAX_ATTRS_BYTES")),
        "{e}"
    );
    let e = load("queue_depth = [1]", &[], &[]).expect_err("array");
    assert!(matches!(e, ConfigError::Invalid { .. }));
    let e = load("this is not toml", &[], &[]).expect_err("syntax");
    assert!(matches!(e, ConfigError::Toml { .. }));
}

#[test]
fn limits_follow_the_configured_bounds() {
    let c = load(
        "max_attrs_bytes = \"512B\"\nmax_record_bytes = \"2KiB\"",
        &[],
        &[],
    )
    .expect("load");
    let l = c.limits().expect("limits");
    assert_eq!((l.max_attrs_bytes(), l.max_record_bytes()), (512, 2048));
}

/// The `wal.*` rules that do not need `wal.dir` hold on their own for a
/// tool that writes a WAL whatever `sink` says; `validate` leaves them to
/// it when `sink` is `ram`.
#[test]
fn wal_writer_rules_apply_without_a_wal_sink() {
    let small = load("[wal]\nrotate_bytes = \"1MiB\"", &[], &[]).expect("valid with sink = ram");
    assert!(matches!(
        small.validate_wal_writer(),
        Err(ConfigError::RotateTooSmall { value: 1_048_576 })
    ));
    let never =
        load("profile = \"prod\"\n[wal]\nfsync = \"never\"", &[], &[]).expect("valid with sink = ram");
    assert!(matches!(
        never.validate_wal_writer(),
        Err(ConfigError::FsyncNeverInProd)
    ));
    let dev = load("[wal]\nfsync = \"never\"\nrotate_bytes = \"8MiB\"", &[], &[]).expect("valid");
    assert_eq!(dev.validate_wal_writer(), Ok(()));
}

/// `privacy.pii_action` chooses between a marker and a refusal in every
/// layer, and the policy `privacy()` builds follows it.
#[test]
fn pii_action_is_a_key_of_every_layer_and_reaches_the_policy() {
    use audit_chain::{EmitError, Event, PiiAction};
    let with_email = || Event::new("s", "Login", "ok").attr("who", "alice@example.com");

    let c = load("", &[], &[]).expect("defaults");
    assert_eq!(c.pii_action, PiiAction::Redact);
    let mut ev = with_email();
    assert_eq!(c.privacy().expect("policy").scrub(&mut ev).expect("redacted"), 1);

    let toml = "[privacy]\npii_action = \"reject\"\n";
    let c = load(toml, &[], &[]).expect("file");
    assert_eq!(c.pii_action, PiiAction::Reject);
    let e = c
        .privacy()
        .expect("policy")
        .scrub(&mut with_email())
        .expect_err("refused");
    assert!(matches!(e, EmitError::Privacy(_)), "{e}");

    let c = load(toml, &[("RON_AUDIT_PRIVACY_PII_ACTION", "redact")], &[]).expect("env");
    assert_eq!(c.pii_action, PiiAction::Redact, "env over file");
    let c = load(
        "",
        &[("RON_AUDIT_PRIVACY_PII_ACTION", "redact")],
        &[("--audit-privacy-pii", "reject")],
    )
    .expect("flag");
    assert_eq!(c.pii_action, PiiAction::Reject, "flag over env");

    let e = load("[privacy]\npii_action = \"block\"\n", &[], &[]).expect_err("bad value");
    assert!(
        matches!(&e, ConfigError::Invalid { key, .. } if key == "privacy.pii_action"),
        "{e}"
    );
    assert!(e.to_string().contains("redact or reject"), "{e}");
}
