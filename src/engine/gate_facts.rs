//! GitHub's answers in the gate's own terms: the only place the wire
//! models of protection, rulesets, check runs and statuses become the
//! types `gate::required_checks` reads.

use crate::gate::independent_review::{Authorship, CommitSeen, GitPerson};
use crate::gate::required_checks::{
    ClassicChecks, ProtectedCheck, RulesetRule, RunSeen, Source, StatusSeen,
};
use crate::gate::whole_gate::{
    AskedRule, DeploymentState, Mergeable, PrGateState, ReviewDecision, ReviewSeen, Rule,
    WholeGateRules,
};
use crate::github::models::{
    BranchProtection, BranchRule, CheckRun, CommitStatus, GateActor, ProtectionChecks, PullGate,
    PullRequestRuleParams, RequiredDeploymentsParams, RequiredStatusChecksParams,
};

/// GitHub's `app_id` of -1 (or none) means "any App".
fn pinned_app(id: Option<i64>) -> Option<u64> {
    id.filter(|id| *id > 0).map(|id| id as u64)
}

/// Classic protection's required checks. `contexts` mirrors `checks`
/// without app ids: only the contexts `checks` does not already name add.
pub fn classic_checks(p: &ProtectionChecks) -> ClassicChecks {
    let mut checks: Vec<ProtectedCheck> = p
        .checks
        .iter()
        .map(|c| ProtectedCheck {
            context: c.context.clone(),
            app_id: pinned_app(c.app_id),
        })
        .collect();
    for context in &p.contexts {
        if !p.checks.iter().any(|c| &c.context == context) {
            checks.push(ProtectedCheck {
                context: context.clone(),
                app_id: None,
            });
        }
    }
    ClassicChecks {
        strict: p.strict,
        checks,
    }
}

/// One ruleset rule, read as far as the gate needs it. A rule the gate
/// reads whose parameters do not parse is [`RulesetRule::Unreadable`]:
/// what it requires is unknown, and the gate reports it.
pub fn ruleset_rule(rule: &BranchRule) -> RulesetRule {
    let ruleset = Source::Ruleset {
        id: rule.ruleset_id,
        source: rule.ruleset_source.clone(),
    };
    match rule.kind.as_str() {
        "required_status_checks" => {
            // GitHub's description makes `parameters` and every field in
            // it optional: a rule without them requires nothing.
            let params = serde_json::from_value::<RequiredStatusChecksParams>(
                rule.parameters
                    .clone()
                    .unwrap_or_else(|| serde_json::json!({})),
            );
            match params {
                Ok(params) => RulesetRule::RequiredStatusChecks {
                    ruleset,
                    strict: params.strict_required_status_checks_policy,
                    checks: params
                        .required_status_checks
                        .iter()
                        .map(|c| ProtectedCheck {
                            context: c.context.clone(),
                            app_id: pinned_app(c.integration_id),
                        })
                        .collect(),
                },
                Err(error) => RulesetRule::Unreadable {
                    ruleset,
                    kind: rule.kind.clone(),
                    error: error.to_string(),
                },
            }
        }
        "merge_queue" => RulesetRule::MergeQueue {
            ruleset,
            merge_method: rule
                .parameters
                .as_ref()
                .and_then(|p| p.get("merge_method"))
                .and_then(|m| m.as_str())
                .map(str::to_owned),
        },
        _ => RulesetRule::Other,
    }
}

pub fn run_seen(run: &CheckRun) -> RunSeen {
    RunSeen {
        id: run.id,
        name: run.name.clone(),
        app_id: run.app.as_ref().map(|a| a.id),
        status: run.status.clone(),
        conclusion: run.conclusion.clone(),
        started_at: run.started_at,
        completed_at: run.completed_at,
    }
}

pub fn status_seen(status: &CommitStatus) -> StatusSeen {
    StatusSeen {
        context: status.context.clone(),
        state: status.state.clone(),
        updated_at: status.updated_at,
    }
}

