//! `workload-events N [SEED]`: prints N events of the workload generator
//! that `auditctl demo` and `auditctl bench` use, as the JSON Lines
//! `auditctl append` reads. The PostgreSQL peer script
//! (`benches/peers/postgres/run.sh`) feeds the same file to both systems.

use std::io::Write;

use audit_canon::AttrValue;
use audit_cli::Workload;
use serde_json::{Map, Value, json};

fn attr(v: &AttrValue) -> Value {
    match v {
        AttrValue::Null => Value::Null,
        AttrValue::Bool(b) => Value::Bool(*b),
        AttrValue::Integer(i) => {
            let n = i.get();
            u64::try_from(n)
                .map(Value::from)
                .or_else(|_| i64::try_from(n).map(Value::from))
                .unwrap_or(Value::Null)
        }
        AttrValue::String(s) => Value::String(s.clone()),
        AttrValue::Array(a) => Value::Array(a.iter().map(attr).collect()),
        AttrValue::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), attr(v))).collect::<Map<_, _>>())
        }
    }
}

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(Ok(n)), seed) = (args.next().map(|s| s.parse::<u64>()), args.next()) else {
        eprintln!("usage: workload-events N [SEED]");
        return std::process::ExitCode::from(2);
    };
    let seed = seed.and_then(|s| s.parse().ok()).unwrap_or(2026);
    let mut w = Workload::new(seed);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for _ in 0..n {
        let e = w.next_event();
        let attrs: Map<String, Value> = e.attrs.iter().map(|(k, v)| (k.clone(), attr(v))).collect();
        let line = json!({
            "stream": e.stream,
            "kind": e.kind,
            "actor": e.actor,
            "subject": e.subject,
            "reason": e.reason,
            "attrs": attrs,
            "ts_ms": e.ts_ms,
        });
        if writeln!(out, "{line}").is_err() {
            return std::process::ExitCode::from(1);
        }
    }
    if out.flush().is_err() {
        return std::process::ExitCode::from(1);
    }
    std::process::ExitCode::SUCCESS
}
