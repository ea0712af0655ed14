//! Checks that will never come: a required check that has not reported on
//! the head, and never reported on the base's recent history either. The
//! summary says what was observed from the first evaluation; once
//! `register_timeout` has passed, it says the check never registered, and
//! the likely cause and fix — no more than what was observed.

mod support;

use std::time::Duration;

use support::flows::{WAIT, feature_pr};
use support::{FakeGitHub, GITHUB_ACTIONS_APP_ID, RepoHandle, Seamguard, Sha, World};

fn history_reads(w: &World) -> usize {
    w.requests
        .iter()
        .filter(|r| r.path == "/graphql")
        .filter(|r| {
            r.body
                .as_ref()
                .and_then(|b| b["query"].as_str())
                .is_some_and(|q| q.contains("BaseHistory"))
        })
        .count()
}

fn row<'a>(summary: &'a str, context: &str) -> &'a str {
    summary
        .lines()
        .find(|l| l.starts_with(&format!("| `{context}`")))
        .unwrap_or_default()
}

fn last_summary(w: &World, head: &Sha) -> String {
    w.check_runs_named("seamguard")
        .filter(|r| &r.head_sha == head && r.is_completed())
        .last()
        .map(|r| r.summary().to_owned())
        .unwrap_or_default()
}

/// `main` with three commits on which `lint` (GitHub Actions) always ran
/// and `test` never did; the rules require both.
fn repo_with_history(gh: &FakeGitHub, config: &str) -> RepoHandle {
    let repo = gh.repo("acme/app");
    repo.push("main", "config", &[(".github/seamguard.yml", Some(config))]);
    for i in 0..3 {
        let sha = repo.push(
            "main",
            &format!("work {i}"),
            &[(&format!("w{i}"), Some("x\n"))],
        );
        repo.check_run(&sha, "lint").completed("success");
    }
    repo.ruleset(1)
        .on("~DEFAULT_BRANCH")
        .requires(&["lint", "test"]);
    repo
}

#[tokio::test]
async fn a_context_never_reported_on_the_base_is_said_at_once_and_explained_after_the_timeout() {
    let gh = FakeGitHub::start().await;
    let repo = repo_with_history(&gh, "required_checks:\n  register_timeout: 1s\n");
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    repo.check_run(&head, "lint").completed("success");
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("labeled", 7), &app.webhook())
        .await;
    let h = head.clone();
    gh.wait_for(
        "the first evaluation",
        move |w| !last_summary(w, &h).is_empty(),
        WAIT,
    )
    .await;
    let first = gh.with_world(|w| last_summary(w, &head));
    println!("{}", row(&first, "test"));
    assert!(
        row(&first, "test").contains(
            "⏳ not registered yet; not reported on any of the last 5 commits of `main` either"
        ),
        "{first}"
    );
    assert!(!row(&first, "lint").contains("either"), "{first}");
    assert!(
        !first.contains("may never come"),
        "not claimed before the timeout: {first}"
    );

    // `register_timeout` (1 s) passes: the time is the point of the test.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    gh.deliver(&repo.pull_request_event("synchronize", 7), &app.webhook())
        .await;
    let h = head.clone();
    gh.wait_for(
        "the evaluation after the timeout",
        move |w| last_summary(w, &h).contains("never registered"),
        WAIT,
    )
    .await;
    app.stop().await;
    let after = gh.with_world(|w| last_summary(w, &head));
    println!("{}", row(&after, "test"));
    assert!(
        row(&after, "test").contains(
            "⚠️ never registered (waited 1s); not reported on any of the last 5 commits of \
             `main` either; it may never come: the workflow that reports it may not run for \
             these changes (a path or branch filter), or the check was renamed"
        ),
        "{after}"
    );
    assert_eq!(
        gh.with_world(|w| history_reads(w)),
        1,
        "the base history is read once per base SHA"
    );
}

#[tokio::test]
async fn a_check_pinned_to_an_app_that_never_reports_it_says_who_did() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let sha = repo.push("main", "work", &[("w", Some("x\n"))]);
    repo.check_run(&sha, "build").completed("success");
    repo.protection("main").requires_from("build", 99_999);
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    repo.check_run(&head, "build").completed("success");
    let run = support::flows::evaluate_once(&gh, &repo, 7, "labeled").await;
    let summary = run.summary().to_owned();
    println!("{}", row(&summary, "build"));
    assert!(
        row(&summary, "build").contains(&format!(
            "reported only by app {GITHUB_ACTIONS_APP_ID}, never by app 99999"
        )),
        "{summary}"
    );
}

#[tokio::test]
async fn a_check_seen_on_the_base_gets_no_such_words_and_no_history_read_when_nothing_is_missing() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let sha = repo.push("main", "work", &[("w", Some("x\n"))]);
    repo.check_run(&sha, "test").completed("success");
    repo.ruleset(1).on("~DEFAULT_BRANCH").requires(&["test"]);
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    let run = support::flows::evaluate_once(&gh, &repo, 7, "labeled").await;
    assert!(
        row(run.summary(), "test").contains("⏳ not registered yet |"),
        "{}",
        run.summary()
    );
    assert_eq!(gh.with_world(|w| history_reads(w)), 1);

    repo.check_run(&head, "test").in_progress();
    gh.reset_counts();
    support::flows::evaluate_once(&gh, &repo, 7, "synchronize").await;
    assert_eq!(
        gh.with_world(|w| history_reads(w)),
        0,
        "nothing missing: no read"
    );
}
