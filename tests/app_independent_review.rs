//! Independent review for agent-written pull requests
//! (`agents.independent_approvals`), end to end against the fake GitHub:
//! a pull request is agent-written by its author, a commit's committer or
//! a `Co-authored-by` trailer; an approval by someone who wrote or asked
//! for it does not count, and the check run says whose and why, with no
//! merge call; an approval by someone else merges it, head pinned. A
//! pull request people wrote is untouched.

mod support;

use serde_json::json;
use support::deliveries::Delivery;
use support::flows::{WAIT, completed_run, merged};
use support::{FakeGitHub, RepoHandle, Seamguard, Sha};

const CONFIG: &str = "agents:\n  independent_approvals: 1\n";

/// Pull request #7 from `feature` (one commit on main's tip, by `author`
/// and `committer`, with `message`), opened by `opener` and labelled.
fn agent_pr(repo: &RepoHandle, opener: &str, author: &str, committer: &str, message: &str) -> Sha {
    repo.config_on("main", CONFIG);
    let base = repo.branch_tip("main");
    repo.branch("feature", &base);
    let head = repo.push_by(
        "feature",
        author,
        committer,
        message,
        &[("src/feature.rs", Some("pub fn f() {}\n"))],
    );
    repo.pr(7)
        .head("feature")
        .base("main")
        .author(opener)
        .label("automerge")
        .open();
    head
}

/// `login` approves #7 on its head, and GitHub delivers the review.
async fn approve(gh: &FakeGitHub, app: &Seamguard, repo: &RepoHandle, login: &str) {
    repo.review(7, login, "APPROVED");
    let mut event = repo.pull_request_event("submitted", 7);
    event.body["review"] = json!({
        "id": 1,
        "state": "approved",
        "user": { "login": login, "id": 1, "type": "User" }
    });
    let delivery = Delivery::new("pull_request_review", event.body);
    assert_eq!(gh.deliver(&delivery, &app.webhook()).await, 202);
}

/// The `seamguard` run on `head` once seamguard is idle again.
async fn settled_run(gh: &FakeGitHub, head: &Sha) -> support::world::CheckRun {
    gh.wait_idle().await;
    completed_run(gh, head).await
}

/// Starts seamguard and delivers `opened` for #7; answers the app and the
/// words of the settled run, which has failed (the guard holds the merge).
async fn opened_and_failed(gh: &FakeGitHub, repo: &RepoHandle, head: &Sha) -> (Seamguard, String) {
    let app = Seamguard::start(gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    let run = settled_run(gh, head).await;
    let said = words(&run);
    assert_eq!(run.conclusion.as_deref(), Some("failure"), "{said}");
    (app, said)
}

fn merge_calls(gh: &FakeGitHub) -> usize {
    support::ready::merge_requests(gh, 7).len()
}

/// The run's title, summary and text, as a reader sees them.
fn words(run: &support::world::CheckRun) -> String {
    run.output.as_ref().map_or_else(String::new, |o| {
        format!(
            "{}\n{}\n{}",
            o.title,
            o.summary,
            o.text.as_deref().unwrap_or_default()
        )
    })
}

/// Opened by an agent (`claude[bot]`) for alice, who is assigned and named
/// co-author: her approval does not count and the run fails saying so;
/// bob's does, and it merges with the head pinned.
#[tokio::test]
async fn agent_author_co_author_approval_does_not_count_someone_elses_merges() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = agent_pr(
        &repo,
        "claude[bot]",
        "claude[bot]",
        "claude[bot]",
        "Add the feature\n\nCo-authored-by: alice <583231+alice@users.noreply.github.com>",
    );
    repo.assign(7, "alice");
    let (app, said) = opened_and_failed(&gh, &repo, &head).await;
    assert!(said.contains("Independent review"), "{said}");
    assert!(said.contains("agent-written (claude[bot])"), "{said}");
    assert!(said.contains("claude[bot] opened it"), "{said}");
    assert!(
        said.contains("needs 1 approval from someone else"),
        "{said}"
    );
    assert_eq!(merge_calls(&gh), 0);

    approve(&gh, &app, &repo, "alice").await;
    gh.wait_idle().await;
    let run = completed_run(&gh, &head).await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("failure"),
        "{}",
        words(&run)
    );
    let said = words(&run);
    assert!(
        said.contains(
            "@alice approved, but is assigned to it (the person an agent works for) and is \
             co-author of 1 commit with claude[bot]"
        ),
        "{said}"
    );
    assert!(said.contains("Approvals that count: none."), "{said}");
    assert_eq!(merge_calls(&gh), 0, "no merge while the guard is unmet");
    assert!(!merged(&gh.world(), "acme/app", 7));

    approve(&gh, &app, &repo, "bob").await;
    gh.wait_for("#7 merged", |w| merged(w, "acme/app", 7), WAIT)
        .await;
    gh.wait_idle().await;
    app.stop().await;
    let run = completed_run(&gh, &head).await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "{}",
        words(&run)
    );
    assert!(
        words(&run).contains("1 independent approval: @bob"),
        "{}",
        words(&run)
    );
    support::ready::one_merge_pinned(&gh, 7, head.as_str());
    assert_eq!(gh.take_violations(), Vec::<String>::new());
}

