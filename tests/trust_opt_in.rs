//! Opting in is tied to who pushed (issue 23): the `automerge` label, or
//! `merge.mode: always`, holds for heads someone with write access stands
//! behind. A contributor without write access who pushes after the label
//! stops the merging, the check run says who and how to opt in again, and
//! a recheck by someone with write access opts the new head in. Write
//! access is asked of GitHub's collaborator permission endpoint.

mod support;

use serde_json::Value;
use support::flows::WAIT;
use support::{Delivery, Ready, Seamguard, Sha, ready};

/// `action` for #7, sent by `login` (a `User`).
fn by(s: &Ready, action: &str, login: &str) -> Delivery {
    let mut d = s.repo.pull_request_event(action, 7);
    let api = s.gh.world().api_url.clone();
    d.body["sender"] = support::json::user(&api, login, "User");
    d
}

async fn deliver(s: &Ready, app: &Seamguard, d: &Delivery) {
    assert_eq!(s.gh.deliver(d, &app.webhook()).await, 202);
}

/// The completed `seamguard` run on `sha` whose summary says `words`.
async fn run_saying(s: &Ready, sha: &Sha, words: &str) -> String {
    s.gh.wait_for(
        &format!("the run on {sha} to say {words:?}"),
        |w| {
            w.check_runs_named("seamguard")
                .any(|r| &r.head_sha == sha && r.is_completed() && r.summary().contains(words))
        },
        WAIT,
    )
    .await;
    let w = s.gh.world();
    w.check_runs_named("seamguard")
        .filter(|r| &r.head_sha == sha && r.is_completed())
        .last()
        .map(|r| r.summary().to_owned())
        .unwrap()
}

/// #7 comes from `mallory/app`, a fork, and `mallory` (who reads
/// `acme/app`, no more) opened it.
fn from_mallorys_fork(s: &Ready) {
    s.repo.edit(|r| {
        let pr = r.pulls.get_mut(&7).unwrap();
        pr.user = "mallory".to_owned();
        pr.head_repo = Some("mallory/app".to_owned());
    });
}

/// A fork's pull request by `mallory`, labelled, requiring `test`.
async fn forks_pull_request() -> Ready {
    let s = ready().opted_in().open().await;
    from_mallorys_fork(&s);
    s.repo.protection("main").requires(&["test"]);
    s
}

/// A commit on #7's head, pushed to the fork (#7's head moves to it).
fn push_to_fork(s: &Ready, message: &str, changes: &[(&str, Option<&str>)]) -> Sha {
    let head = s.repo.read(|_, r| r.pulls[&7].head_sha.clone());
    let sha = s.repo.commit(&[&head], message, changes);
    s.repo
        .edit(|r| r.pulls.get_mut(&7).unwrap().head_sha = sha.clone());
    sha
}

async fn pass_test(s: &Ready, app: &Seamguard, sha: &Sha) {
    let test = s.repo.check_run(sha, "test").completed("success");
    deliver(s, app, &s.repo.check_run_event("completed", test.id().0)).await;
}

#[tokio::test]
async fn a_push_without_write_access_after_the_label_stops_merging_until_a_writer_rechecks() {
    let s = forks_pull_request().await;
    let app = s.start().await;
    // mallory opened it at A; octocat (write) read A and labelled it.
    deliver(&s, &app, &by(&s, "opened", "mallory")).await;
    deliver(&s, &app, &by(&s, "labeled", "octocat")).await;
    run_saying(&s, &s.head, "waiting for `test`").await;

    // mallory pushes B, and `test` passes on it.
    let b = push_to_fork(
        &s,
        "one more thing",
        &[("src/payload.rs", Some("fn main() {}\n"))],
    );
    deliver(&s, &app, &by(&s, "synchronize", "mallory")).await;
    pass_test(&s, &app, &b).await;
    let summary = run_saying(&s, &b, "merging stopped").await;
    assert!(summary.contains("@mallory pushed"), "{summary}");
    assert!(summary.contains("no write access"), "{summary}");
    assert!(
        summary.contains("`automerge` label again") && summary.contains("`@seamguard recheck`"),
        "the run says how to opt in again: {summary}"
    );
    s.gh.wait_idle().await;
    assert!(
        s.merge_calls().is_empty(),
        "B is not merged: {:#?}",
        s.merge_calls()
    );

    // octocat reads B and asks for it: B merges, pinned.
    deliver(
        &s,
        &app,
        &s.repo
            .comment_on(7, "octocat", "User", "@seamguard recheck"),
    )
    .await;
    s.wait_merged().await;
    let calls = s.merge_calls();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0]["sha"], b.as_str());
    app.stop().await;
}

#[tokio::test]
async fn a_recheck_by_someone_without_write_access_does_not_opt_a_head_in() {
    let s = forks_pull_request().await;
    let app = s.start().await;
    deliver(&s, &app, &by(&s, "opened", "mallory")).await;
    deliver(&s, &app, &by(&s, "labeled", "octocat")).await;
    let b = push_to_fork(&s, "more", &[("src/x.rs", Some("x\n"))]);
    deliver(&s, &app, &by(&s, "synchronize", "mallory")).await;
    pass_test(&s, &app, &b).await;
    run_saying(&s, &b, "merging stopped").await;
    deliver(
        &s,
        &app,
        &s.repo
            .comment_on(7, "mallory", "User", "@seamguard recheck"),
    )
    .await;
    s.gh.wait_idle().await;
    assert!(s.merge_calls().is_empty(), "{:#?}", s.merge_calls());
    app.stop().await;
}

