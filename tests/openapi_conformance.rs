//! The fake GitHub held to GitHub's published OpenAPI description.
//!
//! Every fake checks each request it receives (method, path, JSON body) and
//! each JSON answer it serves against `api.github.com.json`, and thins its
//! answers to the properties the description marks `required`; a violation
//! fails the test whose fake saw it (see `support/openapi.rs`). These tests
//! show the checks refuse what GitHub refuses, and report what the rest of
//! the integration suite had checked when they run after it (`cargo test`
//! runs test binaries in name order; this one comes last).

mod support;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use support::openapi::{self, ledger_dir};
use support::{FakeGitHub, INSTALLATION_ID};

/// A repository with PR 7 from `feature` onto `main`.
async fn fake_with_pr() -> (FakeGitHub, String) {
    let s = support::ready()
        .file("src/a.rs", "fn a() {}\n")
        .open()
        .await;
    (s.gh, s.head)
}

/// Sends one raw request with an installation token; the status and JSON.
async fn send(gh: &FakeGitHub, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let token = gh.token_for(INSTALLATION_ID);
    let url = format!("{}{}", gh.direct_url(), path.trim_start_matches('/'));
    let mut request = reqwest::Client::new()
        .request(method.parse().expect("method"), url)
        .header("authorization", format!("Bearer {token}"))
        .header("user-agent", "conformance-test");
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.expect("the fake answers");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

fn annotation(line: u32) -> Value {
    json!({ "path": "src/a.rs", "start_line": line, "end_line": line,
            "annotation_level": "failure", "message": "conflict marker" })
}

#[tokio::test]
async fn requests_github_would_refuse_are_violations() {
    let (gh, head) = fake_with_pr().await;
    let runs = "/repos/acme/app/check-runs";

    send(
        &gh,
        "POST",
        runs,
        Some(json!({ "name": "seamguard", "head_sha": head, "conclusion": "great" })),
    )
    .await;
    send(&gh, "POST", runs, Some(json!({ "name": "seamguard" }))).await;
    let many: Vec<Value> = (1..=51).map(annotation).collect();
    send(
        &gh,
        "POST",
        runs,
        Some(json!({ "name": "seamguard", "head_sha": head,
        "output": { "title": "t", "summary": "s", "annotations": many } })),
    )
    .await;
    send(
        &gh,
        "POST",
        runs,
        Some(json!({ "name": "seamguard", "head_sha": head,
        "output": { "title": "t", "summary": "x".repeat(65_536) } })),
    )
    .await;
    send(&gh, "GET", "/repos/acme/app/no-such-thing", None).await;
    send(
        &gh,
        "GET",
        &format!(
            "/repos/acme/app/commits/{head}/check-runs?filter=newest&per_page=many&colour=red"
        ),
        None,
    )
    .await;
    let violations = gh.take_violations();

    let expect = [
        ("conclusion", "\"great\""),
        ("head_sha", "required"),
        ("annotations", "50"),
        ("summary", "longer than 65535"),
        ("/repos/acme/app/no-such-thing", "no such operation"),
        ("filter=\"newest\"", "outside"),
        ("per_page=\"many\"", "is not a \"integer\""),
        ("\"colour\"", "not in the operation"),
    ];
    assert_eq!(violations.len(), expect.len(), "{violations:#?}");
    for ((at, why), seen) in expect.iter().zip(&violations) {
        assert!(
            seen.contains(at) && seen.contains(why),
            "expected {at} / {why}, saw {seen}"
        );
    }
}

#[tokio::test]
async fn valid_requests_are_counted_under_their_operation() {
    let (gh, head) = fake_with_pr().await;
    let fifty: Vec<Value> = (1..=50).map(annotation).collect();
    let (status, run) = send(
        &gh,
        "POST",
        "/repos/acme/app/check-runs",
        Some(json!({
        "name": "seamguard", "head_sha": head, "status": "completed", "conclusion": "failure",
        "output": { "title": "t", "summary": "s", "annotations": fifty } })),
    )
    .await;
    assert_eq!(status, 201, "{run}");
    send(
        &gh,
        "GET",
        &format!("/repos/acme/app/commits/{head}/check-runs"),
        None,
    )
    .await;
    send(
        &gh,
        "GET",
        "/repos/acme/app/contents/src/a.rs?ref=feature",
        None,
    )
    .await;

    assert_eq!(gh.take_violations(), Vec::<String>::new());
    let checked = gh.world().conformance.checked.clone();
    assert_eq!(
        checked,
        BTreeMap::from([
            (
                "GET /repos/{owner}/{repo}/commits/{ref}/check-runs".to_owned(),
                1
            ),
            ("GET /repos/{owner}/{repo}/contents/{path}".to_owned(), 1),
            ("POST /repos/{owner}/{repo}/check-runs".to_owned(), 1),
        ])
    );
}

#[tokio::test]
async fn answers_carry_only_what_github_requires() {
    let (gh, head) = fake_with_pr().await;
    let (status, pr) = send(&gh, "GET", "/repos/acme/app/pulls/7", None).await;
    assert_eq!(status, 200);
    // Required by the `pull-request` schema: kept, nested objects thinned.
    assert_eq!(pr["number"], 7);
    assert_eq!(pr["head"]["sha"], head.as_str());
    assert_eq!(pr["head"]["ref"], "feature");
    assert!(pr.get("mergeable_state").is_some());
    // Optional in the schema: GitHub may leave them out, so the fake does.
    for optional in ["draft", "assignees", "requested_reviewers", "rebaseable"] {
        assert!(pr.get(optional).is_none(), "{optional} served: {pr:#}");
    }
    let user = &pr["user"];
    assert!(
        user.get("login").is_some() && user.get("name").is_none(),
        "{user:#}"
    );

    let (_, runs) = send(
        &gh,
        "GET",
        &format!("/repos/acme/app/commits/{head}/check-runs"),
        None,
    )
    .await;
    assert_eq!(runs, json!({ "total_count": 0, "check_runs": [] }));
    assert_eq!(gh.take_violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_stack_and_a_stacked_pull_request_keep_to_the_description() {
    let s = support::ready().open().await;
    let top = s
        .repo
        .commit(&[&s.head], "on top", &[("b.rs", Some("b\n"))]);
    s.repo.branch("on-top", &top);
    s.repo.pr(8).head("on-top").base("feature").open();
    s.repo.stack(&[7, 8]);

    let (status, pr) = send(&s.gh, "GET", "/repos/acme/app/pulls/8", None).await;
    assert_eq!(status, 200);
    // Optional in the schema, served whole: where the pull request sits.
    assert_eq!(pr["stack"]["position"], 2, "{pr:#}");
    assert_eq!(pr["stack"]["base"]["ref"], "main");
    let (status, stack) = send(&s.gh, "GET", "/repos/acme/app/stacks/1", None).await;
    assert_eq!(status, 200);
    assert_eq!(stack["pull_requests"][1]["number"], 8);
    let (status, _) = send(&s.gh, "GET", "/repos/acme/app/stacks/9", None).await;
    assert_eq!(status, 404);
    assert_eq!(s.gh.take_violations(), Vec::<String>::new());
}

#[test]
fn nullable_fields_accept_null_and_nothing_else_does() {
    let contract = openapi::contract();
    let op = contract
        .operation("PATCH", "/repos/acme/app/check-runs/1")
        .expect("update a check run is in the description");
    assert_eq!(op.id, "checks/update");
    let get = contract
        .operation("GET", "/repos/acme/app/commits/abc/check-runs")
        .expect("list check runs");
    let run = |conclusion: Value| {
        json!({ "total_count": 1, "check_runs": [{
            "id": 1, "node_id": "CR_1", "head_sha": "abc", "name": "lint",
            "url": "http://127.0.0.1/x", "html_url": "http://127.0.0.1/y", "details_url": null,
            "status": "in_progress", "conclusion": conclusion, "started_at": null,
            "completed_at": null, "external_id": null, "check_suite": null,
            "output": { "title": null, "summary": null, "text": null,
                        "annotations_count": 0, "annotations_url": "http://127.0.0.1/z" },
            "app": null, "pull_requests": [] }] })
    };
    assert_eq!(
        contract.check_response(get, 200, Some(&mut run(Value::Null))),
        Vec::<String>::new()
    );
    let wrong = contract.check_response(get, 200, Some(&mut run(json!("splendid"))));
    assert_eq!(wrong.len(), 1, "{wrong:#?}");
    assert!(wrong[0].contains("/check_runs/0/conclusion"), "{wrong:#?}");
}

/// Reads the ledgers the other test binaries wrote and prints the totals.
/// Run alone, before the suite, there is nothing to report: it says so.
#[test]
fn the_integration_suite_kept_to_githubs_contract() {
    let dir = ledger_dir();
    let me = std::env::current_exe().expect("exe");
    let me = me.file_stem().expect("stem").to_string_lossy().into_owned();
    let deps = me
        .rsplit_once('-')
        .map(|(n, _)| n.to_owned())
        .unwrap_or(me.clone());
    let mut per_operation: BTreeMap<String, u64> = BTreeMap::new();
    let mut binaries = Vec::new();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".ledger") else {
            continue;
        };
        // Ledgers of binaries that no longer exist are from an old build.
        let binary = dir.parent().expect("profile dir").join("deps").join(stem);
        if stem.starts_with(&deps) || !binary.exists() {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).expect("ledger reads");
        for line in text.lines() {
            let (n, operation) = line.split_once('\t').expect("count<TAB>operation");
            *per_operation.entry(operation.to_owned()).or_default() +=
                n.parse::<u64>().expect("a count");
        }
        binaries.push(stem.to_owned());
    }
    let requests: u64 = per_operation.values().sum();
    for (operation, n) in &per_operation {
        println!("{n:>7}  {operation}");
    }
    println!(
        "OpenAPI conformance: checked {requests} requests across {} operations \
         (from {} test binaries; every fake fails its test on a violation)",
        per_operation.len(),
        binaries.len()
    );
    if requests == 0 {
        println!(
            "no ledger under {}: run the integration suite first (cargo test)",
            dir.display()
        );
    }
    for operation in per_operation.keys() {
        let (method, template) = operation.split_once(' ').expect("METHOD template");
        let path = template.replace(['{', '}'], "");
        assert!(
            openapi::contract().operation(method, &path).is_some(),
            "{operation} is not in GitHub's description"
        );
    }
}
