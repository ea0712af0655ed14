//! The pull request's page as JSON: the check run's `details_url`, asked
//! with `Accept: application/json`, answers what holds the merge back —
//! each blocker with its kind, source, state, since, who can clear it and
//! the fix — from the same stored evaluation the HTML page shows. The same
//! signature guards it; a refusal is a JSON 404. A browser still gets the
//! HTML page.

mod support;

use serde_json::Value;
use support::deliveries::Delivery;
use support::flows::{WAIT, completed_run, feature_pr, merged};
use support::{FakeGitHub, Seamguard};

const PUBLIC_URL: &str = "https://seamguard.example.test";

/// What a browser sends.
const BROWSER_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

/// The page's JSON once it shows `decision` (the history is written just
/// after the check run completes).
async fn json_showing(url: &str, decision: &str) -> Value {
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let answer = client
            .get(url)
            .header("Accept", "application/json")
            .send()
            .await
            .expect("the page answers");
        assert_eq!(answer.status(), 200, "{url}");
        assert_eq!(
            answer.headers()["content-type"].to_str().unwrap(),
            "application/json"
        );
        let body: Value = answer.json().await.expect("a JSON body");
        if body["verdict"]["decision"] == decision {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the JSON page never showed {decision}: {body:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn blocker<'a>(page: &'a Value, kind: &str) -> &'a Value {
    page["blockers"]
        .as_array()
        .expect("blockers")
        .iter()
        .find(|b| b["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} blocker in {page:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reads_what_a_pull_request_waits_for_as_json() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    repo.require_approvals("main", 1)
        .classic_gate("main", |g| g.conversation_resolution = true);
    let thread = repo.thread(7);
    let app = Seamguard::start_with(&gh, &["--public-url", PUBLIC_URL]).await;
    assert_eq!(
        gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
            .await,
        202
    );
    let run = completed_run(&gh, &head).await;
    let details = run.details_url.clone().expect("details_url on the run");
    assert!(
        details.starts_with(&format!("{PUBLIC_URL}/acme/app/pull/7?exp=")),
        "{details}"
    );
    let url = details.replacen(PUBLIC_URL, &app.url(""), 1);

    // Waiting for a review and a conversation: said as JSON, no merge call.
    let page = json_showing(&url, "waiting").await;
    assert_eq!(page["version"], 1);
    assert_eq!(page["repository"], "acme/app");
    assert_eq!(page["number"], 7);
    assert_eq!(page["head"], head.as_str());
    assert_eq!(page["verdict"]["conclusion"], "success");
    assert!(
        page["verdict"]["title"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{page:#}"
    );
    assert!(page["evaluated_at"].is_string(), "{page:#}");
    let review = blocker(&page, "review");
    assert_eq!(review["source"], "branch protection");
    assert_eq!(review["state"], "unmet");
    assert_eq!(review["detail"], "none yet");
    assert_eq!(review["who"], "anyone with write access");
    assert_eq!(
        review["fix"],
        "Get 1 approving review: anyone with write access can approve."
    );
    assert!(review["since"].is_string(), "{review:#}");
    let review_since = review["since"].clone();
    let conversation = blocker(&page, "conversation");
    assert_eq!(conversation["state"], "unmet");
    assert_eq!(conversation["detail"], "1 conversation unresolved");
    assert_eq!(
        conversation["who"],
        "the pull request's author or a reviewer"
    );
    assert_eq!(
        conversation["fix"],
        "Resolve every review conversation: the pull request's author or a reviewer can \
         resolve them."
    );
    assert_eq!(page["blockers"].as_array().unwrap().len(), 2, "{page:#}");
    let rules: Vec<(&str, &str)> = page["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["kind"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert!(rules.contains(&("review", "unmet")), "{rules:?}");
    assert!(rules.contains(&("conversation", "unmet")), "{rules:?}");
    assert_eq!(support::ready::merge_requests(&gh, 7).len(), 0);

    // A browser still gets the HTML page, with the rules and since when.
    let client = reqwest::Client::new();
    let html = client
        .get(&url)
        .header("Accept", BROWSER_ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), 200);
    assert!(
        html.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{:?}",
        html.headers()
    );
    let html = html.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    for shown in [
        "<div class=\"word\">waiting</div>",
        "id=\"rules\"",
        "1 approving review required by branch protection",
        "<span class=\"badge unmet\">unmet</span> 1 conversation unresolved",
    ] {
        assert!(
            html.contains(shown),
            "the HTML page lacks {shown:?}:\n{html}"
        );
    }

    // A link seamguard did not sign: the same refusal, as JSON.
    let mut forged = url.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    for refused in [
        forged.clone(),
        url.replacen("/pull/7?", "/pull/8?", 1),
        app.url("/acme/app/pull/7"),
        app.url("/no/such/path"),
    ] {
        let answer = client
            .get(&refused)
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "{refused}");
        assert_eq!(
            answer.headers()["content-type"].to_str().unwrap(),
            "application/json"
        );
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["version"], 1);
        assert_eq!(body["error"], "not_found");
        assert!(body.get("blockers").is_none() && body.get("head").is_none());
    }
    let answer = client.get(&forged).send().await.unwrap();
    assert_eq!(answer.status(), 404);
    assert_eq!(answer.text().await.unwrap(), seamguard::web::NOT_FOUND);

    // The conversation resolved, the review given: no blockers, merged.
    // (A second later, so the next evaluation's time differs from the
    // first's whatever the store's precision.)
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    repo.resolve_thread(thread);
    let mut resolved = repo.pull_request_event("resolved", 7);
    resolved.body["thread"] = serde_json::json!({ "node_id": "PRRT_1", "comments": [] });
    let resolved = Delivery::new("pull_request_review_thread", resolved.body);
    assert_eq!(gh.deliver(&resolved, &app.webhook()).await, 202);
    let after = {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let page = json_showing(&url, "waiting").await;
            let kinds: Vec<String> = page["blockers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["kind"].as_str().unwrap().to_owned())
                .collect();
            if kinds == ["review"] {
                break page;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the resolved conversation is still a blocker: {page:#}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    let conversation_rule = after["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "conversation")
        .expect("the conversation rule");
    assert_eq!(conversation_rule["state"], "met");
    assert!(conversation_rule["since"].is_string());
    // The review has been missing since the first evaluation: the later
    // one, on the thread's delivery, keeps that time.
    assert_eq!(
        blocker(&after, "review")["since"],
        review_since,
        "{after:#}"
    );
    assert_ne!(after["evaluated_at"], review_since, "{after:#}");
    assert_eq!(support::ready::merge_requests(&gh, 7).len(), 0);

    repo.review(7, "octocat", "APPROVED");
    let mut review = repo.pull_request_event("submitted", 7);
    review.body["review"] = serde_json::json!({ "id": 1, "state": "approved", "user": { "login": "octocat", "id": 1, "type": "User" } });
    let review = Delivery::new("pull_request_review", review.body);
    assert_eq!(gh.deliver(&review, &app.webhook()).await, 202);
    gh.wait_for("#7 merged", |w| merged(w, "acme/app", 7), WAIT)
        .await;
    let page = json_showing(&url, "merged").await;
    assert_eq!(page["blockers"], serde_json::json!([]), "{page:#}");
    assert_eq!(page["merge"]["attempts"][0]["answer"], "merged");
    gh.wait_idle().await;
    app.stop().await;
    assert_eq!(gh.take_violations(), Vec::<String>::new());
}
