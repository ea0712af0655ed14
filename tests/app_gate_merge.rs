//! The real gate and the merger, against the fake GitHub: required checks
//! read from protection and rulesets at every evaluation, a late check
//! waited for, pending wordings retried (bounded), a merge never attempted
//! twice blindly, and a moved head evaluated again.

mod support;

use support::flows::{WAIT, merged};
use support::ready::{merge_async_failed, merge_requests};
use support::{FakeGitHub, Ready, Seamguard, Sha, World, ready};

fn seamguard_on<'a>(w: &'a World, sha: &Sha) -> Option<&'a support::CheckRun> {
    w.check_runs_named("seamguard").find(|r| &r.head_sha == sha)
}

#[tokio::test]
async fn a_late_check_is_waited_for_then_one_pinned_merge() {
    let s = ready().opted_in().open().await;
    let (gh, repo, head) = (&s.gh, &s.repo, &s.head);
    repo.ruleset(42)
        .on("~DEFAULT_BRANCH")
        .requires(&["lint", "test"]);
    let lint = repo.check_run(head, "lint").completed("success");
    let app = s.start().await;

    gh.deliver(
        &repo.check_run_event("completed", lint.id().0),
        &app.webhook(),
    )
    .await;
    gh.wait_for(
        "the gate read with test missing",
        |w| {
            seamguard_on(w, head)
                .is_some_and(|r| r.is_completed() && r.summary().contains("not registered yet"))
        },
        WAIT,
    )
    .await;
    gh.wait_idle().await;
    assert!(
        s.merge_calls().is_empty(),
        "no merge while test has not registered"
    );

    // `test` registers late, runs, then passes.
    let test = repo.check_run(head, "test").in_progress();
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
    s.wait_merged().await;

    let calls = s.merge_calls();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0]["sha"], head.as_str(), "the head SHA is pinned");
    assert_eq!(calls[0]["merge_method"], "squash");
    app.stop().await;
}

#[tokio::test]
async fn a_failed_required_check_blocks_the_merge() {
    let s = ready().opted_in().open().await;
    s.repo.protection("main").requires(&["test"]);
    let test = s.repo.check_run(&s.head, "test").completed("failure");
    let app = s.start().await;
    s.deliver(
        &s.repo.check_run_event("completed", test.id().0),
        &app.webhook(),
    )
    .await;
    let run = s.completed_run().await;
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
    s.wait_idle().await;
    assert!(s.merge_calls().is_empty());
    app.stop().await;
}

/// GitHub answers the merge of #7 with its pending wording `times` times
/// (a check it expects that seamguard's read did not show: GitHub's view
/// of its own gate can run ahead of what its API said a moment before),
/// then merges.
async fn merged_after_pending(wording: &str, times: usize) -> Ready {
    let s = ready().opted_in().open().await;
    s.fail_next(
        "PUT /pulls/7/merge-async",
        400,
        &merge_async_failed(wording),
    )
    .times(times);
    let app = s.start().await;
    s.send(&app, "labeled").await;
    s.wait_merged().await;
    app.stop().await;
    s
}

/// The messages GitHub refused merge requests of #`n` with, in order.
fn refusals(gh: &FakeGitHub, n: u64) -> Vec<String> {
    merge_requests(gh, n)
        .into_iter()
        .filter_map(|r| r.message)
        .collect()
}

