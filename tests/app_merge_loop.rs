//! The merger never loops: every answer that leads to another merge call on
//! the same head is an attempt, backed off and bounded by
//! `merge.max_attempts`, and the check run then tells the truth about it.

mod support;

use std::time::Duration;

use chrono::Utc;
use seamguard::ids::{InstallationId, PrNumber};
use seamguard::store::{Store, StoreOptions, Work};
use support::flows::{WAIT, feature_pr};
use support::{FakeGitHub, Seamguard, Sha, World};

/// A bound far above `max_attempts`: a looping merger crosses it in well
/// under a second, so the test fails fast instead of timing out.
const RUNAWAY: usize = 30;

fn merge_calls(w: &World, n: u64) -> usize {
    w.requests.iter().filter(|r| r.is_merge_request(n)).count()
}

fn title(run: &support::CheckRun) -> &str {
    run.output.as_ref().map_or("", |o| o.title.as_str())
}

fn own_run<'a>(w: &'a World, head: &Sha) -> Option<&'a support::CheckRun> {
    w.check_runs_named("seamguard")
        .find(|r| &r.head_sha == head)
}

/// A pull request opted in with `max_attempts: 3`, whose every merge call
/// answers `status` with `message`; returns the fake (seamguard stopped)
/// once the completed run's summary says `until` and no retry is coming,
/// or once the merger ran away.
async fn every_merge_answers(status: u16, message: &str, until: &'static str) -> (FakeGitHub, Sha) {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.push(
        "main",
        "config",
        &[(".github/seamguard.yml", Some("merge:\n  max_attempts: 3\n"))],
    );
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    // The synchronous merge's answers: an API root without merge-async
    // (the asynchronous one's are in app_merge_async and app_gate_merge).
    gh.without_merge_async();
    let body = serde_json::json!({ "message": message }).to_string();
    gh.fail_next("PUT /pulls/7/merge", status, &body).always();
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("labeled", 7), &app.webhook())
        .await;
    let h = head.clone();
    gh.wait_for(
        "seamguard to stop merging (or to run away)",
        move |w| {
            merge_calls(w, 7) > RUNAWAY
                || own_run(w, &h).is_some_and(|r| {
                    r.is_completed()
                        && r.summary().contains(until)
                        && !r.summary().contains("trying again in")
                })
        },
        WAIT,
    )
    .await;
    app.stop().await;
    (gh, head)
}

#[tokio::test]
async fn a_persistent_409_on_the_same_head_is_bounded_by_max_attempts() {
    let (gh, head) = every_merge_answers(
        409,
        "Head branch was modified. Review and try the merge again.",
        "stopped trying",
    )
    .await;
    let calls = gh.with_world(|w| merge_calls(w, 7));
    println!("merge calls under a persistent 409 with the same head: {calls}");
    assert_eq!(calls, 3, "exactly max_attempts merge calls");
    let run = gh.with_world(|w| own_run(w, &head).cloned()).expect("run");
    assert!(!title(&run).contains("merging"), "{}", title(&run));
    assert!(
        !run.summary().contains("ready: merging"),
        "{}",
        run.summary()
    );
    assert!(
        run.summary().contains("stopped after 3 merge attempts"),
        "{}",
        run.summary()
    );
}

/// `You're not authorized to push to this branch` does not clear by
/// itself: one retry, then a refusal that says so — not "merging".
#[tokio::test]
async fn a_409_not_authorized_is_a_refusal_after_one_retry() {
    let message = "You're not authorized to push to this branch. Visit https://docs.github.com/articles/about-protected-branches/ for more information.";
    let (gh, head) = every_merge_answers(409, message, "refused").await;
    let calls = gh.with_world(|w| merge_calls(w, 7));
    assert_eq!(calls, 2, "one retry, then reported");
    let run = gh.with_world(|w| own_run(w, &head).cloned()).expect("run");
    assert_eq!(title(&run), "All guards pass · merge refused");
    let summary = run.summary();
    assert!(!summary.contains("merging"), "{summary}");
    assert_eq!(
        summary.matches("not authorized to push").count(),
        1,
        "quoted once: {summary}"
    );
}

