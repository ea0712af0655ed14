//! Setup mode, through the real binary: with no App credentials, `serve`
//! listens on loopback and prints a one-time link on its console; only that
//! link shows the form that registers the App, the manifest's `state` is
//! derived from it, one exchange runs per link, the credentials are saved
//! 0600 without ever overwriting a file, and the server switches to
//! serving the App. Anyone without the link sees where to find it, nothing
//! more.

mod support;

use std::time::Duration;

use support::FakeGitHub;
use support::binary::{Process, env};

/// An upper bound for things that must happen; not a speed requirement.
const GUARD: Duration = Duration::from_secs(30);

/// `serve` against `gh` with no App credentials (setup mode), its store
/// and credentials file in `dir`, plus `extra` settings.
fn setup_env(
    gh: &FakeGitHub,
    dir: &std::path::Path,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut env = env(gh, dir);
    env.retain(|(k, _)| !matches!(k.as_str(), "APP_ID" | "PRIVATE_KEY_PATH" | "WEBHOOK_SECRET"));
    for (k, v) in extra {
        env.retain(|(key, _)| key != k);
        env.push(((*k).to_owned(), (*v).to_owned()));
    }
    env
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The first form's action and manifest in `html`.
fn form(html: &str) -> (String, serde_json::Value) {
    let action = html
        .split("<form action=\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no form in {html}"))
        .split('"')
        .next()
        .unwrap();
    let value = html
        .split("name=\"manifest\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    (
        unescape(action),
        serde_json::from_str(&unescape(value)).unwrap(),
    )
}

/// The setup secrets the console has shown so far, oldest first.
fn console_secrets(app: &Process) -> Vec<String> {
    app.log()
        .split("?setup=")
        .skip(1)
        .map(|rest| rest.chars().take_while(char::is_ascii_hexdigit).collect())
        .collect()
}

