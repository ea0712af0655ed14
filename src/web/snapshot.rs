//! What a pull request's page shows, as the evaluation saw it: built by the
//! engine at the end of each evaluation (pure, from the guards, the gate,
//! the plan and the merge answer) and stored as JSON with that evaluation,
//! so the page is rendered from the store alone, never from GitHub at
//! view time.
//!
//! Every field has a default, so a snapshot written by an older build still
//! renders (what it lacks is shown empty).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::gate::decision::{Conclusion, GuardOutcome, GuardVerdict, MergePlan};
use crate::gate::required_checks::{CheckState, GateReport};
use crate::gate::summary::{self, MergeNote};
use crate::github::models::Annotation;

/// Findings listed per guard on the page at most (the check run's
/// annotations go further; the page says how many it left out).
pub const MAX_FINDINGS: usize = 200;

/// Everything the page shows about one evaluation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PageSnapshot {
    /// The pull request's title.
    pub title: String,
    /// The repository's web address (`https://github.com/acme/app`), for
    /// links to files at the head.
    pub repo_url: Option<String>,
    pub head: String,
    pub base: String,
    /// What the check run concluded (`success`, `failure`, `neutral`).
    pub conclusion: String,
    /// Shadow mode: what enforce mode would have concluded.
    pub shadow_of: Option<String>,
    /// The check run's title.
    pub headline: String,
    /// What would unblock it, one line each; empty when nothing blocks.
    pub unblock: Vec<String>,
    pub guards: Vec<GuardView>,
    pub gate: GateView,
    pub merge: MergeView,
}

/// One guard: verdict, headline, its details and its findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GuardView {
    pub name: String,
    /// `pass`, `fail` or `skipped`.
    pub verdict: String,
    pub headline: String,
    /// The guard's own section of the check run's text (Markdown).
    pub details: String,
    pub findings: Vec<Finding>,
    /// Findings beyond [`MAX_FINDINGS`], not listed.
    pub findings_left_out: usize,
}

/// A finding at a line of a file in the head commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Finding {
    pub path: String,
    pub line: u32,
    pub message: String,
}

/// The merge gate: each required check, where it was required, its state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GateView {
    /// The branch must be up to date.
    pub strict: bool,
    pub checks: Vec<CheckView>,
    /// Requirement sources that could not be read (and require nothing).
    pub unreadable: Vec<String>,
}

/// One required check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckView {
    pub context: String,
    /// The App that must provide it, when pinned.
    pub app_id: Option<u64>,
    /// Where the requirement came from (`branch protection`, `ruleset 7`…).
    pub sources: Vec<String>,
    /// `passed`, `failed`, `pending` or `missing`.
    pub state: String,
    /// GitHub's word for it (`success`, `in_progress`…), or the wait.
    pub detail: String,
    /// Since when it has been in this state (for a check that never
    /// reported: since seamguard first saw the head).
    pub since: Option<DateTime<Utc>>,
    /// No run or status at all on the head yet.
    pub never_reported: bool,
    /// Never reported within `required_checks.register_timeout`.
    pub overdue: bool,
}

/// The merge: the plan, this evaluation's attempt, the next retry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MergeView {
    /// The check run's merge line.
    pub plan: String,
    /// The merge call this evaluation made, if it made one.
    pub attempt: Option<Attempt>,
    /// When seamguard tries again.
    pub next_retry: Option<DateTime<Utc>>,
    /// `merge.max_attempts`.
    pub max_attempts: u32,
}

/// One merge call and GitHub's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attempt {
    pub at: Option<DateTime<Utc>>,
    /// Its number on this head.
    pub number: u32,
    /// `merged`, or GitHub's words.
    pub answer: String,
}

/// The state of a required check as the page names it.
fn check_state(state: &CheckState) -> (&'static str, String) {
    match state {
        CheckState::Passed { conclusion } => ("passed", conclusion.clone()),
        CheckState::Failed { conclusion } => ("failed", conclusion.clone()),
        CheckState::Pending { status } => ("pending", status.replace('_', " ")),
        CheckState::Missing { overdue: false } => ("missing", "not registered yet".to_owned()),
        CheckState::Missing { overdue: true } => (
            "missing",
            "never registered; is the workflow that provides it running?".to_owned(),
        ),
    }
}

