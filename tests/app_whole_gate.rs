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
    assert_eq!(support::ready::merge_requests(&gh, 7).len(), 0);
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
    support::ready::one_merge_pinned(&gh, 7, head.as_str());
}

// ---- every rule, waited for and cleared by its own event ----------------

use serde_json::json;
use support::deliveries::Delivery;
use support::flows::{WAIT, completed_run, merged};
use support::scenario::RepoHandle;
use support::world::CheckRun;
use support::{Seamguard, Sha};

/// The calls that act on a pull request: a merge (either endpoint), a
/// branch update, an enqueue.
fn acting_calls(gh: &FakeGitHub) -> Vec<String> {
    gh.requests()
        .into_iter()
        .filter(|r| {
            let put = r.method == "PUT"
                && (r.path.ends_with("/merge")
                    || r.path.ends_with("/merge-async")
                    || r.path.ends_with("/update-branch"));
            let enqueue = r.path.ends_with("/graphql")
                && r.body
                    .as_ref()
                    .and_then(|b| b["query"].as_str())
                    .is_some_and(|q| q.contains("enqueuePullRequest"));
            put || enqueue
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// The whole-gate queries seamguard sent.
fn gate_queries(gh: &FakeGitHub) -> usize {
    gh.requests()
        .iter()
        .filter(|r| {
            r.path.ends_with("/graphql")
                && r.body
                    .as_ref()
                    .and_then(|b| b["query"].as_str())
                    .is_some_and(|q| q.contains("query PullGate"))
        })
        .count()
}

/// Starts seamguard, delivers `opened` for #7 and waits until its run on
/// `head` is done and seamguard idle; asserts the run's summary holds
/// `row` and that nothing acted. Returns the app (still running) and run.
async fn waits_with(
    gh: &FakeGitHub,
    repo: &RepoHandle,
    head: &Sha,
    row: &str,
) -> (Seamguard, CheckRun) {
    let app = Seamguard::start(gh).await;
    assert_eq!(
        gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
            .await,
        202
    );
    completed_run(gh, head).await;
    gh.wait_idle().await;
    let run = completed_run(gh, head).await;
    assert!(
        run.summary().contains(row),
        "{row:?} in:\n{}",
        run.summary()
    );
    assert!(
        run.summary().contains("waiting for"),
        "the plan says what it waits for:\n{}",
        run.summary()
    );
    assert_eq!(acting_calls(gh), Vec::<String>::new(), "{}", run.summary());
    assert!(!merged(&gh.world(), "acme/app", 7));
    (app, run)
}

/// After `event`, #7 merges once, with `head` pinned (and `method`).
async fn merges_on(gh: &FakeGitHub, app: Seamguard, event: Delivery, head: &Sha, method: &str) {
    assert_eq!(gh.deliver(&event, &app.webhook()).await, 202);
    gh.wait_for("#7 merged", |w| merged(w, "acme/app", 7), WAIT)
        .await;
    gh.wait_idle().await;
    app.stop().await;
    let body = support::ready::one_merge_pinned(gh, 7, head.as_str());
    assert_eq!(body["merge_method"].as_str(), Some(method));
    assert_eq!(gh.take_violations(), Vec::<String>::new());
}

/// #7 re-pushed: `branch` moves to a new commit on `main`'s tip writing
/// the same file (what `feature_pr` made), from `parents`.
fn repush(repo: &RepoHandle, parents: &[&Sha], message: &str) -> Sha {
    let head = repo.commit(parents, message, &[("feature", Some("x\n"))]);
    repo.branch("feature", &head);
    head
}

#[tokio::test]
async fn a_code_owners_review_is_waited_for_then_their_approval_merges_it() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    repo.require_approvals("main", 1)
        .classic_gate("main", |g| g.code_owner_reviews = true)
        .request_code_owner(7, "carol")
        .review(7, "bob", "APPROVED");
    let (app, run) = waits_with(
        &gh,
        &repo,
        &head,
        "code owner review required by branch protection — @carol has not approved; @carol can approve",
    )
    .await;
    assert!(
        run.summary().contains("a code owner's approval"),
        "{}",
        run.summary()
    );

    repo.review(7, "carol", "APPROVED");
    let event = repo.review_event("submitted", 7, "carol");
    merges_on(&gh, app, event, &head, "squash").await;
}

#[tokio::test]
async fn an_unresolved_conversation_is_waited_for_then_resolving_it_merges_it() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    repo.classic_gate("main", |g| g.conversation_resolution = true);
    let thread = repo.thread(7);
    let (app, run) = waits_with(
        &gh,
        &repo,
        &head,
        "conversations resolved before merging, required by branch protection — 1 conversation unresolved",
    )
    .await;
    assert!(
        run.summary()
            .contains("waiting for 1 conversation to be resolved"),
        "{}",
        run.summary()
    );

    repo.resolve_thread(thread);
    let event = repo.thread_event("resolved", 7);
    merges_on(&gh, app, event, &head, "squash").await;
}

#[tokio::test]
async fn an_unsigned_commit_is_waited_for_then_a_signed_push_merges_it() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    repo.ruleset(3)
        .on("~DEFAULT_BRANCH")
        .rule("required_signatures", serde_json::Value::Null);
    repo.unsigned_commit(&head);
    // GitHub's description does not promise a rule's `ruleset_id`, and the
    // fake sends only what it promises: the source reads "ruleset".
    let (app, _) = waits_with(
        &gh,
        &repo,
        &head,
        &format!(
            "signed commits required by ruleset — commit {} is not signed",
            &head[..7]
        ),
    )
    .await;

    // The author signs the commit and force-pushes it.
    let main = repo.branch_tip("main");
    let signed = repush(&repo, &[&main], "feature (signed)");
    let event = repo.pull_request_event("synchronize", 7);
    merges_on(&gh, app, event, &signed, "squash").await;
}

