//! Helpers for the criterion benches: the plain-serde floor record and the
//! same-run ratio report read from criterion's estimates.

use std::path::PathBuf;

use audit_canon::{AuditRecord, PrevHash};

pub use audit_cli::{Floor, floor_of};

/// The record of `event` at chain position `seq`/`prev` of `writer_id`
/// (what the emitter would build, without a sink or scrubbing).
pub fn record_of(event: audit_chain::Event, writer_id: &str, seq: u64, prev: PrevHash) -> AuditRecord {
    AuditRecord::builder()
        .ts_ms(event.ts_ms.unwrap_or(0))
        .writer_id(writer_id)
        .seq(seq)
        .stream(event.stream)
        .kind(event.kind)
        .actor(event.actor)
        .subject(event.subject)
        .reason(event.reason)
        .attrs(event.attrs)
        .prev(prev)
        .build()
        .expect("workload events make valid records")
}

/// Where criterion keeps its results for this build.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("criterion")
}

/// Median time of one iteration of `group/function` in this run, in ns.
fn median_ns(group: &str, function: &str) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(function)
        .join("new/estimates.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    v["median"]["point_estimate"].as_f64()
}

/// Prints, for each `(ours, floor, target)`, the records per second of both,
/// their ratio and whether it meets the target.
pub fn report(group: &str, batch: usize, pairs: &[(&str, &str, f64)]) {
    println!("\n{group}: same-run ratios (median of criterion samples)");
    println!(
        "{:<10} {:>14} {:>14} {:>7} {:>7}  pass",
        "path", "ours rec/s", "floor rec/s", "ratio", "target"
    );
    for (ours, floor, target) in pairs {
        let (Some(a), Some(b)) = (median_ns(group, ours), median_ns(group, floor)) else {
            println!("{ours:<10} (no estimates: run without --test / a filter that skips it)");
            continue;
        };
        let rate = |ns: f64| batch as f64 / (ns / 1e9);
        let ratio = b / a;
        println!(
            "{ours:<10} {:>14.0} {:>14.0} {:>7.2} {:>7.2}  {}",
            rate(a),
            rate(b),
            ratio,
            target,
            if ratio >= *target { "yes" } else { "NO" }
        );
    }
}

/// One same-run comparison of a path with its floor.
#[derive(Debug, Clone, Copy)]
pub struct Paired {
    /// Median time of one batch of our path, ns.
    pub ours_ns: f64,
    /// Median time of one batch of the floor, ns.
    pub floor_ns: f64,
    /// Median over rounds of floor time / our time (1.0 = as fast as the floor).
    pub ratio: f64,
}

/// Times `ours` and `floor` alternately, `rounds` times each, so both see
/// the same machine load, and reports medians. On a shared, noisy machine
/// this is far steadier than comparing two separately timed benchmarks.
pub fn paired(rounds: usize, mut ours: impl FnMut(), mut floor: impl FnMut()) -> Paired {
    use std::time::Instant;
    // Warm caches and branch predictors for both.
    for _ in 0..3 {
        ours();
        floor();
    }
    let (mut a, mut b, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..rounds {
        // Alternate which goes first, so neither always follows the other.
        let (ta, tb) = if i % 2 == 0 {
            let t = Instant::now();
            ours();
            let ta = t.elapsed().as_nanos() as f64;
            let t = Instant::now();
            floor();
            (ta, t.elapsed().as_nanos() as f64)
        } else {
            let t = Instant::now();
            floor();
            let tb = t.elapsed().as_nanos() as f64;
            let t = Instant::now();
            ours();
            (t.elapsed().as_nanos() as f64, tb)
        };
        a.push(ta);
        b.push(tb);
        r.push(tb / ta);
    }
    Paired {
        ours_ns: median(&mut a),
        floor_ns: median(&mut b),
        ratio: median(&mut r),
    }
}

/// The median of `v` (sorts it).
pub fn median(v: &mut [f64]) -> f64 {
    percentile(v, 0.5)
}

/// The `p` quantile of `v`, 0.0..=1.0, nearest rank (sorts it).
pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or(f64::NAN)
}

/// Whether criterion was started in one of its non-measuring modes
/// (`--test`, `--list`, `--profile-time`), where our own reports are skipped.
pub fn criterion_mode_only() -> bool {
    std::env::args().any(|a| a == "--test" || a == "--list" || a.starts_with("--profile-time"))
}

/// Prints one row of a paired comparison.
pub fn print_paired(name: &str, batch: usize, p: &Paired, target: f64) {
    let rate = |ns: f64| batch as f64 / (ns / 1e9);
    println!(
        "{name:<10} {:>14.0} {:>14.0} {:>7.2} {:>7.2}  {}",
        rate(p.ours_ns),
        rate(p.floor_ns),
        p.ratio,
        target,
        if p.ratio >= target { "yes" } else { "NO" }
    );
}
