//! Merges first when GitHub's write budget binds: the fake enforces a
//! shrunk hourly limit on content-creating requests (40 an hour, on a clock
//! twenty times faster), reports of other pull requests fill seamguard's
//! share of it, and a ready pull request still merges at once, from the
//! reserve kept for merges — while a pull request that could only be
//! reported on waits whole, without reading anything.
//!
//! Its own test binary: it reads seamguard's `/metrics`, which no other
//! test may add to.

mod support;

use std::time::Duration;

use support::flows::feature_pr;
use support::limits::RateLimits;
use support::ready::one_merge_pinned;
use support::{FakeGitHub, Seamguard};

/// The fake's clock runs this much faster: an hour lasts three minutes.
const SPEED: f64 = 20.0;

/// Pull requests that are only reported on: more than the hour allows
/// reports (seamguard's cap is 35 of 40; 2 are kept for merges).
const REPORTED: u64 = 36;

const SETTLE: Duration = Duration::from_secs(60);

async fn metric(app: &Seamguard, name: &str) -> f64 {
    let text = reqwest::get(app.url("/metrics"))
        .await
        .expect("metrics answer")
        .text()
        .await
        .unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn reads_of_pull(gh: &FakeGitHub, n: u64) -> usize {
    let path = format!("/repos/acme/app/pulls/{n}");
    gh.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == path)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_reports_fill_the_hour_a_ready_pull_request_still_merges() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let heads: Vec<support::Sha> = (1..=REPORTED)
        .map(|n| feature_pr(&repo, n, &format!("feature-{n}"), &[]))
        .collect();
    let ready_n = REPORTED + 1;
    let ready = feature_pr(&repo, ready_n, "ready", &["automerge"]);
    gh.enforce_rate_limits(RateLimits {
        content_per_hour: 40,
        speed: SPEED,
        ..RateLimits::default()
    });
    let flag = format!("content_hour=40,speed={SPEED}");
    let app = Seamguard::start_with(&gh, &["--github-rate-limits", &flag]).await;

    for n in 1..=REPORTED {
        assert_eq!(
            gh.deliver(&repo.pull_request_event("opened", n), &app.webhook())
                .await,
            202
        );
    }
    // Reports have spent their share of the hour: one was refused.
    let deadline = tokio::time::Instant::now() + SETTLE;
    while metric(
        &app,
        "seamguard_github_requests_deferred_total{limit=\"content_hour\"}",
    )
    .await
        < 1.0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no report was ever held back for the hour"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reads_before = reads_of_pull(&gh, 1);
    assert_eq!(reads_before, 1, "#1 was evaluated once");

    // #1 only gets reports: evaluating it again now (a check of its head
    // completed) would spend reads on a report the budget refuses. The
    // ready pull request may merge: it goes.
    let lint = repo.check_run(&heads[0], "lint").completed("success");
    assert_eq!(
        gh.deliver(
            &repo.check_run_event("completed", lint.id().0),
            &app.webhook()
        )
        .await,
        202
    );
    assert_eq!(
        gh.deliver(&repo.pull_request_event("opened", ready_n), &app.webhook())
            .await,
        202
    );
    gh.wait_for(
        "the ready pull request merged",
        move |w| support::flows::merged(w, "acme/app", ready_n),
        SETTLE,
    )
    .await;
    one_merge_pinned(&gh, ready_n, ready.as_str());
    let run = support::flows::completed_run(&gh, &ready).await;
    assert_eq!(run.conclusion.as_deref(), Some("success"));

    // Reports still wait for the hour: not every pull request has its run
    // yet, and #1 was not read again.
    let reported = gh
        .world()
        .check_runs_named("seamguard")
        .filter(|r| r.head_sha != ready)
        .count();
    assert!(
        reported < REPORTED as usize,
        "{reported} reports written: some wait for the hour"
    );
    assert_eq!(
        reads_of_pull(&gh, 1),
        reads_before,
        "#1's evaluation waits whole, before its first read"
    );
    assert_eq!(gh.secondary_answers(), 0, "no secondary-limit answer");
    app.stop().await;
}
