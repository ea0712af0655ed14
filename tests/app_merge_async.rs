//! GitHub's asynchronous merge (`PUT …/merge-async`), through seamguard's
//! real client and merger against the fake: the head pinned, one merge
//! request per call, a request GitHub already holds adopted, `failed`
//! messages classified like a 405, and the synchronous fallback learned
//! once per API root.

mod support;

use std::time::Duration;

use seamguard::engine::merger::{self, Called, MergeCall, Poll, pending_key};
use seamguard::gate::merge_answer::MergeAnswer;
use seamguard::github::InstallationClient;
use seamguard::github::api::{MergeAction, MergeAsync};
use seamguard::ids::{CommitSha, InstallationId, PrNumber, RepoName};
use seamguard::store::{Store, StoreOptions};
use serde_json::json;
use tempfile::TempDir;

use support::ready::{PR, REPO, merge_async_failed, merge_requests, open_pr};
use support::{FakeGitHub, Ready, ready};

/// Reads a few milliseconds apart: the fake answers at once.
const QUICK: Poll = Poll {
    reads: 5,
    interval: Duration::from_millis(5),
};

const ASYNC: &str = "/pulls/7/merge-async";

async fn store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = Store::open(&url, StoreOptions::default()).await.unwrap();
    (dir, store)
}

fn client(gh: &FakeGitHub) -> InstallationClient {
    gh.client()
        .installation(InstallationId(gh.installation_id()))
}

fn repo() -> RepoName {
    REPO.parse().unwrap()
}

fn sha(s: &str) -> CommitSha {
    s.parse().unwrap()
}

/// The merger for pull request `pr` at `head`, merging with `merge`.
async fn merge(
    client: &InstallationClient,
    store: &Store,
    pr: u64,
    head: &str,
    poll: Poll,
) -> Called {
    merger::call(&merger::Merge {
        client,
        store,
        repo: &repo(),
        pr: PrNumber(pr),
        head: &sha(head),
        method: "merge",
        action: MergeAction::DirectMerge,
        poll,
    })
    .await
    .expect("the merge call answers")
}

