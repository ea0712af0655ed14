//! From an event to the pull requests it concerns, and the sweeps that
//! catch what events miss: forks' checks (no PR list), statuses, pushes to
//! a base, merge groups, the reconciler, the watchdog, strict branches and
//! checks that never register.

mod support;

use std::time::Duration;

use chrono::Utc;
use seamguard::engine::{Engine, EngineConfig};
use seamguard::ids::{AppId, CheckRunId, InstallationId, RepoName};
use seamguard::inbox::{Inbox, InboxOptions};
use support::flows::{WAIT, a_run_completed, completed_run, feature_pr, merged};
use support::{FakeGitHub, Seamguard};

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
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.protection("main").requires(&["ci/legacy"]);
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    repo.status(&head, "ci/legacy", "pending");
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.status_event(&head, "ci/legacy"), &app.webhook())
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
    repo.status(&head, "ci/legacy", "success");
    gh.deliver(&repo.status_event(&head, "ci/legacy"), &app.webhook())
        .await;
    gh.wait_for("the merge", |w| merged(w, "acme/app", 7), WAIT)
        .await;
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
    tokio::time::sleep(Duration::from_millis(200)).await;
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
    assert_eq!(
        gh.count("PUT", "/merge"),
        0,
        "the queue merges, not seamguard"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_reconciler_recovers_a_lost_check_run_event() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.ruleset(1).on("~DEFAULT_BRANCH").requires(&["test"]);
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    let app = Seamguard::start_with(&gh, &["--reconcile-interval", "100ms"]).await;
    gh.deliver(&repo.pull_request_event("labeled", 7), &app.webhook())
        .await;
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
    repo.check_run(&head, "test").completed("success");
    gh.wait_for(
        "the merge, found by the reconciler",
        |w| merged(w, "acme/app", 7),
        WAIT,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_strict_base_and_a_branch_behind_is_updated_when_allowed() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.push(
        "main",
        "config",
        &[(
            ".github/seamguard.yml",
            Some("merge:\n  update_branch: true\n"),
        )],
    );
    repo.ruleset(1)
        .on("~DEFAULT_BRANCH")
        .requires(&["lint"])
        .strict();
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    repo.check_run(&head, "lint").completed("success");
    repo.push("main", "main moves on", &[("other.txt", Some("o\n"))]);
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("labeled", 7), &app.webhook())
        .await;
    gh.wait_for(
        "the branch update",
        |w| w.count("PUT", "/pulls/7/update-branch") == 1,
        WAIT,
    )
    .await;
    let call = gh
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/update-branch"))
        .unwrap();
    assert_eq!(call.body.unwrap()["expected_head_sha"], head.as_str());
    assert_eq!(
        gh.count("PUT", "/pulls/7/merge"),
        0,
        "not merged while behind"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_check_that_never_registers_is_said_plainly() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.push(
        "main",
        "config",
        &[(
            ".github/seamguard.yml",
            Some("required_checks:\n  register_timeout: 1s\n"),
        )],
    );
    repo.ruleset(1).on("~DEFAULT_BRANCH").requires(&["test"]);
    feature_pr(&repo, 7, "feature", &["automerge"]);
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    a_run_completed(&gh, "the first evaluation").await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    gh.deliver(&repo.pull_request_event("synchronize", 7), &app.webhook())
        .await;
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
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &[]);
    // A run left in progress by an evaluation that died 20 minutes ago.
    let stale = repo
        .check_run(&head, "seamguard")
        .app(gh.app_id())
        .in_progress();
    let dir = tempfile::tempdir().unwrap();
    let inbox = Inbox::open(
        &format!("sqlite://{}", dir.path().join("db.sqlite").display()),
        InboxOptions::default(),
    )
    .await
    .unwrap();
    let name: RepoName = "acme/app".parse().unwrap();
    inbox
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
        inbox.clone(),
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
    inbox.close().await;
}
