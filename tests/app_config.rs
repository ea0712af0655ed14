//! Repository configuration through the App: org-wide defaults under the
//! repository's file, an invalid file failing the check run with its lines,
//! and a change on the base branch taking effect on the next event.

mod support;

use support::flows::{WAIT, completed_run};
use support::{FakeGitHub, RepoHandle, Seamguard, Sha};

fn pr(repo: &RepoHandle, n: u64, branch: &str, label: bool) -> Sha {
    let base = repo.branch_tip("main");
    let conflict = "<<<<<<< HEAD\na\n=======\nb\n>>>>>>> x\n";
    let head = repo.commit(
        &[&base],
        branch,
        &[(&format!("fixtures/{branch}.txt") as &str, Some(conflict))],
    );
    repo.branch(branch, &head);
    let mut b = repo.pr(n).head(branch).base("main");
    if label {
        b = b.label("ship-it");
    }
    b.open();
    head
}

#[tokio::test]
async fn org_defaults_lie_under_the_repository_file_key_by_key() {
    let gh = FakeGitHub::start().await;
    // Org defaults: fixtures may hold markers, merge with the `ship-it`
    // label, squash.
    let org = gh.repo("acme/.github");
    org.push(
        "main",
        "org defaults",
        &[(
            ".github/seamguard.yml",
            Some("conflict_markers:\n  ignore: [\"fixtures/**\"]\nmerge:\n  label: ship-it\n  method: squash\n"),
        )],
    );
    let repo = gh.repo("acme/app");
    // The repository overrides only the method.
    repo.push(
        "main",
        "repo config",
        &[(".github/seamguard.yml", Some("merge:\n  method: rebase\n"))],
    );
    let head = pr(&repo, 7, "feature", true);
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("labeled", 7), &app.webhook())
        .await;

    let run = completed_run(&gh, &head).await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "org ignore applies: {}",
        run.summary()
    );
    gh.wait_for("the merge", |w| w.repo("acme/app").pulls[&7].merged, WAIT)
        .await;
    let merge = support::ready::merge_requests(&gh, 7)
        .into_iter()
        .next()
        .unwrap();
    let body = merge.body.unwrap();
    assert_eq!(body["merge_method"], "rebase", "the repository's key wins");
    app.stop().await;
}

#[tokio::test]
async fn an_invalid_config_fails_the_run_naming_its_lines() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.push(
        "main",
        "bad config",
        &[(
            ".github/seamguard.yml",
            Some("merge:\n  mode: sometimes\nconflict_markers:\n  ignroe: []\n"),
        )],
    );
    let head = pr(&repo, 7, "feature", false);
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    let run = completed_run(&gh, &head).await;
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    let summary = run.summary();
    assert!(summary.contains("2:9:"), "names line 2: {summary}");
    assert!(summary.contains("4:3:"), "names line 4: {summary}");
    assert!(summary.contains("did you mean `ignore`"), "{summary}");
    assert_eq!(
        run.output.as_ref().unwrap().title,
        "Invalid configuration (2 problems)"
    );
    assert!(run.annotations.is_empty(), "the guards stay off");
    app.stop().await;
}

#[tokio::test]
async fn a_config_change_on_the_base_takes_effect_on_the_next_event() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = pr(&repo, 7, "feature", false);
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    let run = completed_run(&gh, &head).await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("failure"),
        "markers in fixtures fail by default"
    );

    // The base branch learns to ignore fixtures.
    repo.config_on("main", "conflict_markers:\n  ignore: [\"fixtures/**\"]\n");
    gh.deliver(&repo.pull_request_event("synchronize", 7), &app.webhook())
        .await;
    gh.wait_for(
        "the run to turn green",
        |w| {
            w.check_runs_named("seamguard")
                .any(|r| r.conclusion.as_deref() == Some("success"))
        },
        WAIT,
    )
    .await;
    app.stop().await;
}
