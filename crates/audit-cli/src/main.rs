//! The `auditctl` binary: parses the command line and exits with the code
//! of FORMAT-v1.md section 7.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    audit_cli::run(audit_cli::Cli::parse()).into()
}