#[tokio::test]
async fn a_required_deployment_is_waited_for_then_its_success_merges_it() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    repo.ruleset(4).on("~DEFAULT_BRANCH").rule(
        "required_deployments",
        json!({ "required_deployment_environments": ["staging"] }),
    );
    repo.deployment(&head, "staging", "in_progress");
    let (app, run) = waits_with(
        &gh,
        &repo,
        &head,
        "deployment to `staging` required by ruleset — deployment to `staging` has not succeeded yet (in progress)",
    )
    .await;
    assert!(
        run.summary()
            .contains("a successful deployment to `staging`"),
        "{}",
        run.summary()
    );

    repo.deployment(&head, "staging", "success");
    let event = repo.deployment_status_event(&head, "staging");
    merges_on(&gh, app, event, &head, "squash").await;
}

#[tokio::test]
async fn a_merge_commit_under_linear_history_is_waited_for_then_a_rebased_push_merges_it() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    repo.config_on("main", "merge:\n  method: rebase\n");
    let base = repo.branch_tip("main");
    let work = repo.commit(&[&base], "feature", &[("feature", Some("x\n"))]);
    let other = repo.push("main", "other", &[("other", Some("y\n"))]);
    let merge = repo.commit(
        &[&work, &other],
        "Merge branch 'main' into feature",
        &[("other", Some("y\n"))],
    );
    repo.branch("feature", &merge);
    repo.pr(7)
        .head("feature")
        .base("main")
        .label("automerge")
        .open();
    repo.ruleset(3)
        .on("~DEFAULT_BRANCH")
        .rule("required_linear_history", serde_json::Value::Null);
    let (app, _) = waits_with(
        &gh,
        &repo,
        &merge,
        &format!(
            "linear history required by ruleset — merge commit {} is in the branch; rebase the branch onto its base",
            &merge[..7]
        ),
    )
    .await;

    // Rebased onto the base: one commit, no merge.
    let rebased = repush(&repo, &[&other], "feature (rebased)");
    let event = repo.pull_request_event("synchronize", 7);
    merges_on(&gh, app, event, &rebased, "rebase").await;
}

