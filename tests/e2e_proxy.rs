//! End to end: the real binary with `WEBHOOK_PROXY_URL` pointing at a
//! webhook proxy channel on loopback, the fake GitHub behind it.
//!
//! The proxy is a stand-in for smee.io's server, written here: smee.io's
//! server is not published to a package registry (only its client,
//! `smee-client`, is), so CI cannot run it. The stand-in holds exactly the
//! stream the `smee-client` package reads: `GET /<channel>` with
//! `Accept: text/event-stream` answers an event stream that starts with
//! `id: 0` / `event: ready` / `data: {}`, keeps itself open with
//! `event: ping` / `data: {}`, and carries each `POST /<channel>` as an
//! unnamed (`message`) event with an `id:` and one `data:` line: a JSON
//! object of the request's lower-cased headers, its parsed `body`, `query`
//! and `timestamp`. `POST` answers 200 whether anyone listens or not, as
//! smee.io does.
//!
//! Unlike smee.io, which writes the body as `JSON.stringify` does, the
//! stand-in writes every non-ASCII character and `<`, `>`, `&` of the body
//! as `\u` escapes (as a Go server or Python's `json.dumps` would):
//! `JSON.parse` reads the same value, so smee-client would send the same
//! bytes — and seamguard must serialize the value again, as smee-client
//! does, rather than pass the text on.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use support::FakeGitHub;
use support::binary::{Process, env};
use support::flows::{WAIT, feature_pr};

/// How often the stand-in pings (smee.io: every 30 s).
const PING: Duration = Duration::from_millis(200);

/// A webhook proxy channel on loopback, held to smee.io's stream.
struct Channel {
    url: String,
    shared: Arc<Shared>,
}

struct Shared {
    deliveries: broadcast::Sender<String>,
    /// Streams currently open.
    open: AtomicUsize,
    /// `GET`s for a stream so far, answered or refused.
    gets: AtomicUsize,
    /// How many of the next `GET`s are refused with 503.
    refuse: AtomicUsize,
    /// Cancelled to close every open stream; replaced after.
    close: std::sync::Mutex<CancellationToken>,
    events: AtomicUsize,
}

impl Channel {
    async fn start() -> Self {
        let (deliveries, _) = broadcast::channel(64);
        let shared = Arc::new(Shared {
            deliveries,
            open: AtomicUsize::new(0),
            gets: AtomicUsize::new(0),
            refuse: AtomicUsize::new(0),
            close: std::sync::Mutex::new(CancellationToken::new()),
            events: AtomicUsize::new(1),
        });
        let app = Router::new()
            .route("/{channel}", get(stream).post(publish))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{addr}/AbC123xyz"),
            shared,
        }
    }

    fn open(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// Waits until `n` streams are open.
    async fn wait_open(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.open() != n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} streams open, not {n}",
                self.open()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Closes every open stream, and refuses the next `refusals` attempts
    /// to open one.
    fn drop_streams(&self, refusals: usize) {
        self.shared.refuse.store(refusals, Ordering::SeqCst);
        let mut close = self.shared.close.lock().unwrap();
        close.cancel();
        *close = CancellationToken::new();
    }

    /// What GitHub does: posts the delivery to the channel, signed with
    /// `secret`. smee.io answers 200 whoever listens.
    async fn post(&self, delivery: &support::Delivery, secret: &str) {
        let status = delivery.send(&self.url, secret).await.status();
        assert_eq!(status, 200);
    }
}

