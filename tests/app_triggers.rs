//! From an event to the pull requests it concerns, and the sweeps that
//! catch what events miss: forks' checks (no PR list), statuses, pushes to
//! a base, merge groups, the reconciler, the watchdog, strict branches and
//! checks that never register.

mod support;

use std::time::Duration;

use chrono::Utc;
use seamguard::engine::{Engine, EngineConfig};
use seamguard::ids::{AppId, CheckRunId, InstallationId, RepoName};
use seamguard::store::{Store, StoreOptions};
use support::flows::{WAIT, a_run_completed, completed_run, feature_pr, merged};
use support::{FakeGitHub, Seamguard, ready};

#[tokio::test]
async fn a_forks_check_names_only_a_sha_and_its_pull_request_is_found() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.branch_tip("main");
    let head = repo.commit(&[&base], "from a fork", &[("f", Some("f\n"))]);
    repo.branch("contrib", &head);
    repo.pr(5)
        .head("contrib")
        .base("main")
        .head_in_fork("someone/app")
        .open();
    let lint = repo.check_run(&head, "lint").completed("success");
    let app = Seamguard::start(&gh).await;
    // GitHub leaves `pull_requests` empty for forks.
    let delivery = repo
        .check_run_event("completed", lint.id().0)
        .set("/check_run/pull_requests", serde_json::json!([]));
    assert_eq!(gh.deliver(&delivery, &app.webhook()).await, 202);
    a_run_completed(&gh, "the fork's pull request evaluated").await;
    assert!(gh.count("GET", &format!("/commits/{head}/pulls")) >= 1);
    app.stop().await;
}

#[tokio::test]
async fn a_required_commit_status_opens_the_gate() {
    let s = ready().opted_in().open().await;
    let (gh, repo, head) = (&s.gh, &s.repo, &s.head);
    repo.protection("main").requires(&["ci/legacy"]);
    repo.status(head, "ci/legacy", "pending");
    let app = s.start().await;
    gh.deliver(&repo.status_event(head, "ci/legacy"), &app.webhook())
        .await;
    gh.wait_for(
        "waiting on the status",
        |w| {
            w.check_runs_named("seamguard")
                .any(|r| r.summary().contains("⏳ pending"))
        },
        WAIT,
    )
    .await;
    repo.status(head, "ci/legacy", "success");
    gh.deliver(&repo.status_event(head, "ci/legacy"), &app.webhook())
        .await;
    s.wait_merged().await;
    app.stop().await;
}

