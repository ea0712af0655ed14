//! The merge-source guard in the App, on the fake GitHub's commit graph:
//! the incident (develop merged into a PR for main) is blocked at a small,
//! fixed number of requests; updating from main and merging an allowed
//! release branch pass.

mod support;

use support::FakeGitHub;
use support::flows::evaluate_once;

#[tokio::test]
async fn merging_develop_into_a_main_pr_is_blocked_with_few_requests() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.branch_tip("main");
    let develop = repo.chain(&base, 600, "develop");
    repo.branch("develop", &develop);
    let work = repo.commit(
        &[&base],
        "feature work",
        &[("src/feature.rs", Some("fn f() {}\n"))],
    );
    let merge = repo.commit(
        &[&work, &develop],
        "Merge branch 'develop' into feature",
        &[],
    );
    repo.branch("feature", &merge);
    repo.pr(12).head("feature").base("main").open();

    let run = evaluate_once(&gh, &repo, 12, "synchronize").await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("failure"),
        "{}",
        run.summary()
    );
    let text = run
        .output
        .as_ref()
        .unwrap()
        .text
        .clone()
        .unwrap_or_default();
    assert!(
        text.contains(&merge.as_str()[..7]),
        "names the merge commit: {text}"
    );
    assert!(text.contains("develop"), "names where it came from: {text}");
    assert!(
        text.contains("600"),
        "says how many commits it brings in: {text}"
    );
    assert!(
        run.summary().contains("disallowed merge"),
        "{}",
        run.summary()
    );

    let requests = gh.requests();
    let compare = requests
        .iter()
        .filter(|r| r.path.contains("/compare/"))
        .count();
    eprintln!(
        "600-commit develop merge: {} GitHub requests for the evaluation ({} compare pages and questions)",
        requests.len(),
        compare
    );
    // 602 commits in the PR: 7 pages of 100, plus the graph questions —
    // never a request per commit.
    assert!(
        requests.len() <= 20,
        "{:#?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn updating_from_main_and_merging_an_allowed_release_branch_pass() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.push(
        "main",
        "allow release branches",
        &[(
            ".github/seamguard.yml",
            Some("merge_sources:\n  allowed: [\"release/*\"]\n"),
        )],
    );
    let work = repo.commit(
        &[&base],
        "feature work",
        &[("src/f.rs", Some("fn f() {}\n"))],
    );
    // main moves on; the feature merges it in to update.
    let main2 = repo.push(
        "main",
        "main moves",
        &[("src/main.rs", Some("fn main() {}\n"))],
    );
    let update = repo.commit(&[&work, &main2], "Merge branch 'main' into feature", &[]);
    // A release branch forked from main, merged in too.
    let release = repo.commit(
        &[&base],
        "release fix",
        &[("src/fix.rs", Some("fn fix() {}\n"))],
    );
    repo.branch("release/1.2", &release);
    let merged = repo.commit(
        &[&update, &release],
        "Merge branch 'release/1.2' into feature",
        &[],
    );
    repo.branch("feature", &merged);
    repo.pr(13).head("feature").base("main").open();

    let run = evaluate_once(&gh, &repo, 13, "synchronize").await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "{}",
        run.summary()
    );
    assert!(
        run.summary().contains("2 merges from allowed sources"),
        "{}",
        run.summary()
    );
}

#[tokio::test]
async fn pulling_the_branchs_own_remote_line_passes() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.branch_tip("main");
    let shared = repo.commit(&[&base], "shared work", &[("a.txt", Some("a\n"))]);
    let mine = repo.commit(&[&shared], "my work", &[("b.txt", Some("b\n"))]);
    let theirs = repo.commit(&[&shared], "teammate's work", &[("c.txt", Some("c\n"))]);
    let pulled = repo.commit(
        &[&mine, &theirs],
        "Merge branch 'feature' of origin into feature",
        &[],
    );
    repo.branch("feature", &pulled);
    repo.pr(14).head("feature").base("main").open();

    let run = evaluate_once(&gh, &repo, 14, "synchronize").await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "{}",
        run.summary()
    );
}
