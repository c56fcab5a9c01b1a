//! `cargo xtask fuzz [--smoke | --time SECS] [--jobs N] [TARGET...]`:
//! runs the `cargo fuzz` targets under `fuzz/`, each for a fixed time on
//! one core (`N` at once, all cores by default), and prints one row per target:
//! seconds, executions, corpus size and result.
//!
//! Every run loads the target's seeds (made from `vectors/` by `cargo
//! xtask vectors`, or committed by hand where the README says so) and its
//! regressions in `fuzz/regressions/<target>/` (minimized crashers, kept
//! forever), and grows the untracked working corpus in `fuzz/corpus/`.
//! A crash, leak, timeout or out-of-memory fails the command and names the
//! input libFuzzer wrote.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Every target with the seed directories (relative to the workspace root)
/// it starts from, besides `fuzz/regressions/<target>`.
const TARGETS: &[(&str, &[&str])] = &[
    ("canonicalize", &["fuzz/seeds/canonicalize"]),
    ("record", &["fuzz/seeds/canonicalize"]),
    ("frame", &["fuzz/seeds/segment", "vectors/wal/*"]),
    ("segment", &["fuzz/seeds/segment", "vectors/wal/*"]),
    ("checkpoint_line", &["fuzz/seeds/checkpoint_line"]),
    // Stored lines are one JSON form of a signed checkpoint.
    ("checkpoint_json", &["fuzz/seeds/checkpoint_line"]),
    ("manifest", &["fuzz/seeds/manifest"]),
    // No seeds: it mutates the committed manifest's numbers by input bytes.
    ("manifest_fields", &[]),
    ("proof", &["fuzz/seeds/proof"]),
    ("inclusion_proof", &["fuzz/seeds/inclusion_proof"]),
    ("consistency_proof", &["fuzz/seeds/consistency_proof"]),
    // Canonical records are attrs objects too (nested, every value kind).
    ("attrs", &["fuzz/seeds/canonicalize"]),
];

/// Seconds per target of `--smoke`.
const SMOKE_SECS: u64 = 30;

/// One target's run.
struct Outcome {
    target: &'static str,
    secs: u64,
    execs: Option<u64>,
    corpus: Option<u64>,
    error: Option<String>,
}

pub(crate) fn run(root: &Path, args: &[&str]) -> Result<(), String> {
    let mut secs = None;
    let mut jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut names = Vec::new();
    let mut it = args.iter();
    while let Some(&a) = it.next() {
        match a {
            "--smoke" => secs = Some(SMOKE_SECS),
            "--time" => {
                let v = it.next().ok_or("--time needs a number of seconds")?;
                secs = Some(
                    v.parse()
                        .map_err(|_| format!("--time {v:?}: not a number of seconds"))?,
                );
            }
            "--jobs" => {
                let v = it.next().ok_or("--jobs needs a number")?;
                jobs = v
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("--jobs {v:?}: not a positive number"))?;
            }
            t => {
                let known = TARGETS.iter().find(|(n, _)| *n == t).ok_or_else(|| {
                    let all: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
                    format!("unknown fuzz target {t:?} (targets: {})", all.join(", "))
                })?;
                names.push(*known);
            }
        }
    }
    let secs = secs.ok_or("say how long: --smoke (30 s per target) or --time SECS")?;
    if names.is_empty() {
        names = TARGETS.to_vec();
    }

    // One build for all targets, so a target's time is spent fuzzing.
    println!("building the fuzz targets (cargo fuzz build)");
    let status = fuzz_command(root)
        .arg("build")
        .status()
        .map_err(|e| format!("cargo fuzz: {e} (install it with `cargo install --locked cargo-fuzz`)"))?;
    if !status.success() {
        return Err(format!("cargo fuzz build failed: {status}"));
    }

    let logs = root.join("target/fuzz-logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let jobs = jobs.min(names.len());
    println!(
        "fuzzing {} targets for {secs} s each, {jobs} at a time; logs in {}",
        names.len(),
        logs.display()
    );
    let queue = Mutex::new(names.into_iter());
    let outcomes = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let next = queue.lock().map(|mut q| q.next()).ok().flatten();
                    let Some((target, seeds)) = next else { break };
                    let o = fuzz_one(root, &logs, target, seeds, secs);
                    println!("  {target}: {}", o.error.as_deref().unwrap_or("ok"));
                    if let Ok(mut v) = outcomes.lock() {
                        v.push(o);
                    }
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().map_err(|_| "a fuzz thread panicked")?;
    outcomes.sort_by_key(|o| TARGETS.iter().position(|(n, _)| *n == o.target));

    let show = |v: Option<u64>| v.map_or("?".to_owned(), |n| n.to_string());
    println!("\n| target | seconds | executions | corpus | result |");
    println!("|---|---:|---:|---:|---|");
    for o in &outcomes {
        println!(
            "| {} | {} | {} | {} | {} |",
            o.target,
            o.secs,
            show(o.execs),
            show(o.corpus),
            o.error.as_deref().unwrap_or("no crash, leak or timeout")
        );
    }
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.error.is_some())
        .map(|o| o.target)
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fuzz targets failed: {} (logs in {})",
            failed.join(", "),
            logs.display()
        ))
    }
}

