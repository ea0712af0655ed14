//! Stacked pull requests in the App, against the fake: a stack of three
//! (`main` ← #40 ← #41 ← #42) merges in one `merge-async` request on its
//! top, and only once every pull request below passes; each pull request's
//! history is its own line, judged where the stack lands.

mod support;

use support::flows::{WAIT, completed_run, merged};
use support::ready::{REPO, merge_requests};
use support::world::CheckRun;
use support::{FakeGitHub, RepoHandle, Seamguard, Sha};

/// Lines git leaves in a file when a merge was not resolved.
const CONFLICTED: &str = "<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> develop\n";

/// The stack's three heads, bottom first.
struct Stack {
    bottom: Sha,
    middle: Sha,
    top: Sha,
}

/// Opens #40 (`stack-1` into `main`), #41 (`stack-2` into `stack-1`) and
/// #42 (`stack-3` into `stack-2`) on `middle`, and stacks them; only the
/// top carries `automerge`.
fn open_stack(repo: &RepoHandle, bottom: &Sha, middle: &Sha, top: &Sha) {
    repo.branch("stack-1", bottom);
    repo.branch("stack-2", middle);
    repo.branch("stack-3", top);
    repo.pr(40)
        .head("stack-1")
        .base("main")
        .title("adds the model")
        .open();
    repo.pr(41)
        .head("stack-2")
        .base("stack-1")
        .title("adds the API")
        .open();
    repo.pr(42)
        .head("stack-3")
        .base("stack-2")
        .title("adds the page")
        .label("automerge")
        .open();
    repo.stack(&[40, 41, 42]);
}

/// A stack of three; the middle one writes `middle_file`.
fn three(repo: &RepoHandle, middle_file: &str) -> Stack {
    let base = repo.branch_tip("main");
    let bottom = repo.commit(&[&base], "model", &[("model.rs", Some("model\n"))]);
    let middle = repo.commit(&[&bottom], "api", &[("api.rs", Some(middle_file))]);
    let top = repo.commit(&[&middle], "page", &[("page.rs", Some("page\n"))]);
    open_stack(repo, &bottom, &middle, &top);
    Stack {
        bottom,
        middle,
        top,
    }
}

/// Delivers `pull_request` `action` for each of `prs`.
async fn send(gh: &FakeGitHub, app: &Seamguard, repo: &RepoHandle, action: &str, prs: &[u64]) {
    for n in prs {
        let status = gh
            .deliver(&repo.pull_request_event(action, *n), &app.webhook())
            .await;
        assert_eq!(status, 202, "pull_request.{action} for #{n}");
    }
}

/// The latest completed `seamguard` run on `head`, once seamguard is idle.
async fn run_on(gh: &FakeGitHub, head: &Sha) -> CheckRun {
    completed_run(gh, head).await;
    gh.wait_idle().await;
    gh.world()
        .check_runs_named("seamguard")
        .filter(|r| &r.head_sha == head && r.is_completed())
        .last()
        .cloned()
        .expect("a completed run")
}

fn text(run: &CheckRun) -> String {
    run.output
        .as_ref()
        .and_then(|o| o.text.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_top_waits_for_a_failing_middle_then_the_stack_merges_in_one_request() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo(REPO);
    let s = three(&repo, CONFLICTED);
    let app = Seamguard::start(&gh).await;

    send(&gh, &app, &repo, "opened", &[40, 41, 42]).await;

    let middle = run_on(&gh, &s.middle).await;
    assert_eq!(middle.conclusion.as_deref(), Some("failure"));
    let top = run_on(&gh, &s.top).await;
    assert_eq!(
        top.conclusion.as_deref(),
        Some("success"),
        "its own guards pass"
    );
    assert!(
        top.summary()
            .contains("#41 below in the stack: 3 conflict markers in 1 file"),
        "{}",
        top.summary()
    );
    assert_eq!(
        gh.requests()
            .iter()
            .filter(|r| r.is_a_merge_request())
            .count(),
        0,
        "nothing merges while #41 blocks"
    );
    assert_eq!(
        run_on(&gh, &s.bottom).await.conclusion.as_deref(),
        Some("success")
    );

    // The middle is fixed; the top is rebased on the fix.
    let fixed = repo.commit(&[&s.middle], "resolve", &[("api.rs", Some("api\n"))]);
    repo.branch("stack-2", &fixed);
    let top = repo.commit(&[&fixed], "page", &[("page.rs", Some("page\n"))]);
    repo.branch("stack-3", &top);
    send(&gh, &app, &repo, "synchronize", &[41, 42]).await;

    gh.wait_for("#42 merged", |w| merged(w, REPO, 42), WAIT)
        .await;
    gh.wait_idle().await;
    let merges: Vec<_> = gh
        .requests()
        .into_iter()
        .filter(|r| r.is_a_merge_request())
        .collect();
    assert_eq!(merges.len(), 1, "one request for the whole stack");
    assert!(
        merges[0].path.ends_with("/pulls/42/merge-async"),
        "{}",
        merges[0].path
    );
    let body = merges[0].body.clone().unwrap_or_default();
    assert_eq!(
        body["sha"].as_str(),
        Some(top.as_str()),
        "the top's head pinned"
    );
    assert!(merge_requests(&gh, 40).is_empty() && merge_requests(&gh, 41).is_empty());
    for n in [40, 41, 42] {
        assert!(repo.pull(n).merged, "#{n} merged");
    }
    assert_eq!(repo.file_at("main", "api.rs").as_deref(), Some("api\n"));
    app.stop().await;
}

#[tokio::test]
async fn develop_merged_into_the_middle_is_flagged_there_and_not_above() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo(REPO);
    let base = repo.branch_tip("main");
    let develop = repo.chain(&base, 5, "develop");
    repo.branch("develop", &develop);
    let bottom = repo.commit(&[&base], "model", &[("model.rs", Some("model\n"))]);
    let work = repo.commit(&[&bottom], "api", &[("api.rs", Some("api\n"))]);
    let middle = repo.commit(
        &[&work, &develop],
        "Merge branch 'develop' into stack-2",
        &[],
    );
    let top = repo.commit(&[&middle], "page", &[("page.rs", Some("page\n"))]);
    open_stack(&repo, &bottom, &middle, &top);
    let app = Seamguard::start(&gh).await;

    send(&gh, &app, &repo, "opened", &[41, 42]).await;

    let flagged = run_on(&gh, &middle).await;
    assert_eq!(flagged.conclusion.as_deref(), Some("failure"));
    assert!(text(&flagged).contains("develop"), "{}", text(&flagged));
    let above = run_on(&gh, &top).await;
    assert_eq!(
        above.conclusion.as_deref(),
        Some("success"),
        "its own line starts at #41's branch: {}",
        above.summary()
    );
    app.stop().await;
}