/// Everything the base asks besides its required checks: classic
/// protection's settings first, then each ruleset rule in GitHub's order.
/// Rules that cannot block merging a pull request (`creation`, `deletion`,
/// `non_fast_forward`) and the ones `required_checks` reads
/// (`required_status_checks`, `merge_queue`) are left out; every other rule
/// seamguard does not model is kept as [`Rule::NotModelled`].
// Read by the gather step of the evaluation, which wires it in.
pub fn whole_gate_rules(
    protection: Option<&BranchProtection>,
    rules: &[BranchRule],
) -> WholeGateRules {
    let mut out = Vec::new();
    let mut push = |rule: Rule, source: &Source| {
        out.push(AskedRule {
            rule,
            source: source.clone(),
        })
    };
    if let Some(p) = protection {
        let src = Source::Protection;
        if let Some(r) = &p.required_pull_request_reviews {
            if r.required_approving_review_count > 0 {
                push(
                    Rule::ApprovingReviews {
                        count: r.required_approving_review_count,
                    },
                    &src,
                );
            }
            if r.require_code_owner_reviews {
                push(Rule::CodeOwnerReview, &src);
            }
            if r.require_last_push_approval {
                push(Rule::LastPushApproval, &src);
            }
            if r.dismiss_stale_reviews {
                push(Rule::DismissStaleReviews, &src);
            }
        }
        let on = |t: &Option<crate::github::models::ProtectionToggle>| t.is_some_and(|t| t.enabled);
        if on(&p.required_conversation_resolution) {
            push(Rule::ConversationResolution, &src);
        }
        if on(&p.required_signatures) {
            push(Rule::SignedCommits, &src);
        }
        if on(&p.required_linear_history) {
            push(Rule::LinearHistory, &src);
        }
        if on(&p.lock_branch) {
            push(Rule::LockBranch, &src);
        }
        if p.restrictions.as_ref().is_some_and(|r| !r.is_null()) {
            push(
                Rule::NotModelled {
                    name: "push restrictions".to_owned(),
                },
                &src,
            );
        }
    }
    for rule in rules {
        let src = Source::Ruleset {
            id: rule.ruleset_id,
            source: rule.ruleset_source.clone(),
        };
        let params = |r: &BranchRule| r.parameters.clone().unwrap_or(serde_json::Value::Null);
        match rule.kind.as_str() {
            "required_status_checks"
            | "merge_queue"
            | "creation"
            | "deletion"
            | "non_fast_forward" => {}
            "pull_request" => {
                let Ok(p) = serde_json::from_value::<PullRequestRuleParams>(params(rule)) else {
                    push(
                        Rule::NotModelled {
                            name: "pull_request".to_owned(),
                        },
                        &src,
                    );
                    continue;
                };
                if p.required_approving_review_count > 0 {
                    push(
                        Rule::ApprovingReviews {
                            count: p.required_approving_review_count,
                        },
                        &src,
                    );
                }
                if p.require_code_owner_review {
                    push(Rule::CodeOwnerReview, &src);
                }
                if p.require_last_push_approval {
                    push(Rule::LastPushApproval, &src);
                }
                if p.dismiss_stale_reviews_on_push {
                    push(Rule::DismissStaleReviews, &src);
                }
                if p.required_review_thread_resolution {
                    push(Rule::ConversationResolution, &src);
                }
                if let Some(allowed) = p.allowed_merge_methods {
                    let allowed: Vec<String> =
                        allowed.iter().map(|m| m.to_ascii_lowercase()).collect();
                    if ["merge", "squash", "rebase"]
                        .iter()
                        .any(|m| !allowed.iter().any(|a| a == m))
                    {
                        push(Rule::MergeMethods { allowed }, &src);
                    }
                }
                let reviewers = rule
                    .parameters
                    .as_ref()
                    .and_then(|p| p.get("required_reviewers"))
                    .and_then(|r| r.as_array())
                    .is_some_and(|r| !r.is_empty());
                if reviewers {
                    push(
                        Rule::NotModelled {
                            name: "pull_request.required_reviewers".to_owned(),
                        },
                        &src,
                    );
                }
            }
            "required_signatures" => push(Rule::SignedCommits, &src),
            "required_linear_history" => push(Rule::LinearHistory, &src),
            "required_deployments" => {
                match serde_json::from_value::<RequiredDeploymentsParams>(params(rule)) {
                    Ok(p) => {
                        for environment in p.required_deployment_environments {
                            push(Rule::Deployment { environment }, &src);
                        }
                    }
                    Err(_) => push(
                        Rule::NotModelled {
                            name: "required_deployments".to_owned(),
                        },
                        &src,
                    ),
                }
            }
            other => push(
                Rule::NotModelled {
                    name: other.to_owned(),
                },
                &src,
            ),
        }
    }
    WholeGateRules { rules: out }
}