/// Waits until the console has shown `n` setup links; the last one's secret.
async fn nth_secret(app: &Process, n: usize) -> String {
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        let secrets = console_secrets(app);
        if secrets.len() >= n {
            return secrets[n - 1].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the console never showed link {n}:\n{}",
            app.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `GET url`: status and body.
async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.expect("an answer");
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The `state` GitHub would hand back for the form behind `secret`.
async fn state_for(app: &Process, secret: &str) -> String {
    let (status, html) = get(&app.url(&format!("/?setup={secret}"))).await;
    assert_eq!(status, 200, "{html}");
    let (action, _) = form(&html);
    action.split("state=").nth(1).unwrap().to_owned()
}

/// Nothing on `html` lets anyone register an App.
fn shows_nothing_that_registers(html: &str) {
    for needle in ["manifest", "state=", "<form", "settings/apps/new"] {
        assert!(
            !html.contains(needle),
            "{needle:?} on a locked page:\n{html}"
        );
    }
    assert!(html.contains("?setup="), "says where the link is: {html}");
}

#[tokio::test]
async fn only_the_console_link_registers_the_app_and_the_server_switches() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials.json");
    let app = Process::spawn(&setup_env(
        &gh,
        dir.path(),
        &[("PUBLIC_URL", "https://guard.example.org")],
    ));
    let secret = nth_secret(&app, 1).await;
    assert_eq!(secret.len(), 64, "256 random bits");
    assert!(
        app.log()
            .contains(&format!("https://guard.example.org/?setup={secret}")),
        "one console line with the link: {}",
        app.log()
    );

    // Without the link: where to find it, and nothing else.
    for path in [
        "/".to_owned(),
        "/?setup=0123".to_owned(),
        format!("/?setup={}", secret.to_uppercase()),
        "/org?org=acme".to_owned(),
        "/setup/callback?code=x&state=forged".to_owned(),
        "/setup/callback?state=forged".to_owned(),
    ] {
        let (status, html) = get(&app.url(&path)).await;
        assert_eq!(status, 403, "{path}: {html}");
        shows_nothing_that_registers(&html);
    }

    // With it: a form posting the manifest, with this server's URLs.
    let (status, html) = get(&app.url(&format!("/?setup={secret}"))).await;
    assert_eq!(status, 200);
    assert!(!html.contains("<script"), "plain HTML, no JavaScript");
    let (action, manifest) = form(&html);
    assert!(
        action.starts_with(&format!("{}settings/apps/new?state=", gh.api_url())),
        "{action}"
    );
    let state = action.split("state=").nth(1).unwrap().to_owned();
    assert!(!state.contains(&secret), "the secret never goes to GitHub");
    assert_eq!(
        manifest["hook_attributes"]["url"],
        "https://guard.example.org/webhook"
    );
    assert_eq!(
        manifest["redirect_url"],
        "https://guard.example.org/setup/callback"
    );
    assert_eq!(manifest["public"], false);
    let perms = &manifest["default_permissions"];
    for (permission, level) in [
        ("checks", "write"),
        ("contents", "write"),
        ("pull_requests", "write"),
        ("statuses", "read"),
        ("administration", "read"),
        ("metadata", "read"),
        ("merge_queues", "read"),
    ] {
        assert_eq!(perms[permission], level, "{permission}");
    }
    let events: Vec<&str> = manifest["default_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    for e in [
        "check_run",
        "check_suite",
        "pull_request",
        "pull_request_review",
        "push",
        "status",
        "merge_group",
        "issue_comment",
        "repository_ruleset",
    ] {
        assert!(events.contains(&e), "{e} in {events:?}");
    }
    let (status, org) = get(&app.url(&format!("/org?org=acme&setup={secret}"))).await;
    assert_eq!(status, 200);
    let (org_action, _) = form(&org);
    assert_eq!(
        org_action,
        format!(
            "{}organizations/acme/settings/apps/new?state={state}",
            gh.api_url()
        )
    );

    // A code GitHub does not know: the exchange failed, so that link is
    // spent and the console shows a new one.
    let (status, html) =
        get(&app.url(&format!("/setup/callback?code=unknown&state={state}"))).await;
    assert_eq!(status, 502, "{html}");
    assert!(html.contains("did not accept this code"), "{html}");
    assert!(html.contains("new setup link"), "{html}");
    assert!(!creds.exists());
    let renewed = nth_secret(&app, 2).await;
    assert_ne!(renewed, secret);
    let (status, _) = get(&app.url(&format!("/?setup={secret}"))).await;
    assert_eq!(status, 403, "the first link is spent");
    let app_on_github = gh.manifest_code("good-code");
    let (status, _) = get(&app.url(&format!("/setup/callback?code=good-code&state={state}"))).await;
    assert_eq!(status, 403, "the spent link's state is refused");

    // The new link, the real code: converted, saved 0600, and serving.
    let state = state_for(&app, &renewed).await;
    let (status, text) =
        get(&app.url(&format!("/setup/callback?code=good-code&state={state}"))).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("seamguard serve"), "{text}");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&creds).unwrap()).unwrap();
    assert_eq!(saved["app_id"], app_on_github.id);
    assert_eq!(saved["webhook_secret"], app_on_github.webhook_secret);
    assert_eq!(saved["private_key"], app_on_github.pem);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + GUARD;
    while !http
        .get(app.url("/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(tokio::time::Instant::now() < deadline, "{}", app.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ping = support::Delivery::new(
        "ping",
        serde_json::json!({ "zen": "Keep it logically awesome.", "hook_id": 1 }),
    );
    let r = ping
        .send(&app.webhook(), &app_on_github.webhook_secret)
        .await;
    assert_eq!(r.status(), 202, "the new webhook secret is in force");
    let (status, _) = get(&app.url(&format!("/setup/callback?code=good-code&state={state}"))).await;
    assert_eq!(status, 409, "a used link: a clear page, nothing changed");
}

#[tokio::test]
async fn callbacks_racing_on_one_link_run_one_exchange() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials.json");
    let app = Process::spawn(&setup_env(&gh, dir.path(), &[]));
    let secret = nth_secret(&app, 1).await;
    let state = state_for(&app, &secret).await;
    gh.manifest_code("good-code");

    let url = app.url(&format!("/setup/callback?code=good-code&state={state}"));
    // The winner's exchange ends setup mode: the server then stops
    // listening for setup, so a loser may find the port closed (0 here)
    // instead of answered 409. Either way it never exchanges.
    let answers = futures::future::join_all((0..8).map(|_| async {
        match reqwest::get(&url).await {
            Ok(r) => r.status().as_u16(),
            Err(e) if e.is_connect() || e.is_request() => 0,
            Err(e) => panic!("{e}"),
        }
    }))
    .await;
    let statuses: Vec<u16> = answers;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| matches!(*s, 200 | 409 | 0)),
        "{statuses:?}"
    );
    assert_eq!(
        gh.count("POST", "/conversions"),
        1,
        "one exchange for one link"
    );
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&creds).unwrap()).unwrap();
    assert_eq!(saved["webhook_secret"], "whsec-good-code");
}

