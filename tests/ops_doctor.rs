//! `seamguard doctor` against the fake GitHub: every check ✓ in a good
//! deployment; each broken part named with its fix and exit status 1.

mod support;

use std::process::Command;

use support::FakeGitHub;

struct Outcome {
    code: Option<i32>,
    lines: Vec<String>,
}

impl Outcome {
    /// The one line that mentions `what`.
    fn line(&self, what: &str) -> &str {
        let found: Vec<&String> = self.lines.iter().filter(|l| l.contains(what)).collect();
        assert_eq!(
            found.len(),
            1,
            "one line with {what:?} in:\n{}",
            self.lines.join("\n")
        );
        found[0]
    }

    fn failed(&self) -> Vec<&String> {
        self.lines.iter().filter(|l| l.starts_with('✗')).collect()
    }
}

/// Runs the binary with the fake's settings, `overrides` replacing them.
async fn doctor(gh: &FakeGitHub, overrides: &[(&str, &str)]) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let mut env: Vec<(String, String)> = gh.env();
    env.push((
        "DATABASE_URL".into(),
        format!("sqlite://{}", dir.path().join("db.sqlite").display()),
    ));
    env.push(("PUBLIC_URL".into(), "https://seamguard.example.org".into()));
    env.push((
        "CREDENTIALS_FILE".into(),
        dir.path().join("creds.json").display().to_string(),
    ));
    for (k, v) in overrides {
        env.retain(|(name, _)| name != k);
        if !v.is_empty() {
            env.push((k.to_string(), v.to_string()));
        }
    }
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_seamguard"))
            .arg("doctor")
            .env_clear()
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    drop(dir);
    Outcome {
        code: out.status.code(),
        lines: String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect(),
    }
}

#[tokio::test]
async fn a_good_deployment_is_all_ticks() {
    let gh = FakeGitHub::start().await;
    gh.repo("acme/app");
    gh.repo("acme/api");
    let out = doctor(&gh, &[]).await;
    assert_eq!(out.code, Some(0), "{}", out.lines.join("\n"));
    assert!(out.failed().is_empty(), "{:?}", out.failed());
    assert!(out.line("private key loads and signs").starts_with('✓'));
    assert!(
        out.line("GitHub accepts the App's JWT: App `seamguard`")
            .starts_with('✓')
    );
    assert!(
        out.line("every permission seamguard needs")
            .starts_with('✓')
    );
    assert!(out.line("every event").starts_with('✓'));
    assert_eq!(
        out.line("installation 1:"),
        "✓ installation 1: 2 repositories, every permission accepted"
    );
    assert!(
        out.line("webhook URL https://seamguard.example.org/webhook is public")
            .starts_with('✓')
    );
    assert!(out.line("content type is json").starts_with('✓'));
    assert!(out.line("webhook secret is set").starts_with('✓'));
    assert!(out.line("opens and is migrated").starts_with('✓'));
    assert!(
        out.line("PUBLIC_URL https://seamguard.example.org/ is public and https")
            .starts_with('✓')
    );
}

#[tokio::test]
async fn a_missing_permission_is_named_for_the_app_and_the_installation() {
    let gh = FakeGitHub::start().await;
    gh.with_world(|w| {
        let perms = w.app_meta.permissions.as_object_mut().unwrap();
        perms.remove("merge_queues");
    });
    let out = doctor(&gh, &[]).await;
    assert_eq!(out.code, Some(1));
    let app = out.line("the App lacks");
    assert!(
        app.starts_with("✗ the App lacks the permission merge_queues: read — fix: grant it"),
        "{app}"
    );
    let inst = out.line("installation 1:");
    assert!(
        inst.contains("has not accepted the permission merge_queues: read"),
        "{inst}"
    );
    assert!(
        inst.contains("fix: an owner of the installation's account approves"),
        "{inst}"
    );
}

#[tokio::test]
async fn an_installation_that_has_not_accepted_a_new_permission_is_named() {
    let gh = FakeGitHub::start().await;
    gh.with_world(|w| {
        let mut older = w.app_meta.permissions.clone();
        older.as_object_mut().unwrap().remove("merge_queues");
        w.app_meta.installation_permissions.insert(1, older);
    });
    let out = doctor(&gh, &[]).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.line("every permission seamguard needs")
            .starts_with('✓')
    );
    assert!(out.line("installation 1:").starts_with(
        "✗ installation 1: 0 repositories, has not accepted the permission merge_queues: read"
    ));
}

#[tokio::test]
async fn a_missing_event_is_named() {
    let gh = FakeGitHub::start().await;
    gh.with_world(|w| w.app_meta.events.retain(|e| e != "merge_group"));
    let out = doctor(&gh, &[]).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.line("not subscribed")
            .starts_with("✗ the App is not subscribed to the event merge_group — fix: tick it")
    );
}

