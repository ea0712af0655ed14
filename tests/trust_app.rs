//! The App under hostile input and racing answers (issue 23): a `Link`
//! header that points elsewhere never gets a token sent there; workers
//! refused together keep the one fresh token instead of dropping each
//! other's; a flood of commands from someone without write access costs
//! one reply per pull request a day, not one each; a config bomb on the
//! base branch is refused with its line, at a bounded cost.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use seamguard::github::ErrorKind;
use seamguard::ids::{InstallationId, PrNumber};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use support::flows::{WAIT, completed_run, feature_pr};
use support::{FakeGitHub, Seamguard};

/// A second loopback port that answers every request with `[]` and keeps
/// what it was sent: any token that reaches it is a token that leaked.
struct Collector {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Collector {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let sink = sink.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut got = Vec::new();
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    sink.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&got).into_owned());
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n[]",
                        )
                        .await;
                });
            }
        });
        Self { port, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn a_next_link_off_the_api_root_ends_pagination_and_sends_no_token() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let collector = Collector::start().await;
    let inst = gh
        .client()
        .installation(InstallationId(gh.installation_id()));
    let api = gh.api_url();
    let root = api.trim_end_matches('/');
    let elsewhere = format!("127.0.0.1:{}", collector.port);
    for link in [
        // The root, then a scheme-relative remainder: joined naively it
        // names the collector's host.
        format!("{root}///{elsewhere}/repos/acme/app/branches?page=2"),
        // Another port of the same host.
        format!("http://{elsewhere}/repos/acme/app/branches?page=2"),
        // Scheme-relative outright.
        format!("//{elsewhere}/branches?page=2"),
    ] {
        gh.fail_next("GET /repos/acme/app/branches", 200, "[]")
            .header("link", &format!("<{link}>; rel=\"next\""));
        let err = inst
            .branches(&repo.name())
            .await
            .expect_err("a link off the API root ends pagination with an error");
        assert_eq!(err.kind, ErrorKind::Permanent, "{link}: {err}");
        assert!(err.message.contains("pagination link"), "{link}: {err}");
        assert!(
            collector.seen().is_empty(),
            "{link}: a request reached another port: {:#?}",
            collector.seen()
        );
    }
    // A link under the root is followed as before.
    gh.fail_next("GET /repos/acme/app/branches", 200, "[]")
        .header(
            "link",
            &format!("<{root}/repos/acme/app/branches?page=2>; rel=\"next\""),
        );
    inst.branches(&repo.name())
        .await
        .expect("a link under the API root is followed");
    assert_eq!(gh.count("GET", "/repos/acme/app/branches"), 5);
}

#[tokio::test]
async fn workers_refused_together_mint_one_token_not_one_each() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    feature_pr(&repo, 7, "feature", &[]);
    let inst = gh
        .client()
        .installation(InstallationId(gh.installation_id()));
    let mints = || gh.count("POST", "/app/installations/1/access_tokens");
    inst.pull(&repo.name(), PrNumber(7)).await.expect("warm up");
    assert_eq!(mints(), 1);

    // Two workers send with the same token, and GitHub refuses it to both:
    // one at once, the other a moment later, after the first has minted a
    // new token. The late refusal is of the old token; the new one stays.
    let bad_credentials = r#"{"message":"Bad credentials"}"#;
    gh.fail_next("GET /repos/acme/app/pulls/7", 401, bad_credentials);
    gh.fail_next("GET /repos/acme/app/branches", 401, bad_credentials)
        .delay(Duration::from_millis(500));
    let name = repo.name();
    let (pull, branches) = tokio::join!(inst.pull(&name, PrNumber(7)), inst.branches(&name));
    pull.expect("the first worker retries with a fresh token");
    branches.expect("the second worker retries with the same fresh token");
    assert_eq!(
        mints(),
        2,
        "one token minted for both refusals: {:#?}",
        gh.requests()
            .iter()
            .map(|r| format!("{} {} {}", r.method, r.path, r.status))
            .collect::<Vec<_>>()
    );
}