#[tokio::test]
async fn a_writer_labelling_the_pushed_head_again_opts_it_in() {
    let s = forks_pull_request().await;
    let app = s.start().await;
    deliver(&s, &app, &by(&s, "opened", "mallory")).await;
    deliver(&s, &app, &by(&s, "labeled", "octocat")).await;
    let b = push_to_fork(&s, "more", &[("src/y.rs", Some("y\n"))]);
    deliver(&s, &app, &by(&s, "synchronize", "mallory")).await;
    pass_test(&s, &app, &b).await;
    run_saying(&s, &b, "merging stopped").await;
    // Labelled again by someone else with write access, at B.
    s.repo.collaborator("maintainer", "maintain");
    deliver(&s, &app, &by(&s, "labeled", "maintainer")).await;
    s.wait_merged().await;
    assert_eq!(s.merge_calls()[0]["sha"], b.as_str());
    app.stop().await;
}

#[tokio::test]
async fn pushes_by_people_with_write_access_keep_the_opt_in() {
    let s = ready().opted_in().open().await;
    // octocat (write) works from a fork of their own; mallory opened #7.
    from_mallorys_fork(&s);
    s.repo.protection("main").requires(&["test"]);
    let app = s.start().await;
    deliver(&s, &app, &by(&s, "labeled", "octocat")).await;
    let b = push_to_fork(&s, "fixup", &[("src/z.rs", Some("z\n"))]);
    deliver(&s, &app, &by(&s, "synchronize", "octocat")).await;
    pass_test(&s, &app, &b).await;
    s.wait_merged().await;
    assert_eq!(s.merge_calls()[0]["sha"], b.as_str());
    // Write access was asked of GitHub, not read off the payload.
    let asked =
        s.gh.requests()
            .iter()
            .filter(|r| r.path.ends_with("/collaborators/octocat/permission"))
            .count();
    assert!(asked >= 1, "the permission endpoint was asked");
    app.stop().await;
}

#[tokio::test]
async fn a_branch_of_the_repository_itself_needs_no_question() {
    // Pushing a branch of acme/app takes write access: whoever pushed the
    // head had it, so GitHub is not asked.
    let s = ready().opted_in().open().await;
    let app = s.start().await;
    deliver(&s, &app, &by(&s, "labeled", "octocat")).await;
    s.wait_merged().await;
    assert_eq!(s.gh.count("GET", "/permission"), 0);
    app.stop().await;
}

#[tokio::test]
async fn always_mode_merges_only_pull_requests_of_people_with_write_access() {
    let s = ready().config("merge:\n  mode: always\n").open().await;
    from_mallorys_fork(&s);
    let app = s.start().await;
    deliver(&s, &app, &by(&s, "opened", "mallory")).await;
    let summary = run_saying(&s, &s.head, "opened it without write access").await;
    assert!(summary.contains("merge.always_authors"), "{summary}");
    s.gh.wait_idle().await;
    assert!(s.merge_calls().is_empty(), "{:#?}", s.merge_calls());
    app.stop().await;
}

#[tokio::test]
async fn always_mode_with_anyone_merges_an_outsiders_pull_request() {
    let s = ready()
        .config("merge:\n  mode: always\n  always_authors: anyone\n")
        .open()
        .await;
    from_mallorys_fork(&s);
    let app = s.start().await;
    deliver(&s, &app, &by(&s, "opened", "mallory")).await;
    s.wait_merged().await;
    let calls: Vec<Value> = s.merge_calls();
    assert_eq!(calls[0]["sha"], s.head.as_str());
    app.stop().await;
}

#[tokio::test]
async fn the_apps_own_branch_update_keeps_the_opt_in() {
    let s = forks_pull_request().await;
    let app = s.start().await;
    deliver(&s, &app, &by(&s, "opened", "mallory")).await;
    deliver(&s, &app, &by(&s, "labeled", "octocat")).await;
    // seamguard itself brought the branch up to date: its `[bot]` pushed B.
    let b = push_to_fork(&s, "Merge branch 'main' into feature", &[]);
    let mut d = s.repo.pull_request_event("synchronize", 7);
    let (api, bot) = {
        let w = s.gh.world();
        (w.api_url.clone(), format!("{}[bot]", w.app_slug))
    };
    d.body["sender"] = support::json::user(&api, &bot, "Bot");
    deliver(&s, &app, &d).await;
    pass_test(&s, &app, &b).await;
    s.wait_merged().await;
    assert_eq!(s.merge_calls()[0]["sha"], b.as_str());
    app.stop().await;
}

#[tokio::test]
async fn another_bot_pushing_is_not_the_app() {
    let s = forks_pull_request().await;
    let app = s.start().await;
    deliver(&s, &app, &by(&s, "opened", "mallory")).await;
    deliver(&s, &app, &by(&s, "labeled", "octocat")).await;
    let b = push_to_fork(&s, "bump", &[("Cargo.lock", Some("x\n"))]);
    let mut d = s.repo.pull_request_event("synchronize", 7);
    let api = s.gh.world().api_url.clone();
    d.body["sender"] = support::json::user(&api, "some-other-app[bot]", "Bot");
    deliver(&s, &app, &d).await;
    pass_test(&s, &app, &b).await;
    run_saying(&s, &b, "@some-other-app[bot] pushed").await;
    s.gh.wait_idle().await;
    assert!(s.merge_calls().is_empty());
    app.stop().await;
}