/// An open stream: counted while it lives.
struct Open(Arc<Shared>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn stream(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    shared.gets.fetch_add(1, Ordering::SeqCst);
    if headers.get("accept").and_then(|v| v.to_str().ok()) != Some("text/event-stream") {
        return (StatusCode::OK, "<html>the channel's page</html>").into_response();
    }
    let refused = shared
        .refuse
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if refused {
        return (StatusCode::SERVICE_UNAVAILABLE, "down for a moment").into_response();
    }
    shared.open.fetch_add(1, Ordering::SeqCst);
    let open = Open(shared.clone());
    let rx = shared.deliveries.subscribe();
    let close = shared.close.lock().unwrap().clone();
    let first = Bytes::from_static(b"id: 0\nevent: ready\ndata: {}\n\n");
    let state = (rx, close, open, 1u64, tokio::time::interval(PING));
    let rest = futures::stream::unfold(state, |(mut rx, close, open, id, mut ping)| async move {
        let frame = tokio::select! {
            // What was posted before the stream closes is written first.
            biased;
            message = rx.recv() => match message {
                Ok(data) => format!("id: {id}\ndata: {data}\n\n"),
                Err(_) => return None,
            },
            _ = close.cancelled() => return None,
            _ = ping.tick() => format!("id: {id}\nevent: ping\ndata: {{}}\n\n"),
        };
        Some((
            Ok::<_, std::io::Error>(Bytes::from(frame)),
            (rx, close, open, id + 1, ping),
        ))
    });
    let body = futures::stream::once(async move { Ok(first) }).chain(rest);
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(body))
        .unwrap()
}

async fn publish(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    // smee.io's route takes a JSON object body only.
    let text = String::from_utf8(body.to_vec()).unwrap_or_default();
    if !serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|v| v.is_object()) {
        return (StatusCode::BAD_REQUEST, "body must be an object").into_response();
    }
    let mut data = String::from("{");
    for (name, value) in &headers {
        data.push_str(&serde_json::to_string(name.as_str()).unwrap());
        data.push(':');
        data.push_str(&serde_json::to_string(value.to_str().unwrap_or("")).unwrap());
        data.push(',');
    }
    data.push_str("\"body\":");
    data.push_str(&escaped(&text));
    data.push_str(",\"query\":{},\"timestamp\":");
    data.push_str(&chrono::Utc::now().timestamp_millis().to_string());
    data.push('}');
    shared.events.fetch_add(1, Ordering::SeqCst);
    let _ = shared.deliveries.send(data);
    StatusCode::OK.into_response()
}

