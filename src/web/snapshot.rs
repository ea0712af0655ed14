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
use crate::gate::evaluation::StackReport;
use crate::gate::required_checks::{CheckState, GateEntry, GateReport};
use crate::gate::stack::{self, Readiness};
use crate::gate::summary::{self, MergeNote};
use crate::gate::whole_gate::{RowState, Rule, RuleRow};
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
    /// What holds the merge back, each as a structured item (the page's
    /// JSON answer lists them; see `web::page_json`).
    pub blockers: Vec<BlockerView>,
    /// The stack, for a stacked pull request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<StackView>,
}

/// A stack as one of its pull requests' evaluations saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StackView {
    /// This pull request's own readiness (the other members' evaluations
    /// read it from here).
    pub own: Readiness,
    /// The stack's pull requests, bottom first.
    pub members: Vec<StackMemberView>,
    /// The pull request below that holds this one's merge back.
    pub blocked_by: Option<u64>,
}

/// One pull request of a stack on the page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StackMemberView {
    pub number: u64,
    pub title: String,
    /// `this`, `ready`, `not_ready`, `unknown`, `merged` or `closed`.
    pub verdict: String,
    /// What holds it back, when not ready.
    pub detail: String,
    /// It holds this pull request's merge back.
    pub blocks: bool,
}

/// The stack as the page shows it.
pub fn stack_view(report: &StackReport) -> StackView {
    let blocked_by = report.hold.as_ref().map(|h| h.number.0);
    StackView {
        own: report.own.clone(),
        members: report
            .members
            .iter()
            .map(|m| {
                let (verdict, detail) = match &m.verdict {
                    _ if m.merged => ("merged", String::new()),
                    _ if !m.open => ("closed", String::new()),
                    stack::Verdict::This if report.own.ready => ("this", String::new()),
                    stack::Verdict::This => ("this", report.own.why.clone()),
                    stack::Verdict::Judged(r) if r.ready => ("ready", String::new()),
                    stack::Verdict::Judged(r) => ("not_ready", r.why.clone()),
                    stack::Verdict::Unknown => ("unknown", "no verdict on its head yet".to_owned()),
                };
                StackMemberView {
                    number: m.number.0,
                    title: m.title.clone(),
                    verdict: verdict.to_owned(),
                    detail,
                    blocks: blocked_by == Some(m.number.0),
                }
            })
            .collect(),
        blocked_by,
    }
}

/// One thing that holds the merge back, as a program reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlockerView {
    /// `check`, `review`, `code_owner`, `conversation`, `signature`,
    /// `deployment`, `conflict`, `guard`, `history`, `merge_method`,
    /// `lock`, `budget` or `other`.
    pub kind: String,
    /// What it is: the check's name, the guard's, the rule as asked.
    pub what: String,
    /// Where it comes from (`branch protection`, `ruleset 7`, `seamguard`…).
    pub source: Option<String>,
    /// Its state in a word (`unmet`, `failed`, `pending`, `missing`,
    /// `dirty`, `spent`…).
    pub state: String,
    /// The state in words (`none yet`, `2 conversations unresolved`).
    pub detail: String,
    /// Since when it has stood so, when the evaluation knew it (a required
    /// check's, from its run); the page fills the others from the history.
    pub since: Option<DateTime<Utc>>,
    /// Who can clear it (`@acme/db`, `anyone with write access`).
    pub who: Option<String>,
    /// How to clear it, in one sentence.
    pub fix: String,
}

impl BlockerView {
    /// The same blocker, in the same state (what "since" follows back
    /// through the history).
    pub fn same_as(&self, other: &BlockerView) -> bool {
        (
            &self.kind,
            &self.what,
            &self.source,
            &self.state,
            &self.detail,
        ) == (
            &other.kind,
            &other.what,
            &other.source,
            &other.state,
            &other.detail,
        )
    }
}

/// One rule of the base besides its required checks (the whole gate's
/// row), whatever its state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleView {
    /// As [`BlockerView::kind`].
    pub kind: String,
    /// What the rule asks, with where from ("1 approving review required
    /// by ruleset 7").
    pub asked: String,
    pub source: String,
    /// `met`, `unmet`, `unknown` or `not_checked`.
    pub state: String,
    /// Why it is unmet or unknown (`none yet`); empty when met.
    pub detail: String,
    /// Who can clear it, and how, as the check run says it.
    pub clear: Option<String>,
    /// Since when it has been in this state; filled by the page from the
    /// history (never stored).
    pub since: Option<DateTime<Utc>>,
}

