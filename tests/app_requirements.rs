//! What a branch requires, read again when it matters (issue 18): an
//! evaluation that only reports may use the protection and rulesets read a
//! moment ago, but a merge is only ever made on what GitHub holds now, and
//! a `repository_ruleset` delivery makes the next evaluation read them
//! again — and evaluates the pull requests that were waiting on them.

mod support;

use std::time::Duration;

use support::flows::{completed_run, feature_pr, merged};
use support::scenario::RepoHandle;
use support::{FakeGitHub, Seamguard, Sha};

const WAIT: Duration = Duration::from_secs(30);

/// `acme/app` merging by label, and its pull request #7 opted in.
fn opted_in_pr(gh: &FakeGitHub) -> (RepoHandle, Sha) {
    let repo = gh.repo("acme/app");
    repo.push(
        "main",
        "config",
        &[(".github/seamguard.yml", Some("merge:\n  mode: label\n"))],
    );
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    (repo, head)
}

fn rules_reads(gh: &FakeGitHub) -> usize {
    gh.count("GET", "/repos/acme/app/rules/branches/main")
}

/// Waits until `n` evaluations of #7 have run... as the fake sees them:
/// `n` comparisons of the base with the head, and then seamguard idle (the
/// evaluation's last writes land after its comparison).
async fn evaluations(gh: &FakeGitHub, n: usize, what: &str) {
    gh.wait_for(
        what,
        move |w| w.count("GET", "/repos/acme/app/compare/*") >= n,
        WAIT,
    )
    .await;
    gh.wait_idle().await;
    assert_eq!(
        gh.count("GET", "/repos/acme/app/compare/*"),
        n,
        "{what}: exactly {n} evaluations so far"
    );
}

