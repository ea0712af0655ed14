//! Webhook ingress under traffic nobody chose (issue 13): event names with
//! digits, bodies that are more than one JSON value, more bodies at once
//! than memory should hold, clients that send slowly, and a store that
//! cannot commit. Each test is what GitHub (or an attacker) sees: the status
//! of the answer, its `Retry-After`, whether the connection is cut, and
//! whether the delivery still gets its check run.
//!
//! Most run the real binary (one process each: the metrics registry and
//! the log are per process); the event-name test runs in-process.

mod support;

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::binary::{Process, env};
use support::flows::{a_run_completed, feature_pr};
use support::{Delivery, FakeGitHub, Seamguard, WEBHOOK_SECRET, sign};

/// An upper bound for things that must happen, so a regression fails the
/// test instead of hanging it. Not a speed requirement: every wait below
/// ends on an event (an answer, a closed connection, a metric) long before.
const GUARD: Duration = Duration::from_secs(60);

/// How long the test's "GitHub" waits for an answer: GitHub's 10 s less
/// the couple of seconds a large body spends in transit inside them.
const GITHUB_WAITS: Duration = Duration::from_secs(8);

const MIB: usize = 1024 * 1024;

/// The signed headers of a delivery of `body` (for raw requests).
fn raw_head(event: &str, guid: &str, body: &[u8], content_length: usize) -> String {
    format!(
        "POST /webhook HTTP/1.1\r\nhost: seamguard\r\ncontent-type: application/json\r\n\
         x-github-event: {event}\r\nx-github-delivery: {guid}\r\n\
         x-hub-signature-256: {}\r\ncontent-length: {content_length}\r\n\r\n",
        sign(WEBHOOK_SECRET.as_bytes(), body)
    )
}

/// Opens a connection and sends `head` and then `body_start` — and nothing
/// more: a client in the middle of a request.
async fn start_request(app: &Process, head: &str, body_start: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(body_start).await.expect("write body");
    stream
}

/// Keeps sending spaces on `stream` at 160 KiB/s (above seamguard's
/// minimum body rate) until the connection fails or the task is aborted,
/// which closes it.
fn keep_sending(stream: TcpStream) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut stream = stream;
        let chunk = [b' '; 16 * 1024];
        while stream.write_all(&chunk).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// What came back on a raw connection: the status line's code and the
/// headers, or `None` when the server closed it without an answer.
async fn answer(stream: &mut TcpStream) -> Option<(u16, String)> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(GUARD, stream.read(&mut buf))
            .await
            .expect("the server neither answered nor closed the connection")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
        if seen.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&seen).into_owned();
    let code = text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    Some((code, text.to_ascii_lowercase()))
}