/// GitHub's answer about the pull request in the whole gate's terms. A
/// part read only in part (more than 100 threads or commits) counts as
/// unknown unless what was read already blocks.
// Read by the gather step of the evaluation, which wires it in.
pub fn pr_gate_state(gate: &PullGate) -> PrGateState {
    let review_decision = match gate.review_decision.as_deref() {
        Some("APPROVED") => Some(ReviewDecision::Approved),
        Some("CHANGES_REQUESTED") => Some(ReviewDecision::ChangesRequested),
        Some("REVIEW_REQUIRED") => Some(ReviewDecision::ReviewRequired),
        _ => None,
    };
    let reviews = gate
        .reviews
        .iter()
        .flatten()
        .filter(|r| matches!(r.state.as_str(), "APPROVED" | "CHANGES_REQUESTED"))
        .map(|r| ReviewSeen {
            login: r.login.clone(),
            approved: r.state == "APPROVED",
            commit: r.commit.clone(),
        })
        .collect();
    let unresolved_threads = gate
        .threads
        .and_then(|t| (t.unresolved > 0 || t.read >= t.total).then_some(t.unresolved));
    let complete = gate
        .commits
        .as_ref()
        .is_some_and(|c| gate.commit_count.is_none_or(|n| c.len() as u32 >= n));
    let some_unless_partial = |found: Vec<String>| (complete || !found.is_empty()).then_some(found);
    let unsigned_commits = gate.commits.as_ref().and_then(|c| {
        some_unless_partial(
            c.iter()
                .filter(|c| c.signature_valid != Some(true))
                .map(|c| c.short.clone())
                .collect(),
        )
    });
    let merge_commits = gate.commits.as_ref().and_then(|c| {
        some_unless_partial(
            c.iter()
                .filter(|c| c.parents > 1)
                .map(|c| c.short.clone())
                .collect(),
        )
    });
    let deployments = gate.deployments.as_ref().map(|ds| {
        let mut latest: Vec<(String, DeploymentState)> = Vec::new();
        for d in ds {
            let state = match (d.latest_status.as_deref(), d.state.as_str()) {
                (Some("SUCCESS"), _) | (_, "ACTIVE") => DeploymentState::Succeeded,
                // GitHub makes a successful deployment inactive when a
                // newer one to the same environment succeeds.
                (Some("INACTIVE"), _) | (_, "INACTIVE") => DeploymentState::Succeeded,
                (Some("FAILURE" | "ERROR"), _) | (_, "FAILURE" | "ERROR") => {
                    DeploymentState::Failed
                }
                (_, "ABANDONED" | "DESTROYED") => DeploymentState::None,
                _ => DeploymentState::InProgress,
            };
            // Oldest first: the last one per environment wins.
            latest.retain(|(env, _)| env != &d.environment);
            latest.push((d.environment.clone(), state));
        }
        latest
    });
    PrGateState {
        head: gate.head.clone(),
        review_decision,
        reviews,
        code_owners_pending: gate.code_owner_requests.clone(),
        unresolved_threads,
        unsigned_commits,
        merge_commits,
        deployments,
        mergeable: match gate.mergeable.as_deref() {
            Some("MERGEABLE") => Mergeable::Mergeable,
            Some("CONFLICTING") => Mergeable::Conflicting,
            _ => Mergeable::Unknown,
        },
        merge_state: gate.merge_state_status.clone(),
        merge_method: None,
        missing_permissions: gate
            .forbidden
            .iter()
            .filter_map(|part| match part.as_str() {
                "deployments" => Some("deployments: read".to_owned()),
                _ => None,
            })
            .collect(),
    }
}

fn git_person(actor: &GateActor) -> GitPerson {
    GitPerson {
        name: actor.name.clone(),
        email: actor.email.clone(),
        login: actor.login.clone(),
    }
}

