//! Records the git commit being built as `SEAMGUARD_GIT_SHA`, for
//! `seamguard --version` and the `seamguard_build_info` metric. A build
//! outside a git checkout (a crates.io tarball) says `unknown`, unless the
//! variable is already set by the packager.
//!
//! The hard part is rebuilding exactly when `HEAD` moves, and never
//! otherwise. Cargo reruns a build script on every build when a
//! `rerun-if-changed` path does not exist, and a rerun recompiles the whole
//! crate; so only files that exist are named. A branch's ref is either a
//! loose file (`refs/heads/main`, written by every commit) or a line of
//! `packed-refs` (after `git gc`; a repository made with `git init` has no
//! `packed-refs` at all), so both are watched when present, and so is
//! `HEAD`'s reflog, which every commit, reset or checkout appends to: a
//! commit on a branch that was packed writes a new loose file this script
//! did not name, and the reflog still notices it.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Asks cargo to rerun this script when `path` (inside the git directory)
/// changes, if it exists.
fn watch(path: &str) {
    if let Some(p) = git(&["rev-parse", "--git-path", path])
        && Path::new(&p).exists()
    {
        println!("cargo:rerun-if-changed={p}");
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=SEAMGUARD_GIT_SHA");
    let sha = std::env::var("SEAMGUARD_GIT_SHA")
        .ok()
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    for path in ["HEAD", "packed-refs", "logs/HEAD"] {
        watch(path);
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watch(&branch);
    }
    println!("cargo:rustc-env=SEAMGUARD_GIT_SHA={sha}");
}
