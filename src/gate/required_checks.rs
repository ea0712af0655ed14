//! The real gate: which checks are required, and where each one stands.
//!
//! Incident 3 merged a pull request because the list of required checks was
//! taken from the checks that happened to be visible when the pull request
//! opened; the `test` job registered three minutes later and failed. Here
//! the list comes from the branch's configuration — classic protection ∪
//! every ruleset rule that applies to the base ∪ the repository's `extra` —
//! read from GitHub before any evaluation acts on them (an evaluation that
//! only reports may use a read made minutes before, which a change GitHub
//! announces invalidates: `engine::requirements_cache`), and a required
//! check that has not registered yet is *waiting*, never "not required".
//!
//! Everything here is pure: the GitHub reads happen in the engine.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::github::models::{
    BranchRule, CheckRun, CommitStatus, ProtectionChecks, RequiredStatusChecksParams,
};

/// Where a requirement came from, for the summary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// Classic branch protection.
    Protection,
    /// A ruleset (repository or organization level).
    Ruleset {
        id: Option<u64>,
        source: Option<String>,
    },
    /// `required_checks.extra` in `.github/seamguard.yml`.
    Config,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Protection => f.write_str("branch protection"),
            Source::Ruleset { id, source } => {
                f.write_str("ruleset")?;
                if let Some(id) = id {
                    write!(f, " {id}")?;
                }
                if let Some(source) = source {
                    write!(f, " ({source})")?;
                }
                Ok(())
            }
            Source::Config => f.write_str("seamguard.yml"),
        }
    }
}

/// One required check: a context, optionally pinned to the App that must
/// provide it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredCheck {
    pub context: String,
    /// `None`: any App (or a commit status) may satisfy it.
    pub app_id: Option<u64>,
    pub sources: Vec<Source>,
}

/// A requirement source that could not be read (403 without
/// `administration: read`, for instance): it requires nothing, and the
/// summary says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub source: &'static str,
    pub reason: String,
}

/// The requirements read for one evaluation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    pub checks: Vec<RequiredCheck>,
    /// Classic protection or a ruleset wants the branch up to date.
    pub strict: bool,
    /// A ruleset's `merge_queue` rule applies: merges go through GitHub's
    /// merge queue, never `PUT …/merge`.
    pub merge_queue: Option<MergeQueueRule>,
    pub unreadable: Vec<Unreadable>,
}

/// A `merge_queue` rule that applies to the base branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeQueueRule {
    pub ruleset: Source,
    /// `MERGE`, `SQUASH` or `REBASE`, when the rule says.
    pub merge_method: Option<String>,
}

/// GitHub's `app_id` of -1 (or none) means "any App".
fn pinned_app(id: Option<i64>) -> Option<u64> {
    id.filter(|id| *id > 0).map(|id| id as u64)
}

/// The union of classic protection, ruleset rules and config extras. The
/// same context required twice (by protection and a ruleset) is one check
/// with both sources.
pub fn requirements(
    protection: Option<&ProtectionChecks>,
    rules: &[BranchRule],
    extra: &[String],
) -> Requirements {
    let mut by_key: BTreeMap<(String, Option<u64>), Vec<Source>> = BTreeMap::new();
    let mut add = |context: &str, app: Option<u64>, source: Source| {
        let sources = by_key.entry((context.to_owned(), app)).or_default();
        if !sources.contains(&source) {
            sources.push(source);
        }
    };
    let mut strict = false;
    if let Some(p) = protection {
        strict |= p.strict;
        for check in &p.checks {
            add(&check.context, pinned_app(check.app_id), Source::Protection);
        }
        // `contexts` mirrors `checks` without app ids; add only the ones
        // `checks` did not already name.
        for context in &p.contexts {
            if !p.checks.iter().any(|c| &c.context == context) {
                add(context, None, Source::Protection);
            }
        }
    }
    for rule in rules.iter().filter(|r| r.kind == "required_status_checks") {
        let params = rule
            .parameters
            .clone()
            .and_then(|p| serde_json::from_value::<RequiredStatusChecksParams>(p).ok());
        let Some(params) = params else { continue };
        strict |= params.strict_required_status_checks_policy;
        let source = Source::Ruleset {
            id: rule.ruleset_id,
            source: rule.ruleset_source.clone(),
        };
        for check in &params.required_status_checks {
            add(
                &check.context,
                pinned_app(check.integration_id),
                source.clone(),
            );
        }
    }
    let merge_queue = rules
        .iter()
        .find(|r| r.kind == "merge_queue")
        .map(|rule| MergeQueueRule {
            ruleset: Source::Ruleset {
                id: rule.ruleset_id,
                source: rule.ruleset_source.clone(),
            },
            merge_method: rule
                .parameters
                .as_ref()
                .and_then(|p| p.get("merge_method"))
                .and_then(|m| m.as_str())
                .map(str::to_owned),
        });
    for context in extra {
        add(context, None, Source::Config);
    }
    Requirements {
        checks: by_key
            .into_iter()
            .map(|((context, app_id), sources)| RequiredCheck {
                context,
                app_id,
                sources,
            })
            .collect(),
        strict,
        merge_queue,
        unreadable: Vec::new(),
    }
}