#[tokio::test]
async fn a_locked_branch_is_waited_for_and_said_and_nothing_merges() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    repo.classic_gate("main", |g| g.lock_branch = true);
    let (app, run) = waits_with(
        &gh,
        &repo,
        &head,
        "branch locked by branch protection — nothing can merge into a locked branch; a repository admin can unlock it",
    )
    .await;
    assert!(
        run.summary()
            .contains("waiting for the branch to be unlocked"),
        "{}",
        run.summary()
    );
    // No event of the pull request's own clears it: another one still
    // finds it locked, and calls nothing.
    repo.review(7, "bob", "APPROVED");
    let event = repo.review_event("submitted", 7, "bob");
    assert_eq!(gh.deliver(&event, &app.webhook()).await, 202);
    gh.wait_for(
        "the review's evaluation",
        |w| w.count("POST", "/graphql") >= 2,
        WAIT,
    )
    .await;
    gh.wait_idle().await;
    app.stop().await;
    assert_eq!(acting_calls(&gh), Vec::<String>::new());
    assert!(!merged(&gh.world(), "acme/app", 7));
    let run = completed_run(&gh, &head).await;
    assert!(
        run.summary().contains("branch locked by branch protection"),
        "{}",
        run.summary()
    );
    assert_eq!(gh.take_violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_merge_method_a_ruleset_forbids_is_said_before_any_merge_call() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    repo.ruleset(5).on("~DEFAULT_BRANCH").rule(
        "pull_request",
        json!({
            "required_approving_review_count": 0,
            "dismiss_stale_reviews_on_push": false,
            "require_code_owner_review": false,
            "require_last_push_approval": false,
            "required_review_thread_resolution": false,
            "allowed_merge_methods": ["merge", "rebase"]
        }),
    );
    // seamguard squashes unless told otherwise.
    let (app, _) = waits_with(
        &gh,
        &repo,
        &head,
        "merge methods limited to `merge` and `rebase` by ruleset — seamguard is set to `squash`; set `merge.method` to `merge` or `rebase`",
    )
    .await;

    // Its config now names an allowed method: the base's push clears it.
    let before = repo.branch_tip("main");
    repo.config_on("main", "merge:\n  method: rebase\n");
    let event = repo.push_event("main", &before);
    merges_on(&gh, app, event, &head, "rebase").await;
}

// ---- mergeability, conflicts, and what cannot be read -------------------

/// #7 with one approval required and given: the whole gate is read and
/// every rule is met.
fn approved_pr(repo: &RepoHandle) -> Sha {
    let head = feature_pr(repo, 7, "feature", &["automerge"]);
    repo.require_approvals("main", 1)
        .review(7, "bob", "APPROVED");
    head
}

#[tokio::test]
async fn mergeability_still_computing_is_read_again_never_taken_as_clean() {
    let gh = FakeGitHub::start().await;
    // GitHub answers `mergeable: null` to the first three reads after the
    // push: the pull request's own, the gate's, one re-read.
    gh.set_unknown_reads_after_push(3);
    let repo = gh.repo("acme/app");
    let head = approved_pr(&repo);
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    gh.wait_for("#7 merged", |w| merged(w, "acme/app", 7), WAIT)
        .await;
    gh.wait_idle().await;
    app.stop().await;
    let requests = gh.requests();
    let merge_at = requests
        .iter()
        .position(|r| r.is_merge_request(7))
        .expect("a merge call");
    let gate_reads = requests[..merge_at]
        .iter()
        .filter(|r| {
            r.body
                .as_ref()
                .and_then(|b| b["query"].as_str())
                .is_some_and(|q| q.contains("query PullGate"))
        })
        .count();
    assert_eq!(
        gate_reads, 3,
        "read again until GitHub had computed it, and only then merged"
    );
    assert_eq!(gate_queries(&gh), 3);
    let body = requests[merge_at].body.as_ref().unwrap();
    assert_eq!(body["sha"].as_str(), Some(head.as_str()));
    assert_eq!(gh.take_violations(), Vec::<String>::new());
}

