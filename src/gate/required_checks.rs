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

/// A check run on the head, as the rules read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSeen {
    /// GitHub's id: among runs started at the same moment, the later id is
    /// the later run.
    pub id: u64,
    pub name: String,
    /// The App that made it, when GitHub said.
    pub app_id: Option<u64>,
    /// `queued`, `in_progress`, `completed`, ...
    pub status: String,
    pub conclusion: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// A commit status on the head, as the rules read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSeen {
    pub context: String,
    /// `success`, `failure`, `error`, `pending`.
    pub state: String,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A check a source requires: a context, and the App that must provide it
/// (`None`: any App, or a commit status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedCheck {
    pub context: String,
    pub app_id: Option<u64>,
}

/// Classic branch protection's required status checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassicChecks {
    /// The branch must be up to date before merging.
    pub strict: bool,
    pub checks: Vec<ProtectedCheck>,
}

/// One rule of the rulesets that apply to the base, as far as the gate
/// reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesetRule {
    RequiredStatusChecks {
        ruleset: Source,
        /// `strict_required_status_checks_policy`.
        strict: bool,
        checks: Vec<ProtectedCheck>,
    },
    MergeQueue {
        ruleset: Source,
        /// `MERGE`, `SQUASH` or `REBASE`, when the rule says.
        merge_method: Option<String>,
    },
    /// A rule the gate reads whose parameters do not parse: what it
    /// requires is unknown, not nothing, so it is reported as unreadable.
    Unreadable {
        ruleset: Source,
        /// The rule's `type`, e.g. `required_status_checks`.
        kind: String,
        error: String,
    },
    /// A rule the gate does not read (file paths, commit messages, ...).
    Other,
}

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
    /// Sources the engine could not read at all (rulesets or protection
    /// answered 403); it fills this in after [`requirements`].
    pub unreadable: Vec<Unreadable>,
    /// Ruleset rules that were read but could not be understood. Kept
    /// apart from `unreadable` because the engine sets that field from its
    /// own reads; [`gate`] reports both.
    pub unreadable_rules: Vec<Unreadable>,
}

/// A `merge_queue` rule that applies to the base branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeQueueRule {
    pub ruleset: Source,
    /// `MERGE`, `SQUASH` or `REBASE`, when the rule says.
    pub merge_method: Option<String>,
}

/// The union of classic protection, ruleset rules and config extras. The
/// same context required twice (by protection and a ruleset) is one check
/// with both sources.
pub fn requirements(
    protection: Option<&ClassicChecks>,
    rules: &[RulesetRule],
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
            add(&check.context, check.app_id, Source::Protection);
        }
    }
    let mut merge_queue = None;
    let mut unreadable_rules = Vec::new();
    for rule in rules {
        match rule {
            RulesetRule::RequiredStatusChecks {
                ruleset,
                strict: s,
                checks,
            } => {
                strict |= *s;
                for check in checks {
                    add(&check.context, check.app_id, ruleset.clone());
                }
            }
            RulesetRule::MergeQueue {
                ruleset,
                merge_method,
            } => {
                merge_queue.get_or_insert_with(|| MergeQueueRule {
                    ruleset: ruleset.clone(),
                    merge_method: merge_method.clone(),
                });
            }
            RulesetRule::Unreadable {
                ruleset,
                kind,
                error,
            } => unreadable_rules.push(Unreadable {
                source: "a ruleset rule",
                reason: format!("{ruleset}: its `{kind}` rule does not parse: {error}"),
            }),
            RulesetRule::Other => {}
        }
    }
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
        unreadable_rules,
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
/// (docs/ARCHITECTURE.md, "The decision's rules").
fn verdict(value: &str) -> Option<bool> {
    match value {
        "success" | "neutral" | "skipped" => Some(true),
        "failure" | "cancelled" | "timed_out" | "action_required" | "stale" | "startup_failure"
        | "error" => Some(false),
        _ => None,
    }
}

