//! `audit-cli`: `auditctl`, the command line operators and auditors use
//! (`../shared/spec/CLI-v1.md`), and the realistic event generator that the
//! demo and the benchmarks share.
//!
//! # Main items
//!
//! - [`Cli`]: the clap command tree; [`run`] executes it and returns the
//!   exit code of FORMAT-v1.md section 7 ([`Exit`]).
//! - [`run_canon`] and [`run_demo`]: the commands, over any reader and
//!   writers, so tests and other front ends can drive them.
//! - [`Workload`]: deterministic, realistic events.
//!
//! # Guarantees
//!
//! Every failure is one sentence on stderr naming what is wrong and where;
//! `--json` output is one JSON object on stdout; usage errors exit 2.
//!
//! # What it does not do
//!
//! It holds no format logic of its own: canonical bytes, hashes and proofs
//! come from `audit-canon`. Commands whose crates have not landed yet (WAL,
//! export, verify of directories) are not offered rather than stubbed.
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

mod canon;
mod demo;
mod exit;
mod workload;

pub use canon::run as run_canon;
pub use demo::{DEMO_WRITER, run as run_demo};
pub use exit::Exit;
pub use workload::{Event, STREAMS, Workload};

use std::io::Write;

use clap::{Parser, Subcommand};

/// `auditctl`: tamper-evident audit trails, for operators and auditors.
#[derive(Debug, Parser)]
#[command(name = "auditctl", version, about, long_about = None)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands available at this stage of the project.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read one record (JSON, with or without self_hash) on stdin; print its
    /// canonical bytes and its self_hash.
    Canon {
        /// Print one JSON object instead of two lines.
        #[arg(long)]
        json: bool,
    },
    /// The quick start: chain, hash, checkpoint, verify and prove realistic
    /// events, printing each step with its time.
    Demo {
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
        Command::Canon { json } => run_canon(&mut std::io::stdin().lock(), &mut out, &mut err, json),
        Command::Demo { records } => run_demo(records, &mut out, &mut err),
    };
    let _ = out.flush();
    exit
}