#[tokio::test]
async fn an_existing_credentials_file_is_never_overwritten() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials.json");
    let app = Process::spawn(&setup_env(&gh, dir.path(), &[]));
    let secret = nth_secret(&app, 1).await;
    let state = state_for(&app, &secret).await;
    gh.manifest_code("good-code");
    // Another process (a second setup, an operator) writes the file while
    // this setup waits for GitHub.
    std::fs::write(&creds, "{\"theirs\": true}").unwrap();

    let (status, html) =
        get(&app.url(&format!("/setup/callback?code=good-code&state={state}"))).await;
    assert_eq!(status, 409, "{html}");
    assert!(html.contains("never overwrites"), "{html}");
    assert_eq!(
        std::fs::read_to_string(&creds).unwrap(),
        "{\"theirs\": true}"
    );
    assert_eq!(gh.count("POST", "/conversions"), 0, "nothing exchanged");

    // Moved away, the same link and code work.
    std::fs::remove_file(&creds).unwrap();
    let (status, html) =
        get(&app.url(&format!("/setup/callback?code=good-code&state={state}"))).await;
    assert_eq!(status, 200, "{html}");
    assert!(creds.exists());
}

#[tokio::test]
async fn setup_mode_listens_on_loopback_unless_told_otherwise() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = setup_env(&gh, dir.path(), &[("PORT", "0")]);
    env.retain(|(k, _)| k != "LISTEN_ADDR");
    let app = Process::spawn(&env);
    assert!(app.addr.ip().is_loopback(), "{}", app.addr);
    let secret = nth_secret(&app, 1).await;
    assert!(
        app.log().contains(&format!(
            "http://localhost:{}/?setup={secret}",
            app.addr.port()
        )),
        "{}",
        app.log()
    );
}

#[tokio::test]
async fn a_loopback_webhook_url_is_flagged_before_the_click_with_the_fix() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = Process::spawn(&setup_env(&gh, dir.path(), &[]));
    let secret = nth_secret(&app, 1).await;
    let (_, html) = get(&app.url(&format!("/?setup={secret}"))).await;
    let warning = html.find("GitHub will refuse this App").expect(&html);
    let button = html.find("<button").unwrap();
    assert!(warning < button, "the warning comes before the button");
    assert!(
        html.contains("<code>127.0.0.1</code> is a loopback address: GitHub refuses a webhook URL that isn&#39;t reachable over the public Internet")
            || html.contains("<code>127.0.0.1</code> is a loopback address: GitHub refuses a webhook URL that isn't reachable over the public Internet"),
        "the backticks are code, not raw: {html}"
    );
    assert!(!html.contains('`'), "no raw Markdown: {html}");
    assert!(html.contains("PUBLIC_URL"), "names the fix");
    assert!(html.contains("ngrok http"), "names a tunnel");
    // The webhook proxy is offered first, before a tunnel.
    let proxy = html.find("WEBHOOK_PROXY_URL").expect("offers the proxy");
    assert!(proxy < html.find("ngrok http").unwrap(), "proxy first");
    let (_, manifest) = form(&html);
    assert!(
        manifest["hook_attributes"]["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
}

#[tokio::test]
async fn with_a_webhook_proxy_the_manifest_names_its_channel_and_the_page_says_so() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let channel = "https://smee.io/AbC123xyz";
    let app = Process::spawn(&setup_env(
        &gh,
        dir.path(),
        &[("WEBHOOK_PROXY_URL", channel)],
    ));
    assert!(app.addr.ip().is_loopback(), "still loopback: {}", app.addr);
    let secret = nth_secret(&app, 1).await;
    let (status, html) = get(&app.url(&format!("/?setup={secret}"))).await;
    assert_eq!(status, 200, "{html}");
    assert!(!html.contains("GitHub will refuse"), "{html}");
    assert!(
        html.contains(&format!(
            "Deliveries come through the webhook proxy <code>{channel}</code>"
        )),
        "{html}"
    );
    let (_, manifest) = form(&html);
    assert_eq!(manifest["hook_attributes"]["url"], channel);
    // The browser's URLs stay this server's.
    assert!(
        manifest["redirect_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"),
        "{manifest}"
    );
    // The organization's form carries the same webhook URL.
    let (_, html) = get(&app.url(&format!("/org?org=acme&setup={secret}"))).await;
    let (_, manifest) = form(&html);
    assert_eq!(manifest["hook_attributes"]["url"], channel);
}

#[tokio::test]
async fn behind_a_tls_proxy_the_forwarded_scheme_and_host_are_used() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = Process::spawn(&setup_env(&gh, dir.path(), &[]));
    let secret = nth_secret(&app, 1).await;
    let html = reqwest::Client::new()
        .get(app.url(&format!("/?setup={secret}")))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "guard.acme.dev, proxy.internal")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (_, manifest) = form(&html);
    assert_eq!(
        manifest["hook_attributes"]["url"],
        "https://guard.acme.dev/webhook"
    );
    assert_eq!(
        manifest["redirect_url"],
        "https://guard.acme.dev/setup/callback"
    );
    assert!(
        !html.contains("GitHub will refuse"),
        "a public host: no warning"
    );
}