/// Reads seamguard's `seamguard_webhook_body_bytes_in_flight` until `done`
/// holds for it.
async fn wait_for_in_flight(app: &Process, what: &str, done: impl Fn(f64) -> bool) {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + GUARD;
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        if let Ok(r) = client.get(app.url("/metrics")).send().await {
            last = r.text().await.unwrap_or_default();
            let value = last
                .lines()
                .find_map(|l| l.strip_prefix("seamguard_webhook_body_bytes_in_flight "))
                .and_then(|v| v.trim().parse::<f64>().ok());
            if value.is_some_and(&done) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: never seen in /metrics:\n{last}");
}

#[tokio::test]
async fn event_names_with_digits_are_acknowledged_and_ignored() {
    let gh = FakeGitHub::start().await;
    gh.repo("acme/app");
    let app = Seamguard::start(&gh).await;
    for event in ["projects_v2_item", "projects_v2"] {
        let delivery = Delivery::new(
            event,
            json!({ "action": "edited", "installation": { "id": 1 },
                    "organization": { "login": "acme", "id": 3 },
                    "sender": { "login": "octocat", "id": 1 } }),
        );
        assert_eq!(gh.deliver(&delivery, &app.webhook()).await, 202, "{event}");
        // Stored like any delivery: the same id again is a duplicate.
        assert_eq!(gh.deliver(&delivery, &app.webhook()).await, 200, "{event}");
    }
    // Still no capitals, dashes or spaces.
    let mut bad = Delivery::new("projects_v2_item", json!({ "action": "edited" }));
    bad.event = "Projects-V2".to_owned();
    assert_eq!(gh.deliver(&bad, &app.webhook()).await, 400);
    gh.wait_idle().await;
    assert!(gh.requests().is_empty(), "{:#?}", gh.requests());
}

/// POSTs `body` with `delivery`'s headers, signed over exactly `body`.
async fn post_signed(url: &str, delivery: &Delivery, body: Vec<u8>) -> u16 {
    let signature = sign(WEBHOOK_SECRET.as_bytes(), &body);
    let mut request = reqwest::Client::new().post(url).body(body);
    for (k, v) in delivery.headers(WEBHOOK_SECRET) {
        let v = if k == "x-hub-signature-256" {
            signature.clone()
        } else {
            v
        };
        request = request.header(k, v);
    }
    request.send().await.expect("an answer").status().as_u16()
}

#[tokio::test]
async fn a_signed_body_with_bytes_after_its_json_value_is_400() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    feature_pr(&repo, 7, "feature", &[]);
    let dir = tempfile::tempdir().unwrap();
    let app = Process::spawn(&env(&gh, dir.path()));
    let opened = repo.pull_request_event("opened", 7);
    let json = opened.bytes();
    for trailing in [&b"trailing text"[..], b"\0", &json, b"\n{}"] {
        let body = [json.as_slice(), trailing].concat();
        assert_eq!(
            post_signed(&app.webhook(), &opened, body).await,
            400,
            "{:?}",
            String::from_utf8_lossy(trailing)
        );
    }
    app.wait_idle(&gh).await;
    assert!(gh.requests().is_empty(), "{:#?}", gh.requests());
    // The operator reads why.
    let log = app.log();
    assert!(log.contains("bytes after the JSON value"), "{log}");
    // The one JSON value alone (whitespace after it allowed) is the
    // delivery, under the same id: nothing of the refused ones was stored.
    let body = [json.as_slice(), b"\r\n"].concat();
    assert_eq!(post_signed(&app.webhook(), &opened, body).await, 202);
    a_run_completed(&gh, "the delivery's check run").await;
}

#[tokio::test]
async fn bodies_past_the_memory_budget_are_503_with_retry_after_and_come_back() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    feature_pr(&repo, 7, "feature", &[]);
    let dir = tempfile::tempdir().unwrap();
    let app = Process::spawn(&env(&gh, dir.path()));

    // Two large deliveries in flight, their bodies still arriving (at a
    // pace above the minimum rate, so they are not cut off for it): 48 MiB
    // of the 64 MiB budget, all that large bodies may hold.
    let large = 24 * MIB;
    let mut slow = Vec::new();
    for n in 0..2 {
        let head = raw_head("push", &format!("large-{n}"), b"{}", large);
        let stream = start_request(&app, &head, &[b' '; 4096]).await;
        slow.push(keep_sending(stream));
    }
    wait_for_in_flight(&app, "48 MiB of bodies in flight", |v| {
        v >= (2 * large) as f64
    })
    .await;

    // A third does not fit: 503 at once, before its body is read, with
    // Retry-After so it is delivered again.
    let head = raw_head("push", "large-2", b"{}", large);
    let mut third = start_request(&app, &head, b"").await;
    let (status, headers) = answer(&mut third)
        .await
        .expect("an answer before the body was sent");
    assert_eq!(status, 503, "{headers}");
    assert!(headers.contains("\r\nretry-after: "), "{headers}");

    // An ordinary delivery still fits beside them.
    let opened = repo.pull_request_event("opened", 7);
    assert_eq!(gh.deliver(&opened, &app.webhook()).await, 202);
    a_run_completed(&gh, "the ordinary delivery's check run").await;

    // The large clients go away; their budget comes back, and so does the
    // refused delivery (redelivered, as GitHub would be asked to).
    for sender in slow {
        sender.abort();
        let _ = sender.await;
    }
    wait_for_in_flight(&app, "the budget released", |v| v == 0.0).await;
    let push = Delivery::new(
        "push",
        json!({ "ref": "refs/heads/elsewhere", "installation": { "id": 1 },
                "repository": { "id": 1, "full_name": "acme/app" } }),
    );
    assert_eq!(gh.deliver(&push, &app.webhook()).await, 202);
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_cut_off() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = Process::spawn(&env(&gh, dir.path()));
    let mut stream = start_request(&app, "POST /webhook HTTP/1.1\r\nhost: x\r\n", b"").await;
    // Closed, whatever it may say first.
    let mut buf = [0u8; 1024];
    loop {
        let n = tokio::time::timeout(GUARD, stream.read(&mut buf))
            .await
            .expect("a client stuck in its headers was never cut off")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
    }
    // The server itself is fine.
    let status = reqwest::get(app.url("/healthz")).await.unwrap().status();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_client_that_trickles_its_body_gets_408_and_its_budget_back() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = Process::spawn(&env(&gh, dir.path()));
    let body = br#"{"action":"created"}"#;
    let head = raw_head("star", "slow-body", body, 64 * 1024);
    let mut stream = start_request(&app, &head, &body[..4]).await;
    wait_for_in_flight(&app, "the slow body charged", |v| v >= 65536.0).await;
    let (status, headers) = answer(&mut stream)
        .await
        .expect("an answer to the slow body");
    assert_eq!(status, 408, "{headers}");
    wait_for_in_flight(&app, "the slow body's budget released", |v| v == 0.0).await;
}