/// A multi-line ruleset message is quoted once, on one line: no stray `.`
/// line, no `..`.
#[tokio::test]
async fn a_multi_line_ruleset_refusal_is_quoted_once_cleanly() {
    let message =
        "Repository rule violations found\n\nChanges must be made through a pull request.\n\n";
    let (gh, head) = every_merge_answers(405, message, "refused").await;
    assert_eq!(gh.with_world(|w| merge_calls(w, 7)), 1, "a refusal waits");
    let run = gh.with_world(|w| own_run(w, &head).cloned()).expect("run");
    let summary = run.summary();
    assert!(
        summary.contains(
            "“Repository rule violations found: Changes must be made through a pull request.”"
        ),
        "{summary}"
    );
    assert!(!summary.contains(".."), "{summary}");
    assert!(
        !summary
            .lines()
            .any(|l| l.trim() == "." || l.trim().starts_with(". ")),
        "no stray full stop: {summary}"
    );
    assert_eq!(summary.matches("Repository rule violations").count(), 1);
    assert!(!title(&run).contains("merging"), "{}", title(&run));
}

/// Planned re-runs are not failures. The store holds #7's work item as
/// nine merge calls answered "expected" leave it (each a re-run the
/// evaluation asked for, recorded with `Store::rerun_at`; seamguard's own
/// pacing would space nine real ones over minutes). Then GitHub fails a
/// read through every client retry: the job is retried as a first failure
/// is — it is not its last attempt — and #7 merges on its head, instead of
/// the run ending fail-safe.
#[tokio::test]
async fn a_transient_failure_after_many_planned_reruns_is_still_retried() {
    const RERUNS: u32 = 9;
    // The client's own tries at one request (one call and five retries):
    // all failing, the evaluation fails transiently.
    const CLIENT_TRIES: usize = 6;
    let s = support::ready().opted_in().open().await;
    let dir = tempfile::tempdir().unwrap();
    {
        let url = format!("sqlite://{}", dir.path().join("seamguard.db").display());
        let store = Store::open(&url, StoreOptions::default()).await.unwrap();
        let work = Work::pr(
            InstallationId(s.repo.installation()),
            "acme/app".parse().unwrap(),
            PrNumber(7),
        );
        store.enqueue(work, Utc::now()).await.unwrap();
        for _ in 0..RERUNS {
            let claim = store
                .claim(Utc::now(), 1, Duration::from_secs(60))
                .await
                .unwrap()
                .remove(0);
            store
                .rerun_at(
                    &claim,
                    Utc::now(),
                    "merge attempt: Required status check \"ci\" is expected.",
                )
                .await
                .unwrap();
        }
        store.close().await;
    }
    s.fail_next(
        "GET /pulls/7",
        502,
        "<html><title>502 Bad Gateway</title></html>",
    )
    .times(CLIENT_TRIES);
    let app = Seamguard::start_in(&s, dir, &[]).await;
    let head = s.head.clone();
    s.wait_for(
        "#7 merged, or its run completed otherwise",
        move |w| {
            support::flows::merged(w, "acme/app", 7)
                || own_run(w, &head)
                    .is_some_and(|r| r.is_completed() && r.conclusion.as_deref() != Some("success"))
        },
        WAIT,
    )
    .await;
    s.wait_idle().await;
    app.stop().await;

    let run = s.with_world(|w| own_run(w, &s.head).cloned()).expect("run");
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "not completed fail-safe: {}",
        run.summary()
    );
    assert!(s.merged(), "the retried job merged #7");
    let calls = s.merge_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["sha"], s.head.as_str(), "pinned to the head");
    let reads = s.attempts("GET /pulls/7");
    assert!(
        reads > CLIENT_TRIES,
        "failed through every try, then read again: {reads}"
    );
}
