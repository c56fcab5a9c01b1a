//! `audit-cli`: `auditctl`, the command line operators and auditors use
//! (`../shared/spec/CLI-v1.md`), and the realistic event generator that the
//! demo and the benchmarks share.
//!
//! # Main items
//!
//! - [`Cli`]: the clap command tree (every command of CLI-v1.md); [`run`]
//!   executes it and returns the exit code of FORMAT-v1.md section 7
//!   ([`Exit`]).
//! - [`run_canon`] and [`run_demo`]: commands over any reader and writers,
//!   so tests and other front ends can drive them.
//! - [`Workload`]: deterministic, realistic events.
//!
//! # Guarantees
//!
//! Every failure is one sentence on stderr naming what is wrong and where
//! (file, offset, stream, seq when known); `--json` output is one JSON
//! object on stdout (`cat` prints JSON Lines); usage errors exit 2.
//!
//! # What it does not do
//!
//! It holds no format logic of its own: canonical bytes, hashes, WAL
//! frames, checkpoints, bundles and proofs come from the library crates,
//! and verification is `audit-verify`'s.
//!
//! # Example
//!
//! ```
//! use audit_cli::{Exit, run_canon};
//! let mut out = Vec::new();
//! let mut err = Vec::new();
//! let input = br#"{"v":1,"ts_ms":0,"writer_id":"w","seq":1,"stream":"s","kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{},"prev":"b3:0"}"#;
//! assert_eq!(run_canon(&mut &input[..], &mut out, &mut err, false), Exit::Ok);
//! assert!(String::from_utf8(out)?.lines().nth(1).unwrap().starts_with("b3:"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod append;
mod bench;
mod canon;
mod cat;
mod checkpoint;
mod count;
mod demo;
mod exit;
mod floor;
mod keys;
mod prove;
mod verify;
mod workload;

