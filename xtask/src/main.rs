//! `cargo xtask`: project automation (rust-analyzer style). Commands:
//! `vectors [--check]` regenerates or checks `vectors/`; `public-api
//! [--check]` regenerates or checks the API snapshots in `public-api/`.

mod bundle;
mod public_api;
mod reference;
mod vectors;
mod wal;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["vectors"] => vectors::run(&root(), false),
        ["vectors", "--check"] => vectors::run(&root(), true),
        ["public-api"] => public_api::run(&root(), false),
        ["public-api", "--check"] => public_api::run(&root(), true),
        _ => {
            eprintln!("usage: cargo xtask vectors [--check] | cargo xtask public-api [--check]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}