/// Where one required check stands on the head commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckState {
    Passed {
        conclusion: String,
    },
    Failed {
        conclusion: String,
    },
    /// Registered, not finished.
    Pending {
        status: String,
    },
    /// Not registered on the head commit (yet). `overdue` once the
    /// repository's `register_timeout` has passed since the head was first
    /// seen.
    Missing {
        overdue: bool,
    },
}

impl CheckState {
    pub fn is_passed(&self) -> bool {
        matches!(self, CheckState::Passed { .. })
    }

    pub fn is_failed(&self) -> bool {
        matches!(self, CheckState::Failed { .. })
    }
}

/// The verdict of a check-run conclusion or a commit-status state
/// (DESIGN.md, "Required checks and waiting").
fn verdict(value: &str) -> Option<bool> {
    match value {
        "success" | "neutral" | "skipped" => Some(true),
        "failure" | "cancelled" | "timed_out" | "action_required" | "stale" | "startup_failure"
        | "error" => Some(false),
        _ => None,
    }
}

fn run_state(run: &CheckRun) -> CheckState {
    if run.status != "completed" {
        return CheckState::Pending {
            status: run.status.clone(),
        };
    }
    let conclusion = run.conclusion.clone().unwrap_or_default();
    match verdict(&conclusion) {
        Some(true) => CheckState::Passed { conclusion },
        Some(false) => CheckState::Failed { conclusion },
        None => CheckState::Pending { status: conclusion },
    }
}

fn status_state(status: &CommitStatus) -> CheckState {
    match verdict(&status.state) {
        Some(true) => CheckState::Passed {
            conclusion: status.state.clone(),
        },
        Some(false) => CheckState::Failed {
            conclusion: status.state.clone(),
        },
        None => CheckState::Pending {
            status: status.state.clone(),
        },
    }
}

/// The latest check run of that name (from that App when pinned) or the
/// latest commit status of that context on the head commit; when both
/// exist, the more recent one speaks.
pub fn state_of(
    check: &RequiredCheck,
    runs: &[CheckRun],
    statuses: &[CommitStatus],
    overdue: bool,
) -> CheckState {
    let run = runs
        .iter()
        .filter(|r| r.name == check.context)
        .filter(|r| match check.app_id {
            Some(app) => r.app.as_ref().is_some_and(|a| a.id == app),
            None => true,
        })
        // Latest: by start time, then by id (ids grow over time).
        .max_by_key(|r| (r.started_at.or(r.completed_at), r.id));
    // A pinned App can only be satisfied by its check runs.
    let status = check
        .app_id
        .is_none()
        .then(|| {
            statuses
                .iter()
                .filter(|s| s.context == check.context)
                .max_by_key(|s| s.updated_at)
        })
        .flatten();
    match (run, status) {
        (None, None) => CheckState::Missing { overdue },
        (Some(run), None) => run_state(run),
        (None, Some(status)) => status_state(status),
        (Some(run), Some(status)) => {
            let run_time: Option<DateTime<Utc>> = run.completed_at.or(run.started_at);
            if status.updated_at > run_time {
                status_state(status)
            } else {
                run_state(run)
            }
        }
    }
}

