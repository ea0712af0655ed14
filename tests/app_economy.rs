//! API economy: a full evaluation of a typical pull request — 10 changed
//! files, 3 commits, no merge commits, 5 required checks, a config file —
//! costs at most 10 GitHub requests, none repeated; a re-evaluation with
//! nothing new costs at most 6, answered mostly by conditional requests
//! (304s), and reads no requirement it read a moment ago.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use support::flows::a_run_completed;
use support::{FakeGitHub, Seamguard};

const WAIT: Duration = Duration::from_secs(30);

/// The budget from the operations issue.
const MAX_REQUESTS: usize = 10;

/// A re-evaluation that changes nothing (issue 18).
const MAX_UNCHANGED: usize = 6;

/// The typical pull request #7 of `name`: 3 commits over 10 files, a
/// config file on the base, 5 required checks (2 from classic protection, 3
/// from a ruleset), all green, label `automerge`. Returns the head SHA.
fn typical_pull_request(gh: &FakeGitHub, name: &str) -> (support::scenario::RepoHandle, String) {
    let repo = gh.repo(name);
    let base = repo.push(
        "main",
        "config",
        &[(
            ".github/seamguard.yml",
            Some("merge:\n  mode: label\n  method: squash\n"),
        )],
    );
    let files: Vec<(String, String)> = (0..10)
        .map(|i| {
            (
                format!("src/module_{i}.rs"),
                format!("pub fn f{i}() {{}}\n"),
            )
        })
        .collect();
    let mut tip = base.clone();
    for chunk in files.chunks(4) {
        let changes: Vec<(&str, Option<&str>)> = chunk
            .iter()
            .map(|(p, c)| (p.as_str(), Some(c.as_str())))
            .collect();
        tip = repo.commit(&[&tip], "work", &changes);
    }
    repo.branch("feature", &tip);
    repo.pr(7)
        .head("feature")
        .base("main")
        .label("automerge")
        .open();
    repo.protection("main").requires(&["build", "lint"]);
    repo.ruleset(9)
        .on("~DEFAULT_BRANCH")
        .requires(&["test", "e2e", "docs"]);
    for name in ["build", "lint", "test", "e2e", "docs"] {
        repo.check_run(&tip, name).completed("success");
    }
    (repo, tip)
}

/// The same evaluation done the straightforward way, for comparison: one
/// endpoint per datum, as a bot does that reads what it needs when it
/// needs it — the pull request, its files and its commits; the config and
/// the org defaults; a check run opened before the work; the protection,
/// the rulesets, the head's check runs and its statuses; the completion;
/// the pull request again before merging (is the head still the head?);
/// the merge. Sent to the same fake, so it is counted as seamguard is.
async fn naive_evaluation(gh: &FakeGitHub, repo: &str, head: &str) -> usize {
    let token = gh.with_world(|w| w.mint_token(gh.installation_id()).0);
    let http = reqwest::Client::new();
    let api = gh.api_url();
    let owner = repo.split('/').next().unwrap();
    use reqwest::Method;
    let get = |path: String| (Method::GET, path, None);
    let calls: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        get(format!("/repos/{repo}/pulls/7")),
        get(format!("/repos/{repo}/pulls/7/files?per_page=100")),
        get(format!("/repos/{repo}/compare/main...{head}")),
        get(format!(
            "/repos/{repo}/contents/.github/seamguard.yml?ref=main"
        )),
        get(format!(
            "/repos/{owner}/.github/contents/.github/seamguard.yml"
        )),
        (
            Method::POST,
            format!("/repos/{repo}/check-runs"),
            Some(serde_json::json!({ "name": "naive", "head_sha": head, "status": "in_progress" })),
        ),
        get(format!(
            "/repos/{repo}/branches/main/protection/required_status_checks"
        )),
        get(format!("/repos/{repo}/rules/branches/main")),
        get(format!(
            "/repos/{repo}/commits/{head}/check-runs?per_page=100"
        )),
        get(format!("/repos/{repo}/commits/{head}/status")),
        (
            Method::PATCH,
            format!("/repos/{repo}/check-runs/{{id}}"),
            Some(serde_json::json!({ "status": "completed", "conclusion": "success" })),
        ),
        get(format!("/repos/{repo}/pulls/7")),
        (
            Method::PUT,
            format!("/repos/{repo}/pulls/7/merge"),
            Some(serde_json::json!({ "sha": head, "merge_method": "squash" })),
        ),
    ];
    let mut run_id = String::new();
    for (method, path, body) in calls {
        let path = path.replace("{id}", &run_id);
        let mut request = http
            .request(method, format!("{api}{path}"))
            .header("authorization", format!("Bearer {token}"))
            .header("user-agent", "naive-bot");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.unwrap();
        assert!(
            answer.status().is_success() || answer.status() == 404,
            "{path}: {}",
            answer.status()
        );
        let value: serde_json::Value = answer.json().await.unwrap_or_default();
        if let Some(id) = value.get("id").and_then(|id| id.as_u64())
            && path.ends_with("/check-runs")
        {
            run_id = id.to_string();
        }
    }
    gh.requests().len()
}

