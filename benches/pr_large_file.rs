//! Memory of `seamguard serve` while it evaluates a pull request that adds
//! a 100 MB file (issue 23, "Pull request content"): the real binary
//! against the tests' fake GitHub on loopback.
//!
//! `cargo bench --bench pr_large_file` (`SEAMGUARD_BENCH_BIN=path` measures
//! another seamguard binary, e.g. the build before a change;
//! `SEAMGUARD_BENCH_MB` changes the file's size). Never part of
//! `cargo test`.
//!
//! The pull request adds `data/huge.txt` ([`HUGE_MB`] MB of text, which
//! GitHub gives no patch for, as for any diff that large) and a small file
//! with a conflict. The server's RSS is sampled every [`RSS_SAMPLE_EVERY`]
//! from the delivery until the check run completes; the kernel's
//! high-water mark (`VmHWM`) is read at the end. The run must fail on the
//! small file's markers (the large file does not hide them); the summary
//! is printed so it shows what it says about the large file.

#[path = "common/rss.rs"]
mod rss;

#[path = "../tests/support/mod.rs"]
mod support;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rss::{PeakSampler, mib, vm_kib};
use support::FakeGitHub;

/// The size of the added file, in MB (10^6 bytes).
const HUGE_MB: usize = 100;
/// How often the server's RSS is sampled.
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(5);
/// Names another `seamguard` binary to measure instead of this build's.
const BINARY_VAR: &str = "SEAMGUARD_BENCH_BIN";

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let size_mb: usize = std::env::var("SEAMGUARD_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(HUGE_MB);
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.push("main", "readme", &[("README.md", Some("# App\n"))]);
    // Text lines of 100 bytes, some marker-like (`<<`, `>>`): a file the
    // scan would have to read whole if it read it at all.
    let line = format!("{:<96}|\n", "<< data >> row, == more == data");
    let mut huge = String::with_capacity(size_mb * 1_000_000);
    while huge.len() + line.len() <= size_mb * 1_000_000 {
        huge.push_str(&line);
    }
    let conflict = "top\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> develop\n";
    let head = repo.commit(
        &[&base],
        "add data",
        &[
            ("data/huge.txt", Some(&huge)),
            ("src/merged.txt", Some(conflict)),
        ],
    );
    drop(huge);
    repo.mark_large("data/huge.txt");
    repo.branch("data", &head);
    repo.pr(1).head("data").base("main").open();

    let dir = tempfile::tempdir()?;
    let mut env = support::binary::env(&gh, dir.path());
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    for (k, v) in &mut env {
        match k.as_str() {
            "LISTEN_ADDR" => *v = format!("127.0.0.1:{port}"),
            "RUST_LOG" => *v = "warn".to_owned(),
            _ => {}
        }
    }
    let binary: PathBuf = std::env::var_os(BINARY_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_seamguard")));
    let mut child = Command::new(&binary)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = child.id();
    let http = reqwest::Client::new();
    let started = Instant::now();
    while http
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .is_err()
    {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "seamguard did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = vm_kib(pid, "VmRSS")?;

    let sampler = PeakSampler::start(pid, RSS_SAMPLE_EVERY, idle);
    let t0 = Instant::now();
    let status = repo
        .pull_request_event("opened", 1)
        .send(
            &format!("http://127.0.0.1:{port}/webhook"),
            support::WEBHOOK_SECRET,
        )
        .await
        .status();
    anyhow::ensure!(status.as_u16() == 202, "delivery answered {status}");
    let run = support::flows::completed_run(&gh, &head).await;
    let took = t0.elapsed();
    let peak = sampler.stop();
    let hwm = vm_kib(pid, "VmHWM")?;
    let _ = child.kill();
    let _ = child.wait();

    println!("binary: {}", binary.display());
    println!("added file: {size_mb} MB (no patch); evaluation took {took:.2?}");
    println!(
        "RSS idle {:.1} MiB, peak sampled {:.1} MiB, VmHWM {:.1} MiB",
        mib(idle),
        mib(peak),
        mib(hwm)
    );
    println!(
        "conclusion: {}; annotations: {}",
        run.conclusion.as_deref().unwrap_or("none"),
        run.annotations
            .iter()
            .map(|a| format!("{}:{}", a.path, a.start_line))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let summary = run.summary();
    for line in summary
        .lines()
        .filter(|l| l.contains("Conflict markers") || l.contains("huge.txt") || l.contains("scan"))
    {
        println!("summary: {line}");
    }
    anyhow::ensure!(
        run.conclusion.as_deref() == Some("failure")
            && run.annotations.iter().any(|a| a.path == "src/merged.txt"),
        "the small file's markers must be found: {summary}"
    );
    Ok(())
}
