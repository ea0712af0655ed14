//! The whole gate as the fake GitHub answers it: the one GraphQL query
//! seamguard sends for a pull request's reviews, code owners, threads,
//! signatures, history and deployments is GitHub's own (validated against
//! the published schema), and the fake answers it from its state as GitHub
//! would.

mod support;

use seamguard::github::models::{GateCommit, GateDeployment, GateReview, GateThreads};
use seamguard::ids::{InstallationId, PrNumber};
use support::FakeGitHub;
use support::flows::feature_pr;

#[test]
fn the_whole_gate_query_is_githubs_own() {
    use support::routes::graphql::{validate, validate_request};
    let query = seamguard::github::api::PULL_GATE_QUERY;
    assert_eq!(validate(query), Vec::<String>::new());
    let vars = serde_json::json!({
        "owner": "acme", "name": "app", "number": 7,
        "environments": ["staging"], "withDeployments": true, "withAuthors": true,
    });
    assert_eq!(validate_request(query, &vars), Vec::<String>::new());
    // The deployments' and the authors' switches are required: GitHub
    // refuses the query without either.
    let no_authors = serde_json::json!({
        "owner": "acme", "name": "app", "number": 7,
        "environments": ["staging"], "withDeployments": true,
    });
    assert!(!validate_request(query, &no_authors).is_empty());
    let missing = serde_json::json!({ "owner": "acme", "name": "app", "number": 7 });
    assert!(!validate_request(query, &missing).is_empty());
}

#[tokio::test]
async fn the_fake_answers_reviews_threads_signatures_and_deployments_as_github_does() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    repo.require_approvals("main", 1)
        .request_code_owner(7, "carol")
        .review(7, "bob", "CHANGES_REQUESTED")
        .review(7, "bob", "COMMENTED")
        .unsigned_commit(&head)
        .deployment(&head, "staging", "failure")
        .deployment(&head, "staging", "success")
        .deployment(&head, "qa", "success");
    let solved = repo.thread(7);
    repo.thread(7);
    repo.resolve_thread(solved);

    let client = gh
        .client()
        .installation(InstallationId(gh.installation_id()));
    let envs = vec!["staging".to_owned()];
    let gate = client
        .pull_gate(&repo.name(), PrNumber(7), &envs, false)
        .await
        .expect("the whole gate");
    assert_eq!(gate.head.as_deref(), Some(head.as_str()));
    // Bob's comment does not replace his request for changes.
    assert_eq!(gate.review_decision.as_deref(), Some("CHANGES_REQUESTED"));
    assert_eq!(
        gate.reviews,
        Some(vec![GateReview {
            login: "bob".into(),
            state: "CHANGES_REQUESTED".into(),
            commit: Some(head.clone()),
        }])
    );
    assert_eq!(gate.code_owner_requests, Some(vec!["carol".to_owned()]));
    assert_eq!(
        gate.threads,
        Some(GateThreads {
            total: 2,
            unresolved: 1,
            read: 2,
        })
    );
    assert_eq!(
        gate.commits,
        Some(vec![GateCommit {
            oid: head.clone(),
            short: head[..7].to_owned(),
            parents: 1,
            signature_valid: None,
            author: None,
            committer: None,
            message: None,
        }])
    );
    assert_eq!(gate.commit_count, Some(1));
    // Only the environments asked for, oldest first.
    let deployment = |state: &str, status: &str| GateDeployment {
        environment: "staging".into(),
        state: state.into(),
        latest_status: Some(status.into()),
    };
    assert_eq!(
        gate.deployments,
        Some(vec![
            deployment("FAILURE", "FAILURE"),
            deployment("ACTIVE", "SUCCESS")
        ])
    );
    // Right after the push GitHub is still computing mergeability.
    assert_eq!(gate.mergeable.as_deref(), Some("UNKNOWN"));

    // Bob approves, the code owner approves: GitHub's verdict turns.
    repo.review(7, "bob", "APPROVED")
        .review(7, "carol", "APPROVED");
    let gate = client
        .pull_gate(&repo.name(), PrNumber(7), &[], false)
        .await
        .expect("the whole gate");
    assert_eq!(gate.review_decision.as_deref(), Some("APPROVED"));
    assert_eq!(gate.code_owner_requests, Some(vec![]));
    assert_eq!(gate.mergeable.as_deref(), Some("MERGEABLE"));
    assert_eq!(gate.deployments, None, "not asked for");
    assert_eq!(gh.take_violations(), Vec::<String>::new());
}

