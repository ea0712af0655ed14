//! Where the base requires GitHub's merge queue (a ruleset `merge_queue`
//! rule), an opted-in pull request whose guards and gate pass is enqueued
//! through the asynchronous merge (`PUT …/merge-async`, `sha` pinned to the
//! evaluated head, `merge_action: merge_queue`) — or, on an API root
//! without it, with GraphQL `enqueuePullRequest` (`expectedHeadOid`
//! pinned) — once per head, and never merged directly (`PUT …/merge` or
//! `direct_merge`, which the fake refuses there as GitHub does). The check
//! run says where it stands; `enqueued`/`dequeued` deliveries update it, a
//! failure with GitHub's reason.

mod support;

use support::flows::{WAIT, feature_pr};
use support::{FakeGitHub, RepoHandle, Seamguard, Sha, World};

/// The `expectedHeadOid` of every `enqueuePullRequest` the fake received.
fn graphql_enqueues(w: &World) -> Vec<String> {
    w.requests
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/graphql")
        .filter_map(|r| {
            let body = r.body.as_ref()?;
            body["query"]
                .as_str()?
                .contains("enqueuePullRequest")
                .then(|| {
                    body["variables"]["expectedHeadOid"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
        })
        .collect()
}

/// Is `r` an asynchronous merge request GitHub answered (not the 404 of
/// an API root without it)?
fn is_merge_async(r: &support::world::Recorded) -> bool {
    r.method == "PUT" && r.path.ends_with("/merge-async") && r.status != 404
}

/// The bodies of the `merge-async` requests with `merge_action:
/// merge_queue`.
fn async_enqueues(w: &World) -> Vec<serde_json::Value> {
    w.requests
        .iter()
        .filter(|r| is_merge_async(r))
        .filter_map(|r| r.body.clone())
        .filter(|b| b["merge_action"] == "merge_queue")
        .collect()
}

/// The head pinned by every request to enqueue, through either route.
fn enqueues(w: &World) -> Vec<String> {
    let mut heads: Vec<String> = async_enqueues(w)
        .iter()
        .map(|b| b["sha"].as_str().unwrap_or_default().to_owned())
        .collect();
    heads.extend(graphql_enqueues(w));
    heads
}

fn queue_reads(w: &World) -> usize {
    w.requests
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/graphql")
        .filter(|r| {
            r.body
                .as_ref()
                .and_then(|b| b["query"].as_str())
                .is_some_and(|q| q.contains("QueueState"))
        })
        .count()
}

/// Requests to merge directly: `PUT …/merge`, or `merge-async` with any
/// other action than `merge_queue`.
fn merge_calls(w: &World) -> usize {
    w.requests
        .iter()
        .filter(|r| r.is_a_merge_request())
        .filter(|r| {
            !is_merge_async(r)
                || r.body
                    .as_ref()
                    .is_none_or(|b| b["merge_action"] != "merge_queue")
        })
        .count()
}

fn summary_on(w: &World, head: &Sha) -> String {
    w.check_runs_named("seamguard")
        .filter(|r| &r.head_sha == head && r.is_completed())
        .last()
        .map(|r| r.summary().to_owned())
        .unwrap_or_default()
}

/// `acme/app` whose `main` requires `test` and the merge queue, with
/// pull request #7 opted in and `test` green on its head.
async fn queued_repo() -> (FakeGitHub, RepoHandle, Sha) {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.ruleset(1)
        .on("~DEFAULT_BRANCH")
        .requires(&["test"])
        .merge_queue();
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    repo.check_run(&head, "test").completed("success");
    (gh, repo, head)
}

async fn wait_summary(gh: &FakeGitHub, head: &Sha, what: &'static str, needle: &'static str) {
    let h = head.clone();
    gh.wait_for(what, move |w| summary_on(w, &h).contains(needle), WAIT)
        .await;
}

#[tokio::test]
async fn a_green_pull_request_is_enqueued_through_merge_async_once_pinned_and_never_merged_directly()
 {
    let (gh, repo, head) = queued_repo().await;
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("labeled", 7), &app.webhook())
        .await;
    wait_summary(
        &gh,
        &head,
        "the run to say it is queued",
        "merge queue at position 1",
    )
    .await;
    assert_eq!(repo.queued(), vec![7]);

    // GitHub's own `enqueued` delivery, then a re-check: read, not redone.
    let reads = gh.with_world(|w| queue_reads(w));
    gh.deliver(&repo.pull_request_event("enqueued", 7), &app.webhook())
        .await;
    gh.wait_for(
        "the enqueued delivery to be evaluated",
        move |w| queue_reads(w) > reads,
        WAIT,
    )
    .await;
    gh.wait_idle().await;
    app.stop().await;

    let (asked, graphql, merges, summary) = gh.with_world(|w| {
        (
            async_enqueues(w),
            graphql_enqueues(w),
            merge_calls(w),
            summary_on(w, &head),
        )
    });
    println!(
        "merge-async enqueues: {asked:?}; enqueuePullRequest: {graphql:?}; direct merges: {merges}"
    );
    assert_eq!(
        asked,
        vec![serde_json::json!({
            "sha": head.as_str(),
            "merge_method": "squash",
            "merge_action": "merge_queue",
        })],
        "enqueued once, through merge-async, pinned; the second evaluation sent nothing"
    );
    assert!(graphql.is_empty(), "no GraphQL enqueue: {graphql:?}");
    assert_eq!(merges, 0, "never a direct merge on a merge-queue base");
    assert!(
        summary.contains("queued in `main`'s merge queue at position 1"),
        "{summary}"
    );
    assert!(
        summary.contains("merges go through GitHub's merge queue"),
        "{summary}"
    );
    let title = gh.with_world(|w| {
        w.check_runs_named("seamguard")
            .find(|r| r.head_sha == head)
            .and_then(|r| r.output.as_ref().map(|o| o.title.clone()))
            .unwrap_or_default()
    });
    assert_eq!(title, "All guards pass · in the merge queue");
}

#[tokio::test]
async fn a_request_github_holds_is_read_until_enqueued_and_never_sent_twice() {
    let (gh, repo, head) = queued_repo().await;
    // GitHub runs the request only after a few reads of its result: more
    // than one evaluation follows (three reads each).
    gh.set_async_merge_reads(4);
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("labeled", 7), &app.webhook())
        .await;
    wait_summary(
        &gh,
        &head,
        "the run to say GitHub is enqueuing it",
        "GitHub is adding it to `main`'s merge queue with the head SHA pinned",
    )
    .await;
    let title = gh.with_world(|w| {
        w.check_runs_named("seamguard")
            .filter(|r| r.head_sha == head && r.is_completed())
            .last()
            .and_then(|r| r.output.as_ref().map(|o| o.title.clone()))
            .unwrap_or_default()
    });
    assert_eq!(title, "All guards pass · joining the merge queue");
    // Another event while GitHub holds the request: read, not asked again.
    gh.deliver(&repo.pull_request_event("labeled", 7), &app.webhook())
        .await;
    wait_summary(
        &gh,
        &head,
        "the run to say it is queued",
        "merge queue at position 1",
    )
    .await;
    gh.wait_idle().await;
    app.stop().await;

    let (asked, graphql, merges, results) = gh.with_world(|w| {
        (
            async_enqueues(w),
            graphql_enqueues(w),
            merge_calls(w),
            w.count("GET", "/pulls/7/merge-async/*"),
        )
    });
    println!("merge-async enqueues {asked:?}; result reads {results}");
    assert_eq!(asked.len(), 1, "one request for the head: {asked:?}");
    assert_eq!(asked[0]["sha"], head.as_str());
    assert!(
        results >= 5,
        "the result was read until it settled: {results}"
    );
    assert!(graphql.is_empty());
    assert_eq!(merges, 0);
    assert_eq!(repo.queued(), vec![7]);
}

#[tokio::test]
async fn without_merge_async_the_enqueue_is_graphqls_with_one_probe_per_api_root() {
    let (gh, repo, head) = queued_repo().await;
    let eight = feature_pr(&repo, 8, "second", &["automerge"]);
    repo.check_run(&eight, "test").completed("success");
    gh.without_merge_async();
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("labeled", 7), &app.webhook())
        .await;
    wait_summary(&gh, &head, "#7 queued", "merge queue at position 1").await;
    gh.wait_idle().await;
    gh.deliver(&repo.pull_request_event("labeled", 8), &app.webhook())
        .await;
    wait_summary(&gh, &eight, "#8 queued", "merge queue at position 2").await;
    gh.wait_idle().await;
    app.stop().await;

    let (probes, graphql, merges) = gh.with_world(|w| {
        let probes: Vec<String> = w
            .requests
            .iter()
            .filter(|r| r.path.contains("/merge-async"))
            .map(|r| format!("{} {} {}", r.method, r.path, r.status))
            .collect();
        (probes, graphql_enqueues(w), merge_calls(w))
    });
    assert_eq!(
        probes,
        vec!["PUT /repos/acme/app/pulls/7/merge-async 404".to_owned()],
        "one probe for the API root, not one per pull request"
    );
    assert_eq!(
        graphql,
        vec![head.to_string(), eight.to_string()],
        "each head enqueued once with GraphQL, pinned"
    );
    assert_eq!(merges, 0, "never PUT …/merge on a merge-queue base");
    assert_eq!(repo.queued(), vec![7, 8]);
}

