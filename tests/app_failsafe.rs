//! Guards fail safe, and say so: a panic inside a guard completes the check
//! run `neutral` with the panic message (or `failure` where the repository
//! fails closed), and the server keeps serving. One test per process area:
//! failpoints are process-wide, so this file runs its cases in sequence.

mod support;

use std::time::Duration;

use seamguard::failpoint::{self, Action};
use support::{FakeGitHub, RepoHandle, Seamguard, Sha};

const WAIT: Duration = Duration::from_secs(30);

fn pr(repo: &RepoHandle, n: u64, branch: &str) -> Sha {
    let base = repo.branch_tip("main");
    let head = repo.commit(&[&base], branch, &[(branch, Some("x\n"))]);
    repo.branch(branch, &head);
    repo.pr(n)
        .head(branch)
        .base("main")
        .label("automerge")
        .open();
    head
}

async fn completed(gh: &FakeGitHub, head: &Sha) -> support::CheckRun {
    let h = head.clone();
    gh.wait_for(
        "a completed seamguard run",
        move |w| {
            w.check_runs_named("seamguard")
                .any(|r| r.head_sha == h && r.is_completed())
        },
        WAIT,
    )
    .await;
    gh.world()
        .check_runs_named("seamguard")
        .find(|r| &r.head_sha == head)
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn a_panicking_guard_fails_open_or_closed_and_the_server_keeps_serving() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let app = Seamguard::start(&gh).await;

    // Fail open (the default): neutral, with the panic in the summary, and
    // never merged.
    failpoint::arm(
        "guard.conflict_markers",
        Action::Panic("scanner exploded on purpose".into()),
    );
    let head = pr(&repo, 1, "one");
    gh.deliver(&repo.pull_request_event("opened", 1), &app.webhook())
        .await;
    let run = completed(&gh, &head).await;
    assert_eq!(run.conclusion.as_deref(), Some("neutral"));
    assert!(
        run.summary().contains("scanner exploded on purpose"),
        "{}",
        run.summary()
    );
    assert!(run.summary().contains("fails open"), "{}", run.summary());
    assert_eq!(gh.count("PUT", "/pulls/1/merge"), 0);

    // Fail closed where the repository asks for it.
    let base = repo.push(
        "main",
        "fail closed",
        &[(
            ".github/seamguard.yml",
            Some("on_internal_error: failure\n"),
        )],
    );
    let _ = base;
    let head = pr(&repo, 2, "two");
    gh.deliver(&repo.pull_request_event("opened", 2), &app.webhook())
        .await;
    let run = completed(&gh, &head).await;
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert!(run.summary().contains("fails closed"), "{}", run.summary());

    // The server is still serving: with the bug gone, the next PR passes
    // and merges.
    failpoint::disarm("guard.conflict_markers");
    let head = pr(&repo, 3, "three");
    gh.deliver(&repo.pull_request_event("opened", 3), &app.webhook())
        .await;
    let run = completed(&gh, &head).await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "{}",
        run.summary()
    );
    gh.wait_for("the merge", |w| w.repo("acme/app").pulls[&3].merged, WAIT)
        .await;
    app.stop().await;
}
