//! Nothing acknowledged is lost, nothing is done twice: deduplication by
//! delivery id, coalescing of a storm of triggers into one evaluation at a
//! time and at most one merge, and missed-webhook recovery through the
//! App's delivery log.

mod support;

use futures::future::join_all;
use support::flows::{WAIT, a_run_completed};
use support::{Delivery, ready};

#[tokio::test]
async fn a_duplicate_delivery_id_is_evaluated_once() {
    let s = ready().open().await;
    let (gh, repo) = (&s.gh, &s.repo);
    let app = s.start().await;

    let delivery = repo.pull_request_event("opened", 7);
    assert_eq!(gh.deliver(&delivery, &app.webhook()).await, 202);
    assert_eq!(
        gh.deliver(&delivery, &app.webhook()).await,
        200,
        "GitHub's redelivery reuses the id"
    );
    a_run_completed(gh, "the evaluation").await;
    gh.wait_idle().await;
    assert_eq!(
        gh.count("GET", "/repos/acme/app/pulls/7"),
        1,
        "one evaluation"
    );
    app.stop().await;
}

/// Each evaluation reads the pull request first and the head's commit
/// statuses last (`deploy` has no check run, so every evaluation asks): in
/// a log where two evaluations never interleave, every read of the pull
/// request is followed by a read of the statuses before the next one.
fn assert_one_at_a_time(requests: &[support::Recorded]) -> usize {
    let mut open = false;
    let mut evaluations = 0;
    for r in requests {
        if r.method == "GET" && r.path == "/repos/acme/app/pulls/7" {
            assert!(!open, "an evaluation started while another was running");
            open = true;
            evaluations += 1;
        } else if r.method == "GET" && r.path.ends_with("/status") {
            open = false;
        }
    }
    evaluations
}