fn verdict_word(v: &GuardVerdict) -> &'static str {
    match v {
        GuardVerdict::Passed => "pass",
        GuardVerdict::Failed => "fail",
        GuardVerdict::Skipped => "skipped",
    }
}

/// The guards as the page shows them; `annotations` are the findings of
/// the guard named `annotated` (the others' are in their details).
pub fn guard_views(
    guards: &[GuardOutcome],
    annotations: &[Annotation],
    annotated: &str,
) -> Vec<GuardView> {
    guards
        .iter()
        .map(|g| {
            let mine: Vec<&Annotation> = if g.name == annotated {
                annotations.iter().collect()
            } else {
                Vec::new()
            };
            GuardView {
                name: g.name.to_owned(),
                verdict: verdict_word(&g.verdict).to_owned(),
                headline: g.headline.clone(),
                details: g.details.clone(),
                findings: mine
                    .iter()
                    .take(MAX_FINDINGS)
                    .map(|a| Finding {
                        path: a.path.clone(),
                        line: a.start_line,
                        message: a.message.clone(),
                    })
                    .collect(),
                findings_left_out: mine.len().saturating_sub(MAX_FINDINGS),
            }
        })
        .collect()
}

/// The gate as the page shows it; `since[i]` is when entry `i` reached its
/// state (the caller reads it from the runs and statuses it read).
pub fn gate_view(gate: &GateReport, since: &[Option<DateTime<Utc>>]) -> GateView {
    GateView {
        strict: gate.strict,
        checks: gate
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let (state, detail) = check_state(&e.state);
                CheckView {
                    context: e.check.context.clone(),
                    app_id: e.check.app_id,
                    sources: e.check.sources.iter().map(|s| s.to_string()).collect(),
                    state: state.to_owned(),
                    detail,
                    since: since.get(i).copied().flatten(),
                    never_reported: matches!(e.state, CheckState::Missing { .. }),
                    overdue: matches!(e.state, CheckState::Missing { overdue: true }),
                }
            })
            .collect(),
        unreadable: gate
            .unreadable
            .iter()
            .map(|u| format!("{} could not be read ({})", u.source, u.reason))
            .collect(),
    }
}

/// The decision in a word or two, and its one-line reason, from the plan
/// and (when a merge call or branch update was made) its answer.
pub fn decision(plan: &MergePlan, note: Option<&MergeNote>, merged: bool) -> (String, String) {
    // The check run's merge line, without its leading emoji (the page has
    // its own badges, and not every machine has an emoji font).
    let line = summary::merge_line(plan, note);
    let reason = line
        .trim_start_matches(|c: char| !c.is_ascii() || c.is_whitespace())
        .to_owned();
    if merged {
        return ("merged".into(), "merged with the head SHA pinned".into());
    }
    let word = match (note, plan) {
        (Some(MergeNote::Retrying { .. }), _) => "waiting",
        (Some(MergeNote::Refused { .. }), _) => "blocked",
        (Some(MergeNote::GaveUp { .. }), _) => "gave up",
        (Some(MergeNote::UpdateFailed { .. }), _) => "blocked",
        (Some(MergeNote::Queued { .. }), _) => "queued",
        (Some(MergeNote::Dequeued { .. }), _) => "blocked",
        (Some(MergeNote::EnqueueRefused { .. }), _) => "blocked",
        (Some(MergeNote::CannotUpdate { .. }), _) => "blocked",
        (None, MergePlan::Enqueue) => "queueing",
        (None, MergePlan::InLine { .. }) => "in line",
        (None, MergePlan::WouldEnqueue) => "would enqueue",
        (None, MergePlan::Merge) => "merging",
        (None, MergePlan::UpdateBranch) => "updating branch",
        (None, MergePlan::NotOptedIn { .. }) => "not opted in",
        (None, MergePlan::Done { .. }) => "done",
        (None, MergePlan::Blocked { .. }) => "blocked",
        (None, MergePlan::Waiting { .. }) => "waiting",
        (None, MergePlan::GaveUp { .. }) => "gave up",
        (None, MergePlan::WouldMerge { .. }) => "would merge",
        (None, MergePlan::WouldUpdateBranch) => "would update branch",
    };
    (word.to_owned(), reason)
}