/// Who wrote the pull request and who asked for it, from the same answer
/// (asked with `withAuthors`). Commits GitHub did not answer, or more than
/// it answers at once, make the authorship incomplete, never "nobody".
pub fn authorship(gate: &PullGate) -> Authorship {
    let commits: Vec<CommitSeen> = gate
        .commits
        .iter()
        .flatten()
        .map(|c| CommitSeen {
            short: c.short.clone(),
            author: c.author.as_ref().map(git_person),
            committer: c.committer.as_ref().map(git_person),
            message: c.message.clone().unwrap_or_default(),
        })
        .collect();
    let complete =
        gate.commits.is_some() && gate.commit_count.is_none_or(|n| commits.len() as u32 >= n);
    Authorship {
        author: gate.author.clone(),
        assignees: gate.assignees.clone().unwrap_or_default(),
        commits,
        complete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::models::ProtectionCheck;
    use serde_json::json;

    fn rule(id: u64, checks: serde_json::Value, strict: bool) -> BranchRule {
        BranchRule {
            kind: "required_status_checks".into(),
            ruleset_source_type: Some("Repository".into()),
            ruleset_source: Some("acme/app".into()),
            ruleset_id: Some(id),
            parameters: Some(json!({
                "required_status_checks": checks,
                "strict_required_status_checks_policy": strict
            })),
        }
    }

    fn check(context: &str, app_id: Option<u64>) -> ProtectedCheck {
        ProtectedCheck {
            context: context.into(),
            app_id,
        }
    }

    #[test]
    fn classic_protection_reads_app_ids_and_contexts_once() {
        let protection = ProtectionChecks {
            strict: true,
            contexts: vec!["ci/travis".into(), "build".into(), "legacy".into()],
            checks: vec![
                ProtectionCheck {
                    context: "build".into(),
                    app_id: Some(15368),
                },
                ProtectionCheck {
                    context: "ci/travis".into(),
                    app_id: Some(-1),
                },
            ],
        };
        // -1 is any App; `contexts` adds only what `checks` did not name.
        assert_eq!(
            classic_checks(&protection),
            ClassicChecks {
                strict: true,
                checks: vec![
                    check("build", Some(15368)),
                    check("ci/travis", None),
                    check("legacy", None),
                ],
            }
        );
    }

    #[test]
    fn ruleset_rules_read_as_the_gate_reads_them() {
        let ruleset = |id| Source::Ruleset {
            id: Some(id),
            source: Some("acme/app".into()),
        };
        assert_eq!(
            ruleset_rule(&rule(
                42,
                json!([{ "context": "test", "integration_id": 15368 }, { "context": "lint" }]),
                true,
            )),
            RulesetRule::RequiredStatusChecks {
                ruleset: ruleset(42),
                strict: true,
                checks: vec![check("test", Some(15368)), check("lint", None)],
            }
        );
        let queue = BranchRule {
            kind: "merge_queue".into(),
            ruleset_id: Some(9),
            parameters: Some(json!({ "merge_method": "SQUASH", "grouping_strategy": "ALLGREEN" })),
            ..rule(9, json!([]), false)
        };
        assert_eq!(
            ruleset_rule(&queue),
            RulesetRule::MergeQueue {
                ruleset: ruleset(9),
                merge_method: Some("SQUASH".into()),
            }
        );
        let pattern = BranchRule {
            kind: "commit_message_pattern".into(),
            parameters: Some(json!({ "pattern": "x" })),
            ..rule(7, json!([]), false)
        };
        assert_eq!(ruleset_rule(&pattern), RulesetRule::Other);
    }

    #[test]
    fn parameters_that_do_not_parse_are_unreadable_not_nothing() {
        let odd = BranchRule {
            parameters: Some(json!({ "required_status_checks": "not a list" })),
            ..rule(1, json!([]), false)
        };
        match ruleset_rule(&odd) {
            RulesetRule::Unreadable {
                ruleset,
                kind,
                error,
            } => {
                assert_eq!(ruleset.to_string(), "ruleset 1 (acme/app)");
                assert_eq!(kind, "required_status_checks");
                assert!(error.contains("invalid type"), "{error}");
            }
            other => panic!("{other:?}"),
        }
        // Without parameters (GitHub's description allows it) the rule
        // requires nothing, and says so.
        let bare = BranchRule {
            parameters: None,
            ..rule(2, json!([]), false)
        };
        assert!(matches!(
            ruleset_rule(&bare),
            RulesetRule::RequiredStatusChecks { checks, strict: false, .. } if checks.is_empty()
        ));
    }

    #[test]
    fn classic_protection_and_ruleset_rules_become_the_whole_gate() {
        use crate::gate::whole_gate::{AskedRule, Rule};
        let protection: BranchProtection = serde_json::from_value(json!({
            "url": "https://api.github.com/repos/acme/app/branches/main/protection",
            "required_status_checks": { "strict": true, "contexts": [], "checks": [] },
            "required_pull_request_reviews": {
                "required_approving_review_count": 2,
                "require_code_owner_reviews": true,
                "require_last_push_approval": false,
                "dismiss_stale_reviews": true
            },
            "required_signatures": { "url": "x", "enabled": true },
            "required_linear_history": { "enabled": false },
            "required_conversation_resolution": { "enabled": true },
            "lock_branch": { "enabled": false },
            "enforce_admins": { "url": "x", "enabled": false }
        }))
        .unwrap();
        let ruleset = |kind: &str, id: u64, params: serde_json::Value| BranchRule {
            kind: kind.into(),
            ruleset_source_type: Some("Repository".into()),
            ruleset_source: Some("acme/app".into()),
            ruleset_id: Some(id),
            parameters: Some(params),
        };
        let rules = vec![
            ruleset("deletion", 7, json!(null)),
            ruleset(
                "pull_request",
                7,
                json!({
                    "required_approving_review_count": 1,
                    "require_code_owner_review": false,
                    "require_last_push_approval": true,
                    "required_review_thread_resolution": true,
                    "dismiss_stale_reviews_on_push": false,
                    "allowed_merge_methods": ["squash", "rebase"]
                }),
            ),
            ruleset(
                "required_status_checks",
                7,
                json!({ "required_status_checks": [] }),
            ),
            ruleset(
                "required_deployments",
                8,
                json!({ "required_deployment_environments": ["staging", "qa"] }),
            ),
            ruleset("required_linear_history", 8, json!(null)),
            ruleset("max_file_size", 12, json!({ "max_file_size": 10 })),
        ];
        let r7 = Source::Ruleset {
            id: Some(7),
            source: Some("acme/app".into()),
        };
        let r8 = Source::Ruleset {
            id: Some(8),
            source: Some("acme/app".into()),
        };
        let r12 = Source::Ruleset {
            id: Some(12),
            source: Some("acme/app".into()),
        };
        let asked = |rule, source: &Source| AskedRule {
            rule,
            source: source.clone(),
        };
        let p = Source::Protection;
        assert_eq!(
            whole_gate_rules(Some(&protection), &rules).rules,
            vec![
                asked(Rule::ApprovingReviews { count: 2 }, &p),
                asked(Rule::CodeOwnerReview, &p),
                asked(Rule::DismissStaleReviews, &p),
                asked(Rule::ConversationResolution, &p),
                asked(Rule::SignedCommits, &p),
                asked(Rule::ApprovingReviews { count: 1 }, &r7),
                asked(Rule::LastPushApproval, &r7),
                asked(Rule::ConversationResolution, &r7),
                asked(
                    Rule::MergeMethods {
                        allowed: vec!["squash".into(), "rebase".into()]
                    },
                    &r7
                ),
                asked(
                    Rule::Deployment {
                        environment: "staging".into()
                    },
                    &r8
                ),
                asked(
                    Rule::Deployment {
                        environment: "qa".into()
                    },
                    &r8
                ),
                asked(Rule::LinearHistory, &r8),
                asked(
                    Rule::NotModelled {
                        name: "max_file_size".into()
                    },
                    &r12
                ),
            ]
        );
        // No protection, no rulesets: nothing asked.
        assert!(whole_gate_rules(None, &[]).rules.is_empty());
    }

    #[test]
    fn the_pull_requests_answer_becomes_its_gate_state() {
        use crate::gate::whole_gate::{DeploymentState, Mergeable, ReviewDecision, ReviewSeen};
        use crate::github::models::{GateCommit, GateDeployment, GateReview, GateThreads};
        let commit = |oid: &str, parents: u32, signed: Option<bool>| GateCommit {
            oid: format!("{oid}0000"),
            short: oid.into(),
            parents,
            signature_valid: signed,
            author: None,
            committer: None,
            message: None,
        };
        let deployment = |env: &str, state: &str, status: Option<&str>| GateDeployment {
            environment: env.into(),
            state: state.into(),
            latest_status: status.map(str::to_owned),
        };
        let gate = PullGate {
            head: Some("c0000".into()),
            review_decision: Some("REVIEW_REQUIRED".into()),
            mergeable: Some("MERGEABLE".into()),
            merge_state_status: Some("BLOCKED".into()),
            reviews: Some(vec![
                GateReview {
                    login: "alice".into(),
                    state: "APPROVED".into(),
                    commit: Some("a0000".into()),
                },
                GateReview {
                    login: "bob".into(),
                    state: "DISMISSED".into(),
                    commit: None,
                },
            ]),
            code_owner_requests: Some(vec!["acme/db".into()]),
            threads: Some(GateThreads {
                total: 3,
                unresolved: 2,
                read: 3,
            }),
            commits: Some(vec![
                commit("a", 1, Some(true)),
                commit("b", 2, None),
                commit("c", 1, Some(false)),
            ]),
            commit_count: Some(3),
            deployments: Some(vec![
                deployment("staging", "FAILURE", Some("FAILURE")),
                deployment("staging", "ACTIVE", Some("SUCCESS")),
                deployment("qa", "IN_PROGRESS", Some("IN_PROGRESS")),
            ]),
            forbidden: vec![],
            author: None,
            assignees: None,
        };
        let state = pr_gate_state(&gate);
        assert_eq!(state.review_decision, Some(ReviewDecision::ReviewRequired));
        assert_eq!(
            state.reviews,
            vec![ReviewSeen {
                login: "alice".into(),
                approved: true,
                commit: Some("a0000".into()),
            }],
            "a dismissed review does not count"
        );
        assert_eq!(state.code_owners_pending, Some(vec!["acme/db".to_owned()]));
        assert_eq!(state.unresolved_threads, Some(2));
        assert_eq!(state.unsigned_commits, Some(vec!["b".into(), "c".into()]));
        assert_eq!(state.merge_commits, Some(vec!["b".into()]));
        assert_eq!(
            state.deployments,
            Some(vec![
                ("staging".into(), DeploymentState::Succeeded),
                ("qa".into(), DeploymentState::InProgress),
            ])
        );
        assert_eq!(state.mergeable, Mergeable::Mergeable);

        // Read in part (more than 100 commits or threads) and nothing
        // found: unknown, not clean. Still computing: unknown mergeability.
        let partial = PullGate {
            threads: Some(GateThreads {
                total: 150,
                unresolved: 0,
                read: 100,
            }),
            commits: Some(vec![commit("a", 1, Some(true))]),
            commit_count: Some(250),
            mergeable: Some("UNKNOWN".into()),
            ..gate
        };
        let state = pr_gate_state(&partial);
        assert_eq!(state.unresolved_threads, None);
        assert_eq!(state.unsigned_commits, None);
        assert_eq!(state.merge_commits, None);
        assert_eq!(state.mergeable, Mergeable::Unknown);
    }

    #[test]
    fn the_answer_with_authors_becomes_the_authorship() {
        use crate::github::models::{GateActor, GateCommit};
        let bot = GateActor {
            name: Some("claude[bot]".into()),
            email: Some("209825114+claude[bot]@users.noreply.github.com".into()),
            login: None,
        };
        let commit = GateCommit {
            oid: "c0ffee0000".into(),
            short: "c0ffee0".into(),
            parents: 1,
            signature_valid: Some(true),
            author: Some(bot.clone()),
            committer: Some(bot),
            message: Some("Fix\n\nCo-authored-by: Alice <1+alice@users.noreply.github.com>".into()),
        };
        let gate = PullGate {
            author: Some("claude[bot]".into()),
            assignees: Some(vec!["alice".into()]),
            commits: Some(vec![commit]),
            commit_count: Some(1),
            ..PullGate::default()
        };
        let a = authorship(&gate);
        assert_eq!(a.author.as_deref(), Some("claude[bot]"));
        assert_eq!(a.assignees, vec!["alice".to_owned()]);
        assert!(a.complete);
        assert_eq!(a.commits[0].short, "c0ffee0");
        assert_eq!(
            a.commits[0]
                .author
                .as_ref()
                .and_then(|p| p.email.as_deref()),
            Some("209825114+claude[bot]@users.noreply.github.com")
        );
        assert!(a.commits[0].message.contains("Co-authored-by: Alice"));
        // More commits than read, or none answered: incomplete.
        let more = PullGate {
            commit_count: Some(250),
            ..gate.clone()
        };
        assert!(!authorship(&more).complete);
        let none = PullGate {
            commits: None,
            ..gate
        };
        assert!(!authorship(&none).complete);
    }
}
