//! Drill: a crash loop. A child process appends with `always` from four
//! threads and prints each acknowledged record; it is killed with SIGKILL
//! at a random moment, 50 times. After each kill the WAL reopens, and
//! every record the child reported as acknowledged is there.
//!
//! Its own test binary: while a child is being spawned it briefly holds
//! copies of this process's file descriptors (until its exec), WAL
//! directory locks included, which would make other tests' reopens see
//! their own WAL as locked.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_chain::{AuditStream, FsyncPolicy};
use audit_wal::WalSink;
use common::*;

const CHILD: &str = "AUDIT_WAL_TEST_KILL_DIR";

/// The records in `new` are in the WAL with their hashes, and no stream
/// ends before the highest seq `all` acknowledged in it.
fn assert_these_there(wal: &WalSink, new: &Acked, all: &Acked, ctx: &str) {
    for s in STREAMS {
        let mine: Vec<_> = new.iter().filter(|((st, _), _)| st == s).collect();
        if let (Some(((_, first), _)), Some(((_, last), _))) = (mine.first(), mine.last()) {
            let got = wal
                .read(WRITER, s, *first..=*last)
                .unwrap_or_else(|e| panic!("{ctx}: read {s}: {e}"));
            assert_eq!(
                got.len() as u64,
                last - first + 1,
                "{ctx}: stream {s} lost records"
            );
            for ((_, seq), hash) in mine {
                assert_eq!(
                    got[(seq - first) as usize].self_hash(),
                    hash,
                    "{ctx}: {s} seq {seq} differs"
                );
            }
        }
        let top = all.keys().filter(|(st, _)| st == s).map(|(_, q)| *q).max();
        let head = wal.chain_state(WRITER, s).map_or(0, |h| h.seq());
        assert!(
            top.is_none_or(|t| head >= t),
            "{ctx}: stream {s} ends at {head}, before {top:?}"
        );
    }
}

/// The child: four threads append forever with `always` through one
/// emitter (one per writer, as a host has), printing each acknowledged
/// record as `stream seq hash` on stderr once `emit` returned.
fn child(dir: &str) -> ! {
    let (wal, _) = WalSink::open(dir, opts(FsyncPolicy::Always, 64 << 10)).expect("child open");
    let wal = Arc::new(wal);
    let e = emitter(&wal);
    // stderr: the test harness writes its own, unterminated, lines to stdout.
    let out = Arc::new(std::sync::Mutex::new(std::io::stderr()));
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (e, out) = (&e, out.clone());
            s.spawn(move || {
                for i in 0.. {
                    let r = e.emit(event(i * 4 + t)).expect("child emit");
                    let mut o = out.lock().expect("stderr");
                    writeln!(o, "{} {} {}", r.stream, r.seq, r.self_hash).expect("print");
                    o.flush().expect("flush");
                }
            });
        }
    });
    std::process::exit(0)
}

#[test]
fn sigkill_during_appends_loses_no_acknowledged_record() {
    if let Ok(dir) = std::env::var(CHILD) {
        child(&dir);
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("wal");
    let mut acked = Acked::new();
    // Random kill moments, from a seed the failure message names.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let mut rng = seed;
    let mut next_ms = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % 150
    };
    for round in 0..50u64 {
        let mut proc = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "sigkill_during_appends_loses_no_acknowledged_record",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(CHILD, &dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn child");
        let stdout = proc.stderr.take().expect("pipe");
        let (first_tx, first_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let (mut lines, mut signalled) = (Vec::new(), false);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !signalled && line.contains(" b3:") {
                    let _ = first_tx.send(());
                    signalled = true;
                }
                lines.push(line);
            }
            lines
        });
        // Once it has acknowledged a record, let it run a random while
        // (1..=150 ms), then kill it mid-append.
        let _ = first_rx.recv_timeout(Duration::from_secs(20));
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(1 + next_ms()));
        proc.kill().expect("SIGKILL");
        proc.wait().expect("reap");
        let lines = reader.join().expect("reader");
        let mut new = Acked::new();
        let seen = lines.len();
        for line in lines {
            let parts: Vec<_> = line.split(' ').collect();
            // A line cut by the kill is not an acknowledgement we saw whole.
            let [stream, seq, hash] = parts[..] else { continue };
            let (Ok(seq), Ok(hash)) = (seq.parse(), hash.parse()) else {
                continue;
            };
            match acked.insert((stream.to_owned(), seq), hash) {
                None => {
                    new.insert((stream.to_owned(), seq), hash);
                }
                // The same seq again with another record: the first was lost.
                Some(old) => assert_eq!(
                    old, hash,
                    "round {round} (seed {seed}): {stream} seq {seq} reused"
                ),
            }
        }
        assert!(
            !new.is_empty(),
            "round {round} (seed {seed}): the child acknowledged nothing in {:?} ({seen} lines)",
            start.elapsed()
        );
        let (wal, _) = WalSink::open(&dir, opts(FsyncPolicy::Always, 64 << 10))
            .unwrap_or_else(|e| panic!("round {round} (seed {seed}): reopen after SIGKILL: {e}"));
        // This round's acknowledgements are there, and every stream still
        // reaches its highest acknowledged seq (the full check is last).
        assert_these_there(&wal, &new, &acked, &format!("round {round} (seed {seed})"));
    }
    let (wal, _) = WalSink::open(&dir, opts(FsyncPolicy::Always, 64 << 10)).expect("final reopen");
    assert_all_there(&wal, &acked, &format!("after 50 rounds (seed {seed})"));
    assert!(
        acked.len() >= 50,
        "only {} records acknowledged in all rounds",
        acked.len()
    );
}