/// `json` without whitespace, with non-ASCII characters and `<`, `>`, `&`
/// inside its strings written as `\u` escapes (the same value to
/// `JSON.parse`), keys in their order.
fn escaped(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escape) = (false, false);
    for c in json.chars() {
        if !in_string {
            if c == '"' {
                in_string = true;
            }
            if !c.is_whitespace() {
                out.push(c);
            }
            continue;
        }
        if escape {
            escape = false;
            out.push(c);
            continue;
        }
        match c {
            '\\' => {
                escape = true;
                out.push(c);
            }
            '"' => {
                in_string = false;
                out.push(c);
            }
            c if !c.is_ascii() || matches!(c, '<' | '>' | '&') => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The binary's `/metrics` value of `series`, or 0.
async fn metric(app: &Process, series: &str) -> f64 {
    let text = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn wait_metric(app: &Process, series: &str, value: f64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = metric(app, series).await;
        if now == value {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{series} is {now}, not {value}; log:\n{}",
            app.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const ACCEPTED: &str = r#"seamguard_deliveries_total{event="pull_request",outcome="accepted"} "#;
const REFUSED: &str = r#"seamguard_deliveries_total{event="pull_request",outcome="unauthorized"} "#;
const DUPLICATE: &str = r#"seamguard_deliveries_total{event="pull_request",outcome="duplicate"} "#;

fn proxy_env(gh: &FakeGitHub, dir: &std::path::Path, channel: &Channel) -> Vec<(String, String)> {
    let mut env = env(gh, dir);
    env.push(("WEBHOOK_PROXY_URL".to_owned(), channel.url.clone()));
    env
}

#[tokio::test]
async fn a_signed_delivery_through_the_proxy_becomes_a_check_run_and_a_bad_one_is_refused() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &[]);
    let channel = Channel::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut app = Process::spawn(&proxy_env(&gh, dir.path(), &channel));
    channel.wait_open(1).await;

    // Text JSON.stringify writes as itself and a server may escape:
    // non-ASCII, `<`, `&`, and characters only `\u` can write.
    let delivery = repo
        .pull_request_event("opened", 7)
        .set(
            "/pull_request/title",
            "Café ✓ 😀 <b>bold</b> & \"quoted\" \\ tab\t bell\u{7} \u{2028}",
        )
        .set("/pull_request/body", "<!-- a comment --> &amp; \u{1f}");
    let raw = String::from_utf8(delivery.bytes()).unwrap();
    assert!(raw.contains("\\u0007") && raw.contains('é') && raw.contains('<'));
    assert!(
        escaped(&raw).contains("\\u003cb\\u003e"),
        "the stand-in escapes"
    );

    // A wrong signature through the proxy: refused as at POST /webhook,
    // and GitHub hears nothing.
    channel.post(&delivery, "a-wrong-secret").await;
    wait_metric(&app, REFUSED, 1.0).await;
    app.wait_idle(&gh).await;
    assert_eq!(gh.world().check_runs_named("seamguard").count(), 0);
    assert!(app.log().contains("webhook signature refused"));

    // Signed: stored, evaluated, one completed run on the head.
    channel.post(&delivery, support::WEBHOOK_SECRET).await;
    let run = support::flows::completed_run(&gh, &head).await;
    assert_eq!(run.conclusion.as_deref(), Some("success"));
    assert_eq!(metric(&app, ACCEPTED).await, 1.0);

    // The same delivery again (GitHub's redelivery keeps the id): not
    // processed twice.
    channel.post(&delivery, support::WEBHOOK_SECRET).await;
    wait_metric(&app, DUPLICATE, 1.0).await;
    app.wait_idle(&gh).await;
    assert_eq!(gh.world().check_runs_named("seamguard").count(), 1);

    // SIGTERM stops the proxy's stream with the server.
    let status = app.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status:?}\n{}", app.log());
    channel.wait_open(0).await;
}

#[tokio::test]
async fn the_stream_dropped_and_restored_loses_nothing_acknowledged() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let first = feature_pr(&repo, 7, "feature", &[]);
    let second = feature_pr(&repo, 8, "other", &[]);
    let channel = Channel::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = Process::spawn(&proxy_env(&gh, dir.path(), &channel));
    channel.wait_open(1).await;

    // A delivery written to the stream just before the proxy closes it:
    // received, so stored and done.
    channel
        .post(
            &repo.pull_request_event("opened", 7),
            support::WEBHOOK_SECRET,
        )
        .await;
    channel.drop_streams(3);
    support::flows::completed_run(&gh, &first).await;

    // The proxy refuses three attempts to reconnect, then takes one.
    channel.wait_open(1).await;
    assert!(channel.shared.gets.load(Ordering::SeqCst) >= 5);

    // Deliveries flow again.
    channel
        .post(
            &repo.pull_request_event("opened", 8),
            support::WEBHOOK_SECRET,
        )
        .await;
    support::flows::completed_run(&gh, &second).await;
    app.wait_idle(&gh).await;
    assert_eq!(gh.world().check_runs_named("seamguard").count(), 2);
    assert_eq!(metric(&app, ACCEPTED).await, 2.0);

    // Said once when it dropped and once when it was back, not per retry.
    let log = app.log();
    assert_eq!(
        log.matches("webhook proxy stream is down").count(),
        1,
        "{log}"
    );
    assert_eq!(log.matches("webhook proxy connected again").count(), 1);
}

#[test]
fn a_proxy_url_that_is_not_a_url_exits_2_naming_it() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_seamguard"))
        .arg("serve")
        .env_clear()
        .env("WEBHOOK_PROXY_URL", "smee.io/AbC123")
        .env("CREDENTIALS_FILE", "/nonexistent/credentials.json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("seamguard: WEBHOOK_PROXY_URL: "),
        "{stderr}"
    );
}

