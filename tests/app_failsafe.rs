//! Guards fail safe, and say so: a panic inside a guard completes the check
//! run `neutral` with the panic message (or `failure` where the repository
//! fails closed), and the server keeps serving. Nothing is left without a
//! check run, and a verdict is never weakened. Failpoints are process-wide,
//! so the cases of this file hold [`SERIAL`] and run in sequence.

mod support;

use seamguard::failpoint::{self, Action};
use support::flows::{WAIT, completed_run, feature_pr};
use support::{FakeGitHub, Seamguard};

/// Held by each test: a failpoint armed by one must not fire in another.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn a_panicking_guard_fails_open_or_closed_and_the_server_keeps_serving() {
    let _serial = SERIAL.lock().await;
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
    gh.wait_idle().await;
    assert_eq!(support::ready::merge_requests(&gh, 1).len(), 0);

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

/// A permanent error before the check run existed (a check-run list
/// seamguard cannot read) still ends with a completed `seamguard` run on
/// the head, fail-safe, with the error in its summary — a required
/// `seamguard` check never shows "Expected" forever.
#[tokio::test]
async fn an_unreadable_answer_before_the_run_existed_still_completes_one() {
    let _serial = SERIAL.lock().await;
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 1, "one", &["automerge"]);
    gh.fail_next(
        "GET /commits/*/check-runs",
        200,
        r#"{"total_count":"many","check_runs":"not a list"}"#,
    )
    .always();
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("opened", 1), &app.webhook())
        .await;
    let run = completed_run(&gh, &head).await;
    gh.wait_idle().await;
    app.stop().await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("neutral"),
        "{}",
        run.summary()
    );
    assert!(
        run.summary().contains("internal error") && run.summary().contains("check-runs"),
        "the error is in the summary: {}",
        run.summary()
    );
    assert_eq!(support::ready::merge_requests(&gh, 1).len(), 0);
}

/// 51 conflict markers: two batches of annotations.
fn markers_51() -> String {
    "<<<<<<< ours\n=======\n>>>>>>> theirs\n".repeat(17)
}

/// When GitHub refuses the second batch of annotations (404 or 422), the run
/// that said `failure` stays `failure`: GitHub counts `neutral` as passing
/// for a required check. The missing annotations are said in the summary.
#[tokio::test]
async fn a_refused_second_annotation_batch_never_weakens_the_failure() {
    let _serial = SERIAL.lock().await;
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let app = Seamguard::start(&gh).await;
    // (pull request, the write refused, status, body, annotations landed).
    // The run is created with its result and the first batch; later
    // batches are updates.
    for (n, route, status, body, landed) in [
        (
            1u64,
            "PATCH /check-runs/*",
            404u16,
            r#"{"message":"Not Found"}"#,
            50usize,
        ),
        (
            2,
            "PATCH /check-runs/*",
            422,
            r#"{"message":"Validation Failed"}"#,
            50,
        ),
        // The first batch itself refused: the conclusion is written without
        // annotations.
        (
            3,
            "POST /check-runs",
            422,
            r#"{"message":"Validation Failed"}"#,
            0,
        ),
    ] {
        let base = repo.branch_tip("main");
        let branch = format!("conflicted-{n}");
        let file = format!("src/conflicted_{n}.rs");
        let content = markers_51();
        let head = repo.commit(
            &[&base],
            "half-resolved",
            &[(file.as_str(), Some(content.as_str()))],
        );
        repo.branch(&branch, &head);
        repo.pr(n)
            .head(&branch)
            .base("main")
            .label("automerge")
            .open();
        gh.fail_next(route, status, body);
        gh.deliver(&repo.pull_request_event("opened", n), &app.webhook())
            .await;
        let h = head.clone();
        gh.wait_for(
            "the summary saying annotations are missing",
            move |w| {
                w.check_runs_named("seamguard")
                    .any(|r| r.head_sha == h && r.summary().contains("refused the rest"))
            },
            WAIT,
        )
        .await;
        let run = completed_run(&gh, &head).await;
        assert_eq!(
            run.conclusion.as_deref(),
            Some("failure"),
            "HTTP {status}: {}",
            run.summary()
        );
        assert_eq!(run.annotations.len(), landed);
        assert!(
            run.summary()
                .contains(&format!("GitHub took {landed} of 51 annotations")),
            "{}",
            run.summary()
        );
        gh.wait_idle().await;
        assert_eq!(gh.count("PUT", &format!("/pulls/{n}/merge")), 0);
    }
    app.stop().await;
}

