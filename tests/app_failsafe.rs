//! Guards fail safe, and say so: a panic inside a guard completes the check
//! run `neutral` with the panic message (or `failure` where the repository
//! fails closed), and the server keeps serving. One test per process area:
//! failpoints are process-wide, so this file runs its cases in sequence.

mod support;

use seamguard::failpoint::{self, Action};
use support::flows::{WAIT, completed_run, feature_pr};
use support::{FakeGitHub, Seamguard};

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
    let head = feature_pr(&repo, 1, "one", &["automerge"]);
    gh.deliver(&repo.pull_request_event("opened", 1), &app.webhook())
        .await;
    let run = completed_run(&gh, &head).await;
    assert_eq!(run.conclusion.as_deref(), Some("neutral"));
    assert!(
        run.summary().contains("scanner exploded on purpose"),
        "{}",
        run.summary()
    );
    assert!(run.summary().contains("fails open"), "{}", run.summary());
    assert_eq!(gh.count("PUT", "/pulls/1/merge"), 0);

    // A merge queue's group fails safe the same way.
    let group_head = repo.commit(
        &[&repo.branch_tip("main")],
        "Merge pull request #1 into the queue",
        &[("src/queued.rs", Some("fn q() {}\n"))],
    );
    repo.branch("gh-readonly-queue/main/pr-1-abc", &group_head);
    gh.deliver(
        &repo.merge_group_event("checks_requested", &group_head, "main"),
        &app.webhook(),
    )
    .await;
    let run = completed_run(&gh, &group_head).await;
    assert_eq!(run.conclusion.as_deref(), Some("neutral"));
    assert!(
        run.summary().contains("scanner exploded on purpose"),
        "{}",
        run.summary()
    );

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
    let head = feature_pr(&repo, 2, "two", &["automerge"]);
    gh.deliver(&repo.pull_request_event("opened", 2), &app.webhook())
        .await;
    let run = completed_run(&gh, &head).await;
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert!(run.summary().contains("fails closed"), "{}", run.summary());

    // The server is still serving: with the bug gone, the next PR passes
    // and merges.
    failpoint::disarm("guard.conflict_markers");
    let head = feature_pr(&repo, 3, "three", &["automerge"]);
    gh.deliver(&repo.pull_request_event("opened", 3), &app.webhook())
        .await;
    let run = completed_run(&gh, &head).await;
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
