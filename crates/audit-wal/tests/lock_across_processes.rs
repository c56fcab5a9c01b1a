//! One writer per directory across processes: a second process that opens
//! a held WAL is refused with `Locked`, naming the holder's pid.
//!
//! Its own test binary, as `crash_loop.rs`: while a child is being spawned
//! it briefly holds copies of this process's file descriptors (until its
//! exec), WAL directory locks included, which would make other tests'
//! reopens see their own WAL as locked.

mod common;

use audit_chain::FsyncPolicy;
use audit_wal::{OpenError, WalSink};
use common::*;

const CHILD_DIR: &str = "AUDIT_WAL_TEST_LOCK_DIR";

#[test]
fn another_process_gets_locked() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        let r = WalSink::open(&dir, opts(FsyncPolicy::Never, 1 << 20));
        // The holder is the parent, and the lock file says so.
        let parent = std::os::unix::process::parent_id();
        std::process::exit(
            if matches!(r, Err(OpenError::Locked { holder, .. }) if holder == Some(parent)) {
                0
            } else {
                1
            },
        );
    }
    let b = Backend::real();
    let (held, _) = b.open(opts(FsyncPolicy::Never, 1 << 20)).expect("open");
    let status = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "another_process_gets_locked",
            "--test-threads=1",
            "--quiet",
        ])
        .env(CHILD_DIR, &b.dir)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run child");
    assert!(status.success(), "the child process was not refused: {status}");
    drop(held);
}