impl RuleView {
    /// The same rule in the same state.
    pub fn same_as(&self, other: &RuleView) -> bool {
        (&self.kind, &self.asked, &self.state, &self.detail)
            == (&other.kind, &other.asked, &other.state, &other.detail)
    }
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
    /// The base's other rules (reviews, conversations, signatures…).
    pub rules: Vec<RuleView>,
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
    /// The asynchronous merge request GitHub holds and has not finished,
    /// when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<AsyncRequestView>,
}

/// An asynchronous merge request GitHub holds: its uuid, its state, since
/// when seamguard knows it and when it was last read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AsyncRequestView {
    pub uuid: String,
    pub state: String,
    pub since: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
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
        rules: Vec::new(),
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
        (Some(MergeNote::InFlight { queue: Some(_), .. }), _) => "queueing",
        (Some(MergeNote::InFlight { .. }), _) => "merging",
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

/// The base's other rules as the page shows them.
pub fn rule_views(rows: &[RuleRow], since: &[DateTime<Utc>]) -> Vec<RuleView> {
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            // The fields the next evaluation compares (`RowKey`), as stored.
            let key = row.key();
            RuleView {
                kind: key.kind,
                asked: key.asked,
                source: row.source.to_string(),
                state: key.state,
                detail: key.detail,
                clear: match &row.state {
                    RowState::Unmet { who, .. } => who.clone(),
                    _ => None,
                },
                since: since.get(i).copied(),
            }
        })
        .collect()
}

/// What must happen for a rule to be met, as the start of a sentence.
fn rule_need(rule: &Rule) -> String {
    match rule {
        Rule::ApprovingReviews { count } => format!(
            "Get {count} approving {}",
            if *count == 1 { "review" } else { "reviews" }
        ),
        Rule::CodeOwnerReview => "Get a code owner's approval".to_owned(),
        Rule::LastPushApproval => "Get an approval of the last push".to_owned(),
        Rule::DismissStaleReviews => "Get a fresh approval".to_owned(),
        Rule::ConversationResolution => "Resolve every review conversation".to_owned(),
        Rule::SignedCommits => "Sign every commit".to_owned(),
        Rule::LinearHistory => "Keep the branch's history linear".to_owned(),
        Rule::Deployment { environment } => {
            format!("Deploy the head to `{environment}` successfully")
        }
        Rule::MergeMethods { .. } => "Merge with a method the rule allows".to_owned(),
        Rule::LockBranch => "Unlock the branch".to_owned(),
        Rule::NotModelled { name } => format!("Satisfy `{name}`"),
    }
}

/// Who can clear a rule: the row's own words up to "can" ("@acme/db can
/// approve" → `@acme/db`), else who usually does for that kind of rule.
fn rule_who(rule: &Rule, clear: Option<&str>) -> Option<String> {
    if let Some((who, _)) = clear.and_then(|c| c.split_once(" can ")) {
        return Some(who.to_owned());
    }
    match rule {
        Rule::LinearHistory | Rule::SignedCommits => Some("the pull request's author".to_owned()),
        Rule::Deployment { environment } => Some(format!("whoever deploys to `{environment}`")),
        Rule::MergeMethods { .. } => {
            Some("a maintainer of `.github/seamguard.yml` on the base branch".to_owned())
        }
        Rule::LockBranch => Some("a repository admin".to_owned()),
        _ => None,
    }
}

/// A blocking row of the whole gate as a blocker.
fn rule_blocker(row: &RuleRow, since: Option<DateTime<Utc>>) -> Option<BlockerView> {
    let RowState::Unmet { why, who } = &row.state else {
        return None;
    };
    let need = rule_need(&row.rule);
    Some(BlockerView {
        kind: row.kind().as_str().to_owned(),
        what: row.asked(),
        source: Some(row.source.to_string()),
        state: "unmet".to_owned(),
        detail: why.clone(),
        since,
        who: rule_who(&row.rule, who.as_deref()),
        fix: match who {
            Some(clear) => format!("{need}: {clear}."),
            None => format!("{need}."),
        },
    })
}