#[tokio::test]
async fn a_push_while_queued_never_enqueues_the_stale_head() {
    let (gh, repo, head) = queued_repo().await;
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("labeled", 7), &app.webhook())
        .await;
    wait_summary(&gh, &head, "queued", "merge queue at position 1").await;

    // A push: GitHub drops the pull request from the queue.
    let new_head = repo.push("feature", "more", &[("feature", Some("y\n"))]);
    assert!(repo.queued().is_empty());
    gh.deliver(&repo.pull_request_event("synchronize", 7), &app.webhook())
        .await;
    wait_summary(
        &gh,
        &new_head,
        "the new head to wait for `test`",
        "waiting for `test`",
    )
    .await;
    gh.wait_idle().await;
    assert!(repo.queued().is_empty(), "not enqueued before its checks");

    // Its `test` passes: the new head, and only it, is enqueued.
    let run = repo.check_run(&new_head, "test").completed("success");
    gh.deliver(
        &repo.check_run_event("completed", run.id().0),
        &app.webhook(),
    )
    .await;
    wait_summary(
        &gh,
        &new_head,
        "the new head queued",
        "merge queue at position 1",
    )
    .await;
    gh.wait_idle().await;
    app.stop().await;
    let calls = gh.with_world(|w| enqueues(w));
    println!("enqueue calls: {calls:?}");
    assert_eq!(calls, vec![head.to_string(), new_head.to_string()]);
    assert_eq!(gh.with_world(|w| merge_calls(w)), 0);
}

