//! The real binary: `seamguard check-config FILE` and `seamguard manifest`.

use std::path::Path;
use std::process::{Command, Output};

fn seamguard(args: &[&str], public_url: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_seamguard"));
    command.args(args);
    match public_url {
        Some(url) => command.env("PUBLIC_URL", url),
        None => command.env_remove("PUBLIC_URL"),
    };
    command.output().expect("the seamguard binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn check_config_accepts_a_valid_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "seamguard.yml",
        "merge:\n  mode: always\n  method: merge\nrequired_checks:\n  register_timeout: 1h\n",
    );
    let out = seamguard(&["check-config", &file], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{file}: ok\n"));
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn check_config_lists_every_problem_as_file_line_col() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "seamguard.yml",
        "merge:\n  mode: sometimes\n  max_attempts: 0\nconflict_markers:\n  ignroe: []\n",
    );
    let out = seamguard(&["check-config", &file], None);
    assert_eq!(out.status.code(), Some(1));
    let expected = [
        format!(
            "{file}:2:9: `merge.mode` must be one of `label`, `always`, `never`, found the string `sometimes`"
        ),
        format!(
            "{file}:3:17: `merge.max_attempts` must be a whole number from 1 to 50, found the number `0`"
        ),
        format!("{file}:5:3: unknown key `ignroe` in `conflict_markers`; did you mean `ignore`?"),
    ];
    assert_eq!(text(&out.stdout).lines().collect::<Vec<_>>(), expected);
}

#[test]
fn check_config_reports_non_utf8_as_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seamguard.yml");
    std::fs::write(&path, b"merge:\n  label: \xff\n").unwrap();
    let file = path.to_str().unwrap();
    let out = seamguard(&["check-config", file], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        format!("{file}:2:10: the file is not UTF-8 text\n")
    );
}

#[test]
fn check_config_exits_2_when_the_file_cannot_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.yml");
    let missing = missing.to_str().unwrap();
    let out = seamguard(&["check-config", missing], None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "");
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!("seamguard: cannot read {missing}: ")),
        "{stderr}"
    );

    // A directory is not a readable file either.
    let out = seamguard(&["check-config", dir.path().to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn manifest_prints_the_app_manifest_as_json() {
    let out = seamguard(&["manifest"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let manifest: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(manifest["name"], "seamguard");
    assert_eq!(manifest["public"], false);
    assert_eq!(
        manifest["default_permissions"],
        serde_json::json!({
            "checks": "write",
            "contents": "write",
            "pull_requests": "write",
            "issues": "write",
            "statuses": "read",
            "administration": "read",
            "metadata": "read",
            "merge_queues": "read",
            "deployments": "read",
        })
    );
    let mut events: Vec<&str> = manifest["default_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    events.sort_unstable();
    assert_eq!(
        events,
        [
            "branch_protection_rule",
            "check_run",
            "check_suite",
            "deployment_status",
            "issue_comment",
            "merge_group",
            "pull_request",
            "pull_request_review",
            "pull_request_review_thread",
            "push",
            "repository",
            "repository_ruleset",
            "status"
        ]
    );
    assert_eq!(
        manifest["hook_attributes"],
        serde_json::json!({"url": "https://seamguard.example.com/webhook", "active": true})
    );
    assert!(text(&out.stdout).contains("\n  \"name\""), "pretty-printed");
}

#[test]
fn manifest_roots_its_urls_at_public_url() {
    let out = seamguard(&["manifest"], Some("https://guard.acme.dev/"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let manifest: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(manifest["url"], "https://guard.acme.dev");
    assert_eq!(
        manifest["hook_attributes"]["url"],
        "https://guard.acme.dev/webhook"
    );
    assert_eq!(
        manifest["redirect_url"],
        "https://guard.acme.dev/setup/callback"
    );
    assert_eq!(
        manifest["setup_url"],
        "https://guard.acme.dev/setup/installed"
    );
}

#[test]
fn manifest_refuses_a_public_url_that_is_not_one() {
    let out = seamguard(&["manifest"], Some("guard.acme.dev"));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "");
    assert!(
        text(&out.stderr).contains("PUBLIC_URL"),
        "{}",
        text(&out.stderr)
    );
}