#[tokio::test]
async fn a_loopback_webhook_url_an_unset_secret_and_a_form_content_type_are_each_named() {
    let gh = FakeGitHub::start().await;
    gh.with_world(|w| {
        w.app_meta.hook_url = "http://127.0.0.1:3000/webhook".into();
        w.app_meta.hook_secret_set = false;
        w.app_meta.hook_content_type = "form".into();
    });
    let out = doctor(&gh, &[]).await;
    assert_eq!(out.code, Some(1));
    let url = out.line("webhook URL");
    assert!(
        url.starts_with(
            "✗ webhook URL http://127.0.0.1:3000/webhook: `127.0.0.1` is a loopback address"
        ),
        "{url}"
    );
    assert!(
        url.contains("fix: set the Webhook URL at https://github.com/apps/seamguard"),
        "{url}"
    );
    assert!(out.line("no secret").starts_with('✗'));
    assert!(out.line("content type is form").starts_with('✗'));
}

#[tokio::test]
async fn a_key_that_does_not_load_is_named_with_its_fix() {
    let gh = FakeGitHub::start().await;
    let out = doctor(
        &gh,
        &[
            ("PRIVATE_KEY_PATH", ""),
            (
                "PRIVATE_KEY",
                "-----BEGIN PRIVATE KEY-----\\nnope\\n-----END PRIVATE KEY-----",
            ),
        ],
    )
    .await;
    assert_eq!(out.code, Some(1));
    assert_eq!(out.lines.len(), 1, "{:?}", out.lines);
    assert!(
        out.lines[0].starts_with("✗ settings: PRIVATE_KEY: "),
        "{}",
        out.lines[0]
    );
    assert!(
        out.lines[0].contains("fix: give the App's private key"),
        "{}",
        out.lines[0]
    );
}

#[tokio::test]
async fn a_key_github_refuses_is_named_with_its_fix() {
    let gh = FakeGitHub::start().await;
    gh.fail_next("GET /app", 401, "A JSON web token could not be decoded");
    let out = doctor(&gh, &[]).await;
    assert_eq!(out.code, Some(1));
    let line = out.line("refused the App's JWT");
    assert!(
        line.contains("fix: the key is not this App's, or APP_ID is wrong"),
        "{line}"
    );
}

#[tokio::test]
async fn an_unreachable_store_and_a_plain_http_public_url_are_named() {
    let gh = FakeGitHub::start().await;
    let file = tempfile::NamedTempFile::new().unwrap();
    // A directory cannot be created below a regular file.
    let db = format!("sqlite://{}/sub/db.sqlite", file.path().display());
    let out = doctor(
        &gh,
        &[
            ("DATABASE_URL", &db),
            ("PUBLIC_URL", "http://seamguard.example.org"),
        ],
    )
    .await;
    assert_eq!(out.code, Some(1));
    let store = out.line("the store");
    assert!(store.starts_with("✗ the store sqlite://"), "{store}");
    assert!(store.contains("cannot be opened"), "{store}");
    assert!(store.contains("fix: check DATABASE_URL"), "{store}");
    assert!(
        out.line("PUBLIC_URL http://seamguard.example.org/ is not https")
            .starts_with('✗')
    );
    // Everything GitHub-side still checks out.
    assert!(out.line("GitHub accepts").starts_with('✓'));
}

#[tokio::test]
async fn without_any_credentials_the_doctor_cannot_run() {
    let gh = FakeGitHub::start().await;
    let out = doctor(
        &gh,
        &[
            ("APP_ID", ""),
            ("PRIVATE_KEY_PATH", ""),
            ("WEBHOOK_SECRET", ""),
        ],
    )
    .await;
    assert_eq!(out.code, Some(2), "{:?}", out.lines);
    assert!(out.line("no App credentials").starts_with('✗'));
}

#[tokio::test]
async fn behind_a_webhook_proxy_an_unset_public_url_is_not_a_problem() {
    let gh = FakeGitHub::start().await;
    let out = doctor(
        &gh,
        &[
            ("PUBLIC_URL", ""),
            ("WEBHOOK_PROXY_URL", "https://smee.io/AbC123"),
        ],
    )
    .await;
    let line = out.line("PUBLIC_URL is not set");
    assert!(line.starts_with('✓'), "{line}");
    assert!(
        line.contains("webhook proxy https://smee.io/AbC123"),
        "{line}"
    );
    // Without the proxy the same gap is named, with its fix.
    let out = doctor(&gh, &[("PUBLIC_URL", "")]).await;
    assert!(out.line("PUBLIC_URL is not set").starts_with('✗'));
}