/// The stand-in is held to what the `smee-client` npm package reads: that
/// client, run against it, forwards a delivery to `POST /webhook` whose
/// signature verifies (so its `JSON.stringify` of the stand-in's escaped
/// body is GitHub's bytes again) and becomes a check run. Needs Node.js and
/// the package: `SEAMGUARD_SMEE_CLIENT` names its `bin/smee.js` (.ci/run
/// installs it); skipped without it unless `SEAMGUARD_REQUIRE_SMEE_CLIENT`
/// is set.
#[tokio::test]
async fn the_smee_client_package_reads_the_stand_in_as_it_reads_smee_io() {
    let Some(smee) = std::env::var_os("SEAMGUARD_SMEE_CLIENT") else {
        assert!(
            std::env::var_os("SEAMGUARD_REQUIRE_SMEE_CLIENT").is_none(),
            "SEAMGUARD_SMEE_CLIENT must name smee-client's bin/smee.js"
        );
        eprintln!("SEAMGUARD_SMEE_CLIENT is unset; skipping");
        return;
    };
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &[]);
    let channel = Channel::start().await;
    let dir = tempfile::tempdir().unwrap();
    // No proxy setting: smee-client posts to /webhook.
    let app = Process::spawn(&env(&gh, dir.path()));
    let mut client = std::process::Command::new("node")
        .arg(smee)
        .args(["--url", &channel.url, "--target", &app.webhook()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("node runs smee-client");
    channel.wait_open(1).await;

    let delivery = repo.pull_request_event("opened", 7).set(
        "/pull_request/title",
        "Café ✓ 😀 <b>bold</b> & \"quoted\" \\ bell\u{7}",
    );
    channel.post(&delivery, "a-wrong-secret").await;
    wait_metric(&app, REFUSED, 1.0).await;
    channel.post(&delivery, support::WEBHOOK_SECRET).await;
    let run = support::flows::completed_run(&gh, &head).await;
    assert_eq!(run.conclusion.as_deref(), Some("success"));
    assert_eq!(metric(&app, ACCEPTED).await, 1.0);
    let _ = client.kill();
    let _ = client.wait();
}

/// README's quick start, as written: a channel in `WEBHOOK_PROXY_URL`,
/// `serve` with no credentials (setup mode), the setup link, the App
/// created on GitHub, installed on a repository; a pull request adding a
/// conflict marker gets a failed `seamguard` check with an annotation at
/// the marker — every delivery through the channel.
#[tokio::test]
async fn the_first_ten_minutes_as_the_readme_writes_them() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = support::ready::open_pr(
        &repo,
        7,
        "feature",
        &[(
            "notes.txt",
            "intro\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> main\n",
        )],
        &[],
    );
    let channel = Channel::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = proxy_env(&gh, dir.path(), &channel);
    env.retain(|(k, _)| !matches!(k.as_str(), "APP_ID" | "PRIVATE_KEY_PATH" | "WEBHOOK_SECRET"));
    let app = Process::spawn(&env);
    assert_eq!(channel.open(), 0, "setup mode holds no channel yet");

    // 2–3: the console's link, the page naming the channel, the form.
    let deadline = tokio::time::Instant::now() + WAIT;
    let secret: String = loop {
        let log = app.log();
        if let Some(rest) = log.split("?setup=").nth(1) {
            break rest.chars().take_while(char::is_ascii_hexdigit).collect();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no setup link: {log}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let html = reqwest::get(app.url(&format!("/?setup={secret}")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The manifest's webhook URL is the channel (GitHub would refuse this
    // loopback one, and the page says so, naming the setting).
    assert!(
        html.contains(&format!("<code>{}</code>", channel.url)),
        "{html}"
    );
    assert!(
        html.contains("<code>WEBHOOK_PROXY_URL</code> is set to this address"),
        "{html}"
    );
    let state: String = html
        .split("state=")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    // GitHub creates the App (the fake's own id, so its JWTs are good)
    // and sends the browser back with a code.
    let created = gh.manifest_code("good-code");
    gh.with_world(|w| {
        w.manifest_codes.get_mut("good-code").unwrap().id = support::fake_github::APP_ID;
    });
    let answer = reqwest::get(app.url(&format!("/setup/callback?code=good-code&state={state}")))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    // Serving: connected out to the channel.
    channel.wait_open(1).await;

    // 4–5: installed; a pull request adding a conflict marker.
    channel
        .post(
            &repo.pull_request_event("opened", 7),
            &created.webhook_secret,
        )
        .await;
    let run = support::flows::completed_run(&gh, &head).await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("failure"),
        "{}",
        run.summary()
    );
    assert!(
        run.annotations
            .iter()
            .any(|a| a.path == "notes.txt" && a.start_line == 2),
        "{:?}",
        run.annotations
    );
    assert!(app.log().contains("webhook proxy connected"));
}
