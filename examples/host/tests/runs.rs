//! The example host runs by itself, exits 0, and its trail verifies.

#[test]
fn the_example_host_serves_checkpoints_shuts_down_and_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_audit-host"))
        .arg(dir.path())
        .arg("5000")
        .output()
        .expect("run audit-host");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("served 5000 requests"), "{stdout}");
    assert!(stdout.contains("verified: "), "{stdout}");
    // The library's metrics, rendered by the host's exporter.
    for m in [
        "audit_appended_total",
        "audit_bytes_total",
        "wal_fsync_seconds",
        "audit_export_checkpoints_total",
    ] {
        assert!(stdout.contains(m), "missing metric {m}:\n{stdout}");
    }
}