#[tokio::test]
async fn mergeability_that_stays_unknown_waits_and_is_read_again_without_an_event() {
    let gh = FakeGitHub::start().await;
    gh.set_unknown_reads_after_push(1_000);
    let repo = gh.repo("acme/app");
    let head = approved_pr(&repo);
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    let run = completed_run(&gh, &head).await;
    assert!(
        run.summary()
            .contains("GitHub is still computing whether the branch merges cleanly"),
        "{}",
        run.summary()
    );
    // The short re-reads are bounded: the first evaluation read the gate
    // at most four times and called nothing.
    assert!(gate_queries(&gh) <= 4, "{} gate reads", gate_queries(&gh));
    assert_eq!(acting_calls(&gh), Vec::<String>::new());

    // GitHub finishes computing; no webhook says so, and seamguard's own
    // recheck merges it.
    repo.settle_mergeability(7);
    gh.wait_for("#7 merged", |w| merged(w, "acme/app", 7), WAIT)
        .await;
    gh.wait_idle().await;
    app.stop().await;
    support::ready::one_merge_pinned(&gh, 7, head.as_str());
}

#[tokio::test]
async fn a_conflicting_branch_says_how_to_fix_it_and_is_not_merged() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let base = repo.branch_tip("main");
    let head = repo.commit(&[&base], "feature", &[("feature", Some("x\n"))]);
    repo.branch("feature", &head);
    repo.pr(7)
        .head("feature")
        .base("main")
        .label("automerge")
        .mergeable_state("dirty")
        .open();
    repo.require_approvals("main", 1)
        .review(7, "bob", "APPROVED");
    let app = Seamguard::start(&gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    let run = completed_run(&gh, &head).await;
    gh.wait_idle().await;
    app.stop().await;
    let summary = run.summary();
    assert!(
        summary.contains("the branch conflicts with its base"),
        "{summary}"
    );
    assert!(
        summary.contains(
            "merge the base into it (or rebase it onto the base), resolve the conflicts and push"
        ),
        "{summary}"
    );
    assert_eq!(acting_calls(&gh), Vec::<String>::new());
}

/// Evaluates #7 once and answers its run, asserting nothing acted.
async fn evaluated_without_acting(gh: &FakeGitHub, repo: &RepoHandle, head: &Sha) -> CheckRun {
    let app = Seamguard::start(gh).await;
    gh.deliver(&repo.pull_request_event("opened", 7), &app.webhook())
        .await;
    let run = completed_run(gh, head).await;
    gh.wait_idle().await;
    app.stop().await;
    assert_eq!(acting_calls(gh), Vec::<String>::new(), "{}", run.summary());
    run
}

#[tokio::test]
async fn unreadable_protection_or_rulesets_lead_to_no_acting_call_and_say_what_is_missing() {
    // Classic protection answers 403.
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = approved_pr(&repo);
    repo.edit(|r| {
        r.unreadable_protection.insert("main".to_owned());
    });
    let run = evaluated_without_acting(&gh, &repo, &head).await;
    let summary = run.summary();
    assert!(
        summary.contains("classic branch protection could not be read"),
        "{summary}"
    );
    assert!(summary.contains("`administration: read`"), "{summary}");

    // The rulesets answer 403.
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = approved_pr(&repo);
    gh.fail_next(
        "GET /repos/acme/app/rules/branches/main",
        403,
        r#"{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest"}"#,
    )
    .always();
    let run = evaluated_without_acting(&gh, &repo, &head).await;
    let summary = run.summary();
    assert!(
        summary.contains("repository rulesets could not be read"),
        "{summary}"
    );
    assert!(summary.contains("`administration: read`"), "{summary}");
}