/// A required check that has not passed as a blocker.
fn check_blocker(entry: &GateEntry, since: Option<DateTime<Utc>>) -> Option<BlockerView> {
    let c = &entry.check.context;
    let fix = match &entry.state {
        CheckState::Passed { .. } => return None,
        CheckState::Failed { conclusion } => format!(
            "Make `{c}` pass: it concluded {conclusion} on the head; fix the cause and push, \
             or re-run it."
        ),
        CheckState::Pending { .. } => format!("Wait for `{c}` to finish and pass."),
        CheckState::Missing { overdue: false } => {
            format!("Wait for `{c}` to report on the head and pass.")
        }
        CheckState::Missing { overdue: true } => {
            format!("Start the workflow that provides `{c}`: it has never reported on the head.")
        }
    };
    let (state, detail) = check_state(&entry.state);
    Some(BlockerView {
        kind: "check".to_owned(),
        what: c.clone(),
        source: Some(
            entry
                .check
                .sources
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        state: state.to_owned(),
        detail,
        since,
        who: Some(match entry.check.app_id {
            Some(app) => format!("the App {app}, which must report `{c}`"),
            None => format!("the workflow or App that reports `{c}`"),
        }),
        fix,
    })
}

/// Everything an evaluation knew that holds the merge back.
pub struct BlockerFacts<'a> {
    pub guards: &'a [GuardOutcome],
    pub gate: &'a GateReport,
    /// `since[i]`: when gate entry `i` reached its state.
    pub since: &'a [Option<DateTime<Utc>>],
    pub rows: &'a [RuleRow],
    /// `rows_since[i]`: since when row `i` stands as it does.
    pub rows_since: &'a [DateTime<Utc>],
    pub plan: &'a MergePlan,
    pub note: Option<&'a MergeNote>,
    /// GitHub's `mergeable_state` for the pull request.
    pub mergeable_state: Option<&'a str>,
    pub base: &'a str,
    pub max_attempts: u32,
}

/// What holds the merge back, each as a structured item: failed guards,
/// required checks not yet passed, the whole gate's unmet rules, a conflict
/// with the base, a spent merge budget, and what GitHub answered; when none
/// of these says it, the plan's own reason (`other`).
pub fn blockers(f: &BlockerFacts<'_>) -> Vec<BlockerView> {
    let mut out: Vec<BlockerView> = f
        .guards
        .iter()
        .filter(|g| g.verdict == GuardVerdict::Failed)
        .map(|g| BlockerView {
            kind: "guard".to_owned(),
            what: g.name.to_owned(),
            source: Some("seamguard".to_owned()),
            state: "failed".to_owned(),
            detail: g.headline.clone(),
            since: None,
            who: Some("the pull request's author".to_owned()),
            fix: format!(
                "Fix the {} finding ({}) and push a new commit.",
                g.name, g.headline
            ),
        })
        .collect();
    out.extend(
        f.gate
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| check_blocker(e, f.since.get(i).copied().flatten())),
    );
    out.extend(
        f.rows
            .iter()
            .enumerate()
            .filter_map(|(i, row)| rule_blocker(row, f.rows_since.get(i).copied())),
    );
    // Requirements that could not be read: seamguard merges nothing it
    // cannot see the rules for.
    out.extend(f.gate.unreadable.iter().map(|u| {
        let forbidden = u.reason.starts_with("HTTP 403");
        BlockerView {
            kind: "other".to_owned(),
            what: format!("{} could not be read", u.source),
            source: Some(u.source.to_owned()),
            state: "unreadable".to_owned(),
            detail: u.reason.clone(),
            since: None,
            who: Some(if forbidden {
                "an owner of the installation".to_owned()
            } else {
                "a repository admin".to_owned()
            }),
            fix: if forbidden {
                "Grant the App `administration: read` (accept the permission in the \
                 installation's settings), then comment `@seamguard recheck`."
                    .to_owned()
            } else {
                "Fix the rule that does not parse, then comment `@seamguard recheck`.".to_owned()
            },
        }
    }));
    if f.mergeable_state == Some("dirty") && !matches!(f.plan, MergePlan::Done { .. }) {
        out.push(BlockerView {
            kind: "conflict".to_owned(),
            what: format!("conflicts with `{}`", f.base),
            source: Some("GitHub".to_owned()),
            state: "dirty".to_owned(),
            detail: "the branch has merge conflicts with its base".to_owned(),
            since: None,
            who: Some("the pull request's author".to_owned()),
            fix: format!(
                "Merge or rebase `{}` into the branch, resolve the conflicts, and push.",
                f.base
            ),
        });
    }
    let gave_up = match (f.note, f.plan) {
        (Some(MergeNote::GaveUp { attempts, .. }), _) | (None, MergePlan::GaveUp { attempts }) => {
            Some(*attempts)
        }
        _ => None,
    };
    if let Some(attempts) = gave_up {
        out.push(BlockerView {
            kind: "budget".to_owned(),
            what: "merge attempts on this head".to_owned(),
            source: Some("merge.max_attempts".to_owned()),
            state: "spent".to_owned(),
            detail: format!(
                "{attempts} of {} merge attempts spent on this head",
                f.max_attempts
            ),
            since: None,
            who: Some("anyone who can push to the branch or comment on it".to_owned()),
            fix: "Push a new commit, or comment `@seamguard recheck` to try merging again."
                .to_owned(),
        });
    }
    let answered = match f.note {
        Some(MergeNote::Refused { .. })
        | Some(MergeNote::UpdateFailed { .. })
        | Some(MergeNote::EnqueueRefused { .. })
        | Some(MergeNote::CannotUpdate { .. })
        | Some(MergeNote::Dequeued { .. }) => Some(summary::merge_line(f.plan, f.note)),
        _ => None,
    };
    if let Some(line) = answered {
        out.push(BlockerView {
            kind: "other".to_owned(),
            what: "GitHub's answer".to_owned(),
            source: Some("GitHub".to_owned()),
            state: "refused".to_owned(),
            detail: line
                .trim_start_matches(|c: char| !c.is_ascii() || c.is_whitespace())
                .to_owned(),
            since: None,
            who: None,
            fix: "Resolve what GitHub answered, then push or comment `@seamguard recheck`."
                .to_owned(),
        });
    }
    if out.is_empty()
        && let Some(MergeNote::Retrying { .. }) = f.note
    {
        let line = summary::merge_line(f.plan, f.note);
        out.push(BlockerView {
            kind: "other".to_owned(),
            what: "GitHub's answer".to_owned(),
            source: Some("GitHub".to_owned()),
            state: "pending".to_owned(),
            detail: line
                .trim_start_matches(|c: char| !c.is_ascii() || c.is_whitespace())
                .to_owned(),
            since: None,
            who: None,
            fix: "Nothing to do: GitHub answered that something it requires is still pending, \
                  and seamguard tries the merge again by itself."
                .to_owned(),
        });
    }
    if out.is_empty() && f.note.is_none() {
        let (state, why) = match f.plan {
            MergePlan::NotOptedIn { why } => ("not_opted_in", why.clone()),
            MergePlan::Blocked { why } => ("blocked", why.clone()),
            MergePlan::Waiting { why } => ("waiting", why.clone()),
            MergePlan::InLine { text } => ("in_line", text.clone()),
            _ => return out,
        };
        out.push(BlockerView {
            kind: "other".to_owned(),
            what: "seamguard's plan".to_owned(),
            source: Some("seamguard".to_owned()),
            state: state.to_owned(),
            fix: sentence(&why),
            detail: why,
            since: None,
            who: None,
        });
    }
    out
}