#[tokio::test]
async fn a_typical_pull_request_costs_at_most_ten_requests() {
    let gh = FakeGitHub::start().await;
    let (repo, _) = typical_pull_request(&gh, "acme/app");
    let base = repo.branch_tip("main");
    let app = Seamguard::start(&gh).await;
    // Warm the installation token and the config cache with a whole
    // evaluation of the pull request before it is opted in: the token lives
    // an hour and the config is cached per base SHA, so neither is part of
    // a typical evaluation's cost.
    repo.remove_label(7, "automerge");
    gh.deliver(&repo.push_event("main", &base), &app.webhook())
        .await;
    gh.wait_for(
        "the push's fan-out to finish",
        // A pull request that is not opted in is not evaluated on a base
        // push: the fan-out ends once the config (a listing, then its blob)
        // says so.
        |w| w.count("GET", "/repos/acme/app/git/blobs/*") >= 1,
        WAIT,
    )
    .await;
    gh.reset_counts();

    repo.add_label(7, "automerge");
    gh.deliver(&repo.pull_request_event("labeled", 7), &app.webhook())
        .await;
    gh.wait_for("the merge", |w| w.repo("acme/app").pulls[&7].merged, WAIT)
        .await;
    gh.wait_idle().await;
    let requests = gh.requests();
    let list: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {} {:?} -> {}", r.method, r.path, r.query, r.status))
        .collect();
    app.stop().await;

    // The same pull request in a twin repository, evaluated naively.
    let (_, naive_head) = typical_pull_request(&gh, "acme/twin");
    gh.reset_counts();
    let naive = naive_evaluation(&gh, "acme/twin", &naive_head).await;
    assert!(
        gh.with_world(|w| w.repo("acme/twin").pulls[&7].merged),
        "the naive evaluation merged too"
    );

    eprintln!(
        "full evaluation of a typical PR: seamguard {} requests, the naive approach {naive}",
        requests.len()
    );
    for l in &list {
        eprintln!("  {l}");
    }
    // The merge is one asynchronous request and a bounded few reads of its
    // result (GitHub runs the merge after answering 202): the reads are the
    // merge's, not the evaluation's.
    let (reads, requests): (Vec<_>, Vec<_>) = requests
        .into_iter()
        .partition(|r| r.method == "GET" && r.path.contains("/pulls/7/merge-async/"));
    assert!(
        (1..=3).contains(&reads.len()),
        "the merge's result read a bounded few times: {}",
        reads.len()
    );
    assert!(
        requests.len() <= MAX_REQUESTS,
        "{} requests:\n{}",
        requests.len(),
        list.join("\n")
    );
    assert!(
        requests.len() + reads.len() < naive,
        "cheaper than the naive approach"
    );
    let mut seen = HashSet::new();
    for r in &requests {
        assert!(
            seen.insert((r.method.clone(), r.path.clone(), r.query.clone())),
            "repeated within one evaluation: {} {}",
            r.method,
            r.path
        );
    }
}