/// One required check and its state, for the decision and the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateEntry {
    pub check: RequiredCheck,
    pub state: CheckState,
}

/// The merge gate of one head commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateReport {
    pub entries: Vec<GateEntry>,
    pub strict: bool,
    pub merge_queue: Option<MergeQueueRule>,
    pub unreadable: Vec<Unreadable>,
    /// What the base's recent history says about required checks missing
    /// on the head (filled by the engine when some are).
    pub evidence: Vec<crate::gate::never_comes::CheckEvidence>,
}

/// Overall: every required check passed, one failed, or some are waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateStatus {
    Open,
    Waiting,
    Failed,
}

impl GateReport {
    pub fn status(&self) -> GateStatus {
        if self.entries.iter().any(|e| e.state.is_failed()) {
            GateStatus::Failed
        } else if self.entries.iter().all(|e| e.state.is_passed()) {
            GateStatus::Open
        } else {
            GateStatus::Waiting
        }
    }

    /// Contexts not passed yet (waiting or failed), in order.
    pub fn blocking(&self) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| !e.state.is_passed())
            .map(|e| e.check.context.as_str())
            .collect()
    }

    /// Contexts that are required and have no run or status at all.
    pub fn missing(&self) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| matches!(e.state, CheckState::Missing { .. }))
            .map(|e| e.check.context.as_str())
            .collect()
    }
}