#[tokio::test]
async fn a_gate_query_github_refuses_leads_to_no_acting_call_and_says_so() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = approved_pr(&repo);
    gh.fail_next(
        "POST /graphql",
        200,
        r#"{"data":{"repository":null},"errors":[{"type":"NOT_FOUND","path":["repository"],"message":"Could not resolve to a Repository with the name 'acme/app'."}]}"#,
    )
    .always();
    let run = evaluated_without_acting(&gh, &repo, &head).await;
    let summary = run.summary();
    assert!(
        summary.contains(
            "the pull request's reviews, conversations, signatures and mergeability could not be read"
        ),
        "{summary}"
    );
    assert!(
        summary.contains("Could not resolve to a Repository"),
        "{summary}"
    );
    assert!(summary.contains("`@seamguard recheck`"), "{summary}");
}

#[tokio::test]
async fn deployments_without_deployments_read_say_the_permission_is_missing() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    repo.ruleset(4).on("~DEFAULT_BRANCH").rule(
        "required_deployments",
        json!({ "required_deployment_environments": ["staging"] }),
    );
    repo.deployment(&head, "staging", "success");
    repo.edit(|r| r.whole_gate.deployments_forbidden = true);
    let run = evaluated_without_acting(&gh, &repo, &head).await;
    let summary = run.summary();
    assert!(
        summary.contains("deployments could not be read"),
        "{summary}"
    );
    assert!(
        summary.contains("Grant the App `deployments: read`"),
        "{summary}"
    );
    assert!(
        summary.contains(
            "deployment to `staging` required by ruleset — unknown: the deployments could not \
             be read: the installation has not granted `deployments: read`"
        ),
        "{summary}"
    );
    assert_eq!(gh.take_violations(), Vec::<String>::new());
}

/// The fake refuses a merge the base's other rules forbid, in GitHub's
/// words, and lets it through once each rule is met: an unmet rule that
/// seamguard missed would show as a refused merge, not a silent one.
#[tokio::test]
async fn the_fake_refuses_merges_the_rules_forbid_as_github_does() {
    let gh = FakeGitHub::start().await;
    let repo = gh.repo("acme/app");
    let head = feature_pr(&repo, 7, "feature", &["automerge"]);
    repo.require_approvals("main", 1)
        .classic_gate("main", |g| g.conversation_resolution = true);
    let thread = repo.thread(7);
    repo.ruleset(4).on("~DEFAULT_BRANCH").rule(
        "required_deployments",
        json!({ "required_deployment_environments": ["staging"] }),
    );
    let token = gh.with_world(|w| w.mint_token(gh.installation_id()).0);
    let http = reqwest::Client::new();
    let merge = |method: &str| {
        http.put(format!("{}/repos/acme/app/pulls/7/merge", gh.api_url()))
            .header("authorization", format!("Bearer {token}"))
            .header("user-agent", "selftest")
            .json(&json!({ "sha": head, "merge_method": method }))
            .send()
    };
    let refused = |answer: reqwest::Response| async move {
        assert_eq!(answer.status().as_u16(), 405);
        let body: serde_json::Value = answer.json().await.unwrap();
        body["message"].as_str().unwrap_or_default().to_owned()
    };
    assert_eq!(
        refused(merge("squash").await.unwrap()).await,
        "At least 1 approving review is required by reviewers with write access."
    );
    repo.review(7, "bob", "APPROVED");
    assert_eq!(
        refused(merge("squash").await.unwrap()).await,
        "All comments must be resolved."
    );
    repo.resolve_thread(thread);
    assert!(
        refused(merge("squash").await.unwrap())
            .await
            .contains("Changes must be deployed to staging before merging.")
    );
    repo.deployment(&head, "staging", "success");
    assert_eq!(merge("squash").await.unwrap().status().as_u16(), 200);
    assert!(merged(&gh.world(), "acme/app", 7));
}