#[tokio::test]
async fn a_push_just_before_the_enqueue_never_queues_the_stale_head() {
    let (gh, repo, head) = queued_repo().await;
    // The push lands between seamguard's read of the pull request and its
    // GraphQL calls.
    gh.before_next("POST /graphql", move |w| {
        let repo = w.repo_mut("acme/app");
        let tip = repo.tip("feature").cloned().expect("feature");
        let sha = repo.commit_changes(&[tip], "racing push", &[("feature", Some(&b"z\n"[..]))]);
        repo.set_branch("feature", &sha);
    });
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("labeled", 7), &app.webhook())
        .await;
    let new_head = {
        let h = head.clone();
        gh.wait_for(
            "the moved head to be evaluated",
            move |w| {
                let pr = &w.repo("acme/app").pulls[&7];
                pr.head_sha != h && summary_on(w, &pr.head_sha).contains("waiting for `test`")
            },
            WAIT,
        )
        .await;
        repo.pull(7).head_sha
    };
    gh.wait_idle().await;
    app.stop().await;
    assert!(repo.queued().is_empty(), "the stale head was never queued");
    let answers: Vec<u16> = gh.with_world(|w| {
        w.requests
            .iter()
            .filter(|r| r.path == "/graphql")
            .map(|r| r.status)
            .collect()
    });
    let calls = gh.with_world(|w| enqueues(w));
    println!("enqueue calls {calls:?}, GraphQL answers {answers:?}, new head {new_head}");
    assert!(
        calls.iter().all(|h| h == head.as_str()),
        "only the evaluated head was ever pinned: {calls:?}"
    );
    assert!(calls.len() <= 1);
    assert_eq!(gh.with_world(|w| merge_calls(w)), 0);
}

