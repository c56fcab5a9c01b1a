//! The `auditctl` binary: parses the command line and exits with the code
//! of FORMAT-v1.md section 7.

use std::process::ExitCode;

use clap::Parser as _;

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