fn run_state(run: &RunSeen) -> CheckState {
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

fn status_state(status: &StatusSeen) -> CheckState {
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

/// The latest check run of that name (from that App when pinned) and the
/// latest commit status of that context (none for a pinned App: only its
/// check runs satisfy it).
fn latest<'a>(
    check: &RequiredCheck,
    runs: &'a [RunSeen],
    statuses: &'a [StatusSeen],
) -> (Option<&'a RunSeen>, Option<&'a StatusSeen>) {
    let run = runs
        .iter()
        .filter(|r| r.name == check.context)
        .filter(|r| match check.app_id {
            Some(app) => r.app_id == Some(app),
            None => true,
        })
        // Latest: by start time, then by id (ids grow over time).
        .max_by_key(|r| (r.started_at.or(r.completed_at), r.id));
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
    (run, status)
}

/// Where `check` stands: its latest run or status; when both exist, the
/// more recent one speaks.
pub fn state_of(
    check: &RequiredCheck,
    runs: &[RunSeen],
    statuses: &[StatusSeen],
    overdue: bool,
) -> CheckState {
    match latest(check, runs, statuses) {
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

/// Since when `check` has been in `state`: its latest run's completion (or
/// start, while it runs) or its latest status; for a check that never
/// reported, since the head was first seen. The same run and status
/// [`state_of`] reads.
fn since_of(
    check: &RequiredCheck,
    state: &CheckState,
    runs: &[RunSeen],
    statuses: &[StatusSeen],
    first_seen: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    let (run, status) = latest(check, runs, statuses);
    match state {
        CheckState::Missing { .. } => first_seen,
        CheckState::Pending { .. } => run
            .and_then(|r| r.started_at)
            .or_else(|| status.and_then(|s| s.updated_at)),
        _ => run
            .and_then(|r| r.completed_at.or(r.started_at))
            .or_else(|| status.and_then(|s| s.updated_at)),
    }
}

/// One required check and its state, for the decision and the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateEntry {
    pub check: RequiredCheck,
    pub state: CheckState,
    /// Since when it has been in that state, where known.
    pub since: Option<DateTime<Utc>>,
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

/// The gate: each requirement with its state and since when. seamguard's
/// own check run is not judged here (it is being written by this very
/// evaluation); the caller puts the result it is writing in `runs`.
/// `first_seen` is when the head was first seen (a missing check has been
/// missing since then).
pub fn gate(
    req: &Requirements,
    runs: &[RunSeen],
    statuses: &[StatusSeen],
    overdue: bool,
    first_seen: Option<DateTime<Utc>>,
) -> GateReport {
    GateReport {
        entries: req
            .checks
            .iter()
            .map(|check| {
                let state = state_of(check, runs, statuses, overdue);
                let since = since_of(check, &state, runs, statuses, first_seen);
                GateEntry {
                    check: check.clone(),
                    state,
                    since,
                }
            })
            .collect(),
        strict: req.strict,
        merge_queue: req.merge_queue.clone(),
        unreadable: req
            .unreadable
            .iter()
            .chain(&req.unreadable_rules)
            .cloned()
            .collect(),
        evidence: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, app: u64, status: &str, conclusion: Option<&str>, started: i64) -> RunSeen {
        RunSeen {
            id: started as u64,
            name: name.into(),
            app_id: Some(app),
            status: status.into(),
            conclusion: conclusion.map(Into::into),
            started_at: DateTime::from_timestamp(started, 0),
            completed_at: None,
        }
    }

    fn status(context: &str, state: &str, at: i64) -> StatusSeen {
        StatusSeen {
            context: context.into(),
            state: state.into(),
            updated_at: DateTime::from_timestamp(at, 0),
        }
    }

    fn any(context: &str) -> ProtectedCheck {
        ProtectedCheck {
            context: context.into(),
            app_id: None,
        }
    }

    fn ruleset(id: u64) -> Source {
        Source::Ruleset {
            id: Some(id),
            source: Some("acme/app".into()),
        }
    }

    fn rule(id: u64, checks: &[&str], strict: bool) -> RulesetRule {
        RulesetRule::RequiredStatusChecks {
            ruleset: ruleset(id),
            strict,
            checks: checks.iter().map(|c| any(c)).collect(),
        }
    }

    #[test]
    fn an_unreadable_rule_is_reported_by_the_gate_beside_unreadable_sources() {
        let rules = vec![
            rule(42, &["test"], false),
            RulesetRule::Unreadable {
                ruleset: ruleset(7),
                kind: "required_status_checks".into(),
                error: "invalid type: string \"x\", expected a sequence".into(),
            },
        ];
        let mut req = requirements(None, &rules, &[]);
        assert_eq!(
            req.checks.len(),
            1,
            "the readable rule still requires `test`"
        );
        // The engine sets `unreadable` from its own reads afterwards.
        req.unreadable = vec![Unreadable {
            source: "classic branch protection",
            reason: "HTTP 403".into(),
        }];
        let report = gate(&req, &[], &[], false, None);
        let named: Vec<String> = report
            .unreadable
            .iter()
            .map(|u| format!("{} could not be read ({})", u.source, u.reason))
            .collect();
        assert_eq!(
            named,
            [
                "classic branch protection could not be read (HTTP 403)",
                "a ruleset rule could not be read (ruleset 7 (acme/app): its \
                 `required_status_checks` rule does not parse: invalid type: string \"x\", \
                 expected a sequence)",
            ]
        );
    }

    #[test]
    fn union_of_protection_rulesets_and_extra() {
        let protection = ClassicChecks {
            strict: false,
            checks: vec![
                ProtectedCheck {
                    context: "build".into(),
                    app_id: Some(15368),
                },
                any("ci/travis"),
            ],
        };
        let rules = vec![rule(42, &["test", "ci/travis"], true), RulesetRule::Other];
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
        let req = requirements(None, &[rule(1, &["lint", "test"], false)], &[]);
        let runs = [run("lint", 1, "completed", Some("success"), 10)];
        let report = gate(&req, &runs, &[], false, None);
        assert_eq!(report.status(), GateStatus::Waiting);
        assert_eq!(report.missing(), vec!["test"]);
        let runs = [
            run("lint", 1, "completed", Some("success"), 10),
            run("test", 1, "completed", Some("failure"), 20),
        ];
        assert_eq!(
            gate(&req, &runs, &[], false, None).status(),
            GateStatus::Failed
        );
        let runs = [
            run("lint", 1, "completed", Some("success"), 10),
            run("test", 1, "completed", Some("success"), 20),
        ];
        assert_eq!(
            gate(&req, &runs, &[], false, None).status(),
            GateStatus::Open
        );
    }

    #[test]
    fn a_merge_queue_rule_is_read_from_the_rules() {
        let queue = RulesetRule::MergeQueue {
            ruleset: ruleset(9),
            merge_method: Some("SQUASH".into()),
        };
        let req = requirements(None, &[rule(1, &["test"], false), queue], &[]);
        let mq = req.merge_queue.expect("merge queue rule");
        assert_eq!(mq.merge_method.as_deref(), Some("SQUASH"));
        assert_eq!(mq.ruleset.to_string(), "ruleset 9 (acme/app)");
        assert!(
            requirements(None, &[rule(1, &[], true)], &[])
                .merge_queue
                .is_none()
        );
    }

    #[test]
    fn since_follows_the_run_or_status_that_speaks() {
        let req = requirements(None, &[rule(1, &["lint", "test", "docs"], false)], &[]);
        let first_seen = DateTime::from_timestamp(5, 0);
        let mut done = run("lint", 1, "completed", Some("success"), 10);
        done.completed_at = DateTime::from_timestamp(12, 0);
        let runs = [done, run("test", 1, "in_progress", None, 20)];
        let report = gate(&req, &runs, &[], false, first_seen);
        let since: Vec<_> = report.entries.iter().map(|e| e.since).collect();
        // docs never reported: since the head was first seen.
        assert_eq!(
            since,
            vec![
                first_seen,
                DateTime::from_timestamp(12, 0),
                DateTime::from_timestamp(20, 0)
            ]
        );
    }

    #[test]
    fn no_requirements_is_an_open_gate() {
        assert_eq!(
            gate(&Requirements::default(), &[], &[], false, None).status(),
            GateStatus::Open
        );
    }
}