#[tokio::test]
async fn singular_pending_wording_twice_then_merged() {
    let s = merged_after_pending(r#"Required status check "test" is expected."#, 2).await;
    let calls = s.merge_calls();
    assert_eq!(calls.len(), 3, "two pending answers, then the merge");
    assert!(calls.iter().all(|c| c["sha"] == s.head.as_str()));
    assert_eq!(
        refusals(&s, 7),
        [r#"Required status check "test" is expected."#; 2]
    );
}

#[tokio::test]
async fn plural_pending_wording_is_retried_too() {
    let s = merged_after_pending("2 of 3 required status checks are expected.", 2).await;
    assert_eq!(s.merge_calls().len(), 3);
    assert_eq!(
        refusals(&s, 7),
        ["2 of 3 required status checks are expected."; 2]
    );
}

#[tokio::test]
async fn permanent_pending_stops_at_max_attempts_and_says_so() {
    let s = ready()
        .config("merge:\n  max_attempts: 3\n")
        .opted_in()
        .open()
        .await;
    // GitHub expects `deploy`, which never comes.
    let body = merge_async_failed(r#"Required status check "deploy" is expected."#);
    s.fail_next("PUT /pulls/7/merge-async", 400, &body).always();
    let app = s.start().await;
    s.send(&app, "labeled").await;
    let head = s.head.clone();
    s.wait_for(
        "the summary saying it stopped",
        move |w| seamguard_on(w, &head).is_some_and(|r| r.summary().contains("stopped trying")),
        WAIT,
    )
    .await;
    // No further attempt comes; then a new event for the same head must
    // not restart the attempts either.
    s.wait_idle().await;
    assert_eq!(s.merge_calls().len(), 3, "nothing after the last");
    s.send(&app, "labeled").await;
    s.wait_idle().await;
    assert_eq!(
        refusals(&s, 7),
        [r#"Required status check "deploy" is expected."#; 3],
        "exactly max_attempts merge calls"
    );
    let run = s
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
    // The synchronous merge (an API root without merge-async): the pull
    // request is read before anything else.
    let s = ready().opted_in().open().await;
    s.without_merge_async();
    s.act_then_fail_next("PUT /pulls/7/merge", 502, "<html>502 Bad Gateway</html>");
    let app = s.start().await;
    s.send(&app, "labeled").await;
    s.wait_merged().await;
    s.wait_idle().await;
    // The pull request is read after the 502, and nothing is merged again.
    let requests = s.requests();
    let merge = requests
        .iter()
        .position(|r| r.method == "PUT" && r.path.ends_with("/pulls/7/merge"))
        .expect("the merge call");
    assert!(
        requests[merge..]
            .iter()
            .any(|r| r.method == "GET" && r.path == "/repos/acme/app/pulls/7"),
        "the pull request is read after the ambiguous merge"
    );
    assert_eq!(s.merge_calls().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_502_after_github_took_the_async_request_is_adopted_not_sent_twice() {
    let s = ready().opted_in().open().await;
    // GitHub holds the request (and runs it a read later); the 202 is lost.
    s.act_then_fail_next(
        "PUT /pulls/7/merge-async",
        502,
        "<html>502 Bad Gateway</html>",
    );
    let app = s.start().await;
    s.send(&app, "labeled").await;
    s.wait_merged().await;
    s.wait_idle().await;
    // Asked again, GitHub answers 409 with the request it holds: adopted,
    // and that one request merges.
    let answers: Vec<u16> = merge_requests(&s, 7).iter().map(|r| r.status).collect();
    assert_eq!(answers, vec![502, 409]);
    assert_eq!(s.count("PUT", "/pulls/7/merge"), 0);
    let held = s.with_world(|w| w.async_merges.len());
    assert_eq!(held, 1, "one merge request ever held");
    app.stop().await;
}

#[tokio::test]
async fn a_moved_head_is_evaluated_again_from_scratch() {
    let s = ready().opted_in().open().await;
    let (gh, first) = (&s.gh, &s.head);
    // Just before the merge call lands, someone pushes to the branch.
    let pushed = s
        .repo
        .commit(&[first], "one more", &[("src/g.rs", Some("fn g() {}\n"))]);
    let p = pushed.clone();
    gh.before_next("PUT /pulls/7/merge-async", move |w| {
        w.repo_mut("acme/app").set_branch("feature", &p);
    });
    let app = s.start().await;
    s.send(&app, "labeled").await;
    s.wait_merged().await;
    let calls = s.merge_calls();
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
async fn forbidden_protection_is_reported_and_nothing_merges_until_it_can_be_read() {
    let s = ready().opted_in().open().await;
    let (repo, head) = (&s.repo, &s.head);
    repo.protection_forbidden("main");
    repo.ruleset(7).on("refs/heads/main").requires(&["test"]);
    let app = s.start().await;
    s.send(&app, "opened").await;
    let run = s.completed_run().await;
    let summary = run.summary();
    // Which ruleset is optional in GitHub's answer (the fake leaves it out).
    assert!(summary.contains("| `test` | ruleset"), "{summary}");
    assert!(summary.contains("could not be read"), "{summary}");

    // test passes: the rulesets' gate opens, but what the protection
    // requires is unknown, so nothing merges.
    let test = repo.check_run(head, "test").completed("success");
    s.deliver(
        &repo.check_run_event("completed", test.id().0),
        &app.webhook(),
    )
    .await;
    let h = head.clone();
    s.wait_for(
        "the run to say it will not merge on what it could not read",
        move |w| {
            seamguard_on(w, &h)
                .is_some_and(|r| r.is_completed() && r.summary().contains("`administration: read`"))
        },
        WAIT,
    )
    .await;
    s.wait_idle().await;
    assert!(s.merge_calls().is_empty(), "{:#?}", s.merge_calls());

    // The permission is granted; a recheck reads the protection and merges.
    repo.edit(|r| r.protection.remove("main"));
    s.deliver(
        &repo.comment_on(7, "octocat", "User", "@seamguard recheck"),
        &app.webhook(),
    )
    .await;
    s.wait_merged().await;
    assert_eq!(s.merge_calls()[0]["sha"], head.as_str());
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
    gh.wait_idle().await;
    assert_eq!(
        support::ready::merge_requests(&gh, 2).len(),
        0,
        "#2 is not opted in"
    );
    // GitHub says `draft` only in a field its description makes optional,
    // and its `mergeable_state` (`draft`) is `unknown` on the first read
    // after a push: seamguard may try, and GitHub refuses a draft.
    assert!(
        merge_requests(&gh, 1)
            .iter()
            .all(|r| r.message.as_deref() == Some("Pull request is still a draft.")),
        "{:#?}",
        merge_requests(&gh, 1)
    );
    assert!(!merged(&gh.world(), "acme/app", 1));
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
    let s = ready().opted_in().open().await;
    let repo = &s.repo;
    repo.protection("main").requires(&["test"]);
    repo.disallow_merge_method("squash"); // seamguard's default method
    let test = repo.check_run(&s.head, "test").completed("success");
    let app = s.start().await;
    s.deliver(
        &repo.check_run_event("completed", test.id().0),
        &app.webhook(),
    )
    .await;
    let run = s.completed_run().await;
    assert!(
        run.summary().contains(
            "the repository does not allow `squash` merges (it allows `merge`, `rebase`)"
        ),
        "{}",
        run.summary()
    );
    s.wait_idle().await;
    assert!(
        s.merge_calls().is_empty(),
        "no merge call collects GitHub's refusal"
    );
    assert!(!s.merged());
    app.stop().await;
}