/// Opened and written by alice, committed by GitHub's Copilot agent: agent-
/// written by its committer; alice's own approval does not count.
#[tokio::test]
async fn agent_written_by_a_committer() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = agent_pr(
        &repo,
        "alice",
        "alice",
        "copilot-swe-agent[bot]",
        "Apply the suggested fix",
    );
    repo.review(7, "alice", "APPROVED");
    let (app, said) = opened_and_failed(&gh, &repo, &head).await;
    app.stop().await;
    assert!(
        said.contains("agent-written (copilot-swe-agent[bot])"),
        "{said}"
    );
    assert!(
        said.contains(&format!("copilot-swe-agent[bot] committed {}", &head[..7])),
        "{said}"
    );
    assert!(
        said.contains(
            "@alice approved, but opened the pull request and is co-author of 1 commit with \
             copilot-swe-agent[bot]"
        ),
        "{said}"
    );
    assert_eq!(merge_calls(&gh), 0);
    assert_eq!(gh.take_violations(), Vec::<String>::new());
}

/// Written by carol with Claude Code (its `Co-Authored-By` trailer): agent-
/// written by the trailer; carol's approval does not count, dave's does.
#[tokio::test]
async fn agent_written_by_a_trailer() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = agent_pr(
        &repo,
        "carol",
        "carol",
        "carol",
        "Refactor the parser\n\nCo-Authored-By: Claude <noreply@anthropic.com>",
    );
    repo.review(7, "carol", "APPROVED");
    let (app, said) = opened_and_failed(&gh, &repo, &head).await;
    assert!(
        said.contains(&format!(
            "{} names Claude <noreply@anthropic.com> in a `Co-authored-by` trailer",
            &head[..7]
        )),
        "{said}"
    );
    assert!(
        said.contains("@carol approved, but opened the pull request and is co-author of 1 commit"),
        "{said}"
    );
    assert_eq!(merge_calls(&gh), 0);

    approve(&gh, &app, &repo, "dave").await;
    gh.wait_for("#7 merged", |w| merged(w, "acme/app", 7), WAIT)
        .await;
    gh.wait_idle().await;
    app.stop().await;
    assert_eq!(merge_calls(&gh), 1);
    assert_eq!(gh.take_violations(), Vec::<String>::new());
}

/// The guard is on, but people wrote the pull request: it merges as
/// usual, with no approval asked.
#[tokio::test]
async fn a_human_written_pull_request_is_untouched() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = agent_pr(
        &repo,
        "erin",
        "erin",
        "erin",
        "Tidy up\n\nCo-authored-by: Frank <frank@example.com>",
    );
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    gh.wait_for("#7 merged", |w| merged(w, "acme/app", 7), WAIT)
        .await;
    gh.wait_idle().await;
    app.stop().await;
    let run = completed_run(&gh, &head).await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "{}",
        words(&run)
    );
    assert!(
        words(&run).contains("written by people: no independent approval asked"),
        "{}",
        words(&run)
    );
    assert_eq!(merge_calls(&gh), 1);
    assert_eq!(gh.take_violations(), Vec::<String>::new());
}

/// With the guard off (the default) an agent's pull request is not asked
/// about, and the query does not ask who wrote it.
#[tokio::test]
async fn off_by_default_an_agents_pull_request_merges_as_before() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.branch_tip("main");
    repo.branch("feature", &base);
    let head = repo.push_by(
        "feature",
        "claude[bot]",
        "claude[bot]",
        "Agent work",
        &[("src/feature.rs", Some("pub fn f() {}\n"))],
    );
    repo.pr(7)
        .head("feature")
        .base("main")
        .author("claude[bot]")
        .label("automerge")
        .open();
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    gh.wait_for("#7 merged", |w| merged(w, "acme/app", 7), WAIT)
        .await;
    gh.wait_idle().await;
    app.stop().await;
    let run = completed_run(&gh, &head).await;
    assert!(
        !words(&run).contains("Independent review"),
        "{}",
        words(&run)
    );
    assert_eq!(
        gh.count("POST", "/graphql"),
        0,
        "nothing asked about authors"
    );
    assert_eq!(gh.take_violations(), Vec::<String>::new());
}

/// Economy: with the guard on, a re-evaluation that changes nothing (another
/// app's check completes) asks who wrote the pull request in the one
/// whole-gate query, and stays within the six requests of issue 18.
#[tokio::test]
async fn a_re_evaluation_with_nothing_new_asks_the_authors_in_one_query() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = agent_pr(
        &repo,
        "claude[bot]",
        "claude[bot]",
        "claude[bot]",
        "Agent work",
    );
    repo.settle_mergeability(7);
    let test = repo.check_run(&head, "test").in_progress();
    let (app, _said) = opened_and_failed(&gh, &repo, &head).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    gh.reset_counts();
    gh.deliver(
        &repo.check_run_event("completed", test.id().0),
        &app.webhook(),
    )
    .await;
    gh.wait_for(
        "the second evaluation",
        |w| w.count("GET", "/repos/acme/app/compare/*") >= 1,
        WAIT,
    )
    .await;
    gh.wait_idle().await;
    let requests = gh.requests();
    app.stop().await;
    let list: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {} -> {}", r.method, r.path, r.status))
        .collect();
    eprintln!(
        "re-evaluation with the guard on: {} requests\n  {}",
        requests.len(),
        list.join("\n  ")
    );
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path.ends_with("/graphql"))
            .count(),
        1,
        "one GraphQL request: {list:#?}"
    );
    assert!(requests.len() <= 6, "{list:#?}");
    assert_eq!(merge_calls(&gh), 0);
    assert_eq!(gh.take_violations(), Vec::<String>::new());
}