#[tokio::test]
async fn a_held_store_lock_is_answered_503_in_time_and_nothing_is_lost() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    feature_pr(&repo, 7, "feature", &[]);
    feature_pr(&repo, 8, "other", &[]);
    let dir = tempfile::tempdir().unwrap();
    let app = Process::spawn(&env(&gh, dir.path()));

    // Another process (a `sqlite3` shell, a second seamguard) takes the
    // store's write lock and keeps it.
    use sqlx::Connection;
    let mut holder = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("seamguard.db")),
    )
    .await
    .expect("open the store");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .expect("take the write lock");

    // Two deliveries, the second once the first waits on the lock: on the
    // build before this fix it queued behind the first one's write, and
    // was answered only after both had waited out the lock (~10 s).
    let client = reqwest::Client::builder()
        .timeout(GITHUB_WAITS)
        .build()
        .unwrap();
    let send = |delivery: Delivery| {
        let (client, url) = (client.clone(), app.webhook());
        async move {
            let mut request = client.post(url).body(delivery.bytes());
            for (k, v) in delivery.headers(WEBHOOK_SECRET) {
                request = request.header(k, v);
            }
            request
                .send()
                .await
                .expect("an answer while GitHub still waits")
        }
    };
    let (first, second) = (
        repo.pull_request_event("opened", 7),
        repo.pull_request_event("opened", 8),
    );
    let first_answer = tokio::spawn(send(first.clone()));
    // Staging, not measuring: let the first delivery reach the store first.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let second_answer = send(second.clone()).await;
    let first_answer = first_answer.await.unwrap();
    for answer in [&first_answer, &second_answer] {
        assert_eq!(answer.status(), 503);
        assert!(answer.headers().contains_key("retry-after"));
    }

    // The lock goes; GitHub redelivers (same ids). Each is stored now, or
    // was stored late by the write the handler stopped waiting for: 202 or
    // 200, and either way its pull request is evaluated.
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    for delivery in [&first, &second] {
        let status = gh.deliver(delivery, &app.webhook()).await;
        assert!(status == 202 || status == 200, "redelivery: {status}");
    }
    gh.wait_for(
        "a check run on both pull requests",
        |w| {
            w.check_runs_named("seamguard")
                .filter(|r| r.is_completed())
                .count()
                == 2
        },
        GUARD,
    )
    .await;
}