/// Waits until seamguard's queue holds no work item (every delivered
/// command has run to its end).
async fn queue_drained(app: &Seamguard) {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        last = client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let depth = last
            .lines()
            .find_map(|l| l.strip_prefix("seamguard_queue_depth "))
            .and_then(|v| v.trim().parse::<f64>().ok());
        if depth == Some(0.0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the queue never drained:\n{last}");
}

#[tokio::test]
async fn a_flood_of_commands_from_a_reader_gets_one_reply_per_pull_request() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    feature_pr(&repo, 7, "feature", &[]);
    feature_pr(&repo, 8, "other", &[]);
    repo.collaborator("mallory", "read");
    repo.collaborator("eve", "read");
    let app = Seamguard::start(&gh).await;

    for n in 0..10 {
        let comment = if n % 2 == 0 {
            "@seamguard recheck"
        } else {
            "@seamguard explain"
        };
        let delivery = repo.comment_on(7, "mallory", "User", comment);
        assert_eq!(gh.deliver(&delivery, &app.webhook()).await, 202);
    }
    // Another pull request, and another person: each told once too.
    let delivery = repo.comment_on(8, "mallory", "User", "@seamguard recheck");
    assert_eq!(gh.deliver(&delivery, &app.webhook()).await, 202);
    let delivery = repo.comment_on(7, "eve", "User", "@seamguard recheck");
    assert_eq!(gh.deliver(&delivery, &app.webhook()).await, 202);
    queue_drained(&app).await;
    app.stop().await;

    let replies = |pr: u64, to: &str| {
        repo.comments_on(pr)
            .into_iter()
            .filter(|c| c.user == "seamguard[bot]" && c.body.contains(&format!("@{to} ")))
            .count()
    };
    assert_eq!(replies(7, "mallory"), 1, "{:#?}", repo.comments_on(7));
    assert_eq!(replies(8, "mallory"), 1, "{:#?}", repo.comments_on(8));
    assert_eq!(replies(7, "eve"), 1, "{:#?}", repo.comments_on(7));
    assert_eq!(gh.count("POST", "/reactions"), 0, "nothing accepted");
}

#[tokio::test]
async fn config_bombs_on_the_base_fail_the_run_with_their_line() {
    let gh = FakeGitHub::start().await;
    // One long string aliased two thousand times: a 90 KB file that
    // expands to 80 MB of globs.
    let long = "x".repeat(40 * 1024);
    let mut bomb = format!("conflict_markers:\n  ignore:\n    - &a \"{long}\"\n");
    for _ in 0..2_000 {
        bomb.push_str("    - *a\n");
    }
    let aliases = gh.repo("acme/aliases");
    aliases.config_on("main", &bomb);
    let head = feature_pr(&aliases, 7, "feature", &[]);
    // And a file past the size read at all.
    let big = gh.repo("acme/big");
    big.config_on("main", &format!("# {}\n", "y".repeat(1021)).repeat(100));
    let big_head = feature_pr(&big, 7, "feature", &[]);

    let app = Seamguard::start(&gh).await;
    gh.deliver(&aliases.pull_request_event("opened", 7), &app.webhook())
        .await;
    gh.deliver(&big.pull_request_event("opened", 7), &app.webhook())
        .await;
    let run = completed_run(&gh, &head).await;
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    let summary = run.summary();
    assert!(
        summary.contains("9:7: too many aliases"),
        "the alias that crossed the bound, by line: {summary}"
    );
    let run = completed_run(&gh, &big_head).await;
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    let summary = run.summary();
    assert!(summary.contains("too large"), "{summary}");
    assert!(
        !gh.requests()
            .iter()
            .any(|r| r.path.contains("/acme/big/git/blobs/")),
        "a file over the size read is not fetched"
    );
    app.stop().await;
}

/// Delivers #7's `opened`, then the same signed body again under the id
/// `new_id` makes of the original's. The replay must be answered 200 (a
/// duplicate) and cause no evaluation: no check run written, the pull
/// request not read again.
async fn replayed_under(new_id: impl FnOnce(&str) -> String) {
    let s = support::ready().open().await;
    let app = s.start().await;
    let d = s.repo.pull_request_event("opened", 7);
    assert_eq!(s.gh.deliver(&d, &app.webhook()).await, 202);
    s.completed_run().await;
    s.gh.wait_idle().await;
    let runs_before = s.gh.count("POST", "/check-runs");
    let reads_before = s.gh.count("GET", "/repos/acme/app/pulls/7");
    let mut replay = d.clone();
    replay.guid = new_id(&d.guid);
    assert_ne!(replay.guid, d.guid, "the replay's id differs as sent");
    assert_eq!(
        s.gh.deliver(&replay, &app.webhook()).await,
        200,
        "answered as a duplicate"
    );
    s.gh.wait_idle().await;
    assert_eq!(s.gh.count("POST", "/check-runs"), runs_before);
    assert_eq!(
        s.gh.count("GET", "/repos/acme/app/pulls/7"),
        reads_before,
        "not evaluated again"
    );
    app.stop().await;
}

/// A captured signed delivery sent again under its id upper-cased is the
/// same delivery.
#[tokio::test]
async fn a_replay_under_an_upper_cased_id_is_a_duplicate() {
    replayed_under(str::to_ascii_uppercase).await;
}

/// A captured signed delivery sent again under a new id is the same body.
#[tokio::test]
async fn a_replay_of_a_signed_body_under_a_new_id_is_a_duplicate() {
    replayed_under(|_| support::deliveries::new_guid()).await;
}
