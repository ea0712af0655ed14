//! Fault injection at the GitHub seam: every transient fault from the
//! incidents is retried and the evaluation ends as it would without it, in
//! a bounded number of calls; permanent answers are not retried; a revoked
//! token is replaced once.

mod support;

use std::time::{Duration, Instant};

use support::{FakeGitHub, Ready, Seamguard, TransportFault, ready};

const WAIT: Duration = Duration::from_secs(30);

struct Case {
    s: Ready,
    app: Seamguard,
}

impl std::ops::Deref for Case {
    type Target = Ready;
    fn deref(&self) -> &Ready {
        &self.s
    }
}

/// A repository with one pull request (#7, no required checks, not opted in
/// to merging) and seamguard running; `arm` installs the fault.
async fn case(arm: impl FnOnce(&FakeGitHub)) -> Case {
    let s = ready().file("src/f.rs", "fn f() {}\n").open().await;
    s.repo.ruleset(1).on("~DEFAULT_BRANCH").requires(&["lint"]);
    s.repo.check_run(&s.head, "lint").completed("success");
    arm(&s);
    let app = s.start().await;
    s.send(&app, "opened").await;
    Case { s, app }
}

impl Case {
    async fn completed(&self) -> support::CheckRun {
        self.completed_run().await;
        let runs: Vec<_> = self
            .world()
            .check_runs_named("seamguard")
            .cloned()
            .collect();
        assert_eq!(runs.len(), 1, "never two seamguard runs: {runs:#?}");
        runs.into_iter().next().unwrap()
    }
}

async fn recovers(route: &str, arm: impl FnOnce(&FakeGitHub)) -> Case {
    let c = case(arm).await;
    let run = c.completed().await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "{}",
        run.summary()
    );
    let attempts = c.attempts(route);
    assert_eq!(attempts, 2, "{route}: one failure, one retry");
    c
}

#[tokio::test]
async fn cloudflare_524_origin_response_timeout() {
    recovers("GET /pulls/7", |gh| {
        gh.fail_next(
            "GET /pulls/7",
            524,
            "error code: 524 origin_response_timeout",
        );
    })
    .await;
}

#[tokio::test]
async fn bad_gateway_502() {
    recovers("GET /compare/*", |gh| {
        gh.fail_next(
            "GET /compare/*",
            502,
            "<html><title>502 Bad Gateway</title></html>",
        );
    })
    .await;
}

#[tokio::test]
async fn socket_closed_mid_response() {
    recovers("GET /commits/*/check-runs", |gh| {
        gh.transport_fault_next("GET /commits/*/check-runs", TransportFault::Close);
    })
    .await;
}

#[tokio::test]
async fn connection_reset_econnreset() {
    recovers("GET /rules/branches/main", |gh| {
        gh.transport_fault_next("GET /rules/branches/main", TransportFault::Reset);
    })
    .await;
}

#[tokio::test]
async fn truncated_body() {
    recovers("GET /compare/*", |gh| {
        gh.transport_fault_next("GET /compare/*", TransportFault::Truncate);
    })
    .await;
}

#[tokio::test]
async fn secondary_rate_limit_with_retry_after_is_honoured() {
    let started = Instant::now();
    recovers("GET /branches/main/protection", |gh| {
        gh.fail_next(
            "GET /branches/main/protection",
            403,
            r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#,
        )
        .header("retry-after", "1");
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was waited out"
    );
}

#[tokio::test]
async fn too_many_requests_429_on_a_create_is_retried_without_a_duplicate() {
    recovers("POST /check-runs", |gh| {
        gh.fail_next(
            "POST /check-runs",
            429,
            r#"{"message":"Too Many Requests"}"#,
        );
    })
    .await;
}

#[tokio::test]
async fn a_create_that_failed_ambiguously_is_looked_up_not_repeated() {
    // GitHub created the run, then the answer was lost: no second run.
    let c = case(|gh| {
        gh.act_then_fail_next("POST /check-runs", 502, "bad gateway");
    })
    .await;
    let run = c.completed().await;
    assert_eq!(run.conclusion.as_deref(), Some("success"));
    assert_eq!(c.attempts("POST /check-runs"), 1);
}

#[tokio::test]
async fn a_revoked_token_is_replaced_once() {
    let c = case(|_| {}).await;
    c.completed().await;
    // Revoke, and evaluate again: the first call is refused (401), the
    // client mints a new token and the evaluation finishes.
    c.revoke_tokens();
    c.reset_counts();
    c.send(&c.app, "synchronize").await;
    // The comparison comes after the check runs; an unchanged result is
    // not written again.
    c.wait_for(
        "the evaluation after the revocation",
        |w| w.count("GET", "/repos/acme/app/compare/*") >= 1,
        WAIT,
    )
    .await;
    c.wait_idle().await;
    assert_eq!(c.count("POST", "/app/installations/1/access_tokens"), 1);
    let unauthorized = c.requests().iter().filter(|r| r.status == 401).count();
    assert_eq!(unauthorized, 1, "one refusal, then the new token works");
}

/// A 404 for a pull request whose delivery named no head: there is no
/// head to put a run on and nothing to come back to, so the job gives up at
/// once. (A delivery that names its head gets a run on it and retries:
/// `app_failsafe::a_pull_request_github_does_not_show_yet_gets_its_run_at_once`.)
#[tokio::test]
async fn a_permanent_404_without_a_head_is_not_retried() {
    let s = ready().file("src/f.rs", "fn f() {}\n").open().await;
    s.fail_next("GET /pulls/7", 404, r#"{"message":"Not Found"}"#);
    let app = s.start().await;
    let delivery = s
        .repo
        .pull_request_event("opened", 7)
        .set("/pull_request/head/sha", "");
    assert_eq!(s.deliver(&delivery, &app.webhook()).await, 202);
    // The job gives up at once: nothing else is asked.
    s.wait_for(
        "the failed read",
        |w| w.attempts("GET", "/pulls/7") >= 1,
        WAIT,
    )
    .await;
    s.wait_idle().await;
    assert_eq!(s.attempts("GET /pulls/7"), 1);
    assert_eq!(s.world().check_runs_named("seamguard").count(), 0);
}

#[tokio::test]
async fn a_permanent_422_on_completion_ends_the_run_neutral_with_the_error() {
    let c = case(|gh| {
        // The completion creates the run with its result.
        gh.fail_next(
            "POST /check-runs",
            422,
            r#"{"message":"Validation Failed","errors":[{"resource":"CheckRun","code":"invalid"}]}"#,
        );
    })
    .await;
    let run = c.completed().await;
    assert_eq!(run.conclusion.as_deref(), Some("neutral"));
    assert!(
        run.summary().contains("Validation Failed"),
        "{}",
        run.summary()
    );
    // The refused completion, then the fail-safe one: no retry loop.
    assert_eq!(c.attempts("POST /check-runs"), 2);
}

#[tokio::test]
async fn a_nearly_spent_rate_limit_is_waited_out_before_github_says_no() {
    let started = Instant::now();
    let c = case(|gh| {
        // Three requests left in this window, which resets in two seconds.
        gh.set_rate_limit(3, Duration::from_secs(2));
    })
    .await;
    let run = c.completed().await;
    assert_eq!(run.conclusion.as_deref(), Some("success"));
    let refused = c.requests().iter().filter(|r| r.status == 403).count();
    assert_eq!(refused, 0, "seamguard slowed down before GitHub said no");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "it waited for the window to reset"
    );
}