/// The watchdog completes runs an evaluation abandoned — but a run GitHub
/// already shows `failure` (its completion written, not recorded) keeps
/// its conclusion.
#[tokio::test]
async fn the_watchdog_never_turns_a_failure_neutral() {
    use seamguard::engine::{Engine, EngineConfig};
    use seamguard::ids::{AppId, CheckRunId, InstallationId, RepoName};
    use seamguard::store::{Store, StoreOptions};

    let _serial = SERIAL.lock().await;
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &[]);
    let failed = repo
        .check_run(&head, "seamguard")
        .app(gh.app_id())
        .completed("failure");
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
            CheckRunId(failed.id().0),
            chrono::Utc::now() - chrono::Duration::minutes(20),
        )
        .await
        .unwrap();
    let engine = Engine::new(
        gh.client(),
        store.clone(),
        EngineConfig {
            app_id: AppId(gh.app_id()),
            workers: 1,
            merge_retry_base: std::time::Duration::from_millis(10),
            github_retry_base: std::time::Duration::from_millis(1),
            reconcile_interval: None,
            redelivery_interval: None,
            lease: seamguard::engine::LEASE,
            delivery_retention: std::time::Duration::from_secs(3600),
        },
    );
    engine.watchdog().await.unwrap();
    let run = completed_run(&gh, &head).await;
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    let path = format!("/check-runs/{}", failed.id().0);
    assert_eq!(gh.count("PATCH", &path), 0, "not re-completed");
    // Recorded as completed: the next sweep leaves it alone.
    assert_eq!(engine.watchdog().await.unwrap(), 0);
    store.close().await;
}

/// A pull request that could not be read at all (its head unknown, so no
/// run to complete) is not dropped: the reconciler takes it up again, and
/// the next evaluation completes the run.
#[tokio::test]
async fn an_unreadable_pull_request_is_retried_not_dropped() {
    let _serial = SERIAL.lock().await;
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 1, "one", &[]);
    gh.fail_next("GET /pulls/1", 200, r#"{"number":"one","head":null}"#);
    let app = Seamguard::start_with(&gh, &["--reconcile-interval", "50ms"]).await;
    gh.deliver(&repo.pull_request_event("opened", 1), &app.webhook())
        .await;
    let run = completed_run(&gh, &head).await;
    app.stop().await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "{}",
        run.summary()
    );
    assert!(gh.count("GET", "/repos/acme/app/pulls/1") >= 2);
}

/// GitHub answers 404 for a pull request right after it is opened: the
/// delivery named its head, so the run goes on that head at once, saying
/// what it waits for, and once GitHub shows the pull request the same run
/// completes and the pull request merges with its head pinned.
#[tokio::test]
async fn a_pull_request_github_does_not_show_yet_gets_its_run_at_once() {
    let _serial = SERIAL.lock().await;
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 1, "one", &["automerge"]);
    gh.fail_next("GET /pulls/1", 404, r#"{"message":"Not Found"}"#);
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("opened", 1), &app.webhook())
        .await;
    let h = head.clone();
    gh.wait_for(
        "a waiting seamguard run on the delivery's head",
        move |w| {
            w.check_runs_named("seamguard").any(|r| {
                r.head_sha == h
                    && r.output
                        .as_ref()
                        .is_some_and(|o| o.title == "Waiting for GitHub to show this pull request")
            })
        },
        WAIT,
    )
    .await;
    let run = completed_run(&gh, &head).await;
    gh.wait_idle().await;
    app.stop().await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "{}",
        run.summary()
    );
    // One run on the head, created while waiting and completed later.
    assert_eq!(
        gh.world()
            .check_runs_named("seamguard")
            .filter(|r| r.head_sha == head)
            .count(),
        1
    );
    let merges = support::ready::merge_requests(&gh, 1);
    assert_eq!(merges.len(), 1);
    assert_eq!(
        merges[0].body.as_ref().unwrap()["sha"].as_str(),
        Some(head.as_str())
    );
}
