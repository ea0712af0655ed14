//! Shadow mode (`mode: shadow`): the guards and the gate are evaluated as in
//! enforce mode, but the check run ends `neutral`, its title says what
//! enforce mode would have concluded, and nothing is merged.

mod support;

use support::FakeGitHub;
use support::flows::{completed_run, evaluate_once};

fn merge_calls(gh: &FakeGitHub) -> usize {
    gh.requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with("/merge"))
        .count()
}

#[tokio::test]
async fn conflict_markers_with_automerge_are_neutral_and_never_merged() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.config_on("main", "mode: shadow\n");
    let base = repo.branch_tip("main");
    let head = repo.commit(
        &[&base],
        "half-resolved merge",
        &[(
            "src/lib.rs",
            Some("<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> develop\n"),
        )],
    );
    repo.branch("feature", &head);
    repo.pr(7)
        .head("feature")
        .base("main")
        .label("automerge")
        .open();

    let run = evaluate_once(&gh, &repo, 7, "labeled").await;
    assert_eq!(run.conclusion.as_deref(), Some("neutral"));
    let title = run.output.as_ref().unwrap().title.clone();
    assert_eq!(
        title,
        "Shadow mode · would fail: 3 conflict markers in 1 file"
    );
    assert!(
        run.summary()
            .contains("enforce mode would conclude `failure`")
    );
    assert_eq!(run.annotations.len(), 3, "findings are still annotated");
    assert_eq!(merge_calls(&gh), 0);
}

#[tokio::test]
async fn a_clean_opted_in_pull_request_says_would_merge_with_the_pinned_sha() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.config_on("main", "mode: shadow\n");
    let head = support::flows::feature_pr(&repo, 7, "feature", &["automerge"]);

    let run = evaluate_once(&gh, &repo, 7, "labeled").await;
    assert_eq!(run.conclusion.as_deref(), Some("neutral"));
    assert_eq!(
        run.output.as_ref().unwrap().title,
        "Shadow mode · would pass · would merge now"
    );
    assert!(
        run.summary()
            .contains(&format!("would merge now, with `{}` pinned", head.as_str())),
        "{}",
        run.summary()
    );
    assert_eq!(merge_calls(&gh), 0);
    assert!(!repo.pull(7).merged);
}

#[tokio::test]
async fn an_invalid_config_still_fails_in_shadow_mode() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.config_on("main", "mode: shadow\nmerge:\n  mode: sometimes\n");
    let head = support::flows::feature_pr(&repo, 7, "feature", &["automerge"]);
    let app = support::Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    let run = completed_run(&gh, &head).await;
    app.stop().await;
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert_eq!(merge_calls(&gh), 0);
}