#[tokio::test]
async fn a_dequeue_for_a_failure_is_said_with_githubs_reason_and_not_retried_on_that_head() {
    let (gh, repo, head) = queued_repo().await;
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("labeled", 7), &app.webhook())
        .await;
    wait_summary(&gh, &head, "queued", "merge queue at position 1").await;
    repo.dequeue(7, "CI_FAILURE");
    let delivery = repo.pull_request_event("dequeued", 7);
    assert_eq!(delivery.body["reason"], "CI_FAILURE");
    gh.deliver(&delivery, &app.webhook()).await;
    wait_summary(
        &gh,
        &head,
        "the run to say it left the queue",
        "removed it from",
    )
    .await;
    gh.wait_idle().await;
    app.stop().await;
    let summary = gh.with_world(|w| summary_on(w, &head));
    assert!(
        summary.contains(
            "GitHub removed it from `main`'s merge queue: a required check failed on the merge \
             group (`CI_FAILURE`)"
        ),
        "{summary}"
    );
    assert_eq!(gh.with_world(|w| enqueues(w)).len(), 1, "not re-enqueued");
    assert!(repo.queued().is_empty());
}

#[tokio::test]
async fn the_fake_holds_graphql_documents_to_githubs_schema() {
    use support::routes::graphql::validate;
    assert_eq!(
        validate(seamguard::github::api::ENQUEUE_MUTATION),
        Vec::<String>::new()
    );
    assert_eq!(
        validate(seamguard::github::api::QUEUE_STATE_QUERY),
        Vec::<String>::new()
    );
    for bad in [
        "query { repository(owner: \"a\", name: \"b\") { nope } }",
        "query($n: String!) { repository(owner: \"a\", name: \"b\") { pullRequest(number: $n) { id } } }",
        "query { repository(owner: \"a\") { id } }",
        "mutation($id: ID!) { enqueuePullRequest(input: {pullRequestId: $id}) { mergeQueueEntry } }",
        "mutation($id: ID!, $x: Int) { enqueuePullRequest(input: {pullRequestId: $id}) { clientMutationId } }",
    ] {
        assert!(!validate(bad).is_empty(), "accepted: {bad}");
    }
    // The whole published schema, not a slice of what seamguard asks today.
    assert_eq!(
        validate(seamguard::github::api::BASE_HISTORY_QUERY),
        Vec::<String>::new()
    );
    assert_eq!(
        validate("query { viewer { login repositories(first: 1) { totalCount } } }"),
        Vec::<String>::new()
    );
    // Variables are coerced to their declared types before anything runs.
    use support::routes::graphql::validate_request;
    let query = "query($owner: String!, $name: String!, $number: Int!) { \
                 repository(owner: $owner, name: $name) { pullRequest(number: $number) { id } } }";
    let good = serde_json::json!({ "owner": "acme", "name": "app", "number": 7 });
    assert_eq!(validate_request(query, &good), Vec::<String>::new());
    for bad in [
        serde_json::json!({ "owner": "acme", "name": "app", "number": "seven" }),
        serde_json::json!({ "owner": "acme", "name": "app" }),
        serde_json::json!({ "owner": "acme", "name": null, "number": 7 }),
    ] {
        assert!(!validate_request(query, &bad).is_empty(), "accepted: {bad}");
    }
}

