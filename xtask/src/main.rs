//! `cargo xtask`: project automation (rust-analyzer style). Commands:
//! `vectors [--check]` regenerates or checks `vectors/`; `public-api
//! [--check]` regenerates or checks the API snapshots in `public-api/`;
//! `fuzz --smoke | --time SECS [--jobs N] [TARGET...]` runs the `cargo fuzz` targets.

mod bundle;
mod fuzz;
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
        ["fuzz", rest @ ..] => fuzz::run(&root(), rest),
        _ => {
            eprintln!(
                "usage: cargo xtask vectors [--check] | cargo xtask public-api [--check] \
                 | cargo xtask fuzz --smoke | --time SECS [--jobs N] [TARGET...]"
            );
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

/// Writes `text` to `path` (check mode: records `path` in `stale` when it
/// differs instead).
fn sync_text(path: &std::path::Path, text: &str, check: bool, stale: &mut Vec<String>) -> Result<(), String> {
    if check {
        if std::fs::read_to_string(path).unwrap_or_default() != text {
            stale.push(path.display().to_string());
        }
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// The end of a generate-or-check command: `Ok` with `up_to_date` said in
/// check mode, or the stale files and the command that regenerates them.
fn finish(stale: &[String], check: bool, up_to_date: &str, regen: &str) -> Result<(), String> {
    if stale.is_empty() {
        if check {
            println!("{up_to_date}");
        }
        return Ok(());
    }
    Err(format!(
        "{} differ from what the code produces; run `{regen}` and review the diff",
        stale.join(", ")
    ))
}