/// What would unblock the pull request, one line each.
pub fn unblock(
    guards: &[GuardOutcome],
    gate: &GateReport,
    plan: &MergePlan,
    note: Option<&MergeNote>,
) -> Vec<String> {
    let mut lines: Vec<String> = guards
        .iter()
        .filter(|g| g.verdict == GuardVerdict::Failed)
        .map(|g| format!("fix the {} finding: {}", g.name, g.headline))
        .collect();
    for e in &gate.entries {
        let c = &e.check.context;
        match &e.state {
            CheckState::Failed { conclusion } => {
                lines.push(format!("`{c}` must pass (it concluded {conclusion})"))
            }
            CheckState::Pending { .. } => lines.push(format!("`{c}` must finish and pass")),
            CheckState::Missing { overdue: false } => {
                lines.push(format!("`{c}` must report on the head and pass"))
            }
            CheckState::Missing { overdue: true } => lines.push(format!(
                "`{c}` has never reported: start the workflow that provides it"
            )),
            CheckState::Passed { .. } => {}
        }
    }
    match (note, plan) {
        (Some(MergeNote::Refused { .. }), _)
        | (Some(MergeNote::UpdateFailed { .. }), _)
        | (Some(MergeNote::EnqueueRefused { .. }), _)
        | (Some(MergeNote::CannotUpdate { .. }), _)
        | (Some(MergeNote::Dequeued { .. }), _) => lines
            .push("resolve what GitHub answered, then push or comment `@seamguard recheck`".into()),
        (Some(MergeNote::GaveUp { .. }), _) | (None, MergePlan::GaveUp { .. }) => lines
            .push("push a new commit, or comment `@seamguard recheck` to try merging again".into()),
        (None, MergePlan::NotOptedIn { why }) => lines.push(why.clone()),
        (None, MergePlan::Blocked { why }) if lines.is_empty() => lines.push(why.clone()),
        (None, MergePlan::Waiting { why }) if lines.is_empty() => lines.push(why.clone()),
        (None, MergePlan::InLine { text }) if lines.is_empty() => lines.push(text.clone()),
        _ => {}
    }
    lines
}

/// A conclusion as stored.
pub fn conclusion_word(c: Conclusion) -> String {
    c.as_str().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::required_checks::{GateEntry, RequiredCheck, Source};

    fn gate(state: CheckState) -> GateReport {
        GateReport {
            entries: vec![GateEntry {
                since: None,
                check: RequiredCheck {
                    context: "ci".into(),
                    app_id: None,
                    sources: vec![Source::Protection],
                },
                state,
            }],
            strict: false,
            merge_queue: None,
            evidence: Vec::new(),
            unreadable: Vec::new(),
        }
    }

    #[test]
    fn a_check_that_never_reported_is_said_so_with_its_wait() {
        let since = DateTime::from_timestamp(1_800_000_000, 0);
        let view = gate_view(&gate(CheckState::Missing { overdue: true }), &[since]);
        let c = &view.checks[0];
        assert_eq!(c.state, "missing");
        assert!(c.never_reported && c.overdue);
        assert_eq!(c.since, since);
        assert_eq!(c.sources, ["branch protection"]);
    }

    #[test]
    fn unblock_names_each_blocker() {
        let plan = MergePlan::Waiting {
            why: "waiting for `ci`".into(),
        };
        let lines = unblock(
            &[],
            &gate(CheckState::Pending {
                status: "in_progress".into(),
            }),
            &plan,
            None,
        );
        assert_eq!(lines, ["`ci` must finish and pass"]);
        let (word, reason) = decision(&plan, None, false);
        assert_eq!(
            (word.as_str(), reason.as_str()),
            ("waiting", "waiting for `ci`")
        );
        let (word, reason) = decision(&MergePlan::Merge, None, true);
        assert_eq!(
            (word.as_str(), reason.as_str()),
            ("merged", "merged with the head SHA pinned")
        );
    }

    #[test]
    fn a_snapshot_round_trips_and_an_empty_one_reads() {
        let s = PageSnapshot {
            title: "Add a thing".into(),
            head: "abc".into(),
            ..PageSnapshot::default()
        };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<PageSnapshot>(&json).unwrap(), s);
        assert_eq!(
            serde_json::from_str::<PageSnapshot>("{}").unwrap(),
            PageSnapshot::default()
        );
    }
}