/// The bodies of the requests to `method path`.
fn bodies(s: &Ready, method: &str, path: &str) -> Vec<serde_json::Value> {
    s.requests()
        .into_iter()
        .filter(|r| r.method == method && r.path.ends_with(path))
        .map(|r| r.body.unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn merges_through_merge_async_with_the_head_pinned_and_no_synchronous_merge() {
    let s = ready().open().await;
    let (_dir, store) = store().await;
    let client = client(&s);

    let called = merge(&client, &store, PR, &s.head, QUICK).await;

    let merged = s.repo.pull(PR);
    assert!(merged.merged, "the fake merged #7");
    assert_eq!(
        called,
        Called {
            call: MergeCall::Merged {
                sha: merged.merge_commit_sha.clone()
            },
            sent: true
        }
    );
    assert_eq!(
        bodies(&s, "PUT", ASYNC),
        vec![json!({ "sha": s.head, "merge_method": "merge", "merge_action": "direct_merge" })]
    );
    assert_eq!(s.count("PUT", "/pulls/7/merge"), 0, "no synchronous merge");
    // 202, then the result read until it settled (pending once, then merged).
    assert_eq!(s.count("GET", "/pulls/7/merge-async/*"), 2);
    let key = pending_key(&repo(), PrNumber(PR), &sha(&s.head));
    assert_eq!(store.meta(&key).await.unwrap().as_deref(), Some(""));

    // Asked again, GitHub says it is merged (200), with its commit.
    let again = client
        .merge_async(
            &repo(),
            PrNumber(PR),
            &sha(&s.head),
            "merge",
            MergeAction::DirectMerge,
        )
        .await
        .unwrap();
    assert_eq!(
        again,
        MergeAsync::Merged {
            sha: merged.merge_commit_sha
        }
    );
}

#[tokio::test]
async fn a_request_github_already_holds_is_adopted_without_a_second_request() {
    let s = ready().open().await;
    let (_dir, store) = store().await;
    let client = client(&s);
    // Someone asked first, with another method; GitHub has not run it yet.
    s.set_async_merge_reads(100);
    let MergeAsync::Pending { uuid } = client
        .merge_async(
            &repo(),
            PrNumber(PR),
            &sha(&s.head),
            "squash",
            MergeAction::DirectMerge,
        )
        .await
        .unwrap()
    else {
        panic!("202 pending expected");
    };
    s.reset_counts();

    let first = merge(&client, &store, PR, &s.head, QUICK).await;
    let MergeCall::Pending {
        uuid: adopted,
        differs,
        ..
    } = &first.call
    else {
        panic!("pending expected, got {first:?}");
    };
    assert_eq!(adopted, &uuid, "the existing request is adopted");
    assert!(first.sent, "the 409 answered a request: an attempt");
    let differs = differs.as_deref().expect("the difference is said");
    assert!(
        differs.contains("`squash`, not `merge`") && differs.contains(&uuid),
        "{differs}"
    );
    assert_eq!(s.count("PUT", ASYNC), 1);
    assert_eq!(
        s.count("GET", &format!("{ASYNC}/{uuid}")),
        QUICK.reads as usize
    );

    // The next evaluation reads the kept request; it sends nothing.
    s.set_async_merge_reads(0);
    let second = merge(&client, &store, PR, &s.head, QUICK).await;
    assert!(
        matches!(second.call, MergeCall::Merged { .. }),
        "{second:?}"
    );
    assert!(!second.sent);
    assert_eq!(s.count("PUT", ASYNC), 1, "never a second request");
    assert_eq!(s.count("PUT", "/pulls/7/merge"), 0);
    assert!(s.repo.pull(PR).merged);
}

#[tokio::test]
async fn a_failed_result_with_a_pending_wording_is_classified_pending() {
    let s = ready().open().await;
    let (_dir, store) = store().await;
    s.repo.protection("main").requires(&["test"]);
    s.repo.check_run(&s.head, "test");

    let called = merge(&client(&s), &store, PR, &s.head, QUICK).await;

    assert_eq!(
        called,
        Called {
            call: MergeCall::Refused {
                status: 400,
                message: "Required status check \"test\" is expected.".to_owned(),
                answer: MergeAnswer::Pending,
            },
            sent: true,
        }
    );
    assert!(!s.repo.pull(PR).merged);
    // Settled: the next call may ask again (counted by the caller).
    let key = pending_key(&repo(), PrNumber(PR), &sha(&s.head));
    assert_eq!(store.meta(&key).await.unwrap().as_deref(), Some(""));
}

#[tokio::test]
async fn a_400_failed_answer_goes_through_the_same_table() {
    let s = ready().open().await;
    let (_dir, store) = store().await;
    let message = "Repository rule violations found\n\nRequired status check \"test\" is expected.";
    s.fail_next(
        &format!("PUT {ASYNC}"),
        400,
        &json!({ "status": "failed", "details": { "message": message } }).to_string(),
    );

    let called = merge(&client(&s), &store, PR, &s.head, QUICK).await;

    assert_eq!(
        called.call,
        MergeCall::Refused {
            status: 400,
            message: message.to_owned(),
            answer: MergeAnswer::Pending,
        }
    );
    assert_eq!(s.count("GET", &format!("{ASYNC}/*")), 0, "nothing to read");
}

#[tokio::test]
async fn without_merge_async_the_fallback_is_learned_once_per_api_root() {
    let s = ready().open().await;
    let second = open_pr(&s.repo, 8, "second", &[("b.txt", "b\n")], &[]);
    s.without_merge_async();
    let (_dir, store) = store().await;
    let client = client(&s);

    let seven = merge(&client, &store, PR, &s.head, QUICK).await;
    let eight = merge(&client, &store, 8, &second, QUICK).await;

    for (n, called) in [(7, &seven), (8, &eight)] {
        assert!(
            matches!(called.call, MergeCall::Merged { .. }) && called.sent,
            "#{n}: {called:?}"
        );
        assert!(s.repo.pull(n).merged, "#{n} merged");
    }
    let probes = s
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/merge-async"))
        .count();
    assert_eq!(
        probes, 1,
        "one probe for the API root, not one per pull request"
    );
    assert_eq!(
        bodies(&s, "PUT", "/pulls/7/merge"),
        vec![json!({ "sha": s.head, "merge_method": "merge" })]
    );
    assert_eq!(
        bodies(&s, "PUT", "/pulls/8/merge"),
        vec![json!({ "sha": second, "merge_method": "merge" })]
    );
}

#[tokio::test]
async fn a_missing_pull_request_is_not_a_missing_endpoint() {
    let s = ready().open().await;
    let client = client(&s);

    let missing = client
        .merge_async(
            &repo(),
            PrNumber(99),
            &sha(&s.head),
            "merge",
            MergeAction::DirectMerge,
        )
        .await
        .expect_err("no #99");
    assert!(missing.is_status(404), "{missing}");

    let seven = client
        .merge_async(
            &repo(),
            PrNumber(PR),
            &sha(&s.head),
            "merge",
            MergeAction::DirectMerge,
        )
        .await
        .unwrap();
    assert!(matches!(seven, MergeAsync::Pending { .. }), "{seven:?}");
}

#[tokio::test]
async fn an_expired_request_is_asked_for_again() {
    let s = ready().open().await;
    let (_dir, store) = store().await;
    let client = client(&s);
    s.set_async_merge_reads(100);
    let none = Poll { reads: 0, ..QUICK };
    let MergeCall::Pending { uuid: old, .. } = merge(&client, &store, PR, &s.head, none).await.call
    else {
        panic!("pending expected");
    };
    s.expire_async_merges();

    let called = merge(&client, &store, PR, &s.head, none).await;

    // The kept request's result is gone (404): one new request, a new uuid.
    assert_eq!(s.count("GET", &format!("{ASYNC}/{old}")), 1);
    let MergeCall::Pending { uuid: new, .. } = &called.call else {
        panic!("pending expected, got {called:?}");
    };
    assert_ne!(new, &old);
    assert!(called.sent);
    assert_eq!(s.count("PUT", ASYNC), 2);
    let key = pending_key(&repo(), PrNumber(PR), &sha(&s.head));
    let kept = store.meta(&key).await.unwrap().unwrap_or_default();
    assert!(kept.starts_with(new.as_str()), "{kept}");
}

// The running app: seamguard's evaluations merge through the merger.

const PUBLIC_URL: &str = "https://seamguard.example.test";

fn own_run<'a>(w: &'a support::World, head: &str) -> Option<&'a support::CheckRun> {
    w.check_runs_named("seamguard")
        .find(|r| r.head_sha.as_str() == head)
}

