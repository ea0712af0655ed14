//! The real gate and the merger, against the fake GitHub: required checks
//! read from protection and rulesets at every evaluation, a late check
//! waited for, pending wordings retried (bounded), a merge never attempted
//! twice blindly, and a moved head evaluated again.

mod support;

use support::flows::{WAIT, completed_run, feature_pr, merged};
use support::{FakeGitHub, Seamguard, Sha, World};

fn merge_calls(gh: &FakeGitHub, n: u64) -> Vec<serde_json::Value> {
    gh.requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with(&format!("/pulls/{n}/merge")))
        .map(|r| r.body.unwrap_or_default())
        .collect()
}

fn seamguard_on<'a>(w: &'a World, sha: &Sha) -> Option<&'a support::CheckRun> {
    w.check_runs_named("seamguard").find(|r| &r.head_sha == sha)
}

#[tokio::test]
async fn a_late_check_is_waited_for_then_one_pinned_merge() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.ruleset(42)
        .on("~DEFAULT_BRANCH")
        .requires(&["lint", "test"]);
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    let lint = repo.check_run(&head, "lint").completed("success");
    let app = Seamguard::start(&gh).await;

    gh.deliver(
        &repo.check_run_event("completed", lint.id().0),
        &app.webhook(),
    )
    .await;
    gh.wait_for(
        "the gate read with test missing",
        |w| {
            seamguard_on(w, &head)
                .is_some_and(|r| r.is_completed() && r.summary().contains("not registered yet"))
        },
        WAIT,
    )
    .await;
    assert!(
        merge_calls(&gh, 7).is_empty(),
        "no merge while test has not registered"
    );

    // `test` registers late, runs, then passes.
    let test = repo.check_run(&head, "test").in_progress();
    gh.deliver(
        &repo.check_run_event("created", test.id().0),
        &app.webhook(),
    )
    .await;
    let test = test.completed("success");
    gh.deliver(
        &repo.check_run_event("completed", test.id().0),
        &app.webhook(),
    )
    .await;
    gh.wait_for("the merge", |w| merged(w, "acme/app", 7), WAIT)
        .await;

    let calls = merge_calls(&gh, 7);
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0]["sha"], head.as_str(), "the head SHA is pinned");
    assert_eq!(calls[0]["merge_method"], "squash");
    app.stop().await;
}

#[tokio::test]
async fn a_failed_required_check_blocks_the_merge() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.protection("main").requires(&["test"]);
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    let test = repo.check_run(&head, "test").completed("failure");
    let app = Seamguard::start(&gh).await;
    gh.deliver(
        &repo.check_run_event("completed", test.id().0),
        &app.webhook(),
    )
    .await;
    let run = completed_run(&gh, &head).await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "guards pass; the gate is separate"
    );
    assert!(
        run.summary()
            .contains("blocked: required check failed: `test`"),
        "{}",
        run.summary()
    );
    assert!(merge_calls(&gh, 7).is_empty());
    app.stop().await;
}

async fn merged_after_pending(wording: &str) -> (FakeGitHub, Sha) {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    let body = serde_json::json!({ "message": wording }).to_string();
    gh.fail_next("PUT /pulls/7/merge", 405, &body).times(2);
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("labeled", 7), &app.webhook())
        .await;
    gh.wait_for("the merge", |w| merged(w, "acme/app", 7), WAIT)
        .await;
    app.stop().await;
    (gh, head)
}