#[tokio::test]
async fn the_fake_refuses_a_stale_head_as_github_does() {
    use seamguard::github::api::Enqueued;
    use seamguard::ids::{CommitSha, InstallationId, PrNumber};
    let (gh, repo, head) = queued_repo().await;
    let client = gh
        .client()
        .installation(InstallationId(gh.installation_id()));
    let pr = client.pull(&repo.name(), PrNumber(7)).await.expect("pull");
    let node = pr.node_id.expect("node_id");
    let stale: CommitSha = repo.commit(&[&head], "x", &[]).parse().expect("sha");
    let refused = client.enqueue(&node, &stale).await.expect("an answer");
    assert!(
        matches!(&refused, Enqueued::Refused { kind: Some(k), .. } if k == "UNPROCESSABLE"),
        "{refused:?}"
    );
    assert!(repo.queued().is_empty());
    let pinned: CommitSha = head.parse().expect("sha");
    let queued = client.enqueue(&node, &pinned).await.expect("an answer");
    assert!(
        matches!(queued, Enqueued::Queued(ref e) if e.position == Some(1)),
        "{queued:?}"
    );
    assert_eq!(repo.queued(), vec![7]);
    let state = client
        .queue_state(&repo.name(), PrNumber(7))
        .await
        .expect("state");
    assert_eq!(state.head.as_deref(), Some(head.as_str()));
    assert!(state.entry.is_some() && state.last_removal.is_none());
    repo.dequeue(7, "MERGE_CONFLICT");
    let state = client
        .queue_state(&repo.name(), PrNumber(7))
        .await
        .expect("state");
    assert_eq!(state.entry, None);
    assert_eq!(
        state.last_removal.map(|r| r.reason).as_deref(),
        Some("MERGE_CONFLICT")
    );
}

#[tokio::test]
async fn the_fake_enqueues_through_merge_async_and_refuses_a_direct_merge_as_github_does() {
    use seamguard::github::api::{MergeAction, MergeAsync, MergeAsyncResult};
    use seamguard::ids::{CommitSha, InstallationId, PrNumber};
    let (gh, repo, head) = queued_repo().await;
    let client = gh
        .client()
        .installation(InstallationId(gh.installation_id()));
    let name = repo.name();
    let pinned: CommitSha = head.parse().expect("sha");
    let ask = |sha: CommitSha, action: MergeAction| {
        let (client, name) = (client.clone(), name.clone());
        async move {
            client
                .merge_async(&name, PrNumber(7), &sha, "squash", action)
                .await
                .expect("an answer")
        }
    };

    // A base that requires the queue refuses a merge that skips it.
    let direct = ask(pinned.clone(), MergeAction::DirectMerge).await;
    assert!(
        matches!(&direct, MergeAsync::Failed { message }
            if message.contains("Changes must be made through the merge queue")),
        "{direct:?}"
    );
    // A stale head is refused at once.
    let stale: CommitSha = repo.commit(&[&head], "x", &[]).parse().expect("sha");
    let refused = ask(stale, MergeAction::MergeQueue).await;
    assert!(
        matches!(&refused, MergeAsync::Failed { message } if message.contains("Head branch was modified")),
        "{refused:?}"
    );
    // Accepted (202), enqueued when it runs.
    let MergeAsync::Pending { uuid } = ask(pinned.clone(), MergeAction::MergeQueue).await else {
        panic!("a merge-queue request is accepted pending");
    };
    assert!(repo.queued().is_empty(), "not queued before it runs");
    let mut result = MergeAsyncResult::Expired;
    for _ in 0..3 {
        result = client
            .merge_async_result(&name, PrNumber(7), &uuid)
            .await
            .expect("a result");
        if !matches!(result, MergeAsyncResult::Pending(_)) {
            break;
        }
    }
    assert!(
        matches!(&result, MergeAsyncResult::Enqueued { .. }),
        "{result:?}"
    );
    assert_eq!(repo.queued(), vec![7]);
    // Asked again: already in the queue (200), nothing new.
    let again = ask(pinned.clone(), MergeAction::MergeQueue).await;
    assert!(
        matches!(&again, MergeAsync::Enqueued { message } if message.contains("already in the merge queue")),
        "{again:?}"
    );
    assert_eq!(repo.queued(), vec![7]);

    // A base without a queue refuses to enqueue.
    let plain = gh.repo("acme/plain");
    let plain_head: CommitSha = feature_pr(&plain, 3, "feature", &[]).parse().expect("sha");
    let no_queue = client
        .merge_async(
            &plain.name(),
            PrNumber(3),
            &plain_head,
            "squash",
            MergeAction::MergeQueue,
        )
        .await
        .expect("an answer");
    assert!(
        matches!(&no_queue, MergeAsync::Failed { message } if message.contains("Merge queue is not enabled")),
        "{no_queue:?}"
    );
}