/// `why` as a sentence: capitalised, with a full stop.
fn sentence(why: &str) -> String {
    let mut chars = why.trim().chars();
    let mut out: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// A blocker an evaluation that ended without a decision leaves: `fix`
/// says what to do.
pub fn blocker_other(state: &str, detail: &str, fix: &str) -> BlockerView {
    BlockerView {
        kind: "other".to_owned(),
        what: "seamguard's evaluation".to_owned(),
        source: Some("seamguard".to_owned()),
        state: state.to_owned(),
        detail: detail.to_owned(),
        since: None,
        who: None,
        fix: sentence(fix),
    }
}

/// A conclusion as stored.
pub fn conclusion_word(c: Conclusion) -> String {
    c.as_str().to_owned()
}

/// What the pages say of work held back for GitHub's budget, as the check
/// run does: `waiting for GitHub's write budget until 14:03:07 UTC`.
pub fn budget_wait_line(wait: &crate::store::BudgetWait) -> String {
    format!(
        "waiting for GitHub's write budget until {}",
        wait.until.format("%H:%M:%S UTC")
    )
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

    fn facts<'a>(
        guards: &'a [GuardOutcome],
        gate: &'a GateReport,
        since: &'a [Option<DateTime<Utc>>],
        rows: &'a [RuleRow],
        plan: &'a MergePlan,
    ) -> BlockerFacts<'a> {
        BlockerFacts {
            guards,
            gate,
            since,
            rows,
            rows_since: &[],
            plan,
            note: None,
            mergeable_state: Some("clean"),
            base: "main",
            max_attempts: 6,
        }
    }

    #[test]
    fn each_blocker_has_its_kind_who_and_fix() {
        use crate::gate::whole_gate::{RowState, Rule, RuleRow};
        let guards = [GuardOutcome {
            name: "Conflict markers",
            verdict: GuardVerdict::Failed,
            headline: "1 marker added".into(),
            details: String::new(),
        }];
        let since = [DateTime::from_timestamp(1_800_000_000, 0)];
        let rows = [
            RuleRow {
                rule: Rule::CodeOwnerReview,
                source: Source::Ruleset {
                    id: Some(7),
                    source: None,
                },
                state: RowState::Unmet {
                    why: "@acme/db has not approved".into(),
                    who: Some("@acme/db can approve".into()),
                },
            },
            RuleRow {
                rule: Rule::LinearHistory,
                source: Source::Protection,
                state: RowState::Met,
            },
            RuleRow {
                rule: Rule::Deployment {
                    environment: "staging".into(),
                },
                source: Source::Protection,
                state: RowState::Unmet {
                    why: "deployment to `staging` failed".into(),
                    who: Some(
                        "a deployment of the head to `staging` that succeeds clears it".into(),
                    ),
                },
            },
        ];
        let gate = gate(CheckState::Failed {
            conclusion: "failure".into(),
        });
        let plan = MergePlan::Blocked {
            why: "a guard failed".into(),
        };
        let got = blockers(&BlockerFacts {
            mergeable_state: Some("dirty"),
            ..facts(&guards, &gate, &since, &rows, &plan)
        });
        let summary: Vec<(&str, &str, Option<&str>, &str)> = got
            .iter()
            .map(|b| {
                (
                    b.kind.as_str(),
                    b.state.as_str(),
                    b.who.as_deref(),
                    b.fix.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "guard",
                    "failed",
                    Some("the pull request's author"),
                    "Fix the Conflict markers finding (1 marker added) and push a new commit."
                ),
                (
                    "check",
                    "failed",
                    Some("the workflow or App that reports `ci`"),
                    "Make `ci` pass: it concluded failure on the head; fix the cause and push, \
                     or re-run it."
                ),
                (
                    "code_owner",
                    "unmet",
                    Some("@acme/db"),
                    "Get a code owner's approval: @acme/db can approve."
                ),
                (
                    "deployment",
                    "unmet",
                    Some("whoever deploys to `staging`"),
                    "Deploy the head to `staging` successfully: a deployment of the head to \
                     `staging` that succeeds clears it."
                ),
                (
                    "conflict",
                    "dirty",
                    Some("the pull request's author"),
                    "Merge or rebase `main` into the branch, resolve the conflicts, and push."
                ),
            ]
        );
        assert_eq!(got[1].since, since[0], "a check's since is its run's");
        assert_eq!(got[2].source.as_deref(), Some("ruleset 7"));
    }

    #[test]
    fn a_spent_budget_or_a_bare_plan_is_still_a_blocker() {
        let passed = gate(CheckState::Passed {
            conclusion: "success".into(),
        });
        let gave_up = MergePlan::GaveUp { attempts: 6 };
        let got = blockers(&facts(&[], &passed, &[], &[], &gave_up));
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].kind.as_str(), got[0].detail.as_str()),
            ("budget", "6 of 6 merge attempts spent on this head")
        );
        let not_opted = MergePlan::NotOptedIn {
            why: "add the label `automerge` to merge it".into(),
        };
        let got = blockers(&facts(&[], &passed, &[], &[], &not_opted));
        assert_eq!(
            (
                got[0].kind.as_str(),
                got[0].state.as_str(),
                got[0].fix.as_str()
            ),
            (
                "other",
                "not_opted_in",
                "Add the label `automerge` to merge it."
            )
        );
        assert!(blockers(&facts(&[], &passed, &[], &[], &MergePlan::Merge)).is_empty());
        let retrying = MergeNote::Retrying {
            attempt: 1,
            max: 6,
            answer: "Required status check \"test\" is expected".into(),
            wait: std::time::Duration::from_secs(2),
        };
        let got = blockers(&BlockerFacts {
            note: Some(&retrying),
            ..facts(&[], &passed, &[], &[], &MergePlan::Merge)
        });
        assert_eq!(
            (got.len(), got[0].kind.as_str(), got[0].state.as_str()),
            (1, "other", "pending"),
            "{got:?}"
        );
        assert!(got[0].detail.contains("is expected"), "{got:?}");
        let mut unread = passed.clone();
        unread
            .unreadable
            .push(crate::gate::required_checks::Unreadable {
                source: "repository rulesets",
                reason: "HTTP 403".into(),
            });
        let blocked = MergePlan::Blocked {
            why: "seamguard could not read repository rulesets (HTTP 403)".into(),
        };
        let got = blockers(&facts(&[], &unread, &[], &[], &blocked));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(
            (
                got[0].state.as_str(),
                got[0].source.as_deref(),
                got[0].who.as_deref()
            ),
            (
                "unreadable",
                Some("repository rulesets"),
                Some("an owner of the installation")
            )
        );
    }
}
