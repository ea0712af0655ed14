//! Setup mode: with no App credentials, `serve` registers the App from its
//! manifest through the browser, saves the credentials with mode 0600 and
//! switches to serving; bad and reused codes get clear pages.

mod support;

use std::time::Duration;

use clap::Parser;
use seamguard::config::settings::ServeArgs;
use support::FakeGitHub;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    serve: ServeArgs,
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of the first `name="manifest" value="..."` and the first form
/// action in `html`.
fn form(html: &str) -> (String, serde_json::Value) {
    let action = html
        .split("<form action=\"")
        .nth(1)
        .unwrap()
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

#[tokio::test]
async fn registering_the_app_from_its_manifest() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("seamguard-credentials.json");
    let settings = Args::try_parse_from([
        "serve",
        "--github-api-url",
        &gh.api_url(),
        "--database-url",
        &format!("sqlite://{}", dir.path().join("db.sqlite").display()),
        "--public-url",
        "https://guard.example.org",
        "--credentials-file",
        &creds.display().to_string(),
        "--redelivery-interval",
        "0",
        "--reconcile-interval",
        "0",
    ])
    .unwrap()
    .serve
    .validate()
    .unwrap();
    assert!(settings.app.is_none(), "no credentials: setup mode");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(seamguard::server::serve_on(
        listener,
        settings,
        shutdown.clone(),
    ));
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();

    // The page: a form posting the manifest, with this server's URLs.
    let page = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script"), "plain HTML, no JavaScript");
    let (action, manifest) = form(&html);
    assert!(
        action.starts_with(&format!("{}settings/apps/new?state=", gh.api_url())),
        "{action}"
    );
    let state = action.split("state=").nth(1).unwrap().to_owned();
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
    assert_eq!(perms["checks"], "write");
    assert_eq!(perms["contents"], "write");
    assert_eq!(perms["pull_requests"], "write");
    assert_eq!(perms["statuses"], "read");
    assert_eq!(perms["administration"], "read");
    assert_eq!(perms["metadata"], "read");
    assert_eq!(perms["merge_queues"], "read", "merge_group needs it");
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
    let org = http
        .get(format!("{base}/org?org=acme"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (org_action, _) = form(&org);
    assert!(
        org_action.contains("organizations/acme/settings/apps/new?state="),
        "{org_action}"
    );

    // A callback without this server's state, and a code GitHub does not
    // know: clear pages, and the server carries on.
    let r = http
        .get(format!("{base}/setup/callback?code=x&state=forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .get(format!("{base}/setup/callback?code=unknown&state={state}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert!(r.text().await.unwrap().contains("did not accept this code"));
    assert!(!creds.exists());

    // The real code: converted, saved 0600, and the server switches.
    let app = gh.manifest_code("good-code");
    let r = http
        .get(format!(
            "{base}/setup/callback?code=good-code&state={state}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("seamguard serve"),
        "tells the command to start serving: {text}"
    );
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&creds).unwrap()).unwrap();
    assert_eq!(saved["app_id"], app.id);
    assert_eq!(saved["webhook_secret"], app.webhook_secret);
    assert_eq!(saved["private_key"], app.pem);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // Now serving the App on the same address.
    let mut ready = false;
    for _ in 0..200 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ready, "serving the App after setup");
    let ping = support::Delivery::new(
        "ping",
        serde_json::json!({ "zen": "Keep it logically awesome.", "hook_id": 1 }),
    );
    let r = ping
        .send(&format!("{base}/webhook"), &app.webhook_secret)
        .await;
    assert_eq!(r.status(), 202, "the new webhook secret is in force");
    // The used link again: a clear page, nothing changed.
    let r = http
        .get(format!(
            "{base}/setup/callback?code=good-code&state={state}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);

    shutdown.cancel();
    server.await.unwrap().unwrap();
    // And a restart reads the credentials file: no setup mode.
    let restarted =
        Args::try_parse_from(["serve", "--credentials-file", &creds.display().to_string()])
            .unwrap()
            .serve
            .validate()
            .unwrap();
    assert_eq!(restarted.app.unwrap().credentials.app_id().0, app.id);
}

/// Setup mode with no `PUBLIC_URL`, on a loopback port; the base URL.
async fn setup_without_public_url(
    gh: &FakeGitHub,
    dir: &tempfile::TempDir,
) -> (String, CancellationToken) {
    let settings = Args::try_parse_from([
        "serve",
        "--github-api-url",
        &gh.api_url(),
        "--database-url",
        &format!("sqlite://{}", dir.path().join("db.sqlite").display()),
        "--credentials-file",
        &dir.path().join("creds.json").display().to_string(),
    ])
    .unwrap()
    .serve
    .validate()
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(seamguard::server::serve_on(
        listener,
        settings,
        shutdown.clone(),
    ));
    (format!("http://{addr}"), shutdown)
}

#[tokio::test]
async fn a_loopback_webhook_url_is_flagged_before_the_click_with_the_fix() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (base, shutdown) = setup_without_public_url(&gh, &dir).await;
    let html = reqwest::get(format!("{base}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let text = unescape(&html);
    let warning = text.find("GitHub will refuse this App").expect(&text);
    let button = text.find("<button").unwrap();
    assert!(warning < button, "the warning comes before the button");
    assert!(
        text.contains("`127.0.0.1` is a loopback address: GitHub refuses a webhook URL that isn't reachable over the public Internet"),
        "{text}"
    );
    assert!(text.contains("PUBLIC_URL"), "names the fix");
    assert!(text.contains("ngrok http"), "names a tunnel");
    let (_, manifest) = form(&html);
    assert!(
        manifest["hook_attributes"]["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    shutdown.cancel();
}

#[tokio::test]
async fn behind_a_tls_proxy_the_forwarded_scheme_and_host_are_used() {
    let gh = FakeGitHub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (base, shutdown) = setup_without_public_url(&gh, &dir).await;
    let html = reqwest::Client::new()
        .get(format!("{base}/"))
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
    shutdown.cancel();
}