/// Pull request #7 waits on `test` (a ruleset's, running). seamguard
/// evaluates it once; after `pause`, another app's check completes without
/// changing anything and it is evaluated again. Answers the second
/// evaluation's requests and how many were answered 304.
async fn evaluate_twice(gh: &FakeGitHub, pause: Duration) -> (Vec<support::Recorded>, u64) {
    let repo = gh.repo("acme/app");
    let base = repo.branch_tip("main");
    let head = repo.commit(&[&base], "work", &[("src/a.rs", Some("fn a() {}\n"))]);
    repo.branch("feature", &head);
    repo.pr(7).head("feature").base("main").open();
    // Opened a while ago: GitHub computed its mergeability long before the
    // re-evaluation, which is what this measures.
    repo.settle_mergeability(7);
    repo.ruleset(9).on("~DEFAULT_BRANCH").requires(&["test"]);
    let test = repo.check_run(&head, "test").in_progress();
    let app = Seamguard::start(gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    a_run_completed(gh, "the first evaluation").await;
    tokio::time::sleep(pause).await;
    gh.reset_counts();
    let before = gh.with_world(|w| w.not_modified);
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
    let not_modified = gh.with_world(|w| w.not_modified) - before;
    let requests = gh.requests();
    app.stop().await;
    (requests, not_modified)
}

#[tokio::test]
async fn a_re_evaluation_with_nothing_new_rides_on_conditional_requests() {
    let gh = FakeGitHub::start().await;
    let (requests, not_modified) = evaluate_twice(&gh, Duration::from_millis(200)).await;
    let list: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {} -> {}", r.method, r.path, r.status))
        .collect();
    eprintln!(
        "re-evaluation: {} requests, {} answered 304 Not Modified\n  {}",
        requests.len(),
        not_modified,
        list.join("\n  ")
    );
    assert!(
        requests.len() <= MAX_UNCHANGED,
        "a re-evaluation that changes nothing: {} requests\n{}",
        requests.len(),
        list.join("\n")
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.path.contains("/protection/") || r.path.contains("/rules/branches/")),
        "what the branch requires was read a moment ago and nothing announced a change"
    );
    assert!(
        not_modified >= 2,
        "conditional requests were used: {not_modified}"
    );
    assert_eq!(
        requests.iter().filter(|r| r.method == "PATCH").count(),
        0,
        "an unchanged result is not written again"
    );
}

#[tokio::test]
async fn kept_etags_die_with_the_token_and_a_re_evaluation_is_still_whole() {
    let gh = FakeGitHub::start().await;
    // Every token is refreshed before its next use: less than the client's
    // five-minute margin is left two seconds after it is minted.
    gh.set_token_lifetime(Duration::from_secs(5 * 60 + 2));
    let (requests, not_modified) = evaluate_twice(&gh, Duration::from_millis(2_500)).await;
    let minted = requests
        .iter()
        .filter(|r| r.path.ends_with("/access_tokens"))
        .count();
    let conditional = requests
        .iter()
        .filter(|r| r.method == "GET" && r.status == 200)
        .count();
    eprintln!(
        "re-evaluation on a fresh token: {} requests ({minted} token), {not_modified} answered 304, {conditional} answered 200 in full",
        requests.len()
    );
    assert_eq!(minted, 1, "the token was refreshed before use");
    assert_eq!(
        not_modified, 0,
        "GitHub does not honour an ETag kept from another token"
    );
    assert!(
        requests.len() <= MAX_UNCHANGED + minted,
        "{} requests",
        requests.len()
    );
    assert_eq!(
        requests.iter().filter(|r| r.method == "PATCH").count(),
        0,
        "the full answers were read as the same result: nothing to write"
    );
}

/// The same re-evaluation with the whole gate read: the base also requires
/// an approving review (given) and resolved conversations (none open), so
/// each evaluation also asks GitHub where the pull request stands against
/// them — one GraphQL query, and still no more than the budget.
#[tokio::test]
async fn a_re_evaluation_with_the_whole_gate_read_stays_within_the_budget() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.require_approvals("main", 1)
        .classic_gate("main", |g| g.conversation_resolution = true);
    let base = repo.branch_tip("main");
    let head = repo.commit(&[&base], "work", &[("src/a.rs", Some("fn a() {}\n"))]);
    repo.branch("feature", &head);
    repo.pr(7).head("feature").base("main").open();
    repo.settle_mergeability(7);
    repo.review(7, "bob", "APPROVED");
    repo.ruleset(9).on("~DEFAULT_BRANCH").requires(&["test"]);
    let test = repo.check_run(&head, "test").in_progress();
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    a_run_completed(&gh, "the first evaluation").await;
    gh.wait_idle().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
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
        "re-evaluation with the whole gate read: {} requests\n  {}",
        requests.len(),
        list.join("\n  ")
    );
    let gate_reads = requests
        .iter()
        .filter(|r| {
            r.body
                .as_ref()
                .and_then(|b| b["query"].as_str())
                .is_some_and(|q| q.contains("query PullGate"))
        })
        .count();
    assert_eq!(
        gate_reads,
        1,
        "the whole gate was read, once\n{}",
        list.join("\n")
    );
    assert!(
        requests.len() <= MAX_UNCHANGED,
        "a re-evaluation that changes nothing, whole gate read: {} requests\n{}",
        requests.len(),
        list.join("\n")
    );
    assert_eq!(
        requests.iter().filter(|r| r.method == "PATCH").count(),
        0,
        "an unchanged result is not written again"
    );
    assert_eq!(gh.take_violations(), Vec::<String>::new());
}