#[tokio::test]
async fn a_push_to_the_base_re_evaluates_its_opted_in_pull_requests() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    feature_pr(&repo, 7, "opted-in", &["automerge"]);
    feature_pr(&repo, 8, "not-opted-in", &[]);
    let app = Seamguard::start(&gh).await;
    let before = repo.branch_tip("main");
    repo.push("main", "main moves", &[("README.md", Some("new\n"))]);
    gh.deliver(&repo.push_event("main", &before), &app.webhook())
        .await;
    gh.wait_for("#7 merged", |w| merged(w, "acme/app", 7), WAIT)
        .await;
    gh.wait_idle().await;
    assert_eq!(
        gh.count("GET", "/repos/acme/app/pulls/8"),
        0,
        "#8 did not opt in"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_merge_group_gets_the_guards_check_run_on_its_head() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.branch_tip("main");
    let group_head = repo.commit(
        &[&base],
        "Merge pull request #7 into the queue",
        &[("src/queued.rs", Some("fn q() {}\n"))],
    );
    repo.branch("gh-readonly-queue/main/pr-7-abc", &group_head);
    let app = Seamguard::start(&gh).await;
    gh.deliver(
        &repo.merge_group_event("checks_requested", &group_head, "main"),
        &app.webhook(),
    )
    .await;
    let run = completed_run(&gh, &group_head).await;
    assert_eq!(run.conclusion.as_deref(), Some("success"));
    assert!(run.summary().contains("merge queue"), "{}", run.summary());
    gh.wait_idle().await;
    assert_eq!(
        gh.requests()
            .iter()
            .filter(|r| r.is_a_merge_request())
            .count(),
        0,
        "the queue merges, not seamguard"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_reconciler_recovers_a_lost_check_run_event() {
    let s = ready().opted_in().open().await;
    let (gh, repo, head) = (&s.gh, &s.repo, &s.head);
    repo.ruleset(1).on("~DEFAULT_BRANCH").requires(&["test"]);
    let app = s.start_with(&["--reconcile-interval", "100ms"]).await;
    s.send(&app, "labeled").await;
    gh.wait_for(
        "waiting for test",
        |w| {
            w.check_runs_named("seamguard")
                .any(|r| r.summary().contains("not registered yet"))
        },
        WAIT,
    )
    .await;
    // `test` passes, and GitHub's webhook for it is lost.
    repo.check_run(head, "test").completed("success");
    s.wait_merged().await;
    app.stop().await;
}

#[tokio::test]
async fn a_strict_base_and_a_branch_behind_is_updated_when_allowed() {
    let s = ready()
        .config("merge:\n  update_branch: true\n")
        .opted_in()
        .open()
        .await;
    let (repo, head) = (&s.repo, &s.head);
    repo.ruleset(1)
        .on("~DEFAULT_BRANCH")
        .requires(&["lint"])
        .strict();
    repo.check_run(head, "lint").completed("success");
    repo.push("main", "main moves on", &[("other.txt", Some("o\n"))]);
    let app = s.start().await;
    s.send(&app, "labeled").await;
    s.wait_for(
        "the branch update",
        |w| w.count("PUT", "/pulls/7/update-branch") == 1,
        WAIT,
    )
    .await;
    let requests = s.requests();
    let call = requests
        .iter()
        .find(|r| r.path.ends_with("/update-branch"))
        .unwrap();
    assert_eq!(
        call.body.as_ref().unwrap()["expected_head_sha"],
        head.as_str()
    );
    // Right after the push GitHub has not computed `behind` yet (the first
    // read says `unknown`): a merge request may come first, and GitHub
    // refuses to run it. Nothing merges while behind.
    assert!(!s.merged(), "not merged while behind");
    let ran: Vec<(String, String)> = s.with_world(|w| {
        w.async_merges
            .values()
            .filter(|m| m.number == 7 && m.status != "pending")
            .map(|m| (m.status.clone(), m.message.clone()))
            .collect()
    });
    assert!(
        ran.iter()
            .all(|(status, message)| status == "failed" && message == "Head branch is out of date"),
        "not merged while behind: {ran:#?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_check_that_never_registers_is_said_plainly() {
    let s = ready()
        .config("required_checks:\n  register_timeout: 1s\n")
        .opted_in()
        .open()
        .await;
    s.repo.ruleset(1).on("~DEFAULT_BRANCH").requires(&["test"]);
    let app = s.start().await;
    s.send(&app, "opened").await;
    a_run_completed(&s, "the first evaluation").await;
    // The registration timeout passes (time, not an assertion).
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    s.send(&app, "synchronize").await;
    let gh = &s.gh;
    gh.wait_for(
        "the overdue wording",
        |w| {
            w.check_runs_named("seamguard")
                .any(|r| r.summary().contains("never registered (waited 1s)"))
        },
        WAIT,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn the_watchdog_completes_a_run_its_evaluation_abandoned() {
    let s = ready().open().await;
    let (gh, repo, head) = (&s.gh, &s.repo, &s.head);
    // A run left in progress by an evaluation that died 20 minutes ago.
    let stale = repo
        .check_run(head, "seamguard")
        .app(gh.app_id())
        .in_progress();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &format!("sqlite://{}", dir.path().join("db.sqlite").display()),
        StoreOptions::default(),
    )
    .await
    .unwrap();
    let name: RepoName = "acme/app".parse().unwrap();
    store
        .check_run_opened(
            &name,
            InstallationId(1),
            &head.as_str().parse().unwrap(),
            CheckRunId(stale.id().0),
            Utc::now() - chrono::Duration::minutes(20),
        )
        .await
        .unwrap();
    let engine = Engine::new(
        gh.client(),
        store.clone(),
        EngineConfig {
            app_id: AppId(gh.app_id()),
            workers: 1,
            merge_retry_base: Duration::from_millis(10),
            github_retry_base: Duration::from_millis(1),
            reconcile_interval: None,
            redelivery_interval: None,
            delivery_retention: Duration::from_secs(3600),
            lease: seamguard::engine::LEASE,
        },
    );
    assert_eq!(engine.watchdog().await.unwrap(), 1);
    let run = gh
        .world()
        .check_runs_named("seamguard")
        .next()
        .cloned()
        .unwrap();
    assert_eq!(run.conclusion.as_deref(), Some("neutral"));
    assert!(
        run.summary().contains("did not finish"),
        "{}",
        run.summary()
    );
    // Once completed, it is not touched again.
    assert_eq!(engine.watchdog().await.unwrap(), 0);
    store.close().await;
}

/// Eight required checks finish in a burst, each delivered as it does:
/// with `CHECK_SETTLE` their deliveries wait for one another and are one
/// evaluation, which sees them all passed and merges with the head pinned.
/// (The settle is two seconds here, not the default one, so that a slow
/// machine still delivers the burst inside it.)
#[tokio::test]
async fn a_burst_of_finished_checks_is_one_evaluation() {
    let s = ready().opted_in().open().await;
    let (gh, repo, head) = (&s.gh, &s.repo, &s.head);
    let names: Vec<String> = (1..=8).map(|i| format!("test-{i}")).collect();
    let required: Vec<&str> = names.iter().map(String::as_str).collect();
    repo.ruleset(9).on("~DEFAULT_BRANCH").requires(&required);
    let runs: Vec<_> = names
        .iter()
        .map(|name| repo.check_run(head, name).in_progress())
        .collect();
    let app = s.start_with(&["--check-settle", "2s"]).await;
    s.send(&app, "opened").await;
    let waiting = s.completed_run().await;
    assert!(waiting.summary().contains("⏳"), "{}", waiting.summary());
    gh.wait_idle().await;
    gh.reset_counts();

    for run in runs {
        let done = run.completed("success");
        let delivery = repo.check_run_event("completed", done.id().0);
        assert_eq!(gh.deliver(&delivery, &app.webhook()).await, 202);
    }
    s.wait_merged().await;
    gh.wait_idle().await;
    assert_eq!(
        gh.count("GET", "/repos/acme/app/pulls/7"),
        1,
        "one evaluation read the pull request for the whole burst"
    );
    ready::one_merge_pinned(gh, 7, head.as_str());
    app.stop().await;
}

/// A push lands while the evaluation of the old head is still reading (its
/// check runs answer slowly): no `seamguard` run is written on the head
/// that was superseded, and the new head gets its run.
#[tokio::test]
async fn a_head_superseded_before_its_run_is_written_gets_no_run() {
    let s = ready().open().await;
    let (gh, repo) = (&s.gh, &s.repo);
    let old = s.head.clone();
    // Time for the push to arrive while the read waits (not an assertion).
    gh.fail_next(
        &format!("GET /commits/{old}/check-runs"),
        502,
        r#"{"message":"Server Error"}"#,
    )
    .delay(Duration::from_secs(2));
    let app = s.start().await;
    s.send(&app, "opened").await;
    let o = old.clone();
    gh.wait_for(
        "the old head's check runs asked for",
        move |w| {
            w.attempts
                .iter()
                .any(|a| a.path.ends_with(&format!("/commits/{o}/check-runs")))
        },
        WAIT,
    )
    .await;
    let new = repo.push(ready::BRANCH, "more work", &[("feature", Some("y\n"))]);
    s.send(&app, "synchronize").await;
    completed_run(gh, &new).await;
    gh.wait_idle().await;
    let on_old = gh
        .world()
        .check_runs_named("seamguard")
        .filter(|r| r.head_sha == old)
        .count();
    assert_eq!(on_old, 0, "no run on the superseded head");
    app.stop().await;
}
