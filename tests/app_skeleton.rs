//! The walking skeleton, in-process: a signed delivery comes in, seamguard
//! authenticates as the App, and one `seamguard` check run appears on the
//! pull request's head commit.

mod support;

use std::time::Duration;

use support::flows::a_run_completed;
use support::{FakeGitHub, Seamguard, ready};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn an_opened_pull_request_gets_one_completed_check_run() {
    let s = ready().file("src/a.rs", "fn a() {}\n").open().await;
    let (gh, head) = (&s.gh, &s.head);
    let app = s.start().await;
    s.send(&app, "opened").await;

    a_run_completed(gh, "a completed seamguard check run").await;
    let runs: Vec<_> = gh.world().check_runs_named("seamguard").cloned().collect();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let run = &runs[0];
    assert_eq!(&run.head_sha, head);
    assert_eq!(run.conclusion.as_deref(), Some("success"));
    assert_eq!(run.app_id, gh.app_id());
    let summary = run.summary();
    assert!(summary.contains("Conflict markers"), "{summary}");
    assert!(summary.contains("Merge sources"), "{summary}");
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_signature_is_401_and_github_hears_nothing() {
    let s = ready().open().await;
    let (gh, repo) = (&s.gh, &s.repo);
    let app = s.start().await;
    gh.reset_counts();

    let delivery = repo.pull_request_event("opened", 7);
    let status = delivery
        .send(&app.webhook(), "not-the-secret")
        .await
        .status();
    assert_eq!(status, 401);

    // Missing signature: 401 as well.
    let status = reqwest::Client::new()
        .post(app.webhook())
        .header("x-github-event", "pull_request")
        .header("x-github-delivery", "d-1")
        .body(delivery.bytes())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);

    // A (wrongly) stored delivery would be due, or leased, now.
    gh.wait_idle().await;
    assert!(gh.requests().is_empty(), "{:#?}", gh.requests());
}

fn signed(body: &[u8], event: Option<&str>, delivery: Option<&str>) -> reqwest::RequestBuilder {
    let mut req = reqwest::Client::new()
        .post("http://placeholder")
        .header(
            "x-hub-signature-256",
            support::sign(support::WEBHOOK_SECRET.as_bytes(), body),
        )
        .body(body.to_vec());
    if let Some(e) = event {
        req = req.header("x-github-event", e);
    }
    if let Some(d) = delivery {
        req = req.header("x-github-delivery", d);
    }
    req
}

async fn post(app: &Seamguard, req: reqwest::RequestBuilder) -> u16 {
    let mut req = req.build().unwrap();
    *req.url_mut() = app.webhook().parse().unwrap();
    reqwest::Client::new()
        .execute(req)
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn malformed_deliveries_are_400_and_oversized_ones_413() {
    let gh = FakeGitHub::start().await;
    gh.repo("acme/app");
    let app = Seamguard::start(&gh).await;

    // Not JSON at all.
    assert_eq!(
        post(
            &app,
            signed(b"{not json", Some("pull_request"), Some("d-1"))
        )
        .await,
        400
    );
    // JSON, but not a pull_request payload (number is a string).
    let wrong = br#"{"action":"opened","number":"seven","installation":{"id":1},"repository":{"id":1,"full_name":"acme/app"}}"#;
    assert_eq!(
        post(&app, signed(wrong, Some("pull_request"), Some("d-2"))).await,
        400
    );
    // Headers missing or malformed.
    assert_eq!(post(&app, signed(b"{}", None, Some("d-3"))).await, 400);
    assert_eq!(post(&app, signed(b"{}", Some("ping"), None)).await, 400);
    assert_eq!(
        post(&app, signed(b"{}", Some("Not An Event"), Some("d-4"))).await,
        400
    );
    // An event seamguard does not read: acknowledged.
    assert_eq!(
        post(
            &app,
            signed(b"{\"action\":\"created\"}", Some("star"), Some("d-5"))
        )
        .await,
        202
    );
    // Over 25 MiB.
    let huge = vec![b' '; 25 * 1024 * 1024 + 1];
    assert_eq!(
        post(&app, signed(&huge, Some("push"), Some("d-6"))).await,
        413
    );
    gh.wait_idle().await;
    // The same delivery id again: 200, not processed again.
    assert_eq!(
        post(
            &app,
            signed(b"{\"action\":\"created\"}", Some("star"), Some("d-5"))
        )
        .await,
        200
    );
    assert!(gh.requests().is_empty(), "{:#?}", gh.requests());
}

#[tokio::test]
async fn concurrent_work_shares_one_token_and_a_short_lived_token_is_replaced() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.branch_tip("main");
    for (n, branch) in [(1, "one"), (2, "two")] {
        let head = repo.commit(&[&base], branch, &[(branch, Some("x\n"))]);
        repo.branch(branch, &head);
        repo.pr(n).head(branch).base("main").open();
    }
    let app = Seamguard::start(&gh).await;
    let (one, two, url) = (
        repo.pull_request_event("opened", 1),
        repo.pull_request_event("opened", 2),
        app.webhook(),
    );
    let (a, b) = tokio::join!(gh.deliver(&one, &url), gh.deliver(&two, &url));
    assert_eq!((a, b), (202, 202));
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
    assert_eq!(gh.count("POST", "/app/installations/1/access_tokens"), 1);

    // A token handed out with four minutes of life: under the five-minute
    // margin, so it is replaced before the next call uses it.
    let app = {
        app.stop().await;
        Seamguard::start(&gh).await
    };
    gh.set_token_lifetime(Duration::from_secs(4 * 60));
    gh.reset_counts();
    gh.deliver(&repo.pull_request_event("synchronize", 1), &app.webhook())
        .await;
    gh.wait_for(
        "the evaluation's last call",
        |w| w.count("PATCH", "/repos/acme/app/check-runs/*") >= 1,
        WAIT,
    )
    .await;
    let mints = gh.count("POST", "/app/installations/1/access_tokens");
    let calls = gh
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/repos/"))
        .count();
    assert_eq!(
        mints,
        calls,
        "every call needed a fresh token: {:#?}",
        gh.requests()
    );
}