pub use canon::run as run_canon;
pub use demo::{DEMO_WRITER, run as run_demo};
pub use exit::Exit;
pub use floor::{Floor, floor_of};
pub use workload::{Event, STREAMS, Workload};

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Prints `msg` as the command's one-sentence error and returns `exit`.
pub(crate) fn fail(err: &mut dyn Write, exit: Exit, msg: std::fmt::Arguments<'_>) -> Exit {
    let _ = writeln!(err, "auditctl: {msg}");
    exit
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Says on stderr what opening a WAL repaired of a crash (a torn tail cut,
/// indexes rebuilt), which the command's own output would not show: an
/// operator should know that the files changed.
pub(crate) fn report_recovery(dir: &std::path::Path, r: &audit_wal::Recovery, err: &mut dyn Write) {
    if let Some(t) = &r.torn {
        let _ = writeln!(
            err,
            "auditctl: note: opening {} cut a torn tail of {} bytes after offset {} of {} (an incomplete write a crash left)",
            dir.display(),
            t.len,
            t.offset,
            audit_verify::segment_file_name(t.segment)
        );
    }
    if !r.indexes_rebuilt.is_empty() {
        let names: Vec<String> = r
            .indexes_rebuilt
            .iter()
            .map(|n| audit_verify::segment_file_name(*n))
            .collect();
        let _ = writeln!(
            err,
            "auditctl: note: opening {} rebuilt the index of {}",
            dir.display(),
            names.join(", ")
        );
    }
}

/// The exit code of a WAL that will not open.
pub(crate) fn open_exit(e: &audit_wal::OpenError) -> Exit {
    match e {
        audit_wal::OpenError::Corrupt { source, .. } => crate::verify::segment_exit(source),
        audit_wal::OpenError::MissingSegment { .. } | audit_wal::OpenError::IndexMismatch { .. } => {
            Exit::Structure
        }
        audit_wal::OpenError::Locked { .. } => Exit::Usage,
        _ => Exit::Io,
    }
}

/// `auditctl`: tamper-evident audit trails, for operators and auditors.
#[derive(Debug, Parser)]
#[command(name = "auditctl", version, about, long_about = None)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands of CLI-v1.md.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a new Ed25519 secret key (PKCS#8 PEM, mode 0600, never
    /// overwrites); print its kid and public key.
    Keygen {
        /// The secret key file to create.
        #[arg(long)]
        out: PathBuf,
        /// Also write the public key (SPKI PEM) here.
        #[arg(long = "pub")]
        public: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Print the kid and public key of a secret key file (openssl's too), or of
    /// a public key file.
    Pubkey {
        /// The PKCS#8 PEM secret key (or an SPKI PEM public key).
        key: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Read one record (JSON, with or without self_hash) on stdin; print its
    /// canonical bytes and its self_hash.
    Canon {
        /// Print one JSON object instead of two lines.
        #[arg(long)]
        json: bool,
    },
    /// Append events (JSON Lines on stdin) to a WAL; a bad line is
    /// rejected with its number and the lines before it stay appended.
    Append {
        /// The WAL directory (created 0700 if missing).
        #[arg(long)]
        wal: PathBuf,
        /// The writer identity.
        #[arg(long)]
        writer: String,
        /// When to fsync: always (group commit), on-checkpoint, never.
        #[arg(long, value_parser = append::parse_fsync)]
        fsync: Option<audit_chain::FsyncPolicy>,
        /// A configuration file (audit.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Under `--fsync always`, sync once per N records: each batch is
        /// acknowledged whole, like a database transaction of N rows.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
        batch: u64,
        /// Print the summary as one JSON object: wal, writer_id, appended,
        /// and per stream its last seq and head.
        #[arg(long)]
        json: bool,
    },
    /// Append one signed checkpoint for every stream with records not yet
    /// covered, and print them.
    Checkpoint {
        /// The WAL directory.
        #[arg(long)]
        wal: PathBuf,
        /// The PKCS#8 PEM secret key to sign with; repeat it to have every
        /// checkpoint signed by each key (cross-signing, witnesses).
        #[arg(long, required = true)]
        key: Vec<PathBuf>,
        /// Print one JSON object: `{"checkpoints":[..]}`, each as stored in
        /// checkpoints.jsonl.
        #[arg(long)]
        json: bool,
    },
    /// Rotate the checkpoint key: record KeyRotated in every stream of a
    /// writer, then checkpoint every stream signed by the old and the new key.
    RotateKey {
        /// The WAL directory.
        #[arg(long)]
        wal: PathBuf,
        /// The writer whose streams record the rotation.
        #[arg(long)]
        writer: String,
        /// The secret key checkpoints were signed with so far.
        #[arg(long)]
        old: PathBuf,
        /// The secret key to sign with from now on.
        #[arg(long)]
        new: PathBuf,
        /// Print one JSON object: `rotated` (old_kid, new_kid, streams) and
        /// `checkpoints`.
        #[arg(long)]
        json: bool,
    },
    /// Write an export bundle of one stream, covering whole checkpoints.
    Export {
        /// The WAL directory.
        #[arg(long)]
        wal: PathBuf,
        /// The writer.
        #[arg(long)]
        writer: String,
        /// The stream.
        #[arg(long)]
        stream: String,
        /// The bundle directory (must not exist, or be empty).
        #[arg(long)]
        out: PathBuf,
        /// First seq (the start of a checkpoint).
        #[arg(long)]
        from: Option<u64>,
        /// Last seq (the end of a checkpoint).
        #[arg(long)]
        to: Option<u64>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Verify a WAL directory or a bundle: every record, link, checkpoint
    /// root, checkpoint chain and signature.
    Verify {
        /// A WAL directory or a bundle.
        path: PathBuf,
        /// A trusted public key: a file (SPKI PEM or hex) or 64 hex inline.
        #[arg(long)]
        trust: Vec<String>,
        /// Distinct trusted keys that must sign each checkpoint.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
        min_sigs: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Print records as JSON Lines (with self_hash), each verified; each
    /// writer's records in the order it wrote them, several writers merged by
    /// the global key (ts_ms, writer_id, seq).
    Cat {
        /// A WAL directory or a bundle.
        path: PathBuf,
        /// Only this stream.
        #[arg(long)]
        stream: Option<String>,
        /// From this seq.
        #[arg(long)]
        from: Option<u64>,
        /// To this seq.
        #[arg(long)]
        to: Option<u64>,
    },
    /// Print an inclusion proof (--seq) or a consistency proof
    /// (--consistency A B) of a stream as JSON.
    Prove {
        /// A WAL directory, or a bundle (it proves the records and checkpoints it holds).
        path: PathBuf,
        /// The stream.
        #[arg(long)]
        stream: String,
        /// The record to prove.
        #[arg(long, conflicts_with = "consistency")]
        seq: Option<u64>,
        /// The checkpoint (by its end seq) to prove against; default the latest.
        #[arg(long, requires = "seq")]
        checkpoint: Option<u64>,
        /// Two checkpoints (by end seq) to prove consistent.
        #[arg(long, num_args = 2, value_names = ["A", "B"])]
        consistency: Option<Vec<u64>>,
        /// The writer, when the stream has several.
        #[arg(long)]
        writer: Option<String>,
    },
    /// Check a proof file offline against its signed checkpoint(s).
    VerifyProof {
        /// The proof file.
        proof: PathBuf,
        /// A trusted public key: a file (SPKI PEM or hex) or 64 hex inline.
        #[arg(long, required = true)]
        trust: Vec<String>,
        /// Distinct trusted keys that must sign.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
        min_sigs: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Measure the pipeline, each measure beside the baseline it is judged
    /// against in the same run; one row per measure.
    Bench {
        /// Realistic records to measure with (rows bound by fdatasync use
        /// fewer and say so in their name).
        #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1000..=10_000_000))]
        records: u64,
        /// Print one JSON object: machine and rows.
        #[arg(long)]
        json: bool,
    },
    /// The quick start: a key, realistic events in a WAL, checkpoints, a
    /// bundle, verification, proofs and a caught tamper, with timings.
    Demo {
        /// Where to put everything (made if missing; a non-empty directory
        /// the demo did not make is refused).
        #[arg(long, default_value = "audit-demo")]
        dir: PathBuf,
        /// How many events.
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        records: u64,
    },
}

/// Runs a parsed command line with the process's stdio.
pub fn run(cli: Cli) -> Exit {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    let exit = match cli.command {
        Command::Keygen {
            out: key,
            public,
            json,
        } => keys::keygen(&key, public.as_deref(), json, &mut out, &mut err),
        Command::Pubkey { key, json } => keys::pubkey(&key, json, &mut out, &mut err),
        Command::Canon { json } => run_canon(&mut std::io::stdin().lock(), &mut out, &mut err, json),
        Command::Append {
            wal,
            writer,
            fsync,
            config,
            batch,
            json,
        } => append::run(
            &wal,
            &append::Settings {
                writer: &writer,
                fsync,
                config: config.as_deref(),
                batch,
                json,
            },
            &mut std::io::stdin().lock(),
            &mut out,
            &mut err,
        ),
        Command::Checkpoint { wal, key, json } => {
            checkpoint::checkpoint(&wal, &key, json, &mut out, &mut err)
        }
        Command::RotateKey {
            wal,
            writer,
            old,
            new,
            json,
        } => checkpoint::rotate_key(&wal, &writer, &old, &new, json, &mut out, &mut err),
        Command::Export {
            wal,
            writer,
            stream,
            out: bundle,
            from,
            to,
            json,
        } => checkpoint::export(
            &wal, &writer, &stream, &bundle, from, to, json, &mut out, &mut err,
        ),
        Command::Verify {
            path,
            trust,
            min_sigs,
            json,
        } => verify::verify(&path, &trust, min_sigs as usize, json, &mut out, &mut err),
        Command::Cat {
            path,
            stream,
            from,
            to,
        } => {
            let filter = cat::Filter {
                stream: stream.as_deref(),
                from,
                to,
            };
            cat::cat(&path, &filter, &mut out, &mut err)
        }
        Command::Prove {
            path,
            stream,
            seq,
            checkpoint,
            consistency,
            writer,
        } => prove::prove(
            &path,
            &prove::Ask {
                stream: &stream,
                seq,
                checkpoint,
                consistency: consistency.and_then(|v| Some((*v.first()?, *v.get(1)?))),
                writer: writer.as_deref(),
            },
            &mut out,
            &mut err,
        ),
        Command::VerifyProof {
            proof,
            trust,
            min_sigs,
            json,
        } => prove::verify_proof_file(&proof, &trust, min_sigs as usize, json, &mut out, &mut err),
        Command::Bench { records, json } => bench::run(records, json, &mut out, &mut err),
        Command::Demo { dir, records } => run_demo(&dir, records, &mut out, &mut err),
    };
    let _ = out.flush();
    exit
}
