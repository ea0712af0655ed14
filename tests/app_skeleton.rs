//! The walking skeleton, in-process: a signed delivery comes in, seamguard
//! authenticates as the App, and one `seamguard` check run appears on the
//! pull request's head commit.

mod support;

use std::time::Duration;

use support::{FakeGitHub, Seamguard};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn an_opened_pull_request_gets_one_completed_check_run() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.branch_tip("main");
    let head = repo.commit(&[&base], "add a", &[("src/a.rs", Some("fn a() {}\n"))]);
    repo.branch("feature", &head);
    repo.pr(7).head("feature").base("main").open();
    let app = Seamguard::start(&gh).await;

    let status = gh
        .deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    assert_eq!(status, 202);

    gh.wait_for(
        "a completed seamguard check run",
        |w| w.check_runs_named("seamguard").any(|r| r.is_completed()),
        WAIT,
    )
    .await;
    let runs: Vec<_> = gh.world().check_runs_named("seamguard").cloned().collect();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let run = &runs[0];
    assert_eq!(run.head_sha, head);
    assert_eq!(run.conclusion.as_deref(), Some("success"));
    assert_eq!(run.app_id, gh.app_id());
    let summary = run.summary();
    assert!(summary.contains("Conflict markers"), "{summary}");
    assert!(summary.contains("Merge sources"), "{summary}");
    app.stop().await;
}
