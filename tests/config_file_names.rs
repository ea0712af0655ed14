//! `.github/seamguard.yaml` is read as well as `.github/seamguard.yml`:
//! alone it is the config; beside a `.yml` it is ignored, and the check
//! run's summary says so. `check-config` on an ignored file says so too.

mod support;

use std::process::Command;

use support::flows::completed_run;
use support::{FakeGitHub, RepoHandle, Seamguard, Sha};

/// A pull request adding a conflict marker under `fixtures/`.
fn marker_pr(repo: &RepoHandle) -> Sha {
    let base = repo.branch_tip("main");
    let head = repo.commit(
        &[&base],
        "feature",
        &[(
            "fixtures/merge.txt",
            Some("<<<<<<< HEAD\na\n=======\nb\n>>>>>>> x\n"),
        )],
    );
    repo.branch("feature", &head);
    repo.pr(7).head("feature").base("main").open();
    head
}

const IGNORE_FIXTURES: &str = "conflict_markers:\n  ignore: [\"fixtures/**\"]\n";

#[tokio::test]
async fn a_yaml_file_alone_is_the_config() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.push(
        "main",
        "config",
        &[(".github/seamguard.yaml", Some(IGNORE_FIXTURES))],
    );
    let head = marker_pr(&repo);
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    let run = completed_run(&gh, &head).await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "the .yaml file's ignore applies: {}",
        run.summary()
    );
    assert!(!run.summary().contains("is ignored"), "{}", run.summary());
    app.stop().await;
}

#[tokio::test]
async fn beside_a_yml_file_the_yaml_file_is_ignored_and_the_summary_says_so() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.push(
        "main",
        "config",
        &[
            (".github/seamguard.yaml", Some(IGNORE_FIXTURES)),
            (".github/seamguard.yml", Some("merge:\n  mode: never\n")),
        ],
    );
    let head = marker_pr(&repo);
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    let run = completed_run(&gh, &head).await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("failure"),
        "the .yml file wins, so fixtures are not ignored: {}",
        run.summary()
    );
    assert!(
        run.summary().contains(
            "`.github/seamguard.yaml` is ignored: `.github/seamguard.yml` exists and wins"
        ),
        "{}",
        run.summary()
    );
    app.stop().await;
}

#[test]
fn check_config_does_not_call_an_ignored_file_ok() {
    let dir = tempfile::tempdir().unwrap();
    let github = dir.path().join(".github");
    std::fs::create_dir(&github).unwrap();
    let yaml = github.join("seamguard.yaml");
    std::fs::write(&yaml, IGNORE_FIXTURES).unwrap();
    let run = |path: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_seamguard"))
            .arg("check-config")
            .arg(path)
            .output()
            .unwrap()
    };
    let alone = run(&yaml);
    assert_eq!(alone.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&alone.stdout).ends_with(": ok\n"));

    std::fs::write(github.join("seamguard.yml"), "merge:\n  mode: never\n").unwrap();
    let shadowed = run(&yaml);
    let stdout = String::from_utf8_lossy(&shadowed.stdout);
    assert_eq!(shadowed.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("seamguard.yaml:1:1: this file is ignored: seamguard.yml beside it wins"),
        "{stdout}"
    );
    // The winning file itself is fine.
    assert_eq!(run(&github.join("seamguard.yml")).status.code(), Some(0));
}