/// `cargo fuzz` run from the workspace root. cargo-fuzz passes nightly
/// flags (`-Zsanitizer`); `RUSTC_BOOTSTRAP=1` lets the pinned stable
/// toolchain take them, for this command only.
fn fuzz_command(root: &Path) -> Command {
    let mut c = Command::new("cargo");
    c.current_dir(root).env("RUSTC_BOOTSTRAP", "1").arg("fuzz");
    c
}

/// The seed directories of a target, with `dir/*` expanded.
fn seed_dirs(root: &Path, target: &str, seeds: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for s in seeds {
        if let Some(parent) = s.strip_suffix("/*") {
            let mut subs: Vec<PathBuf> = std::fs::read_dir(root.join(parent))
                .into_iter()
                .flatten()
                .filter_map(|e| Some(e.ok()?.path()))
                .filter(|p| p.is_dir())
                .collect();
            subs.sort();
            out.extend(subs);
        } else {
            out.push(root.join(s));
        }
    }
    let regressions = root.join("fuzz/regressions").join(target);
    if regressions.is_dir() {
        out.push(regressions);
    }
    out
}

fn fuzz_one(root: &Path, logs: &Path, target: &'static str, seeds: &[&str], secs: u64) -> Outcome {
    let mut o = Outcome {
        target,
        secs,
        execs: None,
        corpus: None,
        error: None,
    };
    let corpus = root.join("fuzz/corpus").join(target);
    if let Err(e) = std::fs::create_dir_all(&corpus) {
        o.error = Some(format!("{}: {e}", corpus.display()));
        return o;
    }
    let log = logs.join(format!("{target}.log"));
    let out = fuzz_command(root)
        .args(["run", target])
        .arg(&corpus)
        .args(seed_dirs(root, target, seeds))
        .arg("--")
        .arg(format!("-max_total_time={secs}"))
        .args(["-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1"])
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            o.error = Some(format!("cargo fuzz: {e}"));
            return o;
        }
    };
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let _ = std::fs::write(&log, text.as_bytes());
    o.execs = stat(&text, "stat::number_of_executed_units:");
    o.corpus = std::fs::read_dir(&corpus).ok().map(|rd| rd.count() as u64);
    if !out.status.success() {
        let artifact = text
            .lines()
            .find(|l| l.contains("Test unit written to"))
            .map_or(String::new(), |l| format!("; {}", l.trim()));
        o.error = Some(format!(
            "failed ({}){artifact}; see {}",
            out.status,
            log.display()
        ));
    }
    o
}

/// The number after `key` in libFuzzer's final stats.
fn stat(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix(key)?.trim().parse().ok())
}
