//! End to end: the real `seamguard` binary on a loopback port, signed
//! deliveries, the fake GitHub. Covers the walking skeleton's contract,
//! crash recovery with kill -9, graceful shutdown, settings errors, and
//! that no secret ever reaches the logs.

mod support;

use std::process::Command;
use std::time::Duration;

use support::FakeGitHub;
use support::binary::{Process, env};
use support::flows::{WAIT, a_run_completed, feature_pr};

#[tokio::test]
async fn the_binary_acknowledges_and_posts_one_check_run() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut app = Process::spawn(&env(&gh, dir.path()));

    // A wrong signature: 401, and GitHub hears nothing.
    let delivery = repo.pull_request_event("opened", 7);
    let status = delivery.send(&app.webhook(), "wrong").await.status();
    assert_eq!(status, 401);
    // A malformed body: 400.
    let status = support::Delivery::new("pull_request", serde_json::json!({"number": "x"}))
        .send(&app.webhook(), support::WEBHOOK_SECRET)
        .await
        .status();
    assert_eq!(status, 400);
    app.wait_idle(&gh).await;
    assert!(gh.requests().is_empty(), "{:#?}", gh.requests());

    // The real thing: 202, then exactly one completed run on the head.
    assert_eq!(gh.deliver(&delivery, &app.webhook()).await, 202);
    a_run_completed(&gh, "a completed seamguard run").await;
    // The run is created with its result: the evaluation records its
    // metrics just after, and the work item completes after that.
    app.wait_idle(&gh).await;
    let runs: Vec<_> = gh.world().check_runs_named("seamguard").cloned().collect();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].head_sha, head);
    assert_eq!(runs[0].conclusion.as_deref(), Some("success"));

    // Health, readiness and metrics.
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains(r#"seamguard_deliveries_total{event="pull_request",outcome="accepted"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"outcome="unauthorized""#), "{metrics}");
    for name in [
        "seamguard_evaluation_seconds_bucket",
        "seamguard_evaluations_total",
        "seamguard_github_requests_total",
        "seamguard_github_rate_limit_remaining",
        "seamguard_token_refreshes_total",
        "seamguard_queue_depth",
        "seamguard_queue_oldest_due_age_seconds",
    ] {
        assert!(metrics.contains(name), "{name} in /metrics:\n{metrics}");
    }

    // SIGTERM: a clean exit.
    let status = app.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status:?}\n{}", app.log());
}

#[tokio::test]
async fn work_acknowledged_before_a_kill_9_is_done_after_restart() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &[]);
    let dir = tempfile::tempdir().unwrap();
    let env = env(&gh, dir.path());

    // GitHub is slow to answer the first call, so the evaluation is still
    // in flight when the process dies.
    gh.fail_next("GET /pulls/7", 200, "{}")
        .delay(Duration::from_secs(60));
    let mut first = Process::spawn(&env);
    assert_eq!(
        gh.deliver(&repo.pull_request_event("opened", 7), &first.webhook())
            .await,
        202
    );
    gh.wait_for(
        "the evaluation to start",
        |w| w.attempts("GET", "/pulls/7") >= 1,
        WAIT,
    )
    .await;
    first.kill9();
    assert_eq!(
        gh.world().check_runs_named("seamguard").count(),
        0,
        "nothing was finished"
    );

    // Restart on the same store: the acknowledged work resumes.
    let second = Process::spawn(&env);
    a_run_completed(&gh, "the resumed evaluation").await;
    let runs: Vec<_> = gh.world().check_runs_named("seamguard").cloned().collect();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].head_sha, head);
    assert!(
        second.log().contains("resuming work left unfinished"),
        "{}",
        second.log()
    );
}

#[tokio::test]
async fn secrets_never_reach_the_logs() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    feature_pr(&repo, 7, "feature", &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut app = Process::spawn(&env(&gh, dir.path()));
    // Exercise every path that touches a secret: a refused signature, token
    // minting, a revoked token, an evaluation, a merge refusal.
    repo.add_label(7, "automerge");
    repo.pull_request_event("opened", 7)
        .send(&app.webhook(), "a-wrong-secret")
        .await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    a_run_completed(&gh, "the evaluation").await;
    gh.revoke_tokens();
    gh.fail_next(
        "PUT /pulls/7/merge-async",
        400,
        r#"{"status":"failed","details":{"message":"At least 1 approving review is required."}}"#,
    );
    gh.deliver(&repo.pull_request_event("synchronize", 7), &app.webhook())
        .await;
    gh.wait_for(
        "the merge attempt",
        |w| w.attempts("PUT", "/pulls/7/merge-async") >= 1,
        WAIT,
    )
    .await;
    app.terminate(Duration::from_secs(15));

    let log = app.log();
    assert!(
        log.contains("\"delivery\""),
        "JSON logs with delivery spans: {log}"
    );
    let tokens: Vec<String> = gh.with_world(|w| w.tokens.keys().cloned().collect());
    assert!(tokens.len() >= 2, "two tokens were minted");
    for token in &tokens {
        assert!(
            !log.contains(token.as_str()),
            "an installation token leaked"
        );
    }
    assert!(
        !log.contains(support::WEBHOOK_SECRET),
        "the webhook secret leaked"
    );
    assert!(!log.contains("a-wrong-secret"));
    let pem = String::from_utf8(FakeGitHub::private_key_pem()).unwrap();
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!log.contains(line), "the private key leaked");
    }
    assert!(!log.contains("PRIVATE KEY"), "the private key leaked");
}

#[test]
fn invalid_settings_exit_2_with_one_line_naming_the_variable() {
    let bin = env!("CARGO_BIN_EXE_seamguard");
    let key = FakeGitHub::private_key_path();
    let not_a_key = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(not_a_key.path(), "hello").unwrap();
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            vec![
                ("APP_ID", "abc".into()),
                ("WEBHOOK_SECRET", "s".into()),
                ("PRIVATE_KEY_PATH", key.display().to_string()),
            ],
            "APP_ID",
        ),
        (
            vec![
                ("APP_ID", "1".into()),
                ("WEBHOOK_SECRET", "s".into()),
                ("PRIVATE_KEY_PATH", "/nonexistent/key.pem".into()),
            ],
            "PRIVATE_KEY_PATH",
        ),
        (
            vec![
                ("APP_ID", "1".into()),
                ("WEBHOOK_SECRET", "s".into()),
                ("PRIVATE_KEY_PATH", not_a_key.path().display().to_string()),
            ],
            "PRIVATE_KEY_PATH",
        ),
        (
            vec![
                ("APP_ID", "1".into()),
                ("PRIVATE_KEY_PATH", key.display().to_string()),
            ],
            "WEBHOOK_SECRET",
        ),
        (
            vec![("GITHUB_API_URL", "not a url".into())],
            "GITHUB_API_URL",
        ),
        (vec![("LISTEN_ADDR", "nowhere".into())], "LISTEN_ADDR"),
    ];
    for (vars, var) in cases {
        let out = Command::new(bin)
            .arg("serve")
            .env_clear()
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .env("CREDENTIALS_FILE", "/nonexistent/credentials.json")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{vars:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.starts_with(&format!("seamguard: {var}: ")),
            "{stderr}"
        );
    }
}
