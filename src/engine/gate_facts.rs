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
}
