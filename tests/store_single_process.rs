//! The embedded store is single-process: a second `seamguard serve` on the
//! same SQLite file refuses to start, naming `DATABASE_URL` and the process
//! that holds it, with exit status 2; the first keeps its work.

mod support;

use std::process::{Command, Stdio};

use support::FakeGitHub;
use support::binary::{self, Process};
use support::flows::{completed_run, feature_pr};

#[tokio::test(flavor = "multi_thread")]
async fn a_second_process_on_the_same_sqlite_file_refuses_to_start() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &[]);
    let dir = tempfile::tempdir().unwrap();
    let env = binary::env(&gh, dir.path());
    let mut first = Process::spawn(&env);

    let second = Command::new(env!("CARGO_BIN_EXE_seamguard"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("LOG_FORMAT", "pretty")
        .stdin(Stdio::null())
        .output()
        .expect("run a second seamguard");
    assert_eq!(
        second.status.code(),
        Some(2),
        "refused, as a start-up error"
    );
    let stderr = String::from_utf8_lossy(&second.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("seamguard: "))
        .unwrap_or_else(|| panic!("no one-line refusal in:\n{stderr}"));
    assert!(line.contains("DATABASE_URL"), "{line}");
    assert!(
        line.contains(&format!("pid {}", first.child.id())),
        "names the other process: {line}"
    );
    assert!(!stderr.contains("listening on"), "{stderr}");

    // The first one is untouched and still does its work, once.
    assert_eq!(
        gh.deliver(&repo.pull_request_event("opened", 7), &first.webhook())
            .await,
        202
    );
    completed_run(&gh, &head).await;
    assert_eq!(gh.world().check_runs_named("seamguard").count(), 1);

    // Once it is gone (even by SIGKILL), the file is free again.
    first.kill9();
    let again = Process::spawn(&env);
    drop(again);
}
