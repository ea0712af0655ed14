//! GitHub's answers in the gate's own terms: the only place the wire
//! models of protection, rulesets, check runs and statuses become the
//! types `gate::required_checks` reads.

use crate::gate::required_checks::{
    ClassicChecks, ProtectedCheck, RulesetRule, RunSeen, Source, StatusSeen,
};
use crate::github::models::{
    BranchRule, CheckRun, CommitStatus, ProtectionChecks, RequiredStatusChecksParams,
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

/// One ruleset rule, read as far as the gate needs it. Parameters that do
/// not parse make the rule one the gate does not read (as before: nothing
/// required from it).
pub fn ruleset_rule(rule: &BranchRule) -> RulesetRule {
    let ruleset = Source::Ruleset {
        id: rule.ruleset_id,
        source: rule.ruleset_source.clone(),
    };
    match rule.kind.as_str() {
        "required_status_checks" => {
            let params = rule
                .parameters
                .clone()
                .and_then(|p| serde_json::from_value::<RequiredStatusChecksParams>(p).ok());
            match params {
                Some(params) => RulesetRule::RequiredStatusChecks {
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
                None => RulesetRule::Other,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::required_checks::requirements;
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

    #[test]
    fn githubs_answers_read_as_the_gate_reads_them() {
        let protection = ProtectionChecks {
            strict: false,
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
        let rules: Vec<RulesetRule> = [
            rule(
                42,
                json!([{ "context": "test", "integration_id": 15368 }, { "context": "ci/travis" }]),
                true,
            ),
            BranchRule {
                kind: "commit_message_pattern".into(),
                ruleset_source_type: None,
                ruleset_source: None,
                ruleset_id: Some(7),
                parameters: Some(json!({ "pattern": "x" })),
            },
            BranchRule {
                kind: "merge_queue".into(),
                ruleset_source_type: Some("Repository".into()),
                ruleset_source: Some("acme/app".into()),
                ruleset_id: Some(9),
                parameters: Some(
                    json!({ "merge_method": "SQUASH", "grouping_strategy": "ALLGREEN" }),
                ),
            },
        ]
        .iter()
        .map(ruleset_rule)
        .collect();
        let req = requirements(Some(&classic_checks(&protection)), &rules, &[]);
        let got: Vec<(String, Option<u64>, Vec<String>)> = req
            .checks
            .iter()
            .map(|c| {
                (
                    c.context.clone(),
                    c.app_id,
                    c.sources.iter().map(|s| s.to_string()).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "build".into(),
                    Some(15368),
                    vec!["branch protection".into()]
                ),
                (
                    "ci/travis".into(),
                    None,
                    vec!["branch protection".into(), "ruleset 42 (acme/app)".into()]
                ),
                ("legacy".into(), None, vec!["branch protection".into()]),
                (
                    "test".into(),
                    Some(15368),
                    vec!["ruleset 42 (acme/app)".into()]
                ),
            ]
        );
        assert!(req.strict);
        let mq = req.merge_queue.expect("the merge queue rule");
        assert_eq!(mq.merge_method.as_deref(), Some("SQUASH"));
        assert_eq!(mq.ruleset.to_string(), "ruleset 9 (acme/app)");
    }

    #[test]
    fn parameters_that_do_not_parse_require_nothing() {
        let odd = BranchRule {
            parameters: Some(json!({ "required_status_checks": "not a list" })),
            ..rule(1, json!([]), false)
        };
        assert_eq!(ruleset_rule(&odd), RulesetRule::Other);
    }
}