/// The gate: each requirement with its state. seamguard's own check run is
/// not judged here (it is being written by this very evaluation); the
/// caller drops it from `runs` when the guards decided it.
pub fn gate(
    req: &Requirements,
    runs: &[CheckRun],
    statuses: &[CommitStatus],
    overdue: bool,
) -> GateReport {
    GateReport {
        entries: req
            .checks
            .iter()
            .map(|check| GateEntry {
                check: check.clone(),
                state: state_of(check, runs, statuses, overdue),
            })
            .collect(),
        strict: req.strict,
        merge_queue: req.merge_queue.clone(),
        unreadable: req.unreadable.clone(),
        evidence: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::models::{AppRef, ProtectionCheck};
    use serde_json::json;

    fn run(name: &str, app: u64, status: &str, conclusion: Option<&str>, started: i64) -> CheckRun {
        CheckRun {
            id: started as u64,
            name: name.into(),
            head_sha: "a".repeat(40),
            status: status.into(),
            conclusion: conclusion.map(Into::into),
            external_id: None,
            started_at: DateTime::from_timestamp(started, 0),
            completed_at: None,
            app: Some(AppRef {
                id: app,
                slug: None,
            }),
            html_url: None,
            output: None,
        }
    }

    fn status(context: &str, state: &str, at: i64) -> CommitStatus {
        CommitStatus {
            context: context.into(),
            state: state.into(),
            updated_at: DateTime::from_timestamp(at, 0),
        }
    }

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
    fn union_of_protection_rulesets_and_extra() {
        let protection = ProtectionChecks {
            strict: false,
            contexts: vec!["ci/travis".into(), "build".into()],
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
        let rules = vec![
            rule(
                42,
                json!([{ "context": "test" }, { "context": "ci/travis" }]),
                true,
            ),
            BranchRule {
                kind: "commit_message_pattern".into(),
                ruleset_source_type: None,
                ruleset_source: None,
                ruleset_id: Some(7),
                parameters: Some(json!({ "pattern": "x" })),
            },
        ];
        let req = requirements(Some(&protection), &rules, &["lint".into()]);
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
                ("lint".into(), None, vec!["seamguard.yml".into()]),
                ("test".into(), None, vec!["ruleset 42 (acme/app)".into()]),
            ]
        );
        assert!(req.strict, "a ruleset's strict policy counts");
    }

    #[test]
    fn conclusions_and_states_follow_the_design_table() {
        let check = RequiredCheck {
            context: "test".into(),
            app_id: None,
            sources: vec![],
        };
        let cases = [
            ("completed", Some("success"), true, false),
            ("completed", Some("neutral"), true, false),
            ("completed", Some("skipped"), true, false),
            ("completed", Some("failure"), false, true),
            ("completed", Some("cancelled"), false, true),
            ("completed", Some("timed_out"), false, true),
            ("completed", Some("action_required"), false, true),
            ("completed", Some("stale"), false, true),
            ("completed", Some("startup_failure"), false, true),
            ("in_progress", None, false, false),
            ("queued", None, false, false),
            ("waiting", None, false, false),
        ];
        for (st, conclusion, passed, failed) in cases {
            let state = state_of(&check, &[run("test", 1, st, conclusion, 10)], &[], false);
            assert_eq!(
                (state.is_passed(), state.is_failed()),
                (passed, failed),
                "{st} {conclusion:?}"
            );
        }
        for (state, passed, failed) in [
            ("success", true, false),
            ("failure", false, true),
            ("error", false, true),
            ("pending", false, false),
        ] {
            let s = state_of(&check, &[], &[status("test", state, 10)], false);
            assert_eq!((s.is_passed(), s.is_failed()), (passed, failed), "{state}");
        }
        assert_eq!(
            state_of(&check, &[], &[], true),
            CheckState::Missing { overdue: true }
        );
    }

    #[test]
    fn latest_run_wins_and_pinned_apps_are_respected() {
        let check = RequiredCheck {
            context: "test".into(),
            app_id: None,
            sources: vec![],
        };
        let runs = [
            run("test", 1, "completed", Some("failure"), 10),
            run("test", 1, "completed", Some("success"), 20),
        ];
        assert!(state_of(&check, &runs, &[], false).is_passed());

        let pinned = RequiredCheck {
            context: "test".into(),
            app_id: Some(2),
            sources: vec![],
        };
        assert_eq!(
            state_of(&pinned, &runs, &[status("test", "success", 30)], false),
            CheckState::Missing { overdue: false }
        );
        let runs = [run("test", 2, "in_progress", None, 40)];
        assert!(matches!(
            state_of(&pinned, &runs, &[], false),
            CheckState::Pending { .. }
        ));

        // A newer failing status overrides an older passing run.
        let runs = [run("test", 1, "completed", Some("success"), 10)];
        assert!(state_of(&check, &runs, &[status("test", "failure", 50)], false).is_failed());
    }

    #[test]
    fn a_late_check_keeps_the_gate_waiting() {
        // Incident 3: `lint` passed, `test` has not registered yet.
        let req = requirements(
            None,
            &[rule(
                1,
                json!([{ "context": "lint" }, { "context": "test" }]),
                false,
            )],
            &[],
        );
        let runs = [run("lint", 1, "completed", Some("success"), 10)];
        let report = gate(&req, &runs, &[], false);
        assert_eq!(report.status(), GateStatus::Waiting);
        assert_eq!(report.missing(), vec!["test"]);
        let runs = [
            run("lint", 1, "completed", Some("success"), 10),
            run("test", 1, "completed", Some("failure"), 20),
        ];
        assert_eq!(gate(&req, &runs, &[], false).status(), GateStatus::Failed);
        let runs = [
            run("lint", 1, "completed", Some("success"), 10),
            run("test", 1, "completed", Some("success"), 20),
        ];
        assert_eq!(gate(&req, &runs, &[], false).status(), GateStatus::Open);
    }

    #[test]
    fn a_merge_queue_rule_is_read_from_the_rules() {
        let queue = BranchRule {
            kind: "merge_queue".into(),
            ruleset_source_type: Some("Repository".into()),
            ruleset_source: Some("acme/app".into()),
            ruleset_id: Some(9),
            parameters: Some(json!({ "merge_method": "SQUASH", "grouping_strategy": "ALLGREEN" })),
        };
        let req = requirements(
            None,
            &[rule(1, json!([{ "context": "test" }]), false), queue],
            &[],
        );
        let mq = req.merge_queue.expect("merge queue rule");
        assert_eq!(mq.merge_method.as_deref(), Some("SQUASH"));
        assert_eq!(mq.ruleset.to_string(), "ruleset 9 (acme/app)");
        assert!(
            requirements(None, &[rule(1, json!([]), true)], &[])
                .merge_queue
                .is_none()
        );
    }

    #[test]
    fn no_requirements_is_an_open_gate() {
        assert_eq!(
            gate(&Requirements::default(), &[], &[], false).status(),
            GateStatus::Open
        );
    }
}