#[tokio::test]
async fn merging_where_the_stack_lands_into_the_middle_is_an_update_not_a_foreign_merge() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo(REPO);
    let base = repo.branch_tip("main");
    let bottom = repo.commit(&[&base], "model", &[("model.rs", Some("model\n"))]);
    let work = repo.commit(&[&bottom], "api", &[("api.rs", Some("api\n"))]);
    // `main` moves on; the middle merges it in to stay current.
    let main = repo.push("main", "main moves", &[("main.rs", Some("main\n"))]);
    let middle = repo.commit(&[&work, &main], "Merge branch 'main' into stack-2", &[]);
    let top = repo.commit(&[&middle], "page", &[("page.rs", Some("page\n"))]);
    open_stack(&repo, &bottom, &middle, &top);
    let app = Seamguard::start(&gh).await;

    send(&gh, &app, &repo, "opened", &[41]).await;

    let run = run_on(&gh, &middle).await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "main is where #41 lands: {}\n{}",
        run.summary(),
        text(&run)
    );
    app.stop().await;
}

#[tokio::test]
async fn a_stacked_pull_request_re_evaluates_the_ones_above_it() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo(REPO);
    let s = three(&repo, "api\n");
    let app = Seamguard::start(&gh).await;

    let status = gh.deliver(&repo.stacked_event(40), &app.webhook()).await;
    assert_eq!(status, 202);

    // #40's delivery alone puts a run on every pull request of the stack,
    // and the top, all below it ready, merges them.
    for head in [&s.bottom, &s.middle] {
        assert_eq!(
            run_on(&gh, head).await.conclusion.as_deref(),
            Some("success")
        );
    }
    gh.wait_for("#42 merged", |w| merged(w, REPO, 42), WAIT)
        .await;
    gh.wait_idle().await;
    assert_eq!(
        gh.requests()
            .iter()
            .filter(|r| r.is_a_merge_request())
            .count(),
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn a_new_head_below_re_evaluates_the_top_that_waited_for_its_verdict() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo(REPO);
    let s = three(&repo, "api\n");
    repo.remove_label(42, "automerge");
    let app = Seamguard::start(&gh).await;
    send(&gh, &app, &repo, "opened", &[40, 41, 42]).await;
    run_on(&gh, &s.top).await;

    // The middle moves on, still clean; the top is rebased on it and opted
    // in. Only the top's deliveries arrive: it finds no verdict on the
    // middle's new head, and the middle's evaluation must wake it.
    let middle = repo.commit(&[&s.middle], "api docs", &[("api.md", Some("docs\n"))]);
    repo.branch("stack-2", &middle);
    let top = repo.commit(&[&middle], "page", &[("page.rs", Some("page\n"))]);
    repo.branch("stack-3", &top);
    repo.add_label(42, "automerge");
    send(&gh, &app, &repo, "synchronize", &[42]).await;
    send(&gh, &app, &repo, "labeled", &[42]).await;

    gh.wait_for("#42 merged", |w| merged(w, REPO, 42), WAIT)
        .await;
    gh.wait_idle().await;
    let merges: Vec<_> = gh
        .requests()
        .into_iter()
        .filter(|r| r.is_a_merge_request())
        .collect();
    assert_eq!(merges.len(), 1, "one request for the whole stack");
    let body = merges[0].body.clone().unwrap_or_default();
    assert_eq!(body["sha"].as_str(), Some(top.as_str()));
    assert!(repo.pull(41).merged);
    app.stop().await;
}