#[tokio::test]
async fn the_app_merges_through_merge_async_with_the_head_pinned() {
    let s = ready().opted_in().open().await;
    let app = s.start().await;

    s.send(&app, "labeled").await;
    s.wait_merged().await;
    s.wait_idle().await;

    assert_eq!(
        bodies(&s, "PUT", ASYNC),
        vec![json!({ "sha": s.head, "merge_method": "squash", "merge_action": "direct_merge" })],
        "one asynchronous merge request, the head pinned"
    );
    assert_eq!(s.count("PUT", "/pulls/7/merge"), 0, "no synchronous merge");
    app.stop().await;
}

#[tokio::test]
async fn the_app_adopts_a_held_request_says_it_and_never_sends_a_second() {
    let s = ready().opted_in().open().await;
    // Someone asked first, with another method; GitHub takes its time.
    s.set_async_merge_reads(1_000_000);
    let MergeAsync::Pending { uuid } = client(&s)
        .merge_async(
            &repo(),
            PrNumber(PR),
            &sha(&s.head),
            "merge",
            MergeAction::DirectMerge,
        )
        .await
        .unwrap()
    else {
        panic!("202 pending expected");
    };
    let app = s.start_with(&["--public-url", PUBLIC_URL]).await;
    s.send(&app, "labeled").await;

    let head = s.head.as_str().to_owned();
    let id = uuid.clone();
    s.wait_for(
        "the check run to say the held request",
        move |w| {
            own_run(w, &head)
                .is_some_and(|r| r.is_completed() && r.summary().contains(&format!("`{id}`")))
        },
        support::flows::WAIT,
    )
    .await;
    let run = s.with_world(|w| own_run(w, s.head.as_str()).cloned().unwrap());
    let summary = run.summary();
    assert!(
        summary.contains(&format!("merge request `{uuid}` is `pending`"))
            && summary.contains("last read")
            && summary.contains("merges with `merge`, not `squash`"),
        "{summary}"
    );
    assert_eq!(
        run.output.as_ref().map(|o| o.title.as_str()),
        Some("All guards pass · merge in progress")
    );

    // The page shows the request too.
    let details = run.details_url.clone().expect("details_url on the run");
    let url = details.replacen(PUBLIC_URL, &app.url(""), 1);
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + support::flows::WAIT;
    loop {
        let html = http.get(&url).send().await.unwrap().text().await.unwrap();
        if html.contains(&format!(
            "Asynchronous merge request <code>{uuid}</code>: pending"
        )) {
            assert!(html.contains("last read"), "{html}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the page never showed the request:\n{html}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And an agent reading the same link as JSON finds it under `merge`.
    let json: serde_json::Value = http
        .get(&url)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let request = &json["merge"]["request"];
    assert_eq!(request["uuid"].as_str(), Some(uuid.as_str()), "{json}");
    assert_eq!(request["state"].as_str(), Some("pending"), "{json}");
    assert!(request["read_at"].is_string(), "{json}");

    // GitHub runs it; seamguard reads it, and sends nothing more.
    s.set_async_merge_reads(0);
    s.wait_merged().await;
    s.wait_idle().await;
    let puts: Vec<u16> = s
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with(ASYNC))
        .map(|r| r.status)
        .collect();
    assert_eq!(
        puts,
        vec![202, 409],
        "the test's request, then the app's, adopted"
    );
    assert_eq!(s.count("PUT", "/pulls/7/merge"), 0);
    app.stop().await;
}

const EXPECTED: &str = r#"Required status check "test" is expected."#;

#[tokio::test]
async fn the_app_retries_a_failed_pending_wording_then_merges() {
    let s = ready().opted_in().open().await;
    s.fail_next(&format!("PUT {ASYNC}"), 400, &merge_async_failed(EXPECTED))
        .times(2);
    let app = s.start().await;

    s.send(&app, "labeled").await;
    s.wait_merged().await;
    s.wait_idle().await;

    let requests = merge_requests(&s, PR);
    let answers: Vec<(u16, Option<&str>)> = requests
        .iter()
        .map(|r| (r.status, r.message.as_deref()))
        .collect();
    assert_eq!(
        answers,
        vec![(400, Some(EXPECTED)), (400, Some(EXPECTED)), (202, None)]
    );
    assert!(
        requests
            .iter()
            .all(|r| r.path.ends_with(ASYNC) && r.body.as_ref().unwrap()["sha"] == s.head.as_str())
    );
    app.stop().await;
}

#[tokio::test]
async fn the_app_bounds_a_failed_pending_wording_by_max_attempts() {
    let s = ready()
        .opted_in()
        .config("merge:\n  max_attempts: 3\n")
        .open()
        .await;
    s.fail_next(&format!("PUT {ASYNC}"), 400, &merge_async_failed(EXPECTED))
        .always();
    let app = s.start().await;

    s.send(&app, "labeled").await;
    let head = s.head.as_str().to_owned();
    s.wait_for(
        "seamguard to stop merging (or to run away)",
        move |w| {
            w.requests
                .iter()
                .filter(|r| r.method == "PUT" && r.path.ends_with(ASYNC))
                .count()
                > 30
                || own_run(w, &head).is_some_and(|r| {
                    r.is_completed()
                        && r.summary().contains("stopped trying")
                        && !r.summary().contains("trying again in")
                })
        },
        support::flows::WAIT,
    )
    .await;
    s.wait_idle().await;
    app.stop().await;

    assert_eq!(merge_requests(&s, PR).len(), 3, "bounded by max_attempts");
    assert_eq!(s.count("PUT", "/pulls/7/merge"), 0);
    assert!(!s.merged());
    let run = s.with_world(|w| own_run(w, s.head.as_str()).cloned().unwrap());
    assert!(
        run.summary().contains("stopped after 3 merge attempts"),
        "{}",
        run.summary()
    );
}

#[tokio::test]
async fn the_app_without_merge_async_falls_back_once_per_api_root() {
    let s = ready().opted_in().open().await;
    let eight = open_pr(&s.repo, 8, "second", &[("b.txt", "b\n")], &["automerge"]);
    s.without_merge_async();
    let app = s.start().await;

    s.send(&app, "labeled").await;
    s.wait_merged().await;
    s.wait_idle().await;
    assert_eq!(
        s.deliver(&s.repo.pull_request_event("labeled", 8), &app.webhook())
            .await,
        202
    );
    s.wait_for(
        "#8 merged",
        |w| support::flows::merged(w, REPO, 8),
        support::flows::WAIT,
    )
    .await;
    s.wait_idle().await;
    app.stop().await;

    let probes: Vec<String> = s
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/merge-async"))
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect();
    assert_eq!(
        probes,
        vec![format!("PUT /repos/{REPO}{ASYNC} 404")],
        "one probe for the API root, not one per pull request"
    );
    assert_eq!(
        bodies(&s, "PUT", "/pulls/7/merge"),
        vec![json!({ "sha": s.head, "merge_method": "squash" })]
    );
    assert_eq!(
        bodies(&s, "PUT", "/pulls/8/merge"),
        vec![json!({ "sha": eight, "merge_method": "squash" })]
    );
}

#[tokio::test]
async fn the_last_attempt_still_held_by_github_is_read_not_given_up() {
    let s = ready()
        .opted_in()
        .config("merge:\n  max_attempts: 1\n")
        .open()
        .await;
    // GitHub takes its time with the one request seamguard may send.
    s.set_async_merge_reads(1_000_000);
    let app = s.start().await;
    s.send(&app, "labeled").await;
    let head = s.head.as_str().to_owned();
    s.wait_for(
        "the check run to say the merge is in progress",
        move |w| {
            own_run(w, &head)
                .is_some_and(|r| r.is_completed() && r.summary().contains("is `pending`"))
        },
        support::flows::WAIT,
    )
    .await;
    // Read again while GitHub holds it: never "stopped trying".
    let reads = |s: &Ready| s.count("GET", &format!("{ASYNC}/*"));
    let seen = reads(&s);
    let before = s.requests().len();
    s.wait_for(
        "a later read of the held request",
        move |w| {
            w.requests[before..]
                .iter()
                .filter(|r| r.method == "GET" && r.path.contains("/pulls/7/merge-async/"))
                .count()
                > 0
        },
        support::flows::WAIT,
    )
    .await;
    assert!(reads(&s) > seen);
    let run = s.with_world(|w| own_run(w, s.head.as_str()).cloned().unwrap());
    assert!(
        !run.summary().contains("stopped"),
        "not given up while GitHub holds the request: {}",
        run.summary()
    );

    s.set_async_merge_reads(0);
    s.wait_merged().await;
    s.wait_idle().await;
    assert_eq!(merge_requests(&s, PR).len(), 1, "one request, as allowed");
    app.stop().await;
}
