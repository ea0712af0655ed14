//! Commands in comments and the "Re-check" button: `@seamguard recheck`
//! and `@seamguard explain` from people with write access, refused with one
//! reply for others, ignored when they are not commands or come from
//! seamguard itself.

mod support;

use support::flows::{WAIT, completed_run, feature_pr};
use support::{FakeGitHub, RepoHandle, Seamguard, Sha, ready};

fn count(gh: &FakeGitHub, method: &str, suffix: &str) -> usize {
    gh.requests()
        .into_iter()
        .filter(|r| r.method == method && r.path.ends_with(suffix))
        .count()
}

/// Evaluations are counted by the reads of the pull request's comparison:
/// each evaluation compares base...head once.
fn evaluations(gh: &FakeGitHub) -> usize {
    gh.requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains("/compare/"))
        .count()
}

fn bot_replied(w: &support::World) -> bool {
    w.repo("acme/app")
        .conversation
        .comments
        .iter()
        .any(|c| c.user == "seamguard[bot]")
}

/// A PR with a completed seamguard run, and seamguard running.
async fn evaluated(gh: &FakeGitHub) -> (RepoHandle, Sha, Seamguard) {
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &[]);
    let app = Seamguard::start(gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    completed_run(gh, &head).await;
    (repo, head, app)
}

#[tokio::test]
async fn recheck_from_a_writer_evaluates_once_and_reacts() {
    let gh = FakeGitHub::start().await;
    let (repo, _head, app) = evaluated(&gh).await;
    repo.collaborator("alice", "write");
    gh.reset_counts();
    let delivery = repo.comment_on(7, "alice", "User", "@seamguard recheck");
    let comment = delivery.body["comment"]["id"].as_u64().unwrap();
    assert_eq!(gh.deliver(&delivery, &app.webhook()).await, 202);
    gh.wait_for(
        "the reaction and the evaluation",
        move |w| {
            w.repo("acme/app")
                .conversation
                .reactions
                .iter()
                .any(|x| x.comment == comment)
                && w.requests.iter().any(|q| q.path.contains("/compare/"))
        },
        WAIT,
    )
    .await;
    app.stop().await;
    assert_eq!(evaluations(&gh), 1);
    assert_eq!(
        repo.reactions_on(comment),
        vec![("seamguard[bot]".to_owned(), "+1".to_owned())]
    );
    assert!(repo.comments_on(7).iter().all(|c| c.user == "alice"));
}

#[tokio::test]
async fn recheck_from_a_reader_is_refused_with_one_reply() {
    let gh = FakeGitHub::start().await;
    let (repo, _head, app) = evaluated(&gh).await;
    repo.collaborator("mallory", "read");
    gh.reset_counts();
    let delivery = repo.comment_on(7, "mallory", "User", "@seamguard recheck");
    assert_eq!(gh.deliver(&delivery, &app.webhook()).await, 202);
    gh.wait_for("the refusal", bot_replied, WAIT).await;
    gh.wait_idle().await;
    app.stop().await;
    let replies: Vec<_> = repo
        .comments_on(7)
        .into_iter()
        .filter(|c| c.user == "seamguard[bot]")
        .collect();
    assert_eq!(replies.len(), 1, "{replies:#?}");
    assert!(replies[0].body.contains("@mallory"));
    assert!(replies[0].body.contains("write access"));
    assert_eq!(evaluations(&gh), 0, "nothing is evaluated");
    assert_eq!(count(&gh, "POST", "/reactions"), 0);
}

#[tokio::test]
async fn explain_posts_the_blockers_and_the_page_link() {
    let s = ready()
        .file("a.txt", "<<<<<<< HEAD\na\n=======\nb\n>>>>>>> x\n")
        .open()
        .await;
    let (gh, repo) = (&s.gh, &s.repo);
    repo.collaborator("alice", "admin");
    let app = s
        .start_with(&["--public-url", "https://seamguard.example.net"])
        .await;
    s.send(&app, "opened").await;
    s.completed_run().await;

    let delivery = repo.comment_on(7, "alice", "User", "Thanks!\n@seamguard explain");
    assert_eq!(gh.deliver(&delivery, &app.webhook()).await, 202);
    gh.wait_for("the explanation", bot_replied, WAIT).await;
    app.stop().await;
    let replies: Vec<_> = repo
        .comments_on(7)
        .into_iter()
        .filter(|c| c.user == "seamguard[bot]")
        .collect();
    assert_eq!(replies.len(), 1, "{replies:#?}");
    let body = &replies[0].body;
    assert!(body.contains("3 conflict markers in 1 file"), "{body}");
    assert!(body.contains("- Conflict markers — ❌ fail"), "{body}");
    assert!(
        body.contains("- not merging: add the `automerge` label"),
        "{body}"
    );
    assert!(
        body.contains("https://seamguard.example.net/acme/app/pull/7?exp="),
        "the signed link to the page: {body}"
    );
    assert!(body.contains("&sig="), "{body}");
}

#[tokio::test]
async fn non_commands_and_seamguards_own_comments_cause_no_work() {
    let gh = FakeGitHub::start().await;
    let (repo, _head, app) = evaluated(&gh).await;
    repo.collaborator("alice", "write");
    gh.reset_counts();
    for d in [
        repo.comment_on(
            7,
            "alice",
            "User",
            "Looks good, please ask @seamguard recheck later",
        ),
        repo.comment_on(7, "alice", "User", "LGTM"),
        repo.comment_on(7, "seamguard[bot]", "Bot", "@seamguard recheck"),
    ] {
        assert_eq!(gh.deliver(&d, &app.webhook()).await, 202);
    }
    // A command after them: once it is done, the ones before it were
    // handled too (one worker, in order of arrival is not promised, so
    // wait for the command's own effect and then count everything).
    let marker = repo.comment_on(7, "alice", "User", "@seamguard explain");
    let marker_id = marker.body["comment"]["id"].as_u64().unwrap();
    gh.deliver(&marker, &app.webhook()).await;
    gh.wait_for("the explain reply", bot_replied, WAIT).await;
    gh.wait_idle().await;
    app.stop().await;
    assert_eq!(evaluations(&gh), 0);
    assert_eq!(count(&gh, "POST", "/reactions"), 1, "only the explain");
    assert_eq!(repo.reactions_on(marker_id).len(), 1);
    assert_eq!(count(&gh, "GET", "/permission"), 1, "only alice, once");
}

#[tokio::test]
async fn the_recheck_button_evaluates_again() {
    let gh = FakeGitHub::start().await;
    let (repo, head, app) = evaluated(&gh).await;
    let patch = gh
        .requests()
        .into_iter()
        .find(|r| matches!(r.method.as_str(), "POST" | "PATCH") && r.path.contains("/check-runs"))
        .and_then(|r| r.body)
        .expect("the completion");
    assert_eq!(patch["actions"][0]["identifier"], "recheck");
    assert_eq!(patch["actions"][0]["label"], "Re-check");
    repo.collaborator("alice", "write");
    let run = repo
        .check_runs_on(&head)
        .into_iter()
        .find(|r| r.name == "seamguard")
        .unwrap();
    gh.reset_counts();
    let d = repo.requested_action_event(run.id, "recheck", "alice");
    assert_eq!(gh.deliver(&d, &app.webhook()).await, 202);
    gh.wait_for(
        "an evaluation",
        |w| w.requests.iter().any(|q| q.path.contains("/compare/")),
        WAIT,
    )
    .await;
    app.stop().await;
    assert_eq!(evaluations(&gh), 1);
    assert_eq!(
        count(&gh, "POST", "/reactions"),
        0,
        "a button has no comment"
    );
}