#[tokio::test]
async fn a_storm_of_200_deliveries_is_one_evaluation_at_a_time_and_one_merge() {
    let s = ready().opted_in().open().await;
    let (gh, repo, head) = (&s.gh, &s.repo, s.head.clone());
    repo.ruleset(1)
        .on("~DEFAULT_BRANCH")
        .requires(&["lint", "deploy"]);
    let lint = repo.check_run(&head, "lint").completed("success");
    repo.status(&head, "ci/legacy", "success");
    let app = s.start().await;

    let storm = |n: usize| -> Vec<Delivery> {
        (0..n)
            .map(|i| match i % 3 {
                0 => repo.pull_request_event("synchronize", 7),
                1 => repo.check_run_event("completed", lint.id().0),
                _ => repo.status_event(&head, "ci/legacy"),
            })
            .collect()
    };
    let url = app.webhook();

    // Phase 1: 200 triggers while `deploy` has not registered.
    let deliveries = storm(200);
    let answers = join_all(
        deliveries
            .iter()
            .map(|d| d.send(&url, support::WEBHOOK_SECRET)),
    )
    .await;
    // The storm repeats three bodies: each is stored once (202), and its
    // replays under new ids are duplicates (200).
    assert!(
        answers
            .iter()
            .all(|s| matches!(s.status().as_u16(), 200 | 202))
    );
    assert!(answers.iter().filter(|s| s.status() == 202).count() >= 3);
    gh.wait_for(
        "the storm to drain",
        |w| {
            w.check_runs_named("seamguard")
                .any(|r| r.summary().contains("waiting for `deploy`"))
        },
        WAIT,
    )
    .await;
    gh.wait_idle().await;
    let evaluations = assert_one_at_a_time(&gh.requests());
    eprintln!("200 deliveries → {evaluations} evaluations of #7");
    assert!(
        (1..200).contains(&evaluations),
        "triggers coalesce: {evaluations}"
    );
    assert_eq!(support::ready::merge_requests(gh, 7).len(), 0);

    // Phase 2: deploy passes and another storm arrives: one merge.
    let deploy = repo.check_run(&head, "deploy").completed("success");
    let mut deliveries = storm(100);
    deliveries.push(repo.check_run_event("completed", deploy.id().0));
    join_all(
        deliveries
            .iter()
            .map(|d| d.send(&url, support::WEBHOOK_SECRET)),
    )
    .await;
    s.wait_merged().await;
    gh.wait_idle().await;
    assert_eq!(
        support::ready::merge_requests(gh, 7).len(),
        1,
        "at most one merge"
    );
    assert_eq!(gh.world().check_runs_named("seamguard").count(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_failed_delivery_in_githubs_log_is_redelivered_once() {
    let s = ready().open().await;
    let (gh, repo) = (&s.gh, &s.repo);
    // GitHub tried while seamguard was down: 502 in the App's delivery log.
    let missed = repo.pull_request_event("opened", 7);
    let id = gh.log_delivery(&missed, 502);
    // One it delivered fine and one seamguard already has.
    let fine = repo.pull_request_event("labeled", 7);
    gh.log_delivery(&fine, 202);

    let app = s.start_with(&["--redelivery-interval", "100ms"]).await;
    let attempts = format!("/app/hook/deliveries/{id}/attempts");
    gh.wait_for(
        "the redelivery request",
        |w| w.count("POST", &attempts) == 1,
        WAIT,
    )
    .await;
    // GitHub redelivers it (same GUID): seamguard stores and evaluates it.
    assert_eq!(gh.perform_redeliveries(&app.webhook()).await, vec![202]);
    a_run_completed(gh, "the evaluation of the recovered delivery").await;
    // Later sweeps neither ask again nor ask for the delivered ones.
    let sweeps = gh.count("GET", "/app/hook/deliveries");
    gh.wait_for(
        "two more sweeps",
        |w| w.count("GET", "/app/hook/deliveries") >= sweeps + 2,
        WAIT,
    )
    .await;
    let redelivery_requests = gh
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/attempts"))
        .count();
    assert_eq!(redelivery_requests, 1);
    app.stop().await;
}

/// Behind a webhook proxy GitHub logs the proxy's 200 whether or not
/// seamguard got the delivery (the stream was down): the sweep asks again
/// for every settled delivery the store does not hold, and only those.
#[tokio::test]
async fn behind_a_webhook_proxy_a_delivery_the_store_lacks_is_redelivered() {
    let s = ready().open().await;
    let (gh, repo) = (&s.gh, &s.repo);
    let lost = repo.pull_request_event("opened", 7);
    let lost_id = gh.log_delivery(&lost, 200);
    let fresh = repo.pull_request_event("labeled", 7);
    let fresh_id = gh.log_delivery(&fresh, 200);
    // The lost one was accepted by the proxy two minutes ago; the fresh
    // one a moment ago (it may still be on its way).
    gh.with_world(|w| {
        let d = w
            .hook_deliveries
            .iter_mut()
            .find(|d| d.id == lost_id)
            .unwrap();
        d.delivered_at -= chrono::Duration::minutes(2);
    });
    let app = s
        .start_with(&[
            "--redelivery-interval",
            "100ms",
            "--webhook-proxy-url",
            "http://127.0.0.1:9/proxy-channel",
        ])
        .await;
    let attempts = format!("/app/hook/deliveries/{lost_id}/attempts");
    gh.wait_for(
        "the redelivery request",
        |w| w.count("POST", &attempts) == 1,
        WAIT,
    )
    .await;
    let sweeps = gh.count("GET", "/app/hook/deliveries");
    gh.wait_for(
        "two more sweeps",
        |w| w.count("GET", "/app/hook/deliveries") >= sweeps + 2,
        WAIT,
    )
    .await;
    assert_eq!(gh.count("POST", &attempts), 1, "asked once");
    assert_eq!(
        gh.count("POST", &format!("/app/hook/deliveries/{fresh_id}/attempts")),
        0,
        "a delivery still settling is not asked for"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_store_that_cannot_write_answers_503_never_202() {
    use sqlx::Connection;
    let s = ready().open().await;
    let (gh, repo) = (&s.gh, &s.repo);
    let app = s.start().await;
    let db = app.dir.path().join("seamguard.db");
    // Another process holds the database's write lock.
    let mut locker = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut locker)
        .await
        .unwrap();
    let delivery = repo.pull_request_event("opened", 7);
    let status = delivery
        .send(&app.webhook(), support::WEBHOOK_SECRET)
        .await
        .status();
    assert_eq!(status, 503, "not stored, so not acknowledged");
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    drop(locker);
    // GitHub's redelivery (same id) is then stored and evaluated: 202, or
    // 200 when the write given up on at the deadline landed once the lock
    // was released (stored either way, never lost).
    let again = gh.deliver(&delivery, &app.webhook()).await;
    assert!(matches!(again, 200 | 202), "redelivery answered {again}");
    a_run_completed(gh, "the evaluation").await;
    app.stop().await;
}
