//! Small steps many tests share: open a feature pull request, wait for
//! seamguard's run on a head, evaluate once.

use std::time::Duration;

use super::world::{CheckRun, World};
use super::{FakeGitHub, RepoHandle, Seamguard, Sha};

/// How long a test waits for seamguard before the fake dumps its world.
pub const WAIT: Duration = Duration::from_secs(30);

/// Pull request #`n` from `branch` to `main`: one commit on main's tip
/// adding a file named after the branch, with `labels`. Returns the head.
/// (The default scenario, [`super::ready`], is this for #7 from `feature`.)
pub fn feature_pr(repo: &RepoHandle, n: u64, branch: &str, labels: &[&str]) -> Sha {
    super::ready::open_pr(repo, n, branch, &[(branch, "x\n")], labels)
}

/// Has pull request #`n` of `repo` merged?
pub fn merged(w: &World, repo: &str, n: u64) -> bool {
    w.repo(repo).pulls.get(&n).is_some_and(|p| p.merged)
}

/// Waits for a completed `seamguard` run on `head`, and returns it.
pub async fn completed_run(gh: &FakeGitHub, head: &Sha) -> CheckRun {
    let h = head.clone();
    gh.wait_for(
        "a completed seamguard run on the head",
        move |w| {
            w.check_runs_named("seamguard")
                .any(|r| r.head_sha == h && r.is_completed())
        },
        WAIT,
    )
    .await;
    gh.world()
        .check_runs_named("seamguard")
        .find(|r| &r.head_sha == head)
        .cloned()
        .expect("the run just seen")
}

/// Waits until some `seamguard` run has completed (`what` names it in the
/// timeout message).
pub async fn a_run_completed(gh: &FakeGitHub, what: &str) {
    gh.wait_for(
        what,
        |w| w.check_runs_named("seamguard").any(|r| r.is_completed()),
        WAIT,
    )
    .await;
}

/// Starts seamguard, delivers `pull_request` `action` for #`pr`, waits for
/// the completed run, stops seamguard, and returns the one `seamguard` run
/// (asserting there is exactly one). Request counts start at the delivery.
pub async fn evaluate_once(gh: &FakeGitHub, repo: &RepoHandle, pr: u64, action: &str) -> CheckRun {
    let app = Seamguard::start(gh).await;
    gh.reset_counts();
    assert_eq!(
        gh.deliver(&repo.pull_request_event(action, pr), &app.webhook())
            .await,
        202
    );
    let head = repo.pull(pr).head_sha;
    completed_run(gh, &head).await;
    // The evaluation's last writes (further annotation batches, a merge)
    // land after the run completes.
    gh.wait_idle().await;
    app.stop().await;
    let runs: Vec<CheckRun> = gh.world().check_runs_named("seamguard").cloned().collect();
    assert_eq!(runs.len(), 1, "exactly one seamguard run: {runs:#?}");
    runs.into_iter().next().expect("one run")
}
