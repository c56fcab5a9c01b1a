//! `audit-host`: an example service that audits its requests with
//! `ron-audit`. A request loop emits through the queued front end (which
//! sheds with `Busy` instead of blocking the service) into a WAL; a
//! background thread signs checkpoints on cadence; shutdown drains the
//! queue within a deadline, checkpoints, closes the WAL, verifies it the
//! way an auditor would, and prints the metrics in Prometheus text format.
//!
//! Usage: `audit-host DIR [REQUESTS]` (default 20000), or `audit-host DIR
//! --soak MINUTES [RATE]`: serve RATE requests a second (default 5000)
//! for MINUTES, with 4 MiB segments so that the WAL rotates, printing one
//! line a minute (records, rate, resident memory, open file descriptors)
//! and writing the public key to `DIR/key.pub.pem` so that an auditor can
//! verify the live WAL meanwhile (`scripts/soak.sh` does). Exits 0 when
//! the trail it wrote verifies.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use audit_cli::Workload;
use metrics_exporter_prometheus::PrometheusBuilder;
use ron_audit::bounds::Limits;
use ron_audit::export::{Cadence, Checkpointer, Ed25519Signer, Signer};
use ron_audit::verify::{TrustSet, VerifyOptions, verify_wal_dir};
use ron_audit::wal::{FsyncPolicy, WalOptions, WalSink};
use ron_audit::{AuditSink, Emitter, QueueError, QueuedEmitter};

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("audit-host: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: audit-host DIR [REQUESTS] | audit-host DIR --soak MINUTES [RATE]";
    let dir = std::path::PathBuf::from(args.next().ok_or(usage)?);
    let mode = match args.next().as_deref() {
        Some("--soak") => {
            let minutes: u64 = args.next().ok_or(usage)?.parse()?;
            let rate: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5_000);
            Mode::Soak {
                minutes,
                rate: rate.max(1),
            }
        }
        Some(n) => Mode::Requests(n.parse()?),
        None => Mode::Requests(20_000),
    };

    // Metrics: the library reports through the `metrics` facade; the host
    // picks the exporter.
    let prometheus = PrometheusBuilder::new().install_recorder()?;

    // The durable sink, its checkpointer and the service's key.
    let wal = Arc::new(
        WalSink::open(
            dir.join("wal"),
            WalOptions {
                rotate_bytes: if matches!(mode, Mode::Soak { .. }) {
                    4 << 20
                } else {
                    8 << 20
                },
                fsync: FsyncPolicy::OnCheckpoint,
            },
        )?
        .0,
    );
    let key = Arc::new(Ed25519Signer::generate()?);
    std::fs::write(dir.join("key.pub.pem"), key.public_key_pem())?;
    let signer: Arc<dyn Signer> = key.clone();
    let cadence = Cadence {
        every_records: 2_000,
        every: Duration::from_millis(300),
    };
    let (checkpointer, _) = Checkpointer::open(wal.clone(), vec![signer], cadence)?;
    let checkpointer = Arc::new(checkpointer);

    // The emit path: an emitter behind bounded queues that shed.
    let emitter = Arc::new(Emitter::new(
        "svc-example@inst-1",
        wal.clone(),
        Limits::default(),
    )?);
    let queue = QueuedEmitter::start(emitter, ron_audit_queue_config())?;

    // Checkpoints on cadence, in the background.
    let stop = Arc::new(AtomicBool::new(false));
    // The exporter keeps histogram samples until its upkeep drains them
    // into its summaries; without its HTTP listener the host runs upkeep
    // itself (a soak found the memory this otherwise grows by).
    let ticker = {
        let (cp, stop, prom) = (checkpointer.clone(), stop.clone(), prometheus.clone());
        std::thread::spawn(move || {
            let mut upkeep = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = cp.run_due(now_ms()) {
                    eprintln!("audit-host: checkpoint: {e}");
                }
                if upkeep.elapsed() >= Duration::from_secs(1) {
                    prom.run_upkeep();
                    upkeep = Instant::now();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };

    // The service loop: each request is audited; a full queue is shed and
    // counted, never waited on.
    let mut workload = Workload::new(2026);
    let mut shed = 0u64;
    let mut serve = |shed: &mut u64| match queue.try_emit(workload.next_event().into_chain_event()) {
        Ok(()) => {}
        // A full queue: the request is served, its audit event is not.
        Err(QueueError::Busy { .. }) => {
            *shed += 1;
            metrics::counter!("example_requests_unaudited_total").increment(1);
        }
        // A bad event (refused at intake, naming the field) or a closed
        // queue: counted by the front end.
        Err(e) => eprintln!("audit event not taken: {e}"),
    };
    let requests = match mode {
        Mode::Requests(n) => {
            for _ in 0..n {
                serve(&mut shed);
            }
            n
        }
        Mode::Soak { minutes, rate } => {
            let start = Instant::now();
            let (mut served, mut minute) = (0u64, 0u64);
            while minute < minutes {
                // Paced: as many requests as the rate says by now.
                let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
                while served < due {
                    serve(&mut shed);
                    served += 1;
                }
                if start.elapsed() >= Duration::from_secs(60 * (minute + 1)) {
                    minute += 1;
                    let s = queue.stats();
                    println!(
                        "soak minute {minute}: {} records ({:.0}/s), {shed} shed, rss {} KiB, fds {}",
                        s.emitted,
                        s.emitted as f64 / start.elapsed().as_secs_f64(),
                        proc_status("VmRSS:").unwrap_or(0),
                        std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count),
                    );
                    use std::io::Write as _;
                    let _ = std::io::stdout().flush();
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            served
        }
    };

    // Graceful shutdown: drain within a deadline, last checkpoint, close.
    let stats = queue.shutdown(Duration::from_secs(10));
    stop.store(true, Ordering::Relaxed);
    let _ = ticker.join();
    let last = checkpointer.checkpoint_all(now_ms())?;
    wal.close()?;
    println!(
        "served {requests} requests: {} audited, {shed} shed at the queue, {} refused, {} failed, {} dropped at shutdown; {} final checkpoints",
        stats.emitted,
        stats.refused,
        stats.failed,
        stats.dropped_at_shutdown,
        last.len()
    );

    // What an auditor would do, offline, with the public key.
    let trust = TrustSet::new().with_key(key.public_key().clone());
    let report = verify_wal_dir(&dir.join("wal"), &VerifyOptions { trust, threads: 0 });
    match &report.failure {
        None => println!(
            "verified: {} records in {} streams, {} checkpoints",
            report.records(),
            report.streams.len(),
            report.streams.iter().map(|s| s.checkpoints).sum::<u64>()
        ),
        Some(f) => println!("verification FAILED: {f}"),
    }
    println!("--- metrics (Prometheus text format) ---");
    print!("{}", prometheus.render());
    Ok(report.failure.is_none() && report.records() == stats.emitted)
}

/// What the host does: a number of requests at full speed, or a paced
/// soak.
#[derive(Clone, Copy)]
enum Mode {
    Requests(u64),
    Soak { minutes: u64, rate: u64 },
}

/// A `kB` field of `/proc/self/status` (Linux; `None` elsewhere).
fn proc_status(field: &str) -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn ron_audit_queue_config() -> ron_audit::QueueConfig {
    ron_audit::QueueConfig {
        workers: 2,
        capacity: 1024,
        overflow: ron_audit::Overflow::Shed,
    }
}
