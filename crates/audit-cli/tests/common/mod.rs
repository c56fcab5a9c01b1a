//! Shared by the CLI tests: running the `auditctl` binary as a user does.
#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};

/// Runs `auditctl args` with `stdin` on its standard input.
///
/// Stdin is written on its own thread while the output is read, and a
/// command that exits without reading all of it (a refused configuration)
/// is no test failure: its exit code and output say what happened.
pub fn auditctl(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = spawn(args, Stdio::piped());
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || match pipe.write_all(&input) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e),
        _ => Ok(()),
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("stdin writer").expect("write stdin");
    out
}

/// Starts `auditctl args` with `stdin`, its stdout and stderr piped.
pub fn spawn(args: &[&str], stdin: Stdio) -> Child {
    Command::new(env!("CARGO_BIN_EXE_auditctl"))
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn auditctl")
}

/// Bytes as text, lossily.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
