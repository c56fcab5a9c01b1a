//! Records the commit and the compiler for `auditctl bench --json`.

fn main() {
    let run = |cmd: &str, args: &[&str]| {
        std::process::Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned())
    };
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    println!("cargo:rustc-env=AUDITCTL_RUSTC={}", run(&rustc, &["--version"]));
    println!(
        "cargo:rustc-env=AUDITCTL_COMMIT={}",
        run("git", &["rev-parse", "--short=12", "HEAD"])
    );
    println!("cargo:rerun-if-changed=build.rs");
    // The commit changes without any source file changing: run again when
    // HEAD moves (a checkout) or the branch it names moves (a commit).
    let git_path = |p: &str| {
        let path = run("git", &["rev-parse", "--git-path", p]);
        std::fs::canonicalize(path).ok()
    };
    let mut watch = vec![git_path("HEAD"), git_path("packed-refs")];
    let branch = run("git", &["symbolic-ref", "-q", "HEAD"]);
    if branch != "unknown" {
        watch.push(git_path(&branch));
    }
    for path in watch.into_iter().flatten() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