#[tokio::test]
async fn classic_protection_is_read_whole_in_one_request() {
    use support::world::Protection;
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    feature_pr(&repo, 7, "feature", &["automerge"]);
    let client = gh
        .client()
        .installation(InstallationId(gh.installation_id()));
    let name = repo.name();
    assert!(
        client
            .branch_protection(&name, "main")
            .await
            .expect("an answer")
            .is_none(),
        "not protected"
    );
    repo.require_approvals("main", 2).classic_gate("main", |g| {
        g.code_owner_reviews = true;
        g.signatures = true;
        g.conversation_resolution = true;
    });
    let p = client
        .branch_protection(&name, "main")
        .await
        .expect("an answer")
        .expect("protected");
    let reviews = p.required_pull_request_reviews.expect("reviews");
    assert_eq!(reviews.required_approving_review_count, 2);
    assert!(reviews.require_code_owner_reviews && !reviews.require_last_push_approval);
    assert!(p.required_signatures.is_some_and(|t| t.enabled));
    assert!(
        p.required_conversation_resolution
            .is_some_and(|t| t.enabled)
    );
    assert!(!p.required_linear_history.is_some_and(|t| t.enabled));
    assert!(p.required_status_checks.is_none());
    // The App may not read it: GitHub's 403 reaches the caller.
    repo.edit(|r| {
        r.protection.insert("main".into(), Protection::Forbidden);
    });
    let refused = client.branch_protection(&name, "main").await;
    assert_eq!(refused.expect_err("forbidden").status, Some(403));
    assert_eq!(gh.take_violations(), Vec::<String>::new());
}

/// A required approval that is missing holds the merge back with no merge
/// call, and the check run says what it waits for and where the rule comes
/// from; the review's own delivery then merges it, head pinned.
#[tokio::test]
async fn a_missing_approval_is_waited_for_then_the_review_merges_it() {
    use support::deliveries::Delivery;
    use support::flows::completed_run;
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    repo.require_approvals("main", 1);
    let app = support::Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    let run = completed_run(&gh, &head).await;
    gh.wait_idle().await;
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "{}",
        run.summary()
    );
    assert!(
        run.summary().contains("1 approving review"),
        "{}",
        run.summary()
    );
    assert_eq!(gh.count("PUT", "/repos/acme/app/pulls/7/merge"), 0);
    assert_eq!(gh.count("PUT", "/repos/acme/app/pulls/7/merge-async"), 0);

    repo.review(7, "octocat", "APPROVED");
    let mut review = repo.pull_request_event("submitted", 7);
    review.body["review"] = serde_json::json!({ "id": 1, "state": "approved", "user": { "login": "octocat", "id": 1, "type": "User" } });
    let review = Delivery::new("pull_request_review", review.body);
    assert_eq!(gh.deliver(&review, &app.webhook()).await, 202);
    gh.wait_for(
        "#7 merged",
        |w| w.repo("acme/app").pulls.get(&7).is_some_and(|p| p.merged),
        support::flows::WAIT,
    )
    .await;
    gh.wait_idle().await;
    app.stop().await;
    let merges: Vec<_> = gh
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with("/pulls/7/merge"))
        .collect();
    assert_eq!(merges.len(), 1);
    assert_eq!(
        merges[0].body.as_ref().unwrap()["sha"].as_str(),
        Some(head.as_str())
    );
}