#[tokio::test]
async fn a_check_required_since_the_last_read_still_holds_back_the_merge() {
    let gh = FakeGitHub::start().await;
    let (repo, head) = opted_in_pr(&gh);
    // `ci/legacy` is a commit status: every evaluation reads the statuses.
    repo.ruleset(9)
        .on("~DEFAULT_BRANCH")
        .requires(&["test", "ci/legacy"]);
    repo.status(&head, "ci/legacy", "success");
    let test = repo.check_run(&head, "test").in_progress();
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    completed_run(&gh, &head).await;
    evaluations(&gh, 1, "the first evaluation").await;
    assert_eq!(rules_reads(&gh), 1);

    // The ruleset now requires `lint` too, and nothing announces it (an
    // organization's ruleset, or a delivery lost): what this replica read
    // says `test` is all, and `test` passes.
    repo.ruleset(9)
        .on("~DEFAULT_BRANCH")
        .requires(&["test", "ci/legacy", "lint"]);
    let test = test.completed("success");
    gh.deliver(
        &repo.check_run_event("completed", test.id().0),
        &app.webhook(),
    )
    .await;
    evaluations(&gh, 2, "the evaluation after `test` passed").await;

    // Merging would act: the requirements were read again first, and
    // `lint` holds the pull request back.
    assert!(!gh.with_world(|w| merged(w, "acme/app", 7)), "not merged");
    assert_eq!(support::ready::merge_requests(&gh, 7).len(), 0);
    assert_eq!(rules_reads(&gh), 2, "read again before acting");
    assert_eq!(
        gh.count("GET", &format!("/repos/acme/app/commits/{head}/status")),
        2,
        "the second look at the gate reads the statuses no second time"
    );
    let run = completed_run(&gh, &head).await;
    assert!(
        run.summary().contains("lint"),
        "the summary names the check it waits on:\n{}",
        run.summary()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_ruleset_change_is_read_by_the_next_evaluation_and_frees_a_waiting_pull_request() {
    let gh = FakeGitHub::start().await;
    let (repo, head) = opted_in_pr(&gh);
    repo.ruleset(9)
        .on("~DEFAULT_BRANCH")
        .requires(&["test", "nightly"]);
    repo.check_run(&head, "test").completed("success");
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    evaluations(&gh, 1, "the first evaluation").await;
    let run = completed_run(&gh, &head).await;
    assert!(
        run.summary().contains("nightly"),
        "waits on `nightly`:\n{}",
        run.summary()
    );
    assert!(!gh.with_world(|w| merged(w, "acme/app", 7)));

    // Someone drops `nightly` from the ruleset; GitHub announces it.
    repo.ruleset(9).on("~DEFAULT_BRANCH").requires(&["test"]);
    assert_eq!(
        gh.deliver(&repo.ruleset_event("edited", 9), &app.webhook())
            .await,
        202
    );
    gh.wait_for(
        "the merge, with no other delivery",
        |w| merged(w, "acme/app", 7),
        WAIT,
    )
    .await;
    let merge = gh
        .requests()
        .into_iter()
        .find(|r| r.is_merge_request(7))
        .expect("the merge call");
    assert_eq!(
        merge.body.as_ref().and_then(|b| b["sha"].as_str()),
        Some(head.as_str()),
        "the merge pins the evaluated head"
    );
    app.stop().await;
}

#[tokio::test]
async fn after_a_ruleset_delivery_a_report_only_evaluation_reads_the_requirements_again() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    // Not opted in: no evaluation of it acts, so only the announcement
    // makes it read the requirements again.
    let head = feature_pr(&repo, 7, "feature", &[]);
    repo.ruleset(9).on("~DEFAULT_BRANCH").requires(&["test"]);
    let test = repo.check_run(&head, "test").in_progress();
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    evaluations(&gh, 1, "the first evaluation").await;

    // An unannounced change is not seen within the cache's life...
    repo.ruleset(9)
        .on("~DEFAULT_BRANCH")
        .requires(&["test", "lint"]);
    gh.deliver(
        &repo.check_run_event("completed", test.id().0),
        &app.webhook(),
    )
    .await;
    evaluations(&gh, 2, "a re-evaluation").await;
    assert_eq!(rules_reads(&gh), 1, "read a moment ago");
    assert!(!completed_run(&gh, &head).await.summary().contains("lint"));

    // ...an announced one is, by the next evaluation.
    gh.deliver(&repo.ruleset_event("edited", 9), &app.webhook())
        .await;
    // (Another event: the same body again would be a replay, a duplicate.)
    gh.deliver(&repo.pull_request_event("synchronize", 7), &app.webhook())
        .await;
    evaluations(&gh, 3, "the evaluation after the announcement").await;
    assert_eq!(rules_reads(&gh), 2, "read again after the announcement");
    let run = completed_run(&gh, &head).await;
    assert!(
        run.summary().contains("lint"),
        "the new requirement is shown:\n{}",
        run.summary()
    );
    app.stop().await;
}

/// A ruleset `required_status_checks` rule whose parameters do not parse
/// (here a list that is a string) is not "requires nothing": seamguard
/// merges nothing and the check run names the ruleset it could not read.
#[tokio::test]
async fn a_ruleset_rule_that_does_not_parse_blocks_the_merge_and_is_named() {
    let s = support::ready().opted_in().open().await;
    let rules = serde_json::json!([{
        "type": "required_status_checks",
        "ruleset_source_type": "Repository",
        "ruleset_source": "acme/app",
        "ruleset_id": 42,
        "parameters": {
            "required_status_checks": "test",
            "strict_required_status_checks_policy": false
        }
    }]);
    s.fail_next("GET /rules/branches/main", 200, &rules.to_string())
        .always();
    let app = s.start().await;
    s.send(&app, "labeled").await;
    let run = s.completed_run().await;
    s.wait_idle().await;
    app.stop().await;

    assert!(s.merge_calls().is_empty(), "no merge call");
    assert!(!s.merged());
    let summary = run.summary();
    assert!(
        summary.contains("ruleset 42 (acme/app)") && summary.contains("could not be read"),
        "{summary}"
    );
    assert!(
        summary.contains("`required_status_checks` rule does not parse"),
        "{summary}"
    );
}