#[tokio::test]
async fn singular_pending_wording_twice_then_merged() {
    let (gh, head) = merged_after_pending(r#"Required status check "test" is expected."#).await;
    let calls = merge_calls(&gh, 7);
    assert_eq!(calls.len(), 3, "two pending answers, then the merge");
    assert!(calls.iter().all(|c| c["sha"] == head.as_str()));
}

#[tokio::test]
async fn plural_pending_wording_is_retried_too() {
    let (gh, _) = merged_after_pending("2 of 3 required status checks are expected.").await;
    assert_eq!(merge_calls(&gh, 7).len(), 3);
}

#[tokio::test]
async fn permanent_pending_stops_at_max_attempts_and_says_so() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.push(
        "main",
        "config",
        &[(".github/seamguard.yml", Some("merge:\n  max_attempts: 3\n"))],
    );
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    gh.fail_next(
        "PUT /pulls/7/merge",
        405,
        r#"{"message":"Required status check \"deploy\" is expected."}"#,
    )
    .always();
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("labeled", 7), &app.webhook())
        .await;
    gh.wait_for(
        "the summary saying it stopped",
        |w| seamguard_on(w, &head).is_some_and(|r| r.summary().contains("stopped trying")),
        WAIT,
    )
    .await;
    // No further attempt comes; then a new event for the same head must
    // not restart the attempts either.
    gh.wait_idle().await;
    assert_eq!(merge_calls(&gh, 7).len(), 3, "nothing after the last");
    gh.deliver(&repo.pull_request_event("labeled", 7), &app.webhook())
        .await;
    gh.wait_idle().await;
    assert_eq!(
        merge_calls(&gh, 7).len(),
        3,
        "exactly max_attempts merge calls"
    );
    let run = gh
        .world()
        .check_runs_named("seamguard")
        .next()
        .cloned()
        .unwrap();
    assert!(
        run.summary().contains("stopped after 3 merge attempts"),
        "{}",
        run.summary()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_502_after_github_merged_is_not_merged_twice() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    feature_pr(&repo, 7, "feature", &["automerge"]);
    gh.act_then_fail_next("PUT /pulls/7/merge", 502, "<html>502 Bad Gateway</html>");
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("labeled", 7), &app.webhook())
        .await;
    gh.wait_for("the merge", |w| merged(w, "acme/app", 7), WAIT)
        .await;
    // The pull request is read after the 502...
    gh.wait_for(
        "the read after the ambiguous merge",
        |w| w.count("GET", "/repos/acme/app/pulls/7") >= 2,
        WAIT,
    )
    .await;
    gh.wait_idle().await;
    // ...and nothing is merged again.
    assert_eq!(merge_calls(&gh, 7).len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_moved_head_is_evaluated_again_from_scratch() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let first = feature_pr(&repo, 7, "feature", &["automerge"]);
    // Just before the merge call lands, someone pushes to the branch.
    let pushed = repo.commit(&[&first], "one more", &[("src/g.rs", Some("fn g() {}\n"))]);
    let p = pushed.clone();
    gh.before_next("PUT /pulls/7/merge", move |w| {
        w.repo_mut("acme/app").set_branch("feature", &p);
    });
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("labeled", 7), &app.webhook())
        .await;
    gh.wait_for("the merge", |w| merged(w, "acme/app", 7), WAIT)
        .await;
    let calls = merge_calls(&gh, 7);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_eq!(calls[0]["sha"], first.as_str());
    assert_eq!(
        calls[1]["sha"],
        pushed.as_str(),
        "the new head, evaluated again"
    );
    assert!(gh.with_world(|w| seamguard_on(w, &pushed).is_some_and(|r| r.is_completed())));
    app.stop().await;
}

#[tokio::test]
async fn forbidden_protection_falls_back_to_rulesets() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.protection_forbidden("main");
    repo.ruleset(7).on("refs/heads/main").requires(&["test"]);
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    let run = completed_run(&gh, &head).await;
    let summary = run.summary();
    // Which ruleset is optional in GitHub's answer (the fake leaves it out).
    assert!(summary.contains("| `test` | ruleset"), "{summary}");
    assert!(summary.contains("could not be read"), "{summary}");
    assert!(merge_calls(&gh, 7).is_empty(), "waiting for test");

    // test passes: the ruleset gate opens.
    let test = repo.check_run(&head, "test").completed("success");
    gh.deliver(
        &repo.check_run_event("completed", test.id().0),
        &app.webhook(),
    )
    .await;
    gh.wait_for("the merge", |w| merged(w, "acme/app", 7), WAIT)
        .await;
    app.stop().await;
}

#[tokio::test]
async fn drafts_unlabelled_and_closed_prs_are_never_merged() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.branch_tip("main");
    let a = repo.commit(&[&base], "a", &[("a", Some("a\n"))]);
    repo.branch("a", &a);
    repo.pr(1)
        .head("a")
        .base("main")
        .label("automerge")
        .draft()
        .open();
    let b = repo.commit(&[&base], "b", &[("b", Some("b\n"))]);
    repo.branch("b", &b);
    repo.pr(2).head("b").base("main").open();
    let app = Seamguard::start(&gh).await;
    for n in [1, 2] {
        gh.deliver(&repo.pull_request_event("opened", n), &app.webhook())
            .await;
    }
    gh.wait_for(
        "two completed runs",
        |w| {
            w.check_runs_named("seamguard")
                .filter(|r| r.is_completed())
                .count()
                == 2
        },
        WAIT,
    )
    .await;
    assert!(merge_calls(&gh, 1).is_empty() && merge_calls(&gh, 2).is_empty());
    let summaries: Vec<String> = gh
        .world()
        .check_runs_named("seamguard")
        .map(|r| r.summary().to_owned())
        .collect();
    assert!(
        summaries.iter().any(|s| s.contains("draft")),
        "{summaries:#?}"
    );
    assert!(
        summaries
            .iter()
            .any(|s| s.contains("add the `automerge` label")),
        "{summaries:#?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_merge_method_the_repository_turned_off_is_said_before_any_merge_call() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.protection("main").requires(&["test"]);
    repo.disallow_merge_method("squash"); // seamguard's default method
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    let test = repo.check_run(&head, "test").completed("success");
    let app = Seamguard::start(&gh).await;
    gh.deliver(
        &repo.check_run_event("completed", test.id().0),
        &app.webhook(),
    )
    .await;
    let run = completed_run(&gh, &head).await;
    assert!(
        run.summary().contains(
            "the repository does not allow `squash` merges (it allows `merge`, `rebase`)"
        ),
        "{}",
        run.summary()
    );
    assert!(
        merge_calls(&gh, 7).is_empty(),
        "no merge call collects GitHub's refusal"
    );
    assert!(!merged(&gh.world(), "acme/app", 7));
    app.stop().await;
}
