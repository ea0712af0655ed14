//! Shadow mode (`mode: shadow`): the guards and the gate are evaluated as in
//! enforce mode, but the check run ends `neutral`, its title says what
//! enforce mode would have concluded, and nothing is merged.

mod support;

use support::flows::evaluate_once;
use support::{FakeGitHub, ready};

fn merge_calls(gh: &FakeGitHub) -> usize {
    gh.requests()
        .into_iter()
        .filter(|r| r.is_a_merge_request())
        .count()
}

#[tokio::test]
async fn conflict_markers_with_automerge_are_neutral_and_never_merged() {
    let s = ready()
        .config("mode: shadow\n")
        .file(
            "src/lib.rs",
            "<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> develop\n",
        )
        .opted_in()
        .open()
        .await;

    let run = evaluate_once(&s, &s.repo, 7, "labeled").await;
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
    assert_eq!(merge_calls(&s), 0);
}

#[tokio::test]
async fn a_clean_opted_in_pull_request_says_would_merge_with_the_pinned_sha() {
    let s = ready().config("mode: shadow\n").opted_in().open().await;
    let head = &s.head;

    let run = evaluate_once(&s, &s.repo, 7, "labeled").await;
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
    assert_eq!(merge_calls(&s), 0);
    assert!(!s.merged());
}

#[tokio::test]
async fn an_invalid_config_still_fails_in_shadow_mode() {
    let s = ready()
        .config("mode: shadow\nmerge:\n  mode: sometimes\n")
        .opted_in()
        .open()
        .await;
    let app = s.start().await;
    s.send(&app, "opened").await;
    let run = s.completed_run().await;
    s.wait_idle().await;
    app.stop().await;
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert_eq!(merge_calls(&s), 0);
}
