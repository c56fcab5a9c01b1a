//! The `auditctl` binary: parses the command line and exits with the code
//! of FORMAT-v1.md section 7.

use std::process::ExitCode;

use clap::Parser as _;

/// mimalloc, not the system allocator: `append` reads and prepares events
/// on one thread and frees them on another, and glibc's per-thread caches
/// serve that pattern badly (every allocation of the reading thread fell
/// to the slow path; user time doubled). The library crates leave the
/// choice to their host.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match audit_cli::Cli::try_parse() {
        Ok(cli) => audit_cli::run(cli).into(),
        // --help and --version: clap prints them, exit 0.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        // A usage error: one sentence on stderr, exit 2.
        Err(e) => {
            // clap's first paragraph ("error: ..." and any indented
            // continuation lines), as one line.
            let text = e.to_string();
            let para: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            let msg = para.join(" ");
            let msg = msg.strip_prefix("error: ").unwrap_or(&msg);
            eprintln!("auditctl: {msg} (see auditctl --help)");
            ExitCode::from(2)
        }
    }
}
